"""Port of the Step Functions Data Science SDK's own integration test ``tests/integ/test_inference_pipeline.py``.

Source: https://github.com/aws/aws-step-functions-data-science-sdk-python, ``tests/integ/test_inference_pipeline.py``
with its scripts ``tests/data/one_p_mnist/sklearn_mnist_preprocessor.py`` and ``sklearn_mnist_estimator.py``, and
the ``tests/integ`` helpers and fixtures in ``sdk_integ_support.py``, all at commit
02ed72b10d7c0dbfb3e404b1e183c309c040bfaa (v2.3.0); Apache-2.0, Copyright 2019 Amazon.com, Inc. or its affiliates.

The InferencePipeline template trains a scikit-learn 0.20.0 preprocessor (a StandardScaler column transformer),
batch-transforms the Gzip-compressed ``application/x-npy`` data through it, trains an SVM on the transformed rows
and deploys both models as one endpoint. The test runs as written, with these changes only:

* imports: ``sagemaker`` -> ``stepfn.sagemaker``, ``stepfunctions`` -> ``stepfn``;
* the account, roles, session and ``sfn_client`` as in ``sdk_integ_support.py`` (the conftest's ``boto3`` STS and
  Step Functions clients as written, answered by ``stepfn serve``), fixtures function-scoped;
* the data: ``mnist.npy.gz`` is a small random array of the original's shape (2 x 100 x 785: label, then 784
  pixels), written by the test; the scripts are the repository's, written next to it;
* nothing about the environment: with the default (``STEPFN_JOB_ENV`` unset: ``auto``), jobs of the
  ``sagemaker-scikit-learn:0.20.0`` image run in that image's environment because stepfn's own scikit-learn is
  another release, so the scripts' ``sklearn.externals.joblib`` and ``six`` imports work.

The batch transform and the endpoint serve both models in that environment too (a handler host run by its
Python 3.7, ``stepfn.local.sagemaker.handlerhost``), as the image's container would.
"""

# The test's own code is kept as written: its str.format calls and unused results.
# ruff: noqa: I001

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np

import os
import json
import pytest
from datetime import datetime

from stepfn.sagemaker.sklearn.estimator import SKLearn

from stepfn.template.pipeline import InferencePipeline

from sdk_integ_support import (
    DEFAULT_TIMEOUT_MINUTES,
    aws_account_id,
    delete_sagemaker_endpoint,
    delete_sagemaker_endpoint_config,
    delete_sagemaker_model,
    sagemaker_role_arn,
    sagemaker_session,
    sfn_client,
    sfn_role_arn,
    state_machine_delete_wait,
    timeout,
)

__all__ = ["aws_account_id", "sagemaker_role_arn", "sagemaker_session", "sfn_client", "sfn_role_arn"]
pytestmark = [pytest.mark.slow]

DATA_DIR = ""  # set per test by the data fixture below

# tests/data/one_p_mnist/sklearn_mnist_preprocessor.py, as written
PREPROCESSOR_PY = '''\
# Copyright 2019 Amazon.com, Inc. or its affiliates. All Rights Reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License").
# You may not use this file except in compliance with the License.
# A copy of the License is located at
#
#   http://www.apache.org/licenses/LICENSE-2.0
#
# or in the "license" file accompanying this file. This file is distributed
# on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either
# express or implied. See the License for the specific language governing
# permissions and limitations under the License.
from __future__ import print_function, absolute_import

import argparse
import numpy as np
import os
import gzip

from six import BytesIO

from sklearn.compose import make_column_transformer
from sklearn.externals import joblib
from sklearn.preprocessing import StandardScaler


def create_preprocessing_pipeline(num_columns):
    preprocessor = make_column_transformer(
        (np.arange(num_columns), StandardScaler()),
        remainder='passthrough'
    )
    return preprocessor


if __name__ == "__main__":
    parser = argparse.ArgumentParser()

    # Data and model checkpoints directories
    parser.add_argument("--epochs", type=int, default=-1)
    parser.add_argument("--output-data-dir", type=str, default=os.environ["SM_OUTPUT_DATA_DIR"])
    parser.add_argument("--model-dir", type=str, default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", type=str, default=os.environ["SM_CHANNEL_TRAIN"])
    parser.add_argument("--test", type=str, default=os.environ["SM_CHANNEL_TEST"])
    args = parser.parse_args()

    # Load the data into memory as numpy arrays
    data_path = os.path.join(args.train, "mnist.npy.gz")
    with gzip.open(data_path, "rb") as f:
        data = np.load(f, allow_pickle=True)
    train_set = data[0]
    test_set = data[1]
    train_file = {'x': train_set[:, 1:], 'y': train_set[:, 0]}

    preprocessor = create_preprocessing_pipeline(train_file['x'].shape[1])
    preprocessor.fit(X=train_file['x'], y=train_file['y'])
    joblib.dump(preprocessor, os.path.join(args.model_dir, "model.joblib"))
    print("saved model!")


def input_fn(input_data, content_type):
    # Load the data into memory as numpy arrays
    buf = BytesIO(input_data)
    data = np.load(buf, allow_pickle=True)
    train_set = data[0]
    return train_set[:50, :]


def predict_fn(data, model):
    transformed = np.concatenate((data[:, 0].reshape(-1, 1), model.transform(data[:, 1:])), axis=1)
    return transformed


def model_fn(model_dir):
    clf = joblib.load(os.path.join(model_dir, "model.joblib"))
    return clf
'''

