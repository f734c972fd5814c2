"""Port of the Step Functions Data Science SDK's own integration tests ``tests/integ/test_training_pipeline_framework_estimator.py``.

Source: https://github.com/aws/aws-step-functions-data-science-sdk-python, ``tests/integ/test_training_pipeline_framework_estimator.py``
with its script ``tests/data/sklearn_mnist/mnist.py``, the fixtures it uses from ``tests/integ/conftest.py`` and
the helpers of ``tests/integ/utils.py`` and ``tests/integ/timeout.py``, all at commit
02ed72b10d7c0dbfb3e404b1e183c309c040bfaa (v2.3.0); Apache-2.0, Copyright 2019 Amazon.com, Inc. or its affiliates.

The TrainingPipeline template with a framework estimator: an SKLearn 0.20.0 script (an SVM on MNIST) and a
PyTorch 1.2.0 script are each trained, saved as a model and deployed as an endpoint by ``pipeline.execute()``; the
test then asks SageMaker (``boto3.client('sagemaker')``) for the training job, the model and the endpoint, and
deletes them. The tests run as written, with these changes only:

* imports: ``sagemaker`` -> ``stepfn.sagemaker``, ``stepfunctions`` -> ``stepfn``; the ``tests.integ`` helpers are
  the repository's own, shared by the ports in ``sdk_integ_support.py``;
* the account, ``sfn_client`` and ``sagemaker_client``: the conftest's ``boto3`` clients as written, answered by
  ``stepfn serve`` (started for each test, its printed settings exported); the account is the local one;
* the data: ``tests/data/sklearn_mnist/train/train.npz`` (``x``: 784 pixel values a row, ``y``: the digit) is a
  small random stand-in written by the test, beside the repository's ``mnist.py``, kept as written
  (``sklearn.externals.joblib``: it runs in the ``sagemaker-scikit-learn:0.20.0`` image's environment, which
  stepfn picks by itself since its own scikit-learn is another release);
* the fixtures are function-scoped (each test here has its own ``$STEPFN_HOME``).

The gap it found, fixed in stepfn: sagemaker v2 uploaded the lone entry point ``mnist.py`` as
``sourcedir.tar.gz`` when the TrainingPipeline built its TrainingStep; stepfn packs it into the object store when
the workflow is created, but did so only for its local clients, so through ``boto3.client('stepfunctions')``
answered by ``stepfn serve`` the training job found no code. ``Workflow.create``/``update`` now stage it for a
client of an endpoint on this machine too (tests/workflow/test_workflow_stage_code.py).

``test_torch_training_pipeline`` is kept as written but skipped, a gap not closed here: it needs the
``pytorch-training:1.2.0`` image's environment (torch 1.2.0 and torchvision 0.4 on Python 3.6, the ``py3`` of that
release in sagemaker v2's image table, with ``sagemaker_containers``, which its script imports) and
``tests/data/pytorch_mnist``'s ``training.pt``/``test.pt`` (torch's own format, which needs torch to write a
stand-in). stepfn's framework table starts at PyTorch 1.13, and neither uv's managed Pythons nor this machine
have a Python 3.6 to build such an environment with; the job fails at once with ``no pinned environment for
pytorch 1.2.0``.
"""

# The tests' own code is kept as written: its names, import order and trailing whitespace.
# ruff: noqa: I001, W291, W293

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import pytest
import os

from stepfn.template import TrainingPipeline
from stepfn.sagemaker.pytorch import PyTorch
from stepfn.sagemaker.sklearn import SKLearn

# tests/integ/__init__.py's DEFAULT_TIMEOUT_MINUTES, timeout.py, utils.py and the conftest.py fixtures the ports share
from sdk_integ_support import (
    DEFAULT_TIMEOUT_MINUTES,
    aws_account_id,
    delete_sagemaker_endpoint,
    delete_sagemaker_endpoint_config,
    delete_sagemaker_model,
    get_resource_name_from_arn,
    sagemaker_client,
    sagemaker_role_arn,
    sagemaker_session,
    sfn_client,
    sfn_role_arn,
    state_machine_delete_wait,
    timeout,
)

__all__ = ["aws_account_id", "sagemaker_client", "sagemaker_role_arn", "sagemaker_session", "sfn_client",
           "sfn_role_arn"]
pytestmark = pytest.mark.slow

DATA_DIR = ""  # tests/integ/__init__.py's DATA_DIR, set per test by the data fixture below

