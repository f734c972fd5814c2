"""The handler host (handlerhost.py) under interpreters other than stepfn's, and the model server's client of it.

The host is what runs a model's handler chain in its framework environment; here it runs under Debian's own
Python (a different interpreter, no stepfn on its path) and, where this machine has one, a Python 3.7 (the
scikit-learn 0.20.0 image's), so the file is checked for that Python's syntax by running it.
"""

from __future__ import annotations

import ast
import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stepfn.local.sagemaker import endpoints, handlerhost
from stepfn.local.sagemaker.endpoints import start_model_server, stop_server
from stepfn.local.sagemaker.envs import JobEnvironmentError, find_python, installed_version, same_release
from stepfn.local.sagemaker.hosted import HOST_FILE, HandlerHostError, HostedContainer
from stepfn.local.sagemaker.inference import InferenceError, Models
from stepfn.local.sagemaker.models import serving_environment

PROGRAM = '''\
import json
import os

def model_fn(model_dir):
    if os.environ.get("BREAK_LOADING"):
        raise RuntimeError("the model file is corrupt")
    with open(os.path.join(model_dir, "weights.json")) as handle:
        return json.load(handle)

def input_fn(body, content_type):
    print("user code prints go to the log, not into the frames")
    if content_type != "application/json":
        raise ValueError("only JSON, got " + str(content_type))
    if not isinstance(body, str):  # the scikit-learn container's Flask worker hands a JSON body over as text
        raise TypeError("input_fn got " + type(body).__name__)
    return json.loads(body)

def predict_fn(rows, model):
    if rows == "crash":
        os._exit(3)
    return [sum(w * x for w, x in zip(model["weights"], row)) + model["bias"] for row in rows]

def output_fn(prediction, accept):
    return json.dumps({"predictions": prediction, "pid": os.getpid()}), "application/json"
'''


def _interpreters() -> list[str]:
    found = ["/usr/bin/python3"] if Path("/usr/bin/python3").exists() else []
    old = find_python("3.7")
    return [*found, *([old] if old else [])]


INTERPRETERS = _interpreters()


@pytest.fixture
def model(tmp_path: Path) -> dict[str, str]:
    model_dir = tmp_path / "container-0" / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "weights.json").write_text(json.dumps({"weights": [2.0, 3.0], "bias": 1.0}))
    (model_dir / "code" / "inference.py").write_text(PROGRAM)
    return {"ModelDir": str(model_dir), "CodeDir": str(model_dir / "code"), "Program": "inference.py",
            "Framework": "sklearn"}


