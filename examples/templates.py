"""The ready-made templates: ``TrainingPipeline`` and ``InferencePipeline`` (``stepfn.template``), run locally.

* ``TrainingPipeline(estimator, role, inputs, s3_bucket)``: Training -> Create Model -> Configure Endpoint ->
  Deploy. Its ``execute(job_name=..., hyperparameters=...)`` fills every step from the execution input.
* ``InferencePipeline(preprocessor, estimator, inputs, s3_bucket, role)``: trains a preprocessor
  (``template_code/featurizer.py``: scaler + PCA), runs a batch transform of the training data through it,
  trains the estimator on the transformed data, and deploys both models as one serial pipeline model.

Both end with a live local endpoint, which this script invokes with a few held-out rows and then stops.
Data: scikit-learn's bundled wine set (three classes), label first, no header.
Run: ``python examples/templates.py`` (or ``python examples/templates.py training`` / ``inference``).
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("STEPFN_HOME", str(HERE.parent / ".stepfn"))

from stepfn.local.objectstore import ObjectStore  # noqa: E402
from stepfn.local.sagemaker.endpoints import invoke_endpoint, list_endpoints, stop_endpoint  # noqa: E402
from stepfn.sagemaker import Session, SKLearn  # noqa: E402
from stepfn.template import InferencePipeline, TrainingPipeline  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/stepfn-examples"
BUCKET = "stepfn-examples"
CODE = str(HERE / "template_code")


def prepare_data(store: ObjectStore) -> tuple[str, list[str], list[int]]:
    """The training CSV's prefix, plus held-out feature rows and their labels for invoking the endpoint."""
    import numpy as np
    from sklearn.datasets import load_wine

    features, labels = load_wine(return_X_y=True)
    order = np.random.default_rng(2).permutation(len(labels))
    features, labels = features[order], labels[order]
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([labels[:150], features[:150]]), delimiter=",", fmt="%.6g")
    store.put_bytes(f"s3://{BUCKET}/templates/train/train.csv", buffer.getvalue().encode())
    held_out = [",".join(f"{value:.6g}" for value in row) for row in features[150:]]
    return f"s3://{BUCKET}/templates/train", held_out, [int(label) for label in labels[150:]]


def sklearn(entry_point: str, **hyperparameters: int) -> SKLearn:
    return SKLearn(
        entry_point=entry_point, source_dir=CODE, framework_version="1.2-1", py_version="py3", role=ROLE,
        instance_count=1, instance_type="ml.m5.large", hyperparameters=hyperparameters,
        sagemaker_session=Session(region_name="us-east-1", default_bucket=BUCKET),
    )


def wait_in_service(name: str, timeout: float = 120.0) -> dict:
    """EndpointStep only starts the deployment (as CreateEndpoint does on AWS); wait until it serves."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        endpoint = next((e for e in list_endpoints() if e["EndpointName"] == name), None)
        if endpoint and endpoint["EndpointStatus"] in ("InService", "Failed"):
            return endpoint
        time.sleep(0.2)
    raise TimeoutError(f"endpoint {name} is not in service after {timeout}s")


def check_endpoint(name: str, rows: list[str], labels: list[int]) -> bool:
    endpoint = wait_in_service(name)
    print(f"  endpoint {name}: {endpoint['EndpointStatus']}")
    if endpoint["EndpointStatus"] != "InService":
        print(f"  {endpoint.get('FailureReason')}")
        return False
    try:
        response = invoke_endpoint(EndpointName=name, Body="\n".join(rows).encode(), ContentType="text/csv",
                                   Accept="text/csv")
        predictions = [int(float(value)) for value in response["Body"].read().decode().split()]
    finally:
        stop_endpoint(name)
    correct = sum(p == label for p, label in zip(predictions, labels, strict=True))
    print(f"  held-out predictions: {correct}/{len(labels)} correct")
    return True


def run(pipeline: TrainingPipeline | InferencePipeline, job_name: str, rows: list[str], labels: list[int]) -> bool:
    workflow = pipeline.get_workflow()
    workflow.create_or_update()  # a template builds its Workflow; creating it is the caller's call
    execution = pipeline.execute(job_name=job_name)
    execution.get_output(wait=True)
    described = execution.describe()
    steps = [event["stateEnteredEventDetails"]["name"] for event in execution.list_events(max_items=1000)
             if event["type"].endswith("StateEntered")]
    print(f"{type(pipeline).__name__} {workflow.name}: {described['status']}")
    print(f"  steps: {' -> '.join(steps)}")
    if described["status"] != "SUCCEEDED":
        print(f"  {described.get('error')}: {described.get('cause')}")
        return False
    return check_endpoint(job_name, rows, labels)


def main(which: list[str]) -> int:
    store = ObjectStore()
    train, rows, labels = prepare_data(store)
    stamp = time.strftime("%H%M%S")
    ok = True
    if "training" in which:
        pipeline = TrainingPipeline(sklearn("classifier.py", **{"n-estimators": 40}), ROLE, {"train": train}, BUCKET,
                                    pipeline_name="stepfn-example-training-pipeline")
        ok = run(pipeline, f"trained-{stamp}", rows, labels) and ok
    if "inference" in which:
        pipeline = InferencePipeline(sklearn("featurizer.py", components=5), sklearn("classifier.py"),
                                     inputs={"train": train}, s3_bucket=BUCKET, role=ROLE,
                                     content_type="text/csv", pipeline_name="stepfn-example-inference-pipeline")
        ok = run(pipeline, f"pipelined-{stamp}", rows, labels) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["training", "inference"]))
