"""A diverging sweep in the console: a Map of script-mode training jobs over learning rates, where the largest
rate makes the script's loss blow up to inf and then nan and the job fail; the sweep table shows that row with
its rate, its Failed status and its NaN final loss, and sorting by the loss keeps NaN last."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from views_support import ROLE, SHOTS

from stepfn.workflow.local_client import LocalStepFunctionsClient

pytestmark = pytest.mark.browser

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
# Gradient descent on x**4: a small rate settles towards 0, a rate of 1 overshoots further each epoch until
# x**3 overflows, x becomes inf - inf = nan and the script gives up, as a real diverging training run does.
TRAIN = textwrap.dedent("""
    import argparse, math
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float)
    lr = parser.parse_args().lr
    x = 1.0
    for epoch in range(1, 11):
        x = x - lr * 4 * x * x * x
        loss = x * x * x * x
        print(f"epoch={epoch} loss={loss}", flush=True)
        if math.isnan(loss):
            raise FloatingPointError(f"loss is nan at epoch {epoch}")
""")


def _sweep(code: Path) -> dict[str, Any]:
    train = {
        "Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync", "End": True,
        "Parameters": {
            "TrainingJobName.$": "States.Format('{}-{}', $$.Execution.Name, $.id)",
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File",
                                       "MetricDefinitions": [{"Name": "loss", "Regex": r"loss=(\S+)"}]},
            "RoleArn": ROLE,
            "HyperParameters": {"sagemaker_program": '"train.py"',
                                "sagemaker_submit_directory": json.dumps(f"file://{code}"), "lr.$": "$.lr"},
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 120}},
        # A sweep goes on when one setting diverges: the iteration catches its job's failure.
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Diverged"}]}
    return {"StartAt": "Sweep", "States": {"Sweep": {
        "Type": "Map", "ItemsPath": "$.settings", "MaxConcurrency": 3, "End": True,
        "Iterator": {"StartAt": "Train", "States": {"Train": train, "Diverged": {"Type": "Pass", "End": True}}}}}}


@pytest.fixture
def diverging(stepfn_home: Path, tmp_path: Path) -> Iterator[tuple[LocalStepFunctionsClient, str]]:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(TRAIN)
    client = LocalStepFunctionsClient(home=stepfn_home)
    machine = client.create_state_machine(name="lr-sweep", definition=json.dumps(_sweep(code)),
                                          roleArn=ROLE)["stateMachineArn"]
    settings = [{"id": "a", "lr": "0.05"}, {"id": "b", "lr": "1.0"}, {"id": "c", "lr": "0.2"}]
    arn = client.start_execution(stateMachineArn=machine, name="lr", input=json.dumps({"settings": settings}))
    client.wait_for_execution(arn["executionArn"])
    yield client, arn["executionArn"]
    client.close()


def test_a_diverging_iteration_in_the_sweep_view(diverging: tuple[LocalStepFunctionsClient, str],
                                                 stepfn_home: Path, page: Any) -> None:
    from stepfn.server import BackgroundServer, create_app, read_token

    client, arn = diverging
    with BackgroundServer(create_app(stepfn_home, ui=True, stepfunctions_client=client)) as server:
        page.goto(f"{server.url}/ui/?token={read_token(stepfn_home)}#/execution/{arn}")
        page.wait_for_selector("table.sweep[data-state='Sweep']")
        headers = page.locator("table.sweep th").all_inner_texts()
        assert {"#", "lr", "status", "seconds", "loss", "job"} <= set(headers)
        lr, status, loss = (headers.index(name) + 1 for name in ("lr", "status", "loss"))

        def column(number: int) -> list[str]:
            return page.locator(f"table.sweep tbody td:nth-child({number})").all_inner_texts()

        assert column(lr) == ["0.05", "1.0", "0.2"]
        assert column(status) == ["Completed", "Failed", "Completed"]
        losses = column(loss)
        assert losses[1] == "NaN" and float(losses[0]) > float(losses[2]) > 0
        diverged = page.locator("table.sweep tbody tr", has_text="lr-b")
        assert diverged.locator("td.status.FAILED").count() == 1

        # Sorting by the loss: the best setting first, the diverged one last, whichever way it is sorted.
        page.click(f"table.sweep th[data-column='{loss - 1}']")
        assert column(lr) == ["0.2", "0.05", "1.0"]
        page.click(f"table.sweep th[data-column='{loss - 1}']")
        assert column(lr) == ["0.05", "0.2", "1.0"]

        # Overlaid curves: one series per setting, the diverged one drawn up to its last finite value.
        page.wait_for_selector(".sweep-curves svg.chart[data-metric='loss']")
        curves = page.locator(".sweep-curves g.series").evaluate_all("gs => gs.map((g) => g.dataset.series)")
        assert curves == ["#0 lr=0.05", "#1 lr=1.0", "#2 lr=0.2"]
        points = page.locator(".sweep-curves svg.chart polyline").evaluate_all(
            "ps => ps.map((p) => p.getAttribute('points'))")
        assert all("NaN" not in line and "Infinity" not in line for line in points)
        page.screenshot(path=str(SHOTS / "views-diverging-sweep.png"), full_page=True)

        # The diverged job's own page: its failure and its loss curve, nan and inf left out of the chart.
        diverged.locator("a").click()
        page.wait_for_selector("#job-status.FAILED")
        assert "loss is nan at epoch" in page.inner_text("#view")
        assert page.locator("svg.chart[data-metric='loss'] circle").count() >= 3
