"""Who may talk to ``stepfn serve`` / ``stepfn ui``: the home's token, and requests from this machine only.

The API runs workflows, and so code, as the user who started the server. Two checks stand in front of every
route, in one ASGI middleware (:class:`RequestGuard`), as Jupyter and webpack's dev server do:

* **Host and Origin.** Only ``localhost``, ``127.0.0.1`` and ``[::1]`` (any port), the address the server
  binds, and names given with ``--allow-host`` are served. A web page that rebinds its own DNS name to
  127.0.0.1 still sends its own name as ``Host`` (403). A browser request whose ``Origin`` is not the server's
  own (a cross-origin ``fetch``, a form POST, the ``OPTIONS`` preflight of either) gets 403, and no response
  ever grants CORS.
* **The token.** By default every request carries the home's token (:func:`ensure_token`: 32 hex digits in
  ``$STEPFN_HOME/server-token``, mode 0600, made on first use). It is accepted as the SigV4 access key id
  (``aws_access_key_id=<token>`` for boto3, ``AWS_ACCESS_KEY_ID`` for the AWS CLI), as ``X-Stepfn-Token``,
  as ``Authorization: token <token>`` / ``Bearer <token>``, or once as ``?token=`` (the console URL), which
  sets a cookie for that port so the browser keeps working. stepfn's own clients read it from the home
  (:func:`read_token`), so nobody types it.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stepfn._home import stepfn_home

TOKEN_FILE = "server-token"
"""The token's file name inside ``$STEPFN_HOME``."""
TOKEN_HEADER = "X-Stepfn-Token"
"""The header carrying the server's token (see :func:`stepfn.server.attach_token`)."""
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
"""Host names always served: they name this machine whatever DNS says."""

_SIGV4_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def read_token(home: Path | str | None = None) -> str | None:
    """The token kept in ``home`` (default ``$STEPFN_HOME``), or None when no server has made one yet."""
    path = Path(home if home is not None else stepfn_home()) / TOKEN_FILE
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return None
    return token or None


def ensure_token(home: Path | str | None = None) -> str:
    """The token kept in ``home`` (default ``$STEPFN_HOME``), made now (mode 0600) when there is none.

    Safe against a second process doing the same at once: the file appears whole or not at all (written
    under a private name, then hard-linked into place, which fails when the other process won).
    """
    root = Path(home if home is not None else stepfn_home())
    root.mkdir(parents=True, exist_ok=True)
    path = root / TOKEN_FILE
    existing = read_token(root)
    if existing is not None:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # a copied or hand-made file must not stay readable by others
        return existing
    token = secrets.token_hex(16)  # 128 bits; 32 digits keep the console URL within 80 columns
    partial = root / f".{TOKEN_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(token + "\n")
        os.link(partial, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        partial.unlink(missing_ok=True)
    winner = read_token(root)
    if winner is None:
        raise OSError(f"could not read the server token back from {path}")
    return winner


def token_cookie(port: int | None) -> str:
    """The cookie holding the token. Cookies are shared by every port of a host, so two servers on
    127.0.0.1 (two homes, two tokens) each get their own name."""
    return f"stepfn-token-{port}" if port else "stepfn-token"


def request_token(headers: Headers, cookies: dict[str, str], query: dict[str, list[str]], port: int | None) -> str | None:
    """The token a request carries (see the module docstring for where it may be)."""
    if headers.get(TOKEN_HEADER):
        return headers[TOKEN_HEADER]
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    match = _SIGV4_CREDENTIAL.search(authorization)
    if match:
        return match.group(1)
    if cookies.get(token_cookie(port)):
        return cookies[token_cookie(port)]
    values = query.get("token")
    return values[0] if values else None


def token_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def host_name(host_header: str) -> str | None:
    """The name in a ``Host`` header without its port (``[::1]:8083`` -> ``::1``), lower-cased; None when
    the header is not a plain ``name[:port]``."""
    value = host_header.strip().lower()
    if value.startswith("["):
        name, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not re.fullmatch(r":\d{1,5}", rest)):
            return None
        return name
    name, colon, port = value.partition(":")
    if colon and not port.isdigit():
        return None
    if not name or not re.fullmatch(r"[a-z0-9.\-_]+", name):
        return None
    return name


