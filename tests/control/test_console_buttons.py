"""The console's Stop, Redrive and Rerun-from-here buttons, clicked in Chromium (issue 15 item 3).

The console runs as `stepfn ui` runs it: the default client, so the executions run in the home's control plane.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
DEFINITION = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Parameters": {"prepared.$": "$.who"}, "Next": "Long"},
        "Long": {"Type": "Wait", "Seconds": 15, "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
    },
}


def test_stop_redrive_and_rerun_from_here(user_home: Path, page: Any) -> None:
    from stepfn.server import BackgroundServer, create_app, read_token
    from stepfn.workflow.workflow import local_client

    client = local_client(user_home)
    machine = client.create_state_machine(name="buttons", definition=json.dumps(DEFINITION),
                                          roleArn="arn:aws:iam::123456789012:role/stepfn-local")["stateMachineArn"]
    arn = client.start_execution(stateMachineArn=machine, name="clicked", input='{"who": "browser"}')["executionArn"]
    with BackgroundServer(create_app(user_home, ui=True)) as server:  # behind the home's token, as `stepfn ui`
        page.goto(f"{server.url}/ui/?token={read_token(user_home)}#/execution/{arn}")
        page.click("#stop-button")
        page.wait_for_selector("#execution-status.ABORTED")
        assert client.describe_execution(executionArn=arn)["status"] == "ABORTED"

        page.click("#redrive-button")
        page.wait_for_selector("#execution-status.RUNNING")
        page.screenshot(path=str(SHOTS / "console-redriven.png"))
        page.wait_for_selector("#execution-status.SUCCEEDED", timeout=90_000)
        described = client.describe_execution(executionArn=arn)
        assert described["status"] == "SUCCEEDED" and described["redriveCount"] == 1

        page.click("#graph g.state[data-state='Done']")
        page.click("#rerun-button")
        page.wait_for_url(lambda url: "clicked-rerun-" in url)
        page.wait_for_selector("#execution-status.SUCCEEDED")
        page.screenshot(path=str(SHOTS / "console-rerun.png"))
        rerun_arn = page.url.split("#/execution/", 1)[1].replace("%3A", ":")
        from urllib.parse import unquote

        events = client.get_execution_history(executionArn=unquote(rerun_arn))["events"]
        entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
        assert entered == ["Rerun from Done", "Done"]  # Prepare and the 15 s Wait did not run again
        done_input = json.loads(events[-1]["executionSucceededEventDetails"]["output"])
        assert done_input == {"prepared": "browser"}
