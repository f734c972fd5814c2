"""The web console in a real headless Chromium (Debian's), driven by Playwright.

Screenshots land in build/screenshots/ so CI keeps them as artifacts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"

LOOP = {
    "Comment": "counts to three, then fails or succeeds as the input asks",
    "StartAt": "Init",
    "States": {
        "Init": {"Type": "Pass", "Result": 0, "ResultPath": "$.n", "Next": "Wait"},
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Add"},
        "Add": {"Type": "Pass", "Parameters": {"value.$": "States.MathAdd($.n, 1)"}, "ResultPath": "$.sum",
                "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


@pytest.fixture
def console_url(stepfn_home: Path) -> Iterator[tuple[str, Any]]:
    """The console as `stepfn ui` serves it (behind the home's token), opened with the URL it prints."""
    from stepfn.server import BackgroundServer, create_app, read_token
    from stepfn.workflow.local_client import LocalStepFunctionsClient

    client = LocalStepFunctionsClient(home=stepfn_home)
    with BackgroundServer(create_app(stepfn_home, ui=True, stepfunctions_client=client)) as server:
        yield f"{server.url}/ui/?token={read_token(stepfn_home)}", client


def test_execution_started_from_the_console_appears_and_completes(console_url: tuple[str, Any], page: Any) -> None:
    url, client = console_url
    client.create_state_machine(name="counter", definition=json.dumps(LOOP),
                                roleArn="arn:aws:iam::123456789012:role/stepfn-local")
    page.goto(url)
    page.wait_for_selector("#start-button")
    page.select_option("#start-workflow", "counter")
    page.fill("#start-input", '{"who": "browser"}')
    page.click("#start-button")
    # The page follows to the execution, which polls until the run ends.
    page.wait_for_selector("#execution-status")
    page.screenshot(path=str(SHOTS / "execution-running.png"))
    page.wait_for_selector("#execution-status.SUCCEEDED", timeout=60_000)
    assert page.locator("#graph g.state[data-status='SUCCEEDED']").count() == 4
    page.click("#graph g.state[data-state='Add']")
    assert '"who": "browser"' in page.inner_text("#state-detail")
    assert "ExecutionSucceeded" in page.inner_text("#events")
    page.screenshot(path=str(SHOTS / "execution-succeeded.png"), full_page=True)

    page.goto(url)
    row = page.locator("#executions tbody tr").first
    assert "SUCCEEDED" in row.inner_text() and "counter" in row.inner_text()


def test_failed_execution_shows_its_cause(console_url: tuple[str, Any], page: Any) -> None:
    url, client = console_url
    definition = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Demo.Error", "Cause": "on purpose"}}}
    arn = client.create_state_machine(name="failing", definition=json.dumps(definition),
                                      roleArn="arn:aws:iam::123456789012:role/stepfn-local")["stateMachineArn"]
    execution = client.start_execution(stateMachineArn=arn, name="fails-once")["executionArn"]
    page.goto(f"{url}#/execution/{execution}")
    page.wait_for_selector("#execution-status.FAILED", timeout=60_000)
    assert "Demo.Error" in page.inner_text("main") and "on purpose" in page.inner_text("main")
    page.goto(f"{url}#/workflows")
    page.wait_for_selector("text=failing")
    page.screenshot(path=str(SHOTS / "workflows.png"))


def test_job_page_plots_metric_curves_from_the_log(console_url: tuple[str, Any], page: Any, stepfn_home: Path) -> None:
    from stepfn.local.sagemaker.records import RecordStore

    url, _ = console_url
    records = RecordStore(stepfn_home)
    records.put("training-job", "curve-job", {
        "TrainingJobName": "curve-job",
        "TrainingJobStatus": "Completed",
        "AlgorithmSpecification": {"TrainingImage": "local", "TrainingInputMode": "File",
                                   "MetricDefinitions": [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}]},
    })
    records.log_path("training-job", "curve-job").write_text(
        "".join(f"epoch {i} loss={1 / (i + 1):.3f}\n" for i in range(6))
    )
    page.goto(f"{url}#/job/training-job/curve-job")
    page.wait_for_selector("svg.chart[data-metric='loss']")
    assert page.locator("svg.chart[data-metric='loss'] circle").count() == 6
    assert "epoch 5 loss=0.167" in page.inner_text("#job-log")
    page.screenshot(path=str(SHOTS / "training-job.png"), full_page=True)


def test_the_token_leaves_the_address_bar_once_the_cookie_is_set(
        console_url: tuple[str, Any], page: Any) -> None:
    """As Jupyter does: the ?token= of the URL `stepfn ui` prints becomes a cookie, then the page takes it out of
    the address bar and of the history entry, keeping the route and other query parameters; reloading and going
    back work on the cookie alone."""
    url, client = console_url
    client.create_state_machine(name="tokenless", definition=json.dumps(LOOP),
                                roleArn="arn:aws:iam::123456789012:role/stepfn-local")
    base = url.split("?", 1)[0]
    token = url.split("?token=", 1)[1]
    page.goto(f"{url}&keep=1#/workflows")
    page.wait_for_selector("text=tokenless")
    assert page.url == f"{base}?keep=1#/workflows"
    assert token not in page.url and token not in page.evaluate("document.URL")

    page.goto(f"{url}#/workflows")
    page.wait_for_selector("text=tokenless")
    assert page.url == f"{base}#/workflows"
    page.reload()  # the cookie alone authorises the page and its API calls
    page.wait_for_selector("text=tokenless")
    page.evaluate("location.hash = '#/jobs'")
    page.wait_for_selector("#jobs")
    page.go_back()
    page.wait_for_selector("text=tokenless")
    assert page.url == f"{base}#/workflows"  # the history entry was replaced, not kept with the token
