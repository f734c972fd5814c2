from __future__ import annotations

from typing import Any

from stepfn.engine import Engine
from stepfn.engine.protocol import TaskControl, TaskRequest

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:sdk"


def test_aws_sdk_resources_fall_back_to_the_plain_action_handler() -> None:
    seen: list[tuple[str, str, Any]] = []

    def delete_endpoint(request: TaskRequest, control: TaskControl) -> dict[str, Any]:
        seen.append((request.service, request.action, request.parameters))
        return {}

    definition = {"StartAt": "Delete", "States": {"Delete": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sagemaker:deleteEndpoint",
        "Parameters": {"EndpointName.$": "$.name"}, "End": True}}}
    result = Engine(handlers={"sagemaker:deleteEndpoint": delete_endpoint}).run(
        definition, {"name": "ep"}, execution_arn=ARN.replace("stateMachine", "execution") + ":one",
        state_machine_arn=ARN, name="one")
    assert result.status == "SUCCEEDED", result.cause
    assert seen == [("aws-sdk:sagemaker", "deleteEndpoint", {"EndpointName": "ep"})]
