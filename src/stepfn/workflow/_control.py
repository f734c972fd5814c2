"""The client side of the local control plane: finding, starting and calling the service of a stepfn home.

On the local backend an execution belongs to a service process, one per home, not to the script, notebook
or terminal that started it (as on AWS, where ``execute()`` returns and the run goes on). The service is
``python -m stepfn.server.control``: the ``stepfn serve`` app on a unix socket in the home (mode 0600, so
only this user on this machine reaches it, with no token). :class:`ControlPlaneClient` speaks to it with
botocore's own JSON serializer and parser, as boto3 speaks to AWS, and starts it on demand.

What runs or changes a run goes through the service (StartExecution, StartSyncExecution, StopExecution,
RedriveExecution, task-token callbacks, UpdateMapRun). Everything else (definitions, versions, aliases, tags,
listings, descriptions, history, TestState) reads or writes the SQLite store directly: those calls never
need the service, so ``stepfn executions`` on a home with nothing running starts no process, and a read
can never resume, claim or change an execution.

Functions registered in this process (``register_function``) are served by this process while it lives:
a worker thread long-polls the service for calls to them, as Step Functions activity workers do.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import http.client
import inspect
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stepfn.errors import StepfnError
from stepfn.store._owner import Owner

SOCKET_NAME = "control.sock"
LOG_NAME = "control.log"
IN_PROCESS_ENV = "STEPFN_IN_PROCESS"
"""Set to 1 to run local executions inside the process that starts them (unit tests, the engine benchmark)."""
START_TIMEOUT_SECONDS = 60.0
WAIT_CHUNK_SECONDS = 20.0
ACTING_OPERATIONS = frozenset({
    "start_execution", "start_sync_execution", "stop_execution", "redrive_execution", "send_task_success",
    "send_task_failure", "send_task_heartbeat", "update_map_run",
})
"""Operations that run or change executions: the service's. The rest go to the store directly."""
_MAX_UNIX_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS


def in_process_requested() -> bool:
    return os.environ.get(IN_PROCESS_ENV, "").strip().lower() in ("1", "true", "yes")


def socket_path(home: Path) -> Path:
    """Where the service of ``home`` listens: ``<home>/control.sock``, or, when that path is too long for a
    unix socket, a per-user 0700 folder in the temporary directory named after the home's hash."""
    home = home.resolve()
    path = home / SOCKET_NAME
    if len(os.fsencode(path)) <= _MAX_UNIX_PATH:
        return path
    folder = Path(tempfile.gettempdir()) / f"stepfn-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o077:
        raise StepfnError(f"{folder} must be a folder only this user can open (mode 0700)")
    return folder / f"{hashlib.sha256(os.fsencode(home)).hexdigest()[:24]}.sock"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


# What a request meets when the service it found running has exited since: its socket removed, nobody listening,
# or the connection reset unanswered.
_SERVICE_GONE = (FileNotFoundError, ConnectionRefusedError, ConnectionResetError, BrokenPipeError,
                 http.client.RemoteDisconnected)


