"""examples/local_to_aws.py runs end to end against moto, in a subprocess, as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_local_to_aws_example_runs_against_moto(tmp_path: Path) -> None:
    env = {**os.environ, "STEPFN_EXAMPLE_MOTO": "1", "STEPFN_HOME": str(tmp_path / "home"),
           "PYTHONPATH": str(REPO / "src")}
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, str(REPO / "examples" / "local_to_aws.py")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in result.stdout.splitlines() if ":" in line}
    expected = {"labels": [{"id": "a", "label": "high"}, {"id": "b", "label": "low"}, {"id": "c", "label": "high"}],
                "count": 3}
    assert json.loads(lines["local output"]) == expected
    assert json.loads(lines["AWS output"]) == expected
    assert "local and remote agree: SUCCEEDED" in result.stdout
    assert lines["training workflow"].endswith(":stateMachine:stepfn-example-training")
    assert lines["its code on S3"].startswith("s3://sagemaker-us-east-1-123456789012/stepfn/source/")
    assert lines["its code on S3"].endswith("/sourcedir.tar.gz")
