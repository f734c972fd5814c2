"""The local control plane: the one process per stepfn home that runs its executions.

    python -m stepfn.server.control --home HOME [--idle-seconds 600]

Clients start it on demand (:func:`stepfn.workflow._control.ensure_service`); it serves the ``stepfn serve``
app (:func:`stepfn.server.create_app`) on a unix socket, mode 0600, so it is reachable only by this user on
this machine and needs no token. Its executions run on its own :class:`LocalStepFunctionsClient`, which
resumes, when the service starts and then every ``RESUME_SECONDS``, the executions whose process died (a
previous service, or an in-process client), through the store's owner compare-and-set. It also starts the
monitoring executions that Model Monitor schedules make due (when it starts, then every ``MONITOR_SECONDS``:
:meth:`stepfn.local.sagemaker.schedules.MonitoringSchedules.run_due`).

It exits after ``--idle-seconds`` with nothing running, no request in flight, no function worker attached and
no monitoring schedule Scheduled, or on ``POST /_stepfn/shutdown`` (``stepfn down``). Beside the Step Functions and SageMaker APIs
it answers, under ``/_stepfn/``:

* ``POST wait`` ``{"executionArn", "timeout"}``: returns once the execution ended or the timeout passed;
* ``POST functions/register`` / ``functions/poll`` / ``functions/result``: a client process serving the
  functions it registered (``register_function``) announces them, takes calls and answers them
  (activity-worker style);
* ``POST lambda-paths`` ``{"paths"}``: folders ``module:function`` Lambdas may come from (the clients'
  :func:`~stepfn.local.lambdas.allow_lambda_path` folders), kept in the home for the next service;
* ``POST rerun``: :meth:`LocalStepFunctionsClient.rerun_execution`;
* ``GET status``, ``POST shutdown`` ``{"force"}``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import fcntl
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from stepfn.workflow._control import socket_path

if TYPE_CHECKING:
    from stepfn.local.sagemaker.schedules import MonitoringSchedules

logger = logging.getLogger("stepfn.control")

DEFAULT_IDLE_SECONDS = 600.0
IDLE_ENV = "STEPFN_CONTROL_IDLE_SECONDS"
RESUME_SECONDS = 30.0
MONITOR_SECONDS = 20.0
"""How often due monitoring schedules are looked for (SageMaker itself starts an execution up to 20 minutes
after its time)."""
LAMBDA_PATHS_FILE = "control-lambda-paths.json"
_error_classes: dict[str, type[Exception]] = {}


def _remote_error(error_type: str, message: str) -> Exception:
    """An exception whose class name is the worker's ``errorType``: the Lambda handler names the task's
    error after the exception's class, so a remote ``ValueError`` fails the task as ``ValueError``."""
    cls = _error_classes.get(error_type)
    if cls is None:
        cls = _error_classes[error_type] = type(error_type, (Exception,), {})
    return cls(message)


def _alive(worker: str) -> bool:
    """Whether the process ``host:pid:start`` still runs (one on another host counts as alive)."""
    from stepfn.store._owner import Owner

    host, _, rest = worker.partition(":")
    pid, _, started = rest.partition(":")
    return Owner(host, int(pid), started).seems_alive() is not False


class FunctionBroker:
    """Calls to functions that live in client processes, handed to those processes' workers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: collections.deque[dict[str, Any]] = collections.deque()
        self._results: dict[str, dict[str, Any]] = {}
        self._workers: dict[str, set[str]] = {}  # function name -> worker ids (host:pid:start)

    def register(self, worker: str, names: list[str]) -> None:
        """``worker`` serves ``names`` from now on (until its process exits)."""
        from stepfn.local.lambdas import register_function

        with self._cond:
            for name in names:
                if name not in self._workers:
                    register_function(name, self._proxy(name))
                self._workers.setdefault(name, set()).add(worker)

    def poll(self, worker: str, names: list[str], wait: float) -> dict[str, Any] | None:
        self.register(worker, names)
        with self._cond:
            deadline = time.monotonic() + wait
            while True:
                call = next((c for c in self._pending if c["name"] in names), None)
                # A poll outlives its client when that process exits mid-poll: a dead worker takes nothing.
                if call is not None and not _alive(worker):
                    return None
                if call is not None:
                    self._pending.remove(call)
                    call["worker"] = worker
                    return {key: value for key, value in call.items() if key != "worker"}
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def result(self, call_id: str, outcome: dict[str, Any]) -> None:
        with self._cond:
            self._results[call_id] = outcome
            self._cond.notify_all()

    def live_workers(self, name: str | None = None) -> set[str]:
        with self._cond:
            candidates = set().union(*self._workers.values()) if name is None else set(self._workers.get(name, ()))
        return {worker for worker in candidates if _alive(worker)}

    def _proxy(self, name: str) -> Any:
        def call_remote(event: Any, context: Any) -> Any:
            return self.call(name, event, context)

        return call_remote

    def call(self, name: str, event: Any, context: Any) -> Any:
        """Run ``name`` in a client process that registered it; raises when no live process serves it."""
        call_id = str(uuid.uuid4())
        remaining = context.get_remaining_time_in_millis() if context.deadline is not None else None
        call = {"id": call_id, "name": name, "event": event, "requestId": context.aws_request_id,
                "functionArn": context.invoked_function_arn, "remainingMillis": remaining}
        with self._cond:
            self._pending.append(call)
            self._cond.notify_all()
        try:
            while True:
                with self._cond:
                    if self._cond.wait_for(lambda: call_id in self._results, timeout=0.5):
                        outcome = self._results.pop(call_id)
                        break
                if context.control is not None and context.control.cancelled():
                    raise _remote_error("States.Runtime", f"the call to {name} was cancelled")
                holder = call.get("worker")
                if holder is not None and not _alive(holder):
                    with self._cond:  # its process died while running it: another live worker gets it
                        call.pop("worker", None)
                        self._pending.append(call)
                        self._cond.notify_all()
                if not self.live_workers(name):
                    raise _remote_error(
                        "Lambda.ResourceNotFoundException",
                        f"Function {name} was registered with register_function in a process that has exited, "
                        "so nothing serves it now. Keep that process running while the execution needs the "
                        "function, or name it as 'module:function' so the control plane imports it.")
        finally:
            with self._cond, contextlib.suppress(ValueError):
                self._pending.remove(call)
        if "error" in outcome:
            error = outcome["error"]
            raise _remote_error(str(error.get("errorType") or "Exception"), str(error.get("errorMessage") or ""))
        return outcome.get("result")


class _Activity:
    """Requests in flight and when the last one ended: what idleness is measured by."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.last = time.monotonic()

    def idle_for(self) -> float:
        with self.lock:
            return 0.0 if self.in_flight else time.monotonic() - self.last


