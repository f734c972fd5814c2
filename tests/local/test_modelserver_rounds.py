"""The model server's first process holds every connection and hands rounds of requests to idle workers: answers
stay with their connections and in order under concurrency, every process predicts, and a worker that dies
fails only the round it held. Real server processes and sockets."""

from __future__ import annotations

import contextlib
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

from stepfn.local.sagemaker.endpoints import ModelServer, start_model_server, stop_server

# Each answer names the process that computed it and echoes the body, so a reply can be matched to its request;
# DELAY seconds of work a request.
ECHO = textwrap.dedent("""
    import os, time

    def model_fn(model_dir):
        return "model"

    def transform_fn(model, body, content_type, accept):
        time.sleep(DELAY)
        return b"%d:%s" % (os.getpid(), body), "text/plain"
""")

# A model that, for a body starting with "hold", records its process in the calls folder and waits until the
# test creates the release file: the test sees where each round went, and decides when it ends.
HOLD = textwrap.dedent("""
    import os, time
    from pathlib import Path

    def model_fn(model_dir):
        return Path(model_dir)

    def transform_fn(model, body, content_type, accept):
        if body.startswith(b"hold"):
            calls = model / "calls"
            (calls / ("%s-%d" % (body.decode(), os.getpid()))).write_text("")
            deadline = time.monotonic() + 60
            while not (model / "release").exists() and time.monotonic() < deadline:
                time.sleep(0.005)
        return b"%d:%s" % (os.getpid(), body), "text/plain"
""")


def _spec(tmp_path: Path, program: str) -> list[dict[str, Any]]:
    (tmp_path / "model" / "calls").mkdir(parents=True, exist_ok=True)
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "inference.py").write_text(program)
    container = {"ModelDir": str(tmp_path / "model"), "CodeDir": str(tmp_path / "code"), "Program": "inference.py",
                 "Framework": "generic"}
    return [{"VariantName": "AllTraffic", "Weight": 1.0, "Containers": [container]}]


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.fixture
def hold_server(tmp_path: Path) -> Iterator[ModelServer]:
    server = start_model_server(_spec(tmp_path, HOLD), tmp_path / "work", tmp_path / "server.log", workers=2)
    yield server
    (tmp_path / "model" / "release").write_text("")
    stop_server(server.pid, server.start)


def _invocation(body: bytes) -> bytes:
    return b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


class _Responses:
    """Whole responses read one after another from a raw socket (Content-Length framed)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def next(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length"))
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(lines[0].split()[1]), body

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed with {self.buffer!r} unread")
        self.buffer += chunk


def _wait_for_calls(tmp_path: Path, count: int) -> list[str]:
    deadline = time.monotonic() + 30
    while len(calls := sorted(p.name for p in (tmp_path / "model" / "calls").iterdir())) < count:
        assert time.monotonic() < deadline, calls
        time.sleep(0.01)
    return calls


@pytest.mark.parametrize("delay", [0, 0.002], ids=["cheap", "spread"])
def test_many_connections_get_their_own_answers_in_order_with_workers(tmp_path: Path, delay: float) -> None:
    server = start_model_server(_spec(tmp_path, ECHO.replace("DELAY", str(delay))), tmp_path / "work",
                                tmp_path / "server.log", workers=3)
    workers = set(_children(server.pid))
    pids = {server.pid, *workers}
    seen: set[int] = set()
    failures: list[str] = []

    def client(number: int) -> None:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            responses = _Responses(sock)
            for start in range(0, 200, 4):
                # Four pipelined at a time: their answers must come back in the order they were sent.
                bodies = [b"client %d request %d" % (number, i) for i in range(start, start + 4)]
                sock.sendall(b"".join(_invocation(body) for body in bodies))
                for body in bodies:
                    status, answer = responses.next()
                    pid, _, echoed = answer.partition(b":")
                    if status != 200 or echoed != body or int(pid) not in pids:
                        failures.append(f"{body!r} got {status} {answer!r}")
                        return
                    seen.add(int(pid))

    try:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not any(thread.is_alive() for thread in threads)
        assert failures == []
        # Connections that pipeline are dealt for good to every process in turn (the first one included).
        assert seen == pids
    finally:
        stop_server(server.pid, server.start)


def _holders(server_port: int, client_port: int) -> set[int]:
    """The processes holding the server's end of the connection from ``client_port`` (from /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)) == (server_port, client_port):
            inodes.add(f"socket:[{fields[9]}]")
    holders = set()
    for process in Path("/proc").iterdir():
        if process.name.isdigit():
            with contextlib.suppress(OSError):
                if any(os.readlink(fd) in inodes for fd in (process / "fd").iterdir()):
                    holders.add(int(process.name))
    return holders


