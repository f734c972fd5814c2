"""Every example in examples/ runs for real, in its own process and $STEPFN_HOME, and does what it says.

Assertions read the example's own report and the artifacts it leaves (objects, job records, logs,
history), so an example that stops working, or stops doing what its docstring promises, fails here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run_example(script: str, home: Path, *args: str, timeout: float = 300, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "STEPFN_HOME": str(home), **(env or {})}, cwd=home,
    )
    assert result.returncode == 0, f"{script} exited {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def no_server_left(home: Path) -> bool:
    from stepfn.local.sagemaker.endpoints import list_endpoints

    return all(not endpoint.get("Pid") for endpoint in list_endpoints(home))


def test_lambda_functions_with_retry_catch_and_map(stepfn_home: Path) -> None:
    out = run_example("lambda_map.py", stepfn_home)
    assert "status: SUCCEEDED" in out
    summary = json.loads(re.search(r"^summary: (.*)$", out, re.M)[1])  # type: ignore[index]
    assert summary == {"accepted": ["A-1", "A-3", "A-4"], "rejected": ["A-2"], "revenue": 114.0}
    # Two throttled attempts per accepted order were retried; the bad order was caught, not retried.
    failures = json.loads(re.search(r"^task failures seen by the engine: (.*)$", out, re.M)[1])  # type: ignore[index]
    assert failures == {"ThrottlingError": 6, "ValueError": 1}
    assert json.loads(re.search(r"^calls to price-order per order: (.*)$", out, re.M)[1]) == {  # type: ignore[index]
        "A-1": 3, "A-3": 3, "A-4": 3}


def test_step_cache_second_run_is_answered_by_the_cache(stepfn_home: Path) -> None:
    pytest.importorskip("sklearn")
    out = run_example("cache_demo.py", stepfn_home)
    first = [line for line in out.splitlines() if line.startswith("run a: ") and "-job " in line]
    second = [line for line in out.splitlines() if line.startswith("run b: ") and "-job " in line]
    assert len(first) == len(second) == 2
    assert not any("Cache hit" in line for line in first)
    assert all("stepfn: Cache hit: results of cache-" in line for line in second)


def test_jsonata_mode_workflow(stepfn_home: Path) -> None:
    out = run_example("jsonata_workflow.py", stepfn_home)
    definition = json.loads(out[: out.index("\nstatus: ")])
    assert definition["QueryLanguage"] == "JSONata"
    assert "Parameters" not in json.dumps(definition) and "InputPath" not in json.dumps(definition)
    assert definition["States"]["Any alerts?"]["Choices"][0]["Condition"].startswith("{%")
    assert "status: SUCCEEDED" in out
    output = json.loads(re.search(r"^output: (.*)$", out, re.M)[1])  # type: ignore[index]
    # 95 F is 35 C and attic peaks at 33.1 C: both above 30; the cellar is not.
    assert output == {"alerts": ["greenhouse", "attic"], "checked": 3, "hottest": "greenhouse", "threshold": "30 C"}


@pytest.mark.slow
def test_xgboost_hyperparameter_tuning_then_batch_transform(stepfn_home: Path) -> None:
    out = run_example("xgboost_tuning.py", stepfn_home)
    assert "status: SUCCEEDED" in out
    trials = re.findall(r"^trial (\S+): (\{.*\}) validation:auc=([0-9.]+)$", out, re.M)
    assert len(trials) == 4
    for _, hyperparameters, _ in trials:
        tuned = json.loads(hyperparameters)
        assert 2 <= int(tuned["max_depth"]) <= 6 and 0.05 <= float(tuned["eta"]) <= 0.5
    best_name, best_auc = re.search(r"^best: (\S+) validation:auc=([0-9.]+)$", out, re.M).groups()  # type: ignore[union-attr]
    assert best_auc == max(auc for _, _, auc in trials) and float(best_auc) > 0.95
    assert best_name in [name for name, _, _ in trials]
    assert "batch transform: 69 predictions" in out
    predictions = list((stepfn_home / "s3" / "stepfn-examples" / "xgboost-tuning" / "predictions").glob("*.out"))
    values = [float(v) for v in predictions[0].read_text().split()]
    assert len(values) == 69 and all(0.0 <= v <= 1.0 for v in values)
    # The model the workflow registered is the best trial's artifact.
    from stepfn.local.sagemaker.records import RecordStore

    [model] = RecordStore(stepfn_home).list("model")
    assert f"/{best_name}/output/model.tar.gz" in model["PrimaryContainer"]["ModelDataUrl"]


@pytest.mark.slow
def test_processing_training_evaluation_and_choice_on_the_metric(stepfn_home: Path) -> None:
    out = run_example("process_train_evaluate.py", stepfn_home)
    assert re.search(r"^lenient \(MinAccuracy=0.8\): SUCCEEDED$", out, re.M), out
    assert re.search(r"^strict \(MinAccuracy=0.999\): FAILED ModelBelowThreshold$", out, re.M), out
    evaluations = [json.loads(text) for text in re.findall(r"evaluation.json: (\{.*\})", out)]
    assert len(evaluations) == 2 and all(0.8 <= e["accuracy"] < 0.999 and e["samples"] == 150 for e in evaluations)
    from stepfn.local.sagemaker.records import RecordStore

    records = RecordStore(stepfn_home)
    assert {job["ProcessingJobName"].split("-")[0] for job in records.list("processing-job")} == {"preprocess",
                                                                                                  "evaluate"}
    assert len(records.list("training-job")) == 2
    # Only the lenient run got past the Choice to register its model.
    [model] = records.list("model")
    assert model["ModelName"].startswith("gated-lenient-")


@pytest.mark.slow
def test_training_and_inference_pipeline_templates(stepfn_home: Path) -> None:
    out = run_example("templates.py", stepfn_home)
    assert "TrainingPipeline stepfn-example-training-pipeline: SUCCEEDED" in out
    assert "steps: Training -> Create Model -> Configure Endpoint -> Deploy" in out
    assert "InferencePipeline stepfn-example-inference-pipeline: SUCCEEDED" in out
    assert ("steps: Train Preprocessor -> Create Preprocessor Model -> Transform Input -> Training -> "
            "Create Pipeline Model -> Configure Endpoint -> Deploy") in out
    scores = [(int(a), int(b)) for a, b in re.findall(r"held-out predictions: (\d+)/(\d+) correct", out)]
    assert len(scores) == 2 and all(b == 28 and a >= 24 for a, b in scores), out
    from stepfn.local.sagemaker.records import RecordStore

    pipeline_models = [m for m in RecordStore(stepfn_home).list("model") if m.get("Containers")]
    assert len(pipeline_models) == 1 and len(pipeline_models[0]["Containers"]) == 2
    assert no_server_left(stepfn_home)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="PyTorch is not installed (pip install torch) and is too heavy for the test environment")
@pytest.mark.slow
def test_pytorch_script_resumes_from_its_checkpoint(stepfn_home: Path) -> None:
    out = run_example("pytorch_checkpoints.py", stepfn_home)
    first, _, resumed = out.partition("torch-resumed-")
    assert re.findall(r"epoch=(\d+) ", first) == ["1", "2", "3"] and "resumed from epoch" not in first
    assert "resumed from epoch 3" in resumed and re.findall(r"epoch=(\d+) ", resumed) == ["4", "5", "6"]
    weights = [float(w) for w in re.findall(r"learned weights: (\S+) (\S+),", resumed)[0]]
    assert weights == pytest.approx([3.0, -2.0], abs=0.1)
    assert len(list((stepfn_home / "s3" / "stepfn-examples" / "pytorch" / "models").rglob("model.tar.gz"))) == 2
    assert list((stepfn_home / "s3" / "stepfn-examples" / "pytorch" / "checkpoints").rglob("checkpoint.pt"))


NOTEBOOK_RUNNER = r"""
import ast, json, sys
import IPython.display

