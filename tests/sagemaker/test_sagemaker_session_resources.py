"""Session.wait_for_endpoint / delete_endpoint_config / delete_model over local SageMaker, as sagemaker v2's.

The success path (an endpoint that comes up) runs in tests/journeys/test_journey_sdk_integ.py (the SDK's
test_training_pipeline_estimators.py).
"""

from __future__ import annotations

import threading
import time

import pytest

from stepfn.errors import ServiceError
from stepfn.local.sagemaker.endpoints import Endpoints
from stepfn.local.sagemaker.models import create_endpoint_config, create_model
from stepfn.local.sagemaker.records import RecordStore
from stepfn.sagemaker import Session
from stepfn.sagemaker.exceptions import UnexpectedStatusException

BYO_IMAGE = "111122223333.dkr.ecr.us-east-1.amazonaws.com/mine:1"  # no entry point: stepfn cannot serve it


def _failed_endpoint(records: RecordStore, name: str) -> None:
    create_model(records, {"ModelName": name, "PrimaryContainer": {"Image": BYO_IMAGE}})
    create_endpoint_config(records, {"EndpointConfigName": name, "ProductionVariants": [
        {"VariantName": "AllTraffic", "ModelName": name}]})
    Endpoints().create({"EndpointName": name, "EndpointConfigName": name})


def test_wait_for_a_failed_endpoint_raises_with_its_reason_then_delete_everything() -> None:
    records = RecordStore()
    _failed_endpoint(records, "byo")
    session = Session()
    with pytest.raises(UnexpectedStatusException) as raised:
        session.wait_for_endpoint("byo", poll=0.01)
    assert raised.value.actual_status == "Failed" and raised.value.allowed_statuses == ["InService"]
    assert str(raised.value).startswith("Error hosting endpoint byo: Failed. Reason: ")
    assert "cannot be served locally" in str(raised.value)
    assert isinstance(raised.value, ValueError)  # sagemaker v2's class is a ValueError too

    session.delete_endpoint("byo")
    session.delete_endpoint_config("byo")
    session.delete_model("byo")
    assert [records.get(kind, "byo") for kind in ("endpoint", "endpoint-config", "model")] == [None, None, None]
    # As SageMaker: deleting what does not exist is a ValidationException, not a silent success.
    with pytest.raises(ServiceError, match="Could not find"):
        session.delete_model("byo")
    with pytest.raises(ServiceError, match="Could not find"):
        session.delete_endpoint_config("byo")


def test_wait_for_endpoint_polls_while_creating_or_updating() -> None:
    records = RecordStore()
    _failed_endpoint(records, "slow")
    records.update("endpoint", "slow", EndpointStatus="Updating")

    def settle() -> None:
        time.sleep(0.3)
        records.update("endpoint", "slow", EndpointStatus="Failed", FailureReason="gave up")

    worker = threading.Thread(target=settle)
    start = time.monotonic()
    worker.start()
    with pytest.raises(UnexpectedStatusException, match=r"Failed\. Reason: gave up\."):
        Session().wait_for_endpoint("slow", poll=0.02)
    worker.join()
    assert time.monotonic() - start >= 0.3


def test_wait_for_an_unknown_endpoint_is_sagemakers_error() -> None:
    with pytest.raises(ServiceError, match="Could not find endpoint"):
        Session().wait_for_endpoint("nowhere", poll=0.01)


def test_on_aws_the_same_calls_go_to_sagemaker() -> None:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        client = boto3.client("sagemaker", region_name="us-east-1")
        role = "arn:aws:iam::123456789012:role/SageMakerRole"
        client.create_model(ModelName="m", ExecutionRoleArn=role, PrimaryContainer={"Image": BYO_IMAGE})
        client.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
        session = Session(boto_session=boto3.Session(region_name="us-east-1"))
        session.delete_endpoint_config("c")
        session.delete_model("m")
        assert client.list_models()["Models"] == []
        assert client.list_endpoint_configs()["EndpointConfigs"] == []
