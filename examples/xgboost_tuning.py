"""Built-in XGBoost with hyperparameter tuning, then a batch transform with the best model.

1. ``Tune XGBoost`` (TuningStep + HyperparameterTuner): four training jobs of SageMaker's built-in XGBoost
   algorithm, two at a time, searching ``max_depth`` and ``eta`` to maximise ``validation:auc``. Locally each
   trial is a real training job (the XGBoost algorithm-mode emulator) and the search is optuna's;
2. ``Best model`` (Pass) picks the winning job from the DescribeHyperParameterTuningJob result and builds its
   model artifact URI with ``States.Format``;
3. ``Create model`` (ModelStep) registers that artifact with the XGBoost serving image;
4. ``Score test set`` (TransformStep) runs a batch transform of the held-out rows through it.

Data: scikit-learn's bundled breast-cancer set, as CSV with the label first (no download).
Run: ``python examples/xgboost_tuning.py``.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("STEPFN_HOME", str(Path(__file__).resolve().parent.parent / ".stepfn"))

from stepfn.inputs import ExecutionInput
from stepfn.local.objectstore import ObjectStore
from stepfn.sagemaker import (
    ContinuousParameter,
    Estimator,
    HyperparameterTuner,
    IntegerParameter,
    Model,
    Session,
    TrainingInput,
    Transformer,
    image_uris,
)
from stepfn.steps import Chain, ModelStep, Pass, TransformStep, TuningStep
from stepfn.workflow import Workflow

ROLE = "arn:aws:iam::123456789012:role/stepfn-examples"
REGION = "us-east-1"
BUCKET = "stepfn-examples"
OUTPUT = f"s3://{BUCKET}/xgboost-tuning/models"


def prepare_data(store: ObjectStore) -> dict[str, str]:
    """Train / validation / test CSVs in the object store; the test file has no label column."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer

    features, labels = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(11).permutation(len(labels))
    rows = np.column_stack([labels[order], features[order]])
    splits = {"train": rows[:400], "validation": rows[400:500], "test": rows[500:, 1:]}
    uris = {}
    for name, data in splits.items():
        buffer = io.StringIO()
        np.savetxt(buffer, data, delimiter=",", fmt="%.6g")
        store.put_bytes(f"s3://{BUCKET}/xgboost-tuning/{name}/{name}.csv", buffer.getvalue().encode())
        uris[name] = f"s3://{BUCKET}/xgboost-tuning/{name}/"
    return uris


def build_workflow(data: dict[str, str]) -> Workflow:
    session = Session(region_name=REGION, default_bucket=BUCKET)
    image = image_uris.retrieve("xgboost", REGION, version="1.7-1")
    xgboost = Estimator(
        image_uri=image, role=ROLE, instance_count=1, instance_type="ml.m5.large", output_path=OUTPUT,
        hyperparameters={"objective": "binary:logistic", "num_round": 30, "eval_metric": "auc"},
        sagemaker_session=session,
    )
    tuner = HyperparameterTuner(
        xgboost,
        objective_metric_name="validation:auc",
        hyperparameter_ranges={"max_depth": IntegerParameter(2, 6), "eta": ContinuousParameter(0.05, 0.5)},
        strategy="Random",
        max_jobs=4,
        max_parallel_jobs=2,
    )
    execution_input = ExecutionInput(schema={"TuningJobName": str, "ModelName": str, "TransformJobName": str})
    tune = TuningStep(
        "Tune XGBoost",
        tuner=tuner,
        job_name=execution_input["TuningJobName"],
        # The algorithm reads libsvm unless a channel says text/csv, as on SageMaker.
        data={channel: TrainingInput(data[channel], content_type="text/csv") for channel in ("train", "validation")},
    )
    best = Pass("Best model", parameters={
        "TrainingJobName.$": "$.BestTrainingJob.TrainingJobName",
        "AUC.$": "$.BestTrainingJob.FinalHyperParameterTuningJobObjectiveMetric.Value",
        "Hyperparameters.$": "$.BestTrainingJob.TunedHyperParameters",
        "ModelData.$": f"States.Format('{OUTPUT}/{{}}/output/model.tar.gz', $.BestTrainingJob.TrainingJobName)",
    })
    model = Model(image_uri=image, model_data=best.output()["ModelData"], role=ROLE, sagemaker_session=session)
    create_model = ModelStep("Create model", model=model, model_name=execution_input["ModelName"], result_path=None)
    transformer = Transformer(
        model_name="set-by-the-step", instance_count=1, instance_type="ml.m5.large",
        output_path=f"s3://{BUCKET}/xgboost-tuning/predictions", accept="text/csv", assemble_with="Line",
        sagemaker_session=session,
    )
    score = TransformStep(
        "Score test set", transformer=transformer, job_name=execution_input["TransformJobName"],
        model_name=execution_input["ModelName"], data=data["test"], content_type="text/csv", split_type="Line",
        result_path="$.Transform",
    )
    return Workflow("stepfn-example-xgboost-tuning", Chain([tune, best, create_model, score]), ROLE,
                    execution_input=execution_input)


def main() -> int:
    store = ObjectStore()
    data = prepare_data(store)
    workflow = build_workflow(data)
    workflow.create_or_update()
    run = time.strftime("%Y%m%d-%H%M%S")
    execution = workflow.execute(name=f"xgb-tuning-{run}", inputs={
        "TuningJobName": f"xgb-{run}", "ModelName": f"xgb-best-{run}", "TransformJobName": f"xgb-score-{run}",
    })
    output = execution.get_output(wait=True)
    status = execution.describe()["status"]
    print(f"status: {status}")
    if status != "SUCCEEDED":
        print(json.dumps(execution.describe(), indent=2, default=str))
        return 1

    from stepfn.local.sagemaker.tuning import list_training_jobs_for_tuning_job

    for trial in sorted(list_training_jobs_for_tuning_job(f"xgb-{run}"), key=lambda t: t["TrainingJobName"]):
        metric = trial["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        print(f"trial {trial['TrainingJobName']}: {json.dumps(trial['TunedHyperParameters'], sort_keys=True)} "
              f"validation:auc={metric:.4f}")
    print(f"best: {output['TrainingJobName']} validation:auc={output['AUC']:.4f}")
    predictions_uri = output["Transform"]["TransformOutput"]["S3OutputPath"].rstrip("/") + "/test.csv.out"
    predictions = [float(line) for line in store.get_bytes(predictions_uri).decode().split()]
    print(f"batch transform: {len(predictions)} predictions in {predictions_uri}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
