"""What the view tests share: the runs fixture's record and where screenshots go (CI keeps build/)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stepfn.workflow.local_client import LocalStepFunctionsClient

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"

TRAIN_PY = """\
import os
rows = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "data.csv")).read().split()
print("read", len(rows), "rows")
for number, row in enumerate(rows, 1):
    if not row.isdigit():
        raise ValueError(f"row {number} is not a number: {row}")
"""
TRAIN_RAISE_LINE = 6


@dataclass
class Runs:
    client: LocalStepFunctionsClient
    home: Path
    mixed: str
    """The execution ARN of MIXED: FAILED in Sweep[1] > Item."""
    retried: str
    """An execution that retried Flaky once and succeeded (items without the failing one)."""
