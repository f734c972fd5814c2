"""``stepfn serve``: the Step Functions, SageMaker, S3, Lambda and IAM APIs over the local backends, on one HTTP
port.

Routes (one Starlette app):

* ``POST /`` with ``X-Amz-Target: AWSStepFunctions.<Operation>`` (AWS JSON 1.0): every operation
  ``LocalStepFunctionsClient`` implements (state machines, versions, aliases, executions, histories,
  task tokens, TestState, tags);
* ``POST /`` with ``X-Amz-Target: SageMaker.<Operation>`` (AWS JSON 1.1): training, transform,
  processing and tuning jobs, models, endpoint configs and endpoints (``LocalSageMakerClient``);
* ``POST /endpoints/<name>/invocations``: sagemaker-runtime ``InvokeEndpoint`` (REST);
* requests signed for S3 (any path): the S3 REST API over the local object store (:mod:`stepfn.server._s3`);
* requests signed for Lambda: CreateFunction, GetFunction, ListFunctions, DeleteFunction and Invoke
  (:mod:`stepfn.server._lambda`);
* ``POST /`` with ``Action=GetCallerIdentity`` (the AWS query protocol): STS ``GetCallerIdentity``, the local
  account, so scripts that build ARNs from ``sts.get_caller_identity()["Account"]`` find local resources;
* requests signed for IAM, or ``POST /`` with an IAM ``Action=`` (the query protocol): roles, their inline and
  attached policies, customer managed policies (:mod:`stepfn.server._iam`), kept as records, never enforced;
* ``GET /ping``: 200 when the server is up;
* ``/ui``: the web console, when ``ui=True`` (and ``GET /`` redirects there).

So ``boto3.client("stepfunctions", endpoint_url="http://127.0.0.1:8083")`` (and ``sagemaker``,
``sagemaker-runtime``, or ``aws --endpoint-url``) work against it unchanged, except that botocore sends
StartSyncExecution to ``sync-<host>`` unless the client has ``Config(inject_host_prefix=False)``
(:func:`~stepfn.server.create_server_client` builds such clients).

Every route sits behind :class:`stepfn.server.auth.RequestGuard`: requests naming another host than this
machine, cross-origin browser requests, and (by default) requests without the home's token get 403. The
token is the SigV4 access key id (``aws_access_key_id=<token>`` in boto3, ``AWS_ACCESS_KEY_ID`` for the
AWS CLI), or ``X-Stepfn-Token`` (:func:`attach_token`), or ``?token=`` once in the console URL.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from stepfn._partitions import LOCAL_ACCOUNT
from stepfn.errors import StepfnError
from stepfn.server._iam import IamApi, create_iam_app
from stepfn.server._lambda import create_lambda_app
from stepfn.server._protocol import (
    ApiError,
    error_response,
    json_response,
    logger,
    parse_body,
    python_name,
    translate_errors,
    validate_request,
    xml_text,
)
from stepfn.server._s3 import create_s3_app
from stepfn.server.auth import TOKEN_FILE, RequestGuard, allowed_host_names, ensure_token

JSON_1_0 = "application/x-amz-json-1.0"
FORM = "application/x-www-form-urlencoded"  # the AWS query protocol (STS)
STS_XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"
JSON_1_1 = "application/x-amz-json-1.1"
REST_JSON = "application/json"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8083


class _Service:
    """One AWS JSON service: its botocore name, wire content type and the object that answers it."""

    def __init__(self, botocore_name: str, content_type: str, backend: Any = None,
                 factory: Callable[[], Any] | None = None) -> None:
        self.botocore_name = botocore_name
        self.content_type = content_type
        self._backend = backend
        self._factory = factory
        self._lock = threading.Lock()

    @property
    def backend(self) -> Any:
        """The backend, built on first use (opening the store only when the API is actually called)."""
        with self._lock:
            if self._backend is None and self._factory is not None:
                self._backend = self._factory()
            return self._backend

    def call(self, operation: str, params: dict[str, Any]) -> Any:
        validate_request(self.botocore_name, operation, params)
        method = getattr(self.backend, python_name(operation), None)
        if method is None or operation.startswith("_"):
            raise ApiError("UnknownOperationException", f"stepfn serve does not implement {operation}")
        return translate_errors(lambda: method(**params))


async def _query_api(body: bytes, iam: IamApi) -> Response:
    """A query-protocol request that names no signing service: IAM's actions to IAM; else the one STS operation
    local code needs: who am I (the local account; there are no IAM users locally)."""
    # parse_qs, not request.form(): Starlette's form parser needs python-multipart even for urlencoded bodies.
    form = parse_qs(body.decode("utf-8", "replace"))
    action = (form.get("Action") or [""])[0]
    if action in iam.operations():
        return await iam.answer(body)
    if action != "GetCallerIdentity":
        answer = (f"<ErrorResponse xmlns=\"{STS_XMLNS}\"><Error><Type>Sender</Type><Code>InvalidAction</Code>"
                  f"<Message>stepfn serve does not implement {xml_text(action)}</Message></Error></ErrorResponse>")
        return Response(answer, status_code=400, media_type="text/xml")
    answer = (f"<GetCallerIdentityResponse xmlns=\"{STS_XMLNS}\"><GetCallerIdentityResult>"
              f"<Arn>arn:aws:iam::{LOCAL_ACCOUNT}:root</Arn><UserId>{LOCAL_ACCOUNT}</UserId>"
              f"<Account>{LOCAL_ACCOUNT}</Account></GetCallerIdentityResult>"
              f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></GetCallerIdentityResponse>")
    return Response(answer, media_type="text/xml")


def server_token(home: Path, token: str | None = None, *, no_token: bool = False) -> str | None:
    """The token a server for ``home`` requires: ``token``, else ``$STEPFN_TOKEN``, else the home's own
    (made on first use); None with ``no_token``."""
    if no_token:
        return None
    return token or os.environ.get("STEPFN_TOKEN") or ensure_token(home)


def create_app(
    home: Path | str | None = None,
    token: str | None = None,
    *,
    no_token: bool = False,
    allow_hosts: Iterable[str] = (),
    bind_host: str | None = None,
    stepfunctions_client: Any = None,
    sagemaker_client: Any = None,
    ui: bool = False,
) -> ASGIApp:
    """The ASGI app of ``stepfn serve`` for ``$STEPFN_HOME`` = ``home`` (default: the environment's).

    ``stepfunctions_client`` / ``sagemaker_client`` replace the local backends (anything with boto3's
    method names and error classes). Every request must carry the token (:func:`server_token`: ``token``,
    ``$STEPFN_TOKEN`` or the home's) unless ``no_token``, and name a loopback host, ``bind_host`` or one
    of ``allow_hosts`` (:class:`~stepfn.server.auth.RequestGuard`).
    """
    from stepfn._home import stepfn_home

    root = Path(home) if home is not None else stepfn_home()

    def local_stepfunctions() -> Any:
        # The process-wide client of this home: a notebook's Workflow objects and a server started beside
        # them (start_background) share one engine, so task tokens and stops reach the same executions.
        from stepfn.workflow.workflow import local_client

        return local_client(root)

    if sagemaker_client is None:
        from stepfn.server._sagemaker import LocalSageMakerClient

        sagemaker_client = LocalSageMakerClient(root)
    stepfunctions = _Service("stepfunctions", JSON_1_0, stepfunctions_client, local_stepfunctions)
    services = {"AWSStepFunctions": stepfunctions, "SageMaker": _Service("sagemaker", JSON_1_1, sagemaker_client)}
    iam = create_iam_app(root)

    async def api(request: Request) -> Response:
        if request.headers.get("content-type", "").startswith(FORM):
            return await _query_api(await request.body(), iam)
        target = request.headers.get("x-amz-target", "")
        prefix, _, operation = target.partition(".")
        service = services.get(prefix)
        content_type = service.content_type if service else JSON_1_0
        try:
            if service is None or not operation:
                raise ApiError("UnknownOperationException", f"unknown X-Amz-Target {target!r}")
            params = parse_body(await request.body())
            result = await run_in_threadpool(service.call, operation, params)
        except ApiError as error:
            return error_response(error, content_type)
        except Exception as exc:
            logger.exception("stepfn serve: %s failed", target)
            return error_response(ApiError("InternalFailure", f"{type(exc).__name__}: {exc}", 500), content_type)
        return json_response(result, content_type)

    async def invocations(request: Request) -> Response:
        body = await request.body()
        params: dict[str, Any] = {"EndpointName": request.path_params["name"], "Body": body}
        for header, member in (
            ("content-type", "ContentType"),
            ("accept", "Accept"),
            ("x-amzn-sagemaker-custom-attributes", "CustomAttributes"),
            ("x-amzn-sagemaker-target-variant", "TargetVariant"),
            ("x-amzn-sagemaker-inference-id", "InferenceId"),
        ):
            if request.headers.get(header):
                params[member] = request.headers[header]
        try:
            result = await run_in_threadpool(lambda: translate_errors(lambda: sagemaker_client.invoke_endpoint(**params)))
        except ApiError as error:
            return error_response(error, REST_JSON)
        headers = {"x-Amzn-Invoked-Production-Variant": str(result.get("InvokedProductionVariant") or "")}
        if result.get("CustomAttributes"):
            headers["X-Amzn-SageMaker-Custom-Attributes"] = str(result["CustomAttributes"])
        payload = result["Body"].read() if hasattr(result["Body"], "read") else bytes(result["Body"])
        return Response(payload, media_type=str(result.get("ContentType") or REST_JSON), headers=headers)

    async def ping(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes: list[Any] = [
        Route("/", api, methods=["POST"]),
        Route("/endpoints/{name}/invocations", invocations, methods=["POST"]),
        Route("/ping", ping, methods=["GET"]),
    ]
    if ui:
        from stepfn.server.ui import create_ui_app

        async def console_home(request: Request) -> Response:
            # A person opens the address `stepfn ui` listens on; the API only takes POST there.
            return RedirectResponse("/ui/", status_code=302)

        routes.append(Route("/", console_home, methods=["GET"]))
        routes.append(Mount("/ui", app=create_ui_app(stepfunctions.backend, root, sagemaker_client)))
    return RequestGuard(_by_signing_service(Starlette(routes=routes), create_s3_app(root), create_lambda_app(root), iam),
                        token=server_token(root, token, no_token=no_token),
                        allowed_hosts=allowed_host_names(bind_host, allow_hosts))


_SIGNING_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([a-z0-9-]+)/aws4_request")
_SERVED_SIGNING_NAMES = frozenset({"states", "sagemaker", "sts"})  # SageMaker's runtime signs as "sagemaker" too
_NOT_SERVED_HINT = ("locally a task of another service runs a handler you give the engine: "
                    "LocalStepFunctionsClient(handlers={'<service>:<action>': fn}) (docs/concepts/engine.md)")


def signing_service(scope: Scope) -> str | None:
    """The service a SigV4-signed request names in its credential scope (``s3``, ``lambda``, ...); None when the
    request is not signed that way (the console, ``X-Stepfn-Token`` clients)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            match = _SIGNING_SCOPE.search(value.decode("latin-1"))
            return match.group(1) if match else None
    return None


def _by_signing_service(app: ASGIApp, s3: ASGIApp, lambda_api: ASGIApp, iam: ASGIApp) -> ASGIApp:
    """``app`` for the services stepfn serves; requests signed for S3 and Lambda go to their REST APIs
    (:mod:`stepfn.server._s3`, :mod:`stepfn.server._lambda`), those signed for IAM to its query API
    (:mod:`stepfn.server._iam`), and those signed for any other service get an error naming it, instead of a bare
    404 or an unknown target."""

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        service = signing_service(scope) if scope["type"] == "http" else None
        if service == "s3":
            await s3(scope, receive, send)
        elif service == "lambda":
            await lambda_api(scope, receive, send)
        elif service == "iam":
            await iam(scope, receive, send)
        elif service is None or service in _SERVED_SIGNING_NAMES:
            await app(scope, receive, send)
        else:
            message = (f"stepfn serve does not serve the '{service}' API (it serves Step Functions, SageMaker, "
                       f"S3, Lambda, IAM and STS); {_NOT_SERVED_HINT}")
            error = JSONResponse({"__type": "UnknownOperationException", "message": message}, status_code=400,
                                 headers={"x-amzn-ErrorType": "UnknownOperationException"})
            await error(scope, receive, send)

    return dispatch


def startup_lines(url: str, token: str | None, *, ui: bool, home: Path) -> list[str]:
    """What ``stepfn serve`` / ``stepfn ui`` print: a ready console URL and the settings the AWS CLI and boto3
    read from the environment (one setting a line, so they stay readable in 80 columns)."""
    lines = [f"stepfn {'console and ' if ui else ''}API on {url} (home: {home.resolve()})"]
    if ui:
        lines.append(f"console: {url}/ui/" + (f"?token={token}" if token else ""))
    lines += [
        "for the AWS CLI and boto3 (the secret key and region are not checked):",
        f"  export AWS_ENDPOINT_URL={url}",
        # A notebook or script started elsewhere then runs its local workflows in this server's home: the objects
        # its own boto3 S3 calls put here are the ones its jobs read, and the console shows its executions.
        f"  export STEPFN_HOME={shlex.quote(str(home.resolve()))}",
        f"  export AWS_ACCESS_KEY_ID={token or 'stepfn'}",
        "  export AWS_SECRET_ACCESS_KEY=stepfn AWS_DEFAULT_REGION=us-east-1",
        # Else botocore sends StartSyncExecution and TestState to sync-<host> / test-<host>, which a local
        # server is not: this setting (or disable_host_prefix_injection in ~/.aws/config) turns that off.
        "  export AWS_DISABLE_HOST_PREFIX_INJECTION=true",
    ]
    if token:
        lines.append(f"token: {home.resolve() / TOKEN_FILE} (stepfn's own clients read it there)")
    else:
        lines.append("WARNING: --no-token: any program on this machine can run code as you here.")
    return lines


def run(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    home: Path | str | None = None,
    token: str | None = None,
    no_token: bool = False,
    allow_hosts: Sequence[str] = (),
    ui: bool = False,
    log_level: str = "info",
) -> None:
    """Serve until interrupted (what ``stepfn serve`` calls), after printing :func:`startup_lines`.

    Binds 127.0.0.1 unless told otherwise and requires the home's token unless ``no_token``: the API runs
    code and reads files as this user, so listening on another interface without a token is refused.
    """
    import uvicorn

    from stepfn._home import stepfn_home

    root = Path(home) if home is not None else stepfn_home()
    if no_token and host not in ("127.0.0.1", "localhost", "::1"):
        raise StepfnError(f"refusing to listen on {host} without a token: drop --no-token")
    required = server_token(root, token, no_token=no_token)
    # Bind first, so the printed URL has the real port (port 0) and nothing is printed when the port is taken.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise StepfnError(f"cannot listen on {host}:{port}: {error.strerror}") from error
    # Listening before printing: a script that reads the printed URL and calls at once waits in the backlog
    # until uvicorn accepts, instead of meeting "connection refused" on a bound socket nobody listens on yet.
    listener.listen(2048)
    bound_port = listener.getsockname()[1]
    for line in startup_lines(f"http://{_url_host(host)}:{bound_port}", required, ui=ui, home=root):
        print(line, flush=True)
    app = create_app(root, required, no_token=no_token, allow_hosts=allow_hosts, bind_host=host, ui=ui)
    config = uvicorn.Config(app, log_level=log_level)
    uvicorn.Server(config).run(sockets=[listener])


def _url_host(host: str) -> str:
    """``host`` as a URL names it; every interface (0.0.0.0, ::) includes loopback, which the Host check always
    answers, so the printed URL uses that."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host
    if address.is_unspecified:
        return "127.0.0.1" if address.version == 4 else "[::1]"
    return f"[{address}]" if address.version == 6 else str(address)


class BackgroundServer:
    """``stepfn serve`` on a daemon thread of this process (a notebook, a test, an example script).

    ``port=0`` picks a free port; :attr:`url` is where it listens once the constructor returns.
    Use as a context manager, or call :meth:`stop`.
    """

    def __init__(self, app: ASGIApp, host: str = DEFAULT_HOST, port: int = 0, *, startup_timeout: float = 30.0) -> None:
        import time

        import uvicorn

        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, name="stepfn-serve", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server.should_exit = True
                raise StepfnError(f"stepfn serve did not start on {host}:{port}")
            time.sleep(0.01)
        bound_port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{host}:{bound_port}"

    def stop(self, timeout: float = 30.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_background(
    home: Path | str | None = None,
    token: str | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = 0,
    **options: Any,
) -> BackgroundServer:
    """Start :func:`create_app` ``(home, token, **options)`` on a background thread; returns the running server.

    Like ``stepfn serve`` it requires the home's token unless ``no_token=True``; clients made with
    :func:`~stepfn.server.create_server_client` for the same home read it from there.
    """
    return BackgroundServer(create_app(home, token, bind_host=host, **options), host, port)
