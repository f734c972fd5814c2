"""Port of amazon-sagemaker-examples ``training_pipeline_pytorch_mnist.ipynb``: the TrainingPipeline template.

As written: ``upload_data`` of a ``data`` directory, a ``PyTorch`` estimator with sagemaker v1 argument names and no
``source_dir`` (sagemaker v2 uploaded ``mnist.py`` when the step was built; the local backend packs it at
``create()``), ``TrainingPipeline(estimator, role, inputs, s3_bucket)``, ``create()`` and ``execute()``. The session is
given its region and bucket (no AWS account to ask). ``mnist.py`` keeps the notebook script's contract (argparse
over ``SM_*``, ``--epochs``/``--backend``, ``model_fn`` for hosting) but fits a numpy softmax regression on 8x8
digits, since torch is not installed here. The pipeline ends with a live endpoint, which the test invokes and stops.
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

MNIST = '''
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
    parser.add_argument("--backend", type=str, default=None)
    parser.add_argument("--hosts", type=list, default=json.loads(os.environ["SM_HOSTS"]))
    parser.add_argument("--current-host", type=str, default=os.environ["SM_CURRENT_HOST"])
    parser.add_argument("--model-dir", type=str, default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--data-dir", type=str, default=os.environ["SM_CHANNEL_TRAINING"])
    parser.add_argument("--num-gpus", type=int, default=os.environ["SM_NUM_GPUS"])
    train(parser.parse_args())
'''


def test_training_pipeline_trains_and_deploys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.datasets import load_digits

    monkeypatch.chdir(tmp_path)
    sagemaker_session = sagemaker.Session(region_name="us-west-2", default_bucket="sagemaker-us-west-2-111122223333")
    bucket = sagemaker_session.default_bucket()
    prefix = "sagemaker/DEMO-pytorch-mnist"
    digits = load_digits()
    Path("data").mkdir()
    np.savez(Path("data") / "digits.npz", images=digits.images[:1200], labels=digits.target[:1200])
    Path("mnist.py").write_text(MNIST)
    inputs = sagemaker_session.upload_data(path="data", bucket=bucket, key_prefix=prefix)

    with pytest.warns(DeprecationWarning):
        estimator = PyTorch(
            entry_point="mnist.py",
            role=sagemaker_execution_role,
            framework_version="1.8.1",
            py_version="py3",
            train_instance_count=2,
            train_instance_type="ml.c4.xlarge",
            hyperparameters={"epochs": 6, "backend": "gloo"},
            sagemaker_session=sagemaker_session,
        )
    pipeline = TrainingPipeline(estimator=estimator, role=workflow_execution_role, inputs=inputs, s3_bucket=bucket)
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
