"""A scikit-learn training script written for SageMaker script mode; it runs unmodified on SageMaker.

SageMaker (and stepfn's local SageMaker) passes hyperparameters as command-line arguments and the data and
model locations in ``SM_*`` environment variables. The same file serves the model: ``model_fn`` is what the
inference toolkit calls to load it.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import joblib
import numpy as np


def _load(channel_dir: str) -> tuple[np.ndarray, np.ndarray]:
    # SageMaker convention for CSV in this demo: label in the first column, no header.
    frames = [np.loadtxt(path, delimiter=",", ndmin=2) for path in sorted(Path(channel_dir).glob("*.csv"))]
    data = np.vstack(frames)
    return data[:, 1:], data[:, 0]


def main() -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score

    parser = argparse.ArgumentParser()
    parser.add_argument("--n-estimators", type=int, default=50)
    parser.add_argument("--max-depth", type=int, default=None)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    args = parser.parse_args()

    x_train, y_train = _load(args.train)
    x_val, y_val = _load(args.validation)
    model = RandomForestClassifier(n_estimators=args.n_estimators, max_depth=args.max_depth, random_state=0)
    model.fit(x_train, y_train)
    accuracy = accuracy_score(y_val, model.predict(x_val))
    # MetricDefinitions in the estimator turn this line into FinalMetricDataList.
    print(f"validation:accuracy={accuracy:.4f}")
    print(f"train:samples={len(y_train)}")
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
    with open(os.path.join(os.environ.get("SM_OUTPUT_DATA_DIR", args.model_dir), "metrics.json"), "w") as f:
        json.dump({"validation_accuracy": accuracy}, f)


def model_fn(model_dir: str):  # the inference toolkit calls this to load the model
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    main()
