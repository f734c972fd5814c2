"""Port of awslabs/mlmax's training pipeline (``modules/pipeline``): define, create (CloudFormation), deploy, run.

Source: https://github.com/awslabs/mlmax at commit 0e6d2789573f45178b8548b77e5cb22db79e21cd, Apache-2.0:
``modules/pipeline/custom_steps.py``, ``training_pipeline_define.py``, ``training_pipeline_create.py``,
``training_pipeline_run.py``, ``config/deploy-us-east-1-dev.ini``, ``templates/my_training_pipeline.yaml`` and the
job scripts ``src/mlmax/preprocessing.py``, ``train.py``, ``evaluation.py``, kept in ``tests/journeys/mlmax/`` in the
repository's layout (the scripts refer to each other by relative paths such as ``../../src/mlmax/train.py``).

What the project does, step by step as its README says, and how each runs here:

1. ``python training_pipeline_create.py`` (run as ``__main__``): builds the workflow with the user's own ``Task``
   subclass ``MLMaxTrainingStep`` (``stepfunctions.steps.fields.Field``, ``tags_dict_to_kv_list``,
   ``sagemaker.workflow.airflow.training_config``, the estimator's default ``debugger_hook_config``), a v1-style
   ``SKLearn(train_instance_type=...)`` and two ``SKLearnProcessor`` 0.20.0 steps, and writes the CloudFormation
   template. The template it writes is compared byte for byte with the one the project committed, which the real
   ``stepfunctions`` and ``sagemaker`` SDKs produced from the same code.
2. ``./deploy.sh dev <bucket>`` deploys that template with CloudFormation. Stand-in: the state machine the stack
   creates (its ``!Sub`` parameters filled in as ``master.yaml`` fills them) is created on the local engine through
   stepfn's boto3-compatible client.
3. ``python training_pipeline_run.py -e dev`` (run as ``__main__``): uploads the scripts with
   ``Session.upload_data``, packs ``sourcedir.tar.gz``, attaches to the state machine by ARN, executes it, waits,
   and prints the evaluation report read with ``S3Downloader.read_file``. Its ``sts.get_caller_identity()`` (the
   account for the ARN) is answered by moto.

Changes: imports only (``sagemaker`` -> ``stepfn.sagemaker``, ``stepfunctions`` -> ``stepfn``, as
``import stepfn.sagemaker as sagemaker`` / ``import stepfn as stepfunctions`` where the module name is used); the
roles are the ones the stack would pass (dummy account); the public census CSV
(``s3://sagemaker-sample-data-us-east-1/processing/census/census-income.csv``) is a small generated file with its
columns. The project pins scikit-learn 0.20.0 (its ``requirements.txt``; the scripts use ``sklearn.externals.joblib``
and ``OneHotEncoder(sparse=False)``), so the jobs run in the ``sagemaker-scikit-learn:0.20.0`` image's environment
(``STEPFN_JOB_ENV=image``), each in its own mount namespace (the preprocessing script's default data directory is
the relative ``opt/ml/processing``, resolved from the container's working directory ``/``).
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import sys
from pathlib import Path

import pytest
from sdk_integ_support import census_csv

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).parent / "mlmax"
ACCOUNT = "123456789012"  # moto's account, and the local engine's
REGION = "us-east-1"


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project, the shell in ``modules/pipeline`` as the README has it."""
    root = tmp_path / "mlmax"
    shutil.copytree(PROJECT, root)
    pipeline = root / "modules" / "pipeline"
    committed = pipeline / "templates" / "my_training_pipeline.yaml"
    committed.rename(tmp_path / "committed_my_training_pipeline.yaml")
    monkeypatch.chdir(pipeline)
    monkeypatch.syspath_prepend(str(pipeline))
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # moto's sts, for training_pipeline_run.py's account
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for module in ("custom_steps", "training_pipeline_define", "training_pipeline_create", "training_pipeline_run"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    return root


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
        """Reads the ``!Sub`` short form (a tag PyYAML does not know) as the string it substitutes into."""

    CloudFormationLoader.add_constructor("!Sub", lambda loader, node: loader.construct_scalar(node))
    resource = yaml.load(template.read_text(), Loader=CloudFormationLoader)["Resources"]["StateMachineComponent"]
    parameters = {  # master.yaml's values for the nested stack, PipelineName and TargetEnv from deploy-us-east-1-dev.ini
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


def test_create_deploy_and_run_the_training_pipeline(
        checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from moto import mock_aws

    from stepfn.local.objectstore import ObjectStore

    # 1. python training_pipeline_create.py (sagemaker v2 warns of the v1 argument name, as stepfn does)
    with pytest.warns(DeprecationWarning, match="train_instance_type has been renamed"):
        run_script("training_pipeline_create.py")
    written = Path("templates/my_training_pipeline.yaml").read_text()
    committed = (tmp_path / "committed_my_training_pipeline.yaml").read_text()
    # The committed template came from sagemaker v1 (its hyperparameters still carry
    # sagemaker_enable_cloudwatch_metrics, which sagemaker 2.0 stopped sending) and v1 processing inputs and
    # outputs had no AppManaged (sagemaker >= 2.20 sends "AppManaged": false). Apart from those two lines the
    # template, key order and whitespace included, is what the original SDKs wrote.
    assert written.count('"AppManaged": false,') == 9
    assert [line for line in written.splitlines() if '"AppManaged": false,' not in line] == [
        line for line in committed.splitlines() if '"sagemaker_enable_cloudwatch_metrics": "false",' not in line]

    # 2. ./deploy.sh dev <bucket>
    state_machine_arn = deploy(Path("templates/my_training_pipeline.yaml"))
    assert state_machine_arn == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:MlMaxPipelineDemo-Training-dev"

    # The public sample data the run script reads.
    ObjectStore().put_bytes("s3://sagemaker-sample-data-us-east-1/processing/census/census-income.csv",
                            census_csv(400))

    # 3. python training_pipeline_run.py -e dev
    from stepfn.local.sagemaker.isolation import choose_isolation

    if not choose_isolation().isolated:  # the relocated fallback's message is tested in tests/local
        pytest.skip("jobs cannot have their own mount namespace here (no bubblewrap, no user namespaces)")
    monkeypatch.setenv("STEPFN_JOB_ENV", "image")
    monkeypatch.setenv("STEPFN_ENV_DIR", os.environ.get("STEPFN_TEST_ENV_DIR") or str(tmp_path / "envs"))
    capsys.readouterr()
    from stepfn.workflow import Workflow
    from stepfn.workflow.execution import ExecutionFailedWarning

    try:
        with mock_aws():
            run_script("training_pipeline_run.py", "-e", "dev")
    except ExecutionFailedWarning:  # filterwarnings = error; show why the jobs failed
        failed = Workflow.attach(state_machine_arn).list_executions()[0]
        pytest.fail("\n".join(event["taskFailedEventDetails"]["cause"] for event in failed.list_events()
                              if event["type"] == "TaskFailed"))
    printed = capsys.readouterr().out
    assert "State Machine Name is MlMaxPipelineDemo-Training-dev" in printed
    report = json.loads(printed[printed.rindex("\n{\n") + 1:])  # the script's last print: the evaluation report
    assert report["accuracy"] > 0.6 and {"0", "1", "roc_auc", "macro avg"} <= set(report)
    # The jobs ran in scikit-learn 0.20.0's environment, in their own mount namespace.
    from stepfn.local.sagemaker.records import RecordStore

    training_job_name = printed.split("Training Job Name is ")[1].split()[0]
    log = RecordStore().log_path("training-job", training_job_name).read_text()
    assert "stepfn: the job runs in the sklearn 0.20.0 environment (Python 3.7" in log, log[:2000]

    execution = Workflow.attach(state_machine_arn).list_executions()[0]
    assert execution.describe()["status"] == "SUCCEEDED"
