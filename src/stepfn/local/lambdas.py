"""Local Python functions as AWS Lambda functions: the ``lambda:invoke`` task handler.

A function is found by the ``FunctionName`` a Task gives (a name, a full or partial function ARN, with or
without a ``:qualifier``):

1. functions registered in this process: ``register_function("train", fn)`` (or as a decorator);
2. otherwise, a ``"package.module:function"`` string is imported (so a process that resumes an execution
   after a crash finds the same code without any registration).

A handler is called as Lambda's Python runtime calls one: ``fn(event, context)`` (or ``fn(event)`` when it
takes a single argument). Results and errors have AWS's shapes:

* the optimized integration (``arn:aws:states:::lambda:invoke``) returns ``{"ExecutedVersion", "Payload",
  "SdkHttpMetadata", "SdkResponseMetadata", "StatusCode"}``; a bare function ARN as Resource returns the
  function's result itself;
* a raised exception fails the task with the exception's class name as the error (``ValueError``,
  ``Exception``), and a cause that is the runtime's error document ``{"errorMessage", "errorType",
  "requestId", "stackTrace"}`` (compact JSON for the optimized integration, ``json.dumps`` spacing for a bare
  ARN, exactly as AWS renders each).
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any, TypeVar, overload

from stepfn.engine.protocol import TaskControl, TaskHandler, TaskRequest
from stepfn.errors import StatesError

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"

_FUNCTION_ARN = re.compile(
    r"^(?:arn:(?P<partition>[\w-]+):lambda:(?P<region>[\w-]+):)?(?:(?P<account>\d{12}):)?"
    r"function:(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9_$-]+))?$"
)
_NAME_WITH_QUALIFIER = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9_$-]+))?$")
_MODULE_FUNCTION = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_][\w.]*)$")

_registry: dict[str, Callable[..., Any]] = {}
_registry_lock = threading.Lock()


@dataclass(frozen=True)
class FunctionRef:
    """Where a ``FunctionName`` points: a function name (+ qualifier) or a ``module:function`` import path."""

    name: str
    qualifier: str | None = None
    arn: str | None = None
    import_path: str | None = None


def parse_function_name(function_name: str) -> FunctionRef:
    """Split a FunctionName as Lambda accepts it: name, ``name:qualifier``, partial or full ARN, or module:function."""
    match = _FUNCTION_ARN.match(function_name)
    if match:
        arn = function_name if function_name.startswith("arn:") else None
        return FunctionRef(match["name"], match["qualifier"], arn)
    # "handlers:train" could be a function "handlers" with qualifier "train" or an import path; a registered
    # function wins, the import path is the fallback (resolve_function).
    import_path = function_name if _MODULE_FUNCTION.match(function_name) else None
    match = _NAME_WITH_QUALIFIER.match(function_name)
    if match:
        return FunctionRef(match["name"], match["qualifier"], import_path=import_path)
    if import_path:
        return FunctionRef(function_name, import_path=import_path)
    raise StatesError(
        "Lambda.InvalidParameterValueException",
        f"1 validation error detected: Value '{function_name}' at 'functionName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: "
        "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)"
        "(:(\\$LATEST|[a-zA-Z0-9-_]+))? (Service: Lambda, Status Code: 400)",
    )


@overload
def register_function(name: str, fn: F) -> F: ...
@overload
def register_function(name: str, fn: None = None) -> Callable[[F], F]: ...
def register_function(name: str, fn: Callable[..., Any] | None = None) -> Any:
    """Make ``fn`` callable as the Lambda function ``name`` (a name or a function ARN) in this process.

    Usable as a decorator: ``@register_function("preprocess")``.
    """
    ref = parse_function_name(name)

    def add(function: F) -> F:
        if not callable(function):
            raise TypeError(f"register_function({name!r}, ...) needs a callable, got {type(function).__name__}")
        with _registry_lock:
            _registry[ref.name] = function
        return function

    return add if fn is None else add(fn)


def unregister_function(name: str) -> None:
    with _registry_lock:
        _registry.pop(parse_function_name(name).name, None)


def registered_functions() -> dict[str, Callable[..., Any]]:
    with _registry_lock:
        return dict(_registry)


def function_arn(name: str, *, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT, partition: str = "aws") -> str:
    return f"arn:{partition}:lambda:{region}:{account}:function:{name}"


def _not_found(ref: FunctionRef) -> StatesError:
    arn = ref.arn or function_arn(ref.name) + (f":{ref.qualifier}" if ref.qualifier else "")
    return StatesError(
        "Lambda.ResourceNotFoundException",
        f"Function not found: {arn} (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; "
        f"Request ID: {uuid.uuid4()}; Proxy: null)",
    )


def resolve_function(function_name: str) -> tuple[FunctionRef, Callable[..., Any]]:
    """The callable behind a FunctionName, or ``Lambda.ResourceNotFoundException`` as AWS raises it."""
    ref = parse_function_name(function_name)
    with _registry_lock:
        fn = _registry.get(ref.name) or _registry.get(function_name)
    if fn is not None:
        return ref, fn
    if ref.import_path is None:
        raise _not_found(ref)
    module_name, _, attr_path = ref.import_path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for attr in attr_path.split("."):
            target = getattr(target, attr)
    except (ImportError, AttributeError) as error:
        raise StatesError(
            "Lambda.ResourceNotFoundException",
            f"Function not found: {function_name} ({type(error).__name__}: {error})",
        ) from error
    if not callable(target):
        raise _not_found(ref)
    return ref, target


@dataclass
class LambdaContext:
    """The ``context`` argument of a Lambda handler, with the attributes handlers commonly read."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
    log_group_name: str = ""
    log_stream_name: str = ""
    deadline: float | None = None
    control: TaskControl | None = field(default=None, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        if self.deadline is None:
            return 900_000  # Lambda's maximum timeout
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def _accepts_context(fn: Callable[..., Any]) -> bool:
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)


