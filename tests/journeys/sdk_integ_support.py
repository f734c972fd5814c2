"""What the Step Functions Data Science SDK's ``tests/integ`` gives its tests, shared by the ports of them here,
and a small stand-in for the public ``sagemaker-sample-data-<region>`` census CSV that they and the notebooks read.

From https://github.com/aws/aws-step-functions-data-science-sdk-python at commit
02ed72b10d7c0dbfb3e404b1e183c309c040bfaa (v2.3.0), Apache-2.0, Copyright 2019 Amazon.com, Inc. or its affiliates:
``tests/integ/__init__.py``'s ``DEFAULT_TIMEOUT_MINUTES``, ``tests/integ/timeout.py``, ``tests/integ/utils.py`` as
written, and the account, role, session and client fixtures of ``tests/integ/conftest.py`` with the ports' changes:
imports changed and function scope (each test has its own ``$STEPFN_HOME``). Their ``boto3`` clients (STS for the
account, Step Functions) are the conftest's, answered by ``stepfn serve`` for the test's home with the settings it
prints exported, as a user runs these tests against it.
The conftest's data fixtures read ``tests/integ``'s ``DATA_DIR``: here the ``DATA_DIR`` of the test module using
them, where :func:`write_one_p_mnist` puts a small stand-in for ``one_p_mnist/mnist.pkl.gz``.
"""

# The repository's helpers are kept as written (their unused result, bare except).
# ruff: noqa: F841

from __future__ import annotations

import gzip
import os
import pickle
import random
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

DEFAULT_TIMEOUT_MINUTES = 25


@contextmanager
def timeout(seconds: int = 0, minutes: int = 0, hours: int = 0) -> Iterator[None]:
    """Raise if the block runs longer than the limit."""
    limit = seconds + 60 * minutes + 3600 * hours

    def handler(signum: int, frame: Any) -> None:
        raise TimeoutError(f"timed out after {limit} seconds")

    signal.signal(signal.SIGALRM, handler)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)


def state_machine_delete_wait(client: Any, state_machine_arn: str, sleep_interval: float = 10) -> None:
    response = client.delete_state_machine(stateMachineArn=state_machine_arn)
    state_machine_status = "DELETING"

    while state_machine_status is not None:
        try:
            state_machine_describe = client.describe_state_machine(stateMachineArn=state_machine_arn)
            state_machine_status = state_machine_describe.get("status")
            time.sleep(sleep_interval)
        except:  # noqa: E722 (the repository's own bare except: any error means the machine is gone)
            state_machine_status = None


def delete_sagemaker_model(model_name: str, sagemaker_session: Any) -> None:
    sagemaker_session.delete_model(model_name=model_name)


def delete_sagemaker_endpoint_config(endpoint_config_name: str, sagemaker_session: Any) -> None:
    sagemaker_session.delete_endpoint_config(endpoint_config_name=endpoint_config_name)


def delete_sagemaker_endpoint(endpoint_name: str, sagemaker_session: Any, sleep_interval: float = 10) -> None:
    sagemaker_session.wait_for_endpoint(endpoint=endpoint_name, poll=sleep_interval)
    sagemaker_session.delete_endpoint(endpoint_name=endpoint_name)


def get_resource_name_from_arn(arn: str) -> str:
    return arn.split(":")[-1]


# --- tests/integ/conftest.py ---

