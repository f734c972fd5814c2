"""``stepfn run --cache`` and ``stepfn cache ls|rm|prune``, run for real in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PIPELINE = '''
from stepfn.sagemaker import Session, SKLearn
from stepfn.steps import Chain, LambdaStep, TrainingStep
from stepfn.inputs import ExecutionInput
from stepfn.workflow import Workflow

ROLE = "arn:aws:iam::111122223333:role/Role"
inputs = ExecutionInput(schema={"JobName": str})
estimator = SKLearn(entry_point="train.py", framework_version="1.2-1", role=ROLE, instance_count=1,
                    instance_type="ml.m5.large", sagemaker_session=Session(region_name="us-east-1", default_bucket="bkt"))
train = TrainingStep("Train", estimator=estimator, job_name=inputs["JobName"], data={"train": "s3://bkt/train/"})
count = LambdaStep("Count", parameters={"FunctionName": "counting:handler", "Payload": {"n": 3}})
workflow = Workflow("cli-cache", Chain([train, count]), role=ROLE, execution_input=inputs)
'''
COUNTING = '''
import os

def handler(event):
    with open(os.environ["CALLS_FILE"], "a") as calls:
        calls.write("call\\n")
    return {"doubled": event["n"] * 2}
'''


def _project(folder: Path, home: Path, *, pause: float) -> Path:
    """A user's project: the training script, the pipeline, the Lambda's module, the data; returns the file
    that counts the Lambda's calls."""
    from stepfn.local.objectstore import ObjectStore

    (folder / "train.py").write_text(f"import os, time\ntime.sleep({pause})\nprint('training for real')\n"
                                     "open(os.path.join(os.environ['SM_MODEL_DIR'], 'm.txt'), 'w').write('m')\n")
    (folder / "pipeline.py").write_text(PIPELINE)
    (folder / "counting.py").write_text(COUNTING)
    ObjectStore(home / "s3").put_bytes("s3://bkt/train/data.csv", b"1\n2\n")
    return folder / "calls.txt"


def stepfn(*args: str, home: Path, cwd: Path, calls: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STEPFN_HOME": str(home), "COLUMNS": "160", "CALLS_FILE": str(calls)}
    result = subprocess.run([sys.executable, "-m", "stepfn", *args], capture_output=True, text=True, env=env,
                            timeout=180, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_run_cache_reuses_jobs_and_lambdas_and_cache_commands_manage_entries(tmp_path: Path,
                                                                              stepfn_home: Path) -> None:
    calls = _project(tmp_path, stepfn_home, pause=0)

    def run(job: str, *extra: str) -> str:
        return stepfn("run", "pipeline.py", "--name", job, "--input", json.dumps({"JobName": job}), *extra,
                      home=stepfn_home, cwd=tmp_path, calls=calls).stdout

    run("job-1", "--cache")
    second = run("job-2", "--cache")
    assert "training for real" not in second and "SUCCEEDED" in second
    assert "[job-2] stepfn: Cache hit: results of job-1" in second  # the job's log line, streamed as it happens
    assert calls.read_text().count("call") == 1  # the second run's Lambda came from the cache
    log = (stepfn_home / "sagemaker" / "logs" / "training-job" / "job-2.log").read_text()
    assert log.startswith("stepfn: Cache hit: results of job-1")
    run("job-3")  # no --cache, no CacheConfig: everything runs
    assert calls.read_text().count("call") == 2
    assert "training for real" in (stepfn_home / "sagemaker" / "logs" / "training-job" / "job-3.log").read_text()

    listed = stepfn("cache", "ls", home=stepfn_home, cwd=tmp_path, calls=calls).stdout
    assert "training-job" in listed and "lambda" in listed and "counting:handler" in listed
    assert "2 entries" in listed and "on disk" in listed
    from stepfn.local.cache import StepCache

    entries = StepCache(stepfn_home).entries()
    assert sorted(entry.hits for entry in entries) == [1, 1]
    kept = stepfn("cache", "prune", "--older-than", "1h", home=stepfn_home, cwd=tmp_path, calls=calls).stdout
    assert "removed 0 entries" in kept
    stepfn("cache", "rm", entries[0].key[:10], home=stepfn_home, cwd=tmp_path, calls=calls)
    assert [entry.key for entry in StepCache(stepfn_home).entries()] == [entries[1].key]
    pruned = stepfn("cache", "prune", "--older-than", "0s", home=stepfn_home, cwd=tmp_path, calls=calls).stdout
    assert "removed 1 entry older than 0s" in pruned and StepCache(stepfn_home).entries() == []


def test_two_processes_missing_on_one_key_run_it_once(tmp_path: Path, stepfn_home: Path) -> None:
    """Two `stepfn run --cache` at once (each runs its execution in its own process): the key's lock makes one
    run the job and the other take its result over; one entry per key, no temporary folder left."""
    from stepfn.local.cache import StepCache
    calls = _project(tmp_path, stepfn_home, pause=1)
    env = {**os.environ, "STEPFN_HOME": str(stepfn_home), "CALLS_FILE": str(calls), "STEPFN_IN_PROCESS": "1"}
    runs = [subprocess.Popen([sys.executable, "-m", "stepfn", "run", "pipeline.py", "--cache", "--name", job,
                              "--input", json.dumps({"JobName": job})], cwd=tmp_path, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for job in ("left", "right")]
    outputs = [run.communicate(timeout=180)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    logs = [(stepfn_home / "sagemaker" / "logs" / "training-job" / f"{job}.log").read_text() for job in ("left", "right")]
    assert sorted("training for real" in log for log in logs) == [False, True]
    assert calls.read_text().count("call") == 1
    assert sorted(entry.kind or "lambda" for entry in StepCache(stepfn_home).entries()) == ["lambda", "training-job"]
    assert not [path for path in StepCache(stepfn_home).entries_dir.iterdir() if path.name.startswith(".")]
