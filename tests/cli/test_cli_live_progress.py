"""``stepfn run`` on a terminal: a live table redrawn while states run (checked through a real pty)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from tests_cli_support import WORKFLOW_PY


def test_live_progress_redraws_on_a_terminal(tmp_path: Path, stepfn_home: Path) -> None:
    workflow = tmp_path / "pipeline.py"
    workflow.write_text(WORKFLOW_PY)
    controller, terminal = pty.openpty()
    env = {**os.environ, "STEPFN_HOME": str(stepfn_home), "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen([sys.executable, "-m", "stepfn", "run", str(workflow), "--input", '{"n": 7}'],
                               stdin=terminal, stdout=terminal, stderr=terminal, env=env, close_fds=True)
    os.close(terminal)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                data = os.read(controller, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    process.wait(10)
    os.close(controller)
    screen = b"".join(chunks).decode(errors="replace")
    assert process.returncode == 0, screen
    assert "\x1b[" in screen  # styled and redrawn in place, not plain lines
    assert "RUNNING" in screen  # the table was drawn while the Wait state ran
    assert screen.count("Pause") >= 2  # ... and redrawn after it
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    assert "SUCCEEDED" in plain and '"doubled": 14' in plain
