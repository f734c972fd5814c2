"""Lambda functions created through the Lambda API (``boto3.client("lambda").create_function(...)`` against
``stepfn serve``), kept in the stepfn home and run by the ``lambda:invoke`` task handler and ``Invoke``.

A notebook that deploys its own function (the model retraining sample zips ``query_training_status.py``, uploads
it to S3 and calls ``create_function(Handler="query_training_status.lambda_handler", Code={"S3Bucket": ...})``)
gets a function that a LambdaStep naming it calls. The deployment package is unpacked under
``$STEPFN_HOME/lambda/functions/<name>/code`` (members that would land outside that folder are refused) and the
configuration is kept beside it as ``function.json``, with the FunctionConfiguration members Lambda returns.

Running: the handler's module is loaded from that folder under a module name of its own
(``stepfn_lambda_<function>_<digest>_<module>``), and the folder is put on ``sys.path`` so the package's other modules
import, then the function is called as ``stepfn.local.lambdas`` calls every local function (in the process that
runs the execution, with Lambda's event, context and error shapes). Unlike Lambda, functions share that process:
a package's other modules are imported by their own names (two functions shipping a ``helper.py`` share the
first one loaded), ``Environment.Variables`` are kept in the configuration but not set, and the function's own
boto3 clients read the environment that process has. In the control plane, the process that runs local executions,
that is the home's region and services, as Lambda gives a function its account's
(:func:`stepfn.server.control._give_functions_their_account`). The runtime named is recorded, not enforced: the
function runs in stepfn's Python.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import re
import shutil
import sys
import threading
import uuid
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stepfn._partitions import LOCAL_ACCOUNT

FUNCTIONS_DIR = Path("lambda") / "functions"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HANDLER = re.compile(r"(?P<module>[A-Za-z_][\w]*(?:[./][A-Za-z_][\w]*)*)\.(?P<function>[A-Za-z_]\w*)")
_load_lock = threading.Lock()
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
            "Runtime": request.get("Runtime", "python3.12"),
            "Role": request.get("Role", ""),
            "Handler": handler,
            "CodeSize": len(package),
            "Description": request.get("Description", ""),
            "Timeout": timeout,
            "MemorySize": memory_size,
            "LastModified": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "CodeSha256": base64.b64encode(hashlib.sha256(package).digest()).decode(),
            "Version": "$LATEST",
            "Environment": {"Variables": dict((request.get("Environment") or {}).get("Variables") or {})},
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


def created_function(home: Path, name: str) -> Callable[..., Any] | None:
    """The handler of the function ``name`` created in ``home``, loaded from its package; None when there is none."""
    if not _NAME.fullmatch(name) or not (home / FUNCTIONS_DIR / name / "function.json").is_file():
        return None
    configuration = get_function(home, name)
    match = _HANDLER.fullmatch(configuration["Handler"])
    if match is None:
        return None
    code = (home / FUNCTIONS_DIR / name / "code").resolve()
    source = code / (match["module"].replace(".", "/") + ".py")
    if not source.is_file():
        raise FunctionError("Runtime.ImportModuleError",
                            f"Unable to import module '{match['module']}': No module named '{match['module']}'", 502)
    # Named after the package's digest too, so a function deleted and created again with new code loads anew.
    digest = hashlib.sha256(configuration["CodeSha256"].encode()).hexdigest()[:12]
    module_name = f"stepfn_lambda_{name.replace('-', '_')}_{digest}_{match['module'].replace('/', '_').replace('.', '_')}"
    with _load_lock:
        module = sys.modules.get(module_name)
        if module is None:
            if str(code) not in sys.path:
                sys.path.append(str(code))  # the package's other modules import by their own names
            spec = importlib.util.spec_from_file_location(module_name, source)
            if spec is None or spec.loader is None:
                return None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules[module_name] = module
    function = getattr(module, match["function"], None)
    if not callable(function):
        raise FunctionError("Runtime.HandlerNotFound", f"{match['module']}.{match['function']} is undefined or not "
                            "exported", 502)
    result: Callable[..., Any] = function
    return result


__all__ = ["FUNCTIONS_DIR", "FunctionError", "create_function", "created_function", "delete_function",
           "get_function", "list_functions"]