# tests/data/one_p_mnist/sklearn_mnist_estimator.py, as written
ESTIMATOR_PY = '''\
# Copyright 2019 Amazon.com, Inc. or its affiliates. All Rights Reserved.

# Licensed under the Apache License, Version 2.0 (the "License").
# You may not use this file except in compliance with the License.
# A copy of the License is located at

#   http://www.apache.org/licenses/LICENSE-2.0

# or in the "license" file accompanying this file. This file is distributed
# on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either
# express or implied. See the License for the specific language governing
# permissions and limitations under the License.
from __future__ import print_function, absolute_import

import argparse
import numpy as np
import os
import json

from six import BytesIO

from sklearn import svm
from sklearn.externals import joblib


if __name__ == "__main__":
    parser = argparse.ArgumentParser()

    # Data and model checkpoints directories
    parser.add_argument("--epochs", type=int, default=-1)
    parser.add_argument("--output-data-dir", type=str, default=os.environ["SM_OUTPUT_DATA_DIR"])
    parser.add_argument("--model-dir", type=str, default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", type=str, default=os.environ["SM_CHANNEL_TRAIN"])
    args = parser.parse_args()

    # Load the data into memory as numpy arrays
    data_path = os.path.join(args.train, "mnist.npy.gz.out")
    with open(data_path, 'r') as f:
        jsonarray = json.loads(f.read())
        data = np.array(jsonarray)
    train_set = data
    train_file = {'x': train_set[:, 1:], 'y': train_set[:, 0]}

    # Set up a Support Vector Machine classifier to predict digit from images
    clf = svm.SVC(gamma=0.001, C=100.0, max_iter=args.epochs)

    train_images = train_file['x']
    train_labels = train_file['y']
    # Fit the SVM classifier with the images and the corresponding labels
    clf.fit(train_images, train_labels)

    # Print the coefficients of the trained classifier, and save the coefficients
    joblib.dump(clf, os.path.join(args.model_dir, "model.joblib"))


def input_fn(input_data, content_type):
    # Load the data into memory as numpy arrays
    buf = BytesIO(input_data)
    jsonarray = json.loads(buf.read())
    data = np.array(jsonarray)
    return data


def predict_fn(data, model):
    train_set = data[:, 1:]
    return model.predict(train_set)


def model_fn(model_dir):
    clf = joblib.load(os.path.join(model_dir, "model.joblib"))
    return clf
'''


