"""Local Python functions as AWS Lambda functions: the ``lambda:invoke`` task handler.

A function is found by the ``FunctionName`` a Task gives (a name, a full or partial function ARN, with or
without a ``:qualifier``):

1. functions registered in this process: ``register_function("train", fn)`` (or as a decorator);
2. functions created through the Lambda API in the home (``create_function`` against ``stepfn serve``; their
   packages are kept in the home, and each invocation runs in a process of its own, with the function's
   environment, timeout and log, as Lambda runs it: :mod:`stepfn.local.lambda_functions`);
3. otherwise, a ``"package.module:function"`` string names a function in a Python module found directly
   under a folder the user allowed: :func:`allow_lambda_path` (``stepfn serve --lambda-path DIR``),
   ``$STEPFN_LAMBDA_PATH`` (folders separated by ``os.pathsep``), or the folder of the file ``stepfn run``
   runs. So a process that resumes an execution after a crash finds the same code without registering it.

A definition may arrive from anyone who can reach ``stepfn serve``, so its FunctionName never picks code
the user did not put in an allowed folder: the standard library, installed packages (site-packages) and
stepfn itself are refused wherever they are, the module is located under the allowed folders only (never
through ``sys.path``), nothing is imported before its file is known to be there, and the attribute must
be a function defined in that module (``mymodule:os.system`` is refused). A refused name fails the task
with ``Lambda.ResourceNotFoundException`` and a cause saying how to allow it.

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
import importlib.machinery
import importlib.util
import inspect
import json
import os
import re
import site
import sys
import sysconfig
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import lru_cache, partial
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar, overload

from stepfn._partitions import LOCAL_ACCOUNT
from stepfn.engine.protocol import TaskControl, TaskHandler, TaskRequest
from stepfn.errors import StatesError

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_REGION = "us-east-1"

_FUNCTION_ARN = re.compile(
    r"^(?:arn:(?P<partition>[\w-]+):lambda:(?P<region>[\w-]+):)?(?:(?P<account>\d{12}):)?"
    r"function:(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9_$-]+))?$"
)
_NAME_WITH_QUALIFIER = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9_$-]+))?$")
_MODULE_FUNCTION = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_][\w.]*)$")

LAMBDA_PATH_VARIABLE = "STEPFN_LAMBDA_PATH"

_registry: dict[str, Callable[..., Any]] = {}
_registry_lock = threading.Lock()
_allowed_paths: list[Path] = []
_paths_lock = threading.Lock()
_import_lock = threading.RLock()


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


def function_arn(name: str, *, region: str = DEFAULT_REGION, account: str = LOCAL_ACCOUNT, partition: str = "aws") -> str:
    return f"arn:{partition}:lambda:{region}:{account}:function:{name}"


def _not_found(ref: FunctionRef) -> StatesError:
    arn = ref.arn or function_arn(ref.name) + (f":{ref.qualifier}" if ref.qualifier else "")
    return StatesError(
        "Lambda.ResourceNotFoundException",
        f"Function not found: {arn} (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; "
        f"Request ID: {uuid.uuid4()}; Proxy: null)",
    )


def resolve_function(function_name: str, home: Path | None = None) -> tuple[FunctionRef, Callable[..., Any]]:
    """The callable behind a FunctionName, or ``Lambda.ResourceNotFoundException`` as AWS raises it: a function
    registered in this process, else one created through the Lambda API in ``home`` (default ``$STEPFN_HOME``;
    :mod:`stepfn.local.lambda_functions`), else a ``module:function`` under an allowed folder."""
    ref = parse_function_name(function_name)
    with _registry_lock:
        fn = _registry.get(ref.name) or _registry.get(function_name)
    if fn is not None:
        return ref, fn
    from stepfn._home import stepfn_home
    from stepfn.local.lambda_functions import FunctionError, created_function

    try:
        created = created_function(home if home is not None else stepfn_home(), ref.name)
    except FunctionError as error:
        raise StatesError(error.code, error.message) from error
    if created is not None:
        return ref, created
    if ref.import_path is None:
        raise _not_found(ref)
    module_name, _, attr_path = ref.import_path.partition(":")
    roots = allowed_lambda_paths()
    try:
        target: Any = _import_allowed(module_name, roots, function_name)
        for attr in attr_path.split("."):
            if attr.startswith("__"):
                raise _refused(function_name, f"'{attr_path}' is not a function defined in {module_name}")
            target = getattr(target, attr)
            if inspect.ismodule(target):  # 'mine:os.system' walks into a module the user's module imported
                raise _refused(function_name, f"'{attr_path}' is not a function defined in {module_name}")
    except (ImportError, AttributeError) as error:
        raise StatesError(
            "Lambda.ResourceNotFoundException",
            f"Function not found: {function_name} ({type(error).__name__}: {error})",
        ) from error
    # Only a function the module itself defines: not a builtin, a class or anything it imported.
    function = target.__func__ if inspect.ismethod(target) else target
    if not inspect.isfunction(function) or function.__module__ != module_name:
        raise _refused(function_name, f"'{attr_path}' is not a function defined in {module_name}")
    return ref, target


def allow_lambda_path(path: Path | str) -> Path:
    """Let ``module:function`` FunctionNames name functions in Python modules directly under ``path``.

    For this process (``stepfn serve --lambda-path DIR`` calls it; ``stepfn run FILE`` calls it with
    FILE's folder). Returns the resolved folder. A folder of the Python installation (the standard library,
    site-packages) is refused: it holds code the user did not write.
    """
    folder = Path(path).resolve()
    if not folder.is_dir():
        raise ValueError(f"not a folder: {path}")
    if _installed_code(folder):
        raise ValueError(f"{folder} holds the Python installation's own packages; allow your project's folder")
    with _paths_lock:
        if folder not in _allowed_paths:
            _allowed_paths.append(folder)
        # Last on sys.path, so the user's modules can import their siblings without shadowing anything.
        if str(folder) not in sys.path:
            sys.path.append(str(folder))
    return folder


def allowed_lambda_paths() -> list[Path]:
    """The folders ``module:function`` names may come from: :func:`allow_lambda_path`'s, then
    ``$STEPFN_LAMBDA_PATH``'s (installation folders in it are ignored)."""
    from_environment = [Path(entry).resolve() for entry in os.environ.get(LAMBDA_PATH_VARIABLE, "").split(os.pathsep)
                        if entry.strip()]
    with _paths_lock:
        folders = list(_allowed_paths)
    return folders + [folder for folder in from_environment if folder not in folders and not _installed_code(folder)]


