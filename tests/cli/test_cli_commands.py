"""The ``stepfn`` command, run for real in subprocesses against a temporary ``$STEPFN_HOME``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests_cli_support import WORKFLOW_PY


def stepfn(*args: str, home: Path, check: bool = False, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STEPFN_HOME": str(home), "COLUMNS": "160"}
    result = subprocess.run([sys.executable, "-m", "stepfn", *args], capture_output=True, text=True, env=env,
                            timeout=120, cwd=cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def workflow_file(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.py"
    path.write_text(WORKFLOW_PY)
    return path


def test_run_succeeds_then_fails_with_exit_codes_and_summary(workflow_file: Path, stepfn_home: Path) -> None:
    ok = stepfn("run", str(workflow_file), "--input", '{"n": 6}', "--name", "big", home=stepfn_home)
    assert ok.returncode == 0, ok.stderr
    assert "SUCCEEDED" in ok.stdout and '"doubled": 12' in ok.stdout
    for state in ("Start", "Pause", "Big enough?", "Done"):
        assert state in ok.stdout

    input_file = workflow_file.parent / "input.json"
    input_file.write_text('{"n": 2}')
    failed = stepfn("run", f"{workflow_file}:pipeline", "--input", f"@{input_file}", "--name", "small",
                    home=stepfn_home)
    assert failed.returncode == 1
    assert "FAILED" in failed.stdout and "Demo.TooSmall" in failed.stdout and "doubled is below 10" in failed.stdout

    listing = stepfn("executions", home=stepfn_home, check=True).stdout
    assert "big" in listing and "small" in listing and "SUCCEEDED" in listing and "FAILED" in listing

    shown = stepfn("show", "small", home=stepfn_home, check=True).stdout
    assert "ExecutionFailed" in shown and "WaitStateEntered" in shown and '"n": 2' in shown


def test_validate_reports_every_problem_with_its_path(tmp_path: Path, stepfn_home: Path) -> None:
    good = tmp_path / "good.asl.json"
    good.write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}))
    assert "valid" in stepfn("validate", str(good), home=stepfn_home, check=True).stdout

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"},
                                                          "B": {"Type": "Succeed"}}}))
    result = stepfn("validate", str(bad), home=stepfn_home)
    assert result.returncode == 1
    assert "$.States.A.Next" in result.stderr and "Nowhere" in result.stderr


def test_graph_and_cloudformation_export(workflow_file: Path, tmp_path: Path, stepfn_home: Path) -> None:
    svg = tmp_path / "graph.svg"
    stepfn("graph", str(workflow_file), "-o", str(svg), home=stepfn_home, check=True)
    assert svg.read_text().startswith("<svg") and 'data-state="Big enough?"' in svg.read_text()
    page = tmp_path / "graph.html"
    stepfn("graph", str(workflow_file), "-o", str(page), home=stepfn_home, check=True)
    assert "<!DOCTYPE html>" in page.read_text()

    template = stepfn("export", str(workflow_file), "--cloudformation", home=stepfn_home, check=True).stdout
    assert "AWS::StepFunctions::StateMachine" in template and "StateMachineName: pipeline" in template


def test_logs_endpoints_and_readable_errors(tmp_path: Path, stepfn_home: Path) -> None:
    log = stepfn_home / "sagemaker" / "logs" / "training-job" / "job-1.log"
    log.parent.mkdir(parents=True)
    log.write_text("epoch 1 loss=0.5\nepoch 2 loss=0.25\n")
    assert stepfn("logs", "job-1", home=stepfn_home, check=True).stdout == log.read_text()
    missing = stepfn("logs", "job-2", home=stepfn_home)
    assert missing.returncode == 2 and "no logs" in missing.stderr

    assert "name" in stepfn("endpoints", "list", home=stepfn_home, check=True).stdout

    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('the user file is broken')\n")
    one_line = stepfn("run", str(broken), home=stepfn_home)
    assert one_line.returncode == 1
    assert "RuntimeError: the user file is broken" in one_line.stderr and "Traceback" not in one_line.stderr
    debug = stepfn("--debug", "run", str(broken), home=stepfn_home)
    assert "Traceback" in debug.stderr


def test_map_progress_counts_items(tmp_path: Path, stepfn_home: Path) -> None:
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemProcessor": {"StartAt": "Square", "States": {"Square": {
            "Type": "Pass", "Parameters": {"v.$": "States.MathAdd($, $)"}, "End": True}}}}}}
    path = tmp_path / "map.asl.json"
    path.write_text(json.dumps(definition))
    result = stepfn("run", str(path), "--input", '{"items": [1, 2, 3]}', home=stepfn_home, check=True)
    assert "3/3" in result.stdout and '"v": 6' in result.stdout


def test_run_stages_a_lone_local_entry_point_as_create_or_update_does(tmp_path: Path, stepfn_home: Path) -> None:
    """``SKLearn(entry_point="train.py")`` with no source_dir: ``stepfn run`` packs the script where the
    definition's sagemaker_submit_directory points, as ``Workflow.create_or_update`` does for ``python FILE``."""
    (tmp_path / "train.py").write_text(
        "import os\n"
        "rows = open(os.path.join(os.environ['SM_CHANNEL_TRAIN'], 'data.csv')).read().split()\n"
        "open(os.path.join(os.environ['SM_MODEL_DIR'], 'rows.txt'), 'w').write(str(len(rows)))\n"
        "print('trained on', len(rows), 'rows')\n"
    )
    (tmp_path / "pipeline.py").write_text(
        "from stepfn.sagemaker import Session, SKLearn\n"
        "from stepfn.steps import TrainingStep\n"
        "from stepfn.workflow import Workflow\n"
        "ROLE = 'arn:aws:iam::111122223333:role/Role'\n"
        "estimator = SKLearn(entry_point='train.py', framework_version='1.2-1', role=ROLE, instance_count=1,\n"
        "                    instance_type='ml.m5.large',\n"
        "                    sagemaker_session=Session(region_name='us-east-1', default_bucket='bkt'))\n"
        "workflow = Workflow('lone-entry', TrainingStep('Train', estimator=estimator, job_name='lone-1',\n"
        "                    data={'train': 's3://bkt/train/'}), role=ROLE)\n"
    )
    from stepfn.local.objectstore import ObjectStore

    ObjectStore(stepfn_home / "s3").put_bytes("s3://bkt/train/data.csv", b"1\n2\n3\n")
    ran = stepfn("run", "pipeline.py", home=stepfn_home, cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "trained on 3 rows" in ran.stdout and "SUCCEEDED" in ran.stdout
    assert (stepfn_home / "s3" / "bkt" / "lone-1" / "output" / "model.tar.gz").is_file()


def test_run_deploys_a_workflow_as_create_or_update_does(tmp_path: Path, stepfn_home: Path) -> None:
    """`stepfn run FILE` and `python FILE` (Workflow.create_or_update) take one create-then-update path: the
    workflow's own role and definition text, one machine per name, an edited file updating it in place."""
    from stepfn.workflow.local_client import LocalStepFunctionsClient

    role = "arn:aws:iam::111122223333:role/Role"
    template = ("import sys\n"
                "from stepfn.steps import Pass\n"
                "from stepfn.workflow import Workflow\n"
                f"workflow = Workflow('same-path', Pass('{{state}}'), role={role!r})\n"
                "if __name__ == '__main__':\n"
                "    print(workflow.create_or_update())\n")
    pipeline = tmp_path / "pipeline.py"
    pipeline.write_text(template.format(state="First"))
    env = {**os.environ, "STEPFN_HOME": str(stepfn_home)}
    created = subprocess.run([sys.executable, str(pipeline)], capture_output=True, text=True, env=env, timeout=120)
    assert created.returncode == 0, created.stderr
    arn = created.stdout.split()[-1]
    client = LocalStepFunctionsClient(home=stepfn_home, resume=False)
    before = client.describe_state_machine(stateMachineArn=arn)

    ran = stepfn("run", str(pipeline), home=stepfn_home, check=True)  # the same definition: nothing to update
    assert "SUCCEEDED" in ran.stdout
    same = client.describe_state_machine(stateMachineArn=arn)
    assert same["roleArn"] == role and same["definition"] == before["definition"] and same["revisionId"] == before["revisionId"]

    pipeline.write_text(template.format(state="Second"))
    stepfn("run", str(pipeline), home=stepfn_home, check=True)
    updated = client.describe_state_machine(stateMachineArn=arn)
    assert json.loads(updated["definition"])["StartAt"] == "Second" and updated["roleArn"] == role
    assert [m["name"] for m in client.list_state_machines()["stateMachines"]] == ["same-path"]

    # A definition file deploys under the local role, by the same path: created, then updated when edited.
    asl = tmp_path / "plain.asl.json"
    for state in ("One", "Two"):
        asl.write_text(json.dumps({"StartAt": state, "States": {state: {"Type": "Pass", "End": True}}}))
        stepfn("run", str(asl), home=stepfn_home, check=True)
    plain = next(m for m in client.list_state_machines()["stateMachines"] if m["name"] == "plain")
    described = client.describe_state_machine(stateMachineArn=plain["stateMachineArn"])
    assert json.loads(described["definition"])["StartAt"] == "Two"
    assert described["roleArn"] == "arn:aws:iam::123456789012:role/stepfn-local"