shown = []
def capture(*objects, **kwargs):
    for item in objects:
        shown.append(item._repr_html_() if hasattr(item, "_repr_html_") else repr(item))
IPython.display.display = capture
IPython.display.clear_output = lambda wait=False: shown.append("<cleared>")

notebook = json.load(open(sys.argv[1]))
namespace = {"__name__": "__main__"}
for cell in notebook["cells"]:
    if cell["cell_type"] != "code":
        continue
    tree = ast.parse("".join(cell["source"]))
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<cell>", "exec"), namespace)
    if last is not None:  # a notebook displays a cell's last expression
        value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
        if value is not None:
            capture(value)
json.dump(shown, open(sys.argv[2], "w"))
"""


def test_notebook_shows_graph_and_live_progress(stepfn_home: Path) -> None:
    notebook = json.loads((EXAMPLES / "notebook.ipynb").read_text())
    assert notebook["nbformat"] == 4 and notebook["nbformat_minor"] >= 5
    assert all({"cell_type", "id", "metadata", "source"} <= set(cell) for cell in notebook["cells"])
    assert all(cell["outputs"] == [] for cell in notebook["cells"] if cell["cell_type"] == "code")
    shown_path = stepfn_home / "shown.json"
    result = subprocess.run([sys.executable, "-c", NOTEBOOK_RUNNER, str(EXAMPLES / "notebook.ipynb"), str(shown_path)],
                            capture_output=True, text=True, timeout=120, cwd=stepfn_home,
                            env={**os.environ, "STEPFN_HOME": str(stepfn_home)})
    assert result.returncode == 0, result.stderr[-4000:]
    shown = json.loads(shown_path.read_text())
    graph, *progress, events = [item for item in shown if item != "<cleared>"]
    assert "<svg" in graph and all(name in graph for name in ("Prepare", "Score", "Cool down", "Above threshold?"))
    assert len(progress) >= 2, "the progress view was drawn once only: not live"
    assert "RUNNING" in progress[0] and "SUCCEEDED" in progress[-1] and "<svg" in progress[-1]
    assert "ExecutionSucceeded" in events and "<table" in events
    assert "SUCCEEDED {'values': [3, 5, 8, 13], 'threshold': 5.0, 'score': {'mean': 7.25, 'count': 4}}" in result.stdout
