"""A process that used the control plane leaves no socket of it unclosed: not the process-wide client's (kept until
exit), not a finished thread's, not a client of its own it never closed. CI printed `ResourceWarning: unclosed
<socket ... raddr=.../control.sock>` at the end of every suite run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(240)

SCRIPT = textwrap.dedent(
    """
    import threading
    from stepfn.steps import Pass
    from stepfn.workflow import Workflow
    from stepfn.workflow._control import ControlPlaneClient

    workflow = Workflow("sockets", Pass("Only", result={"ok": True}), role="arn:aws:iam::123456789012:role/x")
    workflow.create()
    outputs = [workflow.execute(name="main-thread").get_output(wait=True)]

    def on_a_thread():
        outputs.append(workflow.execute(name="other-thread").get_output(wait=True))

    thread = threading.Thread(target=on_a_thread)
    thread.start()
    thread.join()
    # A client of the user's own, used and never closed.
    mine = ControlPlaneClient()
    arn = mine.start_execution(stateMachineArn=workflow.state_machine_arn, name="own-client")["executionArn"]
    assert mine.wait_for_execution(arn, timeout=60)
    print(outputs, flush=True)
    """
)


def test_no_control_socket_is_left_unclosed_at_exit(user_home: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-W", "always::ResourceWarning", "-c", SCRIPT], capture_output=True,
                          text=True, timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[{'ok': True}, {'ok': True}]"
    assert "ResourceWarning" not in done.stderr, done.stderr