def _error_document(error: BaseException, request_id: str) -> dict[str, Any]:
    # The first frame is our own call into the handler; Lambda's stack trace starts in the user's code.
    frames = traceback.extract_tb(error.__traceback__)[1:]
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


def _http_metadata(request_id: str, body: str) -> tuple[dict[str, Any], dict[str, Any]]:
    headers = {
        "Connection": "keep-alive",
        "Content-Length": str(len(body.encode())),
        "Content-Type": "application/json",
        "Date": formatdate(usegmt=True),
        "X-Amz-Executed-Version": "$LATEST",
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": request_id,
        "X-Amzn-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
    }
    all_headers = {key: [value] for key, value in headers.items()}
    return (
        {"AllHttpHeaders": all_headers, "HttpHeaders": headers, "HttpStatusCode": 200},
        {"RequestId": request_id},
    )


def invoke_lambda(request: TaskRequest, control: TaskControl) -> Any:
    """The ``lambda:invoke`` task handler (see the module docstring for shapes)."""
    parameters = request.parameters if isinstance(request.parameters, dict) else {}
    function_name = parameters.get("FunctionName")
    if not isinstance(function_name, str) or not function_name:
        raise StatesError(
            "States.Runtime",
            f"The Task state '{request.state_name}' must give lambda:invoke a FunctionName string",
            state=request.state_name, field="Parameters", path="$.FunctionName",
        )
    # A bare function ARN as Resource returns the result itself and renders causes with json.dumps spacing.
    optimized = ":states:::" in request.resource
    event = parameters.get("Payload", {}) if optimized else parameters.get("Payload")
    ref, fn = resolve_function(function_name)
    request_id = str(uuid.uuid4())
    context = LambdaContext(
        function_name=ref.name,
        invoked_function_arn=ref.arn or function_arn(ref.name),
        aws_request_id=request_id,
        deadline=time.monotonic() + request.timeout_seconds if request.timeout_seconds else None,
        control=control,
    )
    # Lambda hands the function a decoded copy of the JSON payload, never the caller's own objects.
    event = json.loads(json.dumps(event))
    try:
        result = fn(event, context) if _accepts_context(fn) else fn(event)
    except Exception as error:  # every exception a function raises is a Lambda function error
        document = _error_document(error, request_id)
        cause = json.dumps(document, separators=(",", ":")) if optimized else json.dumps(document)
        raise StatesError(document["errorType"], cause, state=request.state_name) from error
    except SystemExit as error:
        # The runtime process exits without an error document: Lambda reports no error type at all.
        raise StatesError(
            "Lambda.Unknown",
            "The cause could not be determined because Lambda did not return an error type. "
            f"Returned payload: {type(error).__name__}: {error}",
            state=request.state_name,
        ) from error
    try:
        body = json.dumps(result)
    except (TypeError, ValueError) as error:
        document = {
            "errorMessage": f"Unable to marshal response: {error}",
            "errorType": "Runtime.MarshalError",
            "requestId": request_id,
            "stackTrace": [],
        }
        raise StatesError(
            "Runtime.MarshalError",
            json.dumps(document, separators=(",", ":")) if optimized else json.dumps(document),
            state=request.state_name,
        ) from error
    payload = json.loads(body)
    if not optimized:
        return payload
    http, response = _http_metadata(request_id, body)
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": http,
        "SdkResponseMetadata": response,
        "StatusCode": 200,
    }


def handlers(home: Path) -> dict[str, TaskHandler]:
    """Task handlers this module provides; ``home`` is unused (functions live in this process)."""
    del home
    return {"lambda:invoke": invoke_lambda}


__all__ = [
    "FunctionRef",
    "LambdaContext",
    "function_arn",
    "handlers",
    "invoke_lambda",
    "parse_function_name",
    "register_function",
    "registered_functions",
    "resolve_function",
    "unregister_function",
]
