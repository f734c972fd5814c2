"""What a newcomer meets running their own pipeline from their own folder: the default relative home (no
``STEPFN_HOME``), a helper module beside the pipeline, no AWS configuration, a failing training script."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from stepfn.local.objectstore import ObjectStore
from stepfn.store import DB_FILENAME

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

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


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


def _tmux_screen(command: list[str], folder: Path, env: dict[str, str], *, columns: int = 80) -> str:
    """What ``command`` leaves on an 80-column terminal: tmux on a private server, so no other session's
    environment or size leaks in."""
    socket = f"stepfn-test-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", socket]
    line = " ".join(shlex.quote(part) for part in ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *command])
    try:
        subprocess.run([*tmux, "new-session", "-d", "-x", str(columns), "-y", "50", "-c", str(folder),
                        f"{line}; echo '<done>'; sleep 60"], check=True, env=env, timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "0"], capture_output=True,
                                    text=True, check=True, env=env, timeout=30).stdout
            if "<done>" in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"the command did not finish on the terminal:\n{screen}")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, env=env, timeout=30)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux for a real 80-column terminal")
def test_executions_at_80_columns_show_names_that_show_accepts(tmp_path: Path, user_env: dict[str, str]) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "a-workflow-with-a-rather-long-name.asl.json").write_text(
        '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}')
    started = [_run(["stepfn", "run", "a-workflow-with-a-rather-long-name.asl.json"], folder, user_env)
               for _ in range(2)]
    assert all(result.returncode == 0 for result in started), [r.stdout + r.stderr for r in started]
    # `stepfn run` says the name to use with `stepfn show`.
    generated = [re.search(r"stepfn show (\S+)\)", result.stdout) for result in started]
    names = [match[1] for match in generated if match]
    assert len(names) == 2 and all(UUID.fullmatch(name) for name in names), [r.stdout for r in started]

    screen = _tmux_screen(["stepfn", "executions"], folder, user_env)
    assert max(len(line) for line in screen.splitlines()) <= 80
    listed = UUID.findall(screen)
    assert sorted(listed) == sorted(names), screen  # whole names, not cut with an ellipsis
    assert "a-workflow-with-a-rather-long-name" in screen and "…" not in screen

    for given in (names[0], names[0][:8]):  # the whole name, or a unique prefix as git takes a commit's
        shown = _run(["stepfn", "show", given], folder, user_env)
        assert shown.returncode == 0, shown.stderr
        assert names[0] in shown.stdout and "ExecutionSucceeded" in shown.stdout
    ambiguous = _run(["stepfn", "show", ""], folder, user_env)
    assert ambiguous.returncode == 2
    common = names[0][:next(index for index, (a, b) in enumerate(zip(*names, strict=True)) if a != b)]
    if common:
        several = _run(["stepfn", "show", common], folder, user_env)
        assert several.returncode == 2 and "matches several executions" in several.stderr
    missing = _run(["stepfn", "show", "no-such-run"], folder, user_env)
    assert missing.returncode == 2 and "no execution named 'no-such-run'" in missing.stderr
    assert "--name NAME" in missing.stderr


NO_SESSION_PIPELINE_PY = textwrap.dedent(
    """
    import sys

    from stepfn.sagemaker import SKLearn
    from stepfn.steps import TrainingStep
    from stepfn.workflow import Workflow

    ROLE = "arn:aws:iam::111122223333:role/Role"
    estimator = SKLearn(entry_point="train.py", framework_version="1.2-1", role=ROLE, instance_count=1,
                        instance_type="ml.m5.large")
    train = TrainingStep("Train", estimator=estimator, job_name=sys.argv[1], data={"train": "s3://bkt/train/"})
    workflow = Workflow("no-session", train, role=ROLE, backend=sys.argv[2])
    workflow.create_or_update()
    print("output:", workflow.execute().get_output(wait=True))
    """
)


def test_a_pipeline_without_session_region_or_credentials_runs_locally(
    user_folder: Path, user_env: dict[str, str]
) -> None:
    """The README's snippet has no sagemaker_session; the user has no ~/.aws and no AWS_* variables."""
    (user_folder / "pipeline.py").write_text(NO_SESSION_PIPELINE_PY)
    _put_training_data(user_folder, "4\n5\n")
    ran = _run([sys.executable, "pipeline.py", "job-5", "local"], user_folder, user_env)
    assert ran.returncode == 0 and "output: {" in ran.stdout, ran.stdout + ran.stderr
    # The default bucket is named as SageMaker names it (sagemaker-<region>-<account>) with the local account.
    with tarfile.open(user_folder / ".stepfn" / "s3" / "sagemaker-us-east-1-123456789012" / "job-5" / "output"
                      / "model.tar.gz") as tar:
        member = tar.extractfile("total.txt")
        assert member is not None and member.read() == b"9"

    # A configured region names the bucket instead of the default one.
    ran = _run([sys.executable, "pipeline.py", "job-6", "local"], user_folder, {**user_env, "AWS_REGION": "eu-west-1"})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (user_folder / ".stepfn" / "s3" / "sagemaker-eu-west-1-123456789012" / "job-6" / "output"
            / "model.tar.gz").is_file()

    # On AWS nothing is guessed: the same file with backend="aws" stops with the clear error it always had.
    on_aws = _run([sys.executable, "pipeline.py", "job-7", "aws"], user_folder, user_env)
    assert on_aws.returncode == 1
    assert "AwsConfigurationError: no AWS region configured" in on_aws.stderr, on_aws.stderr


def test_the_default_home_is_where_the_command_started(tmp_path: Path, user_env: dict[str, str]) -> None:
    """Resolved once, at start: a pipeline file that changes directory does not move the home."""
    folder = tmp_path / "project"
    (folder / "elsewhere").mkdir(parents=True)
    (folder / "pipeline.py").write_text(
        "import os\n"
        "from stepfn.steps import Pass\n"
        "os.chdir('elsewhere')\n"
        "step = Pass('Hello', result={'ok': True})\n"
    )
    ran = _run(["stepfn", "run", "pipeline.py"], folder, user_env)
    assert ran.returncode == 0 and "SUCCEEDED" in ran.stdout, ran.stdout + ran.stderr
    assert (folder / ".stepfn" / DB_FILENAME).is_file() and not (folder / "elsewhere" / ".stepfn").exists()
    listed = _run(["stepfn", "executions"], folder, user_env)
    assert "pipeline" in listed.stdout and "SUCCEEDED" in listed.stdout