def allowed_host_names(bind_host: str | None = None, allow_hosts: Iterable[str] = ()) -> frozenset[str]:
    """Loopback names, the bound address (unless it is every interface) and the user's ``--allow-host``s."""
    names = set(LOOPBACK_HOSTS)
    names.update(name.strip().lower().strip("[]") for name in allow_hosts if name.strip())
    if bind_host:
        bound = bind_host.strip().lower().strip("[]")
        try:
            every_interface = ipaddress.ip_address(bound).is_unspecified
        except ValueError:
            every_interface = False
        if not every_interface:
            names.add(bound)
    return frozenset(names)


class RequestGuard:
    """ASGI middleware in front of every ``stepfn serve`` / ``stepfn ui`` route: Host, Origin, then token.

    ``token=None`` checks Host and Origin only (``--no-token``).
    """

    def __init__(self, app: ASGIApp, *, token: str | None, allowed_hosts: frozenset[str]) -> None:
        self.app = app
        self.token = token
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # no route speaks it; nothing to guard
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if self.token is None or not query.get("token"):
            await self.app(scope, receive, send)
            return
        # The console URL carries ?token= once; the browser keeps it as a cookie only this site sends.
        cookie = f"{token_cookie(_server_port(scope))}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"set-cookie", cookie))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _refusal(self, scope: Scope, headers: Headers) -> Response | None:
        path = str(scope.get("path", ""))
        # The AWS query protocol (STS) reads errors as XML; every other API as JSON.
        query_protocol = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        host = headers.get("host", "")
        name = host_name(host)
        if name is None or name not in self.allowed_hosts:
            return _forbidden(path, f"Host {host!r} is not served here (DNS rebinding protection): this server "
                                    "answers localhost, 127.0.0.1 and [::1]; add other names with --allow-host",
                              query=query_protocol)
        origin = headers.get("origin")
        if origin is not None and origin.lower().rstrip("/") != f"{scope.get('scheme', 'http')}://{host.lower()}":
            return _forbidden(path, f"cross-origin request from {origin!r} refused: only pages served by this "
                                    "server may call it", query=query_protocol)
        if self.token is not None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = request_token(headers, _cookies(headers), query, _server_port(scope))
            if not token_matches(self.token, given):
                return _forbidden(path, "missing or wrong stepfn server token: use the URL or the AWS_ACCESS_KEY_ID "
                                        "that `stepfn serve` / `stepfn ui` printed (also in "
                                        f"$STEPFN_HOME/{TOKEN_FILE}), or send it as {TOKEN_HEADER}", query=query_protocol)
        # Defence in depth behind the Origin check: the console's own actions send JSON, a content type no
        # page can send to another origin without a preflight (a form or a no-cors fetch sends text/plain).
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if scope.get("method") not in ("GET", "HEAD") and path.startswith("/ui/api/") \
                and media_type != "application/json":
            return PlainTextResponse("the console's API takes Content-Type: application/json", status_code=415)
        return None


def _server_port(scope: Scope) -> int | None:
    server = scope.get("server")
    return int(server[1]) if server and server[1] is not None else None


def _cookies(headers: Headers) -> dict[str, str]:
    from starlette.requests import cookie_parser

    return cookie_parser(headers.get("cookie", ""))


def _forbidden(path: str, message: str, *, query: bool = False) -> Response:
    """403 in the AWS JSON error shape botocore reads (so boto3 raises a ClientError naming the reason), in
    the query protocol's XML for STS, or as text for the console a person reads."""
    if path == "/ui" or path.startswith("/ui/"):
        return PlainTextResponse(message, status_code=403)
    if query:
        return Response(f"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>"
                        f"<Message>{escape(message)}</Message></Error></ErrorResponse>",
                        status_code=403, media_type="text/xml")
    return JSONResponse({"__type": "UnrecognizedClientException", "message": message}, status_code=403,
                        headers={"x-amzn-ErrorType": "UnrecognizedClientException"},
                        media_type="application/x-amz-json-1.0")


__all__ = [
    "LOOPBACK_HOSTS",
    "TOKEN_FILE",
    "TOKEN_HEADER",
    "RequestGuard",
    "allowed_host_names",
    "ensure_token",
    "read_token",
    "request_token",
    "token_matches",
]
