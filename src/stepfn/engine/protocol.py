"""The narrow seam between the engine and the services its Task states call.

The engine resolves a Task's resource and evaluated parameters into a :class:`TaskRequest` and
hands it to the :class:`TaskHandler` registered for that resource. Handlers are plain callables
that block until the task's result is known (the engine runs them off its own thread):

* return the task result (any JSON value) on success;
* raise :class:`stepfn.errors.StatesError` with the error name Retry/Catch should see
  (``SageMaker.AmazonSageMakerException``, ``Lambda.Unknown``, ``States.TaskFailed`` ...);
* poll :meth:`TaskControl.cancelled` and stop early when the execution is stopped or times out.

Local backends (``stepfn.local``) and the AWS backend implement handlers; the engine imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

IntegrationPattern = Literal["request_response", "sync", "sync:2", "wait_for_task_token"]


@dataclass(frozen=True)
class TaskRequest:
    """Everything a handler needs to run one attempt of one Task state."""

    resource: str
    """The resource exactly as the definition (after ``.$`` resolution) gives it."""
    service: str
    """``sagemaker``, ``lambda``, ``states``, ``sns``... (``lambda`` also for plain function ARNs)."""
    action: str
    """The API action without its pattern suffix: ``createTrainingJob``, ``invoke``."""
    pattern: IntegrationPattern
    parameters: Any
    """The evaluated Parameters (JSONPath) or Arguments (JSONata)."""
    state_name: str
    execution_arn: str
    attempt: int = 0
    """0 for the first try, then 1, 2... for each Retry."""
    resumed: bool = False
    """True when the engine re-dispatches a task that was running when its process died: a backend
    whose jobs have unique names (SageMaker) attaches to the existing job instead of refusing it."""
    task_token: str | None = None
    timeout_seconds: float | None = None
    heartbeat_seconds: float | None = None
    credentials: Any = None
    context: dict[str, Any] = field(default_factory=dict)
    """The context object (``$$``) as the state sees it."""


class TaskControl(Protocol):
    """What a running handler may ask of the engine."""

    def cancelled(self) -> bool:
        """True once the execution was stopped, timed out or the task's timeout expired."""
        ...

    def heartbeat(self) -> None:
        """Reset the task's HeartbeatSeconds timer."""
        ...

    def sleep(self, seconds: float) -> bool:
        """Sleep on the engine's clock (which tests may speed up); returns False if cancelled meanwhile."""
        ...

    def log(self, message: str) -> None:
        """Attach a progress line (a training log line, say) to the execution for watchers."""
        ...


class TaskHandler(Protocol):
    def __call__(self, request: TaskRequest, control: TaskControl) -> Any: ...


__all__ = ["IntegrationPattern", "TaskControl", "TaskHandler", "TaskRequest"]
