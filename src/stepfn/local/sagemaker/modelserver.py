"""The model server process of a local endpoint or batch transform: HTTP/1.1 on 127.0.0.1, one or more workers.

Run as ``python -m stepfn.local.sagemaker.modelserver <spec.json>`` (``endpoints.start_model_server`` does
that). What a request means is :meth:`stepfn.local.sagemaker.inference.Models.respond`'s; this module is the
transport under it:

* **Keep-alive at the floor.** Clients reuse connections (``requests.Session``, urllib3 pools, SageMaker
  predictors, load testers). Each accepted socket has ``TCP_NODELAY`` and every reply (status line, headers
  and body) leaves in one ``sendall``: a head written apart from its body waits for the client's delayed
  ACK under Nagle's algorithm, about 40 ms a call. (``http.server`` writes them apart; that is why it is
  not used.)
* **Workers.** ``spec["workers"]`` processes (the endpoint's InitialInstanceCount, or a transform job's
  MaxConcurrentTransforms). The socket is bound first, then the workers are forked before any model is
  loaded (no thread and no framework runtime exists yet, so the fork is safe) and each loads the models
  itself, in parallel. The first process accepts and deals connections round-robin (itself included),
  passing the others' over a Unix socket; a connection stays with its worker, and a worker exits when the
  first process is gone.
* **Readiness.** Once every worker has loaded its models the first process writes ``{"port": N}`` (or
  ``{"error": text}``) to the spec's ``ready_file``; the parent waits for that file.

The HTTP subset is what model clients send: ``Content-Length`` or chunked request bodies,
``Expect: 100-continue``, HTTP/1.0 and ``Connection: close``. Malformed requests get 400 and the
connection is closed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from http import HTTPStatus
from io import BufferedReader
from pathlib import Path
from typing import Any

from stepfn.local.sagemaker.inference import Models, Reply

_MAX_LINE = 65536
_MAX_HEADERS = 100
# The largest request body accepted: SageMaker's MaxPayloadInMB ceiling.
_MAX_BODY = 100 * 1024 * 1024


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def render(reply: Reply, keep_alive: bool) -> bytes:
    """The whole response as one buffer (so it leaves in one write)."""
    head = [f"HTTP/1.1 {reply.status} {_reason(reply.status)}", f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}"]
    head.extend(f"{name}: {value}" for name, value in reply.headers)
    if not keep_alive:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body


def _read_line(reader: BufferedReader) -> bytes:
    line = reader.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE:
        raise _BadRequest(431, "header line too long")
    return line


def _read_chunked(reader: BufferedReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_line = _read_line(reader).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError as exc:
            raise _BadRequest(400, "bad chunk size") from exc
        if size == 0:
            while _read_line(reader).strip():  # trailers, ignored
                pass
            return b"".join(parts)
        total += size
        if total > _MAX_BODY:
            raise _BadRequest(413, "request body too large")
        chunk = reader.read(size)
        if len(chunk) < size:
            raise ConnectionError("connection closed inside a chunk")
        parts.append(chunk)
        reader.read(2)  # the CRLF after each chunk


def serve_connection(connection: socket.socket, models: Models) -> None:
    """Answer requests on one connection until the client closes it or asks to."""
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = connection.makefile("rb")
    try:
        while True:
            line = _read_line(reader)
            while line in (b"\r\n", b"\n"):  # stray CRLF between requests (RFC 9112 §2.2)
                line = _read_line(reader)
            if not line:
                return
            parts = line.split()
            if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
                raise _BadRequest(400, "malformed request line")
            method, target, version = (part.decode("latin-1") for part in parts)
            headers: dict[str, str] = {}
            while True:
                header = _read_line(reader)
                if header in (b"\r\n", b"\n", b""):
                    break
                name, colon, value = header.partition(b":")
                if not colon or len(headers) >= _MAX_HEADERS:
                    raise _BadRequest(400, "malformed header")
                headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
            connection_header = headers.get("connection", "").lower()
            keep_alive = "close" not in connection_header if version == "HTTP/1.1" else "keep-alive" in connection_header
            if headers.get("expect", "").lower() == "100-continue":
                connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if "chunked" in headers.get("transfer-encoding", "").lower():
                body = _read_chunked(reader)
            else:
                try:
                    length = int(headers.get("content-length") or 0)
                except ValueError as exc:
                    raise _BadRequest(400, "bad Content-Length") from exc
                if not 0 <= length <= _MAX_BODY:
                    raise _BadRequest(413, "request body too large")
                body = reader.read(length) if length else b""
                if len(body) < length:
                    return
            path = target.split("?", 1)[0]
            connection.sendall(render(models.respond(method, path, headers, body), keep_alive))
            if not keep_alive:
                return
    except _BadRequest as exc:
        with contextlib.suppress(OSError):
            connection.sendall(render(Reply(exc.status, str(exc).encode()), keep_alive=False))
    except (ConnectionError, TimeoutError):
        pass
    finally:
        reader.close()
        connection.close()


def _serve_in_thread(connection: socket.socket, models: Models) -> None:
    # One thread per connection: a keep-alive client holds its thread; predictions serialise on the variant's
    # lock anyway (most estimators are not thread safe).
    threading.Thread(target=serve_connection, args=(connection, models), daemon=True).start()


def accept_forever(listener: socket.socket, models: Models, workers: list[socket.socket]) -> None:
    """Accept connections and deal them round-robin to this process and the ``workers`` (their channels).

    The first process deals rather than letting every worker call ``accept``: Linux wakes the most recent
    waiter first, so the worker that just took a connection tends to take the next one too, and a handful of
    keep-alive clients would pile onto one process while the others idle."""
    dealers: list[socket.socket | None] = [None, *workers]
    turn = 0
    while True:
        connection, _ = listener.accept()
        channel = dealers[turn % len(dealers)]
        turn += 1
        if channel is not None:
            try:
                socket.send_fds(channel, [b"c"], [connection.fileno()])
            except OSError:  # that worker is gone: serve its share here
                dealers.remove(channel)
            else:
                connection.close()
                continue
        _serve_in_thread(connection, models)


def _worker_loop(channel: socket.socket, models: Models) -> None:
    """A forked worker: serve each connection the first process hands over, until that process is gone."""
    while True:
        message, descriptors, _, _ = socket.recv_fds(channel, 1, 1)
        if not message:
            return
        for descriptor in descriptors:
            _serve_in_thread(socket.socket(fileno=descriptor), models)


def _write_ready(path: Path, content: dict[str, Any]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(content))
    partial.replace(path)


def _load(spec: dict[str, Any]) -> Models | str:
    """The models, or the error text of a worker that could not load them (its traceback goes to the log)."""
    try:
        return Models.load(spec)
    except BaseException as exc:
        traceback.print_exc()
        return f"{type(exc).__name__}: {exc}"


def serve(spec: dict[str, Any], on_ready: Callable[[], None] | None = None) -> int:
    """Serve ``spec`` until SIGTERM; ``on_ready`` runs once the models are loaded (the fork server learns what
    they imported)."""
    ready = Path(spec["ready_file"])
    workers = max(1, int(spec.get("workers", 1)))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", int(spec.get("port", 0))))
        listener.listen(1024)
    except OSError as exc:
        _write_ready(ready, {"error": f"cannot listen: {exc}"})
        return 1
    # One channel per forked worker: it reports "ok" or its error there, then receives its connections on it.
    channels: list[socket.socket] = []
    children: list[int] = []
    for _ in range(workers - 1):
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            listener.close()
            for channel in (ours, *channels):
                channel.close()
            loaded = _load(spec)
            theirs.sendall((json.dumps(loaded if isinstance(loaded, str) else "ok")[:3000] + "\n").encode())
            if isinstance(loaded, str):
                os._exit(1)
            signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))
            try:
                _worker_loop(theirs, loaded)
            finally:
                os._exit(0)
        theirs.close()
        channels.append(ours)
        children.append(pid)
    loaded = _load(spec)
    errors = [] if isinstance(loaded, Models) else [loaded]
    for channel in channels:
        with channel.makefile("r") as reports:
            answer = json.loads(reports.readline() or '"the worker exited before loading its models"')
        if answer != "ok":
            errors.append(answer)
    if errors or not isinstance(loaded, Models):
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _write_ready(ready, {"error": errors[0]})
        return 1

    def stop(signum: int, frame: Any) -> None:
        # Straight out: nothing is left to write, and an interpreter shutdown that tears down a loaded framework
        # (modules, thread pools) takes longer than the whole job it served when the machine is busy.
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        sys.stderr.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    port = listener.getsockname()[1]
    if on_ready is not None:  # before the parent hears of it: what it reports is then in place for the next start
        on_ready()
    _write_ready(ready, {"port": port, "pid": os.getpid(), "workers": workers})
    sys.stderr.write(f"model server listening on 127.0.0.1:{port} ({workers} worker{'s' * (workers > 1)})\n")
    sys.stderr.flush()
    accept_forever(listener, loaded, channels)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    return serve(json.loads(Path(args[0]).read_text()))


if __name__ == "__main__":
    sys.exit(main())