def aws_settings(request: pytest.FixtureRequest) -> str:
    """``stepfn serve`` for this test's home, with the settings it prints exported (as a user runs these tests
    against it), so the conftest's ``boto3`` clients reach the local engine and SageMaker; one per test."""
    server = getattr(request.node, "_stepfn_serve", None)
    if server is None:
        import boto3

        from stepfn.server import read_token, start_background

        home = request.getfixturevalue("stepfn_home")
        monkeypatch = request.getfixturevalue("monkeypatch")
        server = start_background(home)
        request.node._stepfn_serve = server
        request.addfinalizer(server.stop)
        for key, value in {"AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": str(read_token(home)),
                           "AWS_SECRET_ACCESS_KEY": "stepfn", "AWS_DEFAULT_REGION": "us-east-1",
                           "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}.items():
            monkeypatch.setenv(key, value)
        # boto3's default session keeps the credentials it first resolved: a fresh one reads this server's token.
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return str(server.url)


@pytest.fixture
def sfn_client(request: pytest.FixtureRequest) -> Any:
    aws_settings(request)
    import boto3
    return boto3.client('stepfunctions')


@pytest.fixture
def sagemaker_client(request: pytest.FixtureRequest) -> Any:
    aws_settings(request)
    import boto3
    return boto3.client('sagemaker')


@pytest.fixture
def sagemaker_session() -> Any:
    from stepfn.sagemaker import Session
    sess = Session()
    return sess


@pytest.fixture
def aws_account_id(request: pytest.FixtureRequest) -> str:
    aws_settings(request)
    import boto3
    account_id = boto3.client("sts").get_caller_identity().get("Account")
    return str(account_id)


@pytest.fixture
def sfn_role_arn(aws_account_id: str) -> str:
    from stepfn.steps.utils import get_aws_partition
    return f"arn:{get_aws_partition()}:iam::{aws_account_id}:role/StepFunctionsMLWorkflowExecutionFullAccess"


@pytest.fixture
def sagemaker_role_arn(aws_account_id: str) -> str:
    from stepfn.steps.utils import get_aws_partition
    return f"arn:{get_aws_partition()}:iam::{aws_account_id}:role/SageMakerRole"


@pytest.fixture
def pca_estimator_fixture(sagemaker_role_arn: str) -> Any:
    from stepfn.sagemaker.amazon import pca
    estimator = pca.PCA(
        role=sagemaker_role_arn,
        instance_count=1,
        instance_type="ml.m5.large",
        num_components=48
    )
    return estimator


@pytest.fixture
def train_set(request: pytest.FixtureRequest) -> Any:
    DATA_DIR = request.module.DATA_DIR  # tests.integ.DATA_DIR: the using module's
    data_path = os.path.join(DATA_DIR, "one_p_mnist", "mnist.pkl.gz")
    pickle_args = {} if sys.version_info.major == 2 else {"encoding": "latin1"}

    # Load the data into memory as numpy arrays
    with gzip.open(data_path, "rb") as f:
        train_set, _, _ = pickle.load(f, **pickle_args)

    return train_set


@pytest.fixture
def record_set_fixture(pca_estimator_fixture: Any, train_set: Any) -> Any:
    record_set = pca_estimator_fixture.record_set(train=train_set[0][:100])
    return record_set


# --- stand-ins for public sample data ---

def write_one_p_mnist(data_dir: Path, features: int, seed: int) -> Any:
    """``one_p_mnist/mnist.pkl.gz``: a small random ``(train, valid, test)`` pickle of ``features``-wide rows."""
    rng = np.random.default_rng(seed)
    sets = tuple((rng.random((120, features), dtype=np.float32), rng.integers(0, 10, 120)) for _ in range(3))
    (data_dir / "one_p_mnist").mkdir()
    with gzip.open(data_dir / "one_p_mnist" / "mnist.pkl.gz", "wb") as f:
        pickle.dump(sets, f)
    return sets


def census_csv(rows: int) -> bytes:
    """The columns the notebook's own preprocessing.py selects, both income classes, some duplicate-free noise."""
    rng = random.Random(1)
    lines = ["age,education,major industry code,class of worker,num persons worked for employer,"
             "capital gains,capital losses,dividends from stocks,income"]
    for _ in range(rows):
        age, education = rng.randint(18, 80), rng.choice([" Bachelors degree", " High school graduate", " Masters degree"])
        gains = rng.choice([0, 0, rng.randint(1000, 20000)])
        score = (age - 40) / 10 + gains / 5000 + (1.5 if education == " Masters degree" else 0)
        income = " 50000+." if score + rng.gauss(0, 0.7) > 1.0 else " - 50000."
        lines.append(",".join(map(str, [
            age, education, rng.choice([" Retail trade", " Construction", " Education"]),
            rng.choice([" Private", " Self-employed", " Local government"]), rng.randint(0, 6), gains,
            rng.choice([0, 0, rng.randint(100, 2000)]), rng.randint(0, 5000), income])))
    return ("\n".join(lines) + "\n").encode()
