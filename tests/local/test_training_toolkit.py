"""Script mode must hand the user's script what the real sagemaker-training toolkit hands it.

The same job runs twice: through the local training handler, and through the toolkit's own ``train`` console
script (5.1.4, the docker-less run of docs/design/sagemaker-contract.md §1.4) over a copy of the job's ``/opt/ml`` config and data.
The script records its argv, working directory and environment; both records must agree."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from test_training_support import read_tar, seen_base, training_request

from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.training import TrainingJobs

DUMP_SCRIPT = """
import json, os, sys
seen = {"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ)}
with open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w") as handle:
    json.dump(seen, handle)
"""
HYPERPARAMETERS = {
    "epochs": "3", "lr": "0.1", "name": '"abc"', "raw": "plain", "nested": '{"a": 1, "b": "x"}', "flag": "true",
    "x": "1", "learning-rate": "0.01", "list": "[1, 2]",
    "sagemaker_mpi_enabled": "false", "sagemaker_container_log_level": "20", "sagemaker_region": '"us-east-1"',
    "sagemaker_job_name": '"toolkit-compare"', "sagemaker_program": '"dump.py"',
}
# Inputs of the toolkit run, or variables only one side sets on purpose (documented in scriptmode/training).
# PWD: bubblewrap sets it to the directory it starts the job in (the job must not depend on it either way).
NOT_COMPARED = {"SM_STUDIO_LOCAL_MODE", "PYTHONUNBUFFERED", "LC_CTYPE", "PYTHONPATH", "PWD"}


def _toolkit_train() -> Path:
    candidate = Path(sys.executable).with_name("train")
    if not candidate.exists():
        pytest.skip("the sagemaker-training toolkit's train script is not installed")
    return candidate


def _normalise(value: Any, base: str) -> Any:
    if isinstance(value, str):
        return value.replace(base, "<BASE>")
    if isinstance(value, list):
        return [_normalise(v, base) for v in value]
    return value


def test_script_sees_what_the_sagemaker_training_toolkit_gives(stepfn_home: Path, tmp_path: Path) -> None:
    train = _toolkit_train()
    code = tmp_path / "sourcedir.tar.gz"
    script = tmp_path / "dump.py"
    script.write_text(DUMP_SCRIPT)
    with tarfile.open(code, "w:gz") as tar:
        tar.add(script, arcname="dump.py")
    store = ObjectStore(stepfn_home / "s3")
    store.put_bytes("s3://bucket/tk/train/a.csv", b"1,2\n")
    store.put_bytes("s3://bucket/tk/validation/b.csv", b"3,4\n")
    request = training_request(
        "toolkit-compare",
        hyperparameters=HYPERPARAMETERS | {"sagemaker_submit_directory": json.dumps(str(code))},
        channels={"train": "s3://bucket/tk/train", "validation": "s3://bucket/tk/validation"},
    )
    request["InputDataConfig"][0]["ContentType"] = "text/csv"
    jobs = TrainingJobs(stepfn_home)
    record = jobs.run(request)
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    ours = json.loads(read_tar(store.local_path(record["ModelArtifacts"]["S3ModelArtifacts"]))["seen.json"])

    # The same job under the real toolkit: the platform's config files and data, then `train`.
    job_base = jobs.job_dir("toolkit-compare").base
    base = tmp_path / "toolkit" / "opt" / "ml"
    shutil.copytree(job_base / "input" / "config", base / "input" / "config")
    for channel, name in (("train", "a.csv"), ("validation", "b.csv")):
        (base / "input" / "data" / channel).mkdir(parents=True)
        shutil.copy(store.local_path(f"s3://bucket/tk/{channel}/{name}"), base / "input" / "data" / channel / name)
    (base / "model").mkdir()
    (base / "output" / "data").mkdir(parents=True)
    # What the platform gives the container; the toolkit must add everything else the script sees.
    toolkit_added = {"CURRENT_HOST", "SAGEMAKER_JOB_NAME", "SAGEMAKER_REGION", "SAGEMAKER_BASE_DIR"} | NOT_COMPARED
    platform = {k: v for k, v in ours["env"].items() if not k.startswith("SM_") and k not in toolkit_added}
    assert set(platform) >= {"PATH", "TRAINING_JOB_NAME", "TRAINING_JOB_ARN", "AWS_REGION"}
    env = platform | {"SAGEMAKER_BASE_DIR": str(base), "SM_STUDIO_LOCAL_MODE": "True"}
    completed = subprocess.run([str(train)], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    theirs = json.loads((base / "model" / "seen.json").read_text())

    assert ours["argv"] == theirs["argv"]
    assert ours["argv"][1:] == ["--epochs", "3", "--flag", "True", "--learning-rate", "0.01", "--list", "[1, 2]",
                                "--lr", "0.1", "--name", "abc", "--nested", "a=1,b=x", "--raw", "plain", "-x", "1"]
    our_base = seen_base(job_base)
    assert _normalise(ours["cwd"], our_base) == _normalise(theirs["cwd"], str(base)) == "<BASE>/code"
    our_env = {k: _normalise(v, our_base) for k, v in ours["env"].items() if k not in NOT_COMPARED}
    their_env = {k: _normalise(v, str(base)) for k, v in theirs["env"].items()
                 if k not in NOT_COMPARED and k != "SAGEMAKER_BASE_DIR"}
    our_env.pop("SAGEMAKER_BASE_DIR")
    sm_keys = sorted(k for k in their_env if k.startswith("SM_"))
    assert len(sm_keys) >= 38 and "SM_HP_LEARNING-RATE" in sm_keys and "SM_CHANNEL_VALIDATION" in sm_keys
    for key in sm_keys:
        if key == "SM_TRAINING_ENV":
            assert json.loads(our_env[key]) == json.loads(their_env[key])
        assert our_env.get(key) == their_env[key], key
    assert our_env == their_env
    assert ours["env"]["PYTHONPATH"].split(":")[0] == f"{our_base}/code"
    assert theirs["env"]["PYTHONPATH"].split(":")[0] == str(base / "code")