# tests/data/sklearn_mnist/mnist.py, as written
SKLEARN_MNIST_PY = '''\
# Copyright 2019 Amazon.com, Inc. or its affiliates. All Rights Reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License").
# You may not use this file except in compliance with the License.
# A copy of the License is located at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# or in the "license" file accompanying this file. This file is distributed 
# on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either 
# express or implied. See the License for the specific language governing 
# permissions and limitations under the License.
from __future__ import print_function, absolute_import

import argparse
import numpy as np
import os

from sklearn import svm
from sklearn.externals import joblib


def preprocess_mnist(raw, withlabel, ndim, scale, image_dtype, label_dtype, rgb_format):
    images = raw["x"]
    if ndim == 2:
        images = images.reshape(-1, 28, 28)
    elif ndim == 3:
        images = images.reshape(-1, 1, 28, 28)
        if rgb_format:
            images = np.broadcast_to(images, (len(images), 3) + images.shape[2:])

    elif ndim != 1:
        raise ValueError("invalid ndim for MNIST dataset")
    images = images.astype(image_dtype)
    images *= scale / 255.0

    if withlabel:
        labels = raw["y"].astype(label_dtype)
        return images, labels
    return images


if __name__ == "__main__":
    parser = argparse.ArgumentParser()

    # Data and model checkpoints directories
    parser.add_argument("--epochs", type=int, default=-1)
    parser.add_argument("--output-data-dir", type=str, default=os.environ["SM_OUTPUT_DATA_DIR"])
    parser.add_argument("--model-dir", type=str, default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", type=str, default=os.environ["SM_CHANNEL_TRAINING"])
    # parser.add_argument("--test", type=str, default=os.environ["SM_CHANNEL_TEST"])

    args = parser.parse_args()

    train_file = np.load(os.path.join(args.train, "train.npz"))
    # test_file = np.load(os.path.join(args.test, "test.npz"))

    preprocess_mnist_options = {
        "withlabel": True,
        "ndim": 1,
        "scale": 1.0,
        "image_dtype": np.float32,
        "label_dtype": np.int32,
        "rgb_format": False,
    }

    # Preprocess MNIST data
    train_images, train_labels = preprocess_mnist(train_file, **preprocess_mnist_options)
    # test_images, test_labels = preprocess_mnist(test_file, **preprocess_mnist_options)

    # Set up a Support Vector Machine classifier to predict digit from images
    clf = svm.SVC(gamma=0.001, C=100.0, max_iter=args.epochs)

    # Fit the SVM classifier with the images and the corresponding labels
    clf.fit(train_images, train_labels)

    # Print the coefficients of the trained classifier, and save the coefficients
    joblib.dump(clf, os.path.join(args.model_dir, "model.joblib"))


def model_fn(model_dir):
    clf = joblib.load(os.path.join(model_dir, "model.joblib"))
    return clf
'''


# --- the surroundings: tests/data as small stand-ins ---

@pytest.fixture(autouse=True)
def surroundings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEPFN_JOB_ENV")  # the user's default (auto), not the suite's host
    monkeypatch.setenv("STEPFN_ENV_DIR", os.environ.get("STEPFN_TEST_ENV_DIR") or str(tmp_path / "envs"))
    rng = np.random.default_rng(5)
    (tmp_path / "sklearn_mnist" / "train").mkdir(parents=True)
    np.savez(tmp_path / "sklearn_mnist" / "train" / "train.npz",
             x=rng.integers(0, 256, (60, 784), dtype=np.uint8), y=rng.integers(0, 10, 60, dtype=np.uint8))
    (tmp_path / "sklearn_mnist" / "mnist.py").write_text(SKLEARN_MNIST_PY)
    monkeypatch.setattr(sys.modules[__name__], "DATA_DIR", str(tmp_path))


# --- tests/integ/test_training_pipeline_framework_estimator.py from here, imports changed ---

@pytest.fixture
def torch_estimator(sagemaker_role_arn):
    script_path = os.path.join(DATA_DIR, "pytorch_mnist", "mnist.py")   
    return PyTorch(
        py_version='py3',
        entry_point=script_path,
        role=sagemaker_role_arn,
        framework_version='1.2.0',
        instance_count=1,
        instance_type='ml.m5.large',
        hyperparameters={
            'epochs': 6,
            'backend': 'gloo'
        }
    )

