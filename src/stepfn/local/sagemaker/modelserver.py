"""The model server process of a local endpoint or batch transform: HTTP/1.1 on 127.0.0.1, one or more workers.

Run as ``python -m stepfn.local.sagemaker.modelserver <spec.json>`` (``endpoints.start_model_server`` does
that). What a request means is :meth:`stepfn.local.sagemaker.inference.Models.respond`'s; this module is the
transport under it:

* **Keep-alive at the floor.** Clients reuse connections (``requests.Session``, urllib3 pools, SageMaker
  predictors, load testers). Each accepted socket has ``TCP_NODELAY`` and every reply (status line, headers
  and body) leaves in one ``sendall``: a head written apart from its body waits for the client's delayed
  ACK under Nagle's algorithm, about 40 ms a call. (``http.server`` writes them apart; that is why it is
  not used.)
* **One event loop holds every connection.** The first process serves all connections on one thread
  (``selectors``), and every request that is in whole after a round of reads, from any connection, is answered
  together by one :meth:`~stepfn.local.sagemaker.inference.Models.respond_many` call: concurrent and pipelined
  requests share one ``predict`` where the model allows (adaptive micro-batching,
  ``inference.Container.batches``), and no request waits for another thread to get the GIL. Chunked bodies,
  ``Expect: 100-continue`` and heads to refuse go to a thread of their own with the blocking reader
  (``serve_connection``).
* **Workers.** ``spec["workers"]`` processes (the endpoint's InitialInstanceCount, or a transform job's
  MaxConcurrentTransforms). The socket is bound first, then the workers are forked before any model is
  loaded (no thread and no framework runtime exists yet, so the fork is safe) and each loads the models
  itself, in parallel. A round goes to an idle worker in one frame over its socket pair (method, path,
  headers and body of each request) and its replies come back in one frame, while the loop goes on reading;
  when every worker is busy the first process answers the round itself, so N processes predict at once. Any
  worker answers any connection, so a round can hold every client's request (connections dealt to workers
  when they opened capped a round at a worker's share of them). A connection with requests out is read no
  further until their replies are written, so its answers stay in order. A worker that dies fails the round
  it held with 500s and gets no more; a worker exits when the first process is gone.
* **Pipelining and large connections are dealt for good.** A connection that sends a second request before
  its first is answered (batch transform's client) or more than 64 KB unanswered is given, round-robin, to
  one process, the workers first (the first one's turn: it keeps it and answers it itself, never in a shipped
  round, and reads no other connection meanwhile; a worker's:
  its descriptor and the bytes read of it go over a second socket pair, and the worker serves it in its own
  event loop, with the same code, to the end). Such a connection fills its own rounds; relayed, each of its
  payloads passed one more process and the first process parsed them all.
* **Readiness.** Once every worker has loaded its models the first process writes ``{"port": N}`` (or
  ``{"error": text}``) to the spec's ``ready_file``; the parent waits for that file.

The HTTP subset is what model clients send: ``Content-Length`` or chunked request bodies,
``Expect: 100-continue``, HTTP/1.0 and ``Connection: close``. Malformed requests get 400 and the
connection is closed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
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

    __slots__ = ("closing", "events", "handover", "kept", "received", "socket", "unsent")

    def __init__(self, connection: socket.socket) -> None:
        self.socket = connection
        self.received = bytearray()
        self.unsent = bytearray()
        self.closing = False  # answer what is in, then close (Connection: close, HTTP/1.0, or the client left)
        self.handover = False  # the rest goes to a thread of its own (_serve_in_thread)
        self.kept = False  # a pipelining connection this process keeps: answered here, never shipped in rounds
        self.events = 0  # what the selector waits for on it now (0: not registered)


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


def _fields(head: list[str], headers: Iterable[tuple[str, str]], body: bytes) -> list[bytes]:
    """One request or reply as two frame fields: its head and header names and values, one a line, then its body.
    (Two fields, not one a string: a round of a pipelining transform client holds hundreds of requests, and
    each field costs as much as a request's parse.) No request's strings hold a CRLF (they were parsed from
    lines); a reply whose content type or header holds one could not be written either: it is refused."""
    parts = [*head, *(part for pair in headers for part in pair)]
    if any("\r\n" in part for part in parts):
        return _fields(["500", "text/plain"], (), b"a reply header holds a line break")
    return ["\r\n".join(parts).encode("latin-1"), body]


def _unfields(fields: list[bytes], head: int) -> Iterator[tuple[list[str], list[tuple[str, str]], bytes]]:
    """The requests or replies of a frame that :func:`_fields` built, ``head`` strings before each one's headers."""
    for at in range(0, len(fields), 2):
        parts = fields[at].decode("latin-1").split("\r\n")
        yield parts[:head], list(zip(parts[head::2], parts[head + 1::2], strict=True)), fields[at + 1]


def _send_frame(channel: socket.socket, fields: list[bytes]) -> None:
    """Send one frame: the field count, every length, then the bytes (``handlerhost.write_frame``'s layout).
    Small fields leave together; a large one (a transform job's payload of megabytes) is sent as it is, not
    copied into the frame first."""
    pending = [struct.pack(f">{len(fields) + 1}I", len(fields), *map(len, fields))]
    for field in fields:
        if len(field) < 65536:
            pending.append(field)
            continue
        channel.sendall(b"".join(pending))
        channel.sendall(field)
        pending = []
    if pending:
        channel.sendall(b"".join(pending))


def _frame_size(data: bytearray) -> int:
    """The size of the whole frame that ``data`` begins, or 0 while its head is not all in."""
    if len(data) < 4:
        return 0
    count = int.from_bytes(data[:4], "big")
    if len(data) < 4 + 4 * count:
        return 0
    return 4 + 4 * count + int(sum(struct.unpack_from(f">{count}I", data, 4)))


def _split(data: bytearray) -> list[bytes]:
    """The fields of the whole frame in ``data`` (each copied once, straight out of it)."""
    count = int.from_bytes(data[:4], "big")
    start = 4 + 4 * count
    fields = []
    with memoryview(data) as view:
        for length in struct.unpack_from(f">{count}I", data, 4):
            fields.append(bytes(view[start:start + length]))
            start += length
    return fields


def _read_frame(channel: socket.socket, inbox: bytearray) -> list[bytes] | None:
    """Read what ``channel`` has of the frame being received into ``inbox``: the frame's fields once it is whole
    (``inbox`` is emptied), else None. EOFError when the other end is gone."""
    size = _frame_size(inbox)
    chunk = channel.recv(max(65536, min(size - len(inbox), 1 << 22)))
    if not chunk:
        raise EOFError("the other end of the channel is gone")
    inbox += chunk
    size = _frame_size(inbox)
    if not size or len(inbox) < size:
        return None
    fields = _split(inbox)
    del inbox[:]
    return fields


def _answer_round(channel: socket.socket, fields: list[bytes], models: Models) -> None:
    """Answer one round the first process sent (a frame of requests) with one frame of replies."""
    requests = [(head[0], head[1], dict(headers), body) for head, headers, body in _unfields(fields, 2)]
    del fields
    started = time.perf_counter()
    replies = _respond(models, requests)
    took = b"%.9f" % (time.perf_counter() - started)
    _send_frame(channel, [took, *(field for reply in replies for field in _fields(
        [str(reply.status), reply.content_type], reply.headers, reply.body))])


def _deal(channel: socket.socket, connection: socket.socket, received: bytes) -> None:
    """Give a connection to a worker for good: its descriptor with the length of what was read of it already,
    then those bytes (a connection is dealt before it has sent more than ``_LARGE`` and one read)."""
    socket.send_fds(channel, [struct.pack(">Q", len(received))], [connection.fileno()])
    channel.sendall(received)


def _take_dealt(channel: socket.socket) -> tuple[socket.socket, bytes] | None:
    """The next connection dealt on a worker's blocking channel, with what was read of it; None when the first
    process is gone."""
    head, descriptors, _, _ = socket.recv_fds(channel, 8, 1)
    if len(head) < 8 or not descriptors:
        for descriptor in descriptors:
            os.close(descriptor)
        return None
    size = struct.unpack(">Q", head)[0]
    parts = []
    while size:
        chunk = channel.recv(min(size, 1 << 20))
        if not chunk:
            os.close(descriptors[0])
            return None
        parts.append(chunk)
        size -= len(chunk)
    return socket.socket(fileno=descriptors[0]), b"".join(parts)


def _respond(models: Models, requests: list[tuple[str, str, dict[str, str], bytes]]) -> list[Reply]:
    try:
        return models.respond_many(requests)
    except Exception as exc:  # a fault of the server's own must not end the process its clients share
        traceback.print_exc()
        return [Reply(500, f"{type(exc).__name__}: {exc}".encode())] * len(requests)


# A round that takes less than this to answer is answered by the first process, whole, even when workers are idle.
# Shipping a round to a worker and its replies back costs about as much CPU as a cheap round's prediction
# (a scikit-learn ``predict`` of a few rows, 100-200 us), and one process answering every connection's requests
# shares each ``predict`` among more of them; a round that takes longer than this is worth spreading over the
# workers, to run in parallel.
_CHEAP_ROUND = 0.001

# A connection whose unanswered bytes pass this (a request larger than this, such as a transform job's
# MultiRecord payload) is dealt to a worker for good, as one that pipelines is: shipping its requests in rounds
# would copy each payload through one more process.
_LARGE = 65536


class _Worker:
    """The first process's side of a worker: its channel, and the round it is answering (None while idle)."""

    __slots__ = ("channel", "deals", "inbox", "round")

    def __init__(self, channel: socket.socket, deals: socket.socket) -> None:
        self.channel = channel
        self.deals = deals  # where connections are dealt to it for good (descriptors)
        self.round: list[tuple[_Client, _Request]] | None = None
        self.inbox = bytearray()  # the part of its reply frame received so far


class EventLoop:
    """The first process's connections, all of them, on one thread, with ``selectors``.

    Every request that is in whole after a round of reading, from every ready connection, is answered together:
    by an idle worker process (the round goes to it in one frame over its channel, and the loop goes back to its
    connections meanwhile), or, when every worker is busy (or there are none), by this process's own
    :meth:`Models.respond_many` call. Either way concurrent clients' invocations share a prediction where the
    model allows (``inference.Container.batches``), a round may hold every connection's request (the workers
    predict for any connection, so a round is not limited to a share of them dealt when they opened), and with
    N workers N rounds are predicted at once. (One thread per connection made every request that arrived while
    another predicted wait for the GIL's switch interval, a few milliseconds: eight keep-alive clients got a
    sixth of a plain echo server's rate.)

    A connection whose requests are out at a worker is read no further until their replies are written: its
    requests are answered in order, in one place at a time.

    A connection that pipelines (a second request in before the first is answered, as batch transform's client
    sends them) or sends more than ``_LARGE`` unanswered bytes is dealt for good, round-robin, to the workers and
    then this process (``workers``: each one's round channel and deal channel), which serves it in its own loop from
    then on: such a connection fills its own rounds, and passing each of its payloads through this process as
    well cost it a third of its throughput. ``run`` returns when the listener is shut down.

    A worker runs the same loop with ``channels`` (its round channel and deal channel) instead of a listener:
    it answers the rounds shipped to it and serves the connections dealt to it, and returns when the first
    process is gone."""

    def __init__(self, models: Models, listener: socket.socket | None = None,
                 workers: list[tuple[socket.socket, socket.socket]] | None = None,
                 channels: tuple[socket.socket, socket.socket] | None = None) -> None:
        self.models = models
        self.selector = selectors.DefaultSelector()
        self.clients = 0  # connections the selector waits on (not those whose requests are out at a worker)
        # How long a round takes to answer (a moving average; unknown at first, so the first rounds go to
        # workers): below _CHEAP_ROUND this process answers every round itself.
        self.round_time = math.inf if workers else 0.0
        self.waiting: list[list[tuple[_Client, _Request]]] = []  # connections' requests waiting for a worker
        if listener is not None:
            listener.setblocking(False)
            self.selector.register(listener, selectors.EVENT_READ, "listener")
        self.listener = listener
        self.workers = [_Worker(channel, deals) for channel, deals in workers or []]
        for worker in self.workers:
            # Read while idle too: an empty read is how a worker's exit shows.
            self.selector.register(worker.channel, selectors.EVENT_READ, worker)
        # Where pipelining connections go, in turn (None: kept here), the workers first: while this process
        # answers a connection it kept, it reads no other, so it takes one only when each worker has had one.
        # Empty without workers: nothing to deal.
        self.dealers: list[_Worker | None] = [*self.workers, None] if self.workers else []
        self.turn = 0
        self.rounds: socket.socket | None = None
        self.inbox = bytearray()  # in a worker: the part of the next round's frame received so far
        if channels is not None:
            self.rounds, deals = channels
            self.selector.register(self.rounds, selectors.EVENT_READ, "rounds")
            self.selector.register(deals, selectors.EVENT_READ, "deals")

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
        have requests in it, left for the next round). False when the listener is shut down (or, in a worker,
        the first process is gone)."""
        for key, mask in events:
            if key.data == "listener":
                if not self._accept():
                    return False
            elif key.data == "rounds":
                if not self._round():
                    return False
            elif key.data == "deals":
                dealt = _take_dealt(key.fileobj)  # type: ignore[arg-type]
                if dealt is None:
                    return False
                newcomer = _Client(dealt[0])
                newcomer.received += dealt[1]
                dealt[0].setblocking(False)
                answered.extend(self._take(newcomer))
            elif isinstance(key.data, _Worker):
                self._hear(key.data)
            elif id(key.data) not in skip:
                client: _Client = key.data
                if mask & selectors.EVENT_WRITE:
                    self._flush(client)
                if mask & selectors.EVENT_READ:
                    answered.extend(self._read(client))
        return True

    def _round(self) -> bool:
        """In a worker: read the round channel; answer the round once its frame is whole. False when the first
        process is gone."""
        assert self.rounds is not None
        try:
            fields = _read_frame(self.rounds, self.inbox)
        except EOFError:
            return False
        if fields is not None:
            _answer_round(self.rounds, fields, self.models)
        return True

    def _accept(self) -> bool:
        assert self.listener is not None
        while True:
            try:
                connection, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.setblocking(False)
            self._wait_for(_Client(connection), selectors.EVENT_READ)

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
        return self._take(client)

    def _take(self, client: _Client) -> list[tuple[_Client, _Request]]:
        """The whole requests in what the client sent; none if it is dealt to a worker now."""
        raw = bytes(client.received) if self.dealers and not client.kept else b""
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
        if raw and not client.handover and (len(requests) > 1 or (requests and client.received)
                                            or len(raw) > _LARGE):
            dealer = self.dealers[self.turn % len(self.dealers)]
            self.turn += 1
            if dealer is not None and self._give(dealer, client, raw):
                return []
            client.kept = True
        if not requests:
            self._settle(client)
        return requests

    def _give(self, worker: _Worker, client: _Client, raw: bytes) -> bool:
        """Deal the connection to the worker with what it sent so far; False if that worker is gone."""
        self._wait_for(client, 0)
        try:
            _deal(worker.deals, client.socket, raw)
        except OSError:
            self._lose(worker)
            self._send_waiting()
            return False
        client.socket.close()
        return True

    def _answer(self, answered: list[tuple[_Client, _Request]]) -> None:
        """Answer the round here, whole, while rounds are cheap and its connections sent about one request each
        (clients that wait for each answer: gathering them is what fills a shared ``predict``, and shipping a
        cheap round to a worker costs about what answering it does). Otherwise its connections go to the
        workers, each connection's requests together, spread over the idle ones (or waiting for one): a costly
        round gains from running beside others, and connections that pipeline (batch transform) fill their own
        batches. This process does not take a share of those itself: while it predicted it would neither read
        the other connections nor pass the workers' replies on."""
        here = [item for item in answered if item[0].kept]
        by_client: dict[int, list[tuple[_Client, _Request]]] = {}
        for item in answered:
            if not item[0].kept:
                by_client.setdefault(id(item[0]), []).append(item)
        rest = len(answered) - len(here)
        if rest and (not self.workers or (self.round_time < _CHEAP_ROUND and rest < 2 * len(by_client))):
            here, by_client = answered, {}
        for group in by_client.values():
            self._wait_for(group[0][0], 0)  # read no further until its replies are written
        self.waiting.extend(by_client.values())
        self._send_waiting()
        if here:
            self._answer_here(here)

    def _send_waiting(self) -> None:
        """Spread the waiting connections' requests over the idle workers (here, when no worker is left)."""
        while self.waiting:
            if not self.workers:
                waiting, self.waiting = self.waiting, []
                self._answer_here([item for group in waiting for item in group])
                return
            idle = [worker for worker in self.workers if worker.round is None]
            if not idle:
                return
            shares = min(len(self.waiting), len(idle))
            waiting, self.waiting = self.waiting, []
            for index in range(shares):
                groups = waiting[index::shares]
                if not self._ship(idle[index], [item for group in groups for item in group]):
                    self.waiting += groups  # that worker is gone: the next pass gives them to another

    def _answer_here(self, answered: list[tuple[_Client, _Request]]) -> None:
        started = time.perf_counter()
        replies = _respond(self.models, [(r.method, r.path, r.headers, r.body) for _, r in answered])
        self._took(time.perf_counter() - started)
        self._deliver(answered, replies)

    def _took(self, seconds: float) -> None:
        """Note how long a round's answers took to compute, here or in a worker."""
        if self.round_time == math.inf:
            self.round_time = seconds
        else:  # a moving average: one slow round (the machine busy elsewhere) does not send the next ones away
            self.round_time += (seconds - self.round_time) / 8

    def _ship(self, worker: _Worker, share: list[tuple[_Client, _Request]]) -> bool:
        """Send the requests to an idle worker; False if it is gone (its empty read is on its way)."""
        try:
            _send_frame(worker.channel, [field for _, r in share
                                         for field in _fields([r.method, r.path], r.headers.items(), r.body)])
        except OSError:
            self._lose(worker)
            return False
        worker.round = share
        return True

    def _hear(self, worker: _Worker) -> None:
        """Read what the worker sent: when it is its whole reply frame, write the replies to their clients."""
        try:
            fields = _read_frame(worker.channel, worker.inbox)
        except (BlockingIOError, InterruptedError):
            return
        except (EOFError, OSError):
            self._lose(worker)
            self._send_waiting()  # what waited for a worker goes to the others (or is answered here)
            return
        if fields is None or worker.round is None:
            return
        self._took(float(fields[0]))
        answered, worker.round = worker.round, None
        self._deliver(answered, [Reply(int(head[0]), body, head[1], tuple(headers))
                                 for head, headers, body in _unfields(fields[1:], 2)])
        self._send_waiting()

    def _lose(self, worker: _Worker) -> None:
        """A worker exited (killed, or crashed): the round it held gets 500s, as a crash in a handler does, and
        the others (this process included) answer from now on."""
        if worker not in self.workers:  # lost already (a failed deal, then its channel's empty read)
            return
        self.workers.remove(worker)
        self.dealers = [*self.workers, None] if self.workers else []
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(worker.channel)
        worker.channel.close()
        worker.deals.close()
        if worker.round is not None:
            sys.stderr.write("a model server worker exited while answering; its requests get 500\n")
            failed = Reply(500, b"the model server worker answering this request exited")
            self._deliver(worker.round, [failed] * len(worker.round))

    def _deliver(self, answered: list[tuple[_Client, _Request]], replies: list[Reply]) -> None:
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
            self._wait_for(client, 0)
            _serve_in_thread(client.socket, self.models, bytes(client.received))
        else:
            self._wait_for(client, selectors.EVENT_READ)

    def _wait_for(self, client: _Client, events: int) -> None:
        """Have the selector wait for ``events`` on the client (0: not at all)."""
        if client.events == events:  # most rounds change nothing: spare the system call
            return
        if not client.events:
            self.selector.register(client.socket, events, client)
            self.clients += 1
        elif not events:
            self.selector.unregister(client.socket)
            self.clients -= 1
        else:
            self.selector.modify(client.socket, events, client)
        client.events = events

    def _close(self, client: _Client) -> None:
        with contextlib.suppress(KeyError, ValueError):  # closed already
            self._wait_for(client, 0)
        client.events = 0
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
    # Two channels per forked worker: on the first it reports "ok" or its error, then answers rounds of requests;
    # on the second it receives the connections dealt to it for good.
    channels: list[tuple[socket.socket, socket.socket]] = []
    children: list[int] = []
    for _ in range(workers if workers > 1 else 0):
        ours, theirs = socket.socketpair()
        our_deals, their_deals = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            listener.close()
            for channel in (ours, our_deals, *(end for pair in channels for end in pair)):
                channel.close()
            loaded = _load(spec)
            theirs.sendall((json.dumps(loaded if isinstance(loaded, str) else "ok")[:3000] + "\n").encode())
            if isinstance(loaded, str):
                os._exit(1)
            signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))
            try:
                EventLoop(loaded, channels=(theirs, their_deals)).run()
            finally:
                os._exit(0)
        theirs.close()
        their_deals.close()
        channels.append((ours, our_deals))
        children.append(pid)
    loaded = _load(spec)
    errors = [] if isinstance(loaded, Models) else [loaded]
    for channel, _ in channels:
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
    EventLoop(loaded, listener, channels).run()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    return serve(json.loads(Path(args[0]).read_text()))


if __name__ == "__main__":
    sys.exit(main())
