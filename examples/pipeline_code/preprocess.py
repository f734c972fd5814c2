"""Processing script: split the raw CSV (header row, label last) into train/test sets, label first, no header.

SageMaker Processing mounts inputs and outputs at the container paths the ProcessingStep names. The script
takes those paths as arguments (not hard-coded): locally stepfn relocates ``/opt/ml`` under the job's own
directory and rewrites ``/opt/ml`` in the arguments, so the same script runs unchanged on both.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--test-fraction", type=float, default=0.25)
    args = parser.parse_args()
    paths = sorted(args.input.glob("*.csv"))
    rows = np.vstack([np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2) for path in paths])
    rows = rows[np.random.default_rng(3).permutation(len(rows))]
    labelled = np.column_stack([rows[:, -1], rows[:, :-1]])
    cut = int(len(labelled) * (1 - args.test_fraction))
    for name, part in (("train", labelled[:cut]), ("test", labelled[cut:])):
        (args.output / name).mkdir(parents=True, exist_ok=True)
        np.savetxt(args.output / name / f"{name}.csv", part, delimiter=",", fmt="%.6g")
    print(f"split {len(labelled)} rows: train={cut} test={len(labelled) - cut}")


if __name__ == "__main__":
    main()