def request(path: Path, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None,
            timeout: float | None = 120.0) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to the service on its socket (a fresh connection)."""
    connection = _UnixConnection(path, timeout)
    try:
        connection.request(method, url, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def request_service(home: Path, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None,
                    timeout: float | None = 120.0) -> tuple[int, dict[str, str], bytes]:
    """One request to ``home``'s service, started first when it is not running, and once more (starting it
    again) when the service found running exits before answering: an idle one may, between the ping that found
    it and this request (which it never took up: a request in flight keeps it from being idle)."""
    for attempt in range(2):
        try:
            return request(ensure_service(home), method, url, body, headers, timeout)
        except _SERVICE_GONE:
            if attempt > 0:
                raise
    raise AssertionError("unreachable")


def service_running(home: Path) -> bool:
    try:
        status, _, _ = request(socket_path(home), "GET", "/ping", timeout=5.0)
    except OSError:
        return False
    return status == 200


@contextlib.contextmanager
def _start_lock(home: Path) -> Iterator[None]:
    """One starter at a time per home, so two clients never start two services."""
    with open(home / "control.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_service(home: Path, timeout: float = START_TIMEOUT_SECONDS) -> Path:
    """The socket of ``home``'s service, started first when it is not running; StepfnError if it cannot start."""
    path = socket_path(home)
    if service_running(home):
        return path
    home.mkdir(parents=True, exist_ok=True)
    with _start_lock(home):
        if service_running(home):
            return path
        with open(home / LOG_NAME, "ab") as log:
            # Its own session: Ctrl-C in the terminal that started it, or closing that terminal, leaves it alone.
            process = subprocess.Popen(
                [sys.executable, "-m", "stepfn.server.control", "--home", str(home.resolve())],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )
        # Reap it when it exits (idle, `stepfn down`) while this process lives, so it leaves no zombie.
        threading.Thread(target=process.wait, name="stepfn-control-reaper", daemon=True).start()
        deadline = time.monotonic() + timeout
        while not service_running(home):
            if process.poll() is not None or time.monotonic() > deadline:
                raise StepfnError(
                    f"the stepfn control plane for {home} did not start; its log ({home / LOG_NAME}) ends:\n"
                    + _log_tail(home / LOG_NAME))
            time.sleep(0.05)
    return path


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_service(home: Path, *, force: bool = False) -> dict[str, Any] | None:
    """Ask the service of ``home`` to exit; None when none runs. Refused (``{"running": [...]}``) while
    executions run, unless ``force``: those then resume when a service next starts."""
    if not service_running(home):
        return None
    try:
        status, _, body = request(socket_path(home), "POST", "/_stepfn/shutdown",
                                  json.dumps({"force": force}).encode(), {"Content-Type": "application/json"})
    except (OSError, http.client.HTTPException):
        return None  # it exited (idle) in between
    answer: dict[str, Any] = json.loads(body)
    answer["stopped"] = status == 200
    if answer["stopped"]:
        _wait_until_gone(home)
    return answer


def _wait_until_gone(home: Path, timeout: float = 30.0) -> None:
    """Return once the service has released the home's pid lock (it holds it for its whole life), so what
    the caller does next (list orphans, start a new service) sees it gone rather than shutting down."""
    deadline = time.monotonic() + timeout
    with open(home / "control.pid", "a+") as lock:
        lock.seek(0)
        recorded = lock.read().strip()
        # Read while the service still runs: its start time guards the check below against a recycled pid.
        service = Owner.of_pid(int(recorded)) if recorded.isdigit() else None
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StepfnError(f"the stepfn control plane for {home} did not exit within {timeout:g} s; "
                                      f"see {home / LOG_NAME}") from None
                time.sleep(0.05)
                continue
            fcntl.flock(lock, fcntl.LOCK_UN)
            break
    # The lock goes a moment before the process: wait (briefly) until the store's own owner check, the one
    # find_orphans applies to its executions, sees it gone too.
    if service is not None:
        until = min(deadline, time.monotonic() + 5.0)
        while time.monotonic() < until and service.seems_alive():
            time.sleep(0.02)


# Clients live until the process exits (the workflow module keeps one per home); their sockets are closed then,
# before the interpreter collects them unclosed.
_open_clients: weakref.WeakSet[ControlPlaneClient] = weakref.WeakSet()


@atexit.register
def _close_open_clients() -> None:
    for client in list(_open_clients):
        client._close_connections()


