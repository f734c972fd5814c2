"""Lambda functions created through the Lambda API (``boto3.client("lambda").create_function(...)`` against
``stepfn serve``), kept in the stepfn home and run by the ``lambda:invoke`` task handler and ``Invoke``.

A notebook that deploys its own function (the model retraining sample zips ``query_training_status.py``, uploads
it to S3 and calls ``create_function(Handler="query_training_status.lambda_handler", Code={"S3Bucket": ...})``)
gets a function that a LambdaStep naming it calls. The deployment package is unpacked under
``$STEPFN_HOME/lambda/functions/<name>/code`` (members that would land outside that folder are refused) and the
configuration is kept beside it as ``function.json``, with the FunctionConfiguration members Lambda returns.

Running (:class:`CreatedFunction`), as Lambda runs a function: each invocation in an execution environment of its own,
a process of stepfn's Python started in isolated mode on the bootstrap :mod:`stepfn.local.lambda_runtime`, with

* the code folder as working directory and first on ``sys.path`` (Lambda's ``/var/task``), so two functions that
  each ship a ``helper.py`` get their own, and nothing of one function stays in another's (or stepfn's) process;
* the function's ``Environment.Variables`` and Lambda's reserved variables (``AWS_LAMBDA_FUNCTION_NAME``,
  ``AWS_LAMBDA_FUNCTION_VERSION``, ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``, ``AWS_LAMBDA_LOG_GROUP_NAME`` /
  ``_STREAM_NAME``, ``AWS_REGION``, ``AWS_DEFAULT_REGION``, ``AWS_EXECUTION_ENV``, ``LAMBDA_TASK_ROOT``, ``_HANDLER``,
  ``TZ=:UTC``, placeholder credentials); of this machine's environment only ``PATH``, the locale and the
  ``AWS_ENDPOINT_URL`` settings ``stepfn serve`` prints are passed on. CreateFunction refuses reserved names;
* the context object of Lambda's Python runtime (``function_name``, ``function_version``, ``memory_limit_in_mb``,
  ``invoked_function_arn``, ``aws_request_id``, ``log_group_name``, ``log_stream_name``,
  ``get_remaining_time_in_millis()`` counting down to the function's real deadline);
* its ``Timeout`` enforced: at the deadline the process group is killed and the invocation fails with
  ``Sandbox.Timedout`` / ``RequestId: <id> Error: Task timed out after 3.00 seconds`` (a process that exits without
  answering: ``Runtime.ExitError``). A handler's exception is Lambda's error document (``errorMessage``,
  ``errorType``, ``requestId``, ``stackTrace``), an import failure ``Runtime.ImportModuleError`` and friends, a
  response over Lambda's 6 MB ``Function.ResponseSizeTooLarge``;
* its stdout and stderr kept as its log, between Lambda's ``START``/``END``/``REPORT`` lines, one file per
  invocation under ``$STEPFN_HOME/lambda/logs/<name>/`` (Invoke's ``LogType=Tail`` returns the last 4 KB);
* its boto3 default session answered by this home's services (the control plane's), as Lambda's reach the
  function's account: see :mod:`stepfn.local.lambda_runtime`.

A fresh process per invocation (no warm environment is kept, so module-level state does not carry over from one
invocation to the next as it may on Lambda); the cold start costs stepfn's interpreter start plus boto3's import,
about 0.4 s here. Not done: ``MemorySize`` is reported, not enforced; the runtime must be a Python one
(``python3.x``, else CreateFunction refuses it), and the function runs on stepfn's interpreter whatever its minor
version.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from stepfn._partitions import LOCAL_ACCOUNT

FUNCTIONS_DIR = Path("lambda") / "functions"
LOGS_DIR = Path("lambda") / "logs"
"""Where each invocation's log is kept: ``<name>/<log stream>.log`` (the function's CloudWatch log group)."""
BOOTSTRAP = Path(__file__).with_name("lambda_runtime.py")
RESPONSE_LIMIT = 6_291_556
"""Lambda's quota on a synchronous invocation's response, in bytes."""
INIT_SECONDS = 10.0
"""Lambda's limit on a function's init phase (starting the runtime, importing the handler's module)."""
# The placeholders of stepfn.server._inprocess, spelled here so running a function does not import the server.
LOCAL_ACCESS_KEY_ID = LOCAL_SECRET_ACCESS_KEY = "stepfn-local"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HANDLER = re.compile(r"(?P<module>[A-Za-z_][\w]*(?:[./][A-Za-z_][\w]*)*)\.(?P<function>[A-Za-z_]\w*)")
# What a function's environment keeps of this machine's: where programs are, the locale, and the settings that make
# its boto3 clients reach the server `stepfn serve` printed (or stepfn's own home settings).
_PASSED_ON = ("PATH", "LANG", "LC_ALL", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
              "AWS_SESSION_TOKEN", "STEPFN_IN_PROCESS", "TMPDIR")
RESERVED_VARIABLES = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR", "TZ"})
"""Lambda's reserved environment variables: CreateFunction refuses them in ``Environment.Variables``."""
UNZIPPED_LIMIT = 262_144_000
"""Lambda's quota on a package's unzipped size (250 MB): also what keeps a small zip from filling the disk."""


class FunctionError(Exception):
    """A Lambda API error: its code (``ResourceNotFoundException``, ...), message and HTTP status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, self.message, self.status))


def _folder(home: Path, name: str) -> Path:
    if not _NAME.fullmatch(name):
        raise FunctionError("ValidationException", f"1 validation error detected: Value '{name}' at 'functionName' "
                            "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                            "[a-zA-Z0-9-_]+", 400)
    return home / FUNCTIONS_DIR / name


def _unpack(package: bytes, target: Path) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(package))
    except zipfile.BadZipFile as error:
        raise FunctionError("InvalidParameterValueException",
                            "Could not unzip uploaded file. Please check your file, then try to upload again.",
                            400) from error
    root = target.resolve()
    with archive:
        # The sizes the members declare bound what extractall writes (zipfile stops reading a member there).
        unzipped = sum(member.file_size for member in archive.infolist())
        if unzipped > UNZIPPED_LIMIT:
            raise FunctionError("InvalidParameterValueException",
                                f"Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes", 400)
        for member in archive.infolist():
            destination = (target / member.filename).resolve()
            if destination != root and not destination.is_relative_to(root):
                raise FunctionError("InvalidParameterValueException",
                                    f"The deployment package's member {member.filename!r} lies outside the package",
                                    400)
        archive.extractall(target)


def create_function(home: Path, request: dict[str, Any], read_object: Callable[[str, str], bytes]) -> dict[str, Any]:
    """CreateFunction: unpack ``Code.ZipFile`` (base64, as the API sends it) or the S3 object ``Code.S3Bucket`` /
    ``S3Key`` (``read_object(bucket, key)``) and keep the configuration; returns FunctionConfiguration."""
    name = str(request.get("FunctionName") or "")
    folder = _folder(home, name)
    handler = str(request.get("Handler") or "")
    if not _HANDLER.fullmatch(handler):
        raise FunctionError("InvalidParameterValueException",
                            f"The handler {handler!r} is not <module>.<function>", 400)
    code = request.get("Code") or {}
    if not isinstance(code, dict):
        raise FunctionError("InvalidParameterValueException", "Code must be an object", 400)
    if code.get("ZipFile"):
        try:
            package = base64.b64decode(str(code["ZipFile"]), validate=True)
        except ValueError as error:  # binascii.Error
            raise FunctionError("InvalidParameterValueException", f"Code.ZipFile is not base64: {error}",
                                400) from error
    elif code.get("S3Bucket") and code.get("S3Key"):
        package = read_object(str(code["S3Bucket"]), str(code["S3Key"]))
    else:
        raise FunctionError("InvalidParameterValueException", "Code needs ZipFile, or S3Bucket and S3Key", 400)
    runtime = str(request.get("Runtime", "python3.12"))
    if not runtime.startswith("python"):
        raise FunctionError("InvalidParameterValueException", f"The runtime parameter of {runtime} is not supported "
                            "by stepfn, which runs Python functions (python3.x) with its own interpreter", 400)
    environment = request.get("Environment") or {}
    variables = (environment.get("Variables") if isinstance(environment, dict) else None) or {}
    if not isinstance(variables, dict):
        raise FunctionError("InvalidParameterValueException", "Environment.Variables must be an object", 400)
    reserved = sorted(RESERVED_VARIABLES.intersection(variables))
    if reserved:
        raise FunctionError("InvalidParameterValueException", "Lambda was unable to configure your environment "
                            "variables because the environment variables you have provided contains reserved keys "
                            "that are currently not supported for modification. Reserved keys used in this request: "
                            + ", ".join(reserved), 400)
    if (folder / "function.json").exists():
        raise FunctionError("ResourceConflictException", f"Function already exist: {name}", 409)
    try:
        timeout, memory_size = int(request.get("Timeout", 3)), int(request.get("MemorySize", 128))
    except (TypeError, ValueError) as error:
        raise FunctionError("InvalidParameterValueException", f"Timeout and MemorySize are integers: {error}",
                            400) from error
    # A folder of this request's own: two creates of one name at once must not unpack into (or delete) each
    # other's staging; the rename below decides which one wins.
    staging = folder.with_name(f".{name}.{uuid.uuid4().hex}.creating")
    staging.mkdir(parents=True)
    try:
        _unpack(package, staging / "code")
        configuration = {
            "FunctionName": name,
            "FunctionArn": f"arn:aws:lambda:us-east-1:{LOCAL_ACCOUNT}:function:{name}",
            "Runtime": runtime,
            "Role": request.get("Role", ""),
            "Handler": handler,
            "CodeSize": len(package),
            "Description": request.get("Description", ""),
            "Timeout": timeout,
            "MemorySize": memory_size,
            "LastModified": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "CodeSha256": base64.b64encode(hashlib.sha256(package).digest()).decode(),
            "Version": "$LATEST",
            "Environment": {"Variables": {str(key): str(value) for key, value in variables.items()}},
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
        }
        (staging / "function.json").write_text(json.dumps(configuration, indent=1))
        try:
            staging.rename(folder)
        except OSError as error:  # another request created it meanwhile
            raise FunctionError("ResourceConflictException", f"Function already exist: {name}", 409) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return configuration


def get_function(home: Path, name: str) -> dict[str, Any]:
    """The FunctionConfiguration of a created function, or ResourceNotFoundException."""
    path = _folder(home, name) / "function.json"
    try:
        configuration: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise FunctionError("ResourceNotFoundException",
                            f"Function not found: arn:aws:lambda:us-east-1:{LOCAL_ACCOUNT}:function:{name}",
                            404) from error
    return configuration


def list_functions(home: Path) -> list[dict[str, Any]]:
    folder = home / FUNCTIONS_DIR
    # Only function folders: a create in flight holds function.json in a dot-named staging folder for a moment.
    names = sorted(p.parent.name for p in folder.glob("*/function.json") if _NAME.fullmatch(p.parent.name)) \
        if folder.is_dir() else []
    return [get_function(home, name) for name in names]


def delete_function(home: Path, name: str) -> None:
    get_function(home, name)
    folder = _folder(home, name)
    # Renamed away first, atomically: of two deletes at once one finds nothing (as Lambda answers the second),
    # and the name is free for a create at once while the package is removed.
    doomed = folder.with_name(f".{name}.{uuid.uuid4().hex}.deleting")
    try:
        folder.rename(doomed)
    except FileNotFoundError:
        get_function(home, name)  # ResourceNotFoundException
        raise
    shutil.rmtree(doomed)


@dataclass(frozen=True)
class Invocation:
    """How one invocation ended: the result as JSON text, or Lambda's error document; and its log."""

    request_id: str
    payload: str | None
    error: dict[str, Any] | None
    log: str


class FunctionInvocationError(Exception):
    """A created function's invocation failed: ``document`` is Lambda's error document (``errorType``,
    ``errorMessage``, and for an exception the handler raised ``requestId`` and ``stackTrace``)."""

    def __init__(self, document: dict[str, Any]) -> None:
        super().__init__(document.get("errorMessage", ""))
        self.document = document

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.document,))


