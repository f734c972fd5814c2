"""Port of amazon-sagemaker-examples ``step_functions_mlworkflow_scikit_learn_data_processing_and_model_evaluation``.

The notebook's authoring code is kept as written (imports changed, the role and session given literally): an
SKLearnProcessor preprocesses a census-like CSV, an SKLearn estimator (v1 argument ``train_instance_type``, no
instance count, as sagemaker v2 allows for scikit-learn) trains a logistic regression, a second processing job
evaluates it, and a Catch sends any failure to a Fail state. The scripts go up with ``Session.upload_data`` and the
report comes back with ``S3Downloader.read_file``, as in the notebook.

Source: https://github.com/aws/amazon-sagemaker-examples, ``step-functions-data-science-sdk/step_functions_mlworkflow_processing/
step_functions_mlworkflow_scikit_learn_data_processing_and_model_evaluation.ipynb`` (commit 066c18ace383), Apache-2.0.

The last test runs the notebook's own three scripts as written (``%%writefile`` cells: hard-coded ``/opt/ml``
paths, ``sklearn.externals.joblib``, ``OneHotEncoder(sparse=False)``; not committed here: ``port-sources.toml``'s
``processing_scripts`` takes them from the notebook in a fetched checkout, ``$STEPFN_PORT_SOURCES``, see
``scripts/ported-suites.sh``, and the test skips without it) with the default ``STEPFN_JOB_ENV``
(``auto``), which runs them in the ``sagemaker-scikit-learn:0.20.0`` image's environment (Python 3.7 and
scikit-learn 0.20.0, built with uv) since stepfn's own scikit-learn is another release, with each job in
its own mount namespace; the only stand-in is the census CSV (the public sample bucket's file, small and
generated, with the notebook's columns). It is skipped where jobs cannot have their own mount namespace.

The first test keeps scripts adapted to any host: modern scikit-learn (``import joblib``, ``sparse_output``) and
paths from ``SAGEMAKER_BASE_DIR`` / ``SM_*``, so it also runs where jobs cannot have their own mount namespace and
in stepfn's own Python.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from pathlib import Path

import pytest
from port_sources import materialize, needs
from sdk_integ_support import census_csv

import stepfn
import stepfn.sagemaker as sagemaker
from stepfn import steps
from stepfn.inputs import ExecutionInput
from stepfn.local.objectstore import ObjectStore
from stepfn.sagemaker.processing import ProcessingInput, ProcessingOutput
from stepfn.sagemaker.sklearn import SKLearnProcessor
from stepfn.steps import Chain, ProcessingStep
from stepfn.workflow import Workflow

pytestmark = pytest.mark.slow

role = "arn:aws:iam::111122223333:role/SageMakerRole"
workflow_execution_role = "arn:aws:iam::111122223333:role/AmazonSageMaker-StepFunctionsWorkflowExecutionRole"

PREPROCESSING = '''
import argparse
import os

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

BASE = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")
columns = ["age", "education", "capital gains", "dividends from stocks", "income"]
class_labels = [" - 50000.", " 50000+."]

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-test-split-ratio", type=float, default=0.3)
    args, _ = parser.parse_known_args()
    print("Received arguments {}".format(args))
    input_data_path = os.path.join(BASE, "processing/input", "census-income.csv")
    df = pd.read_csv(input_data_path)
    df = pd.DataFrame(data=df, columns=columns)
    df.dropna(inplace=True)
    df.drop_duplicates(inplace=True)
    df["income"] = df["income"].map({class_labels[0]: 0, class_labels[1]: 1})
    negative_examples, positive_examples = np.bincount(df["income"])
    print("Data after cleaning: {}, {} positive examples, {} negative examples".format(
        df.shape, positive_examples, negative_examples))
    X_train, X_test, y_train, y_test = train_test_split(
        df.drop("income", axis=1), df["income"], test_size=args.train_test_split_ratio, random_state=0)
    preprocess = make_column_transformer(
        (StandardScaler(), ["age", "capital gains", "dividends from stocks"]),
        (OneHotEncoder(sparse_output=False, handle_unknown="ignore"), ["education"]),
    )
    train_features = preprocess.fit_transform(X_train)
    test_features = preprocess.transform(X_test)
    pd.DataFrame(train_features).to_csv(os.path.join(BASE, "processing/train", "train_features.csv"), header=False, index=False)
    pd.DataFrame(test_features).to_csv(os.path.join(BASE, "processing/test", "test_features.csv"), header=False, index=False)
    y_train.to_csv(os.path.join(BASE, "processing/train", "train_labels.csv"), header=False, index=False)
    y_test.to_csv(os.path.join(BASE, "processing/test", "test_labels.csv"), header=False, index=False)
'''

TRAIN = '''
import os

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression

if __name__ == "__main__":
    training_data_directory = os.environ["SM_CHANNEL_TRAIN"]
    X_train = pd.read_csv(os.path.join(training_data_directory, "train_features.csv"), header=None)
    y_train = pd.read_csv(os.path.join(training_data_directory, "train_labels.csv"), header=None)
    model = LogisticRegression(class_weight="balanced", solver="lbfgs")
    print("Training LR model")
    model.fit(X_train, y_train.values.ravel())
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
'''

EVALUATION = '''
import json
import os
import tarfile

import joblib
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, roc_auc_score

BASE = os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")

if __name__ == "__main__":
    model_path = os.path.join(BASE, "processing/model", "model.tar.gz")
    # The one member it needs, read in place: extractall(filter=...) does not exist on Python 3.11.2.
    with tarfile.open(model_path) as tar:
        model = joblib.load(tar.extractfile("model.joblib"))
    X_test = pd.read_csv(os.path.join(BASE, "processing/test", "test_features.csv"), header=None)
    y_test = pd.read_csv(os.path.join(BASE, "processing/test", "test_labels.csv"), header=None)
    predictions = model.predict(X_test)
    report_dict = classification_report(y_test, predictions, output_dict=True)
    report_dict["accuracy"] = accuracy_score(y_test, predictions)
    report_dict["roc_auc"] = roc_auc_score(y_test, predictions)
    with open(os.path.join(BASE, "processing/evaluation", "evaluation.json"), "w") as f:
        f.write(json.dumps(report_dict))
'''


def census_like_csv(rows: int) -> bytes:
    """A header row and the notebook's columns; income depends on age, gains and education."""
    rng = random.Random(0)
    lines = ["age,education,capital gains,dividends from stocks,income"]
    for _ in range(rows):
        age = rng.randint(18, 80)
        education = rng.choice(["Bachelors", "High school", "Masters", "Doctorate"])
        gains = rng.choice([0, 0, 0, rng.randint(1000, 20000)])
        dividends = rng.choice([0, 0, rng.randint(10, 5000)])
        score = (age - 40) / 10 + gains / 5000 + (1.5 if education in ("Masters", "Doctorate") else 0)
        income = " 50000+." if score + rng.gauss(0, 0.7) > 1.0 else " - 50000."
        lines.append(f"{age},{education},{gains},{dividends},{income}")
    return ("\n".join(lines) + "\n").encode()