@pytest.fixture(autouse=True)
def surroundings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/data/one_p_mnist as a small stand-in, and the framework environment the scripts need."""
    monkeypatch.delenv("STEPFN_JOB_ENV")  # the user's default (auto), not the suite's host
    monkeypatch.setenv("STEPFN_ENV_DIR", os.environ.get("STEPFN_TEST_ENV_DIR") or str(tmp_path / "envs"))
    rng = np.random.default_rng(5)
    data = np.concatenate([rng.integers(0, 10, (2, 100, 1)), rng.random((2, 100, 784))], axis=2)
    folder = tmp_path / "one_p_mnist"
    folder.mkdir()
    with gzip.open(folder / "mnist.npy.gz", "wb") as f:
        np.save(f, data)
    (folder / "sklearn_mnist_preprocessor.py").write_text(PREPROCESSOR_PY)
    (folder / "sklearn_mnist_estimator.py").write_text(ESTIMATOR_PY)
    monkeypatch.setattr(sys.modules[__name__], "DATA_DIR", str(tmp_path))


# --- tests/integ/test_inference_pipeline.py from here, imports changed ---

# Constants
BASE_NAME = 'inference-pipeline-integtest'
COMPRESSED_NPY_DATA = 'mnist.npy.gz'

# Fixtures
@pytest.fixture
def sklearn_preprocessor(sagemaker_role_arn, sagemaker_session):
    script_path = os.path.join(DATA_DIR,
                               'one_p_mnist',
                               'sklearn_mnist_preprocessor.py')
    sklearn_preprocessor = SKLearn(
        framework_version='0.20.0',
        py_version='py3',
        entry_point=script_path,
        role=sagemaker_role_arn,
        instance_type="ml.m5.large",
        sagemaker_session=sagemaker_session,
        hyperparameters={"epochs": 1},
    )
    return sklearn_preprocessor


@pytest.fixture
def sklearn_estimator(sagemaker_role_arn, sagemaker_session):
    script_path = os.path.join(DATA_DIR,
                               'one_p_mnist',
                               'sklearn_mnist_estimator.py')
    sklearn_estimator = SKLearn(
        framework_version='0.20.0',
        py_version='py3',
        entry_point=script_path,
        role=sagemaker_role_arn,
        instance_type="ml.m5.large",
        sagemaker_session=sagemaker_session,
        hyperparameters={"epochs": 1},
        input_mode='File'
    )
    return sklearn_estimator


@pytest.fixture
def inputs(sagemaker_session):
    data_path = os.path.join(DATA_DIR, "one_p_mnist", COMPRESSED_NPY_DATA)
    inputs = sagemaker_session.upload_data(
        path=data_path, key_prefix='dataset/one_p_mnist'
    )
    return inputs


def test_inference_pipeline_framework(
        sfn_client,
        sagemaker_session,
        sfn_role_arn,
        sagemaker_role_arn,
        sklearn_preprocessor,
        sklearn_estimator,
        inputs):
    bucket_name = sagemaker_session.default_bucket()
    unique_name = '{}-{}'.format(BASE_NAME, datetime.now().strftime('%Y%m%d%H%M%S'))
    with timeout(minutes=DEFAULT_TIMEOUT_MINUTES):
        pipeline = InferencePipeline(
            preprocessor=sklearn_preprocessor,
            estimator=sklearn_estimator,
            inputs={'train': inputs, 'test': inputs},
            s3_bucket=bucket_name,
            role=sfn_role_arn,
            compression_type='Gzip',
            content_type='application/x-npy',
            pipeline_name=unique_name
        )

        _ = pipeline.create()
        execution = pipeline.execute(job_name=unique_name)
        out = execution.get_output(wait=True)
        assert out  # If fails, out is None.

        execution_info = execution.describe()

        execution_arn = execution.execution_arn
        state_machine_definition = sfn_client.describe_state_machine_for_execution(executionArn=execution_arn)
        state_machine_definition['definition'] = json.loads(state_machine_definition['definition'])
        assert state_machine_definition['definition'] == pipeline.workflow.definition.to_dict()

        state_machine_arn = state_machine_definition['stateMachineArn']
        job_name = execution_info['name']

        client_info = sfn_client.describe_execution(executionArn=execution_arn)
        client_info['input'] = json.loads(client_info['input'])
        _ = client_info.pop('ResponseMetadata')
        _ = client_info.pop('output')

        assert client_info['input'] == json.loads(execution_info['input'])

        state_machine_delete_wait(sfn_client, state_machine_arn)
        delete_sagemaker_endpoint(job_name, sagemaker_session)
        delete_sagemaker_endpoint_config(job_name, sagemaker_session)
        delete_sagemaker_model(job_name, sagemaker_session)