class Cancelled(Protocol):
    """What :meth:`CreatedFunction.invoke` asks of a task's control (``stepfn.engine.protocol.TaskControl``):
    whether the execution was stopped or timed out, so the function's process is ended with it."""

    def cancelled(self) -> bool: ...


@dataclass(frozen=True)
class CreatedFunction:
    """A function created through the Lambda API, run as Lambda runs one (see the module docstring): called as a
    handler, ``fn(event, context)`` returns the function's result or raises :class:`FunctionInvocationError`."""

    home: Path
    name: str
    configuration: dict[str, Any]

    @property
    def code(self) -> Path:
        return (self.home / FUNCTIONS_DIR / self.name / "code").resolve()

    def __call__(self, event: Any, context: Any = None) -> Any:
        invocation = self.invoke(event, request_id=getattr(context, "aws_request_id", None),
                                 control=getattr(context, "control", None))
        if invocation.error is not None:
            raise FunctionInvocationError(invocation.error)
        return json.loads(invocation.payload or "null")

    def invoke(self, event: Any, *, request_id: str | None = None, control: Cancelled | None = None) -> Invocation:
        """Run the handler on ``event`` in an execution environment of its own; stops it when its ``Timeout``
        passes (``Sandbox.Timedout``) or ``control`` is cancelled (the execution was stopped or timed out)."""
        request_id = request_id or str(uuid.uuid4())
        timeout = float(self.configuration.get("Timeout") or 3)
        now = datetime.now(tz=UTC)
        stream = f"{now:%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        log_path = self.home / LOGS_DIR / self.name / f"{stream}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="stepfn-lambda-") as folder, open(log_path, "ab") as log:
            log.write(f"START RequestId: {request_id} Version: $LATEST\n".encode())
            log.flush()
            started = time.monotonic()
            (Path(folder) / "request.json").write_text(json.dumps({
                "event": event, "requestId": request_id, "timeout": timeout, "home": str(self.home)}))
            # -u: what the function prints reaches its log at once, also when a timeout kills it.
            process = subprocess.Popen(
                [sys.executable, "-I", "-u", str(BOOTSTRAP), folder], cwd=self.code, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, env=self._environment(stream),
                start_new_session=True)  # its own process group: a timeout ends the function's children too
            ended = _wait(process, Path(folder) / "invoking", timeout, control)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # what the function left running: Lambda freezes it
            duration = (time.monotonic() - started) * 1000
            result = Path(folder) / "result.json"
            outcome: dict[str, Any] = json.loads(result.read_text()) if ended and result.is_file() else {}
            if not ended:
                message = f"Task timed out after {timeout:.2f} seconds"
                log.write(f"{datetime.now(tz=UTC):%Y-%m-%dT%H:%M:%S.%f}"[:-3].encode()
                          + f"Z {request_id} {message}\n".encode())
                outcome = {"error": {"errorType": "Sandbox.Timedout",
                                     "errorMessage": f"RequestId: {request_id} Error: {message}"}}
            elif len(str(outcome.get("payload", "")).encode()) > RESPONSE_LIMIT:
                outcome = {"error": {"errorType": "Function.ResponseSizeTooLarge", "errorMessage": "Response payload "
                                     f"size exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes)."}}
            elif not outcome:
                outcome = {"error": {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {request_id} "
                                     f"Error: Runtime exited with error: {_exit_status(process.returncode)}"}}
            log.write(f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
                      f"Billed Duration: {math.ceil(duration)} ms\tMemory Size: {self.configuration['MemorySize']} "
                      "MB\t\n".encode())
        return Invocation(request_id, outcome.get("payload"), outcome.get("error"), log_path.read_text(errors="replace"))

    def _environment(self, stream: str) -> dict[str, str]:
        """Lambda's environment: the function's variables, then the reserved ones; of this machine's, only what
        locates programs and reaches this home's services."""
        configuration = self.configuration
        region = configuration["FunctionArn"].split(":")[3]
        environment = {key: os.environ[key] for key in _PASSED_ON if key in os.environ}
        environment.update({str(key): str(value)
                            for key, value in (configuration.get("Environment") or {}).get("Variables", {}).items()})
        if not os.environ.get("AWS_ENDPOINT_URL"):
            # Lambda gives every function its role's credentials; here placeholders, so a session the function
            # builds itself never signs with the user's own AWS keys.
            environment.update(AWS_ACCESS_KEY_ID=LOCAL_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY=LOCAL_SECRET_ACCESS_KEY)
        environment.update({
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(configuration["MemorySize"]),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{configuration['Runtime']}",
            "LAMBDA_TASK_ROOT": str(self.code),
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
            "_HANDLER": configuration["Handler"],
            "TZ": ":UTC",
            "STEPFN_HOME": str(self.home),
            "STEPFN_LAMBDA_FUNCTION_ARN": configuration["FunctionArn"],
        })
        return environment


