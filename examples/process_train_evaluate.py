"""Processing, then training, then evaluation, with a Choice on the evaluation metric.

The classic model-gating pipeline, run twice with different quality bars:

1. ``Preprocess`` (ProcessingStep, SKLearnProcessor): ``pipeline_code/preprocess.py`` splits a raw CSV into
   train and test sets;
2. ``Train`` (TrainingStep, SKLearn script mode): ``pipeline_code/train.py`` fits a logistic regression;
3. ``Evaluate`` (ProcessingStep): ``pipeline_code/evaluate.py`` scores the model archive on the test set and
   writes ``evaluation.json``;
4. ``Read evaluation`` (an AWS SDK S3 GetObject Task) parses that file into the state;
5. ``Good enough?`` (Choice) compares the accuracy with ``MinAccuracy`` from the execution input: register the
   model (ModelStep), or stop in a ``Fail`` state.

Every job name and output location is derived from one ``RunId`` with ``States.Format`` (the intrinsic
builders in ``stepfn.steps.intrinsics``), so concurrent executions never collide.
Run: ``python examples/process_train_evaluate.py``.
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("STEPFN_HOME", str(HERE.parent / ".stepfn"))

from stepfn.inputs import ExecutionInput  # noqa: E402
from stepfn.local.objectstore import ObjectStore  # noqa: E402
from stepfn.sagemaker import ProcessingInput, ProcessingOutput, Session, SKLearn, SKLearnProcessor  # noqa: E402
from stepfn.steps import (  # noqa: E402
    Chain,
    Choice,
    ChoiceRule,
    Fail,
    ModelStep,
    ProcessingStep,
    Succeed,
    Task,
    TrainingStep,
)
from stepfn.steps import intrinsics as fn  # noqa: E402
from stepfn.workflow import Workflow  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/stepfn-examples"
REGION = "us-east-1"
BUCKET = "stepfn-examples"
PREFIX = f"s3://{BUCKET}/gated"
CODE = HERE / "pipeline_code"


def prepare(store: ObjectStore) -> None:
    """A generated raw data set (header row, label last) and the two processing scripts, put in the bucket."""
    import numpy as np
    from sklearn.datasets import make_classification

    features, labels = make_classification(n_samples=600, n_features=8, n_informative=5, random_state=0)
    header = ",".join([f"f{i}" for i in range(features.shape[1])] + ["label"])
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([features, labels]), delimiter=",", fmt="%.6g", header=header, comments="")
    store.put_bytes(f"{PREFIX}/raw/data.csv", buffer.getvalue().encode())
    for script in ("preprocess.py", "evaluate.py"):
        store.upload(CODE / script, f"{PREFIX}/code/{script}")


def build_workflow() -> Workflow:
    session = Session(region_name=REGION, default_bucket=BUCKET)
    execution_input = ExecutionInput(schema={"RunId": str, "MinAccuracy": float})
    run_id = execution_input["RunId"]
    processor = SKLearnProcessor(framework_version="1.2-1", role=ROLE, instance_type="ml.m5.large",
                                 instance_count=1, sagemaker_session=session)
    code_input = ProcessingInput(source=f"{PREFIX}/code/", destination="/opt/ml/processing/code", input_name="code")
    preprocess = ProcessingStep(
        "Preprocess",
        processor=processor,
        job_name=fn.Format("preprocess-{}", run_id),
        inputs=[code_input, ProcessingInput(source=f"{PREFIX}/raw/", destination="/opt/ml/processing/input/raw",
                                            input_name="raw")],
        outputs=[ProcessingOutput(source="/opt/ml/processing/output/train", output_name="train",
                                  destination=fn.Format(PREFIX + "/{}/train", run_id)),
                 ProcessingOutput(source="/opt/ml/processing/output/test", output_name="test",
                                  destination=fn.Format(PREFIX + "/{}/test", run_id))],
        container_entrypoint=["python3", "/opt/ml/processing/code/preprocess.py"],
        container_arguments=["--input", "/opt/ml/processing/input/raw", "--output", "/opt/ml/processing/output"],
        result_path=None,
    )
    estimator = SKLearn(
        entry_point="train.py", source_dir=str(CODE), framework_version="1.2-1", py_version="py3", role=ROLE,
        instance_count=1, instance_type="ml.m5.large", output_path=f"{PREFIX}/models",
        hyperparameters={"regularization": 0.5}, sagemaker_session=session,
    )
    train = TrainingStep("Train", estimator=estimator, job_name=fn.Format("train-{}", run_id),
                         data={"train": fn.Format(PREFIX + "/{}/train", run_id)}, result_path="$.Training")
    evaluate = ProcessingStep(
        "Evaluate",
        processor=processor,
        job_name=fn.Format("evaluate-{}", run_id),
        inputs=[code_input,
                ProcessingInput(source=train.output()["Training"]["ModelArtifacts"]["S3ModelArtifacts"],
                                destination="/opt/ml/processing/model", input_name="model"),
                ProcessingInput(source=fn.Format(PREFIX + "/{}/test", run_id), destination="/opt/ml/processing/test",
                                input_name="test")],
        outputs=[ProcessingOutput(source="/opt/ml/processing/evaluation", output_name="evaluation",
                                  destination=fn.Format(PREFIX + "/{}/evaluation", run_id))],
        container_entrypoint=["python3", "/opt/ml/processing/code/evaluate.py"],
        container_arguments=["--model", "/opt/ml/processing/model", "--test", "/opt/ml/processing/test",
                             "--output", "/opt/ml/processing/evaluation"],
        result_path=None,
    )
    read_evaluation = Task(
        "Read evaluation",
        resource="arn:aws:states:::aws-sdk:s3:getObject",
        parameters={"Bucket": BUCKET, "Key": fn.Format("gated/{}/evaluation/evaluation.json", run_id)},
        result_selector={"Metrics.$": "States.StringToJson($.Body)"},
        result_path="$.Evaluation",
    )
    gate = Choice("Good enough?")
    # The Choice passes its input through, so the model data is where the training result was put.
    model = estimator.create_model()
    model.model_data = gate.output()["Training"]["ModelArtifacts"]["S3ModelArtifacts"]
    register = ModelStep("Register model", model=model, model_name=fn.Format("gated-{}", run_id), result_path="$.Model")
    gate.add_choice(ChoiceRule.NumericGreaterThanEqualsPath("$.Evaluation.Metrics.accuracy", "$.MinAccuracy"),
                    Chain([register, Succeed("Registered")]))
    gate.default_choice(Fail("Below the bar", error="ModelBelowThreshold",
                             cause="Test accuracy is lower than MinAccuracy"))
    return Workflow("stepfn-example-gated-training", Chain([preprocess, train, evaluate, read_evaluation, gate]),
                    ROLE, execution_input=execution_input)


def main() -> int:
    store = ObjectStore()
    prepare(store)
    workflow = build_workflow()
    workflow.create_or_update()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    # One run passes the bar, one does not; both run at the same time.
    bars = {"lenient": 0.8, "strict": 0.999}
    runs = {label: workflow.execute(name=f"gated-{label}-{stamp}",
                                    inputs={"RunId": f"{label}-{stamp}", "MinAccuracy": bar})
            for label, bar in bars.items()}
    ok = True
    for label, execution in runs.items():
        output = execution.get_output(wait=True)
        described = execution.describe()
        print(f"{label} (MinAccuracy={bars[label]}): {described['status']} {described.get('error', '')}".rstrip())
        evaluation = f"{PREFIX}/{label}-{stamp}/evaluation/evaluation.json"
        if not store.exists(evaluation):
            print(f"  no evaluation: {described.get('cause')}")
            ok = False
            continue
        print(f"  evaluation.json: {store.get_bytes(evaluation).decode()}")
        if described["status"] == "SUCCEEDED":
            print(f"  registered model: {output['Model']['ModelArn']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