@lru_cache(maxsize=1)
def _installation_folders() -> tuple[Path, ...]:
    """Where the interpreter's own and installed packages live (never an allowed source of Lambda code)."""
    folders = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    folders.update(site.getsitepackages())
    folders.add(site.getusersitepackages())
    folders.update(entry for entry in sys.path if Path(entry).name in ("site-packages", "dist-packages"))
    folders.add(str(Path(os.__file__).parent))  # the standard library of the interpreter actually running
    return tuple(sorted({Path(folder).resolve() for folder in folders if folder}))


def _installed_code(path: Path) -> bool:
    return any(path == folder or path.is_relative_to(folder) for folder in _installation_folders())


def _refused(function_name: str, reason: str) -> StatesError:
    roots = allowed_lambda_paths()
    allowed = ", ".join(str(root) for root in roots) or "none"
    return StatesError(
        "Lambda.ResourceNotFoundException",
        f"Function not found: {function_name} ({reason}). A 'module:function' FunctionName runs only a function "
        f"defined in a Python module directly under an allowed Lambda path (allowed now: {allowed}), never the "
        "standard library or installed packages. Allow your folder with `stepfn serve --lambda-path DIR` "
        f"(or `stepfn ui --lambda-path DIR`), {LAMBDA_PATH_VARIABLE}=DIR or "
        "stepfn.local.lambdas.allow_lambda_path(DIR) (`stepfn run FILE` allows FILE's folder), or register "
        "the function in the process that runs the workflow: stepfn.local.lambdas.register_function(NAME, fn).",
    )


def _under_root(module_name: str, origin: str | None, roots: list[Path]) -> bool:
    """Whether ``origin`` (a module's file or package folder) belongs to top-level ``module_name`` of a root."""
    if origin is None:
        return False
    path = Path(origin).resolve()
    if _installed_code(path):
        return False
    top = module_name.split(".")[0]
    for root in roots:
        if path.is_relative_to(root):
            first = path.relative_to(root).parts[0] if path != root else ""
            if first == top or first.split(".")[0] == top:  # pkg/..., mod.py, mod.cpython-311-x86_64.so
                return True
    return False