def build(tmp_path: Path, preprocessing_script: str, train_script: str = TRAIN, evaluation_script: str = EVALUATION,
          census: bytes | None = None) -> tuple[Workflow, ExecutionInput, str]:
    """The notebook's cells, in order."""
    sagemaker_session = sagemaker.Session(region_name="us-west-2", default_bucket="sagemaker-us-west-2-111122223333")
    store = ObjectStore()
    input_data = "s3://sagemaker-sample-data-us-west-2/processing/census/census-income.csv"
    store.put_bytes(input_data, census if census is not None else census_like_csv(400))

    execution_input = ExecutionInput(
        schema={"PreprocessingJobName": str, "TrainingJobName": str, "EvaluationProcessingJobName": str}
    )
    sklearn_processor = SKLearnProcessor(
        framework_version="0.20.0", role=role, instance_type="ml.m5.xlarge", instance_count=1,
        max_runtime_in_seconds=1200,
    )
    (tmp_path / "preprocessing.py").write_text(preprocessing_script)
    PREPROCESSING_SCRIPT_LOCATION = "preprocessing.py"

    input_code = sagemaker_session.upload_data(
        PREPROCESSING_SCRIPT_LOCATION,
        bucket=sagemaker_session.default_bucket(),
        key_prefix="data/sklearn_processing/code",
    )
    s3_bucket_base_uri = "{}{}".format("s3://", sagemaker_session.default_bucket())
    output_data = "{}/{}".format(s3_bucket_base_uri, "data/sklearn_processing/output")
    preprocessed_training_data = "{}/{}".format(output_data, "train_data")
    inputs = [
        ProcessingInput(source=input_data, destination="/opt/ml/processing/input", input_name="input-1"),
        ProcessingInput(source=input_code, destination="/opt/ml/processing/input/code", input_name="code"),
    ]
    outputs = [
        ProcessingOutput(source="/opt/ml/processing/train", destination="{}/{}".format(output_data, "train_data"),
                         output_name="train_data"),
        ProcessingOutput(source="/opt/ml/processing/test", destination="{}/{}".format(output_data, "test_data"),
                         output_name="test_data"),
    ]
    processing_step = ProcessingStep(
        "SageMaker pre-processing step",
        processor=sklearn_processor,
        job_name=execution_input["PreprocessingJobName"],
        inputs=inputs,
        outputs=outputs,
        container_arguments=["--train-test-split-ratio", "0.2"],
        container_entrypoint=["python3", "/opt/ml/processing/input/code/preprocessing.py"],
    )

    (tmp_path / "train.py").write_text(train_script)
    with pytest.warns(DeprecationWarning, match="train_instance_type has been renamed"):
        sklearn = sagemaker.sklearn.estimator.SKLearn(
            entry_point="train.py",
            train_instance_type="ml.m5.xlarge",
            role=role,
            framework_version="0.20.0",
            py_version="py3",
            sagemaker_session=sagemaker_session,
        )
    training_step = steps.TrainingStep(
        "SageMaker Training Step",
        estimator=sklearn,
        data={"train": sagemaker.TrainingInput(preprocessed_training_data, content_type="text/csv")},
        job_name=execution_input["TrainingJobName"],
        wait_for_completion=True,
    )

    (tmp_path / "evaluation.py").write_text(evaluation_script)
    MODELEVALUATION_SCRIPT_LOCATION = "evaluation.py"

    input_evaluation_code = sagemaker_session.upload_data(
        MODELEVALUATION_SCRIPT_LOCATION,
        bucket=sagemaker_session.default_bucket(),
        key_prefix="data/sklearn_processing/code",
    )
    training_job_name = f"scikit-learn-training-{uuid.uuid1().hex}"
    preprocessed_testing_data = "{}/{}".format(output_data, "test_data")
    model_data_s3_uri = "{}/{}/{}".format(s3_bucket_base_uri, training_job_name, "output/model.tar.gz")
    output_model_evaluation_s3_uri = "{}/{}/{}".format(s3_bucket_base_uri, training_job_name, "evaluation")
    inputs_evaluation = [
        ProcessingInput(source=preprocessed_testing_data, destination="/opt/ml/processing/test", input_name="input-1"),
        ProcessingInput(source=model_data_s3_uri, destination="/opt/ml/processing/model", input_name="input-2"),
        ProcessingInput(source=input_evaluation_code, destination="/opt/ml/processing/input/code", input_name="code"),
    ]
    outputs_evaluation = [
        ProcessingOutput(source="/opt/ml/processing/evaluation", destination=output_model_evaluation_s3_uri,
                         output_name="evaluation"),
    ]
    model_evaluation_processor = SKLearnProcessor(
        framework_version="0.20.0", role=role, instance_type="ml.m5.xlarge", instance_count=1,
        max_runtime_in_seconds=1200,
    )
    processing_evaluation_step = ProcessingStep(
        "SageMaker Processing Model Evaluation step",
        processor=model_evaluation_processor,
        job_name=execution_input["EvaluationProcessingJobName"],
        inputs=inputs_evaluation,
        outputs=outputs_evaluation,
        container_entrypoint=["python3", "/opt/ml/processing/input/code/evaluation.py"],
    )
    failed_state_sagemaker_processing_failure = stepfn.steps.states.Fail(
        "ML Workflow failed", cause="SageMakerProcessingJobFailed"
    )
    catch_state_processing = stepfn.steps.states.Catch(
        error_equals=["States.TaskFailed"],
        next_step=failed_state_sagemaker_processing_failure,
    )
    processing_step.add_catch(catch_state_processing)
    processing_evaluation_step.add_catch(catch_state_processing)
    training_step.add_catch(catch_state_processing)

    workflow_graph = Chain([processing_step, training_step, processing_evaluation_step])
    branching_workflow = Workflow(
        name="SageMakerProcessingWorkflow", definition=workflow_graph, role=workflow_execution_role
    )
    branching_workflow.create()
    return branching_workflow, execution_input, training_job_name


