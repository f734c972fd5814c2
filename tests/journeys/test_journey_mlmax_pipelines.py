"""Port of awslabs/mlmax's training and inference pipelines (``modules/pipeline``): define, create, deploy, run.

Source: https://github.com/awslabs/mlmax at commit 0e6d2789573f45178b8548b77e5cb22db79e21cd, Apache-2.0:
``modules/pipeline/custom_steps.py``, ``training_pipeline_{define,create,run}.py``,
``inference_pipeline_{define,create,run}.py``, ``config/deploy-us-east-1-dev.ini``, the committed templates
``templates/my_{training,inference}_pipeline.yaml`` and the job scripts ``src/mlmax/{preprocessing,train,evaluation,
inference}.py``. They are not committed here: ``port-sources.toml`` names them and ``port_sources.materialize``
copies them from a fetched checkout (``$STEPFN_PORT_SOURCES``, see ``scripts/ported-suites.sh``) into the test's
temporary folder, in the repository's layout (the scripts refer to each other by relative paths such as
``../../src/mlmax/train.py``), their imports rewritten; without it the test skips.

What the project does, step by step as its README says, and how each runs here:

1. ``python training_pipeline_create.py`` and ``python inference_pipeline_create.py`` (run as ``__main__``): build
   the workflows and write their CloudFormation templates. The training pipeline uses the user's own ``Task``
   subclass ``MLMaxTrainingStep`` (``stepfunctions.steps.fields.Field``, ``tags_dict_to_kv_list``,
   ``sagemaker.workflow.airflow.training_config``, the estimator's default ``debugger_hook_config``), a v1-style
   ``SKLearn(train_instance_type=...)`` and ``SKLearnProcessor`` 0.20.0 steps; the inference pipeline two
   ``SKLearnProcessor`` steps. Each template written is compared with the one the project committed, which the
   original ``stepfunctions`` and ``sagemaker`` (v1) SDKs produced from the same code.
2. ``./deploy.sh dev <bucket>`` deploys the templates with CloudFormation. Stand-in: the state machines the stack
   creates (their ``!Sub`` parameters filled in as ``master.yaml`` fills them) are created on the local engine
   through stepfn's boto3-compatible client.
3. ``python training_pipeline_run.py -e dev``, then ``python inference_pipeline_run.py -e dev`` (run as
   ``__main__``), with ``stepfn serve`` running and its printed settings exported (``AWS_ENDPOINT_URL`` and the
   token as ``AWS_ACCESS_KEY_ID``): each asks STS for the account to build the state machine's ARN, uploads its
   scripts with ``Session.upload_data``, attaches to the state machine, executes it and waits. The training run
   prints the evaluation report read with ``S3Downloader.read_file``; the inference run finds the newest completed
   preprocessing and training jobs with boto3's ``list_processing_jobs`` / ``list_training_jobs`` and predicts
   with their models.

Changes: imports only (``sagemaker`` -> ``stepfn.sagemaker``, ``stepfunctions`` -> ``stepfn``, as
``import stepfn.sagemaker as sagemaker`` / ``import stepfn as stepfunctions`` where the module name is used); the
roles are the ones the stack would pass (dummy account); the public census CSV
(``s3://sagemaker-sample-data-us-east-1/processing/census/census-income.csv``) is a small generated file with its
columns. The project pins scikit-learn 0.20.0 (its ``requirements.txt``; the scripts use ``sklearn.externals.joblib``
and ``OneHotEncoder(sparse=False)``), and with the default ``STEPFN_JOB_ENV`` (``auto``) the jobs run in the
``sagemaker-scikit-learn:0.20.0`` image's environment, stepfn's own scikit-learn being another release, each in its
own mount namespace (the scripts' default data directory is the relative
``opt/ml/processing``, resolved from the image's working directory ``/``).
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from port_sources import materialize, needs
from sdk_integ_support import census_csv

pytestmark = [pytest.mark.slow, needs("mlmax")]

ACCOUNT = "123456789012"  # the local account (stepfn._partitions.LOCAL_ACCOUNT): stepfn serve's STS answers it
REGION = "us-east-1"


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project, the shell in ``modules/pipeline`` as the README has it."""
    root = materialize("mlmax", tmp_path / "mlmax")
    pipeline = root / "modules" / "pipeline"
    for name in ("training", "inference"):  # what the create scripts write again
        template = pipeline / "templates" / f"my_{name}_pipeline.yaml"
        template.rename(tmp_path / f"committed_my_{name}_pipeline.yaml")
    monkeypatch.chdir(pipeline)
    monkeypatch.syspath_prepend(str(pipeline))
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for module in ("custom_steps", "training_pipeline_define", "training_pipeline_create", "training_pipeline_run",
                   "inference_pipeline_define", "inference_pipeline_create", "inference_pipeline_run"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    return root


@pytest.fixture
def stepfn_serve(stepfn_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``stepfn serve`` for this home, and the settings it prints exported, as a user does for boto3 code."""
    from stepfn.server import read_token, start_background

    server = start_background(stepfn_home)
    # boto3's default session keeps the credentials it first resolved: a fresh one reads this server's token.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    for key, value in {"AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": str(read_token(stepfn_home)),
                       "AWS_SECRET_ACCESS_KEY": "stepfn", "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}.items():
        monkeypatch.setenv(key, value)
    yield server.url
    server.stop()


def run_script(name: str, *args: str) -> None:
    """``python NAME ARGS`` in the current directory, in this interpreter (so the local engine is shared)."""
    argv = sys.argv
    sys.argv = [name, *args]
    try:
        runpy.run_path(name, run_name="__main__")
    finally:
        sys.argv = argv


def deploy(template: Path) -> str:
    """What ``deploy.sh`` gets from CloudFormation: the stack's state machine, its parameters substituted."""
    import yaml

    class CloudFormationLoader(yaml.SafeLoader):
        """Reads the ``!Sub`` / ``!GetAtt`` short forms (tags PyYAML does not know) as their strings."""

    for tag in ("!Sub", "!GetAtt"):
        CloudFormationLoader.add_constructor(tag, lambda loader, node: loader.construct_scalar(node))
    resource = yaml.load(template.read_text(), Loader=CloudFormationLoader)["Resources"]["StateMachineComponent"]
    parameters = {  # master.yaml's values for the nested stacks, PipelineName and TargetEnv from deploy-us-east-1-dev.ini
        "PipelineName": "MlMaxPipelineDemo",
        "TargetEnv": "dev",
        "SagerMakerRoleArn": f"arn:aws:iam::{ACCOUNT}:role/MlMaxPipelineDemo-SageMakerRole-dev",
        "WorkflowExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/MlMaxPipelineDemo-WorkflowExecutionRole-dev",
    }

    def substitute(text: str) -> str:
        for key, value in parameters.items():
            text = text.replace("${" + key + "}", value)
        return text

    from stepfn.workflow.local_client import LocalStepFunctionsClient

    properties = resource["Properties"]
    response = LocalStepFunctionsClient().create_state_machine(
        name=substitute(properties["StateMachineName"]),
        definition=substitute(properties["DefinitionString"]),
        roleArn=substitute(properties["RoleArn"]))
    return str(response["stateMachineArn"])


def same_but_for_v1_lines(written: str, committed: str) -> bool:
    """The committed templates came from sagemaker v1: their hyperparameters still carry
    sagemaker_enable_cloudwatch_metrics (sagemaker 2.0 stopped sending it) and v1 processing inputs and outputs
    had no AppManaged (sagemaker >= 2.20 sends ``"AppManaged": false``). Apart from those lines a template, key
    order and whitespace included, must be what the original SDKs wrote."""
    return [line for line in written.splitlines() if '"AppManaged": false,' not in line] == [
        line for line in committed.splitlines() if '"sagemaker_enable_cloudwatch_metrics": "false",' not in line]


def run_reporting_failures(state_machine_arn: str, name: str) -> None:
    """``run_script(name, "-e", "dev")``; a failed execution (filterwarnings = error) fails with its jobs' causes."""
    from stepfn.workflow import Workflow
    from stepfn.workflow.execution import ExecutionFailedWarning

    try:
        run_script(name, "-e", "dev")
    except ExecutionFailedWarning:
        failed = Workflow.attach(state_machine_arn).list_executions()[0]
        pytest.fail("\n".join(event["taskFailedEventDetails"]["cause"] for event in failed.list_events()
                              if event["type"] == "TaskFailed"))


def test_create_deploy_and_run_the_training_and_inference_pipelines(
        checkout: Path, tmp_path: Path, stepfn_serve: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from stepfn.local.objectstore import ObjectStore
    from stepfn.local.sagemaker.isolation import choose_isolation
    from stepfn.local.sagemaker.records import RecordStore
    from stepfn.workflow import Workflow

    # 1. python training_pipeline_create.py; python inference_pipeline_create.py
    #    (sagemaker v2 warns of the training estimator's v1 argument name, as stepfn does)
    with pytest.warns(DeprecationWarning, match="train_instance_type has been renamed"):
        run_script("training_pipeline_create.py")
    written = Path("templates/my_training_pipeline.yaml").read_text()
    assert written.count('"AppManaged": false,') == 9
    assert same_but_for_v1_lines(written, (tmp_path / "committed_my_training_pipeline.yaml").read_text())
    # The committed inference template was made in ap-southeast-1 (its images are that region's), before
    # format_template_str() appended the Outputs section; made there, it is the same but for those lines.
    with monkeypatch.context() as there:
        there.setenv("AWS_DEFAULT_REGION", "ap-southeast-1")
        run_script("inference_pipeline_create.py")
    written, outputs = Path("templates/my_inference_pipeline.yaml").read_text().split("\n\nOutputs:\n")
    assert "121021644041.dkr.ecr.ap-southeast-1.amazonaws.com/sagemaker-scikit-learn:0.20.0-cpu-py3" in written
    assert outputs == "  StateMachineComponentArn:\n    Description: The step function ARN\n" \
                      "    Value: !GetAtt StateMachineComponent.Arn\n"
    assert written.count('"AppManaged": false,') == 8
    assert same_but_for_v1_lines(written, (tmp_path / "committed_my_inference_pipeline.yaml").read_text())
    run_script("inference_pipeline_create.py")  # and in the region this test deploys to

    # 2. ./deploy.sh dev <bucket>
    training_arn = deploy(Path("templates/my_training_pipeline.yaml"))
    inference_arn = deploy(Path("templates/my_inference_pipeline.yaml"))
    assert training_arn == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:MlMaxPipelineDemo-Training-dev"
    assert inference_arn == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:MlMaxPipelineDemo-Inference-dev"

    # The public sample data the run scripts read.
    ObjectStore().put_bytes("s3://sagemaker-sample-data-us-east-1/processing/census/census-income.csv",
                            census_csv(400))

    if not choose_isolation().isolated:  # the relocated fallback's message is tested in tests/local
        pytest.skip("jobs cannot have their own mount namespace here (no bubblewrap, no user namespaces)")
    monkeypatch.delenv("STEPFN_JOB_ENV")  # the user's default (auto), not the suite's host
    monkeypatch.setenv("STEPFN_ENV_DIR", os.environ.get("STEPFN_TEST_ENV_DIR") or str(tmp_path / "envs"))

    # 3. python training_pipeline_run.py -e dev
    capsys.readouterr()
    run_reporting_failures(training_arn, "training_pipeline_run.py")
    printed = capsys.readouterr().out
    assert "State Machine Name is MlMaxPipelineDemo-Training-dev" in printed
    report = json.loads(printed[printed.rindex("\n{\n") + 1:])  # the script's last print: the evaluation report
    assert report["accuracy"] > 0.6 and {"0", "1", "roc_auc", "macro avg"} <= set(report)
    assert Workflow.attach(training_arn).list_executions()[0].describe()["status"] == "SUCCEEDED"
    # The jobs ran in scikit-learn 0.20.0's environment, in their own mount namespace.
    training_job_name = printed.split("Training Job Name is ")[1].split()[0]
    log = RecordStore().log_path("training-job", training_job_name).read_text()
    assert "stepfn: the job runs in the sklearn 0.20.0 environment (Python 3.7" in log, log[:2000]

    # 4. python inference_pipeline_run.py -e dev: the newest completed jobs' models, found with boto3
    run_reporting_failures(inference_arn, "inference_pipeline_run.py")
    printed = capsys.readouterr().out
    preprocessing = RecordStore().get("processing-job", printed.split("Preprocessing Job Name is ")[1].split()[0])
    assert preprocessing is not None
    proc_model = next(i for i in preprocessing["ProcessingInputs"] if i["InputName"] == "proc_model")
    trained = f"s3://sagemaker-us-east-1-{ACCOUNT}/{training_job_name}/output/model.tar.gz"
    assert f"Using model_s3: {trained}" in printed
    assert proc_model["S3Input"]["S3Uri"].endswith("/output/proc_model.tar.gz")
    inference_job_name = printed.split("Inference Job Name is ")[1].split()[0]
    predictions = ObjectStore().get_bytes(
        f"s3://sagemaker-us-east-1-{ACCOUNT}/{inference_job_name}/output/predictions.csv").decode().split()
    assert len(predictions) == 400 and set(predictions) <= {"0", "1"}  # one class per census row
    assert Workflow.attach(inference_arn).list_executions()[0].describe()["status"] == "SUCCEEDED"
