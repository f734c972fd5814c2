"""The Model Monitor analyzer from the container contract's side: ``python -m stepfn.local.sagemaker.monitor`` in a
fresh process with the analyzer's environment, reading a dataset folder and writing the report folder and the
job's exit message, as SageMaker's sagemaker-model-monitor-analyzer does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SOURCE = str(Path(__file__).resolve().parents[2] / "src")


def run_analyzer(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = tmp_path / "ml"
    environment = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": SOURCE, "SAGEMAKER_BASE_DIR": str(base),
                   "output_path": "/opt/ml/processing/output", **env}
    return subprocess.run([sys.executable, "-m", "stepfn.local.sagemaker.monitor"], env=environment,
                          capture_output=True, text=True, timeout=120)


def reports(tmp_path: Path) -> dict[str, Any]:
    folder = tmp_path / "ml" / "processing" / "output"
    return {path.name: json.loads(path.read_text()) for path in sorted(folder.iterdir())}


def exit_message(tmp_path: Path) -> str:
    return (tmp_path / "ml" / "output" / "message").read_text()


def write_csv(folder: Path, rows: list[tuple[Any, ...]], header: str) -> None:
    folder.mkdir(parents=True)
    (folder / "data.csv").write_text(header + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows))


BASELINE = [(age, f"{40 + age % 7}.25", ["red", "green", "blue"][age % 3]) for age in range(20, 80)]


def baseline(tmp_path: Path, **env: str) -> dict[str, Any]:
    write_csv(tmp_path / "ml" / "processing" / "input" / "baseline", BASELINE, "age,income,colour")
    result = run_analyzer(tmp_path, {"dataset_format": '{"csv": {"header": true}}',
                                     "dataset_source": "/opt/ml/processing/input/baseline", **env})
    assert result.returncode == 0, result.stderr
    found = reports(tmp_path)
    baseline_dir = tmp_path / "baseline"
    baseline_dir.mkdir()
    for name in ("statistics.json", "constraints.json"):
        (baseline_dir / name).write_text(json.dumps(found[name]))
    return found


def monitor(tmp_path: Path, rows: list[tuple[Any, ...]]) -> subprocess.CompletedProcess[str]:
    current = tmp_path / "current"
    write_csv(tmp_path / "ml" / "processing" / "input" / "current", rows, "age,income,colour")
    return run_analyzer(current.parent, {
        "dataset_format": '{"csv": {"header": true}}', "dataset_source": "/opt/ml/processing/input/current",
        "output_path": "/opt/ml/processing/monitoring",
        "baseline_constraints": str(tmp_path / "baseline" / "constraints.json"),
        "baseline_statistics": str(tmp_path / "baseline" / "statistics.json")})


def monitoring_reports(tmp_path: Path) -> dict[str, Any]:
    folder = tmp_path / "ml" / "processing" / "monitoring"
    return {path.name: json.loads(path.read_text()) for path in sorted(folder.iterdir())}


def test_a_baseline_job_writes_statistics_constraints_and_its_exit_message(tmp_path: Path) -> None:
    found = baseline(tmp_path)
    assert sorted(found) == ["constraints.json", "statistics.json"]
    assert exit_message(tmp_path) == "Completed: Job completed successfully with no violations."
    constraints = found["constraints.json"]
    assert [(f["name"], f["inferred_type"]) for f in constraints["features"]] == [
        ("age", "Integral"), ("income", "Fractional"), ("colour", "String")]
    # The documented monitoring_config, categorical drift settings included.
    assert constraints["monitoring_config"]["distribution_constraints"] == {
        "perform_comparison": "Enabled", "comparison_threshold": 0.1, "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1, "categorical_drift_method": "LInfinity"}
    statistics = found["statistics.json"]
    assert statistics["dataset"] == {"item_count": len(BASELINE)}
    colour = next(f for f in statistics["features"] if f["name"] == "colour")["string_statistics"]
    assert colour["distinct_count"] == 3.0 and colour["common"] == {"num_present": 60, "num_missing": 0}


def test_categorical_drift_method_from_the_environment(tmp_path: Path) -> None:
    # sagemaker v2 passes monitoring_config_override's categorical_drift_method in this variable.
    found = baseline(tmp_path, categorical_drift_method="ChiSquared")
    assert found["constraints.json"]["monitoring_config"]["distribution_constraints"][
        "categorical_drift_method"] == "ChiSquared"
    refused = run_analyzer(tmp_path / "other", {"dataset_format": '{"csv": {"header": true}}',
                                                "dataset_source": str(tmp_path / "ml" / "processing" / "input"),
                                                "categorical_drift_method": "Euclid"})
    assert refused.returncode == 1 and "categorical_drift_method must be one of LInfinity, ChiSquared" in refused.stderr


def test_no_violations_means_no_violations_file(tmp_path: Path) -> None:
    baseline(tmp_path)
    result = monitor(tmp_path, BASELINE)
    assert result.returncode == 0, result.stderr
    assert sorted(monitoring_reports(tmp_path)) == ["constraints.json", "statistics.json"]
    assert exit_message(tmp_path) == "Completed: Job completed successfully with no violations."


def test_violations_as_the_analyzer_words_them(tmp_path: Path) -> None:
    baseline(tmp_path)
    # 2 of 60 ages not whole, and one colour now dominant: a data type and a categorical drift violation.
    rows = [(f"{age}.5" if age < 22 else age, income, "red") for age, income, _ in BASELINE]
    result = monitor(tmp_path, rows)
    assert result.returncode == 0, result.stderr
    found = monitoring_reports(tmp_path)
    assert sorted(found) == ["constraint_violations.json", "constraints.json", "statistics.json"]
    violations = {v["feature_name"]: v for v in found["constraint_violations.json"]["violations"]}
    assert set(violations) == {"age", "colour"}
    observed = 58 / 60 * 100  # unrounded, as the analyzer prints it
    assert violations["age"] == {
        "feature_name": "age", "constraint_check_type": "data_type_check",
        "description": f"Data type match requirement is not met. Expected data type: Integral, Expected match: "
                       f"100.0%. Observed: Only {observed}% of data is Integral."}
    assert violations["colour"]["constraint_check_type"] == "baseline_drift_check"
    assert violations["colour"]["description"] == f"Baseline drift distance: {1 - 20 / 60} exceeds threshold: 0.1"
    assert exit_message(tmp_path) == "CompletedWithViolations: Job completed successfully with 2 violations."


PREPROCESSOR = '''
import json

def preprocess_handler(inference_record, logger):
    metadata = inference_record.event_metadata
    if metadata.custom_attribute and "test" in metadata.custom_attribute[0]:
        logger.info("skipping test record %s", metadata.event_id)
        return []  # custom sampling: test traffic is left out
    features = inference_record.endpoint_input.data.split(",")
    score = inference_record.event_data.endpointOutput.data
    if inference_record.event_data.endpointInput.encoding != "CSV":
        raise ValueError("expected CSV")
    return {"prediction": float(score), "feature_b": float(features[1]), "feature_a": int(features[0])}
'''

POSTPROCESSOR = '''
import os

def postprocess_handler():
    with open(os.environ["MARKER"], "w") as out:
        out.write("post-processed " + ",".join(sorted(os.listdir(os.environ["REPORTS"]))))
'''


def capture_line(event_id: str, features: str, score: str, custom: list[str] | None = None) -> str:
    metadata: dict[str, Any] = {"eventId": event_id, "inferenceTime": "2026-01-01T10:30:00Z"}
    if custom is not None:
        metadata["customAttributes"] = custom
    return json.dumps({"captureData": {
        "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": features, "encoding": "CSV"},
        "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": score, "encoding": "CSV"}},
        "eventMetadata": metadata, "eventVersion": "0"}) + "\n"


def test_record_preprocessor_and_post_analytics_processor_run_in_the_job(tmp_path: Path) -> None:
    capture = tmp_path / "ml" / "processing" / "input" / "endpoint" / "ep" / "AllTraffic" / "2026" / "01" / "01" / "10"
    capture.mkdir(parents=True)
    (capture / "30-00-000-x.jsonl").write_text(
        capture_line("1", "3,0.5", "0.9") + capture_line("2", "4,1.5", "0.1", ["test=true"])
        + capture_line("3", "5,2.5", "0.4", ["user=7"]))
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "preprocessor.py").write_text(PREPROCESSOR)
    (scripts / "postprocessor.py").write_text(POSTPROCESSOR)
    result = run_analyzer(tmp_path, {
        "dataset_format": json.dumps({"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput",
                                                                                     "endpointOutput"]}}),
        "dataset_source": "/opt/ml/processing/input/endpoint",
        "record_preprocessor_script": str(scripts / "preprocessor.py"),
        "post_analytics_processor_script": str(scripts / "postprocessor.py"),
        "MARKER": str(tmp_path / "marker"), "REPORTS": str(tmp_path / "ml" / "processing" / "output")})
    assert result.returncode == 0, result.stderr
    assert "skipping test record 2" in result.stdout
    statistics = reports(tmp_path)["statistics.json"]
    assert statistics["dataset"]["item_count"] == 2
    # The rows' keys, in sorted order, are the features.
    assert [(f["name"], f["inferred_type"]) for f in statistics["features"]] == [
        ("feature_a", "Integral"), ("feature_b", "Fractional"), ("prediction", "Fractional")]
    assert (tmp_path / "marker").read_text() == "post-processed constraints.json,statistics.json"


def test_a_failing_post_analytics_processor_fails_the_job(tmp_path: Path) -> None:
    write_csv(tmp_path / "ml" / "processing" / "input" / "data", BASELINE, "age,income,colour")
    (tmp_path / "post.py").write_text("def postprocess_handler():\n    raise RuntimeError('no disk')\n")
    result = run_analyzer(tmp_path, {"dataset_format": '{"csv": {"header": true}}',
                                     "dataset_source": "/opt/ml/processing/input/data",
                                     "post_analytics_processor_script": str(tmp_path / "post.py")})
    assert result.returncode == 1
    assert "post_analytics_processor_script post.py failed: RuntimeError: no disk" in result.stderr


@pytest.mark.parametrize("script", ["def preprocess_handler(record):\n    return 'a,b'\n", "x = 1\n"])
def test_a_broken_preprocessor_fails_the_job(tmp_path: Path, script: str) -> None:
    capture = tmp_path / "ml" / "processing" / "input" / "endpoint"
    capture.mkdir(parents=True)
    (capture / "c.jsonl").write_text(capture_line("1", "3,0.5", "0.9"))
    (tmp_path / "pre.py").write_text(script)
    result = run_analyzer(tmp_path, {"dataset_format": '{"sagemakerCaptureJson": {}}',
                                     "dataset_source": "/opt/ml/processing/input/endpoint",
                                     "record_preprocessor_script": str(tmp_path / "pre.py")})
    assert result.returncode == 1
    assert "not a dict" in result.stderr or "defines no preprocess_handler() function" in result.stderr