class _ControlApp:
    """The ``stepfn serve`` app plus the ``/_stepfn/`` routes, counting requests for the idle timer."""

    def __init__(self, api: ASGIApp, client: Any, broker: FunctionBroker, activity: _Activity) -> None:
        self.api, self.client, self.broker, self.activity = api, client, broker, activity
        self.should_exit = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/ping":  # "is it up?" is not use
            await self.api(scope, receive, send)
            return
        with self.activity.lock:
            self.activity.in_flight += 1
        try:
            if scope["path"].startswith("/_stepfn/"):
                response = await self._control(Request(scope, receive))
                await response(scope, receive, send)
            else:
                await self.api(scope, receive, send)
        finally:
            with self.activity.lock:
                self.activity.in_flight -= 1
                self.activity.last = time.monotonic()

    async def _control(self, request: Request) -> JSONResponse:
        route = request.url.path.removeprefix("/_stepfn/")
        body: dict[str, Any] = json.loads(await request.body() or b"{}") if request.method == "POST" else {}
        if route == "status":
            return JSONResponse({"pid": os.getpid(), "home": str(self.client.home),
                                 "running": sorted(self.client.running_executions())})
        if route == "wait":
            ended = await run_in_threadpool(self.client.wait_for_execution, body["executionArn"],
                                            float(body.get("timeout", 20.0)))
            return JSONResponse({"ended": ended})
        if route == "functions/poll":
            call = await run_in_threadpool(self.broker.poll, body["worker"], list(body["names"]),
                                           min(float(body.get("wait", 10.0)), 30.0))
            return JSONResponse({"call": call})
        if route == "functions/register":
            self.broker.register(body["worker"], list(body["names"]))
            return JSONResponse({})
        if route == "functions/result":
            self.broker.result(body["id"], body)
            return JSONResponse({})
        if route == "lambda-paths":
            allow_lambda_paths(self.client.home, [Path(p) for p in body.get("paths", [])])
            return JSONResponse({})
        if route == "rerun":
            return await run_in_threadpool(self._rerun, body)
        if route == "shutdown":
            running = sorted(self.client.running_executions())
            if running and not body.get("force"):
                return JSONResponse({"running": running}, status_code=409)
            self.should_exit.set()
            return JSONResponse({"running": running})
        return JSONResponse({"message": f"no such control route {route!r}"}, status_code=404)


    def _rerun(self, params: dict[str, Any]) -> JSONResponse:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.rerun_execution(**params)
        except ClientError as error:
            return JSONResponse({"__type": error.response["Error"]["Code"],
                                 "message": error.response["Error"]["Message"]}, status_code=400)
        return JSONResponse({"executionArn": answer["executionArn"], "fromState": answer["fromState"],
                             "startDate": answer["startDate"].isoformat()})


def _run_due_schedules(schedules: MonitoringSchedules) -> None:
    """Start the monitoring executions that are due (they run on threads of their own)."""
    try:
        started = schedules.run_due()
    except Exception:  # a broken record must not stop the service's watch loop
        logger.exception("stepfn control plane: starting due monitoring executions failed")
        return
    for name in started:
        logger.warning("stepfn control plane: monitoring execution %s started", name)


def _monitoring_busy(schedules: MonitoringSchedules) -> bool:
    try:
        return schedules.busy()
    except Exception:
        logger.exception("stepfn control plane: reading monitoring schedules failed")
        return False


