"""Base classes for service-integration Task steps: integrations are rows, not code (docs/design/style.md §4).

A concrete step only names its ``service`` and ``api``; the base class chooses how the caller picks
the integration pattern (docs/design/compat.md §4, §9):

* :class:`CompletionStep`: ``wait_for_completion=True`` -> ``.sync``;
* :class:`CallbackStep`: ``wait_for_callback=False`` -> ``.waitForTaskToken`` when True;
* :class:`CallStep`: always the plain call;
* :class:`PatternStep`: ``integration_pattern=`` one of the step's ``supported_patterns``.

Each injects only ``Resource``, after the caller's keyword arguments (a ``resource`` the caller passed
keeps its position and is overwritten).
"""

from __future__ import annotations

from typing import Any, ClassVar

from stepfn.steps.fields import Field
from stepfn.steps.integration_resources import (
    IntegrationPattern,
    get_service_integration_arn,
    is_integration_pattern_valid,
)
from stepfn.steps.states import Task


class ServiceStep(Task):
    """A Task whose Resource is ``arn:{partition}:states:::{service}:{api}[.pattern][:version]``."""

    service: ClassVar[str]
    api: ClassVar[str]

    def _init_with_pattern(self, state_id: str, pattern: IntegrationPattern, version: int | None,
                           kwargs: dict[str, Any]) -> None:
        kwargs[Field.Resource.value] = get_service_integration_arn(self.service, self.api, pattern, version)
        super().__init__(state_id, **kwargs)


class CompletionStep(ServiceStep):
    """``wait_for_completion=True`` waits for the job (``.sync``); False only starts it."""

    sync_version: ClassVar[int | None] = None

    def __init__(self, state_id: str, wait_for_completion: bool = True, **kwargs: Any) -> None:
        pattern = IntegrationPattern.WaitForCompletion if wait_for_completion else IntegrationPattern.CallAndContinue
        self._init_with_pattern(state_id, pattern, self.sync_version if wait_for_completion else None, kwargs)


class CallbackStep(ServiceStep):
    """``wait_for_callback=True`` pauses until a task token comes back (``.waitForTaskToken``)."""

    def __init__(self, state_id: str, wait_for_callback: bool = False, **kwargs: Any) -> None:
        pattern = IntegrationPattern.WaitForTaskToken if wait_for_callback else IntegrationPattern.CallAndContinue
        self._init_with_pattern(state_id, pattern, None, kwargs)


class CallStep(ServiceStep):
    """A request-response call: the state ends when the API answers."""

    def __init__(self, state_id: str, **kwargs: Any) -> None:
        self._init_with_pattern(state_id, IntegrationPattern.CallAndContinue, None, kwargs)


_DEFAULT_PATTERN: Any = object()


class PatternStep(ServiceStep):
    """``integration_pattern=`` picks the pattern among ``supported_patterns`` (default ``default_pattern``)."""

    supported_patterns: ClassVar[tuple[IntegrationPattern, ...]] = (
        IntegrationPattern.WaitForCompletion,
        IntegrationPattern.CallAndContinue,
    )
    default_pattern: ClassVar[IntegrationPattern] = IntegrationPattern.WaitForCompletion
    sync_version: ClassVar[int | None] = None

    def __init__(self, state_id: str, integration_pattern: Any = _DEFAULT_PATTERN, **kwargs: Any) -> None:
        # A sentinel, not None, marks "not given": the original raised TypeError for an explicit None.
        if integration_pattern is _DEFAULT_PATTERN:
            integration_pattern = self.default_pattern
        is_integration_pattern_valid(integration_pattern, list(self.supported_patterns))
        version = self.sync_version if integration_pattern is IntegrationPattern.WaitForCompletion else None
        self._init_with_pattern(state_id, integration_pattern, version, kwargs)


__all__ = ["CallStep", "CallbackStep", "CompletionStep", "PatternStep", "ServiceStep"]
