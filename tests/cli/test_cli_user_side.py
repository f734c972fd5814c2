"""What a newcomer meets running their own pipeline from their own folder: the default relative home (no
``STEPFN_HOME``), a helper module beside the pipeline, no AWS configuration, a failing training script."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from stepfn.local.objectstore import ObjectStore

TRAIN_PY = textwrap.dedent(
    """
    import os
    rows = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "data.csv")).read().split()
    for number, row in enumerate(rows, 1):
        if not row.isdigit():
            raise ValueError(f"row {number} is not a number: {row}")
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "total.txt"), "w") as out:
        out.write(str(sum(int(row) for row in rows)))
    print("trained on", len(rows), "rows")
    """
)

# The helper module a user keeps beside the pipeline: `python pipeline.py` finds it, so must `stepfn run`.
COMMON_PY = textwrap.dedent(
    """
    from stepfn.sagemaker import Session

    ROLE = "arn:aws:iam::111122223333:role/Role"
    SESSION = Session(region_name="us-east-1", default_bucket="bkt")
    """
)

PIPELINE_PY = textwrap.dedent(
    """
    import sys

    from common import ROLE, SESSION

    from stepfn.inputs import ExecutionInput
    from stepfn.sagemaker import SKLearn
    from stepfn.steps import TrainingStep
    from stepfn.workflow import Workflow

    inputs = ExecutionInput(schema={"JobName": str})
    estimator = SKLearn(entry_point="train.py", framework_version="1.2-1", role=ROLE, instance_count=1,
                        instance_type="ml.m5.large", sagemaker_session=SESSION)
    train = TrainingStep("Train", estimator=estimator, job_name=inputs["JobName"], data={"train": "s3://bkt/train/"})
    workflow = Workflow("user-pipeline", train, role=ROLE, execution_input=inputs)

    if __name__ == "__main__":
        workflow.create_or_update()
        print("output:", workflow.execute(inputs={"JobName": sys.argv[1]}).get_output(wait=True))
    """
)


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "my-project"
    folder.mkdir()
    (folder / "train.py").write_text(TRAIN_PY)
    (folder / "common.py").write_text(COMMON_PY)
    (folder / "pipeline.py").write_text(PIPELINE_PY)
    return folder


def _put_training_data(folder: Path, text: str) -> None:
    # Where the default home puts the local object store: ./.stepfn/s3 in the user's folder.
    ObjectStore(folder / ".stepfn" / "s3").put_bytes("s3://bkt/train/data.csv", text.encode())


def _run(command: list[str], folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)


def _model_total(folder: Path, job: str) -> str:
    with tarfile.open(folder / ".stepfn" / "s3" / "bkt" / job / "output" / "model.tar.gz") as tar:
        member = tar.extractfile("total.txt")
        assert member is not None
        return member.read().decode()


def test_stepfn_run_and_python_file_train_with_the_default_relative_home(
    user_folder: Path, user_env: dict[str, str]
) -> None:
    _put_training_data(user_folder, "1\n2\n3\n")
    ran = _run(["stepfn", "run", "pipeline.py", "--input", '{"JobName": "job-1"}'], user_folder, user_env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "trained on 3 rows" in ran.stdout and "SUCCEEDED" in ran.stdout
    assert _model_total(user_folder, "job-1") == "6"

    direct = _run([sys.executable, "pipeline.py", "job-2"], user_folder, user_env)
    assert direct.returncode == 0, direct.stdout + direct.stderr
    assert "output: {" in direct.stdout and "job-2" in direct.stdout and "Warning" not in direct.stderr
    assert _model_total(user_folder, "job-2") == "6"
    # Both runs used the same home, in the user's folder: no second .stepfn in the job's code directory.
    assert sorted(path.name for path in user_folder.rglob(".stepfn")) == [".stepfn"]


def test_a_failed_run_says_which_state_failed_and_why(user_folder: Path, user_env: dict[str, str]) -> None:
    _put_training_data(user_folder, "1\nx\n3\n")
    direct = _run([sys.executable, "pipeline.py", "job-3"], user_folder, user_env)
    # get_output returns None as the original SDK's does, and the script goes on; but it is not silent.
    assert "output: None" in direct.stdout
    assert "ExecutionFailedWarning" in direct.stderr, direct.stderr
    assert "FAILED at state 'Train'" in direct.stderr
    assert "ValueError: row 2 is not a number: x" in direct.stderr
    assert "stepfn logs job-3" in direct.stderr

    ran = _run(["stepfn", "run", "pipeline.py", "--input", '{"JobName": "job-4"}'], user_folder, user_env)
    assert ran.returncode == 1
    summary = ran.stdout[ran.stdout.rindex("FAILED"):]
    assert "failed state: Train" in summary and "cause: ValueError: row 2 is not a number: x" in summary
    assert "log: stepfn logs job-4" in summary
    # The one useful line, not the DescribeTrainingJob record with its escaped traceback.
    assert "TrainingJobArn" not in summary and "Traceback" not in summary
