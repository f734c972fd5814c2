"""The model server's transport: keep-alive with one write per reply and Nagle off, the HTTP subset model clients
send, worker processes, and the client side's reused connections. Real sockets and server processes."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stepfn.local.sagemaker import endpoints, forkserver
from stepfn.local.sagemaker.endpoints import (
    ModelClient,
    ModelServer,
    ModelServerError,
    post,
    start_model_server,
    stop_server,
)
from stepfn.local.sagemaker.inference import Reply
from stepfn.local.sagemaker.modelserver import serve_connection

# A model whose answer names the worker process that computed it, so tests can tell the workers apart.
PROGRAM = textwrap.dedent("""
    import os

    def model_fn(model_dir):
        return "model"

    def transform_fn(model, body, content_type, accept):
        return b"%d:%s:%s" % (os.getpid(), (content_type or "").encode(), body.upper()), "text/plain"
""")


def _spec(tmp_path: Path, program: str = PROGRAM) -> list[dict[str, Any]]:
    (tmp_path / "model").mkdir(exist_ok=True)
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "inference.py").write_text(program)
    container = {"ModelDir": str(tmp_path / "model"), "CodeDir": str(tmp_path / "code"), "Program": "inference.py",
                 "Framework": "generic"}
    return [{"VariantName": "AllTraffic", "Weight": 1.0, "Containers": [container]}]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ModelServer]:
    started = start_model_server(_spec(tmp_path), tmp_path / "work", tmp_path / "server.log")
    yield started
    stop_server(started.pid, started.start)


def _exchange(sock: socket.socket, request: bytes) -> bytes:
    """Send one request and read one whole response (Content-Length framed) from a raw socket."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_keep_alive_answers_many_requests_on_one_connection(server: ModelServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.connect()
    local = connection.sock.getsockname()
    for index in range(20):
        connection.request("POST", "/invocations", body=f"row{index}".encode(), headers={"Content-Type": "text/csv"})
        response = connection.getresponse()
        assert response.status == 200
        assert response.read().split(b":", 2)[2] == f"ROW{index}".encode()
        assert not response.will_close
    assert connection.sock.getsockname() == local  # still the first connection
    connection.request("GET", "/ping")
    assert connection.getresponse().status == 200
    connection.close()


def test_each_reply_leaves_in_one_write(server: ModelServer) -> None:
    """Head and body arrive together: with the head written apart from its body, the first read gets the head
    alone (and, with Nagle's algorithm on, the body a delayed ACK later)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(5):
            sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\nContent-Length: 3\r\n\r\nabc")
            first = b""
            while b"ABC" not in first:
                chunk = sock.recv(65536)
                assert chunk, "connection closed"
                if not first:
                    # The first read already holds the end of the body.
                    assert chunk.endswith(b"ABC"), chunk
                first += chunk


class _Echo:
    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        return Reply(200, json.dumps({"method": method, "path": path, "body": body.decode(),
                                      "expect": headers.get("expect")}).encode(), "application/json")


@pytest.fixture
def in_process() -> Iterator[tuple[socket.socket, list[socket.socket]]]:
    """serve_connection on the accepted side of a real TCP connection; yields (client socket, accepted sockets)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        connection, _ = listener.accept()
        accepted.append(connection)
        serve_connection(connection, _Echo())  # type: ignore[arg-type]

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    client = socket.create_connection(listener.getsockname(), timeout=10)
    yield client, accepted
    client.close()
    listener.close()
    thread.join(5)


