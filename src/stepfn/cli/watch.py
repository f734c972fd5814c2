"""Live progress of a running execution in the terminal: a table of states, streamed job logs, a summary."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from stepfn.workflow.progress import (
    ABORTED,
    CAUGHT,
    FAILED,
    RUNNING,
    SUCCEEDED,
    failure_reason,
    read_history,
    scheduled_jobs,
    state_progress,
)

_STYLE = {RUNNING: "yellow", SUCCEEDED: "green", FAILED: "red", CAUGHT: "dark_orange", ABORTED: "grey50"}
_SYMBOL = {RUNNING: "…", SUCCEEDED: "✓", FAILED: "✗", CAUGHT: "↪", ABORTED: "■"}


def states_table(events: list[dict[str, Any]], title: str | None = None, now: datetime | None = None) -> Table:
    """One row per state, its status as :meth:`StateProgress.label` words it (retries, caught error, elapsed
    time of a running state); ``now`` is the time a running state's elapsed time counts to."""
    table = Table(title=title, expand=False)
    table.add_column("state")
    table.add_column("type")
    table.add_column("status")
    table.add_column("runs", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("items")
    for progress in state_progress(events).values():
        seconds = progress.elapsed(now)
        label = progress.label(now, items=False)  # the items column shows a Map's done/total
        table.add_row(
            progress.name,
            progress.type or "",
            Text(f"{_SYMBOL.get(progress.status, '')} {label}", style=_STYLE.get(progress.status, "")),
            str(progress.runs),
            "" if seconds is None else f"{seconds:.2f}",
            _items_bar(progress.items_done, progress.items_total),
        )
        # A Map's iterations that did not succeed, each with its own error: the rest are in the items bar.
        for run in progress.history[-1:]:
            for iteration in sorted(run.iterations.values(), key=lambda it: it.index):
                if iteration.status == SUCCEEDED:
                    continue
                seconds = iteration.elapsed(now)
                what = iteration.status + (f" {iteration.error}" if iteration.error else "")
                table.add_row(f"  {iteration.label}", "iteration",
                              Text(f"{_SYMBOL.get(iteration.status, '')} {what}", style=_STYLE.get(iteration.status, "")),
                              "", "" if seconds is None else f"{seconds:.2f}", "")
    return table


def _items_bar(done: int, total: int | None, width: int = 16) -> Text:
    """A Map state's iterations as a bar: long Maps (a sweep of training jobs) show how far they are."""
    if total is None:
        return Text("")
    filled = width if total == 0 else round(width * done / total)
    return Text.assemble(("━" * filled, "green"), ("━" * (width - filled), "grey37"), f" {done}/{total}")


def _job_logs(events: list[dict[str, Any]]) -> list[tuple[str, Path]]:
    """Log files of the SageMaker jobs this execution started."""
    from stepfn.local.sagemaker.records import RecordStore

    records = RecordStore()
    return [(name, records.log_file(kind, name)) for _, kind, name in scheduled_jobs(events)]


class _LogTail:
    def __init__(self) -> None:
        self.offsets: dict[Path, int] = {}

    def new_lines(self, files: list[tuple[str, Path]]) -> list[str]:
        lines: list[str] = []
        for job, path in files:
            if not path.is_file():
                continue
            with path.open("rb") as handle:
                handle.seek(self.offsets.get(path, 0))
                chunk = handle.read()
            complete, _, _ = chunk.rpartition(b"\n")
            if not complete:
                continue
            self.offsets[path] = self.offsets.get(path, 0) + len(complete) + 1
            lines.extend(f"[{job}] {line}" for line in complete.decode(errors="replace").splitlines())
        return lines


def watch_execution(
    client: Any, execution_arn: str, *, console: Console, live: bool, poll: float = 0.2
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Follow the execution until it ends; returns its final DescribeExecution response and its history."""
    tail = _LogTail()
    display = Live(console=console, auto_refresh=False, transient=False) if live else None
    if display:
        display.start()
    try:
        while True:
            described: dict[str, Any] = client.describe_execution(executionArn=execution_arn)
            events = read_history(client, execution_arn)
            for line in tail.new_lines(_job_logs(events)):
                console.print(Text(line, style="dim"), highlight=False)
            if display:
                now = datetime.now(UTC)
                display.update(Group(states_table(events, title=described["name"], now=now)), refresh=True)
            if described["status"] != "RUNNING":
                if not display:
                    console.print(states_table(events, title=described["name"]))
                return described, events
            time.sleep(poll)
    finally:
        if display:
            display.stop()


def _fact(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= DOCUMENT_PREVIEW else f"{text[:DOCUMENT_PREVIEW]}… ({len(text):,} characters)"


def diff_table(rows: list[tuple[str, Any, Any]], first: str, second: str) -> Table:
    """``stepfn diff``: one row per fact, the two executions' values side by side (a missing one blank)."""
    table = Table(title=f"{first} vs {second}", expand=False)
    table.add_column("")
    table.add_column(first, overflow="fold")
    table.add_column(second, overflow="fold")
    for key, a, b in rows:
        table.add_row(key, Text(_fact(a), style="red" if a != b else ""), Text(_fact(b), style="green" if a != b else ""))
    return table


# A document (input, output) longer than this is shown cut, as one line: pretty-printing a large one floods the
# terminal (a 6,000-item input was 6,000 lines).
DOCUMENT_PREVIEW = 2000


def print_document(console: Console, text: str | None, *, whole: bool = False) -> None:
    """A JSON input or output: pretty-printed, or its beginning on one line when it is long (unless ``whole``)."""
    text = text or "null"
    if whole or len(text) <= DOCUMENT_PREVIEW:
        console.print_json(text)
        return
    console.print(Text(f"{text[:DOCUMENT_PREVIEW]}… ({len(text):,} characters)"), highlight=False, soft_wrap=True)


def print_summary(console: Console, described: dict[str, Any], events: list[dict[str, Any]], *,
                  whole: bool = True, log_tail: bool = True) -> None:
    """The outcome of an execution: status and time, then its output or the failure card (``events``: at least
    the last ones). ``whole=False`` cuts a long output (:func:`print_document`); ``log_tail=False`` leaves out
    the job log's last lines (``stepfn run`` streamed the log just above)."""
    status = described["status"]
    style = "green" if status == "SUCCEEDED" else "red"
    took = ""
    if described.get("stopDate") and described.get("startDate"):
        took = f" in {(described['stopDate'] - described['startDate']).total_seconds():.2f}s"
    console.print(Text(f"{status}{took}: {described['executionArn']}", style=f"bold {style}"), highlight=False,
                  soft_wrap=True)
    if status == "SUCCEEDED":
        print_document(console, described.get("output"), whole=whole)
        return
    from stepfn.workflow.failure_card import build_failure_card

    card = build_failure_card(status, events)
    if card.state:
        console.print(Text(f"failed state: {card.where}", style="red"), highlight=False, soft_wrap=True)
    console.print(Text(f"error: {card.error or described.get('error')}", style="red"), highlight=False)
    # The useful line only: a SageMaker task's cause is its whole DescribeTrainingJob record, traceback included.
    reason = card.reason or failure_reason(described.get("cause"))[0]
    if reason:
        console.print(Text(f"cause: {reason}"), highlight=False, soft_wrap=True)
    if card.source:
        console.print(Text(f"source: {card.source.location}"), highlight=False, soft_wrap=True)
    if card.job:
        if log_tail and card.log_tail:
            console.print(Text(f"last {len(card.log_tail)} lines of {card.job}'s log:", style="dim"), highlight=False)
            for line in card.log_tail:
                console.print(Text(f"  {line}", style="dim"), highlight=False, soft_wrap=True)
        console.print(Text(f"log: stepfn logs {card.job}", style="dim"), highlight=False)