def test_a_pipelining_or_large_connection_is_dealt_for_good_and_one_at_a_time_ones_stay(tmp_path: Path) -> None:
    server = start_model_server(_spec(tmp_path, ECHO.replace("DELAY", "0")), tmp_path / "work",
                                tmp_path / "server.log", workers=3)
    workers = set(_children(server.pid))
    try:
        def one_at_a_time(sock: socket.socket, responses: _Responses, count: int) -> set[int]:
            served = set()
            for i in range(count):
                sock.sendall(_invocation(b"one %d" % i))
                status, answer = responses.next()
                assert status == 200 and answer.endswith(b":one %d" % i)
                served.add(int(answer.partition(b":")[0]))
            return served

        # A connection that sends one request at a time stays with the first process (its rounds are answered
        # there or shipped, as they cost): the kernel shows which process holds its socket.
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            one_at_a_time(sock, _Responses(sock), 20)
            assert _holders(server.port, sock.getsockname()[1]) == {server.pid}
        # Pipelining connections are dealt in turn, the three workers first, then the first process: each is served
        # by that one process to the end, in order, whatever it sends afterwards.
        dealt = []
        for n in range(3):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            responses = _Responses(sock)
            bodies = [b"piped %d %d" % (n, i) for i in range(5)]
            sock.sendall(b"".join(_invocation(body) for body in bodies))
            served = set()
            for body in bodies:
                status, answer = responses.next()
                assert status == 200 and answer.partition(b":")[2] == body
                served.add(int(answer.partition(b":")[0]))
            served |= one_at_a_time(sock, responses, 5)
            assert len(served) == 1
            dealt.append(served.pop())
            assert _holders(server.port, sock.getsockname()[1]) == {dealt[-1]}
            sock.close()
        assert sorted(dealt) == sorted(workers)
        # A request larger than 64 KB, sent alone, deals its connection too (the first process's turn, then the
        # workers' again).
        owners = []
        for n in range(3):
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
                responses = _Responses(sock)
                body = b"large %d " % n + b"x" * 200_000
                sock.sendall(_invocation(body))
                status, answer = responses.next()
                assert status == 200 and answer.partition(b":")[2] == body
                owners.append(int(answer.partition(b":")[0]))
        assert owners[0] == server.pid and len(set(owners[1:]) & workers) == 2
    finally:
        stop_server(server.pid, server.start)


def test_every_worker_predicts_when_rounds_overlap_and_the_next_waits(hold_server: ModelServer,
                                                                      tmp_path: Path) -> None:
    # Rounds sent each once the one before is held in a model: the first goes to an idle worker, the second to the
    # other (the first is busy), the third waits until a worker is free.
    socks = [socket.create_connection(("127.0.0.1", hold_server.port), timeout=30) for _ in range(3)]
    try:
        for number, sock in enumerate(socks[:2]):
            sock.sendall(_invocation(b"hold%d" % number))
            _wait_for_calls(tmp_path, number + 1)
        socks[2].sendall(_invocation(b"hold2"))
        time.sleep(0.3)
        assert len(_wait_for_calls(tmp_path, 2)) == 2  # no worker free: it waits, and is not answered here
        (tmp_path / "model" / "release").write_text("")
        answers = [_Responses(sock).next() for sock in socks]
        assert [status for status, _ in answers] == [200, 200, 200]
        assert [body.split(b":")[1] for _, body in answers] == [b"hold0", b"hold1", b"hold2"]
        workers = _children(hold_server.pid)
        calls = _wait_for_calls(tmp_path, 3)
        by_round = [int(name.split("-")[1]) for name in calls]
        assert sorted(by_round[:2]) == sorted(workers)
        assert by_round[2] in workers
    finally:
        for sock in socks:
            sock.close()


def test_a_worker_killed_mid_round_fails_that_round_only(hold_server: ModelServer, tmp_path: Path) -> None:
    workers = _children(hold_server.pid)
    with socket.create_connection(("127.0.0.1", hold_server.port), timeout=30) as sock:
        responses = _Responses(sock)
        # The first round goes to an idle worker (how long rounds take is not known yet). One request: a
        # connection that pipelines would be dealt to a process for good instead.
        sock.sendall(_invocation(b"hold-a"))
        (call,) = _wait_for_calls(tmp_path, 1)
        victim = int(call.split("-")[-1])
        assert victim in workers
        os.kill(victim, signal.SIGKILL)
        assert responses.next()[0] == 500
        (tmp_path / "model" / "release").write_text("")
        # The same connection, and new ones, are answered from then on; the dead worker is not used again.
        for number in range(6):
            sock.sendall(_invocation(b"after %d" % number))
            status, body = responses.next()
            assert status == 200 and body.split(b":")[1] == b"after %d" % number
            assert int(body.split(b":")[0]) != victim
    with socket.create_connection(("127.0.0.1", hold_server.port), timeout=30) as sock:
        sock.sendall(_invocation(b"new"))
        assert _Responses(sock).next()[0] == 200
        # With no worker left, the first process answers everything itself.
        (survivor,) = set(workers) - {victim}
        os.kill(survivor, signal.SIGKILL)
        # Dead (its sockets closed) before the pipelined requests below: the connection is then not dealt to it.
        deadline = time.monotonic() + 30
        while True:
            try:
                if Path(f"/proc/{survivor}/stat").read_text().rpartition(")")[2].split()[0] == "Z":
                    break
            except FileNotFoundError:  # reaped already
                break
            assert time.monotonic() < deadline
            time.sleep(0.01)
        responses = _Responses(sock)
        for number in range(3):
            sock.sendall(_invocation(b"x%d" % number) * 2)
            answers = [responses.next() for _ in range(2)]
            assert {status for status, _ in answers} <= {200, 500}  # a round the survivor held when killed fails
        sock.sendall(_invocation(b"last"))
        assert responses.next() == (200, b"%d:last" % hold_server.pid)
