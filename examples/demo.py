"""stepfn demo: a real machine-learning pipeline, run end to end on this machine.

What runs, for real, with no AWS account and no Docker:
  1. a scikit-learn training script in SageMaker script mode (examples/demo_code/train.py) reporting a
     validation metric, then its model, an endpoint configuration and a live HTTP endpoint;
  2. a batch transform of a test file through that model;
  3. in parallel, the built-in XGBoost algorithm trained in a Map with two hyperparameter settings.
Then the endpoint is invoked with a few rows, and the demo prints the metrics and where every artifact is.

The data is scikit-learn's bundled breast-cancer set (shipped inside the package; nothing is downloaded).
Run it with ``make demo``; artifacts and the execution history stay in ``.stepfn/`` (``$STEPFN_HOME``).
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("STEPFN_HOME", str(HERE.parent / ".stepfn"))

from rich.console import Console  # noqa: E402  (STEPFN_HOME must be set before stepfn reads it)
from rich.table import Table  # noqa: E402

from stepfn.inputs import ExecutionInput, StepInput  # noqa: E402
from stepfn.local.objectstore import ObjectStore  # noqa: E402
from stepfn.local.sagemaker.endpoints import invoke_endpoint, stop_endpoint  # noqa: E402
from stepfn.sagemaker import Estimator, Session, SKLearn, TrainingInput, Transformer, image_uris  # noqa: E402
from stepfn.steps import (  # noqa: E402
    Chain,
    EndpointConfigStep,
    EndpointStep,
    Map,
    ModelStep,
    Parallel,
    TrainingStep,
    TransformStep,
)
from stepfn.workflow import Workflow  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/stepfn-demo"
BUCKET = "stepfn-demo"
REGION = "us-east-1"
console = Console(width=None if sys.stdout.isatty() else 140)


def prepare_data(store: ObjectStore) -> dict[str, str]:
    """Split the bundled data set into train / validation / test CSVs (label first, no header) and upload them."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    features, labels = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(7).permutation(len(labels))
    features, labels = features[order], labels[order]
    rows = np.column_stack([labels, features])
    splits = {"train": rows[:380], "validation": rows[380:480], "test": rows[480:]}
    uris = {}
    for name, data in splits.items():
        if name == "test":
            data = data[:, 1:]  # batch transform sends features only
        buffer = io.StringIO()
        np.savetxt(buffer, data, delimiter=",", fmt="%.6g")
        uri = f"s3://{BUCKET}/data/{name}/{name}.csv"
        store.put_bytes(uri, buffer.getvalue().encode())
        uris[name] = f"s3://{BUCKET}/data/{name}/"
    return uris


def package_code(store: ObjectStore) -> str:
    """Pack the training script as SageMaker expects it (``sourcedir.tar.gz``) into the object store."""
    return store.upload_code(HERE / "demo_code", f"s3://{BUCKET}/code/sourcedir.tar.gz")


def build_workflow(data: dict[str, str], code_uri: str) -> tuple[Workflow, ExecutionInput]:
    session = Session(region_name=REGION, default_bucket=BUCKET)
    execution_input = ExecutionInput(schema={
        "TrainingJobName": str, "ModelName": str, "EndpointName": str, "TransformJobName": str, "XGBoost": list,
    })

    sklearn = SKLearn(
        entry_point="train.py",
        source_dir=code_uri,
        framework_version="1.2-1",
        py_version="py3",
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{BUCKET}/models",
        hyperparameters={"n-estimators": 60, "max-depth": 6},
        metric_definitions=[{"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9.]+)"}],
        sagemaker_session=session,
    )
    train = TrainingStep(
        "Train scikit-learn model",
        estimator=sklearn,
        job_name=execution_input["TrainingJobName"],
        data={"train": data["train"], "validation": data["validation"]},
    )
    save_model = ModelStep("Save model", model=train.get_expected_model(), model_name=execution_input["ModelName"])
    endpoint_config = EndpointConfigStep(
        "Create endpoint config",
        endpoint_config_name=execution_input["ModelName"],
        model_name=execution_input["ModelName"],
        initial_instance_count=1,
        instance_type="ml.m5.large",
    )
    endpoint = EndpointStep(
        "Deploy endpoint", endpoint_name=execution_input["EndpointName"], endpoint_config_name=execution_input["ModelName"]
    )
    transformer = Transformer(
        model_name="placeholder", instance_count=1, instance_type="ml.m5.large",
        output_path=f"s3://{BUCKET}/transform", accept="text/csv", assemble_with="Line", sagemaker_session=session,
    )
    transform = TransformStep(
        "Batch transform",
        transformer=transformer,
        job_name=execution_input["TransformJobName"],
        model_name=execution_input["ModelName"],
        data=data["test"],
        content_type="text/csv",
        split_type="Line",
    )
    sklearn_branch = Chain([train, save_model, endpoint_config, endpoint, transform])

    xgboost = Estimator(
        image_uri=image_uris.retrieve("xgboost", REGION, version="1.7-1"),
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{BUCKET}/xgboost",
        hyperparameters={"objective": "binary:logistic", "num_round": 40, "eval_metric": "auc"},
        sagemaker_session=session,
    )
    item = StepInput()
    train_xgboost = TrainingStep(
        "Train XGBoost",
        estimator=xgboost,
        job_name=item["JobName"],
        # The XGBoost algorithm reads libsvm unless a channel says otherwise, as on SageMaker.
        data={channel: TrainingInput(data[channel], content_type="text/csv") for channel in ("train", "validation")},
        hyperparameters={"max_depth": item["MaxDepth"], "eta": item["Eta"]},
        result_selector={"TrainingJobName.$": "$.TrainingJobName", "Metrics.$": "$.FinalMetricDataList",
                         "Model.$": "$.ModelArtifacts.S3ModelArtifacts"},
    )
    sweep = Map(
        "XGBoost sweep",
        items_path="$.XGBoost",
        max_concurrency=2,
        parameters={
            "JobName.$": "States.Format('{}-xgb-{}', $$.Execution.Name, $$.Map.Item.Index)",
            "MaxDepth.$": "$$.Map.Item.Value.max_depth",
            "Eta.$": "$$.Map.Item.Value.eta",
        },
    )
    sweep.attach_iterator(train_xgboost)

    both = Parallel("Train both models")
    both.add_branch(sklearn_branch)
    both.add_branch(sweep)
    workflow = Workflow(name="stepfn-demo", definition=both, role=ROLE, execution_input=execution_input)
    return workflow, execution_input