def _wait(process: subprocess.Popen[bytes], invoking: Path, timeout: float, control: Cancelled | None) -> bool:
    """Whether ``process`` ended in time, and before ``control`` was cancelled. As on Lambda, ``timeout`` counts
    from the handler's call (the bootstrap creates ``invoking`` then); the init before it (the interpreter, the
    handler's module) has Lambda's own :data:`INIT_SECONDS` besides."""
    deadline = time.monotonic() + INIT_SECONDS + timeout
    called = False
    while True:
        if not called and invoking.exists():
            called, deadline = True, time.monotonic() + timeout
        remaining = deadline - time.monotonic()
        try:
            process.wait(timeout=max(0.0, min(0.05, remaining)))
            return True
        except subprocess.TimeoutExpired:
            if remaining <= 0 or (control is not None and control.cancelled()):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return False


def _exit_status(returncode: int) -> str:
    """How Lambda words a runtime's exit: ``exit status 1``, ``signal: killed``."""
    if returncode >= 0:
        return f"exit status {returncode}"
    names = {signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted",
             signal.SIGTERM: "terminated"}
    return f"signal: {names.get(signal.Signals(-returncode), signal.Signals(-returncode).name.lower())}"


def created_function(home: Path, name: str) -> CreatedFunction | None:
    """The function ``name`` created in ``home``; None when there is none."""
    if not _NAME.fullmatch(name) or not (home / FUNCTIONS_DIR / name / "function.json").is_file():
        return None
    return CreatedFunction(home.resolve(), name, get_function(home, name))


__all__ = ["FUNCTIONS_DIR", "LOGS_DIR", "CreatedFunction", "FunctionError", "FunctionInvocationError", "Invocation",
           "create_function", "created_function", "delete_function", "get_function", "list_functions"]
