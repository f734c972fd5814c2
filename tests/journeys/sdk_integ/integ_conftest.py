"""Our replacement for the Step Functions Data Science SDK's ``tests/integ/conftest.py``, copied in as
``tests/integ/conftest.py`` beside the SDK's integration tests when ``test_journey_sdk_integ.py`` runs them.

The original's fixtures build ``boto3`` clients and a ``sagemaker.Session`` for an AWS account. These give the same
names the same kind of objects, answered by ``stepfn serve`` (one for the run, its own ``$STEPFN_HOME``, its printed
settings exported as a user who points ``boto3`` at it would). The stand-ins for what the checkout lacks (files of
4 MiB and more are not in a fetched snapshot) and for public sample buckets are written here. Named this way, not
``conftest.py``, so the repository's own suite never loads it.
"""

from __future__ import annotations

import gzip
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

DATA_DIR = Path(__file__).parent.parent / "data"  # tests/integ/__init__.py's DATA_DIR
REGION = "us-east-1"

# The SDK's tests that cannot pass here, and why; every other test must pass (test_journey_sdk_integ.py checks).
SKIPPED = {
    "test_torch_training_pipeline":
        "gap: no pytorch-training:1.2.0 (Python 3.6) framework environment here; stepfn's framework table starts "
        "at PyTorch 1.13, and the test's tests/data/pytorch_mnist/*.pt files are not in the checkout (over 4 MiB)",
}


# The width of one_p_mnist/mnist.pkl.gz's stand-in rows: the real file's 784 pixels, but for the module whose
# estimator fixes feature_dim=500 (stepfn's local PCA refuses a channel of another width).
PKL_FEATURES = {"test_training_pipeline_estimators": 500}


def write_train_npz(data_dir: Path) -> None:
    """``sklearn_mnist/train/train.npz`` (x: 784 pixel values a row, y: the digit), small and random."""
    npz = data_dir / "sklearn_mnist" / "train" / "train.npz"
    if not npz.exists():
        rng = np.random.default_rng(5)
        npz.parent.mkdir(parents=True, exist_ok=True)
        np.savez(npz, x=rng.integers(0, 256, (60, 784), dtype=np.uint8), y=rng.integers(0, 10, 60, dtype=np.uint8))


@pytest.fixture(scope="module", autouse=True)
def one_p_mnist(request: pytest.FixtureRequest) -> None:
    """``one_p_mnist/mnist.pkl.gz``: a small random ``(train, valid, test)`` of rows and their digits, written
    before the module's own fixtures read it."""
    features = PKL_FEATURES.get(request.module.__name__.rpartition(".")[2], 784)
    rng = np.random.default_rng(7)
    sets = tuple((rng.random((120, features), dtype=np.float32), rng.integers(0, 10, 120)) for _ in range(3))
    (DATA_DIR / "one_p_mnist").mkdir(parents=True, exist_ok=True)
    with gzip.open(DATA_DIR / "one_p_mnist" / "mnist.pkl.gz", "wb") as f:
        pickle.dump(sets, f)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.originalname in SKIPPED:  # type: ignore[attr-defined]
            item.add_marker(pytest.mark.skip(reason=SKIPPED[item.originalname]))  # type: ignore[attr-defined]


@pytest.fixture(scope="session", autouse=True)
def stepfn_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("stepfn-home")
    settings = pytest.MonkeyPatch()
    settings.setenv("STEPFN_HOME", str(home))
    # Executions run in this process (as the repository's suite runs them); the jobs' framework environments are
    # chosen as for a user (STEPFN_JOB_ENV unset: auto), built once under STEPFN_TEST_ENV_DIR when given.
    settings.setenv("STEPFN_IN_PROCESS", "1")
    settings.delenv("STEPFN_JOB_ENV", raising=False)
    settings.setenv("STEPFN_ENV_DIR", os.environ.get("STEPFN_TEST_ENV_DIR") or str(home / "envs"))
    from stepfn.local.objectstore import ObjectStore
    from stepfn.server import read_token, start_background

    server = start_background(home)
    for key, value in {"AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": str(read_token(home)),
                       "AWS_SECRET_ACCESS_KEY": "stepfn", "AWS_DEFAULT_REGION": REGION,
                       "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}.items():
        settings.setenv(key, value)
    # boto3's default session keeps the credentials it first resolved: a fresh one reads this server's token.
    settings.setattr(boto3, "DEFAULT_SESSION", None)
    write_train_npz(DATA_DIR)
    from sdk_integ_support import census_csv  # on the path test_journey_sdk_integ.py gives: the ports' stand-in

    ObjectStore().put_bytes(f"s3://sagemaker-sample-data-{REGION}/processing/census/census-income.csv",
                            census_csv(300))
    yield server.url
    server.stop()
    settings.undo()


@pytest.fixture(scope="session")
def sfn_client(stepfn_serve: str) -> Any:
    return boto3.client("stepfunctions")


@pytest.fixture(scope="session")
def sagemaker_client(stepfn_serve: str) -> Any:
    return boto3.client("sagemaker")


@pytest.fixture(scope="session")
def sagemaker_session(stepfn_serve: str) -> Any:
    from stepfn.sagemaker import Session

    return Session()


@pytest.fixture(scope="session")
def aws_account_id(stepfn_serve: str) -> str:
    return str(boto3.client("sts").get_caller_identity()["Account"])


@pytest.fixture(scope="session")
def sfn_role_arn(aws_account_id: str) -> str:
    return f"arn:aws:iam::{aws_account_id}:role/StepFunctionsMLWorkflowExecutionFullAccess"


@pytest.fixture(scope="session")
def sagemaker_role_arn(aws_account_id: str) -> str:
    return f"arn:aws:iam::{aws_account_id}:role/SageMakerRole"


@pytest.fixture(scope="module")  # record_set() sets its feature_dim from the module's data
def pca_estimator_fixture(sagemaker_role_arn: str) -> Any:
    from stepfn.sagemaker.amazon.pca import PCA

    return PCA(role=sagemaker_role_arn, instance_count=1, instance_type="ml.m5.large", num_components=48)


@pytest.fixture(scope="session")
def sklearn_processor_fixture(sagemaker_role_arn: str) -> Any:
    from stepfn.sagemaker.sklearn.processing import SKLearnProcessor

    return SKLearnProcessor(framework_version="0.20.0", role=sagemaker_role_arn, instance_type="ml.m5.xlarge",
                            instance_count=1, max_runtime_in_seconds=300)


@pytest.fixture(scope="module")  # module-scoped: each module's mnist.pkl.gz is its own (one_p_mnist)
def train_set() -> Any:
    with gzip.open(DATA_DIR / "one_p_mnist" / "mnist.pkl.gz", "rb") as f:
        train, _, _ = pickle.load(f, encoding="latin1")
    return train


@pytest.fixture(scope="module")
def record_set_fixture(pca_estimator_fixture: Any, train_set: Any) -> Any:
    return pca_estimator_fixture.record_set(train=train_set[0][:100])
