"""Metrics and sweeps on real built-in XGBoost jobs in a Map: the algorithm's own metric definitions, charts
with axes and several series, a sortable sweep table, and ``stepfn diff`` of two sweeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from views_support import ROLE, SHOTS

from stepfn.local.objectstore import ObjectStore
from stepfn.workflow.compare import sweeps
from stepfn.workflow.local_client import LocalStepFunctionsClient
from stepfn.workflow.progress import read_history

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"

SWEEP = {"StartAt": "Sweep", "States": {"Sweep": {
    "Type": "Map", "ItemsPath": "$.settings", "MaxConcurrency": 2, "End": True,
    "Iterator": {"StartAt": "Train", "States": {"Train": {
        "Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync", "End": True,
        "Parameters": {
            "TrainingJobName.$": "States.Format('{}-{}', $$.Execution.Name, $.id)",
            "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "HyperParameters": {"num_round": "12", "max_depth": "3", "eta.$": "$.eta",
                                "objective": "reg:squarederror", "eval_metric": "rmse"},
            "InputDataConfig": [
                {"ChannelName": channel, "ContentType": "text/csv", "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": f"s3://bucket/xgb/{channel}"}}}
                for channel in ("train", "validation")],
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}},
        "ResultSelector": {"metrics.$": "$.FinalMetricDataList"}}}}}}}


def _csv(rows: int, seed: int) -> bytes:
    import numpy as np

    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 3))
    labels = features @ np.array([2.0, -1.0, 0.5]) + 0.05 * rng.normal(size=rows)
    return "".join(",".join(f"{v:.5f}" for v in (y, *x)) + "\n" for y, x in zip(labels, features, strict=True)).encode()


@pytest.fixture
def sweep(stepfn_home: Path) -> Iterator[tuple[LocalStepFunctionsClient, str, str]]:
    pytest.importorskip("xgboost")
    store = ObjectStore(stepfn_home / "s3")
    store.put_bytes("s3://bucket/xgb/train/data.csv", _csv(150, 1))
    store.put_bytes("s3://bucket/xgb/validation/data.csv", _csv(50, 2))
    client = LocalStepFunctionsClient(home=stepfn_home)
    machine = client.create_state_machine(name="sweep", definition=json.dumps(SWEEP), roleArn=ROLE)["stateMachineArn"]
    arns = []
    for name, etas in (("sweep-a", ["0.3", "0.9"]), ("sweep-b", ["0.3", "0.05"])):
        settings = [{"id": f"s{i}", "eta": eta} for i, eta in enumerate(etas)]
        arn = client.start_execution(stateMachineArn=machine, name=name,
                                     input=json.dumps({"settings": settings}))["executionArn"]
        client.wait_for_execution(arn)
        assert client.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
        arns.append(arn)
    yield client, arns[0], arns[1]
    client.close()


def test_sweep_table_charts_and_diff(sweep: tuple[LocalStepFunctionsClient, str, str], stepfn_home: Path,
                                     page: Any) -> None:
    from stepfn.server import BackgroundServer, create_app, read_token

    client, first, second = sweep
    table = sweeps(read_history(client, first), stepfn_home)["Sweep"]
    assert [(row["iteration"], row["hyperparameters"]["eta"], row["status"]) for row in table] == [
        (0, "0.3", "Completed"), (1, "0.9", "Completed")]
    assert set(table[0]["metrics"]) == {"train:rmse", "validation:rmse"} and table[0]["seconds"] is not None

    env = {**os.environ, "STEPFN_HOME": str(stepfn_home), "COLUMNS": "220"}
    diff = subprocess.run([sys.executable, "-m", "stepfn", "diff", "sweep-a", "sweep-b"], capture_output=True,
                          text=True, env=env, timeout=120, check=True).stdout
    assert "Sweep[1] > Train: hyperparameter eta" in diff and "0.9" in diff and "0.05" in diff
    assert "Sweep[1] > Train: metric validation:rmse" in diff
    assert "Sweep[0] > Train: hyperparameter eta" not in diff  # equal in both: left out
    assert "input" in diff.split("\n", 3)[3]

    with BackgroundServer(create_app(stepfn_home, ui=True, stepfunctions_client=client)) as server:
        url = f"{server.url}/ui/?token={read_token(stepfn_home)}"
        page.goto(f"{url}#/execution/{first}")
        page.wait_for_selector("table.sweep[data-state='Sweep']")
        rows = page.locator("table.sweep tbody tr")
        assert rows.count() == 2 and "0.9" in rows.nth(1).inner_text()
        headers = page.locator("table.sweep th").all_inner_texts()
        assert {"#", "eta", "status", "seconds", "train:rmse", "validation:rmse", "job"} <= set(headers)
        column = headers.index("validation:rmse")
        values = [float(v) for v in page.locator(f"table.sweep tbody td:nth-child({column + 1})").all_inner_texts()]
        page.click(f"table.sweep th[data-column='{column}']")
        ascending = [float(v) for v in page.locator(f"table.sweep tbody td:nth-child({column + 1})").all_inner_texts()]
        assert ascending == sorted(values)
        page.click(f"table.sweep th[data-column='{column}']")
        assert [float(v) for v in page.locator(f"table.sweep tbody td:nth-child({column + 1})").all_inner_texts()] \
            == sorted(values, reverse=True)
        # The timeline has a bar per job beside the states that ran them.
        jobs = page.locator("#timeline g.bar[data-kind='job']").evaluate_all("gs => gs.map((g) => g.dataset.label)")
        assert sorted(jobs) == ["training-job sweep-a-s0", "training-job sweep-a-s1"]
        # Overlaid curves: validation:rmse of both iterations in one chart, labelled by the varying eta.
        page.wait_for_selector(".sweep-curves svg.chart[data-metric='validation:rmse']")
        curves = page.locator(".sweep-curves g.series").evaluate_all("gs => gs.map((g) => g.dataset.series)")
        assert curves == ["#0 eta=0.3", "#1 eta=0.9"]
        page.screenshot(path=str(SHOTS / "views-sweep.png"), full_page=True)

        # The same diff in the console: pick the other execution on this one's page.
        page.wait_for_selector(f"#compare-with option[value='{second}']", state="attached")
        page.select_option("#compare-with", second)
        page.wait_for_selector("#diff")
        eta = page.locator("#diff tr[data-key='Sweep[1] > Train: hyperparameter eta']").inner_text()
        assert "0.9" in eta and "0.05" in eta
        assert page.locator("#diff tr[data-key='Sweep[1] > Train: metric validation:rmse']").count() == 1
        assert page.locator("#diff tr[data-key='Sweep[0] > Train: hyperparameter eta']").count() == 0
        page.screenshot(path=str(SHOTS / "views-diff.png"), full_page=True)
        page.goto(f"{url}#/execution/{first}")
        page.wait_for_selector("table.sweep")

        # The jobs page lists the four jobs of both sweeps with their final metrics.
        page.goto(f"{url}#/jobs")
        page.wait_for_selector("#jobs tr[data-name='sweep-b-s1']")
        names = sorted(page.locator("#jobs tbody tr").evaluate_all("rs => rs.map((r) => r.dataset.name)"))
        assert names == ["sweep-a-s0", "sweep-a-s1", "sweep-b-s0", "sweep-b-s1"]
        assert "validation:rmse=" in page.inner_text("#jobs tr[data-name='sweep-a-s1']")
        page.goto(f"{url}#/execution/{first}")
        page.wait_for_selector("table.sweep")

        # The built-in algorithm's own metric definitions: train:rmse and validation:rmse, one chart, two series.
        page.click("table.sweep tbody tr >> nth=0 >> a")
        page.wait_for_selector("svg.chart[data-metric='rmse']")
        series = page.locator("svg.chart[data-metric='rmse'] g.series")
        assert sorted(series.evaluate_all("gs => gs.map((g) => g.dataset.series)")) == ["train:rmse", "validation:rmse"]
        assert page.locator("svg.chart[data-metric='rmse'] g.series[data-series='validation:rmse'] circle").count() == 12
        assert "step" in page.text_content("svg.chart[data-metric='rmse'] .x-label")
        assert page.text_content("svg.chart[data-metric='rmse'] .y-label") == "rmse"
        assert "validation:rmse" in page.inner_text("#final-metrics")
        page.screenshot(path=str(SHOTS / "views-xgboost-metrics.png"), full_page=True)


def test_a_one_value_metric_is_a_number_not_an_empty_chart(stepfn_home: Path, page: Any) -> None:
    from stepfn.local.sagemaker.records import RecordStore
    from stepfn.server import BackgroundServer, create_app, read_token

    records = RecordStore(stepfn_home)
    records.put("training-job", "one-value", {
        "TrainingJobName": "one-value", "TrainingJobStatus": "Completed",
        "AlgorithmSpecification": {"TrainingImage": "local", "TrainingInputMode": "File", "MetricDefinitions": [
            {"Name": "accuracy", "Regex": r"accuracy=([0-9.]+)"}, {"Name": "loss", "Regex": r"loss=([0-9.]+)"}]}})
    records.log_path("training-job", "one-value").write_text("loss=0.9\nloss=0.5\naccuracy=0.875\n")
    client = LocalStepFunctionsClient(home=stepfn_home)
    with BackgroundServer(create_app(stepfn_home, ui=True, stepfunctions_client=client)) as server:
        page.goto(f"{server.url}/ui/?token={read_token(stepfn_home)}#/job/training-job/one-value")
        page.wait_for_selector(".metric-value[data-metric='accuracy']")
        assert "0.875" in page.inner_text(".metric-value[data-metric='accuracy']")
        assert page.locator("svg.chart[data-metric='accuracy']").count() == 0
        assert page.locator("svg.chart[data-metric='loss'] circle").count() == 2
    client.close()