@pytest.fixture
def sklearn_estimator(sagemaker_role_arn):
    script_path = os.path.join(DATA_DIR, "sklearn_mnist", "mnist.py")   
    return SKLearn(
        framework_version='0.20.0',
        py_version='py3',
        entry_point=script_path,
        role=sagemaker_role_arn,
        instance_count=1,
        instance_type='ml.m5.large',
        hyperparameters={
            "epochs": 1
        }
    )


def _get_endpoint_name(execution_output):
    endpoint_arn = execution_output.get('EndpointArn', None)
    endpoint_name = None

    if endpoint_arn is not None:
        resource_name = get_resource_name_from_arn(endpoint_arn)
        endpoint_name = resource_name.split("/")[-1]
    
    return endpoint_name


def _pipeline_test_suite(sagemaker_client, training_job_name, model_name, endpoint_name):
    assert sagemaker_client.describe_training_job(TrainingJobName=training_job_name).get('TrainingJobName') == training_job_name
    assert sagemaker_client.describe_model(ModelName=model_name).get('ModelName') == endpoint_name
    assert sagemaker_client.describe_endpoint(EndpointName=endpoint_name).get('EndpointName') == endpoint_name


def _pipeline_teardown(sfn_client, sagemaker_session, endpoint_name, pipeline):
    if endpoint_name is not None:
        delete_sagemaker_endpoint(endpoint_name, sagemaker_session)
        delete_sagemaker_endpoint_config(endpoint_name, sagemaker_session)
        delete_sagemaker_model(endpoint_name, sagemaker_session)

    state_machine_delete_wait(sfn_client, pipeline.workflow.state_machine_arn)


@pytest.mark.skip(reason="gap: no pytorch-training:1.2.0 (Python 3.6) framework environment here; see the docstring")
def test_torch_training_pipeline(sfn_client, sagemaker_client, torch_estimator, sagemaker_session, sfn_role_arn):
    with timeout(minutes=DEFAULT_TIMEOUT_MINUTES):
        # upload input data
        data_path = os.path.join(DATA_DIR, "pytorch_mnist")
        inputs = sagemaker_session.upload_data(
            path=data_path, 
            bucket=sagemaker_session.default_bucket(), 
            key_prefix='integ-test-data/torch_mnist/train'
        )

        # create training pipeline
        pipeline = TrainingPipeline(
            torch_estimator, 
            sfn_role_arn, 
            inputs, 
            sagemaker_session.default_bucket(), 
            sfn_client
        )
        pipeline.create()
        # execute pipeline
        execution = pipeline.execute()

        # get pipeline output and extract endpoint name
        execution_output = execution.get_output(wait=True)
        assert execution_output  # If fails, execution_output is None.

        endpoint_name = _get_endpoint_name(execution_output)

        # assertions
        _pipeline_test_suite(sagemaker_client, training_job_name='estimator-'+endpoint_name, model_name=endpoint_name, endpoint_name=endpoint_name)

        # teardown
        _pipeline_teardown(sfn_client, sagemaker_session, endpoint_name, pipeline)


def test_sklearn_training_pipeline(sfn_client, sagemaker_client, sklearn_estimator, sagemaker_session, sfn_role_arn):
    with timeout(minutes=DEFAULT_TIMEOUT_MINUTES):
        # upload input data
        data_path = os.path.join(DATA_DIR, "sklearn_mnist")
        inputs = sagemaker_session.upload_data(
            path=os.path.join(data_path, "train"),
            bucket=sagemaker_session.default_bucket(),
            key_prefix="integ-test-data/sklearn_mnist/train"
        )

        # create training pipeline
        pipeline = TrainingPipeline(
            sklearn_estimator, 
            sfn_role_arn, 
            inputs, 
            sagemaker_session.default_bucket(), 
            sfn_client
        )
        pipeline.create()
        # run pipeline
        execution = pipeline.execute()
        
        # get pipeline output and extract endpoint name
        execution_output = execution.get_output(wait=True)
        assert execution_output  # If fails, execution_output is None.

        endpoint_name = _get_endpoint_name(execution_output)

        # assertions
        _pipeline_test_suite(sagemaker_client, training_job_name='estimator-'+endpoint_name, model_name=endpoint_name, endpoint_name=endpoint_name)

        # teardown
        _pipeline_teardown(sfn_client, sagemaker_session, endpoint_name, pipeline)