def _module_location(module: ModuleType) -> str | None:
    location = getattr(module, "__file__", None)
    if location is None and getattr(module, "__path__", None):
        location = next(iter(module.__path__), None)  # a namespace package: its first folder
    return str(location) if location else None


def _spec_location(spec: importlib.machinery.ModuleSpec) -> str | None:
    if spec.origin and spec.has_location:
        return spec.origin
    return next(iter(spec.submodule_search_locations or []), None)


def _import_allowed(module_name: str, roots: list[Path], function_name: str) -> ModuleType:
    """Import ``module_name`` from the allowed ``roots`` only, checking each module's file before it runs."""
    top = module_name.split(".")[0]
    if top in sys.stdlib_module_names or top in sys.builtin_module_names or top == "stepfn":
        raise _refused(function_name, f"{top} is part of Python or stepfn")
    if not roots:
        raise _refused(function_name, "no Lambda path is allowed in this process")
    parts = module_name.split(".")
    with _import_lock:
        module: ModuleType | None = None
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            loaded = sys.modules.get(name)
            if loaded is not None:
                if not _under_root(module_name, _module_location(loaded), roots):
                    raise _refused(function_name, f"{name} was loaded from outside the allowed Lambda paths")
                module = loaded
                continue
            if depth == 1:
                spec = importlib.machinery.PathFinder.find_spec(name, [str(root) for root in roots])
            else:
                spec = importlib.util.find_spec(name)  # the parent, already checked, is imported: no code runs
            if spec is None:
                raise ImportError(f"No module named '{name}' under the allowed Lambda paths")
            if not _under_root(module_name, _spec_location(spec), roots):
                raise _refused(function_name, f"{name} is not under an allowed Lambda path")
            if depth == 1:
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                try:
                    if spec.loader is not None:
                        spec.loader.exec_module(module)
                except BaseException:
                    del sys.modules[name]
                    raise
            else:
                module = importlib.import_module(name)
        assert module is not None
        return module


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


def _cause(document: dict[str, Any], optimized: bool) -> str:
    """An error document as a failed task's cause: the optimized integration relays Lambda's compact JSON, a bare
    function ARN renders it with ``json.dumps`` spacing."""
    return json.dumps(document, separators=(",", ":")) if optimized else json.dumps(document)


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


def invoke_lambda(request: TaskRequest, control: TaskControl, home: Path | None = None) -> Any:
    """The ``lambda:invoke`` task handler (see the module docstring for shapes); ``home`` holds the functions
    created through the Lambda API (default ``$STEPFN_HOME``)."""
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
    ref, fn = resolve_function(function_name, home)
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
    from stepfn.local.lambda_functions import FunctionInvocationError

    try:
        result = fn(event, context) if _accepts_context(fn) else fn(event)
    except FunctionInvocationError as error:  # a created function's own process answered with its error document
        document = error.document
        raise StatesError(document.get("errorType", "Lambda.Unknown"), _cause(document, optimized),
                          state=request.state_name) from error
    except Exception as error:  # every exception a function raises is a Lambda function error
        document = _error_document(error, request_id)
        raise StatesError(document["errorType"], _cause(document, optimized), state=request.state_name) from error
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
            _cause(document, optimized),
            state=request.state_name,
        ) from error
    payload = json.loads(body)
    if not optimized:
        return payload
    return optimized_response(payload, body=body, request_id=request_id)


def optimized_response(payload: Any, *, body: str | None = None, request_id: str | None = None) -> dict[str, Any]:
    """The optimized integration's result around a function's ``payload`` (a new request id unless given)."""
    request_id = request_id or str(uuid.uuid4())
    http, response = _http_metadata(request_id, body if body is not None else json.dumps(payload))
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": http,
        "SdkResponseMetadata": response,
        "StatusCode": 200,
    }


def handlers(home: Path) -> dict[str, TaskHandler]:
    """Task handlers this module provides; ``home`` holds the functions created through the Lambda API."""
    return {"lambda:invoke": partial(invoke_lambda, home=home)}


__all__ = [
    "LAMBDA_PATH_VARIABLE",
    "FunctionRef",
    "LambdaContext",
    "allow_lambda_path",
    "allowed_lambda_paths",
    "function_arn",
    "handlers",
    "invoke_lambda",
    "optimized_response",
    "parse_function_name",
    "register_function",
    "registered_functions",
    "resolve_function",
    "unregister_function",
]
