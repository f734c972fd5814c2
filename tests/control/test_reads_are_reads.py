"""Reads are reads (issue 15 item 2): listing, describing, history, logs, the console and the notebook views
never resume, claim or change an execution, not even one whose process died (an orphan)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from stepfn.store import Store
from stepfn.workflow._control import service_running

pytestmark = pytest.mark.timeout(240)

ORPHAN_MAKER = textwrap.dedent(
    """
    import os
    from stepfn.steps import Chain, Pass, Wait
    from stepfn.workflow import Workflow
    from stepfn.workflow.local_client import LocalStepFunctionsClient

    client = LocalStepFunctionsClient()  # in-process: the run dies with this process
    workflow = Workflow("orphans", Chain([Pass("First"), Wait("Long", seconds=600), Pass("Last")]),
                        role="arn:aws:iam::123456789012:role/x", client=client)
    workflow.create()
    execution = workflow.execute(name="orphan", inputs={"n": 1})
    client.wait_for_execution(execution.execution_arn, timeout=0.5)
    print(execution.execution_arn, flush=True)
    os._exit(0)  # as a killed kernel: no clean-up, the row stays RUNNING with a dead owner
    """
)


def snapshot(home: Path, arn: str) -> tuple[str, str | None, int]:
    store = Store(home)
    try:
        record = store.get_execution(arn)
        return record.status, record.owner, len(store.events(arn))
    finally:
        store.close()


def test_no_read_resumes_claims_or_changes_an_orphaned_execution(user_home: Path, tmp_path: Path) -> None:
    made = subprocess.run([sys.executable, "-c", ORPHAN_MAKER], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    arn = made.stdout.split()[-1]
    before = snapshot(user_home, arn)
    assert before[0] == "RUNNING" and before[1] is not None and before[2] >= 4

    # The CLI's reads, each in its own short-lived process, as a person types them.
    for args in (["executions"], ["show", "orphan"], ["executions", "--status", "RUNNING"]):
        done = subprocess.run([sys.executable, "-m", "stepfn", *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "orphan" in done.stdout

    # The notebook views, through the default client.
    from stepfn.workflow import Workflow

    machine = arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    workflow = Workflow.attach(machine)
    [execution] = workflow.list_executions()
    assert execution.describe()["status"] == "RUNNING"
    assert [e["type"] for e in execution.list_events()][:2] == ["ExecutionStarted", "PassStateEntered"]
    assert "Long" in execution.render_progress()
    assert execution.list_events(html=True) is not None

    # The console, served by `stepfn ui`'s app.
    from stepfn.server import TOKEN_HEADER, BackgroundServer, create_app, read_token

    with BackgroundServer(create_app(user_home, ui=True)) as server:
        token = {TOKEN_HEADER: read_token(user_home) or ""}
        listing = httpx.get(f"{server.url}/ui/api/executions", headers=token, timeout=30)
        assert listing.status_code == 200 and "orphan" in listing.text
        shown = httpx.get(f"{server.url}/ui/api/execution/{arn}", headers=token, timeout=30)
        assert shown.status_code == 200 and json.loads(shown.text)["execution"]["status"] == "RUNNING"

    assert snapshot(user_home, arn) == before  # same status, same (dead) owner, not one event more
    assert not service_running(user_home)  # and nothing was started to run it
