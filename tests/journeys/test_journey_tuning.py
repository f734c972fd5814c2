"""A TuningStep as the original SDK's ``doc/sagemaker.rst`` and its integration tests use it.

An XGBoost ``HyperparameterTuner`` (sagemaker v2 names) over two ranges, run by a TuningStep whose job name comes
from the execution input; a Choice reads ``FinalHyperParameterTuningJobObjectiveMetric`` from the step's output and
a second Task looks up the best job's model artifacts (``aws-sdk:sagemaker:describeTrainingJob``) before a ModelStep
registers that model.
"""

from __future__ import annotations

import random

import pytest

import stepfn.sagemaker as sagemaker
from stepfn import steps
from stepfn.inputs import ExecutionInput
from stepfn.local.objectstore import ObjectStore
from stepfn.sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter
from stepfn.workflow import ExecutionFailedWarning, Workflow

pytestmark = pytest.mark.slow

ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
WORKFLOW_ROLE = "arn:aws:iam::111122223333:role/StepFunctionsWorkflowExecutionRole"
BUCKET = "sagemaker-us-east-1-111122223333"


def csv_rows(count: int, seed: int) -> bytes:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        x = [rng.uniform(0, 1) for _ in range(4)]
        rows.append(",".join(f"{v:.4f}" for v in [10 * x[0] - 3 * x[2] + rng.gauss(0, 0.1), *x]))
    return "\n".join(rows).encode()


def test_tuning_step_then_register_the_best_model() -> None:
    store = ObjectStore()
    store.put_bytes(f"s3://{BUCKET}/tuning/train/train.csv", csv_rows(300, 1))
    store.put_bytes(f"s3://{BUCKET}/tuning/validation/validation.csv", csv_rows(80, 2))
    session = sagemaker.Session(region_name="us-east-1", default_bucket=BUCKET)
    xgb = sagemaker.estimator.Estimator(
        sagemaker.image_uris.retrieve("xgboost", "us-east-1", "1.2-1"), ROLE, instance_count=1,
        instance_type="ml.m5.large", output_path=f"s3://{BUCKET}/tuning/output", sagemaker_session=session,
    )
    xgb.set_hyperparameters(objective="reg:squarederror", num_round=30)
    tuner = HyperparameterTuner(
        estimator=xgb,
        objective_metric_name="validation:rmse",
        objective_type="Minimize",
        hyperparameter_ranges={"max_depth": IntegerParameter(2, 6), "eta": ContinuousParameter(0.05, 0.5)},
        max_jobs=2,
        max_parallel_jobs=1,
    )
    execution_input = ExecutionInput(schema={"TuningJobName": str, "ModelName": str, "MaxRmse": float})
    tuning_step = steps.TuningStep(
        "HyperparameterTuning",
        tuner=tuner,
        job_name=execution_input["TuningJobName"],
        data={
            "train": sagemaker.TrainingInput(f"s3://{BUCKET}/tuning/train", content_type="text/csv"),
            "validation": sagemaker.TrainingInput(f"s3://{BUCKET}/tuning/validation", content_type="text/csv"),
        },
        wait_for_completion=True,
        result_path="$.Tuning",
    )
    best_job = steps.Task(
        "Describe best job",
        resource="arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob",
        parameters={"TrainingJobName.$": "$.Tuning.BestTrainingJob.TrainingJobName"},
        result_selector={"ModelDataUrl.$": "$.ModelArtifacts.S3ModelArtifacts"},
        result_path="$.Best",
    )
    good_enough = steps.Choice("Good enough?")
    model = xgb.create_model()
    model.model_data = good_enough.output()["Best"]["ModelDataUrl"]
    register = steps.ModelStep("Register best model", model=model, model_name=execution_input["ModelName"],
                               result_path="$.Model")
    good_enough.add_choice(
        steps.ChoiceRule.NumericLessThanEqualsPath(
            "$.Tuning.BestTrainingJob.FinalHyperParameterTuningJobObjectiveMetric.Value", "$$.Execution.Input.MaxRmse"),
        register,
    )
    good_enough.default_choice(steps.Fail("Too inaccurate", error="ModelTooInaccurate"))
    workflow = Workflow("TuneAndRegister", steps.Chain([tuning_step, best_job, good_enough]), WORKFLOW_ROLE,
                        execution_input=execution_input)
    workflow.create()

    execution = workflow.execute(inputs={"TuningJobName": "tune-abalone-1", "ModelName": "best-abalone", "MaxRmse": 5.0})
    output = execution.get_output(wait=True)
    described = execution.describe()
    assert described["status"] == "SUCCEEDED", f"{described.get('error')}: {described.get('cause')}"
    tuning = output["Tuning"]
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 2
    best = tuning["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "validation:rmse"
    assert 0 < best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] < 5.0
    assert 2 <= int(best["TunedHyperParameters"]["max_depth"]) <= 6
    assert output["Best"]["ModelDataUrl"].startswith(f"s3://{BUCKET}/tuning/output/{best['TrainingJobName']}/")
    assert store.exists(output["Best"]["ModelDataUrl"])
    assert output["Model"]["ModelArn"].endswith(":model/best-abalone")

    strict = workflow.execute(inputs={"TuningJobName": "tune-abalone-2", "ModelName": "never", "MaxRmse": 0.0})
    with pytest.warns(ExecutionFailedWarning, match="FAILED at state 'Too inaccurate': ModelTooInaccurate"):
        strict.get_output(wait=True)
    assert strict.describe()["status"] == "FAILED" and strict.describe()["error"] == "ModelTooInaccurate"
