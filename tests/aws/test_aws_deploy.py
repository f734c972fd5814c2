"""Type, logging, tracing, tags, versions, aliases and CloudFormation settings (stepfn.aws._deploy)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from stepfn.aws import (
    DeploymentConfigError,
    build_alias_routing,
    build_create_state_machine_request,
    build_logging_configuration,
    build_tags,
    build_update_state_machine_request,
    deploy_alias,
    publish_version,
    start_sync_execution,
)

ROLE = "arn:aws:iam::123456789012:role/R"
GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:/stepfn/wf"
DEFINITION = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


def test_plain_request_is_the_original_sdk_request() -> None:
    assert build_create_state_machine_request(name="N", definition=DEFINITION, role_arn=ROLE) == {
        "name": "N", "definition": DEFINITION, "roleArn": ROLE, "tags": [],
    }


def test_tags_accept_list_or_mapping() -> None:
    assert build_tags({"team": "ml", "n": 1}) == [{"key": "team", "value": "ml"}, {"key": "n", "value": "1"}]
    assert build_tags([{"key": "a", "value": "b"}]) == [{"key": "a", "value": "b"}]
    with pytest.raises(DeploymentConfigError, match=r"tags\[0\]"):
        build_tags(["team=ml"])  # type: ignore[list-item]


def test_logging_configuration_validation() -> None:
    config = build_logging_configuration("error", log_group_arn=GROUP, include_execution_data=True)
    assert config == {
        "level": "ERROR",
        "includeExecutionData": True,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": GROUP + ":*"}}],
    }
    assert build_logging_configuration("OFF") == {"level": "OFF", "includeExecutionData": False}
    with pytest.raises(DeploymentConfigError, match="one of ALL, ERROR, FATAL, OFF"):
        build_logging_configuration("LOUD", log_group_arn=GROUP)
    with pytest.raises(DeploymentConfigError, match="needs a CloudWatch Logs group"):
        build_logging_configuration("ALL")
    with pytest.raises(DeploymentConfigError, match="not a CloudWatch Logs log group ARN"):
        build_logging_configuration("ALL", log_group_arn="my-group")


def test_alias_routing_validation() -> None:
    v1 = "arn:aws:states:us-east-1:123456789012:stateMachine:N:1"
    v2 = "arn:aws:states:us-east-1:123456789012:stateMachine:N:2"
    assert build_alias_routing(v1) == [{"stateMachineVersionArn": v1, "weight": 100}]
    assert build_alias_routing({v1: 90, v2: 10})[1] == {"stateMachineVersionArn": v2, "weight": 10}
    with pytest.raises(DeploymentConfigError, match="sum to 100"):
        build_alias_routing({v1: 50, v2: 10})
    with pytest.raises(DeploymentConfigError, match="not a state machine version ARN"):
        build_alias_routing("arn:aws:states:us-east-1:123456789012:stateMachine:N")
    with pytest.raises(DeploymentConfigError, match="one or two versions"):
        build_alias_routing([])


def test_update_request_sends_only_what_is_set() -> None:
    assert build_update_state_machine_request(state_machine_arn="arn:x", tracing=False) == {
        "stateMachineArn": "arn:x", "tracingConfiguration": {"enabled": False},
    }


@pytest.fixture
def sfn() -> Any:
    with mock_aws():
        yield boto3.client("stepfunctions", region_name="us-east-1")


def test_express_logging_tracing_tags_reach_step_functions(sfn: Any) -> None:
    request = build_create_state_machine_request(
        name="N", definition=DEFINITION, role_arn=ROLE, tags={"team": "ml"}, state_machine_type="express",
        logging="ALL", log_group_arn=GROUP, tracing=True,
    )
    arn = sfn.create_state_machine(**request)["stateMachineArn"]
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["type"] == "EXPRESS"
    assert described["loggingConfiguration"]["destinations"][0]["cloudWatchLogsLogGroup"]["logGroupArn"] == GROUP + ":*"
    assert described["tracingConfiguration"] == {"enabled": True}
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "ml"}]
    sfn.update_state_machine(**build_update_state_machine_request(state_machine_arn=arn, tracing=False))
    assert sfn.describe_state_machine(stateMachineArn=arn)["tracingConfiguration"] == {"enabled": False}


def test_alias_created_then_updated(sfn: Any) -> None:
    created = sfn.create_state_machine(
        **build_create_state_machine_request(name="N", definition=DEFINITION, role_arn=ROLE, publish=True,
                                             version_description="first")
    )
    version = created["stateMachineVersionArn"]
    alias = deploy_alias(sfn, created["stateMachineArn"], "live", version, description="prod")
    assert alias == created["stateMachineArn"] + ":live"
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert described["routingConfiguration"] == [{"stateMachineVersionArn": version, "weight": 100}]
    assert deploy_alias(sfn, created["stateMachineArn"], "live", version, description="again") == alias
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["description"] == "again"


def test_publish_version_where_moto_supports_it(sfn: Any) -> None:
    arn = sfn.create_state_machine(name="N", definition=DEFINITION, roleArn=ROLE)["stateMachineArn"]
    try:
        version = publish_version(sfn, arn, description="v")
    except NotImplementedError:
        pytest.skip("moto does not implement PublishStateMachineVersion (covered against stepfn serve)")
    assert version == arn + ":1"


def test_start_sync_execution_where_moto_supports_it(sfn: Any) -> None:
    arn = sfn.create_state_machine(name="N", definition=DEFINITION, roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    try:
        result = start_sync_execution(sfn, arn, input={"a": 1})
    except sfn.exceptions.ClientError as error:
        if "Not yet implemented" in str(error):
            pytest.skip("moto does not implement StartSyncExecution (covered against stepfn serve)")
        raise
    assert result["status"] == "SUCCEEDED"


def test_create_or_update_creates_once_then_updates_what_changed(tmp_path: Any) -> None:
    """The one create-then-update path (Workflow.create_or_update, deploy_workflow, `stepfn run`) on the local
    client: a new name is one create; a changed definition (StateMachineAlreadyExists) and a changed role alone
    (an idempotent create that hands back the older machine) are updates of that machine."""
    from stepfn.aws._deploy import create_or_update_state_machine
    from stepfn.workflow.local_client import LocalStepFunctionsClient

    client = LocalStepFunctionsClient(home=tmp_path)
    request = build_create_state_machine_request(name="N", definition=DEFINITION, role_arn=ROLE)
    arn, response = create_or_update_state_machine(client, request)
    assert response["stateMachineArn"] == arn and "updateDate" not in response
    changed = json.dumps({"StartAt": "Q", "States": {"Q": {"Type": "Pass", "End": True}}})
    assert create_or_update_state_machine(client, {**request, "definition": changed})[0] == arn
    assert client.describe_state_machine(stateMachineArn=arn)["definition"] == changed
    other_role = "arn:aws:iam::123456789012:role/Other"
    again, updated = create_or_update_state_machine(client, {**request, "definition": changed, "roleArn": other_role})
    assert again == arn and "updateDate" in updated
    assert client.describe_state_machine(stateMachineArn=arn)["roleArn"] == other_role
    assert [m["name"] for m in client.list_state_machines()["stateMachines"]] == ["N"]
