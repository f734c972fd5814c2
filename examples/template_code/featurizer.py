"""Preprocessor for the InferencePipeline example: fit a scaler + PCA at training time, apply it when served.

Training (script mode): reads the label-first CSV of the ``train`` channel and fits on the feature columns.
Serving (the first container of the pipeline model, and the batch transform of the training data):
``predict_fn`` keeps a leading label column when the rows have one (the transform of the training set), so
the estimator trains on ``label, features...``; requests without a label get features only.
"""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

import joblib
import numpy as np

N_FEATURES = "n_features.txt"


def main() -> None:
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    parser = argparse.ArgumentParser()
    parser.add_argument("--components", type=int, default=5)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    args = parser.parse_args()
    rows = np.vstack([np.loadtxt(path, delimiter=",", ndmin=2) for path in sorted(Path(args.train).iterdir())])
    featurizer = make_pipeline(StandardScaler(), PCA(n_components=args.components, random_state=0))
    featurizer.fit(rows[:, 1:])
    joblib.dump(featurizer, os.path.join(args.model_dir, "featurizer.joblib"))
    Path(args.model_dir, N_FEATURES).write_text(str(rows.shape[1] - 1))
    print(f"featurizer: {rows.shape[1] - 1} features -> {args.components} components")


def model_fn(model_dir: str):
    featurizer = joblib.load(os.path.join(model_dir, "featurizer.joblib"))
    featurizer.n_raw_features = int(Path(model_dir, N_FEATURES).read_text())
    return featurizer


def input_fn(body, content_type):
    text = body.decode() if isinstance(body, bytes) else body
    return np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)


def predict_fn(rows, featurizer):
    if rows.shape[1] == featurizer.n_raw_features + 1:
        return np.column_stack([rows[:, 0], featurizer.transform(rows[:, 1:])])
    return featurizer.transform(rows)


def output_fn(prediction, accept):
    # Always CSV: the next container (or the training job reading the transform output) expects it.
    buffer = io.StringIO()
    np.savetxt(buffer, prediction, delimiter=",", fmt="%.6g")
    return buffer.getvalue(), "text/csv"


if __name__ == "__main__":
    main()
