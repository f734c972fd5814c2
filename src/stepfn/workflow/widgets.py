"""Notebook views with the original's names (``stepfunctions.workflow.widgets``), drawn without scripts.

The original filled HTML templates that loaded JavaScript and CSS from a CDN. These build the same views
from :mod:`stepfn.workflow.graph` (inline SVG) and plain tables, so they render offline, in any notebook
and in a saved HTML file. ``show()`` returns an :class:`~stepfn.workflow._html.HtmlDocument`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stepfn.workflow._html import HtmlDocument, build_table, failure_card_html


def _loads(value: str | Mapping[str, Any]) -> dict[str, Any]:
    return dict(json.loads(value)) if isinstance(value, str) else dict(value)


def _documents(details: Any) -> Any:
    """Event details with their JSON strings (input, output, parameters, a JSON cause) decoded, so the table
    shows objects, not JSON encoded inside JSON."""
    if not isinstance(details, Mapping):
        return details
    decoded: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, str) and value[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        decoded[key] = value
    return decoded


class WorkflowGraphWidget:
    """A state machine's graph: ``WorkflowGraphWidget(json_definition).show()``."""

    def __init__(self, json_definition: str | Mapping[str, Any], *, title: str | None = None) -> None:
        self.definition = _loads(json_definition)
        self.title = title or self.definition.get("Comment") or "workflow"

    def show(self, portrait: bool = False) -> HtmlDocument:
        """``portrait`` is accepted for compatibility; the layered layout always runs top to bottom."""
        from stepfn.workflow.graph import render_html

        del portrait
        return HtmlDocument(render_html(self.definition, title=self.title))


class ExecutionGraphWidget:
    """A state machine's graph with each state coloured by an execution's history."""

    def __init__(self, json_definition: str | Mapping[str, Any], json_events: str | Iterable[Mapping[str, Any]],
                 execution_arn: str, *, home: Path | str | None = None) -> None:
        self.definition = _loads(json_definition)
        self.events = [dict(e) for e in (json.loads(json_events) if isinstance(json_events, str) else json_events)]
        self.execution_arn = execution_arn
        self.home = home
        """Where the local jobs' records and logs are (for the failure card); ``$STEPFN_HOME`` by default."""

    def failure_card(self) -> str:
        """The failure card's HTML above the graph of an execution that did not succeed, else nothing."""
        from stepfn.workflow.failure_card import build_failure_card, ended_badly

        status = ended_badly(self.events)
        return "" if status is None else failure_card_html(build_failure_card(status, self.events, self.home))

    def statuses(self) -> dict[str, str]:
        from stepfn.workflow.progress import state_progress

        return {name: progress.status for name, progress in state_progress(self.events).items()}

    def states_table(self) -> HtmlDocument:
        """Each state's status in the words of every other view (retries, caught errors, Map done/total)."""
        from stepfn.workflow.progress import state_progress

        rows = [(p.name, p.type, p.label(), p.runs, None if p.seconds is None else f"{p.seconds:.2f}")
                for p in state_progress(self.events).values()]
        return build_table("States", ("State", "Type", "Status", "Runs", "Seconds"), rows, css_class="states")

    def show(self, portrait: bool = False) -> HtmlDocument:
        from stepfn.workflow.graph import render_html

        del portrait
        title = self.execution_arn.rsplit(":", 1)[-1]
        return HtmlDocument(render_html(self.definition, title=title, statuses=self.statuses(),
                                        before=self.failure_card(), after=self.states_table()))


class EventsTableWidget:
    """History events as a table (id, type, timestamp, details)."""

    def __init__(self, events: Iterable[Mapping[str, Any]]) -> None:
        self.events = list(events)

    def show(self) -> HtmlDocument:
        rows = []
        for event in self.events:
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), None)
            rows.append((event.get("id"), event.get("type"), event.get("timestamp"), _documents(details)))
        return build_table("Execution events", ("ID", "Type", "Timestamp", "Details"), rows, css_class="events")


class ExecutionsTableWidget:
    """Executions (``Execution`` objects) as a table."""

    def __init__(self, executions: Iterable[Any]) -> None:
        self.executions = list(executions)

    def show(self) -> HtmlDocument:
        rows = [(e.name, e.status, e.start_date, e.stop_date, e.execution_arn) for e in self.executions]
        return build_table("Executions", ("Name", "Status", "Started", "End Time", "ARN"), rows,
                           css_class="executions")


class WorkflowsTableWidget:
    """State machines (``list_state_machines`` items) as a table."""

    def __init__(self, workflows: Iterable[Mapping[str, Any]]) -> None:
        self.workflows = list(workflows)

    def show(self) -> HtmlDocument:
        rows = [(w.get("name"), w.get("type"), w.get("creationDate"), w.get("stateMachineArn"))
                for w in self.workflows]
        return build_table("Workflows", ("Name", "Type", "Creation Date", "ARN"), rows, css_class="workflows")


__all__ = [
    "EventsTableWidget",
    "ExecutionGraphWidget",
    "ExecutionsTableWidget",
    "WorkflowGraphWidget",
    "WorkflowsTableWidget",
]
