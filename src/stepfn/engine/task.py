"""The Task state: resource resolution, dispatch to handlers, timeouts, heartbeats and task tokens.

Spec: states-language.net "Task State" and the AWS guide's "Service integration patterns". Resources:

* ``arn:<p>:states:::<service>:<action>[.sync|.sync:2|.waitForTaskToken]`` (``aws-sdk:<svc>:<action>``
  too) -> handler ``"<service>:<action>"``, history ``TaskScheduled/Started/Succeeded|Failed|TimedOut``;
* ``arn:<p>:lambda:<r>:<acct>:function:<name>`` -> ``lambda:invoke`` with ``{FunctionName, Payload}``;
  the result is the function's return value, history ``LambdaFunction*``;
* ``arn:<p>:states:<r>:<acct>:activity:<name>`` -> ``activity:<name>``, history ``Activity*``.

A handler blocks until done. With no TimeoutSeconds/HeartbeatSeconds it runs on the execution's own
thread; otherwise on a helper thread while the execution waits on the clock, so a timeout fires even
if the handler never returns (the handler sees ``control.cancelled()``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from stepfn.asl.definition import StateSite
from stepfn.asl.jsonata import JsonataTemplate, compile_jsonata_template
from stepfn.asl.paths import Template
from stepfn.engine.clock import wait_until
from stepfn.engine.definition import Compiler, NumberField, common_fields, number_field, template
from stepfn.engine.history import Payload
from stepfn.engine.protocol import IntegrationPattern, TaskHandler, TaskRequest
from stepfn.engine.retry import RetryingNode, retrying_fields
from stepfn.engine.runtime import Aborted, AbortScope, Frame, Halt, Run, check_size, new_task_token
from stepfn.errors import DefinitionError, StatesError

__all__ = ["Resource", "TaskNode", "TokenRegistry", "parse_resource"]

DEFAULT_TIMEOUT_SECONDS = 99_999_999
RUNTIME = "States.Runtime"


@dataclass(frozen=True, slots=True)
class Resource:
    arn: str
    kind: str
    """``service``, ``lambda`` (a function ARN) or ``activity``."""
    service: str
    action: str
    pattern: IntegrationPattern
    event_resource: str
    """``resource`` as history events show it: ``invoke``, ``createTrainingJob.sync``, or the ARN."""


_PATTERNS: dict[str, IntegrationPattern] = {
    ".sync": "sync",
    ".sync:2": "sync:2",
    ".waitForTaskToken": "wait_for_task_token",
}


def parse_resource(arn: str) -> Resource:
    parts = arn.split(":")
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return Resource(arn, "lambda", "lambda", "invoke", "request_response", arn)
    if len(parts) >= 7 and parts[2] == "states" and parts[5] == "activity":
        return Resource(arn, "activity", "activity", parts[6], "request_response", arn)
    if len(parts) >= 7 and parts[2] == "states" and parts[3] == "" and parts[4] == "":
        service_parts = parts[5:]
        tail = ":".join(service_parts)
        pattern: IntegrationPattern = "request_response"
        for suffix, name in sorted(_PATTERNS.items(), key=lambda item: -len(item[0])):
            if tail.endswith(suffix):
                pattern = name
                tail = tail[: -len(suffix)]
                break
        service, _, action = tail.rpartition(":")
        if not service or not action:
            raise DefinitionError(f"unsupported Task resource {arn!r}")
        event_resource = arn.split(":")[-1] if service != "aws-sdk" else action
        event_resource = ":".join(parts[6:]) if service.startswith("aws-sdk") else event_resource
        return Resource(arn, "service", service, action, pattern, event_resource)
    raise DefinitionError(f"unsupported Task resource {arn!r}")


# --------------------------------------------------------------------------------------------- tokens
class _Waiter:
    """Completion of one task attempt: by the handler's thread, a task token, or a timeout."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.done = threading.Event()
        self.wake = threading.Event()
        self.result: Any = None
        self.error: StatesError | None = None
        self.last_beat = run.clock.now()
        self.cancelled = threading.Event()

    def succeed(self, result: Any) -> None:
        if not self.done.is_set():
            self.result = result
            self.done.set()
            self.wake.set()

    def fail(self, error: StatesError) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()
            self.wake.set()

    def beat(self) -> None:
        self.last_beat = self.run.clock.now()
        self.wake.set()


class UnknownTaskToken(StatesError):
    """``send_task_*`` named a token that no waiting task holds (AWS: TaskDoesNotExist / InvalidToken)."""

    def __init__(self, token: str, code: str = "TaskDoesNotExist") -> None:
        super().__init__(code, f"Task token {token!r} does not belong to a waiting task")
        self.token = token

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.token, self.error))