def test_preprocess_train_evaluate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the notebook writes its scripts with %%writefile into the working directory
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")  # the notebook's processors use the configured region
    branching_workflow, _inputs, training_job_name = build(tmp_path, PREPROCESSING)
    execution = branching_workflow.execute(
        inputs={
            "PreprocessingJobName": f"scikit-learn-sm-preprocessing-{uuid.uuid1().hex}",
            "TrainingJobName": training_job_name,
            "EvaluationProcessingJobName": f"scikit-learn-sm-evaluation-{uuid.uuid1().hex}",
        }
    )
    workflow_execution_output_json = execution.get_output(wait=True)
    failures = [e for e in execution.list_events() if e["type"] == "TaskFailed"]
    assert execution.describe()["status"] == "SUCCEEDED", [json.loads(e["taskFailedEventDetails"]["cause"]).get("FailureReason") for e in failures]
    assert "SageMaker Processing Model Evaluation step" in execution.render_progress().data

    # The notebook's last cell.
    from stepfn.sagemaker.s3 import S3Downloader

    evaluation_output_config = workflow_execution_output_json["ProcessingOutputConfig"]
    for output in evaluation_output_config["Outputs"]:
        if output["OutputName"] == "evaluation":
            evaluation_s3_uri = "{}/{}".format(output["S3Output"]["S3Uri"], "evaluation.json")
            break
    evaluation_output = S3Downloader.read_file(evaluation_s3_uri)
    evaluation_output_dict = json.loads(evaluation_output)
    assert evaluation_output_dict["accuracy"] > 0.6
    assert set(evaluation_output_dict) >= {"0", "1", "accuracy", "roc_auc", "macro avg"}


