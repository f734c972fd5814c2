"""bench/load.py, small: concurrent executions while reader processes hammer the store; every execution right,
every history well-formed, counts consistent, no reader error, memory bounded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_load_small_run_stays_consistent(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(REPO / "bench" / "load.py"), "--executions", "40", "--readers", "4", "--rounds", "2",
         "--wait", "2", "--workdir", str(tmp_path), "--json"],
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert completed.stdout.strip(), completed.stderr[-3000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    assert summary["executions"] == 80
    assert summary["peak_running"] == 40  # each round's executions all ran at the same time
    assert summary["problems"] == 0, summary["problem_samples"]
    assert summary["reader_errors"] == 0, summary["reader_error_samples"]
    assert summary["reader_calls"] > 0
    # Pass, Map (10 items), Choice, Wait, Pass: one history length for every execution.
    assert len(summary["history_events_per_execution"]) == 1
    first, second = (entry["rss_mib_after"] for entry in summary["rounds"])
    assert summary["rss_mib"]["peak_sampled"] < 400
    assert second < first + 50, summary["rounds"]  # a second round does not keep what the first one used
    assert completed.returncode == 0