def allow_lambda_paths(home: Path, paths: list[Path]) -> None:
    """Let ``module:function`` Lambdas come from ``paths`` (what the clients' processes allowed, e.g. the
    folder of ``stepfn run FILE``), here and in every later service of ``home`` (kept in the home)."""
    from stepfn.local.lambdas import allow_lambda_path, allowed_lambda_paths

    record = home / LAMBDA_PATHS_FILE
    for path in paths:
        with contextlib.suppress(ValueError):  # gone, or refused (an installation folder)
            allow_lambda_path(path)
    record.write_text(json.dumps([str(p) for p in allowed_lambda_paths()]))


def _give_functions_their_account(home: Path, region: str) -> None:
    """What Lambda gives a function's own boto3 clients, for the functions this process runs (``module:function``
    ones; a function created through the Lambda API runs in a process of its own, whose bootstrap does the same:
    :mod:`stepfn.local.lambda_runtime`): its region (Lambda sets ``AWS_REGION`` and ``AWS_DEFAULT_REGION``)
    and its account's services, which here are this home's. Without it a function's ``boto3.client("sagemaker")``
    saw whatever environment the client that happened to start this service had: started by ``stepfn serve`` in a
    fresh shell, no region (``NoRegionError`` at the module's import) and no endpoint (its calls went to AWS).

    A region or endpoint the environment already names is kept: a service started where ``stepfn serve``'s printed
    settings were exported reaches that server, as before. Otherwise ``boto3``'s default session (what
    ``boto3.client()`` and ``boto3.resource()`` use) is the in-process local one; a function that builds its own
    ``boto3.Session()`` gets the region only. Only this process is changed: it runs no other code of the user's."""
    os.environ.setdefault("AWS_REGION", region)
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    if os.environ.get("AWS_ENDPOINT_URL"):
        return
    import boto3

    from stepfn.server._inprocess import local_boto_session

    boto3.DEFAULT_SESSION = local_boto_session(region, home)


def _bind(path: Path) -> socket.socket:
    """A listening unix socket only this user can connect to (uvicorn's own ``uds`` makes it 0666)."""
    path.unlink(missing_ok=True)  # a dead service's socket: we hold the home's service lock
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock


def serve(home: Path, idle_seconds: float = DEFAULT_IDLE_SECONDS) -> int:
    """Run the control plane of ``home`` until idle or shut down; 0, or 3 when another one already runs."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "control.pid", "a+") as lock:  # held for the service's life: one service per home
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"a stepfn control plane already runs for {home}", file=sys.stderr)
            return 3
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        _serve_locked(home, idle_seconds)
    return 0


def _serve_locked(home: Path, idle_seconds: float) -> None:
    import uvicorn

    from stepfn.local.sagemaker.schedules import MonitoringSchedules
    from stepfn.server.app import create_app
    from stepfn.workflow.local_client import LocalStepFunctionsClient

    with contextlib.suppress(OSError, ValueError):
        allow_lambda_paths(home, [Path(p) for p in json.loads((home / LAMBDA_PATHS_FILE).read_text())])
    path = socket_path(home)
    sock = _bind(path)
    client = LocalStepFunctionsClient(home, resume=True)
    _give_functions_their_account(home, client.region)
    broker = FunctionBroker()
    activity = _Activity()
    app = _ControlApp(create_app(home, no_token=True, stepfunctions_client=client), client, broker, activity)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", timeout_keep_alive=300))

    schedules = MonitoringSchedules(home)

    def watch() -> None:
        last_resume = time.monotonic()
        last_monitor = -MONITOR_SECONDS  # the first look is at once: a NOW schedule made while no service ran
        monitoring = False
        while not server.should_exit:
            time.sleep(0.5)
            if app.should_exit.is_set():
                server.should_exit = True
                return
            if time.monotonic() - last_resume > RESUME_SECONDS:
                last_resume = time.monotonic()
                client.resume_orphans()
            if time.monotonic() - last_monitor > MONITOR_SECONDS:
                last_monitor = time.monotonic()
                _run_due_schedules(schedules)
                monitoring = _monitoring_busy(schedules)
            busy = client.running_executions() or broker.live_workers()
            # A Scheduled monitoring schedule keeps the service up, as SageMaker's scheduler keeps running it.
            if not busy and not monitoring and activity.idle_for() > idle_seconds:
                logger.warning("stepfn control plane for %s: idle for %.0fs, exiting", home, idle_seconds)
                server.should_exit = True
                return

    threading.Thread(target=watch, name="stepfn-control-idle", daemon=True).start()
    logger.warning("stepfn control plane for %s listening on %s (pid %d)", home, path, os.getpid())
    try:
        server.run(sockets=[sock])
    finally:
        path.unlink(missing_ok=True)
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stepfn.server.control", description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--idle-seconds", type=float,
                        default=float(os.environ.get(IDLE_ENV) or DEFAULT_IDLE_SECONDS))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return serve(args.home, args.idle_seconds)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["DEFAULT_IDLE_SECONDS", "IDLE_ENV", "FunctionBroker", "main", "serve"]
