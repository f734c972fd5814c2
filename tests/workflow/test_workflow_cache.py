"""The authoring side of the step cache: CacheConfig stays out of the ASL (also as sent to AWS), and AWS ignores
caching with one warning per process."""

from __future__ import annotations

import json
import warnings
from typing import Any

import boto3
import pytest
from moto import mock_aws


def test_cache_config_stays_out_of_the_asl_and_aws_ignores_it_once() -> None:
    from stepfn.sagemaker import SKLearn
    from stepfn.steps import CacheConfig, Chain, LambdaStep, TrainingStep
    from stepfn.workflow import Workflow, _caching

    def build(**cache: Any) -> Any:
        estimator = SKLearn(entry_point="train.py", source_dir="s3://b/code.tar.gz", framework_version="1.2-1",
                            role="arn:aws:iam::1:role/r", instance_count=1, instance_type="ml.m5.large")
        return Chain([TrainingStep("Train", estimator=estimator, job_name="j", data={"train": "s3://b/t/"}, **cache),
                      LambdaStep("L", parameters={"FunctionName": "f"}, **cache)])

    plain = Workflow("w", build(), role="r").definition.to_json(pretty=True)
    cached = Workflow("w", build(cache_config=CacheConfig(enable_caching=True, expire_after="P30D")), role="r")
    assert cached.definition.to_json(pretty=True) == plain
    assert _caching.step_cache_settings(cached.definition) == {
        "Train": {"enable_caching": True, "expire_after": "P30D"}, "L": {"enable_caching": True, "expire_after": "P30D"}}
    with pytest.raises(ValueError, match="ISO 8601"):
        CacheConfig(enable_caching=True, expire_after="30 days")
    with pytest.raises(TypeError):
        LambdaStep("L", parameters={}, cache_config={"enable_caching": True})

    class AwsLike:
        """A stand-in for a boto3 client (no local home): what Workflow.execute sends is all it records."""

        def __init__(self) -> None:
            self.started: list[dict[str, Any]] = []

        def start_execution(self, **params: Any) -> dict[str, Any]:
            self.started.append(params)
            return {"executionArn": "arn:aws:states:us-east-1:1:execution:w:x", "startDate": None}

    client = AwsLike()
    workflow = Workflow("w", build(), role="r", client=client, state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:w")
    _caching._warned.clear()
    with pytest.warns(_caching.CacheIgnoredWarning, match="local-only"):
        workflow.execute(cache=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        workflow.execute(cache=True)  # once per process
    assert client.started == [{"stateMachineArn": workflow.state_machine_arn}] * 2


def test_a_workflow_with_cache_config_deploys_the_same_definition_to_aws() -> None:
    from stepfn.steps import CacheConfig, Chain, LambdaStep, Pass
    from stepfn.workflow import Workflow, _caching

    def chain(**cache: Any) -> Chain:
        return Chain([Pass("Start"), LambdaStep("Score", parameters={"FunctionName": "score", "Payload": {}}, **cache)])

    with mock_aws():
        client = boto3.client("stepfunctions", region_name="us-east-1")
        workflow = Workflow("cached-on-aws", chain(cache_config=CacheConfig(enable_caching=True)),
                            role="arn:aws:iam::123456789012:role/StepFunctionsRole", client=client)
        _caching._warned.clear()
        with pytest.warns(_caching.CacheIgnoredWarning, match="Score|CacheConfig"):
            arn = workflow.create()
        sent = client.describe_state_machine(stateMachineArn=arn)["definition"]
    assert json.loads(sent) == json.loads(Workflow("plain", chain(), role="r").definition.to_json())
