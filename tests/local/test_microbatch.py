"""Adaptive micro-batching in the model server: requests that arrive together share one ``predict`` only under
the framework's own handler chain and a scikit-learn classifier, and each answer is the same bytes it is alone.
Real models (scikit-learn), real server processes and sockets."""

from __future__ import annotations

import os
import socket
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sklearn")

from stepfn.local.sagemaker.endpoints import ModelClient, ModelServer, start_model_server, stop_server
from stepfn.local.sagemaker.hosted import HostedContainer
from stepfn.local.sagemaker.inference import Models, decode_csv, encode
from stepfn.local.sagemaker.modelserver import EventLoop

# A classifier under the default chain (the program defines only model_fn); each predict call appends its row
# count to a file beside the model, so a test can tell how many rows each call took, even in a server process.
CLASSIFIER = textwrap.dedent("""
    import os

    import numpy as np
    from sklearn.linear_model import LogisticRegression


    class Recording(LogisticRegression):
        def predict(self, X):
            with open(os.path.join(self.calls_dir, "calls"), "a") as calls:
                calls.write(f"{len(X)}\\n")
            return super().predict(X)


    def model_fn(model_dir):
        rng = np.random.default_rng(0)
        features = rng.normal(size=(300, 4))
        model = Recording().fit(features, (features @ [1.0, -2.0, 0.5, 1.5] > 0).astype(int))
        model.calls_dir = model_dir
        return model
""")

# The same model with the user's own predict_fn: it may depend on the whole batch, so it is never batched.
CUSTOM_PREDICT = CLASSIFIER + textwrap.dedent("""

    def predict_fn(data, model):
        return model.predict(data)
""")

# The user's own input_fn and output_fn (with the toolkit's context argument) around the default predict_fn:
# each runs per request, so the requests still share the predict. "bad" fails that request's input_fn.
CUSTOM_CODECS = CLASSIFIER + textwrap.dedent("""

    import json


    def input_fn(body, content_type, context):
        document = json.loads(body)
        if document.get("bad"):
            raise ValueError("this request's input_fn refuses it")
        return np.asarray(document["rows"], dtype="float64")


    def output_fn(prediction, accept):
        assert prediction.base is None  # a whole array of its own, as alone
        return json.dumps({"labels": prediction.tolist(), "rows": len(prediction)}), "application/json"
""")

REGRESSOR = textwrap.dedent("""
    import numpy as np
    from sklearn.linear_model import LinearRegression


    def model_fn(model_dir):
        features = np.random.default_rng(0).normal(size=(100, 4))
        return LinearRegression().fit(features, features @ [1.0, 2.0, 3.0, 4.0])
""")

CSV_REQUESTS = [b"0.5,1,-2,3\n", b"-1,0.25,0.5,-0.75\n2,2,2,2\n", b"1e-3,-4,0,7", b"3,-3,3,-3\n", b"0,0,0,1\n"]
JSON_REQUESTS = [b"[0.5, 1, -2, 3]", b"[[-1, 0.25, 0.5, -0.75], [2, 2, 2, 2]]", b"[[3, -3, 3, -3]]", b"[0, 0, 0, 1]"]


# A regressor recording its calls as the classifier does: its floats are not batch independent.
RECORDING_REGRESSOR = CLASSIFIER.replace("LogisticRegression", "LinearRegression").replace(
    "(features @ [1.0, -2.0, 0.5, 1.5] > 0).astype(int)", "features @ [1.0, -2.0, 0.5, 1.5]")


def _spec(tmp_path: Path, program: str, python: str | None = None) -> list[dict[str, Any]]:
    """The model as a variant; ``python``: served by a handler host under that interpreter (``hosted.py``), as a
    model of a framework environment is."""
    (tmp_path / "model").mkdir(exist_ok=True)
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "batched_model.py").write_text(program)
    container = {"ModelDir": str(tmp_path / "model"), "CodeDir": str(tmp_path / "code"),
                 "Program": "batched_model.py", "Framework": "sklearn", **({"Python": python} if python else {})}
    return [{"VariantName": "AllTraffic", "Weight": 1.0, "Containers": [container]}]


