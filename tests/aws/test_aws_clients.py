"""Region/role errors, partition-aware ARNs and the user agent suffix of stepfn.aws._clients."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from stepfn import __version__
from stepfn.aws import (
    AwsConfigurationError,
    append_user_agent,
    build_console_url,
    build_execution_arn,
    build_state_machine_arn,
    check_role_arn,
    client_partition,
    create_client,
    partition_for_region,
    resolve_region,
)


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("eu-west-3", "aws"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
    ],
)
def test_partition_follows_region(region: str, partition: str) -> None:
    assert partition_for_region(region) == partition
    arn = build_state_machine_arn("M", region=region, account="123456789012")
    assert arn == f"arn:{partition}:states:{region}:123456789012:stateMachine:M"


def test_execution_arn_and_explicit_partition() -> None:
    arn = build_execution_arn("M", "run-1", region="cn-north-1", account="123456789012", partition="aws-cn")
    assert arn == "arn:aws-cn:states:cn-north-1:123456789012:execution:M:run-1"


def test_console_url_uses_partition_console() -> None:
    china = "arn:aws-cn:states:cn-north-1:123456789012:execution:M:r"
    assert build_console_url(china).startswith("https://console.amazonaws.cn/states/home?region=cn-north-1#/executions/details/")
    gov = "arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:M"
    assert build_console_url(gov, kind="statemachine") == (
        f"https://console.amazonaws-us-gov.com/states/home?region=us-gov-west-1#/statemachines/view/{gov}"
    )
    with pytest.raises(AwsConfigurationError):
        build_console_url("not-an-arn")


@pytest.mark.parametrize("role", [None, ""])
def test_missing_role_is_a_clear_error(role: str | None) -> None:
    with pytest.raises(AwsConfigurationError, match="needs an IAM role"):
        check_role_arn(role)


@pytest.mark.parametrize("role", ["my-role", "arn:aws:iam::123:role/R", "arn:aws:s3:::bucket", "arn:aws:iam::123456789012:user/u"])
def test_malformed_role_is_a_clear_error(role: str) -> None:
    with pytest.raises(AwsConfigurationError, match="is not an IAM role ARN"):
        check_role_arn(role)


@pytest.mark.parametrize(
    "role", ["arn:aws:iam::123456789012:role/R", "arn:aws-cn:iam::123456789012:role/service-role/StepFunctions-x"]
)
def test_valid_roles_pass(role: str) -> None:
    assert check_role_arn(role) == role


def test_missing_region_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(AwsConfigurationError, match="no AWS region configured"):
        resolve_region()
    with pytest.raises(AwsConfigurationError, match="AWS_REGION"):
        create_client("stepfunctions")


def test_region_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "cn-north-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert resolve_region() == "cn-north-1"
    assert resolve_region("eu-west-1") == "eu-west-1"
    client = create_client("stepfunctions")
    assert client.meta.region_name == "cn-north-1"
    assert client_partition(client) == "aws-cn"


@mock_aws
def test_user_agent_suffix_appended_once() -> None:
    client = create_client("stepfunctions", region_name="us-east-1")
    append_user_agent(client)
    append_user_agent(client)
    seen: list[str] = []

    def capture(request: Any, **_: Any) -> None:
        agent = request.headers["User-Agent"]
        seen.append(agent.decode() if isinstance(agent, bytes) else agent)

    client.meta.events.register("before-send.*", capture)
    client.list_state_machines()
    client.list_state_machines()
    assert len(seen) == 2
    for agent in seen:
        assert agent.split().count(f"stepfn/{__version__}") == 1
        assert agent.endswith(f" stepfn/{__version__}")


@mock_aws
def test_user_agent_added_to_a_plain_boto3_client() -> None:
    client = boto3.client("stepfunctions", region_name="us-west-2")
    append_user_agent(client)
    seen: list[str] = []
    client.meta.events.register("before-send.*", lambda request, **_: seen.append(str(request.headers["User-Agent"])))
    client.list_state_machines()
    assert f"stepfn/{__version__}" in seen[0]
