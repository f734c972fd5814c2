"""Model Monitor locally: DatasetFormat, DefaultModelMonitor.suggest_baseline, and the analyzer image run as
baseline and monitoring ProcessingSteps whose result a Choice reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stepfn.local.objectstore import ObjectStore
from stepfn.sagemaker import Session, image_uris
from stepfn.sagemaker.model_monitor import DefaultModelMonitor
from stepfn.sagemaker.model_monitor.dataset_format import DatasetFormat
from stepfn.sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
from stepfn.steps import Chain, Choice, ChoiceRule, Fail, ProcessingStep, Succeed
from stepfn.workflow import Workflow
from stepfn.workflow.execution import ExecutionFailedWarning

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SESSION = Session(region_name="us-east-1", default_bucket="monitor-bucket")


def dataset(rows: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.integers(20, 60, rows),
        "income": rng.normal(50.0 + shift, 5.0, rows).round(3),
        "city": rng.choice(["paris", "lyon", "nice"], rows),
    })


def test_dataset_format_as_sagemaker_v2() -> None:
    assert DatasetFormat.csv(header=False) == {"csv": {"header": False, "output_columns_position": "START"}}
    assert DatasetFormat.json() == {"json": {"lines": True}}
    assert DatasetFormat.sagemaker_capture_json() == {"sagemakerCaptureJson": {}}
    code = "from stepfn.sagemaker.model_monitor.dataset_format import DatasetFormat; print(DatasetFormat.json(False))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "{'json': {'lines': False}}"


def test_suggest_baseline_writes_statistics_and_constraints(tmp_path: Path) -> None:
    frame = dataset(200)
    frame.loc[3, "income"] = np.nan
    frame.to_csv(tmp_path / "train.csv", index=False)
    uri = SESSION.upload_data(str(tmp_path / "train.csv"), key_prefix="baseline")
    monitor = DefaultModelMonitor(role=ROLE, sagemaker_session=SESSION)
    job = monitor.suggest_baseline(baseline_dataset=uri, dataset_format=DatasetFormat.csv(header=True),
                                   output_s3_uri="s3://monitor-bucket/baseline/results", job_name="b1")
    statistics = job.baseline_statistics().body_dict
    assert statistics["dataset"] == {"item_count": 200}
    by_name = {f["name"]: f for f in statistics["features"]}
    assert {name: f["inferred_type"] for name, f in by_name.items()} == {
        "age": "Integral", "income": "Fractional", "city": "String"}
    income = by_name["income"]["numerical_statistics"]
    assert income["common"] == {"num_present": 199, "num_missing": 1}
    assert income["mean"] == pytest.approx(frame["income"].mean())
    assert sum(b["count"] for b in income["distribution"]["kll"]["buckets"]) == 199
    constraints = monitor.suggested_constraints().body_dict  # type: ignore[union-attr]
    features = {f["name"]: f for f in constraints["features"]}
    assert features["income"]["completeness"] == pytest.approx(199 / 200)
    assert features["age"]["num_constraints"] == {"is_non_negative": True}
    assert sorted(features["city"]["string_constraints"]["domains"]) == ["lyon", "nice", "paris"]
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_threshold"] == 0.1
    assert ObjectStore().exists("s3://monitor-bucket/baseline/results/constraints.json")


def analyzer_step(name: str, data: str, output: str, baseline: str | None = None) -> ProcessingStep:
    env = {
        "dataset_format": json.dumps(DatasetFormat.csv(header=True)),
        "dataset_source": "/opt/ml/processing/input/baseline_dataset_input",
        "output_path": "/opt/ml/processing/output",
        "publish_cloudwatch_metrics": "Disabled",
    }
    inputs = [ProcessingInput(source=data, destination="/opt/ml/processing/input/baseline_dataset_input",
                              input_name="baseline_dataset_input")]
    if baseline is not None:
        env["baseline_constraints"] = "/opt/ml/processing/baseline/constraints/constraints.json"
        env["baseline_statistics"] = "/opt/ml/processing/baseline/stats/statistics.json"
        inputs += [
            ProcessingInput(source=f"{baseline}/constraints.json", destination="/opt/ml/processing/baseline/constraints",
                            input_name="constraints"),
            ProcessingInput(source=f"{baseline}/statistics.json", destination="/opt/ml/processing/baseline/stats",
                            input_name="baseline"),
        ]
    processor = Processor(role=ROLE, image_uri=image_uris.retrieve("model-monitor", "us-east-1"), instance_count=1,
                          instance_type="ml.m5.xlarge", env=env, sagemaker_session=SESSION)
    return ProcessingStep(name, processor=processor, job_name=name.lower().replace(" ", "-"), inputs=inputs,
                          outputs=[ProcessingOutput(source="/opt/ml/processing/output", destination=output,
                                                    output_name="monitoring_output")])


@pytest.mark.parametrize(("shift", "verdict"), [(0.0, "no violations"), (30.0, "violations")])
def test_baseline_then_monitor_steps_and_a_choice_on_the_result(tmp_path: Path, shift: float, verdict: str) -> None:
    dataset(3000).to_csv(tmp_path / "baseline.csv", index=False)
    current = dataset(1000, shift=shift, seed=1)
    if shift:
        current.loc[:99, "city"] = "mars"  # values the baseline never saw
    current.to_csv(tmp_path / "current.csv", index=False)
    baseline_data = SESSION.upload_data(str(tmp_path / "baseline.csv"), key_prefix="data/baseline")
    current_data = SESSION.upload_data(str(tmp_path / "current.csv"), key_prefix="data/current")
    baseline_out, monitor_out = "s3://monitor-bucket/out/baseline", "s3://monitor-bucket/out/monitor"
    check = Choice("Any violations?")
    check.add_choice(ChoiceRule.StringMatches("$.ExitMessage", "CompletedWithViolations*"),
                     Fail("Drifted", cause="violations"))
    check.default_choice(Succeed("Healthy"))
    definition = Chain([analyzer_step("Baseline", baseline_data, baseline_out),
                        analyzer_step("Monitor", current_data, monitor_out, baseline=baseline_out), check])
    workflow = Workflow("model-monitor", definition, role=ROLE)
    workflow.create()
    execution = workflow.execute()
    if verdict == "violations":
        with pytest.warns(ExecutionFailedWarning, match="at state 'Drifted'"):
            execution.get_output(wait=True)
    else:
        execution.get_output(wait=True)
    status = execution.describe()["status"]
    store = ObjectStore()
    assert json.loads(store.get_bytes(f"{monitor_out}/statistics.json"))["dataset"]["item_count"] == 1000
    if verdict == "no violations":
        assert not store.exists(f"{monitor_out}/constraint_violations.json") and status == "SUCCEEDED"
    else:
        violations = json.loads(store.get_bytes(f"{monitor_out}/constraint_violations.json"))["violations"]
        kinds = {(v["feature_name"], v["constraint_check_type"]) for v in violations}
        assert kinds == {("income", "baseline_drift_check"), ("city", "categorical_values_check")}
        assert status == "FAILED"
        monitor = execution.list_events()
        exit_messages = [json.loads(e["taskSucceededEventDetails"]["output"]).get("ExitMessage")
                         for e in monitor if e["type"] == "TaskSucceeded"]
        assert exit_messages[-1] == "CompletedWithViolations: Job completed successfully with 2 violations."
