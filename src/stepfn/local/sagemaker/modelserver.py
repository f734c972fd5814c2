"""The model server process of a local endpoint or batch transform: HTTP/1.1 on 127.0.0.1, one or more workers.

Run as ``python -m stepfn.local.sagemaker.modelserver <spec.json>`` (``endpoints.start_model_server`` does
that). What a request means is :meth:`stepfn.local.sagemaker.inference.Models.respond`'s; this module is the
transport under it:

* **Keep-alive at the floor.** Clients reuse connections (``requests.Session``, urllib3 pools, SageMaker
  predictors, load testers). Each accepted socket has ``TCP_NODELAY`` and every reply (status line, headers
  and body) leaves in one ``sendall``: a head written apart from its body waits for the client's delayed
  ACK under Nagle's algorithm, about 40 ms a call. (``http.server`` writes them apart; that is why it is
  not used.)
* **One event loop per process.** Each worker serves all its connections on one thread (``selectors``), and
  every request that is in whole after a round of reads, from any connection, is answered in one
  :meth:`~stepfn.local.sagemaker.inference.Models.respond_many` call: concurrent and pipelined requests share
  one ``predict`` where the model allows (adaptive micro-batching, ``inference.Container.batches``), and no
  request waits for another thread to get the GIL. Chunked bodies, ``Expect: 100-continue`` and heads to
  refuse go to a thread of their own with the blocking reader (``serve_connection``).
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
import queue
import selectors
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any, NamedTuple

from stepfn.local.sagemaker.inference import Models, Reply

_MAX_LINE = 65536
_MAX_HEADERS = 100
# The largest request body accepted: SageMaker's MaxPayloadInMB ceiling.
_MAX_BODY = 100 * 1024 * 1024


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# Looked up once, not per reply (an enum call costs as much as the rest of a reply's head).
_REASONS = {status.value: status.phrase for status in HTTPStatus}


def _reason(status: int) -> str:
    return _REASONS.get(status, "Unknown")


def render(reply: Reply, keep_alive: bool) -> bytes:
    """The whole response as one buffer (so it leaves in one write)."""
    head = [f"HTTP/1.1 {reply.status} {_reason(reply.status)}", f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}"]
    head.extend(f"{name}: {value}" for name, value in reply.headers)
    if not keep_alive:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body


class _Reader:
    """The bytes received on a blocking connection, read as lines and counted bodies."""

    def __init__(self, connection: socket.socket, received: bytes = b"") -> None:
        self._connection = connection
        self._buffer = received
        self._position = 0

    def _fill(self) -> bool:
        chunk = self._connection.recv(65536)
        if not chunk:
            return False
        self._buffer = self._buffer[self._position:] + chunk
        self._position = 0
        return True

    def readline(self) -> bytes:
        """One line with its ending (or what is left at the end of the stream); 431 past ``_MAX_LINE``."""
        searched = self._position
        while True:
            newline = self._buffer.find(b"\n", searched)
            if newline >= 0:
                line = self._buffer[self._position:newline + 1]
                self._position = newline + 1
                break
            searched = len(self._buffer)
            if searched - self._position > _MAX_LINE:
                raise _BadRequest(431, "header line too long")
            before = self._position
            if not self._fill():
                line = self._buffer[self._position:]
                self._position = len(self._buffer)
                break
            searched -= before
        if len(line) > _MAX_LINE + 1:
            raise _BadRequest(431, "header line too long")
        return line

    def read(self, size: int) -> bytes:
        """``size`` bytes, or fewer if the stream ends first."""
        if len(self._buffer) - self._position >= size:
            data = self._buffer[self._position:self._position + size]
            self._position += size
            return data
        # A large body arrives in many pieces: gather them and join once (growing one buffer would copy it
        # again for every piece).
        parts = [self._buffer[self._position:]]
        have = len(parts[0])
        while have < size:
            chunk = self._connection.recv(max(65536, min(size - have, 1 << 20)))
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        self._buffer, self._position = data[size:], 0
        return data[:size]


def _read_chunked(reader: _Reader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_line = reader.readline().split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError as exc:
            raise _BadRequest(400, "bad chunk size") from exc
        if size == 0:
            while reader.readline().strip():  # trailers, ignored
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


class _Request(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


def _read_request(connection: socket.socket, reader: _Reader) -> _Request | None:
    """The next request on the connection, or None when the client closed it."""
    line = reader.readline()
    while line in (b"\r\n", b"\n"):  # stray CRLF between requests (RFC 9112 §2.2)
        line = reader.readline()
    if not line:
        return None
    parts = line.split()
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise _BadRequest(400, "malformed request line")
    method, target, version = (part.decode("latin-1") for part in parts)
    headers: dict[str, str] = {}
    while True:
        header = reader.readline()
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
            return None
    return _Request(method, target.split("?", 1)[0], headers, body, keep_alive)


def serve_connection(connection: socket.socket, models: Models, received: bytes = b"") -> None:
    """Answer requests on one blocking connection until the client closes it or asks to (``received``: what
    the event loop had read of it already)."""
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = _Reader(connection, received)
    keep_alive = True
    try:
        while keep_alive:
            request = _read_request(connection, reader)
            if request is None:
                return
            keep_alive = request.keep_alive
            reply = models.respond(request.method, request.path, request.headers, request.body)
            connection.sendall(render(reply, keep_alive))
    except _BadRequest as exc:
        with contextlib.suppress(OSError):
            connection.sendall(render(Reply(exc.status, str(exc).encode()), keep_alive=False))
    except (ConnectionError, TimeoutError):
        pass
    finally:
        connection.close()


def _serve_in_thread(connection: socket.socket, models: Models, received: bytes = b"") -> None:
    # A connection the event loop hands over (chunked bodies, Expect, malformed heads) holds a thread of its own:
    # those are rare, and the blocking reader handles them plainly.
    connection.setblocking(True)
    threading.Thread(target=serve_connection, args=(connection, models, received), daemon=True).start()


class _Client:
    """A connection in the event loop: what it sent that is not yet answered, and what is not yet sent to it."""

    __slots__ = ("closing", "events", "handover", "received", "socket", "unsent")

    def __init__(self, connection: socket.socket) -> None:
        self.socket = connection
        self.received = bytearray()
        self.unsent = bytearray()
        self.closing = False  # answer what is in, then close (Connection: close, HTTP/1.0, or the client left)
        self.handover = False  # the rest goes to a thread of its own (_serve_in_thread)
        self.events = selectors.EVENT_READ  # what the selector waits for on it now


def _parse(buffer: bytearray) -> tuple[_Request, int] | bool:
    """The first whole request in ``buffer`` and the bytes it took; False when it is not all in yet; True when
    the blocking reader should take the connection from here (chunked, Expect, or a head to refuse)."""
    start = 0
    while buffer.startswith(b"\r\n", start):  # stray CRLF between requests (RFC 9112 §2.2)
        start += 2
    head_end = buffer.find(b"\r\n\r\n", start)
    if head_end < 0:
        # Not all in yet, unless it is too long or ends its lines with bare LFs (the blocking reader's cases).
        return len(buffer) - start > _MAX_LINE or buffer.find(b"\n\n", start) >= 0
    lines = bytes(buffer[start:head_end]).split(b"\r\n")
    parts = lines[0].split()
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1.") or len(lines) > _MAX_HEADERS + 1:
        return True
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or len(line) > _MAX_LINE:
            return True
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if "expect" in headers or "transfer-encoding" in headers:
        return True
    try:
        length = int(headers.get("content-length") or 0)
    except ValueError:
        return True
    if not 0 <= length <= _MAX_BODY:
        return True
    end = head_end + 4 + length
    if end > len(buffer):
        return False
    method, target, version = (part.decode("latin-1") for part in parts)
    connection_header = headers.get("connection", "").lower()
    keep_alive = "close" not in connection_header if version == "HTTP/1.1" else "keep-alive" in connection_header
    with memoryview(buffer) as view:  # one copy of the body, not two (a bytearray slice, then bytes)
        body = bytes(view[head_end + 4:end])
    return _Request(method, target.split("?", 1)[0], headers, body, keep_alive), end


class EventLoop:
    """One process's connections on one thread, with ``selectors``.

    Every request that is in whole after a round of reading, from every ready connection, is answered by one
    :meth:`Models.respond_many` call: concurrent clients' invocations share a prediction where the model
    allows (``inference.Container.batches``) and nothing waits for another thread to be scheduled. (One thread
    per connection made every request that arrived while another predicted wait for the GIL's switch
    interval, a few milliseconds: eight keep-alive clients got a sixth of a plain echo server's rate.)

    ``listener``: the first process accepts (on a thread of its own) and deals connections round-robin to
    itself and the ``workers``' channels (Linux wakes the most recent ``accept`` waiter first, so a handful of
    keep-alive clients would pile onto one process if every worker accepted). ``channel``: a worker receives its connections there and
    exits when the first process is gone."""

    def __init__(self, models: Models, *, listener: socket.socket | None = None,
                 workers: list[socket.socket] | None = None, channel: socket.socket | None = None) -> None:
        self.models = models
        self.selector = selectors.DefaultSelector()
        self.dealers: list[socket.socket | None] = [None, *(workers or [])]
        self.turn = 0
        self.clients = 0  # connections registered in the selector
        self.incoming: queue.SimpleQueue[socket.socket] = queue.SimpleQueue()
        if listener is not None:
            # Accepting has a thread of its own: a loop busy answering must not hold up the connections it deals
            # to the other workers. Its own share reaches the loop through ``incoming`` and a wake-up byte.
            self.wake, waker = socket.socketpair()
            self.wake.setblocking(False)
            self.selector.register(self.wake, selectors.EVENT_READ, "wake")
            threading.Thread(target=self._accept_forever, args=(listener, waker), daemon=True).start()
        if channel is not None:
            self.selector.register(channel, selectors.EVENT_READ, "channel")

    def run(self) -> None:
        while True:
            answered: list[tuple[_Client, _Request]] = []
            if not self._dispatch(self.selector.select(), answered):
                return
            asking = {id(client) for client, _ in answered}
            if answered and len(asking) < self.clients:
                # Other connections are open but have sent nothing yet. Give up the CPU for a moment: where other
                # processes are waiting to run (on a local endpoint, most often the clients, which share this
                # machine's cores), a client about to send gets its request into this round's prediction instead
                # of the next one's, so the round costs one predict instead of two. Where nothing else waits,
                # sched_yield returns at once and the round goes ahead: no request waits for another.
                os.sched_yield()
                if not self._dispatch(self.selector.select(0), answered, skip=asking):
                    return
            if answered:
                self._answer(answered)

    def _dispatch(self, events: list[tuple[selectors.SelectorKey, int]], answered: list[tuple[_Client, _Request]],
                  skip: set[int] | frozenset[int] = frozenset()) -> bool:
        """Handle ready sockets, adding the requests read to ``answered`` (``skip``: connections that already
        have requests in it, left for the next round). False when this worker should exit."""
        for key, mask in events:
            if key.data == "wake":
                with contextlib.suppress(BlockingIOError):
                    self.wake.recv(4096)
                with contextlib.suppress(queue.Empty):
                    while True:
                        self._add(self.incoming.get_nowait())
            elif key.data == "channel":
                if not self._receive(key.fileobj):  # type: ignore[arg-type]
                    return False
            elif id(key.data) not in skip:
                client: _Client = key.data
                if mask & selectors.EVENT_WRITE:
                    self._flush(client)
                if mask & selectors.EVENT_READ:
                    answered.extend(self._read(client))
        return True

    def _accept_forever(self, listener: socket.socket, waker: socket.socket) -> None:
        while True:
            connection, _ = listener.accept()
            channel = self.dealers[self.turn % len(self.dealers)]
            self.turn += 1
            if channel is not None:
                try:
                    socket.send_fds(channel, [b"c"], [connection.fileno()])
                except OSError:  # that worker is gone: serve its share here
                    self.dealers.remove(channel)
                else:
                    connection.close()
                    continue
            self.incoming.put(connection)
            waker.send(b"c")

    def _receive(self, channel: socket.socket) -> bool:
        message, descriptors, _, _ = socket.recv_fds(channel, 1, 1)
        for descriptor in descriptors:
            self._add(socket.socket(fileno=descriptor))
        return bool(message)

    def _add(self, connection: socket.socket) -> None:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.setblocking(False)
        self.selector.register(connection, selectors.EVENT_READ, _Client(connection))
        self.clients += 1

    def _read(self, client: _Client) -> list[tuple[_Client, _Request]]:
        try:
            chunk = client.socket.recv(65536)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            chunk = b""
        if not chunk:
            client.closing = True
        client.received += chunk
        requests: list[tuple[_Client, _Request]] = []
        while client.received and not client.handover:
            parsed = _parse(client.received)
            if parsed is False:
                break
            if parsed is True:
                client.handover = True
                break
            request, used = parsed
            del client.received[:used]
            requests.append((client, request))
            if not request.keep_alive:
                client.closing = True
                del client.received[:]
        if not requests:
            self._settle(client)
        return requests

    def _answer(self, answered: list[tuple[_Client, _Request]]) -> None:
        try:
            replies = self.models.respond_many([(r.method, r.path, r.headers, r.body) for _, r in answered])
        except Exception as exc:  # a fault of the server's own must not end the process its clients share
            traceback.print_exc()
            replies = [Reply(500, f"{type(exc).__name__}: {exc}".encode())] * len(answered)
        touched: dict[int, _Client] = {}
        for (client, request), reply in zip(answered, replies, strict=True):
            client.unsent += render(reply, request.keep_alive)
            touched[id(client)] = client
        for client in touched.values():
            self._flush(client)

    def _flush(self, client: _Client) -> None:
        if client.unsent:
            try:
                sent = client.socket.send(client.unsent)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._close(client)
                return
            del client.unsent[:sent]
        self._settle(client)

    def _settle(self, client: _Client) -> None:
        """After a read or a write: wait for the client to read what is unsent (reading nothing more from it
        meanwhile), close it, hand it over, or wait for its next request."""
        if client.socket.fileno() < 0:
            return
        if client.unsent:
            self._wait_for(client, selectors.EVENT_WRITE)
        elif client.closing:
            self._close(client)
        elif client.handover:
            self.selector.unregister(client.socket)
            self.clients -= 1
            _serve_in_thread(client.socket, self.models, bytes(client.received))
        else:
            self._wait_for(client, selectors.EVENT_READ)

    def _wait_for(self, client: _Client, events: int) -> None:
        if client.events != events:  # most rounds change nothing: spare the system call
            self.selector.modify(client.socket, events, client)
            client.events = events

    def _close(self, client: _Client) -> None:
        try:
            self.selector.unregister(client.socket)
        except (KeyError, ValueError):  # closed already
            pass
        else:
            self.clients -= 1
        client.socket.close()


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
                EventLoop(loaded, channel=theirs).run()
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
    EventLoop(loaded, listener=listener, workers=channels).run()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    return serve(json.loads(Path(args[0]).read_text()))


if __name__ == "__main__":
    sys.exit(main())