@pytest.fixture(params=["in-process", "handler-host"])
def load(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Models.load of a program, with its handler chain in this process or in a handler host (run here by this
    interpreter, which has scikit-learn: the host file is standalone, and batches by its own copy of the rule)."""
    loaded: list[Models] = []

    def make(program: str) -> Models:
        python = sys.executable if request.param == "handler-host" else None
        loaded.append(Models.load({"variants": _spec(tmp_path, program, python)}))
        return loaded[-1]

    yield make
    for models in loaded:
        for container in models.variants[0].containers:
            if isinstance(container, HostedContainer):
                container.close()


def _calls(tmp_path: Path) -> list[int]:
    path = tmp_path / "model" / "calls"
    rows = [int(line) for line in path.read_text().split()] if path.exists() else []
    path.unlink(missing_ok=True)
    return rows


def _requests(bodies: list[bytes], content_type: str, accept: str) -> list[tuple[str, str, dict[str, str], bytes]]:
    headers = {"host": "127.0.0.1:8080", "content-type": content_type, "accept": accept}
    return [("POST", "/invocations", headers, body) for body in bodies]


@pytest.mark.parametrize(("bodies", "content_type"), [(CSV_REQUESTS, "text/csv"), (JSON_REQUESTS, "application/json")])
@pytest.mark.parametrize("accept", ["text/csv", "application/json"])
def test_requests_together_share_one_predict_and_answer_the_same_bytes(
        tmp_path: Path, load: Any, bodies: list[bytes], content_type: str, accept: str) -> None:
    models = load(CLASSIFIER)
    requests = _requests(bodies, content_type, accept)
    alone = [models.respond(*request) for request in requests]
    single = [1, 2, 1, 1, 1] if content_type == "text/csv" else [1, 2, 1, 1]
    assert _calls(tmp_path) == single
    together = models.respond_many(requests)
    assert _calls(tmp_path) == [sum(single)]  # one predict for all of them
    assert [reply.status for reply in alone] == [200] * len(bodies)
    assert together == alone  # status, body bytes, content type and headers


def test_a_bad_request_among_others_gets_its_own_error(tmp_path: Path, load: Any) -> None:
    models = load(CLASSIFIER)
    requests = _requests([b"1,2,3,4\n", b"1,two,3,4\n", b"1,2,3\n", b"4,3,2,1\n"], "text/csv", "text/csv")
    alone = [models.respond(*request) for request in requests]
    _calls(tmp_path)
    together = models.respond_many(requests)
    assert together == alone
    assert [reply.status for reply in together] == [200, 400, 500, 200]
    # The short row does not stack with the others: it predicts (and fails) alone, the two good rows together.
    assert sorted(_calls(tmp_path)) == [1, 2]


def test_a_users_predict_fn_is_never_batched(tmp_path: Path, load: Any) -> None:
    models = load(CUSTOM_PREDICT)
    requests = _requests(CSV_REQUESTS, "text/csv", "text/csv")
    alone = [models.respond(*request) for request in requests]
    _calls(tmp_path)
    assert models.respond_many(requests) == alone
    assert _calls(tmp_path) == [1, 2, 1, 1, 1]  # one call per request, as they came


def test_a_users_input_fn_and_output_fn_still_share_the_predict(tmp_path: Path, load: Any) -> None:
    models = load(CUSTOM_CODECS)
    bodies = [b'{"rows": [[0.5, 1, -2, 3]]}', b'{"rows": [[-1, 0.25, 0.5, -0.75], [2, 2, 2, 2]]}', b'{"bad": true}',
              b'{"rows": [[1, 2, 3]]}', b'{"rows": [[3, -3, 3, -3]]}']
    requests = _requests(bodies, "application/json", "application/json")
    alone = [models.respond(*request) for request in requests]
    assert _calls(tmp_path) == [1, 2, 1, 1]  # the bad request never predicts; the short row fails in predict
    together = models.respond_many(requests)
    assert together == alone
    assert [reply.status for reply in together] == [200, 200, 500, 500, 200]
    assert sorted(_calls(tmp_path)) == [1, 4]  # the three good requests' rows in one predict; the short row alone


def test_a_regressor_is_not_batched(tmp_path: Path, load: Any) -> None:
    # A regressor's floats can change in the last digit with the rows beside them (BLAS sums differently).
    models = Models.load({"variants": _spec(tmp_path, REGRESSOR)})
    assert not models.variants[0].containers[0].batches
    models = load(RECORDING_REGRESSOR)
    requests = _requests(CSV_REQUESTS, "text/csv", "text/csv")
    alone = [models.respond(*request) for request in requests]
    _calls(tmp_path)
    assert models.respond_many(requests) == alone
    assert _calls(tmp_path) == [1, 2, 1, 1, 1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ModelServer]:
    started = start_model_server(_spec(tmp_path, CLASSIFIER), tmp_path / "work", tmp_path / "server.log")
    yield started
    stop_server(started.pid, started.start)


def test_pipelined_requests_over_the_wire_are_answered_together_and_in_order(
        server: ModelServer, tmp_path: Path) -> None:
    client = ModelClient(server.url)
    try:
        headers = {"Content-Type": "text/csv", "Accept": "text/csv"}
        alone = [client.post("/invocations", body, headers) for body in CSV_REQUESTS]
        assert _calls(tmp_path) == [1, 2, 1, 1, 1]
        together = client.post_many("/invocations", CSV_REQUESTS, headers)
    finally:
        client.close()
    assert [(status, body) for status, _, body in together] == [(status, body) for status, _, body in alone]
    # The server may take the pipelined requests in over more than one read; fewer calls than requests and the
    # rows of all of them is what batching means.
    calls = _calls(tmp_path)
    assert sum(calls) == 6 and len(calls) < len(CSV_REQUESTS)


def test_connections_waiting_together_share_a_predict(server: ModelServer, tmp_path: Path) -> None:
    """Requests from several connections that are in when the server reads are answered by one predict."""
    connections = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(4)]
    try:
        request = b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\nAccept: text/csv\r\n"
        answers = []
        for _ in range(20):  # until one round lands in one read of the server's
            for connection in connections:
                connection.sendall(request + b"Content-Length: 8\r\n\r\n1,2,3,4\n")
            answers = [_response(connection) for connection in connections]
            if max(_calls(tmp_path)) > 1:
                break
        else:
            pytest.fail("four connections' requests never shared a predict in 20 rounds")
        assert {answer.split(b"\r\n\r\n", 1)[1] for answer in answers} == {b"1\n"}
    finally:
        for connection in connections:
            connection.close()


def _response(connection: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError(f"the server closed the connection after {data!r}")
        data += chunk
    return data


# -- gathering: a worker yields the CPU before predicting while other connections are open and quiet ----------


@pytest.fixture
def in_process_loop(tmp_path: Path) -> Iterator[tuple[Any, Models]]:
    """An EventLoop over the classifier in a thread of this process, accepting on its own listener as the first
    process of a model server does; yields (connect, models). Shutting the listener down ends the loop."""
    models = Models.load({"variants": _spec(tmp_path, CLASSIFIER)})
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=EventLoop(models, listener).run, daemon=True)
    thread.start()
    clients: list[socket.socket] = []

    def connect() -> socket.socket:
        client = socket.create_connection(listener.getsockname(), timeout=10)
        client.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert _response(client).startswith(b"HTTP/1.1 200")  # the loop has it registered now
        clients.append(client)
        return client

    yield connect, models
    listener.shutdown(socket.SHUT_RDWR)
    thread.join(10)
    assert not thread.is_alive()
    for client in clients:
        client.close()
    listener.close()


INVOCATION = b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\nAccept: text/csv\r\n"


def _invocation(row: bytes) -> bytes:
    return INVOCATION + b"Content-Length: %d\r\n\r\n%s" % (len(row), row)


def _body(response: bytes) -> bytes:
    return response.split(b"\r\n\r\n", 1)[1]


def test_a_request_sent_while_the_worker_yields_joins_the_rounds_predict(
        in_process_loop: tuple[Any, Models], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    connect, models = in_process_loop
    first, second = connect(), connect()
    rows = [b"0.5,1,-2,3\n", b"-1,0.25,0.5,-0.75\n"]
    alone = [models.respond(*request).body for request in _requests(rows, "text/csv", "text/csv")]
    _calls(tmp_path)
    yields: list[int] = []

    def client_runs_meanwhile() -> None:  # what another process does while this one gives up the CPU
        yields.append(1)
        if len(yields) == 1:
            second.sendall(_invocation(rows[1]))
            time.sleep(0.2)

    monkeypatch.setattr(os, "sched_yield", client_runs_meanwhile)
    first.sendall(_invocation(rows[0]))
    assert [_body(_response(first)), _body(_response(second))] == alone
    assert _calls(tmp_path) == [2]  # both requests, one predict
    assert yields == [1]


def test_a_lone_connection_never_yields(in_process_loop: tuple[Any, Models], monkeypatch: pytest.MonkeyPatch) -> None:
    connect, _ = in_process_loop
    client = connect()
    yields: list[int] = []
    monkeypatch.setattr(os, "sched_yield", lambda: yields.append(1))
    for _ in range(5):
        client.sendall(_invocation(b"1,2,3,4\n"))
        assert _body(_response(client)) == b"1\n"
    assert yields == []  # nobody else to wait for: the request is answered straight away
    other = connect()
    yields.clear()
    client.sendall(_invocation(b"1,2,3,4\n"))
    assert _body(_response(client)) == b"1\n"  # a quiet connection beside it: one yield, then the answer
    assert yields == [1]
    other.close()


def test_a_client_that_half_closes_after_its_request_still_gets_the_answer(
        in_process_loop: tuple[Any, Models], monkeypatch: pytest.MonkeyPatch) -> None:
    """The look for more requests after the yield skips connections already in the round: reading this one's end
    of stream there would close it before its answer went out."""
    connect, _ = in_process_loop
    leaving, _quiet = connect(), connect()
    monkeypatch.setattr(os, "sched_yield", lambda: time.sleep(0.2))  # the end of stream is in by the second look
    leaving.sendall(_invocation(b"1,2,3,4\n"))
    leaving.shutdown(socket.SHUT_WR)
    assert _body(_response(leaving)) == b"1\n"
    assert leaving.recv(100) == b""  # then the server closes it


def test_small_csv_requests_decode_as_numpys_string_cast_did(tmp_path: Path) -> None:
    """The small-body path converts strings straight to floats; the values and what is refused are those of
    casting an array of the strings, as it did before."""
    import numpy as np

    def by_cast(body: bytes) -> Any:
        rows = [line.split(",") for line in body.decode().strip().splitlines() if line.strip()]
        return np.array(rows).astype(float)

    rng = np.random.default_rng(3)
    values = [repr(v) for v in (rng.normal(size=200) * 10.0 ** rng.integers(-300, 300, size=200)).tolist()]
    values += ["1e400", "4.9e-325", "-0", "+1.5", " 2 ", "1_000", "nan", "-inf", "Infinity", ".5", "1.", "\t3"]
    for start in range(0, len(values), 4):
        body = ("\n".join(",".join(values[start:start + 2]) for _ in range(2)) + "\n").encode()
        expected, got = by_cast(body), decode_csv(body)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.tobytes() == expected.tobytes(), body
    for bad in (b"1,x\n", b"0x10,1\n", b"1,,2\n", b"1__0,2\n", b"1,2\n3\n"):
        with pytest.raises(ValueError):
            by_cast(bad)
        with pytest.raises(ValueError):
            decode_csv(bad)
    assert decode_csv(b"").shape == by_cast(b"\n").shape == (0,)


def test_csv_encoding_of_a_column_is_one_value_a_line() -> None:
    import numpy as np

    for column in (np.array([0, 1, 1]), np.array([0.1, -2.5e-300, np.nan]), np.array(["a", "b"]), np.array([True])):
        assert encode(column, "text/csv") == "".join(f"{value}\n" for value in column.tolist()).encode()
    assert encode(np.array([]), "text/csv") == b""
