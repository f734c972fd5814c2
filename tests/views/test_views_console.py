"""The console in Debian's headless Chromium on real runs: statuses, per-iteration data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from views_support import SHOTS, TRAIN_RAISE_LINE, Runs

pytestmark = pytest.mark.browser


def test_console_shows_retried_caught_and_each_iteration(console: str, runs: Runs, page: Any) -> None:
    page.goto(f"{console}#/execution/{runs.mixed}")
    page.wait_for_selector("#execution-status.FAILED")
    rows = {row.get_attribute("data-state"): row.inner_text() for row in page.locator("#states tr[data-state]").all()}
    assert "SUCCEEDED (retried 1)" in rows["Flaky"] and "CAUGHT RuntimeError" in rows["Guarded"]
    assert "FAILED 2/3 done" in rows["Sweep"]
    assert page.locator("#graph g.state[data-state='Guarded'][data-status='CAUGHT']").count() == 1

    page.click("#states tr[data-state='Flaky']")
    assert "retried 1: ConnectionError" in page.inner_text("#run-status")

    page.click("#states tr[data-state='Sweep']")
    assert page.locator("#iterations tr[data-iteration]").count() == 2
    page.click("#iterations tr[data-iteration='1']")
    # The failed iteration's own input and error, and no output borrowed from the sibling that succeeded.
    assert "Sweep[1] > Item" in page.inner_text("#run-status")
    assert '"i": 1' in page.inner_text("#run-input") and page.inner_text("#run-output").strip() == ""
    assert "RuntimeError" in page.inner_text("#run-error")
    page.screenshot(path=str(SHOTS / "views-iteration-failed.png"), full_page=True)

    page.select_option("#run-picker", "0")
    assert "Sweep[0] > Item" in page.inner_text("#run-status")
    assert '"i": 0' in page.inner_text("#run-input") and '"double": 0' in page.inner_text("#run-output")
    assert page.locator("#run-error").count() == 0


def test_failure_card_in_the_console_and_the_notebook(console: str, failed_training: tuple[Any, Path],
                                                      page: Any, tmp_path: Path) -> None:
    execution, script = failed_training
    page.goto(f"{console}#/execution/{execution.execution_arn}")
    page.wait_for_selector("#failure-card")
    assert page.inner_text("#failure-reason") == "FAILED: ValueError: row 2 is not a number: x"
    assert page.inner_text("#failure-source") == f"{script.resolve()}:{TRAIN_RAISE_LINE}"
    assert "Traceback" in page.inner_text("#failure-log")
    assert not page.is_visible("#failure-cause")  # the whole DescribeTrainingJob record: one click away
    page.click("#failure-card summary")
    assert "TrainingJobArn" in page.inner_text("#failure-cause")
    # A long cause wraps: the page is no wider than the window.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.screenshot(path=str(SHOTS / "views-failure-card.png"), full_page=True)

    page.click("#failure-card a[href*='broken-job']")
    page.wait_for_selector("#job-log")

    notebook = tmp_path / "progress.html"
    notebook.write_text(str(execution.render_progress()))
    page.goto(notebook.as_uri())
    assert "ValueError: row 2 is not a number: x" in page.inner_text(".stepfn-failure")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.screenshot(path=str(SHOTS / "views-notebook-failure-card.png"), full_page=True)


def test_timeline_and_event_table_with_milliseconds(console: str, runs: Runs, page: Any) -> None:
    page.goto(f"{console}#/execution/{runs.mixed}")
    page.wait_for_selector("#timeline")
    bars = page.locator("#timeline g.bar").evaluate_all("gs => gs.map((g) => [g.dataset.label, g.dataset.status])")
    assert bars == [["Flaky", "SUCCEEDED"], ["Guarded", "CAUGHT"], ["Sweep", "FAILED"],
                    ["Sweep[0] > Item", "SUCCEEDED"], ["Sweep[1] > Item", "FAILED"]]
    # The retried task waited a second between its attempts: its bar is the longest of the states inside.
    widths = page.locator("#timeline g.bar rect").evaluate_all("rs => rs.map((r) => r.width.baseVal.value)")
    assert widths[0] == max(widths)

    times = page.locator("#events td.time").all_inner_texts()
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", time) for time in times)
    elapsed = [float(text.strip("+ s")) for text in page.locator("#events td.elapsed").all_inner_texts()]
    assert 0.0 <= elapsed[0] < 0.5 and elapsed == sorted(elapsed) and elapsed[-1] >= 1.0  # the retry's 1 s interval

    page.fill("#event-filter", "mapiteration")
    visible = [row for row in page.locator("#events tbody tr").all() if row.is_visible()]
    assert len(visible) == 4 and all("MapIteration" in row.inner_text() for row in visible)
    page.fill("#event-filter", "")
    # Expandable details: documents decoded to objects, not JSON inside JSON.
    entered = page.locator("#events tbody tr", has_text="TaskStateEntered").nth(2)
    entered.locator("summary").click()
    assert '"input": {\n    "i": 0\n  }' in entered.locator("pre").inner_text()
    page.screenshot(path=str(SHOTS / "views-timeline.png"), full_page=True)


def test_workflows_page_counts_nested_states_and_opens_a_workflow(console: str, runs: Runs, page: Any) -> None:
    page.goto(f"{console}#/workflows")
    row = page.locator("#workflows tr[data-workflow='views-mixed']")
    assert row.locator("td").nth(1).inner_text() == "4"  # Flaky, Guarded, Sweep and the Item inside the Map
    row.click()
    page.wait_for_selector("#workflow-name")
    assert page.locator("#graph g.state").count() == 4
    assert '"StartAt": "Flaky"' in page.inner_text("#definition")
    assert sorted(page.locator("#workflow-executions tbody tr td:first-child").all_inner_texts()) == ["mixed", "retried"]
    page.click("#workflow-executions tr[data-arn] >> text=retried")
    page.wait_for_selector("#execution-status.SUCCEEDED")
