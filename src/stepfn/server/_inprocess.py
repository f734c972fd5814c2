"""The local backend's boto3 session: AWS clients answered by ``stepfn serve``'s app inside this process.

``stepfn.sagemaker.Session().boto_session`` on the local backend is :func:`local_boto_session`: a real
``boto3.Session`` whose ``sagemaker``, ``sagemaker-runtime``, ``s3``, ``stepfunctions``, ``sts``, ``iam`` and
``lambda`` clients (and boto3 resources built on them) reach the local backends with no server to start and no
port. A botocore
``before-send`` handler takes each request botocore has serialized and signed, hands it to the ASGI app of
``stepfn serve`` (:func:`stepfn.server.create_app`) for the session's home, and returns the app's answer as the
``AWSResponse`` botocore would have read from the network. So botocore's own serializers, parsers, paginators,
waiters and ``ClientError`` codes apply, exactly as for a client of ``stepfn serve`` over HTTP.

Rejected designs: a real ``stepfn serve`` on a loopback port (a thread, a port and the home's token in the
client, for calls that never need to leave the process); clients that call the local backends' Python methods
directly (they would skip botocore's parsing, so errors, paginators and waiters would differ from AWS's);
patching botocore's HTTP layer process-wide, as moto does (it would capture the user's real AWS clients too).

Auth: the in-process app keeps every check of :class:`~stepfn.server.auth.RequestGuard`. It requires a token
made here for this process (never written anywhere, so no other program has it), which the handler attaches
as ``X-Stepfn-Token``; requests name ``localhost``, as every call from this process is from this machine. A
``stepfn serve`` listening on a port is a separate app with the home's token and is unaffected. The session's
credentials are fixed placeholders (:data:`LOCAL_ACCESS_KEY_ID`): no AWS credentials, configuration or region
are read from the machine, and a request for a service the app does not speak fails here instead of going to
AWS with them.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import os
import secrets
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from starlette.types import ASGIApp, Message

from stepfn.errors import StepfnError
from stepfn.server.auth import TOKEN_HEADER

__all__ = ["LOCAL_ACCESS_KEY_ID", "LOCAL_SECRET_ACCESS_KEY", "SERVED_SERVICES", "control_plane_boto_session",
           "local_boto_session"]

#: The local session's credentials: placeholders botocore signs with (the app checks its own token instead).
LOCAL_ACCESS_KEY_ID = "stepfn-local"
LOCAL_SECRET_ACCESS_KEY = "stepfn-local"
#: The services the in-process app speaks, by botocore service id (the ``before-send.<id>.<Operation>`` event).
SERVED_SERVICES = {"iam": "iam", "lambda": "lambda", "sagemaker": "sagemaker", "sagemaker-runtime": "sagemaker-runtime", "s3": "s3",
                   "sfn": "stepfunctions", "sts": "sts"}
logger = logging.getLogger("stepfn.server")
# Waiters poll SageMaker every 30-120 s; a local job's status is a file read and jobs take seconds, so local
# waiters poll at most this often, with as many more attempts as keep the waiter's overall time limit.
_LOCAL_WAITER_DELAY_SECONDS = 1


def local_boto_session(region_name: str, home: Path | str | None = None) -> Any:
    """A ``boto3.Session`` in ``region_name`` whose clients are answered by the local backends of ``home``
    (default ``$STEPFN_HOME``) in this process (see the module docstring)."""
    from stepfn._home import stepfn_home

    root = Path(home if home is not None else stepfn_home()).resolve()
    return _session(region_name, _transport(root))


def control_plane_boto_session(region_name: str, home: Path | str) -> Any:
    """A session like :func:`local_boto_session` whose requests go to the control plane of ``home`` over its
    socket (started on demand): what a created Lambda function's own process uses
    (:mod:`stepfn.local.lambda_runtime`), so the jobs and endpoints it starts run in the process that outlives it."""
    return _session(region_name, _control_plane_transport(Path(home).resolve()))


def _session(region_name: str, transport: Any) -> Any:
    """A ``boto3.Session`` whose requests ``transport`` (a ``before-send`` handler) answers."""
    import boto3
    import botocore.session

    core = botocore.session.Session()
    config = core.get_component("config_store")  # its values win over the environment's and the files'
    # The user's ~/.aws files and AWS_PROFILE describe AWS accounts: none of that applies to local backends
    # (a profile that does not exist would even make every client fail).
    config.set_config_variable("config_file", os.devnull)
    config.set_config_variable("credentials_file", os.devnull)
    config.set_config_variable("profile", None)
    # The app speaks S3 by path (/bucket/key); botocore addresses AWS's own S3 endpoint by host otherwise.
    config.set_config_variable("s3", {"addressing_style": "path"})
    _poll_waiters_locally(core.get_component("data_loader"))
    core.register("before-send", transport, unique_id="stepfn-in-process")
    return boto3.Session(aws_access_key_id=LOCAL_ACCESS_KEY_ID, aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
                         region_name=region_name, botocore_session=core)


def _poll_waiters_locally(loader: Any) -> None:
    """Make ``loader`` (a botocore session's) give waiter models that poll every
    :data:`_LOCAL_WAITER_DELAY_SECONDS` (see there); every other model is botocore's own."""
    load_service_model = loader.load_service_model

    def load(service_name: str, type_name: str, api_version: str | None = None) -> Any:
        model = load_service_model(service_name, type_name, api_version)
        if type_name != "waiters-2":
            return model
        waiters = {}
        for name, waiter in model.get("waiters", {}).items():
            delay = waiter.get("delay", _LOCAL_WAITER_DELAY_SECONDS)
            attempts = math.ceil(delay * waiter.get("maxAttempts", 1) / _LOCAL_WAITER_DELAY_SECONDS)
            waiters[name] = {**waiter, "delay": min(delay, _LOCAL_WAITER_DELAY_SECONDS),
                             "maxAttempts": max(attempts, waiter.get("maxAttempts", 1))}
        return {**model, "waiters": waiters}

    loader.load_service_model = load


# -- the app of each home, and the event loop it runs on --------------------------------------------------


class _InProcessApp:
    """``stepfn serve``'s app for one home, with the token only this process knows."""

    def __init__(self, home: Path) -> None:
        from stepfn.server.app import create_app

        self.token = secrets.token_hex(16)
        self.app: ASGIApp = create_app(home, self.token)


_apps: dict[Path, _InProcessApp] = {}
_loop: asyncio.AbstractEventLoop | None = None
_loop_thread: threading.Thread | None = None
_lock = threading.Lock()


def _app_of(home: Path) -> _InProcessApp:
    with _lock:
        if home not in _apps:
            _apps[home] = _InProcessApp(home)
        return _apps[home]


_T = TypeVar("_T")


def _run(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coroutine`` on the event loop thread the in-process apps share, and wait for its result.

    A thread of its own, so a caller that runs an event loop itself (Jupyter) can still call synchronously; a
    daemon, so it never holds the interpreter open."""
    global _loop, _loop_thread
    with _lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            _loop_thread = threading.Thread(target=_loop.run_forever, name="stepfn-in-process-api", daemon=True)
            _loop_thread.start()
        loop = _loop
    if threading.current_thread() is _loop_thread:
        coroutine.close()
        raise StepfnError("a local boto3 client was called from stepfn's in-process API loop itself")
    future: Future[_T] = asyncio.run_coroutine_threadsafe(coroutine, loop)
    return future.result()


def _forget_after_fork() -> None:
    # A forked child has no loop thread, and the apps' locks and job threads belong to the parent.
    global _loop, _loop_thread, _lock
    _apps.clear()
    _loop = _loop_thread = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


# -- one request ------------------------------------------------------------------------------------------


class _Body(io.BytesIO):
    """A response body as botocore reads one from urllib3: ``read(amt)`` (a StreamingBody's) and ``stream()``."""

    def stream(self, amt: int = 1 << 16, decode_content: bool | None = None) -> Iterator[bytes]:
        while chunk := self.read(amt):
            yield chunk


def _transport(home: Path) -> Any:
    """The ``before-send`` handler answering every request of a local session from ``home``'s app."""

    def send(request: Any, event_name: str, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        _served(event_name)
        served = _app_of(home)
        status, headers, body = _run(_call(served.app, _scope(request, served.token), _request_body(request)))
        return AWSResponse(request.url, status, headers, _Body(body))

    return send


def _control_plane_transport(home: Path) -> Any:
    """The ``before-send`` handler sending each request of a session to ``home``'s control plane (its app is
    ``stepfn serve``'s, on a socket only this user can open, so no token)."""

    def send(request: Any, event_name: str, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        from stepfn.workflow._control import request_service

        _served(event_name)
        url = urlsplit(request.url)
        headers = {name: value.decode("latin-1") if isinstance(value, bytes) else str(value)
                   for name, value in request.headers.items()
                   # The body goes whole: http.client sets its length; nobody answers 100-continue in between.
                   if name.lower() not in ("host", "content-length", "transfer-encoding", "expect")}
        status, answer, body = request_service(home, request.method,
                                               (url.path or "/") + (f"?{url.query}" if url.query else ""),
                                               _request_body(request), {**headers, "Host": "localhost"}, timeout=None)
        return AWSResponse(request.url, status, answer, _Body(body))

    return send


def _served(event_name: str) -> None:
    """Refuse, before anything is sent, a request (``before-send.<service>.<Operation>``) for a service the local
    app does not speak: it must not reach AWS with whatever credentials the machine has."""
    service = event_name.split(".")[1]
    if service not in SERVED_SERVICES:
        raise StepfnError(
            f"the local backend's boto3 session answers {', '.join(sorted(SERVED_SERVICES.values()))}; "
            f"{service} is not served locally (for AWS, use Session(boto_session=boto3.Session()))")


def _request_body(request: Any) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    data = body.read()  # a file or botocore's chunked wrapper (upload_file, put_object(Body=open(...)))
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _scope(request: Any, token: str) -> dict[str, Any]:
    url = urlsplit(request.url)
    headers = [(name.lower().encode("latin-1"), value if isinstance(value, bytes) else str(value).encode("latin-1"))
               for name, value in request.headers.items() if name.lower() != "host"]
    headers += [(b"host", b"localhost"), (TOKEN_HEADER.lower().encode(), token.encode())]
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": request.method, "scheme": "http", "path": unquote(url.path or "/"),
            "raw_path": (url.path or "/").encode("latin-1"), "query_string": url.query.encode("latin-1"),
            "root_path": "", "headers": headers, "client": ("127.0.0.1", 0), "server": ("localhost", None)}


async def _call(app: ASGIApp, scope: dict[str, Any], body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request through ``app``: its status, headers and whole body."""
    received = False
    finished = asyncio.Event()
    status: int | None = None
    headers: list[tuple[str, str]] = []
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()  # a streaming response listens for the client going away; it never does
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers.extend((name.decode("latin-1"), value.decode("latin-1")) for name, value in message["headers"])
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                finished.set()

    try:
        await app(scope, receive, send)
    except Exception:
        # Starlette answers 500 before it re-raises: the client reads the 500, and the traceback goes to the log
        # as uvicorn logs it for `stepfn serve` (else a local session's 500 would say nothing of its cause).
        if status is None:
            raise
        logger.exception("stepfn's in-process API failed on %s %s", scope["method"], scope["path"])
    finally:
        finished.set()
    if status is None:
        raise StepfnError(f"stepfn's in-process API did not answer {scope['method']} {scope['path']}")
    return status, headers, b"".join(chunks)