@contextlib.contextmanager
def running_host(python: str, model: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A handler host for ``model`` under ``python``, past its ``ready`` frame; leaving closes its stdin, which
    ends it, and checks that it exited 0."""
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(model))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    process = subprocess.Popen([python, str(HOST_FILE), str(spec_file)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert process.stdin is not None and process.stdout is not None
    try:
        assert handlerhost.read_frame(process.stdout) == [b"ready"]
        yield process
    finally:
        process.stdin.close()
        assert process.wait(timeout=30) == 0
        process.stdout.close()


def test_the_host_file_parses_as_python_3_7() -> None:
    # The images' oldest Python: the host must not use syntax newer than it (walrus, match, ...).
    ast.parse(HOST_FILE.read_text(), feature_version=(3, 7))


@pytest.mark.skipif(not INTERPRETERS, reason="no interpreter other than stepfn's on this machine")
@pytest.mark.parametrize("python", INTERPRETERS)
def test_frames_round_trip_through_a_user_chain_and_errors_carry_the_traceback(
        python: str, model: dict[str, str], tmp_path: Path) -> None:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(model))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    process = subprocess.Popen([python, str(HOST_FILE), str(spec_file)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert process.stdin is not None and process.stdout is not None
    try:
        assert handlerhost.read_frame(process.stdout) == [b"ready"]
        handlerhost.write_frame(process.stdin, [b"invoke", b"application/json", b"", b"[[1, 1], [0, 2]]"])
        status, content_type, body = handlerhost.read_frame(process.stdout) or []
        assert (status, content_type) == (b"ok", b"application/json")
        answer = json.loads(body)
        assert answer["predictions"] == [6.0, 7.0]
        assert answer["pid"] == process.pid  # answered by the host, under ``python``
        # A body with every byte value and a frame's worth of length comes back intact through the user's chain.
        handlerhost.write_frame(process.stdin, [b"invoke", b"text/csv", b"", bytes(range(256)) * 1000])
        fields = handlerhost.read_frame(process.stdout) or []
        assert fields[:3] == [b"error", b"500", b"ValueError: only JSON, got text/csv"]
        remote = fields[3].decode()
        assert "Traceback (most recent call last)" in remote and 'inference.py", line' in remote
        assert "in input_fn" in remote
        # The host goes on answering after a failed request.
        handlerhost.write_frame(process.stdin, [b"invoke", b"application/json", b"", b"[[0, 0]]"])
        fields = handlerhost.read_frame(process.stdout) or []
        assert json.loads(fields[2])["predictions"] == [1.0]
        # A worker's round in one frame: four fields a request in, four an answer out, each answer its own.
        handlerhost.write_frame(process.stdin, [b"batch", b"application/json", b"", b"[[1, 1]]", b"",
                                                b"text/csv", b"", b"1,1", b"", b"application/json", b"", b"[[0, 2]]", b""])
        fields = handlerhost.read_frame(process.stdout) or []
        assert len(fields) == 13 and fields[0] == b"answers"
        assert fields[1:3] == [b"ok", b"application/json"] and json.loads(fields[3])["predictions"] == [6.0]
        assert fields[5:8] == [b"error", b"500", b"ValueError: only JSON, got text/csv"] and b"in input_fn" in fields[8]
        assert fields[9:11] == [b"ok", b"application/json"] and json.loads(fields[11])["predictions"] == [7.0]
    finally:
        process.stdin.close()
        assert process.wait(timeout=30) == 0  # the end of its requests ends it
        stderr = process.stderr.read().decode() if process.stderr else ""
        process.stdout.close()
        if process.stderr:
            process.stderr.close()
    assert "user code prints go to the log" in stderr


@pytest.mark.skipif(not INTERPRETERS, reason="no interpreter other than stepfn's on this machine")
def test_the_model_server_side_answers_errors_as_today_and_restarts_a_crashed_host(model: dict[str, str]) -> None:
    spec = {**model, "Python": INTERPRETERS[-1]}
    models = Models.load({"variants": [{"VariantName": "AllTraffic", "Containers": [spec]}]})
    container = models.variants[0].containers[0]
    assert isinstance(container, HostedContainer)
    headers = {"host": "127.0.0.1:8080", "content-type": "application/json"}
    try:
        reply = models.respond("POST", "/invocations", headers, b"[[1, 2]]")
        assert (reply.status, json.loads(reply.body)["predictions"]) == (200, [9.0])
        first_pid = json.loads(reply.body)["pid"]
        # A failing handler: a 500 with the exception, as the in-process chain answers it.
        reply = models.respond("POST", "/invocations", {**headers, "content-type": "text/csv"}, b"1,2")
        assert (reply.status, reply.body) == (500, b"ValueError: only JSON, got text/csv")
        # A host that dies on a request: that request fails, the next is answered by a new host.
        reply = models.respond("POST", "/invocations", headers, b'"crash"')
        assert reply.status == 500 and b"handler host exited (code 3)" in reply.body
        reply = models.respond("POST", "/invocations", headers, b"[[1, 0]]")
        assert reply.status == 200
        answer = json.loads(reply.body)
        assert answer["predictions"] == [3.0] and answer["pid"] != first_pid
        # Killed from outside between requests: started again too.
        assert container.process is not None
        os.kill(container.process.pid, signal.SIGKILL)
        container.process.wait()
        assert models.respond("POST", "/invocations", headers, b"[[0, 1]]").status == 200
    finally:
        container.close()


@pytest.mark.skipif(not INTERPRETERS, reason="no interpreter other than stepfn's on this machine")
def test_a_round_goes_to_the_host_in_one_frame_and_each_request_is_answered_as_alone(model: dict[str, str]) -> None:
    models = Models.load({"variants": [{"VariantName": "AllTraffic", "Containers": [{**model, "Python": INTERPRETERS[-1]}]}]})
    container = models.variants[0].containers[0]
    assert isinstance(container, HostedContainer)
    headers = {"host": "127.0.0.1:8080", "content-type": "application/json"}
    requests = [("POST", "/invocations", headers, b"[[1, 2]]"),
                ("POST", "/invocations", {**headers, "content-type": "text/csv"}, b"1,2"),
                ("POST", "/invocations", headers, b"[[0, 1], [1, 0]]")]
    frames: list[list[bytes]] = []
    write_frame = handlerhost.write_frame

    def counting(stream: Any, fields: list[bytes]) -> None:
        frames.append(fields)
        write_frame(stream, fields)

    try:
        alone = [models.respond(*request) for request in requests]
        pids = {json.loads(reply.body)["pid"] for reply in alone if reply.status == 200}
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(handlerhost, "write_frame", counting)
            together = models.respond_many(requests)
        assert [frame[0] for frame in frames] == [b"batch"]  # one round trip for the round
        assert together == alone
        assert [reply.status for reply in together] == [200, 500, 200]
        # A request that kills the host in a batch fails as it does alone; the others are answered by the host
        # started after it (each sent again alone).
        crash = ("POST", "/invocations", headers, b'"crash"')
        replies = models.respond_many([requests[0], crash, requests[2]])
        assert replies[1].status == 500 and b"handler host exited (code 3)" in replies[1].body
        assert [replies[0], replies[2]] != [alone[0], alone[2]]  # a new host: another pid in the answers
        assert [reply.status for reply in replies] == [200, 500, 200]
        assert [json.loads(reply.body)["predictions"] for reply in (replies[0], replies[2])] == [[9.0], [4.0, 3.0]]
        assert not {json.loads(reply.body)["pid"] for reply in (replies[0], replies[2])} & pids
    finally:
        container.close()


@pytest.mark.skipif(not INTERPRETERS, reason="no interpreter other than stepfn's on this machine")
def test_a_model_that_fails_to_load_in_the_host_reports_the_hosts_traceback(
        model: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREAK_LOADING", "1")
    with pytest.raises(InferenceError) as caught:
        HostedContainer.load({**model, "Python": INTERPRETERS[0]})
    assert "RuntimeError: the model file is corrupt" in str(caught.value)
    assert "in model_fn" in str(caught.value)  # the traceback from the host, not from the server


def test_a_host_error_keeps_its_status_and_remote_traceback() -> None:
    frame = handlerhost.error_frame(handlerhost.InferenceError("Content type x is not supported", 415))
    assert frame[:3] == [b"error", b"415", b"Content type x is not supported"]
    error = HandlerHostError("boom", 500, "Traceback ...\nValueError: boom\n")
    assert error.status == 500 and any("In the handler host" in note for note in error.__notes__)


SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:0.20.0-cpu-py3"


def test_models_are_served_where_their_jobs_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sklearn")
    monkeypatch.setenv("STEPFN_ENV_DIR", str(tmp_path / "envs"))
    lines: list[str] = []
    # host: stepfn's Python, whatever the image.
    monkeypatch.setenv("STEPFN_JOB_ENV", "host")
    assert serving_environment(SKLEARN_IMAGE, "sklearn", "inference.py", tmp_path, lines.append) == {}
    # An image version the table lacks is served in stepfn's Python under auto, as before environments (under
    # auto a known version is served where its job ran: stepfn's Python only with the image's scikit-learn
    # release, tested below and in test_job_environments.py).
    monkeypatch.setenv("STEPFN_JOB_ENV", "auto")
    unknown = SKLEARN_IMAGE.replace("0.20.0", "0.19.0")
    assert serving_environment(unknown, "sklearn", "inference.py", tmp_path, lines.append) == {}
    monkeypatch.setenv("STEPFN_JOB_ENV", "image")
    # XGBoost algorithm mode (no entry point) is stepfn's emulator, as its training is.
    xgboost = SKLEARN_IMAGE.replace("sagemaker-scikit-learn:0.20.0-cpu-py3", "sagemaker-xgboost:1.7-1")
    assert serving_environment(xgboost, "xgboost", None, tmp_path, lines.append) == {}
    with pytest.raises(JobEnvironmentError, match=r"no pinned environment for sklearn 0\.19\.0"):
        serving_environment(unknown, "sklearn", "inference.py", tmp_path, lines.append)
    assert not (tmp_path / "envs").exists()  # nothing was built
    assert lines == []


def _envs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mode: str) -> None:
    monkeypatch.setenv("STEPFN_JOB_ENV", mode)
    monkeypatch.setenv("STEPFN_ENV_DIR", os.environ.get("STEPFN_TEST_ENV_DIR") or str(tmp_path / "envs"))


def _serve(spec: dict[str, str], body: bytes, content_type: str) -> tuple[int, bytes]:
    models = Models.load({"variants": [{"VariantName": "AllTraffic", "Containers": [spec]}]})
    container = models.variants[0].containers[0]
    assert isinstance(container, HostedContainer)
    try:
        reply = models.respond("POST", "/invocations",
                               {"host": "127.0.0.1", "content-type": content_type, "accept": "application/json"}, body)
        return reply.status, reply.body
    finally:
        container.close()


@pytest.mark.slow
@pytest.mark.skipif(find_python("3.7") is None, reason="no Python 3.7 (the scikit-learn 0.20.0 image's) here")
def test_the_scikit_learn_defaults_serve_a_0_20_model_in_its_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No entry point: the container's own model.joblib loader (scikit-learn 0.20 has joblib only as
    sklearn.externals.joblib) and CSV decoding, in the image's Python 3.7; by default (auto), since stepfn's own
    scikit-learn is another release."""
    if same_release(installed_version("sklearn"), "0.20.0"):
        pytest.skip("stepfn's own Python has scikit-learn 0.20: by default the model is served there")
    _envs(monkeypatch, tmp_path, "auto")
    lines: list[str] = []
    found = serving_environment(SKLEARN_IMAGE, "sklearn", None, tmp_path, lines.append)
    assert "so the image's environment runs it (STEPFN_JOB_ENV=host runs it in stepfn's own Python)" in lines[0]
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    fit = ("import sys\nfrom sklearn.externals import joblib\nfrom sklearn.linear_model import LinearRegression\n"
           "model = LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])\n"
           "joblib.dump(model, sys.argv[1])\n")
    subprocess.run([found["Python"], "-c", fit, str(model_dir / "model.joblib")], check=True, timeout=120)
    status, body = _serve({**found, "ModelDir": str(model_dir), "CodeDir": str(model_dir), "Program": "",
                           "Framework": "sklearn"}, b"3\n4\n", "text/csv")
    assert status == 200, body
    assert json.loads(body) == pytest.approx([7.0, 9.0])


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("STEPFN_TEST_FRAMEWORK_ENVS") != "1",
                    reason="downloads PyTorch (hundreds of MB): set STEPFN_TEST_FRAMEWORK_ENVS=1")
