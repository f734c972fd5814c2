"""Adaptive micro-batching in the model server: requests that arrive together share one ``predict`` only under
the framework's own handler chain and a scikit-learn classifier, and each answer is the same bytes it is alone.
Real models (scikit-learn), real server processes and sockets."""

from __future__ import annotations

import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sklearn")

from stepfn.local.sagemaker.endpoints import ModelClient, ModelServer, start_model_server, stop_server
from stepfn.local.sagemaker.inference import Models

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

REGRESSOR = textwrap.dedent("""
    import numpy as np
    from sklearn.linear_model import LinearRegression


    def model_fn(model_dir):
        features = np.random.default_rng(0).normal(size=(100, 4))
        return LinearRegression().fit(features, features @ [1.0, 2.0, 3.0, 4.0])
""")

CSV_REQUESTS = [b"0.5,1,-2,3\n", b"-1,0.25,0.5,-0.75\n2,2,2,2\n", b"1e-3,-4,0,7", b"3,-3,3,-3\n", b"0,0,0,1\n"]
JSON_REQUESTS = [b"[0.5, 1, -2, 3]", b"[[-1, 0.25, 0.5, -0.75], [2, 2, 2, 2]]", b"[[3, -3, 3, -3]]", b"[0, 0, 0, 1]"]


def _spec(tmp_path: Path, program: str) -> list[dict[str, Any]]:
    (tmp_path / "model").mkdir(exist_ok=True)
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "batched_model.py").write_text(program)
    container = {"ModelDir": str(tmp_path / "model"), "CodeDir": str(tmp_path / "code"),
                 "Program": "batched_model.py", "Framework": "sklearn"}
    return [{"VariantName": "AllTraffic", "Weight": 1.0, "Containers": [container]}]


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
        tmp_path: Path, bodies: list[bytes], content_type: str, accept: str) -> None:
    models = Models.load({"variants": _spec(tmp_path, CLASSIFIER)})
    requests = _requests(bodies, content_type, accept)
    alone = [models.respond(*request) for request in requests]
    single = [1, 2, 1, 1, 1] if content_type == "text/csv" else [1, 2, 1, 1]
    assert _calls(tmp_path) == single
    together = models.respond_many(requests)
    assert _calls(tmp_path) == [sum(single)]  # one predict for all of them
    assert [reply.status for reply in alone] == [200] * len(bodies)
    assert together == alone  # status, body bytes, content type and headers


def test_a_bad_request_among_others_gets_its_own_error(tmp_path: Path) -> None:
    models = Models.load({"variants": _spec(tmp_path, CLASSIFIER)})
    requests = _requests([b"1,2,3,4\n", b"1,two,3,4\n", b"1,2,3\n", b"4,3,2,1\n"], "text/csv", "text/csv")
    alone = [models.respond(*request) for request in requests]
    _calls(tmp_path)
    together = models.respond_many(requests)
    assert together == alone
    assert [reply.status for reply in together] == [200, 400, 500, 200]
    # The short row does not stack with the others: it predicts (and fails) alone, the two good rows together.
    assert sorted(_calls(tmp_path)) == [1, 2]


def test_a_users_predict_fn_is_never_batched(tmp_path: Path) -> None:
    models = Models.load({"variants": _spec(tmp_path, CUSTOM_PREDICT)})
    assert not models.variants[0].containers[0].batches
    requests = _requests(CSV_REQUESTS, "text/csv", "text/csv")
    alone = [models.respond(*request) for request in requests]
    _calls(tmp_path)
    assert models.respond_many(requests) == alone
    assert _calls(tmp_path) == [1, 2, 1, 1, 1]  # one call per request, as they came


def test_a_regressor_is_not_batched(tmp_path: Path) -> None:
    # A regressor's floats can change in the last digit with the rows beside them (BLAS sums differently).
    models = Models.load({"variants": _spec(tmp_path, REGRESSOR)})
    assert not models.variants[0].containers[0].batches


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
        data += connection.recv(65536)
    return data
