"""Shared helpers for the local training tests (imported by the test_training*/test_builtin* modules)."""

from __future__ import annotations

import io
import tarfile
import threading
from pathlib import Path
from typing import Any

from stepfn.engine.protocol import TaskRequest
from stepfn.local.objectstore import ObjectStore

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def seen_base(job_base: Path) -> str:
    """A job's ``/opt/ml`` as its process sees it: itself in its own mount namespace, else the relocated tree."""
    from stepfn.local.sagemaker.isolation import choose_isolation

    return "/opt/ml" if choose_isolation().isolated else str(job_base)


class Control:
    """A TaskControl that records log lines and can be cancelled from the test."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.cancel = threading.Event()

    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def heartbeat(self) -> None:
        pass

    def sleep(self, seconds: float) -> bool:
        return not self.cancel.wait(seconds)

    def log(self, message: str) -> None:
        self.lines.append(message)


def sourcedir(store: ObjectStore, uri: str, files: dict[str, str]) -> str:
    """Upload a sourcedir.tar.gz holding ``files`` and return its URI."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    store.put_bytes(uri, buffer.getvalue())
    return uri


def training_request(
    name: str,
    *,
    image: str = SKLEARN_IMAGE,
    hyperparameters: dict[str, str] | None = None,
    channels: dict[str, str] | None = None,
    output: str = "s3://bucket/output",
    mode: str = "File",
    max_runtime: int = 60,
    **extra: Any,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": mode},
        "HyperParameters": hyperparameters or {},
        "OutputDataConfig": {"S3OutputPath": output},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }
    if channels:
        request["InputDataConfig"] = [
            {"ChannelName": channel, "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}
            for channel, uri in channels.items()
        ]
    request.update(extra)
    return request


def task_request(parameters: dict[str, Any], *, pattern: str = "sync", resumed: bool = False) -> TaskRequest:
    suffix = ".sync" if pattern == "sync" else ""
    return TaskRequest(
        resource=f"arn:aws:states:::sagemaker:createTrainingJob{suffix}", service="sagemaker",
        action="createTrainingJob", pattern=pattern,  # type: ignore[arg-type]
        parameters=parameters, state_name="Train", execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:e",
        resumed=resumed,
    )


def read_tar(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
