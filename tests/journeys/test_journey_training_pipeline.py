"""The TrainingPipeline template with a PyTorch estimator: train, save the model, configure and deploy an endpoint.

Ours, written after what amazon-sagemaker-examples' ``training_pipeline_pytorch_mnist.ipynb`` does (no cell of it is
copied; a headless run of it needs torchvision's MNIST download and a PyTorch environment): data uploaded with
``Session.upload_data``, a ``PyTorch`` estimator with sagemaker v1 argument names (as the notebook's older revisions
used) and no ``source_dir`` (the local backend packs the lone entry point at ``create()``),
``TrainingPipeline(estimator, role, inputs, s3_bucket)``, ``create()`` and ``execute()``. ``digits.py`` keeps a
PyTorch training script's contract (argparse over ``SM_*``, ``--epochs``, ``model_fn`` for hosting) but fits a numpy
softmax regression on scikit-learn's 8x8 digits, since torch is not installed here. The pipeline ends with a live
endpoint, which the test invokes and stops.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import stepfn.sagemaker as sagemaker
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.endpoints import invoke_endpoint, stop_endpoint
from stepfn.sagemaker.pytorch import PyTorch
from stepfn.template import TrainingPipeline

pytestmark = pytest.mark.slow

sagemaker_execution_role = "arn:aws:iam::111122223333:role/SageMakerRole"
workflow_execution_role = "arn:aws:iam::111122223333:role/StepFunctionsWorkflowExecutionRole"

DIGITS = '''
import argparse
import json
import os

import numpy as np


def train(args):
    data = np.load(os.path.join(args.data_dir, "digits.npz"))
    x, y = data["images"].reshape(len(data["labels"]), -1) / 16.0, data["labels"]
    weights = np.zeros((x.shape[1], 10))
    onehot = np.eye(10)[y]
    for epoch in range(1, args.epochs + 1):
        for _ in range(50):
            logits = x @ weights
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            weights -= args.lr * x.T @ (probs - onehot) / len(y)
        accuracy = float(((x @ weights).argmax(axis=1) == y).mean())
        print("Train Epoch: {} accuracy: {:.4f}".format(epoch, accuracy))
    if args.current_host == args.hosts[0]:
        np.save(os.path.join(args.model_dir, "model.npy"), weights)


def model_fn(model_dir):
    return np.load(os.path.join(model_dir, "model.npy"))


def predict_fn(input_data, model):
    return (np.asarray(input_data, dtype=float).reshape(len(input_data), -1) / 16.0 @ model).argmax(axis=1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--hosts", type=list, default=json.loads(os.environ["SM_HOSTS"]))
    parser.add_argument("--current-host", type=str, default=os.environ["SM_CURRENT_HOST"])
    parser.add_argument("--model-dir", type=str, default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--data-dir", type=str, default=os.environ["SM_CHANNEL_TRAINING"])
    parser.add_argument("--num-gpus", type=int, default=os.environ["SM_NUM_GPUS"])
    train(parser.parse_args())
'''


def test_training_pipeline_trains_and_deploys(tmp_path: Path) -> None:
    from sklearn.datasets import load_digits

    session = sagemaker.Session(region_name="eu-west-1", default_bucket="pipelines-eu-west-1-111122223333")
    bucket = session.default_bucket()
    digits = load_digits()
    data = tmp_path / "digits"
    data.mkdir()
    np.savez(data / "digits.npz", images=digits.images[:1200], labels=digits.target[:1200])
    script = tmp_path / "digits.py"
    script.write_text(DIGITS)
    training_data = session.upload_data(path=str(data), bucket=bucket, key_prefix="training-pipeline/digits")

    with pytest.warns(DeprecationWarning):  # the v1 names
        estimator = PyTorch(entry_point=str(script), role=sagemaker_execution_role, framework_version="1.8.1",
                            py_version="py3", train_instance_count=2, train_instance_type="ml.c5.xlarge",
                            hyperparameters={"epochs": 6}, sagemaker_session=session)
    pipeline = TrainingPipeline(estimator, workflow_execution_role, training_data, bucket)
    definition = json.loads(pipeline.workflow.definition.to_json(pretty=True))
    assert list(definition["States"]) == ["Training", "Create Model", "Configure Endpoint", "Deploy"]
    assert "Configure Endpoint" in pipeline.render_graph().data
    pipeline.create()
    execution = pipeline.execute()
    endpoint = execution.name
    try:
        output = execution.get_output(wait=True)
        described = execution.describe()
        assert described["status"] == "SUCCEEDED", f"{described.get('error')}: {described.get('cause')}"
        assert output["EndpointArn"].endswith(f":endpoint/{endpoint}")
        held_out = digits.images[1500:1540]
        response = invoke_endpoint(EndpointName=endpoint, Body=json.dumps(held_out.tolist()),
                                   ContentType="application/json")
        predicted = np.array(json.loads(response["Body"].read()))
        assert (predicted == digits.target[1500:1540]).mean() > 0.8
        # The template named everything after the execution and kept the training log's epochs.
        jobs = [e for e in pipeline.workflow.list_executions()]
        assert [e.name for e in jobs] == [endpoint]
        model_data = f"s3://{bucket}/{pipeline.workflow.name}/models/estimator-{endpoint}/output/model.tar.gz"
        assert ObjectStore().exists(model_data)
    finally:
        stop_endpoint(endpoint)
