"""Estimator for both template examples: a random forest on a label-first CSV channel (any file names)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import joblib
import numpy as np


def main() -> None:
    from sklearn.ensemble import RandomForestClassifier

    parser = argparse.ArgumentParser()
    parser.add_argument("--n-estimators", type=int, default=50)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args()
    rows = np.vstack([np.loadtxt(path, delimiter=",", ndmin=2) for path in sorted(Path(args.train).iterdir())])
    model = RandomForestClassifier(n_estimators=args.n_estimators, random_state=0)
    model.fit(rows[:, 1:], rows[:, 0])
    print(f"train:accuracy={model.score(rows[:, 1:], rows[:, 0]):.4f} on {len(rows)} rows")
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))


def model_fn(model_dir: str):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    main()