def test_a_pytorch_model_is_served_without_torch_in_stepfns_python(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a user gets by default (auto): stepfn's Python has no torch, so the model is served by the PyTorch
    image's environment, with the container's default handlers (TorchScript model.pt, JSON tensors)."""
    if same_release(installed_version("pytorch"), "2.3.0"):
        pytest.skip("stepfn's Python has torch 2.3: by default the model is served there")
    _envs(monkeypatch, tmp_path, "auto")
    image = "763104880407.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.3-cpu-py311"
    found = serving_environment(image, "pytorch", None, tmp_path, lambda line: None)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    script = ("import sys, torch\nlinear = torch.nn.Linear(2, 1)\n"
              "with torch.no_grad():\n    linear.weight.copy_(torch.tensor([[2.0, 3.0]]))\n    linear.bias.fill_(1.0)\n"
              "torch.jit.script(linear).save(sys.argv[1])\n")
    subprocess.run([found["Python"], "-c", script, str(model_dir / "model.pt")], check=True, timeout=300)
    status, body = _serve({**found, "ModelDir": str(model_dir), "CodeDir": str(model_dir), "Program": "",
                           "Framework": "pytorch"}, b"[[1, 1], [0, 2]]", "application/json")
    assert status == 200, body
    assert [row[0] for row in json.loads(body)] == pytest.approx([6.0, 7.0])


@pytest.mark.skipif(not INTERPRETERS, reason="no interpreter other than stepfn's on this machine")
def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _is_host(pid: int) -> bool:
    return str(HOST_FILE).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()


def test_each_model_server_worker_has_its_own_host_and_they_stop_with_the_server(
        model: dict[str, str], tmp_path: Path) -> None:
    variants = [{"VariantName": "AllTraffic", "Weight": 1.0, "Containers": [{**model, "Python": INTERPRETERS[0]}]}]
    server = start_model_server(variants, tmp_path / "work", tmp_path / "server.log", workers=2)
    hosts: set[int] = set()
    try:
        # Each process (the first one, which answers cheap rounds itself, and the two workers) loaded its own
        # host: one host child each.
        processes = [server.pid, *(pid for pid in _children(server.pid) if not _is_host(pid))]
        assert len(processes) == 3
        for process in processes:
            (host,) = [pid for pid in _children(process) if _is_host(pid)]
            hosts.add(host)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("POST", "/invocations", body=b"[[1, 2]]", headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read())
        assert (response.status, answer["predictions"]) == (200, [9.0])
        assert answer["pid"] in hosts
        connection.close()
        assert all(os.getpgid(host) == server.pid for host in hosts)  # in the server's group, stopped with it
    finally:
        stop_server(server.pid, server.start)
    deadline = time.monotonic() + 10
    while any(endpoints._alive(host) for host in hosts) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(endpoints._alive(host) for host in hosts)
    assert "user code prints go to the log" in (tmp_path / "server.log").read_text()


SHADOW_PROGRAM = '''\
import json

def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    return body

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"

def predict_fn(data, model):
    # A module the model does not ship: stepfn's own tfserving.py (beside the host file, importable without stepfn)
    # must not answer it.
    try:
        import tfserving
    except ImportError:
        return "not found"
    return tfserving.__file__
'''


@pytest.mark.skipif(not INTERPRETERS, reason="no interpreter other than stepfn's on this machine")
def test_stepfns_own_modules_beside_the_host_do_not_shadow_the_users_imports(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "code" / "inference.py").write_text(SHADOW_PROGRAM)
    spec = {"ModelDir": str(model_dir), "CodeDir": str(model_dir / "code"), "Program": "inference.py",
            "Framework": "sklearn", "Python": INTERPRETERS[0]}
    models = Models.load({"variants": [{"VariantName": "AllTraffic", "Containers": [spec]}]})
    container = models.variants[0].containers[0]
    assert isinstance(container, HostedContainer)
    try:
        reply = models.respond("POST", "/invocations", {"host": "127.0.0.1:8080", "content-type": "application/json",
                                                        "accept": "application/json"}, b"[[1]]")
        assert (reply.status, json.loads(reply.body)) == (200, "not found")
    finally:
        container.close()


@pytest.mark.skipif(not INTERPRETERS, reason="no interpreter other than stepfn's on this machine")
@pytest.mark.parametrize("python", INTERPRETERS)
def test_a_dict_from_output_fn_is_answered_as_the_scikit_learn_containers_flask_worker_does(
        python: str, model: dict[str, str], tmp_path: Path) -> None:
    """The examples' sklearn bring-your-own-model script: ``output_fn`` returns ``{"Output": n}``, and the
    container's Flask worker answers it as JSON (application/json, whatever the accept)."""
    code = Path(model["CodeDir"]) / "inference.py"
    code.write_text(PROGRAM.replace('return json.dumps({"predictions": prediction, "pid": os.getpid()}), '
                                    '"application/json"', 'return {"Output": int(prediction[0])}'))
    assert "Output" in code.read_text()
    with running_host(python, model, tmp_path) as process:
        assert process.stdin is not None and process.stdout is not None
        handlerhost.write_frame(process.stdin, [b"invoke", b"application/json", b"text/csv", b"[[1, 1], [0, 2]]"])
        assert handlerhost.read_frame(process.stdout) == [b"ok", b"application/json", b'{"Output":6}\n']


BODY_TYPES = '''\
def model_fn(model_dir):
    return None

def transform_fn(model, body, content_type, accept):
    return type(body).__name__ + ":" + (body if isinstance(body, str) else body.decode("latin-1")), "text/plain"
'''


@pytest.mark.parametrize("framework", ["sklearn", "xgboost", "pytorch"])
def test_a_user_handler_gets_the_body_as_the_containers_server_hands_it(framework: str, model: dict[str, str],
                                                                        tmp_path: Path) -> None:
    """The Flask worker of the scikit-learn and XGBoost images hands a user's transform_fn / input_fn a body of
    exactly application/json or text/csv as text (its Request.content), any other as bytes; the PyTorch image's
    model server always hands bytes. Checked in stepfn's own server and in a handler host alike."""
    from stepfn.local.sagemaker.inference import Container

    Path(model["CodeDir"], "inference.py").write_text(BODY_TYPES)
    model = {**model, "Framework": framework}
    flask = framework != "pytorch"
    cases = [("application/json", b'{"a": "\xc3\xa9"}', "str" if flask else "bytes"),
             ("text/csv", b"1,2\n", "str" if flask else "bytes"),
             ("text/csv; charset=utf-8", b"1,2\n", "bytes"),
             ("application/x-npy", b"\x93NUMPY", "bytes")]
    container = Container.load(model)
    with running_host(sys.executable, model, tmp_path) as process:
        assert process.stdin is not None and process.stdout is not None
        for content_type, body, kind in cases:
            in_process, _ = container.invoke(body, content_type, "text/plain")
            assert in_process.decode().split(":", 1)[0] == kind, (content_type, in_process)
            handlerhost.write_frame(process.stdin, [b"invoke", content_type.encode(), b"text/plain", body])
            answer = handlerhost.read_frame(process.stdout)
            assert answer[0] == b"ok" and answer[2] == in_process, (content_type, answer)
        assert container.invoke(b'{"a": "\xc3\xa9"}', "application/json", "text/plain")[0].decode() == (
            'str:{"a": "\u00e9"}' if flask else 'bytes:{"a": "\u00c3\u00a9"}')
