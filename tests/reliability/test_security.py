"""Security: loopback by default, tokens, nothing escapes its root, no user string evaluated as Python, and jobs
get only the environment they should."""

from __future__ import annotations

import ast
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from stepfn.cli import cli
from stepfn.engine import Engine
from stepfn.errors import StepfnError, StoreError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.s3 import handlers as s3_handlers
from stepfn.local.sagemaker.images import UnknownImageError, resolve_image
from stepfn.local.sagemaker.jobdir import safe_extract
from stepfn.local.sagemaker.training import TrainingJobs
from stepfn.server import create_server_client
from stepfn.server.app import DEFAULT_HOST, run, start_background

SRC = Path(__file__).resolve().parents[2] / "src" / "stepfn"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"


# -- listening ---------------------------------------------------------------------------------------------------


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_servers_bind_loopback_by_default_and_the_cli_says_so(stepfn_home: Path) -> None:
    assert DEFAULT_HOST == "127.0.0.1"
    with start_background(stepfn_home) as server:
        port = int(server.url.rsplit(":", 1)[1])
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
    for command in ("serve", "ui"):
        help_text = CliRunner().invoke(cli, [command, "--help"]).output
        assert "--host TEXT" in help_text and "[default: 127.0.0.1]" in help_text


def test_listening_beyond_loopback_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEPFN_TOKEN", raising=False)
    with pytest.raises(StepfnError, match=r"refusing to listen on 0\.0\.0\.0 without a token"):
        run(host="0.0.0.0", port=0, no_token=True)


def test_a_token_guards_the_api_and_the_console(stepfn_home: Path) -> None:
    with start_background(stepfn_home, "s3cret-token", ui=True) as server:
        body = {"maxResults": 10}
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions.ListStateMachines"}
        assert httpx.post(server.url + "/", json=body, headers=headers).status_code == 403
        wrong = {**headers, "X-Stepfn-Token": "guess"}
        assert httpx.post(server.url + "/", json=body, headers=wrong).status_code == 403
        right = {**headers, "X-Stepfn-Token": "s3cret-token"}
        assert httpx.post(server.url + "/", json=body, headers=right).status_code == 200
        assert httpx.get(server.url + "/ui/").status_code == 403
        sfn = create_server_client("stepfunctions", server.url, token="s3cret-token")
        assert sfn.list_state_machines()["stateMachines"] == []
        unauthenticated = create_server_client("stepfunctions", server.url)
        with pytest.raises(Exception, match=r"403|token"):
            unauthenticated.list_state_machines()


def test_processes_making_the_token_at_once_agree_on_one(tmp_path: Path) -> None:
    """Two servers (or a server and a client) starting together on a fresh home must not end with two tokens."""
    import subprocess
    import sys

    home = tmp_path / "fresh-home"
    code = "import sys; from stepfn.server import ensure_token; print(ensure_token(sys.argv[1]))"
    processes = [subprocess.Popen([sys.executable, "-c", code, str(home)], stdout=subprocess.PIPE, text=True)
                 for _ in range(6)]
    tokens = {process.communicate(timeout=120)[0].strip() for process in processes}
    assert len(tokens) == 1 and tokens == {(home / "server-token").read_text().strip()}
    assert (home / "server-token").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in home.iterdir()) == ["server-token"]  # no partial files left behind


# -- roots -------------------------------------------------------------------------------------------------------

ESCAPES = ["s3://bucket/../outside", "s3://bucket/a/../../outside", "s3://bucket//etc/passwd", "s3://../outside",
           "s3://bucket/a/./b", "s3://bucket/a\x00b"]


@pytest.mark.parametrize("uri", ESCAPES)
def test_object_store_keys_leaving_the_root_are_refused(tmp_path: Path, uri: str) -> None:
    store = ObjectStore(tmp_path / "s3")
    with pytest.raises(StoreError):
        store.local_path(uri)
    with pytest.raises(StoreError):
        store.put_bytes(uri, b"x")
    assert not (tmp_path / "outside").exists()