class TokenRegistry:
    """Task tokens of ``.waitForTaskToken`` tasks waiting for ``send_task_success/failure/heartbeat``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, _Waiter] = {}

    def register(self, token: str, waiter: _Waiter) -> None:
        with self._lock:
            self._waiters[token] = waiter

    def release(self, token: str) -> None:
        with self._lock:
            self._waiters.pop(token, None)

    def _get(self, token: str) -> _Waiter:
        with self._lock:
            waiter = self._waiters.get(token)
        if waiter is None:
            raise UnknownTaskToken(token)
        return waiter

    def succeed(self, token: str, output: str) -> None:
        try:
            value = json.loads(output)
        except (TypeError, ValueError) as exc:
            raise StatesError("InvalidOutput", f"output is not valid JSON: {exc}") from None
        self._get(token).succeed(value)

    def fail(self, token: str, error: str | None, cause: str | None) -> None:
        # SendTaskFailure may leave out the error name; the failure then carries none, as on AWS.
        self._get(token).fail(StatesError(cast(str, error), cause))

    def heartbeat(self, token: str) -> None:
        self._get(token).beat()


@dataclass
class _Control:
    """The :class:`~stepfn.engine.protocol.TaskControl` a handler gets."""

    run: Run
    waiter: _Waiter
    scope: AbortScope | None = None
    """The task's Map iteration or Parallel branch group: a sibling's failure cancels the task too."""

    def cancelled(self) -> bool:
        return (self.run.cancel.is_set() or self.waiter.cancelled.is_set()
                or (self.scope is not None and self.scope.aborted()))

    def heartbeat(self) -> None:
        self.waiter.beat()

    def sleep(self, seconds: float) -> bool:
        # waiter.cancelled is set when the attempt ends (timeout) and when the execution stops.
        return not self.cancelled() and self.run.clock.sleep(seconds, self.waiter.cancelled)

    def log(self, message: str) -> None:
        self.run.logs.append(message)


def find_handler(handlers: Mapping[str, TaskHandler], service: str, action: str) -> TaskHandler | None:
    found = handlers.get(f"{service}:{action}") or handlers.get(f"{service}:*")
    if found is None and service.startswith("aws-sdk:"):
        # An SDK integration (aws-sdk:sagemaker:deleteEndpoint) takes the API's own request, so a backend's
        # handler for the plain action serves it when no aws-sdk-specific handler is registered.
        plain = service.removeprefix("aws-sdk:")
        found = handlers.get(f"{plain}:{action}") or handlers.get(f"{plain}:*")
    return found or handlers.get("*")


# --------------------------------------------------------------------------------------------- node
_EVENTS = {
    "service": ("TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskFailed", "TaskTimedOut"),
    "lambda": ("LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded",
               "LambdaFunctionFailed", "LambdaFunctionTimedOut"),
    "activity": ("ActivityScheduled", "ActivityStarted", "ActivitySucceeded", "ActivityFailed",
                 "ActivityTimedOut"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskNode(RetryingNode):
    type_name = "Task"
    blocking = True
    resource: Resource | None = None
    timeout: NumberField | None = None
    heartbeat: NumberField | None = None
    credentials: Template | JsonataTemplate | None = None

    inspects_work = True
    begins = True

    def begin(self, frame: Frame, attempt: int) -> None:
        assert self.resource is not None
        if self.resource.pattern == "wait_for_task_token":
            frame.task_token = new_task_token(frame.run, frame.entered_id, attempt)

    def work(self, frame: Frame, effective: Any, arguments: Any, states: dict[str, Any] | None,
             attempt: int) -> Any:
        resource = self.resource
        assert resource is not None
        timeout = self.timeout.resolve(frame, effective, states) if self.timeout is not None else None
        heartbeat = self.heartbeat.resolve(frame, effective, states) if self.heartbeat is not None else None
        if states is not None:
            credentials = (self.credentials.evaluate(states, frame.variables.flat(), new_uuid=frame.run.new_uuid)
                           if isinstance(self.credentials, JsonataTemplate) else None)
        else:
            credentials = (self.credentials.evaluate(frame.sources(effective))
                           if isinstance(self.credentials, Template) else None)
        return self._dispatch(frame, resource, arguments, attempt, timeout, heartbeat, credentials)

    # ----------------------------------------------------------------------------------- dispatch
    def _dispatch(self, frame: Frame, resource: Resource, arguments: Any, attempt: int,
                  timeout: float | None, heartbeat: float | None, credentials: Any) -> Any:
        run = frame.run
        scheduled, started, succeeded, failed, timed_out = _EVENTS[resource.kind]
        if resource.kind == "lambda":
            parameters = {"FunctionName": resource.arn, "Payload": arguments}
            scheduled_details: dict[str, Any] = {"resource": resource.arn, "input": Payload(arguments)}
            if timeout is not None:
                scheduled_details["timeoutInSeconds"] = int(timeout)
            name_fields: dict[str, Any] = {}
        elif resource.kind == "activity":
            parameters = arguments
            scheduled_details = {"resource": resource.arn, "input": Payload(arguments),
                                 "timeoutInSeconds": int(timeout) if timeout else None,
                                 "heartbeatInSeconds": int(heartbeat) if heartbeat else None}
            name_fields = {}
        else:
            parameters = arguments
            name_fields = {"resourceType": resource.service, "resource": resource.event_resource}
            scheduled_details = {**name_fields, "region": run.region, "parameters": Payload(arguments),
                                 "timeoutInSeconds": int(timeout) if timeout else None,
                                 "heartbeatInSeconds": int(heartbeat) if heartbeat else None}
        if isinstance(credentials, dict) and "RoleArn" in credentials:
            scheduled_details["taskCredentials"] = {"roleArn": credentials["RoleArn"]}
        scheduled_id = frame.emit(scheduled, scheduled_details)
        recorded, resumed = _recorded_outcome(run, scheduled_id, started, succeeded, failed, timed_out)
        frame.emit(started, dict(name_fields) if name_fields else None)
        if recorded is not None:
            kind, payload = recorded
            if kind == "ok":
                frame.emit(succeeded, {**name_fields, "output": Payload(payload)})
                return payload
            error = payload
            frame.emit(timed_out if error.error in ("States.Timeout", "States.HeartbeatTimeout") else failed,
                       {**name_fields, "error": error.error, "cause": error.cause})
            raise error
        run.history.checkpoint()
        request = TaskRequest(
            resource=resource.arn,
            service=resource.service,
            action=resource.action,
            pattern=resource.pattern,
            parameters=parameters,
            state_name=self.name,
            execution_arn=run.execution_arn,
            attempt=attempt,
            resumed=resumed,
            task_token=frame.task_token,
            timeout_seconds=timeout,
            heartbeat_seconds=heartbeat,
            credentials=credentials,
            context=frame.context(),
        )
        try:
            result = self._call(run, request, timeout, heartbeat, frame.scope)
            frame.check()
            if resource.kind == "lambda" and isinstance(result, dict) and "Payload" in result and "StatusCode" in result:
                result = result["Payload"]
            check_size(result, resource.arn if resource.kind != "service" else resource.service)
        except StatesError as exc:
            # A task cancelled because a sibling failed (its job Stopped) is aborted with its iteration: no
            # TaskFailed, and no Retry or Catch.
            frame.check()
            error = exc if exc.state is None else StatesError(exc.error, exc.cause)
            event = timed_out if error.error in ("States.Timeout", "States.HeartbeatTimeout") else failed
            frame.emit(event, {**name_fields, "error": error.error, "cause": error.cause})
            run.history.checkpoint()
            # state= keeps the task's own error from being treated as an interpreter error.
            raise StatesError(error.error, error.cause, state=self.name) from None
        frame.emit(succeeded, {**name_fields, "output": Payload(result)})
        # A task's outcome is durable before the execution moves on: otherwise a crash before the next
        # checkpoint (a Parallel branch waiting on its sibling can wait minutes) runs a finished task again.
        run.history.checkpoint()
        return result

    def _call(self, run: Run, request: TaskRequest, timeout: float | None, heartbeat: float | None,
              scope: AbortScope | None) -> Any:
        mocked = run.mock.handler(self.name, request) if run.mock is not None else None
        if mocked is not None:
            return _invoke(mocked, request, _Control(run, _Waiter(run), scope))
        handler = find_handler(run.handlers, request.service, request.action)
        if handler is None:
            raise StatesError("States.TaskFailed",
                              f"No local handler is registered for '{request.service}:{request.action}' "
                              f"(resource {request.resource}).")
        waiter = _Waiter(run)
        control = _Control(run, waiter, scope)
        token_wait = request.pattern == "wait_for_task_token"
        tokens: TokenRegistry | None = run.tokens
        if token_wait:
            assert tokens is not None and request.task_token is not None
            tokens.register(request.task_token, waiter)
        # Stopping the execution, or a sibling's failure, wakes the wait below and any control.sleep() of the
        # handler.
        run.wakers.update((waiter.wake, waiter.cancelled))
        if scope is not None:
            scope.watch(waiter.wake, waiter.cancelled)
        try:
            if not token_wait and timeout is None and heartbeat is None:
                return _invoke(handler, request, control)
            started = control.run.clock.now()  # the attempt's deadline counts from before its handler runs
            if token_wait:
                # The handler only hands the token on (a queue message, a callback URL...); the result
                # arrives through send_task_success / send_task_failure.
                _invoke(handler, request, control)
            else:
                thread = threading.Thread(target=_run_in_thread, args=(handler, request, control, waiter),
                                          name=f"stepfn-task-{self.name}", daemon=True)
                thread.start()
            return _await(control, started, timeout or DEFAULT_TIMEOUT_SECONDS, heartbeat)
        finally:
            waiter.cancelled.set()
            run.wakers.difference_update((waiter.wake, waiter.cancelled))
            if scope is not None:
                scope.unwatch(waiter.wake, waiter.cancelled)
            if token_wait and tokens is not None and request.task_token is not None:
                tokens.release(request.task_token)


def _invoke(handler: TaskHandler, request: TaskRequest, control: _Control) -> Any:
    try:
        return handler(request, control)
    except StatesError:
        raise
    except Halt:
        raise
    except Exception as exc:
        # A handler bug surfaces as a task failure named after the exception, as Lambda reports it.
        raise StatesError(type(exc).__name__, str(exc)) from exc


def _run_in_thread(handler: TaskHandler, request: TaskRequest, control: _Control, waiter: _Waiter) -> None:
    try:
        waiter.succeed(_invoke(handler, request, control))
    except StatesError as exc:
        waiter.fail(exc)
    except BaseException as exc:  # the waiting execution must learn of any end of the handler
        waiter.fail(StatesError("States.TaskFailed", repr(exc)))


def _await(control: _Control, start: datetime, timeout: float, heartbeat: float | None) -> Any:
    run, waiter = control.run, control.waiter
    clock = run.clock
    while True:
        waiter.wake.clear()
        if waiter.done.is_set():
            break
        run.check()
        if control.scope is not None and control.scope.aborted():
            raise Aborted()
        now = clock.now()
        remaining = timeout - (now - start).total_seconds()
        if remaining <= 0:
            raise StatesError("States.Timeout", None)
        if heartbeat is not None:
            beat_left = heartbeat - (now - waiter.last_beat).total_seconds()
            if beat_left <= 0:
                raise StatesError("States.HeartbeatTimeout", None)
            remaining = min(remaining, beat_left)
        wait_until(clock, now + timedelta(seconds=remaining), waiter.wake)
    if waiter.error is not None:
        raise waiter.error
    return waiter.result


def _recorded_outcome(run: Run, scheduled_id: int, started: str, succeeded: str, failed: str,
                      timed_out: str) -> tuple[tuple[str, Any] | None, bool]:
    """From a prior history: the finished outcome of this task attempt, or whether it was in flight."""
    history = run.history
    if not history.replaying:
        return None, False
    starts = [e for e in history.children(scheduled_id) if e["type"] == started]
    if not starts:
        return None, any(True for _ in history.children(scheduled_id)) or _was_prior(run, scheduled_id)
    for event in history.children(int(starts[0]["id"])):
        details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        if event["type"] == succeeded:
            return ("ok", json.loads(details.get("output", "null"))), False
        if event["type"] in (failed, timed_out):
            return ("error", StatesError(details.get("error", ""), details.get("cause"), state="")), False
    return None, True


def _was_prior(run: Run, event_id: int) -> bool:
    return any(int(e["id"]) == event_id for e in run.history.prior)


@Compiler.register("Task")
def _build_task(site: StateSite) -> TaskNode:
    fields = common_fields(site)
    spec, where, jsonata = site.spec, site.path, site.jsonata
    fields["resource"] = parse_resource(spec["Resource"])
    fields["timeout"] = number_field(spec, "TimeoutSeconds", where, jsonata, float, style="positive")
    fields["heartbeat"] = number_field(spec, "HeartbeatSeconds", where, jsonata, float, style="positive")
    if "Credentials" in spec:
        fields["credentials"] = (compile_jsonata_template(spec["Credentials"], field="Credentials") if jsonata
                                 else template(spec["Credentials"], where, "Credentials"))
    fields.update(retrying_fields(spec, where, jsonata))
    return TaskNode(**fields)
