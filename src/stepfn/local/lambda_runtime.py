"""The runtime bootstrap of a created Lambda function's execution environment: one invocation, in a process of its own.

    python -I -u .../stepfn/local/lambda_runtime.py INVOCATION_FOLDER

:meth:`stepfn.local.lambda_functions.CreatedFunction.invoke` starts it (stepfn's own interpreter, isolated mode: no
``PYTHON*`` variables, no user site-packages, not the script's folder; unbuffered, so the log is whole when a
timeout kills it) with the function's code folder as the working directory and an environment made as Lambda makes
one (the function's ``Environment.Variables`` and Lambda's reserved variables). It reads ``request.json`` from the
folder (``event``, ``requestId``, ``timeout`` in seconds, ``home``), puts the code folder first on ``sys.path``
(Lambda's ``/var/task``), imports the handler's module by its own name, creates ``invoking`` (the function's Timeout
counts from then) and calls ``handler(event, context)`` as Lambda's Python runtime (``awslambdaric``) does, then
writes ``result.json``: ``{"payload": <the result as JSON text>}`` or ``{"error": <Lambda's error document>}``.
Whatever the function prints goes to the stdout/stderr the parent gave it: the function's log.

The function's boto3 clients reach this home's services, as Lambda's reach the function's account: when
``AWS_ENDPOINT_URL`` is not set, ``boto3.DEFAULT_SESSION`` becomes a session answered by the home's control plane (the
process that runs executions and SageMaker jobs, so a job a function starts outlives the function's process), or by
the backends in this process under ``STEPFN_IN_PROCESS`` (:mod:`stepfn.server._inprocess`). It is set before the
handler's module is imported, so a module-level ``boto3.client("s3")`` gets it.

A script, not ``-m stepfn.local.lambda_runtime``: run by path, it puts the stepfn this file belongs to on the path
(the one the parent runs, also when the parent's comes from ``PYTHONPATH``, which isolated mode ignores).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any


class LambdaContext:
    """The ``context`` argument, with the attributes and method of Lambda's Python runtime."""

    def __init__(self, request_id: str, deadline: float) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        # A string, as awslambdaric reads it from the environment.
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.invoked_function_arn = os.environ["STEPFN_LAMBDA_FUNCTION_ARN"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _error(error: BaseException, request_id: str, error_type: str | None = None) -> dict[str, Any]:
    """Lambda's error document; the trace leaves out this bootstrap's frame, as the runtime's starts in the user's
    code."""
    tb = error.__traceback__.tb_next if error.__traceback__ is not None else None
    return {"errorMessage": str(error), "errorType": error_type or type(error).__name__, "requestId": request_id,
            "stackTrace": traceback.format_list(traceback.extract_tb(tb))}


def _give_boto3_this_homes_services(home: str, region: str) -> None:
    if os.environ.get("AWS_ENDPOINT_URL"):
        return  # the settings `stepfn serve` printed, exported where the function runs: that server answers
    import boto3

    from stepfn.server._inprocess import control_plane_boto_session, local_boto_session
    from stepfn.workflow._control import in_process_requested

    boto3.DEFAULT_SESSION = (local_boto_session(region, home) if in_process_requested()
                             else control_plane_boto_session(region, home))


def _load(handler: str, request_id: str) -> tuple[Any, dict[str, Any] | None]:
    """The handler function, or None and the init error document Lambda gives for it."""
    module_name, _, function_name = handler.rpartition(".")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as error:
        return None, {**_error(error, request_id, "Runtime.UserCodeSyntaxError"),
                      "errorMessage": f"Syntax error in module '{module_name}': {error}"}
    except ImportError as error:  # the module, or one it imports, is not in the package: awslambdaric's words
        return None, {"errorMessage": f"Unable to import module '{module_name}': {error}",
                      "errorType": "Runtime.ImportModuleError", "requestId": request_id, "stackTrace": []}
    except Exception as error:  # the module's own code failed while it loaded: Lambda's init error
        return None, _error(error, request_id)
    function = getattr(module, function_name, None)
    if not callable(function):
        return None, {"errorMessage": f"Handler '{function_name}' missing on module '{module_name}'",
                      "errorType": "Runtime.HandlerNotFound", "requestId": request_id, "stackTrace": []}
    return function, None


def _invoke(request: dict[str, Any], folder: Path) -> dict[str, Any]:
    request_id = str(request["requestId"])
    function, init_error = _load(os.environ["_HANDLER"], request_id)
    if init_error is not None:
        return {"error": init_error}
    # The function's Timeout counts from here, as Lambda's does from the invoke phase: the parent's clock starts
    # when this file appears, and the context counts down to the same deadline.
    context = LambdaContext(request_id, time.time() + float(request["timeout"]))
    (folder / "invoking").touch()
    try:
        result = function(request["event"], context)
    except Exception as error:  # every exception a handler raises is the function's error
        return {"error": _error(error, request_id)}
    try:
        return {"payload": json.dumps(result)}
    except (TypeError, ValueError) as error:
        return {"error": {"errorMessage": f"Unable to marshal response: {error}", "errorType": "Runtime.MarshalError",
                          "requestId": request_id, "stackTrace": []}}


def _end_with_the_parent() -> None:
    """The parent enforces the Timeout; should it die (a control plane killed), this environment and whatever the
    function started end too, instead of running on unwatched."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.killpg(0, signal.SIGKILL)  # the parent started this process as its own group's leader

    threading.Thread(target=watch, name="stepfn-lambda-parent-watch", daemon=True).start()


def main(folder: Path) -> int:
    _end_with_the_parent()
    request = json.loads((folder / "request.json").read_text())
    code = os.environ["LAMBDA_TASK_ROOT"]
    stepfn_root = str(Path(__file__).resolve().parents[2])
    # The package first, as /var/task is on Lambda (a bundled library wins over the runtime's); stepfn's own
    # packages after it, for the session above, unless the installation's folders already hold them.
    sys.path[:0] = [code] + ([stepfn_root] if stepfn_root not in sys.path else [])
    _give_boto3_this_homes_services(str(request["home"]), os.environ["AWS_REGION"])
    outcome = _invoke(request, folder)
    sys.stdout.flush()
    sys.stderr.flush()
    staged = folder / "result.json.part"
    staged.write_text(json.dumps(outcome))
    staged.rename(folder / "result.json")  # whole or absent: a process killed mid-write leaves no half result
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
