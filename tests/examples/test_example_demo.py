"""``make demo`` must keep working: run examples/demo.py for real and check what it reports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_runs_the_whole_local_pipeline(stepfn_home: Path) -> None:
    env = {**os.environ, "STEPFN_HOME": str(stepfn_home)}
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py")], capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    out = result.stdout
    assert "SUCCEEDED" in out
    assert "validation:accuracy" in out and "validation:auc" in out
    assert "predictions: [" in out
    assert "batch transform: 89 predictions" in out
    # Artifacts really exist where the demo says.
    models = list((stepfn_home / "s3" / "stepfn-demo").rglob("model.tar.gz"))
    assert len(models) == 3
    assert list((stepfn_home / "s3" / "stepfn-demo" / "transform").glob("test.csv.out"))
    # The endpoint was stopped at the end: no server process left behind.
    from stepfn.local.sagemaker.endpoints import list_endpoints

    assert all(not endpoint.get("Pid") for endpoint in list_endpoints(stepfn_home))
