"""What several tests of ``stepfn.sagemaker`` share."""

# A script-mode scikit-learn script as notebooks write it: train under __main__, model_fn for serving.
SKLEARN_SCRIPT = """\
import os

import joblib
import numpy as np
from sklearn.linear_model import LinearRegression


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    rows = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), delimiter=",")
    model = LinearRegression().fit(rows[:, 1:], rows[:, 0])
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
"""
