"""``Execution`` and ``ExecutionStatus`` (docs/design/compat.md §7), the same on the local engine and on AWS.

An Execution only talks to "a client" with boto3's stepfunctions interface, so every method returns
what boto3 returns, whichever backend ran the workflow.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, overload

from stepfn.workflow._html import HtmlDocument, display, execution_link
from stepfn.workflow.widgets import EventsTableWidget, ExecutionGraphWidget, ExecutionsTableWidget

if TYPE_CHECKING:
    from stepfn.workflow.workflow import Workflow

logger = logging.getLogger("stepfn")

class ExecutionFailedWarning(UserWarning):
    """:meth:`Execution.get_output` found the execution FAILED, TIMED_OUT or ABORTED (so it has no output)."""


class ExecutionStatus(StrEnum):
    """An execution's status; a ``str`` too, so it equals the raw status string boto3 returns (§11 #6)."""

    Running = "RUNNING"
    Succeeded = "SUCCEEDED"
    Failed = "FAILED"
    TimedOut = "TIMED_OUT"
    Aborted = "ABORTED"
    PendingRedrive = "PENDING_REDRIVE"


def as_status(status: ExecutionStatus | str | None) -> ExecutionStatus | None:
    if status is None or isinstance(status, ExecutionStatus):
        return status
    return ExecutionStatus(status)


class EventsList(list):  # type: ignore[type-arg]
    """History events as ``get_execution_history`` returns them; ``to_html()`` renders a table."""

    def to_html(self) -> HtmlDocument:
        return EventsTableWidget(self).show()


class ExecutionsList(list):  # type: ignore[type-arg]
    """Executions of a workflow; ``to_html()`` renders a table."""

    def to_html(self) -> HtmlDocument:
        return ExecutionsTableWidget(self).show()


class Execution:
    """One execution of a :class:`~stepfn.workflow.Workflow`."""

    def __init__(
        self,
        workflow: Workflow,
        execution_arn: str,
        start_date: datetime | None,
        status: ExecutionStatus | str,
        client: Any = None,
        name: str | None = None,
        stop_date: datetime | None = None,
    ) -> None:
        self.name = name
        self.workflow = workflow
        self.execution_arn = execution_arn
        self.start_date = start_date
        self.stop_date = stop_date
        self.status = as_status(status)
        self.client = client if client is not None else workflow.client

    def stop(self, cause: str | None = None, error: str | None = None) -> dict[str, Any]:
        """Stop the execution; returns ``{"stopDate": ...}`` as StopExecution does."""
        params: dict[str, Any] = {"executionArn": self.execution_arn}
        if cause is not None:
            params["cause"] = cause
        if error is not None:
            params["error"] = error
        response: dict[str, Any] = self.client.stop_execution(**params)
        logger.info("Stopping the execution %s of the workflow %s.", self.execution_arn, self.workflow.name)
        return response

    def redrive(self) -> dict[str, Any]:
        """Restart a FAILED, TIMED_OUT or ABORTED execution from where it failed (RedriveExecution)."""
        response: dict[str, Any] = self.client.redrive_execution(executionArn=self.execution_arn)
        self.status = ExecutionStatus.Running
        self.stop_date = None
        return response

    def list_events(self, max_items: int = 100, reverse_order: bool = False, html: bool = False) -> Any:
        """History events (``get_execution_history``, paginated), oldest first unless ``reverse_order``."""
        paginator = self.client.get_paginator("get_execution_history")
        pages = paginator.paginate(
            executionArn=self.execution_arn, reverseOrder=reverse_order,
            PaginationConfig={"MaxItems": max_items, "PageSize": 1000},
        )
        events = EventsList(event for page in pages for event in page["events"])
        return display(events.to_html()) if html else events

    def describe(self) -> dict[str, Any]:
        """``describe_execution`` as boto3 returns it; refreshes ``status`` and ``stop_date`` too."""
        response: dict[str, Any] = self.client.describe_execution(executionArn=self.execution_arn)
        self.status = as_status(response.get("status"))
        self.stop_date = response.get("stopDate", self.stop_date)
        self.name = self.name or response.get("name")
        return response

    @overload
    def render_progress(self, portrait: bool = False, max_events: int = 25000, *, live: Literal[False] = False,
                        interval: float = 1.0) -> HtmlDocument: ...
    @overload
    def render_progress(self, portrait: bool = False, max_events: int = 25000, *, live: bool,
                        interval: float = 1.0) -> HtmlDocument | None: ...
    def render_progress(self, portrait: bool = False, max_events: int = 25000, *, live: bool = False,
                        interval: float = 1.0) -> HtmlDocument | None:
        """The workflow graph with each state coloured by how far this execution got, its states' statuses
        and, when it failed, the failure card (self-contained HTML).

        ``live=True`` follows the run to its end. In a notebook it shows the view once as an ipywidgets widget
        updated every ``interval`` seconds (without ipywidgets: the output updated in place by its display id)
        and returns None; the saved notebook keeps the final view as static HTML.
        Without a kernel it waits and returns the final view."""
        document = self._progress_document(portrait, max_events)
        if not live:
            return document
        live_view = _display_live(document)
        while self.describe()["status"] == "RUNNING":
            time.sleep(interval)
            document = self._progress_document(portrait, max_events)
            if live_view is not None:
                live_view.update(document)
        if live_view is None:
            return document
        live_view.finish(self._progress_document(portrait, max_events))  # the run's last events
        return None

    def _progress_document(self, portrait: bool, max_events: int) -> HtmlDocument:
        events = self.list_events(max_items=max_events)
        widget = ExecutionGraphWidget(self.workflow.definition.to_dict(), events, self.execution_arn,
                                      home=getattr(self.client, "home", None))
        return widget.show(portrait=portrait)

    def get_input(self) -> Any:
        """The execution's input, decoded from JSON (None if there is none)."""
        text = self.describe().get("input")
        return None if text is None else json.loads(text)

    def get_output(self, wait: bool = False) -> Any:
        """The execution's output, decoded (None until it succeeds); ``wait`` blocks while it is RUNNING.

        As in the original SDK, a run that failed, timed out or was aborted has no output and this returns
        None; it also issues an :class:`ExecutionFailedWarning` naming the failed state and the error, so a
        script that prints the result does not silently print ``None``.
        """
        response = self.describe()
        # The local clients can block until the end; boto3 (AWS, moto, `stepfn serve`) is polled.
        wait_for_execution = getattr(self.client, "wait_for_execution", None)
        while wait and response["status"] == "RUNNING":
            if wait_for_execution is not None:
                wait_for_execution(self.execution_arn)
            else:
                time.sleep(1)
            response = self.describe()
        if response["status"] in _FAILED_STATUSES:
            from stepfn.workflow.progress import execution_failure_summary, read_history

            failure = execution_failure_summary(response["status"], read_history(self.client, self.execution_arn))
            hint = f" (log: stepfn logs {failure.job})" if failure.job else ""
            warnings.warn(f"execution {response['name']} {failure.describe()}{hint}", ExecutionFailedWarning,
                          stacklevel=2)
        text = response.get("output")
        return None if text is None else json.loads(text)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(execution_arn={self.execution_arn!r}, name={self.name!r}, "
                f"status={self.status!r}, start_date={self.start_date!r})")

    def _repr_html_(self) -> str:
        return f"Execution: {execution_link(self.client, self.execution_arn)}"