def main() -> int:
    store = ObjectStore()
    console.rule("stepfn demo: a local ML pipeline")
    data = prepare_data(store)
    code_uri = package_code(store)
    workflow, _ = build_workflow(data, code_uri)
    workflow.create_or_update()

    run_id = time.strftime("%Y%m%d-%H%M%S")
    endpoint_name = f"demo-endpoint-{run_id}"
    inputs = {
        "TrainingJobName": f"demo-sklearn-{run_id}",
        "ModelName": f"demo-model-{run_id}",
        "EndpointName": endpoint_name,
        "TransformJobName": f"demo-transform-{run_id}",
        "XGBoost": [{"max_depth": "3", "eta": "0.3"}, {"max_depth": "6", "eta": "0.1"}],  # SageMaker wants strings
    }
    try:
        return run(workflow, store, data, inputs)
    finally:
        # The endpoint is a server process that outlives the workflow; the demo cleans up after itself.
        stop_endpoint(endpoint_name)


def run(workflow: Workflow, store: ObjectStore, data: dict[str, str], inputs: dict) -> int:
    run_id = inputs["TrainingJobName"].removeprefix("demo-sklearn-")
    endpoint_name = inputs["EndpointName"]
    execution = workflow.execute(name=f"demo-{run_id}", inputs=inputs)
    console.print(f"execution [bold]{execution.execution_arn}[/bold]")

    from stepfn.cli.watch import print_summary, watch_execution

    described, events = watch_execution(workflow.client, execution.execution_arn, console=console,
                                        live=console.is_terminal)
    if described["status"] != "SUCCEEDED":
        print_summary(console, described, events)
        return 1
    took = (described["stopDate"] - described["startDate"]).total_seconds()
    console.print(f"[bold green]SUCCEEDED[/bold green] in {took:.1f}s")
    sklearn_result, sweep_result = json.loads(described["output"])

    console.rule("invoke the endpoint with three test rows")
    test_rows = store.get_bytes(f"{data['test']}test.csv").decode().splitlines()[:3]
    response = invoke_endpoint(EndpointName=endpoint_name, Body="\n".join(test_rows).encode(), ContentType="text/csv")
    console.print(f"predictions: {response['Body'].read().decode().strip()}")

    table = Table(title="results")
    for column in ("job", "metric", "value", "model artifact"):
        table.add_column(column)
    training = _describe_training(inputs["TrainingJobName"])
    for metric in training.get("FinalMetricDataList", []):
        table.add_row(inputs["TrainingJobName"], metric["MetricName"], f"{metric['Value']:.4f}",
                      training["ModelArtifacts"]["S3ModelArtifacts"])
    for job in sweep_result:
        for metric in job["Metrics"]:
            table.add_row(job["TrainingJobName"], metric["MetricName"], f"{metric['Value']:.4f}", job["Model"])
    console.print(table)
    transform_out = sklearn_result["TransformOutput"]["S3OutputPath"].rstrip("/") + "/test.csv.out"
    predictions = store.get_bytes(transform_out).decode().split()
    console.print(f"batch transform: {len(predictions)} predictions in {transform_out}")
    console.print(f"  (on disk: {store.local_path(transform_out)})")
    console.print(f"object store root: {store.local_path(f's3://{BUCKET}/')}")
    console.print(f"endpoint {endpoint_name} is stopped at exit")
    console.print(f"look at the run: .venv/bin/stepfn show demo-{run_id}   or   .venv/bin/stepfn ui", highlight=False)
    return 0


def _describe_training(name: str) -> dict:
    from stepfn.local.sagemaker.records import RecordStore

    return RecordStore().get("training-job", name) or {}


if __name__ == "__main__":
    sys.exit(main())