class ControlPlaneClient:
    """boto3's ``stepfunctions`` client for the local backend: executions run in the home's control plane.

    ``ControlPlaneClient(home=None, *, region=None)``. Same methods, parameters, responses, paginators and
    error classes as :class:`~stepfn.workflow.local_client.LocalStepFunctionsClient` (which it uses, without
    resuming anything, for the store-only operations), so code moves between them and AWS unchanged.
    """

    runs_locally = True

    def __init__(self, home: Path | str | None = None, *, region: str | None = None) -> None:
        from stepfn.workflow.local_client import LocalStepFunctionsClient

        self._store_client = LocalStepFunctionsClient(home, region=region, resume=False)
        self.home: Path = self._store_client.home
        self.meta = self._store_client.meta
        # One kept-alive connection per thread that calls the service. Held here rather than in a threading.local
        # so that close() reaches every thread's, and a finished thread's is closed, not left to the collector
        # (an unclosed socket: a ResourceWarning at exit).
        self._connections: dict[threading.Thread, _UnixConnection] = {}
        self._connections_lock = threading.Lock()
        _open_clients.add(self)
        self._worker: FunctionWorker | None = None
        self._worker_lock = threading.Lock()
        self._shared_paths: list[str] = []

    @property
    def exceptions(self) -> Any:
        return self._store_client.exceptions

    @property
    def socket_path(self) -> Path:
        return socket_path(self.home)

    def __getattr__(self, name: str) -> Any:
        from stepfn.workflow import _local_api as api

        if name in ACTING_OPERATIONS:
            return lambda **params: self._call(name, params)
        if api.is_operation(name):
            return getattr(self._store_client, name)
        # Not the in-process client's own helpers (resume_orphans, engine, store): they would run
        # executions in this process, beside the control plane.
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def get_paginator(self, operation_name: str) -> Any:
        from stepfn.workflow import _local_api as api

        return api.build_paginator(self, operation_name)

    def can_paginate(self, operation_name: str) -> bool:
        return bool(self._store_client.can_paginate(operation_name))

    def close(self) -> None:
        self._close_connections()
        self._store_client.close()

    def _close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections.values())
            self._connections.clear()
        for connection in connections:
            connection.close()

    # -- calls to the service -------------------------------------------------------------------------------

    def _call(self, python_name: str, params: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import ClientError
        from botocore.parsers import create_parser
        from botocore.serialize import create_serializer

        from stepfn.workflow import _local_api as api

        api.check_parameters(python_name, params)
        if python_name in ("start_execution", "start_sync_execution", "redrive_execution"):
            self._prepare_service()
        model = api.operation_model(python_name)
        serialized = create_serializer("json", include_validation=False).serialize_to_request(params, model)
        headers = {key: str(value) for key, value in serialized["headers"].items()}
        status, response_headers, body = self._send(serialized["body"], headers)
        parsed: dict[str, Any] = create_parser("json").parse(
            {"status_code": status, "headers": response_headers, "body": body}, model.output_shape)
        if status >= 300:
            error_class = getattr(api.exceptions(), parsed["Error"]["Code"], None)
            raise (error_class or ClientError)(parsed, model.name)
        return parsed

    def _kept_connection(self) -> _UnixConnection | None:
        with self._connections_lock:
            return self._connections.get(threading.current_thread())

    def _connection(self) -> _UnixConnection:
        connection = self._kept_connection()
        if connection is None:
            connection = _UnixConnection(ensure_service(self.home), timeout=None)
            with self._connections_lock:
                finished = [thread for thread in self._connections if not thread.is_alive()]
                for thread in finished:
                    self._connections.pop(thread).close()
                self._connections[threading.current_thread()] = connection
        return connection

    def _drop_connection(self) -> None:
        with self._connections_lock:
            connection = self._connections.pop(threading.current_thread(), None)
        if connection is not None:
            connection.close()

    def _send(self, body: bytes, headers: dict[str, str], url: str = "/") -> tuple[int, dict[str, str], bytes]:
        """POST on this thread's kept-alive connection; a connection the service closed (it restarted, or
        went idle and exited) is opened again, starting the service when it is gone. So is a new one whose
        service went away before answering: an idle service may exit between the ping that found it running
        and this request (which it never took up: a request in flight keeps it from being idle)."""
        for attempt in range(2):
            reused = self._kept_connection() is not None
            try:
                connection = self._connection()
                connection.request("POST", url, body=body, headers=headers)
                response = connection.getresponse()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            except (OSError, http.client.HTTPException) as error:
                self._drop_connection()
                if attempt > 0 or not (reused or isinstance(error, _SERVICE_GONE)):
                    raise
        raise AssertionError("unreachable")

    def rerun_execution(self, **params: Any) -> dict[str, Any]:
        """See :meth:`LocalStepFunctionsClient.rerun_execution`; the new execution runs in the control plane."""
        from datetime import datetime

        from botocore.exceptions import ClientError

        from stepfn.workflow import _local_api as api

        self._prepare_service()
        status, _, body = request_service(self.home, "POST", "/_stepfn/rerun", json.dumps(params).encode(),
                                          {"Content-Type": "application/json"})
        answer: dict[str, Any] = json.loads(body)
        if status >= 300:
            raise api.client_error(answer.get("__type", "InternalFailure"), answer.get("message", ""),
                                   "start_execution") if "__type" in answer else ClientError(
                {"Error": {"Code": "InternalFailure", "Message": body.decode(errors="replace")}}, "RerunExecution")
        answer["startDate"] = datetime.fromisoformat(answer["startDate"])
        return answer

    def wait_for_execution(self, execution_arn: str, timeout: float | None = None) -> bool:
        """Block until the execution has ended (True) or ``timeout`` seconds passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._store_client.store.get_execution(execution_arn).status != "RUNNING":
                return True
            remaining = WAIT_CHUNK_SECONDS if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return False
            chunk = min(remaining, WAIT_CHUNK_SECONDS)
            # Waiting is not a reason to start the service: with none running, nobody runs the execution
            # now (it resumes when a service starts), so poll the store.
            if self._kept_connection() is None and not service_running(self.home):
                time.sleep(min(chunk, 0.1))
                continue
            try:
                self._send(json.dumps({"executionArn": execution_arn, "timeout": chunk}).encode(),
                           {"Content-Type": "application/json"}, url="/_stepfn/wait")
            except (OSError, http.client.HTTPException, StepfnError):
                time.sleep(0.1)

    # -- functions registered in this process ---------------------------------------------------------------

    def _prepare_service(self) -> None:
        """Before starting a run: the service may import ``module:function`` Lambdas from the folders this
        process allowed, and this process serves the functions it registered."""
        from stepfn.local.lambdas import allowed_lambda_paths, registered_functions

        paths = sorted(str(path) for path in allowed_lambda_paths())
        if paths and paths != self._shared_paths:
            request_service(self.home, "POST", "/_stepfn/lambda-paths", json.dumps({"paths": paths}).encode(),
                            {"Content-Type": "application/json"})
            self._shared_paths = paths
        names = sorted(registered_functions())
        if not names:
            return
        with self._worker_lock:
            # Announced before the run starts, so its first call finds this process (the worker's first
            # poll may come later).
            request_service(self.home, "POST", "/_stepfn/functions/register",
                            json.dumps({"worker": FunctionWorker.worker_id(), "names": names}).encode(),
                            {"Content-Type": "application/json"})
            if self._worker is None or not self._worker.is_alive():
                self._worker = FunctionWorker(self.home)
                self._worker.start()


class FunctionWorker(threading.Thread):
    """Runs this process's registered functions for the service, while this process lives.

    Long-polls ``/_stepfn/functions/poll`` with the names registered now; runs each call as the local Lambda
    runtime does (``fn(event, context)``) and posts the result or the error document back.
    """

    def __init__(self, home: Path) -> None:
        super().__init__(name="stepfn-function-worker", daemon=True)
        self.home = home

    @staticmethod
    def worker_id() -> str:
        """This process (host:pid:start), so that the service can tell when it has exited."""
        from stepfn.store._owner import current_owner

        return current_owner().token

    def run(self) -> None:
        from stepfn.local.lambdas import registered_functions

        while True:
            names = sorted(registered_functions())
            try:
                status, _, body = request(
                    ensure_service(self.home), "POST", "/_stepfn/functions/poll",
                    json.dumps({"worker": self.worker_id(), "names": names, "wait": 10.0}).encode(),
                    {"Content-Type": "application/json"}, timeout=60.0)
            except (OSError, StepfnError):
                time.sleep(1.0)
                continue
            call = json.loads(body).get("call") if status == 200 else None
            if call is None:
                continue
            outcome = self._run(call)
            with contextlib.suppress(OSError):
                request(socket_path(self.home), "POST", "/_stepfn/functions/result",
                        json.dumps({"id": call["id"], **outcome}).encode(), {"Content-Type": "application/json"})

    @staticmethod
    def _run(call: dict[str, Any]) -> dict[str, Any]:
        from stepfn.local.lambdas import LambdaContext, resolve_function

        try:
            _, fn = resolve_function(call["name"])
        except StepfnError as error:
            return {"error": {"errorType": "Lambda.ResourceNotFoundException", "errorMessage": str(error),
                              "stackTrace": []}}
        remaining = call.get("remainingMillis")
        context = LambdaContext(
            function_name=call["name"], invoked_function_arn=call.get("functionArn", ""),
            aws_request_id=call.get("requestId", ""),
            deadline=time.monotonic() + remaining / 1000 if remaining is not None else None,
        )
        try:
            takes_context = len(inspect.signature(fn).parameters) >= 2
        except (TypeError, ValueError):
            takes_context = True
        try:
            result = fn(call["event"], context) if takes_context else fn(call["event"])
            return {"result": json.loads(json.dumps(result))}
        except Exception as error:  # every exception a function raises is a Lambda function error
            frames = traceback.extract_tb(error.__traceback__)[1:]
            return {"error": {"errorType": type(error).__name__, "errorMessage": str(error),
                              "stackTrace": traceback.format_list(frames)}}


__all__ = [
    "ACTING_OPERATIONS",
    "IN_PROCESS_ENV",
    "ControlPlaneClient",
    "FunctionWorker",
    "ensure_service",
    "in_process_requested",
    "request_service",
    "service_running",
    "socket_path",
    "stop_service",
]