_FAILED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")


class _LiveView:
    """One notebook output that follows a run. With ipywidgets (the Jupyter standard) it is an ``HTML`` widget
    whose value the kernel pushes as the run moves (comm messages; JupyterLab and classic Notebook draw it);
    the same output also carries the view as ``text/html``, which a front end without the widget manager shows.
    ``finish`` replaces the output with the final view as static HTML, so a saved notebook, nbviewer or a
    notebook opened without a kernel shows how the run ended. Without ipywidgets the output itself is updated
    in place (a Jupyter display id)."""

    def __init__(self, document: HtmlDocument, show: Any, widgets: Any) -> None:
        self.widget = None if widgets is None else widgets.HTML(value=str(document))
        if self.widget is None:
            self.handle = show(document, display_id=True)
        else:
            bundle = {**self.widget._repr_mimebundle_(), "text/html": str(document)}
            self.handle = show(bundle, raw=True, display_id=True)

    def update(self, document: HtmlDocument) -> None:
        if self.widget is not None:
            self.widget.value = str(document)
        else:
            self.handle.update(document)

    def finish(self, document: HtmlDocument) -> None:
        if self.widget is not None:
            self.widget.value = str(document)
        self.handle.update(document)


def _display_live(document: HtmlDocument) -> _LiveView | None:
    """Show ``document`` as a notebook output that follows the run, or None outside a Jupyter kernel (a
    terminal, a script, IPython without a kernel)."""
    try:
        from IPython import get_ipython
        from IPython.display import display as show
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    try:
        import ipywidgets as widgets
    except ImportError:  # the notebook extra without its widget part: update the output in place instead
        widgets = None
    return _LiveView(document, show, widgets)

__all__ = ["EventsList", "Execution", "ExecutionFailedWarning", "ExecutionStatus", "ExecutionsList"]
