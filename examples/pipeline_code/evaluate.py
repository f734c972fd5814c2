"""Processing script: score the trained model on the test set and write evaluation.json.

Inputs: the training job's ``model.tar.gz`` and the test split; output: ``{"accuracy": ..., "samples": ...}``,
which the workflow reads back with an S3 GetObject Task and branches on.
"""

from __future__ import annotations

import argparse
import json
import tarfile
from pathlib import Path

import joblib
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    # Read the one member needed in place: nothing is written, and it works where extractall has no filter (3.11.2).
    with tarfile.open(args.model / "model.tar.gz") as archive:
        model = joblib.load(archive.extractfile("model.joblib"))
    data = np.vstack([np.loadtxt(path, delimiter=",", ndmin=2) for path in sorted(args.test.glob("*.csv"))])
    accuracy = float(model.score(data[:, 1:], data[:, 0]))
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "evaluation.json").write_text(json.dumps({"accuracy": round(accuracy, 4), "samples": len(data)}))
    print(f"test:accuracy={accuracy:.4f}")


if __name__ == "__main__":
    main()
