"""Live views by server-sent events: an execution page that changes when the run does, and a job log that
follows its tail without taking the reader's scroll position."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from views_support import SHOTS

from stepfn.local.lambdas import register_function, unregister_function
from stepfn.local.sagemaker.records import RecordStore
from stepfn.server.ui.app import STREAM_SECONDS
from stepfn.workflow.local_client import LocalStepFunctionsClient

pytestmark = pytest.mark.browser

GATED = {"StartAt": "Gate", "States": {
    "Gate": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
             "Parameters": {"FunctionName": "views-gate", "Payload": {}}, "OutputPath": "$.Payload", "End": True}}}


@pytest.fixture
def live_console(stepfn_home: Path) -> Iterator[tuple[str, LocalStepFunctionsClient]]:
    from stepfn.server import BackgroundServer, create_app, read_token

    client = LocalStepFunctionsClient(home=stepfn_home)
    with BackgroundServer(create_app(stepfn_home, ui=True, stepfunctions_client=client)) as server:
        yield f"{server.url}/ui/?token={read_token(stepfn_home)}", client
    client.close()


def test_execution_page_is_pushed_the_end_of_a_run(live_console: tuple[str, LocalStepFunctionsClient],
                                                   page: Any) -> None:
    url, client = live_console
    gate = threading.Event()
    register_function("views-gate", lambda event, context=None: {"opened": gate.wait(60)})
    try:
        machine = client.create_state_machine(name="gated", definition=json.dumps(GATED),
                                              roleArn="arn:aws:iam::123456789012:role/R")["stateMachineArn"]
        arn = client.start_execution(stateMachineArn=machine, name="gated-run")["executionArn"]
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        page.goto(f"{url}#/execution/{arn}")
        page.wait_for_selector("#execution-status.RUNNING")
        assert "RUNNING" in page.inner_text("#states tr[data-state='Gate']")
        gate.set()
        page.wait_for_selector("#execution-status.SUCCEEDED", timeout=30_000)
        assert '"opened": true' in page.inner_text("#execution-output")
        # One read of the execution, then the stream: the page did not poll.
        assert sum("/api/execution/" in fetched_url for fetched_url in fetched) == 1
        assert any("/api/stream/execution/" in fetched_url for fetched_url in fetched)
    finally:
        gate.set()
        unregister_function("views-gate")


def test_job_log_follows_its_tail_and_keeps_the_readers_place(live_console: tuple[str, Any], page: Any,
                                                              stepfn_home: Path) -> None:
    url, _ = live_console
    records = RecordStore(stepfn_home)
    record = {"TrainingJobName": "live-job", "TrainingJobStatus": "InProgress",
              "AlgorithmSpecification": {"TrainingImage": "local", "TrainingInputMode": "File",
                                         "MetricDefinitions": [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}]}}
    records.put("training-job", "live-job", record)
    log = records.log_path("training-job", "live-job")
    log.write_text("".join(f"epoch {i} loss={1 / (i + 1):.3f}\n" for i in range(60)))

    def append(first: int, count: int) -> None:
        with log.open("a") as out:
            out.write("".join(f"epoch {i} loss={1 / (i + 1):.3f}\n" for i in range(first, first + count)))

    page.goto(f"{url}#/job/training-job/live-job")
    page.wait_for_selector("#job-log")
    at_bottom = "(() => { const l = document.getElementById('job-log'); " \
                "return l.scrollTop + l.clientHeight >= l.scrollHeight - 4; })()"
    # At the bottom (where a follower sits), new lines arrive and the view stays on the tail.
    page.evaluate("document.getElementById('job-log').scrollTop = 1e9")
    append(60, 30)
    page.wait_for_function("document.getElementById('job-log').textContent.includes('epoch 89 ')")
    assert page.evaluate(at_bottom)
    # Scrolled up to read: new lines arrive below, the reader stays where they were. (The wait outlasts one
    # stream: the browser reconnects and goes on from the last chunk it got, repeating nothing.)
    page.evaluate("document.getElementById('job-log').scrollTop = 40")
    time.sleep(STREAM_SECONDS + 0.5)
    append(90, 30)
    page.wait_for_function("document.getElementById('job-log').textContent.includes('epoch 119 ')")
    assert page.evaluate("document.getElementById('job-log').scrollTop") == 40
    text = page.inner_text("#job-log")
    assert all(text.count(f"epoch {i} ") == 1 for i in range(120))  # every line once, in order
    assert text.index("epoch 59 ") < text.index("epoch 60 ") < text.index("epoch 90 ")
    page.wait_for_function("document.querySelectorAll(\"svg.chart[data-metric='loss'] circle\").length >= 90")
    page.screenshot(path=str(SHOTS / "views-live-log.png"), full_page=True)

    records.put("training-job", "live-job", {**record, "TrainingJobStatus": "Completed"})
    page.wait_for_selector("#job-status.COMPLETED", timeout=10_000)
    # The chart catches up with the log when the browser gets to it (a fixed 0.3 s assumed it keeps up); then it
    # holds each epoch once.
    page.wait_for_function("document.querySelectorAll(\"svg.chart[data-metric='loss'] circle\").length >= 120")
    assert page.locator("svg.chart[data-metric='loss'] circle").count() == 120


def test_a_server_stops_promptly_while_a_page_follows_a_run(stepfn_home: Path) -> None:
    """A stopping server waits for open responses: the streams are short, so Ctrl-C is not held up."""
    import http.client
    from urllib.parse import urlparse

    from stepfn.server import BackgroundServer, create_app, read_token

    client = LocalStepFunctionsClient(home=stepfn_home)
    definition = {"StartAt": "Long", "States": {"Long": {"Type": "Wait", "Seconds": 120, "End": True}}}
    machine = client.create_state_machine(name="long", definition=json.dumps(definition),
                                          roleArn="arn:aws:iam::123456789012:role/R")["stateMachineArn"]
    arn = client.start_execution(stateMachineArn=machine)["executionArn"]
    server = BackgroundServer(create_app(stepfn_home, ui=True, stepfunctions_client=client))
    server.__enter__()
    address = urlparse(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.request("GET", f"/ui/api/stream/execution/{arn}", headers={"X-Stepfn-Token": read_token(stepfn_home) or ""})
    response = connection.getresponse()
    assert response.status == 200
    received = b""
    while b"event: execution" not in received:  # the first view arrives on the open stream
        received += response.read1(65536)
    started = time.monotonic()
    server.__exit__(None, None, None)
    # Within one stream's life and a loaded machine's slack, far below the run's 120 s an endless stream would hold.
    assert time.monotonic() - started < STREAM_SECONDS + 20
    connection.close()
    client.stop_execution(executionArn=arn)
    client.close()
