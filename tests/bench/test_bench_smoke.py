"""Every benchmark script still runs, on tiny inputs: the figures in BENCHMARKS.md are only as good as the scripts
that print them, and nothing else imports them (bench/endpoint_overhead.py had silently broken when
bench/serving.py's model layout changed). The figures printed here mean nothing; only the run and its report's
shape are checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# (script and its arguments, a line its report must print)
RUNS = [
    (["engine.py", "--quick"], "moto"),
    (["listing.py", "--small", "20", "--large", "40", "--console", "40", "--events", "200"], "show"),
    (["fuzz.py", "--examples", "5"], "choice_rules"),
    (["jobs.py", "--repeats", "1", "--seconds", "0", "--skip-cold"], "job"),
    (["training.py", "--repeats", "1", "--jobs", "1", "--seconds", "0"], "overhead"),
    (["chaos.py", "--executions", "2", "--kills", "1"], "lost results 0"),
    (["load.py", "--executions", "4", "--readers", "1", "--rounds", "1", "--wait", "0"], "consistency problems: 0"),
    (["cache.py", "--in-process"], "cache"),
    (["endpoint_overhead.py", "--requests", "20", "--skip-auto"], "host: endpoint overhead over predict_fn"),
    (["serving.py", "--requests", "20", "--clients", "2", "--per-client", "20", "--rounds", "1", "--rows", "200",
      "--single-rows", "20", "--skip", "auto"], "MultiRecord"),
    (["serving_compare.py", "--rounds", "1", "--clients", "2", "--per-client", "20", "--rows", "20", "src"],
     "of the echo"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("argv", "expected"), RUNS, ids=[run[0][0] for run in RUNS])
def test_bench_script_runs(argv: list[str], expected: str, stepfn_home: Path) -> None:
    env = {**os.environ, "STEPFN_HOME": str(stepfn_home),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, str(ROOT / "bench" / argv[0]), *argv[1:]], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-4000:]
    assert expected.lower() in report.lower(), report[-4000:]
