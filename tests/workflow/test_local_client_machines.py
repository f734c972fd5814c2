"""LocalStepFunctionsClient state machine, version, alias and tag APIs against botocore's model."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import validate_parameters

from stepfn.workflow.local_client import LocalStepFunctionsClient

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
PASS2 = json.dumps({"StartAt": "Q", "States": {"Q": {"Type": "Pass", "Result": 1, "End": True}}})
MODEL = botocore.session.get_session().get_service_model("stepfunctions")


def check_shape(operation: str, response: dict[str, Any]) -> dict[str, Any]:
    """The response (less ResponseMetadata) must be valid for the operation's output shape in botocore's model."""
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    validate_parameters(body, MODEL.operation_model(operation).output_shape)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    return body


@pytest.fixture
def client() -> LocalStepFunctionsClient:
    c = LocalStepFunctionsClient(region="eu-west-1")
    yield c
    c.close()


def test_create_describe_update_delete(client: LocalStepFunctionsClient) -> None:
    created = check_shape("CreateStateMachine", client.create_state_machine(
        name="hello", definition=PASS, roleArn=ROLE, tags=[{"key": "team", "value": "ml"}]))
    arn = created["stateMachineArn"]
    assert arn == "arn:aws:states:eu-west-1:123456789012:stateMachine:hello"
    described = check_shape("DescribeStateMachine", client.describe_state_machine(stateMachineArn=arn))
    assert (described["name"], described["definition"], described["roleArn"], described["type"],
            described["status"]) == ("hello", PASS, ROLE, "STANDARD", "ACTIVE")
    assert described["loggingConfiguration"] == {"level": "OFF", "includeExecutionData": False}
    updated = check_shape("UpdateStateMachine", client.update_state_machine(stateMachineArn=arn, definition=PASS2))
    assert updated["revisionId"] != described["revisionId"]
    assert client.describe_state_machine(stateMachineArn=arn)["definition"] == PASS2
    listed = check_shape("ListStateMachines", client.list_state_machines())
    assert [m["name"] for m in listed["stateMachines"]] == ["hello"]
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "ml"}]
    check_shape("DeleteStateMachine", client.delete_state_machine(stateMachineArn=arn))
    with pytest.raises(client.exceptions.StateMachineDoesNotExist) as info:
        client.describe_state_machine(stateMachineArn=arn)
    assert info.value.response["Error"]["Code"] == "StateMachineDoesNotExist"
    assert isinstance(info.value, ClientError)


def test_already_exists_is_idempotent_only_for_the_same_definition(client: LocalStepFunctionsClient) -> None:
    arn = client.create_state_machine(name="m", definition=PASS, roleArn=ROLE)["stateMachineArn"]
    assert client.create_state_machine(name="m", definition=PASS, roleArn=ROLE)["stateMachineArn"] == arn
    with pytest.raises(client.exceptions.StateMachineAlreadyExists) as info:
        client.create_state_machine(name="m", definition=PASS2, roleArn=ROLE)
    # The original SDK scrapes the ARN from between the first two quotes of this message.
    assert info.value.response["Error"]["Message"].split("'")[1] == arn


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"name": "bad name", "definition": PASS, "roleArn": ROLE}, "InvalidName"),
        ({"name": "x" * 81, "definition": PASS, "roleArn": ROLE}, "InvalidName"),
        ({"name": "m", "definition": "{not json", "roleArn": ROLE}, "InvalidDefinition"),
        ({"name": "m", "definition": PASS, "roleArn": "not-a-role"}, "InvalidArn"),
    ],
)
def test_create_errors(client: LocalStepFunctionsClient, kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(ClientError) as info:
        client.create_state_machine(**kwargs)
    assert info.value.response["Error"]["Code"] == code
    assert type(info.value) is getattr(client.exceptions, code)


def test_semantically_invalid_definition_is_refused(client: LocalStepFunctionsClient) -> None:
    pytest.importorskip("stepfn.asl.validate")
    bad = json.dumps({"StartAt": "Missing", "States": {"P": {"Type": "Pass", "End": True}}})
    with pytest.raises(client.exceptions.InvalidDefinition):
        client.create_state_machine(name="m", definition=bad, roleArn=ROLE)


def test_botocore_parameter_validation(client: LocalStepFunctionsClient) -> None:
    with pytest.raises(ParamValidationError, match="Missing required parameter"):
        client.create_state_machine(name="m", definition=PASS)
    with pytest.raises(ParamValidationError, match="Unknown parameter"):
        client.describe_state_machine(stateMachineArn="arn:aws:states:eu-west-1:1:stateMachine:m", bogus=1)


def test_invalid_and_missing_arns(client: LocalStepFunctionsClient) -> None:
    with pytest.raises(client.exceptions.InvalidArn):
        client.describe_state_machine(stateMachineArn="nope")
    with pytest.raises(client.exceptions.InvalidArn):
        client.describe_execution(executionArn="arn:aws:states:eu-west-1:123456789012:stateMachine:m")
    with pytest.raises(client.exceptions.ExecutionDoesNotExist):
        client.describe_execution(executionArn="arn:aws:states:eu-west-1:123456789012:execution:m:e")
    with pytest.raises(client.exceptions.MissingRequiredParameter):
        arn = client.create_state_machine(name="m", definition=PASS, roleArn=ROLE)["stateMachineArn"]
        client.update_state_machine(stateMachineArn=arn)


def test_versions_and_aliases(client: LocalStepFunctionsClient) -> None:
    created = client.create_state_machine(name="m", definition=PASS, roleArn=ROLE, publish=True,
                                          versionDescription="v1")
    arn = created["stateMachineArn"]
    v1 = created["stateMachineVersionArn"]
    assert v1 == arn + ":1"
    described = check_shape("DescribeStateMachine", client.describe_state_machine(stateMachineArn=v1))
    assert described["description"] == "v1" and described["definition"] == PASS
    revision = client.update_state_machine(stateMachineArn=arn, definition=PASS2)["revisionId"]
    with pytest.raises(client.exceptions.ConflictException):
        client.publish_state_machine_version(stateMachineArn=arn, revisionId="stale")
    v2 = check_shape("PublishStateMachineVersion", client.publish_state_machine_version(
        stateMachineArn=arn, revisionId=revision))["stateMachineVersionArn"]
    assert v2 == arn + ":2"
    versions = check_shape("ListStateMachineVersions", client.list_state_machine_versions(stateMachineArn=arn))
    assert [v["stateMachineVersionArn"] for v in versions["stateMachineVersions"]] == [v2, v1]

    alias = check_shape("CreateStateMachineAlias", client.create_state_machine_alias(
        name="prod", routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}]))["stateMachineAliasArn"]
    assert alias == arn + ":prod"
    with pytest.raises(client.exceptions.ValidationException):
        client.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=[
            {"stateMachineVersionArn": v1, "weight": 50}])
    check_shape("UpdateStateMachineAlias", client.update_state_machine_alias(
        stateMachineAliasArn=alias, description="live",
        routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 90},
                              {"stateMachineVersionArn": v2, "weight": 10}]))
    got = check_shape("DescribeStateMachineAlias", client.describe_state_machine_alias(stateMachineAliasArn=alias))
    assert got["description"] == "live" and len(got["routingConfiguration"]) == 2
    listed = check_shape("ListStateMachineAliases", client.list_state_machine_aliases(stateMachineArn=arn))
    assert [a["stateMachineAliasArn"] for a in listed["stateMachineAliases"]] == [alias]
    with pytest.raises(client.exceptions.ConflictException):
        client.delete_state_machine_version(stateMachineVersionArn=v1)
    client.delete_state_machine_alias(stateMachineAliasArn=alias)
    client.delete_state_machine_version(stateMachineVersionArn=v1)
    with pytest.raises(client.exceptions.ResourceNotFound):
        client.describe_state_machine_alias(stateMachineAliasArn=alias)


def test_tags(client: LocalStepFunctionsClient) -> None:
    arn = client.create_state_machine(name="m", definition=PASS, roleArn=ROLE)["stateMachineArn"]
    check_shape("TagResource", client.tag_resource(resourceArn=arn, tags=[{"key": "a", "value": "1"},
                                                                         {"key": "b", "value": "2"}]))
    client.untag_resource(resourceArn=arn, tagKeys=["a"])
    tags = check_shape("ListTagsForResource", client.list_tags_for_resource(resourceArn=arn))
    assert tags["tags"] == [{"key": "b", "value": "2"}]
    with pytest.raises(client.exceptions.ResourceNotFound):
        client.tag_resource(resourceArn=arn + "x", tags=[])


def test_paginator_over_state_machines(client: LocalStepFunctionsClient) -> None:
    for i in range(7):
        client.create_state_machine(name=f"m{i}", definition=PASS, roleArn=ROLE)
    page = client.list_state_machines(maxResults=3)
    assert len(page["stateMachines"]) == 3 and "nextToken" in page
    with pytest.raises(client.exceptions.InvalidToken):
        client.list_state_machines(nextToken="garbage")
    paginator = client.get_paginator("list_state_machines")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["stateMachines"]) for p in pages] == [2, 2, 2, 1]
    limited = paginator.paginate(PaginationConfig={"MaxItems": 5, "PageSize": 2}).build_full_result()
    assert [m["name"] for m in limited["stateMachines"]] == ["m0", "m1", "m2", "m3", "m4"]
    assert client.can_paginate("list_executions") and not client.can_paginate("describe_execution")


def test_another_client_sees_the_same_store(client: LocalStepFunctionsClient) -> None:
    client.create_state_machine(name="shared", definition=PASS, roleArn=ROLE)
    other = LocalStepFunctionsClient()
    try:
        assert [m["name"] for m in other.list_state_machines()["stateMachines"]] == ["shared"]
    finally:
        other.close()