def test_accepted_sockets_have_nagle_off(in_process: tuple[socket.socket, list[socket.socket]]) -> None:
    client, accepted = in_process
    _exchange(client, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
    assert accepted[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_chunked_body_expect_continue_and_query(in_process: tuple[socket.socket, list[socket.socket]]) -> None:
    client, _ = in_process
    client.sendall(b"POST /invocations?x=1 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n")
    assert client.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    response = _exchange(client, b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n")
    assert json.loads(response.split(b"\r\n\r\n", 1)[1]) == {
        "method": "POST", "path": "/invocations", "body": "abcde", "expect": "100-continue"}


def test_connection_close_and_http_1_0(in_process: tuple[socket.socket, list[socket.socket]]) -> None:
    client, _ = in_process
    response = _exchange(client, b"POST /invocations HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi")
    assert b"Connection: close" in response.split(b"\r\n\r\n")[0]
    assert client.recv(10) == b""  # the server closed its side


def test_malformed_request_gets_400_and_close(in_process: tuple[socket.socket, list[socket.socket]]) -> None:
    client, _ = in_process
    response = _exchange(client, b"NONSENSE\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 400 ")
    assert client.recv(10) == b""


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_workers_answer_in_the_servers_group_and_stop_together(tmp_path: Path) -> None:
    server = start_model_server(_spec(tmp_path), tmp_path / "work", tmp_path / "server.log", workers=3)
    try:
        children = _children(server.pid)
        assert len(children) == 3
        assert {os.getpgid(child) for child in children} == {server.pid}
        # The first request goes to a worker (which process answers which round: test_modelserver_rounds.py).
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("POST", "/invocations", body=b"x")
        assert int(connection.getresponse().read().split(b":")[0]) in children
        connection.close()
    finally:
        stop_server(server.pid, server.start)
    deadline = time.monotonic() + 10  # SIGKILLed with their group; gone once the kernel has taken them down
    while any(endpoints._alive(child) for child in children) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [endpoints._alive(child) for child in children] == [False, False, False]


def test_model_server_workers_environment_overrides(tmp_path: Path) -> None:
    server = start_model_server(_spec(tmp_path), tmp_path / "work", tmp_path / "server.log", workers=1,
                                environment={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    try:
        assert len(_children(server.pid)) == 2
    finally:
        stop_server(server.pid, server.start)


def test_a_worker_that_cannot_load_fails_the_start(tmp_path: Path) -> None:
    broken = PROGRAM.replace('return "model"', 'raise RuntimeError("no weights here")')
    with pytest.raises(ModelServerError, match="no weights here"):
        start_model_server(_spec(tmp_path, broken), tmp_path / "work", tmp_path / "server.log", workers=2)


def test_post_reuses_the_threads_connection(server: ModelServer) -> None:
    answers = [post(server.url, "/invocations", b"a", {"Content-Type": "text/csv"}) for _ in range(3)]
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert all(body.endswith(b":text/csv:A") for _, _, body in answers)
    client = endpoints._LOCAL.clients[server.url]
    assert client._connection is not None and client._connection.sock is not None
    local = client._connection.sock.getsockname()
    post(server.url, "/invocations", b"b", {})
    assert client._connection.sock.getsockname() == local


def test_post_retries_once_when_a_reused_connection_was_closed() -> None:
    """A server that closes a kept-alive connection between requests: the next request goes out on a new one."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    def serve() -> None:
        for _ in range(2):
            connection, _ = listener.accept()
            with connection:
                data = b""
                while b"\r\n\r\nz" not in data:
                    data += connection.recv(65536)
                connection.sendall(reply)  # then close, without saying so

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = ModelClient(f"http://127.0.0.1:{port}")
    try:
        assert client.post("/invocations", b"z", {})[0] == 200
        time.sleep(0.1)  # the close reaches the client before the next request
        assert client.post("/invocations", b"z", {})[0] == 200
    finally:
        client.close()
        thread.join(10)
        listener.close()


def test_sigterm_stops_a_worker_started_alone(tmp_path: Path) -> None:
    server = start_model_server(_spec(tmp_path), tmp_path / "work", tmp_path / "server.log")
    os.killpg(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while endpoints._alive(server.pid, server.start) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not endpoints._alive(server.pid, server.start)
    stop_server(server.pid, server.start)


LEARNING_PROGRAM = textwrap.dedent("""
    import json, os, random, sys

    def model_fn(model_dir):
        warm = "wave" in sys.modules  # before this server imports it itself
        import wave  # noqa: F401 (a library the first server brings in, which nothing else here imports)
        return {"warm": warm, "draw": random.random(), "parent": os.getppid()}

    def transform_fn(model, body, content_type, accept):
        return json.dumps(model).encode(), "application/json"
""")


def _model_of(server: ModelServer) -> dict[str, Any]:
    status, _, body = post(server.url, "/invocations", b"x", {})
    assert status == 200
    model: dict[str, Any] = json.loads(body)
    return model


def test_servers_fork_from_a_warm_interpreter_that_learns_their_imports(tmp_path: Path) -> None:
    forkserver.stop()  # a fork server of its own, which has learned nothing from earlier tests
    first = start_model_server(_spec(tmp_path, LEARNING_PROGRAM), tmp_path / "one", tmp_path / "one.log")
    second = start_model_server(_spec(tmp_path, LEARNING_PROGRAM), tmp_path / "two", tmp_path / "two.log")
    try:
        one, two = _model_of(first), _model_of(second)
        assert not one["warm"] and two["warm"]  # the fork server imported what the first server did
        assert one["draw"] != two["draw"]  # each fork draws its own random numbers
        assert os.getpgid(first.pid) == first.pid  # a session of its own: it outlives the fork server
        assert first.pid not in endpoints._CHILDREN  # forked by the fork server, not started by this process
    finally:
        stop_server(first.pid, first.start)
        stop_server(second.pid, second.start)


def test_without_the_fork_server_each_server_is_a_fresh_interpreter(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPFN_MODEL_SERVER_FORK", "0")
    server = start_model_server(_spec(tmp_path, LEARNING_PROGRAM), tmp_path / "work", tmp_path / "server.log")
    try:
        assert _model_of(server)["parent"] == os.getpid()
        assert server.pid in endpoints._CHILDREN
    finally:
        stop_server(server.pid, server.start)


def test_a_request_leaves_in_one_write() -> None:
    """ModelClient sends head and body together: the server wakes once per request, not twice."""
    listener = socket.create_server(("127.0.0.1", 0))
    first_reads: list[bytes] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            data = connection.recv(65536)
            first_reads.append(data)
            while not data.endswith(b"row-1,row-2"):
                data += connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = ModelClient(f"http://127.0.0.1:{listener.getsockname()[1]}")
    try:
        assert client.post("/invocations", b"row-1,row-2", {"Content-Type": "text/csv"})[0] == 200
    finally:
        client.close()
        thread.join(10)
        listener.close()
    assert first_reads[0].endswith(b"\r\n\r\nrow-1,row-2")  # the first read already has the body


def test_chunked_and_expect_requests_are_handed_over_mid_connection(server: ModelServer) -> None:
    """The event loop answers plain requests and passes a connection with a chunked or Expect request, and what it
    had read of it, to the blocking reader: the answers stay whole and in order on the one connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        plain = b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc"
        chunked = b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
        sock.sendall(plain + chunked)  # pipelined: the loop reads both, answers the first, hands over the second
        answers = b""
        while answers.count(b"HTTP/1.1 200 OK") < 2 or not answers.endswith(b":DE"):
            answers += sock.recv(65536)
        first, second = answers.split(b"HTTP/1.1 200 OK")[1:]
        assert first.endswith(b":ABC") and second.endswith(b":DE")
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        assert _exchange(sock, b"fg").endswith(b":FG")


def test_a_request_in_pieces_and_answers_the_client_is_slow_to_read(server: ModelServer) -> None:
    """The event loop answers a request only once it is all in, however it was cut, and holds answers a client
    does not read yet until it does, all in order."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        request = b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello"
        for piece in (request[:10], request[10:60], request[60:-2], request[-2:]):
            sock.sendall(piece)
            time.sleep(0.05)
        assert _exchange(sock, b"").endswith(b":HELLO")
        # Each answer is about as large as its request: 8 MB of answers the client reads only after sending all
        # its requests, far more than the sockets buffer.
        body = b"x" * 65536
        count = 128
        sent = threading.Thread(target=sock.sendall, args=(
            (b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)) * count,))
        sent.start()
        time.sleep(0.5)
        received = bytearray()
        while (len(received) < count * len(body) or not received.endswith(body.upper())
               or received.count(b"HTTP/1.1 200 OK") < count):
            chunk = sock.recv(1 << 20)
            assert chunk, "the server closed the connection"
            received += chunk
        sent.join(10)
        answers = received.split(b"HTTP/1.1 200 OK")[1:]
        assert len(answers) == count and all(answer.endswith(b":" + body.upper()) for answer in answers)


@pytest.mark.parametrize("request_bytes", [
    b"POST /invocations HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nhi",
    b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
])
def test_the_event_loop_closes_after_http_1_0_and_connection_close(server: ModelServer, request_bytes: bytes) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        response = _exchange(sock, request_bytes)
        assert response.endswith(b":HI") and b"Connection: close" in response.split(b"\r\n\r\n")[0]
        assert sock.recv(10) == b""


def test_the_event_loop_refuses_a_malformed_request_after_answering_the_ones_before(server: ModelServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\nokNONSENSE\r\n\r\n")
        received = b""
        while not received.endswith(b"malformed request line"):
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
        first, second = received.split(b"HTTP/1.1 ")[1:]
        assert first.startswith(b"200 ") and first.endswith(b":OK") and second.startswith(b"400 ")
        assert sock.recv(10) == b""


def test_a_large_body_then_a_pipelined_request_behind_it(server: ModelServer) -> None:
    """A transform payload of megabytes arrives over many reads of the event loop, the head first; what follows
    it on the connection, in the same read as its end, is the next request, answered after it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        body = bytes(range(97, 123)) * 400_000  # 10.4 MB
        head = b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(body)
        sock.sendall(head + body[:1000])
        time.sleep(0.1)  # the head is in alone: the server knows how much body to wait for
        sender = threading.Thread(target=sock.sendall, args=(
            body[1000:] + b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n\r\nnext",))
        sender.start()
        received = bytearray()
        while not received.endswith(b":NEXT"):
            chunk = sock.recv(1 << 20)
            assert chunk, "the server closed the connection"
            received += chunk
        sender.join(10)
        first, second = received.split(b"HTTP/1.1 200 OK")[1:]
        assert first.endswith(b":" + body.upper()) and second.endswith(b":NEXT")
