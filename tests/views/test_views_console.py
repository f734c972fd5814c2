"""The console in Debian's headless Chromium on real runs: statuses, per-iteration data."""

from __future__ import annotations

from typing import Any

import pytest
from views_support import SHOTS, Runs

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
