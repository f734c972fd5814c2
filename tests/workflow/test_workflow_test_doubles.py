"""A ``MagicMock()`` in place of the boto3 client, as the original SDK's users (and its own unit suite) test.

The double answers every attribute with another MagicMock: Workflow must decide what kind of client it has
without trusting such attributes (``meta.endpoint_url``, ``exceptions.StateMachineAlreadyExists``).
"""

from __future__ import annotations

import json
from unittest.mock import MagicMock

from stepfn.steps import Chain, Pass, Task
from stepfn.workflow import Workflow

ROLE = "arn:aws:iam::111122223333:role/StepFunctionsRole"
ARN = "arn:aws:states:us-east-1:111122223333:stateMachine:doubled"


def _workflow(client: MagicMock) -> Workflow:
    steps = Chain([Pass("Start"), Task("Work", resource="arn:aws:lambda:us-east-1:111122223333:function:f")])
    return Workflow("doubled", steps, ROLE, client=client)


def test_create_execute_and_update_with_a_magicmock_client() -> None:
    client = MagicMock()
    client.create_state_machine.return_value = {"stateMachineArn": ARN}
    client.start_execution.return_value = {"executionArn": ARN.replace("stateMachine", "execution") + ":run-1"}
    workflow = _workflow(client)

    assert workflow.create() == ARN
    sent = client.create_state_machine.call_args.kwargs
    assert sent["name"] == "doubled" and sent["roleArn"] == ROLE
    assert json.loads(sent["definition"])["StartAt"] == "Start"

    execution = workflow.execute(name="run-1", inputs={"a": 1})
    assert execution.execution_arn.endswith(":run-1")
    started = client.start_execution.call_args.kwargs
    assert (started["stateMachineArn"], started["name"]) == (ARN, "run-1")
    assert json.loads(started["input"]) == {"a": 1}

    workflow.update(definition=Chain([Pass("Only")]))
    assert json.loads(client.update_state_machine.call_args.kwargs["definition"])["StartAt"] == "Only"


def test_create_or_update_with_a_magicmock_client_creates_once() -> None:
    client = MagicMock()
    client.create_state_machine.return_value = {"stateMachineArn": ARN}
    assert _workflow(client).create_or_update() == ARN
    client.create_state_machine.assert_called_once()
    client.update_state_machine.assert_not_called()


def test_a_failing_double_surfaces_its_own_error() -> None:
    """With no exception class on the double, the error it raises reaches the caller unchanged."""
    client = MagicMock()
    client.create_state_machine.side_effect = RuntimeError("service unavailable")
    workflow = _workflow(client)
    try:
        workflow.create()
    except RuntimeError as error:
        assert str(error) == "service unavailable"
    else:
        raise AssertionError("the double's error was swallowed")


def test_a_magicmock_session_with_a_known_bucket_names_the_code_location() -> None:
    """sagemaker v2's request builders read ``session._default_bucket``; tests set it on a MagicMock session."""
    from stepfn.sagemaker.tensorflow import TensorFlow
    from stepfn.steps import ModelStep, TrainingStep

    estimator = TensorFlow(entry_point="tf_train.py", role="execution-role", framework_version="1.13",
                           instance_count=1, instance_type="ml.p2.xlarge", output_path="s3://sagemaker/models",
                           image_uri="520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tensorflow:1.13-gpu-py2",
                           model_dir=False)
    estimator.sagemaker_session = MagicMock()
    estimator.sagemaker_session.boto_region_name = "us-east-1"
    estimator.sagemaker_session._default_bucket = "sagemaker"
    training = TrainingStep("Training", estimator=estimator, data={"train": "s3://sagemaker/train"},
                            job_name="tensorflow-job")
    model = training.get_expected_model()
    model.entry_point = "tf_train.py"
    container = ModelStep("Create model", model=model, model_name="tf-model").to_dict()["Parameters"]["PrimaryContainer"]
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == \
        "s3://sagemaker/tensorflow-job/source/sourcedir.tar.gz"
    assert "MagicMock" not in json.dumps(training.to_dict())
