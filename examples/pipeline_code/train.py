"""Script-mode training: a logistic regression on the processed training set (label in the first column)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import joblib
import numpy as np


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    parser = argparse.ArgumentParser()
    parser.add_argument("--regularization", type=float, default=1.0)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args()
    data = np.vstack([np.loadtxt(path, delimiter=",", ndmin=2) for path in sorted(Path(args.train).glob("*.csv"))])
    model = make_pipeline(StandardScaler(), LogisticRegression(C=args.regularization, max_iter=500))
    model.fit(data[:, 1:], data[:, 0])
    print(f"train:accuracy={model.score(data[:, 1:], data[:, 0]):.4f}")
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))


def model_fn(model_dir: str):  # the serving toolkit loads the model with this
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    main()
