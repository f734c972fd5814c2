"""The error tree of stepfn.

    StepfnError
    ├── DefinitionError        a state machine definition cannot be parsed or compiled
    │   └── ValidationError    static validation found problems; ``diagnostics`` lists every one
    ├── StatesError            an ASL runtime error (``States.*`` or a task's own error name)
    ├── ServiceError           a backend call (SageMaker, Lambda, AWS) failed; keeps the raw response
    ├── StoreError             the execution store could not read or write
    └── MissingExtraError      an optional dependency is not installed; the message names the extra

Every error keeps its constructor arguments so that it pickles across process boundaries
(training jobs and resumed executions run in other processes). Messages name the state, the
field and the JSON path at fault wherever those are known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class StepfnError(Exception):
    """Root of every error stepfn raises on purpose."""


class DefinitionError(StepfnError):
    """A definition is malformed in a way that stops it being compiled at all."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a definition: where it is (``path``), what kind (``code``) and what is wrong."""

    path: str
    code: str
    message: str
    state: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.code}]"


class ValidationError(DefinitionError):
    """Raised once with every diagnostic, as botocore's ParamValidationError lists every problem."""

    def __init__(self, diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]) -> None:
        self.diagnostics = tuple(diagnostics)
        lines = "\n".join(f"  - {d}" for d in self.diagnostics)
        super().__init__(f"Invalid definition ({len(self.diagnostics)} problem(s)):\n{lines}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.diagnostics,))


class StatesError(StepfnError):
    """An ASL runtime error: ``error`` is the name Retry/Catch match (``States.Timeout``, a task's own name)."""

    def __init__(
        self,
        error: str,
        cause: str | None = None,
        *,
        state: str | None = None,
        field: str | None = None,
        path: str | None = None,
    ) -> None:
        self.error = error
        self.cause = cause
        self.state = state
        self.field = field
        self.path = path
        where = ", ".join(
            part for part in (
                f"state {state!r}" if state else "",
                f"field {field!r}" if field else "",
                f"path {path!r}" if path else "",
            ) if part
        )
        text = f"{error}: {cause}" if cause else error
        super().__init__(f"{text} ({where})" if where else text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_states_error, (type(self), self.error, self.cause, self.state, self.field, self.path))


def _rebuild_states_error(
    cls: type[StatesError], error: str, cause: str | None, state: str | None, field: str | None, path: str | None
) -> StatesError:
    return cls(error, cause, state=state, field=field, path=path)


class ServiceError(StepfnError):
    """A backend call failed. ``error`` is the name a Task failure carries (e.g. ``SageMaker.AmazonSageMakerException``)."""

    def __init__(
        self,
        message: str,
        *,
        integration: str | None = None,
        operation: str | None = None,
        error: str | None = None,
        response: dict[str, Any] | None = None,
    ) -> None:
        self.integration = integration
        self.operation = operation
        self.error = error
        self.response = response
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_service_error,
            (type(self), str(self), self.integration, self.operation, self.error, self.response),
        )


def _rebuild_service_error(
    cls: type[ServiceError],
    message: str,
    integration: str | None,
    operation: str | None,
    error: str | None,
    response: dict[str, Any] | None,
) -> ServiceError:
    return cls(message, integration=integration, operation=operation, error=error, response=response)


class StoreError(StepfnError):
    """The SQLite store (or the object store) could not complete an operation."""


class UnsupportedSettingError(StepfnError, AttributeError):
    """A constructor setting sagemaker v2 refuses with AttributeError (SKLearn on several instances, py2):
    still an AttributeError for code written against v2, and marked as raised on purpose."""


class MissingExtraError(StepfnError, ModuleNotFoundError):
    """``purpose`` needs ``module``, which comes with stepfn's ``extra``: the message gives the pip command.

    A ``ModuleNotFoundError`` too, so code that falls back when an import fails keeps working."""

    def __init__(self, purpose: str, module: str, extra: str) -> None:
        self.purpose = purpose
        self.extra = extra
        super().__init__(
            f"{purpose} needs {module}, which stepfn installs with its {extra!r} extra: pip install 'stepfn[{extra}]'",
            name=module,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.purpose, self.name, self.extra))


__all__ = [
    "DefinitionError",
    "Diagnostic",
    "MissingExtraError",
    "ServiceError",
    "StatesError",
    "StepfnError",
    "StoreError",
    "UnsupportedSettingError",
    "ValidationError",
]
