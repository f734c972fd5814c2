from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from stepfn.errors import ServiceError, StoreError
from stepfn.local.sagemaker.records import RecordStore, arn, as_states_error, check_name, to_botocore_shape


def _create(home: str, index: int, results: multiprocessing.Queue[str]) -> None:
    try:
        RecordStore(home).create("training-job", "racer", {"n": index}, operation="CreateTrainingJob")
        results.put("won")
    except ServiceError:
        results.put("refused")


def test_create_refuses_an_existing_name_like_sagemaker(tmp_path: Path) -> None:
    records = RecordStore(tmp_path)
    records.create("training-job", "job-1", {"TrainingJobName": "job-1", "CreationTime": 2})
    with pytest.raises(ServiceError) as info:
        records.create("training-job", "job-1", {}, operation="CreateTrainingJob")
    assert info.value.error == "SageMaker.AmazonSageMakerException"
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "a job with this name already exists" in str(info.value)
    with pytest.raises(ServiceError) as tuning:
        records.create("tuning-job", "t", {})
        records.create("tuning-job", "t", {})
    assert tuning.value.response["Error"]["Code"] == "ResourceInUse"
    states = as_states_error(info.value)
    assert states.error == "SageMaker.AmazonSageMakerException" and "Error Code: ValidationException" in states.cause


def test_create_is_atomic_across_processes(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[str] = context.Queue()
    procs = [context.Process(target=_create, args=(str(tmp_path), i, results)) for i in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    assert outcomes == ["refused", "refused", "refused", "won"]


def test_put_get_update_list_delete(tmp_path: Path) -> None:
    records = RecordStore(tmp_path)
    assert records.get("model", "m") is None
    records.put("model", "b", {"ModelName": "b", "CreationTime": 5})
    records.put("model", "a", {"ModelName": "a", "CreationTime": 9})
    assert [r["ModelName"] for r in records.list("model")] == ["b", "a"]
    updated = records.update("model", "b", Note="x")
    assert updated["Note"] == "x" and records.get("model", "b")["LastModifiedTime"] > 0
    assert records.delete("model", "b") and not records.delete("model", "b")
    assert records.log_path("training-job", "j").parent == tmp_path / "sagemaker" / "logs" / "training-job"
    with pytest.raises(ServiceError, match="Could not find model"):
        records.require("model", "b", "DescribeModel")


def test_list_skips_a_record_being_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A put or create writes a temporary file beside the records first; a list in that moment (a control plane
    listing executions while a job updates one, as CI caught) must not take it for a record."""
    records = RecordStore(tmp_path)
    records.put("model", "a", {"ModelName": "a", "CreationTime": 1})
    listed: list[list[str]] = []
    write_tmp = RecordStore._write_tmp

    def write_then_list(self: RecordStore, target: Path, record: dict[str, object]) -> Path:
        tmp = write_tmp(self, target, record)
        listed.append([r["ModelName"] for r in records.list("model")])
        return tmp

    monkeypatch.setattr(RecordStore, "_write_tmp", write_then_list)
    records.put("model", "b", {"ModelName": "b", "CreationTime": 2})
    records.create("model", "c", {"ModelName": "c", "CreationTime": 3})
    assert listed == [["a"], ["a", "b"]]


@pytest.mark.parametrize("name", ["../x", "a_b", "", "a" * 64, "-a", "job\n"])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(StoreError):
        RecordStore(tmp_path).put("model", name, {})
    with pytest.raises(ServiceError, match="regular expression"):
        check_name("training-job", name, "CreateTrainingJob", "TrainingJobName")


def test_every_local_arn_names_one_account(tmp_path: Path) -> None:
    """State machines, executions, SageMaker records, Lambda functions, the local execution role and a local
    Session's default bucket all carry the one local account, moto's default."""
    from moto.core import DEFAULT_ACCOUNT_ID

    from stepfn._partitions import LOCAL_ACCOUNT
    from stepfn.local.lambdas import function_arn
    from stepfn.sagemaker import Session, get_execution_role
    from stepfn.workflow.local_client import LocalStepFunctionsClient

    assert LOCAL_ACCOUNT == DEFAULT_ACCOUNT_ID == "123456789012"
    client = LocalStepFunctionsClient(home=tmp_path)
    machine = client.create_state_machine(name="m", definition='{"StartAt": "P", "States": {"P": {"Type": "Pass", '
                                          '"End": true}}}', roleArn="arn:aws:iam::111122223333:role/R")
    execution = client.start_execution(stateMachineArn=machine["stateMachineArn"])
    session = Session(region_name="eu-west-1")
    accounts = {machine["stateMachineArn"].split(":")[4], execution["executionArn"].split(":")[4],
                arn("model", "m").split(":")[4], function_arn("f").split(":")[4],
                get_execution_role(session).split(":")[4], session.default_bucket().rsplit("-", 1)[1]}
    assert accounts == {LOCAL_ACCOUNT}


def test_arn_and_timestamp_conversion() -> None:
    assert arn("training-job", "My-Job") == "arn:aws:sagemaker:us-east-1:123456789012:training-job/my-job"
    assert arn("tuning-job", "t").endswith(":hyper-parameter-tuning-job/t")
    converted = to_botocore_shape({"CreationTime": 1_700_000_000_000, "Items": [{"Timestamp": 0}], "N": 3})
    assert converted["CreationTime"].year == 2023 and converted["Items"][0]["Timestamp"].year == 1970
    assert converted["N"] == 3


def test_create_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    def no_links(source: object, target: object) -> None:
        raise PermissionError("hard links not supported here")

    monkeypatch.setattr(os, "link", no_links)
    records = RecordStore(tmp_path)
    records.create("endpoint", "ep", {"EndpointName": "ep"})
    assert records.get("endpoint", "ep") == {"EndpointName": "ep"}
    with pytest.raises(ServiceError, match="Cannot create already existing endpoint"):
        records.create("endpoint", "ep", {})
    assert list((tmp_path / "sagemaker" / "endpoint").iterdir()) == [tmp_path / "sagemaker" / "endpoint" / "ep.json"]