@needs("processing_scripts")
def test_the_notebooks_own_scripts_in_the_images_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stepfn.local.sagemaker.isolation import choose_isolation

    if not choose_isolation().isolated:  # the relocated fallback's message is tested in tests/local
        pytest.skip("jobs cannot have their own mount namespace here (no bubblewrap, no user namespaces)")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.delenv("STEPFN_JOB_ENV")  # the user's default (auto), not the suite's host
    monkeypatch.setenv("STEPFN_ENV_DIR", os.environ.get("STEPFN_TEST_ENV_DIR") or str(tmp_path / "envs"))
    notebook = materialize("processing_scripts", tmp_path / "sources") / "step-functions-data-science-sdk" \
        / "step_functions_mlworkflow_processing"
    branching_workflow, _inputs, training_job_name = build(
        tmp_path, *((notebook / name).read_text() for name in ("preprocessing.py", "train.py", "evaluation.py")),
        census_csv(300))
    execution = branching_workflow.execute(inputs={
        "PreprocessingJobName": f"scikit-learn-sm-preprocessing-{uuid.uuid1().hex}",
        "TrainingJobName": training_job_name,
        "EvaluationProcessingJobName": f"scikit-learn-sm-evaluation-{uuid.uuid1().hex}"})
    workflow_execution_output_json = execution.get_output(wait=True)
    failures = [e for e in execution.list_events() if e["type"] == "TaskFailed"]
    assert execution.describe()["status"] == "SUCCEEDED", [e["taskFailedEventDetails"]["cause"] for e in failures]

    from stepfn.sagemaker.s3 import S3Downloader

    evaluation_output_config = workflow_execution_output_json["ProcessingOutputConfig"]
    for output in evaluation_output_config["Outputs"]:
        if output["OutputName"] == "evaluation":
            evaluation_s3_uri = "{}/{}".format(output["S3Output"]["S3Uri"], "evaluation.json")
            break
    evaluation_output_dict = json.loads(S3Downloader.read_file(evaluation_s3_uri))
    assert evaluation_output_dict["accuracy"] > 0.6 and {"0", "1", "roc_auc"} <= set(evaluation_output_dict)
    # The jobs ran in scikit-learn 0.20.0's environment, in their own mount namespace.
    from stepfn.local.sagemaker.records import RecordStore

    log = RecordStore().log_path("training-job", training_job_name).read_text()
    assert "stepfn: the job runs in the sklearn 0.20.0 environment (Python 3.7" in log, log[:2000]
    assert "stepfn: isolation " in log and "the job sees its directory as /opt/ml" in log