def test_an_s3_task_with_an_escaping_key_fails_with_a_named_error(stepfn_home: Path) -> None:
    (stepfn_home / "secret.txt").write_text("not yours")
    definition = {"StartAt": "Get", "States": {"Get": {
        "Type": "Task", "Resource": "arn:aws:states:::s3:getObject", "End": True,
        "Parameters": {"Bucket": "bucket", "Key": "../../secret.txt"}}}}
    result = Engine(handlers=s3_handlers(stepfn_home)).run(
        definition, {}, execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:e",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:m", name="e")
    assert result.status == "FAILED" and result.error and result.error.startswith(("S3.", "States."))
    assert "not yours" not in (result.cause or "")


def _tar(path: Path, members: list[tuple[str, Any]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, spec in members:
            info = tarfile.TarInfo(name)
            if isinstance(spec, bytes):
                info.size = len(spec)
                tar.addfile(info, io.BytesIO(spec))
            else:
                info.type, info.linkname = spec
                tar.addfile(info)
    return path


@pytest.mark.parametrize("members", [
    [("../escape.txt", b"x")],
    [("/tmp/stepfn-abs-escape.txt", b"x")],
    [("ok/../../escape.txt", b"x")],
    [("link", (tarfile.SYMTYPE, "/etc")), ("link/passwd", b"x")],
    [("link", (tarfile.SYMTYPE, "../..")), ("link/escape.txt", b"x")],
    [("hard", (tarfile.LNKTYPE, "/etc/passwd"))],
    [("device", (tarfile.CHRTYPE, ""))],
], ids=["dotdot", "absolute", "nested-dotdot", "symlink-abs", "symlink-up", "hardlink", "device"])
def test_tar_members_leaving_their_root_are_refused(tmp_path: Path, members: list[tuple[str, Any]]) -> None:
    archive = _tar(tmp_path / "model.tar.gz", members)
    destination = tmp_path / "a" / "b" / "out"
    with pytest.raises(StoreError, match="unsafe or unreadable archive"):
        safe_extract(archive, destination)
    assert not (tmp_path / "a" / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()
    assert not Path("/tmp/stepfn-abs-escape.txt").exists()


def _training_request(name: str, **extra: Any) -> dict[str, Any]:
    request = {
        "TrainingJobName": name, "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "AlgorithmSpecification": {"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
        "HyperParameters": {"sagemaker_program": '"train.py"',
                            "sagemaker_submit_directory": f'"s3://bucket/code/{name}.tar.gz"'},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    request.update(extra)
    return request


def test_a_sourcedir_with_an_escaping_member_fails_the_job_and_writes_nothing_outside(
        stepfn_home: Path, tmp_path: Path) -> None:
    archive = _tar(tmp_path / "code.tar.gz", [("train.py", b"print('hi')\n"), ("../../../escape.py", b"x")])
    ObjectStore(stepfn_home / "s3").put_bytes("s3://bucket/code/evil.tar.gz", archive.read_bytes())
    record = TrainingJobs(stepfn_home).run(_training_request("evil"))
    assert record["TrainingJobStatus"] == "Failed"
    assert not list(stepfn_home.rglob("escape.py")) and not list(stepfn_home.parent.glob("escape.py"))


@pytest.mark.parametrize("image", ["--volume=/:/host", "-v", "--privileged", "my algo", "algo;touch x", ""])
def test_a_requested_image_never_becomes_a_docker_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         image: str) -> None:
    # `docker run ... <image> train`: a TrainingImage such as "--volume=/:/host" would mount the host's root.
    fake_docker = tmp_path / "bin" / "docker"
    fake_docker.parent.mkdir()
    fake_docker.write_text("#!/bin/sh\nexit 0\n")
    fake_docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_docker.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STEPFN_DOCKER", "1")
    with pytest.raises(UnknownImageError):
        resolve_image(image, script_mode=False, home=tmp_path)
    valid = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-algo:1@sha256:" + "a" * 64
    assert resolve_image(valid, script_mode=False, home=tmp_path).kind == "docker"


@pytest.mark.parametrize("program", ["../outside.py", "../../outside", "/tmp/stepfn-outside-program.py", "sub/../../outside.py"])
def test_entry_points_stay_inside_their_code_directory(tmp_path: Path, program: str) -> None:
    from stepfn.local.sagemaker.inference import InferenceError, _load_program
    from stepfn.local.sagemaker.scriptmode import ScriptModeError, validate_entry_point

    code = tmp_path / "model" / "code"
    code.mkdir(parents=True)
    marker = tmp_path / "marker"
    planted = f"open({str(marker)!r}, 'w').write('ran')\n"
    for path in (tmp_path / "model" / "outside.py", tmp_path / "model" / "outside", tmp_path / "outside.py",
                 Path("/tmp/stepfn-outside-program.py")):
        path.write_text(planted)
    try:
        with pytest.raises(InferenceError, match="outside the model's code directory"):
            _load_program(code, program)  # a model's SAGEMAKER_PROGRAM
        with pytest.raises(ScriptModeError, match="invalid entry point"):
            validate_entry_point(program)  # a training job's sagemaker_program
    finally:
        Path("/tmp/stepfn-outside-program.py").unlink()
    assert not marker.exists()


# -- environment -------------------------------------------------------------------------------------------------


def test_a_training_script_does_not_see_the_parents_secrets(stepfn_home: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPFN_TEST_SECRET", "hunter2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "do-not-leak-either")
    monkeypatch.setenv("STEPFN_TOKEN", "server-token")
    script = ("import json, os\n"
              "json.dump(dict(os.environ), open(os.path.join(os.environ['SM_MODEL_DIR'], 'env.json'), 'w'))\n")
    archive = _tar(stepfn_home / "code.tar.gz", [("train.py", script.encode())])
    ObjectStore(stepfn_home / "s3").put_bytes("s3://bucket/code/env-job.tar.gz", archive.read_bytes())
    record = TrainingJobs(stepfn_home).run(_training_request("env-job", Environment={"MY_SETTING": "on"}))
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    env = json.loads((stepfn_home / "sagemaker" / "jobs" / "training-job" / "env-job" / "opt" / "ml" / "model"
                      / "env.json").read_text())
    assert env["MY_SETTING"] == "on" and "SM_MODEL_DIR" in env  # what the platform and the request give
    leaked = {key for key, value in env.items()
              if key in ("STEPFN_TEST_SECRET", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "STEPFN_TOKEN")
              or value in ("hunter2", "do-not-leak", "do-not-leak-either", "server-token")}
    assert leaked == set()


# -- no user string evaluated as Python --------------------------------------------------------------------------

DANGEROUS_CALLS = {"eval", "exec", "compile", "__import__"}
DANGEROUS_ATTRIBUTES = {("pickle", "loads"), ("pickle", "load"), ("marshal", "loads"), ("marshal", "load"),
                        ("os", "system"), ("os", "popen"), ("yaml", "load"), ("yaml", "unsafe_load"),
                        ("shelve", "open"), ("dill", "loads"), ("cloudpickle", "loads"),
                        # Running code picked by a name or a path: each use is reviewed below.
                        ("importlib", "import_module"), ("runpy", "run_path"), ("runpy", "run_module")}


# Reviewed uses, by file and kind (not line, which moves): none of them reads a request or a definition.
ALLOWED = {
    # The model server loads the account's own training output as the SageMaker XGBoost container does
    # (pickle first, then the native format); request bodies are decoded with allow_pickle=False.
    ("local/sagemaker/inference.py", "imports a deserializer that runs code"),
    ("local/sagemaker/inference.py", "pickle.load()"),
    # Names from constant tables in stepfn itself: the SageMaker families, the local backends, the subpackages a
    # bare ``import stepfn as stepfunctions`` reaches (_SUBPACKAGES).
    ("__init__.py", "importlib.import_module()"),
    ("sagemaker/__init__.py", "importlib.import_module()"),
    ("local/__init__.py", "importlib.import_module()"),
    # module:function Lambda targets: only modules under the user's allowed folders, checked before they run
    # (test_a_function_name_never_reaches_code_outside_the_allowed_folders and the attacks over HTTP).
    ("local/lambdas.py", "importlib.import_module()"),
    ("local/lambdas.py", "exec_module()"),
    # Functions created through the Lambda API (CreateFunction needs the token, as starting a job that runs its
    # own entry point does): the runtime bootstrap imports the handler's module in the function's own process,
    # from the package unpacked in the home; a definition's FunctionName only selects one by its checked name.
    ("local/lambda_runtime.py", "importlib.import_module()"),
    # The model's own entry point (SAGEMAKER_PROGRAM), inside its code directory, as the serving toolkit does.
    ("local/sagemaker/inference.py", "exec_module()"),
    # The model-server fork server imports the library modules its servers imported, each checked to be a
    # package of the interpreter's own directories or site-packages (never a model's code directory).
    ("local/sagemaker/forkserver.py", "importlib.import_module()"),
    # The handler host (run by a framework environment's Python) does what inference.py does there: loads the
    # model's own artifacts as the XGBoost container does (pickle first) and the model's entry point from
    # inside its code directory; request bodies are decoded with allow_pickle=False.
    ("local/sagemaker/handlerhost.py", "imports a deserializer that runs code"),
    ("local/sagemaker/handlerhost.py", "pickle.loads()"),
    ("local/sagemaker/handlerhost.py", "exec_module()"),
    # `stepfn run FILE`: the user's own program, named on their command line.
    ("cli/loading.py", "runpy.run_path()"),
    # The Model Monitor analyzer, a processing job's entry point, imports the record_preprocessor_script and
    # post_analytics_processor_script the job's own inputs deliver, as SageMaker's analyzer container does.
    ("local/sagemaker/monitor.py", "exec_module()"),
}


def _findings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [alias.name for alias in node.names]
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if {"pickle", "marshal", "shelve", "dill", "cloudpickle"} & {*(module or "").split("."), *names}:
                found.append(f"{path}:{node.lineno}: imports a deserializer that runs code")
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if isinstance(function, ast.Name) and function.id in DANGEROUS_CALLS:
            found.append(f"{path}:{node.lineno}: {function.id}()")
        if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name) \
                and (function.value.id, function.attr) in DANGEROUS_ATTRIBUTES:
            found.append(f"{path}:{node.lineno}: {function.value.id}.{function.attr}()")
        if isinstance(function, ast.Attribute) and function.attr == "exec_module":  # loader.exec_module(module)
            found.append(f"{path}:{node.lineno}: exec_module()")
        for keyword in node.keywords:  # subprocess(..., shell=True) hands a string to /bin/sh
            if keyword.arg == "shell" and not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                found.append(f"{path}:{node.lineno}: shell=...")
    return found


def test_no_source_file_evaluates_strings_or_unpickles() -> None:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 50
    found = [finding for path in files for finding in _findings(path)]
    unexpected = [f for f in found
                  if (Path(f.split(":")[0]).relative_to(SRC).as_posix(), f.split(": ", 1)[1]) not in ALLOWED]
    assert unexpected == []


def test_the_scanner_sees_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import pickle\nimport subprocess\neval(x)\npickle.loads(b)\nsubprocess.run(c, shell=True)\n"
                      "importlib.import_module(name)\nspec.loader.exec_module(module)\n")
    assert len(_findings(sample)) == 6


def test_no_source_file_names_an_all_interfaces_address() -> None:
    # The model servers of local endpoints bind 127.0.0.1 like `stepfn serve`; nothing may default to every
    # interface. (Listening elsewhere is the user's explicit --host, which then needs a token.)
    found = [f"{path}:{node.lineno}" for path in sorted(SRC.rglob("*.py"))
             for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Constant) and node.value in ("0.0.0.0", "::", "[::]")]
    assert found == []
