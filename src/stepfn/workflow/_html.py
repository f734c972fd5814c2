"""HTML for notebooks: tables of workflows, executions and events, console links, an HTML result object.

The original rendered these through IPython widgets loading scripts from a CDN. stepfn writes plain,
self-contained HTML (no scripts, nothing fetched), wrapped in an object Jupyter displays; IPython is not
needed to produce it.
"""

from __future__ import annotations

import html
import json
import os
import urllib.parse
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

CONSOLE = "https://console.aws.amazon.com/states/home"
LOCAL_CONSOLE = "http://127.0.0.1:8083/ui/"
"""Where ``stepfn ui`` serves the console by default; ``$STEPFN_CONSOLE_URL`` names another. No token is put
in the link (a saved notebook would leak it): the browser keeps the one from the URL ``stepfn ui`` printed."""


class HtmlDocument(str):
    """A str of HTML that notebooks render (``_repr_html_``); ``.data`` as IPython's ``HTML`` has it."""

    @property
    def data(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # IPython's text/plain of the object: a saved notebook would otherwise hold the whole page twice (text/html
        # and the str's repr), and a terminal IPython would print the markup. IPython's HTML reads the same way.
        printer.text(f"<stepfn HTML document: {len(self)} characters; a notebook displays it>")


def _region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else "us-east-1"


def workflow_url(state_machine_arn: str) -> str:
    return f"{CONSOLE}?region={_region(state_machine_arn)}#/statemachines/view/{state_machine_arn}"


def execution_url(execution_arn: str) -> str:
    return f"{CONSOLE}?region={_region(execution_arn)}#/executions/details/{execution_arn}"


def is_local(client: Any) -> bool:
    """A client of the local engine: in process (it has a home) or ``stepfn serve`` on this machine."""
    if getattr(client, "home", None) is not None:
        return True
    endpoint = str(getattr(getattr(client, "meta", None), "endpoint_url", "") or "")
    return urllib.parse.urlsplit(endpoint).hostname in ("127.0.0.1", "localhost", "::1")


def _local_console() -> str:
    base = os.environ.get("STEPFN_CONSOLE_URL") or LOCAL_CONSOLE
    return base if base.endswith("/") else base + "/"


def execution_link(client: Any, execution_arn: str) -> str:
    """A link to the execution in the console that can show it: the local one for local runs."""
    if is_local(client):
        return link(f"{_local_console()}#/execution/{urllib.parse.quote(execution_arn, safe=':')}", execution_arn)
    return link(execution_url(execution_arn), execution_arn)


def workflow_link(client: Any, state_machine_arn: str) -> str:
    if is_local(client):
        return link(f"{_local_console()}#/workflows", state_machine_arn)
    return link(workflow_url(state_machine_arn), state_machine_arn)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return html.escape(value.strftime("%b %d, %Y %I:%M:%S.%f")[:-3] + value.strftime(" %p"))
    if isinstance(value, dict | list):
        return f"<pre>{html.escape(json.dumps(value, indent=2, default=str))}</pre>"
    return html.escape(str(getattr(value, "value", value)))


def build_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], *, css_class: str) -> HtmlDocument:
    """A captioned table; cells are escaped, datetimes formatted, dicts shown as JSON."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return HtmlDocument(
        f'<table class="stepfn-{css_class}" style="border-collapse:collapse">'
        f"<caption>{html.escape(title)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def failure_card_html(card: Any) -> str:
    """A :class:`~stepfn.workflow.failure_card.FailureCard` as HTML: the exception line first, the log tail
    and the whole record folded away. Long lines wrap: a cause never widens the output."""
    wrap = "white-space:pre-wrap;overflow-wrap:anywhere;max-width:100%"
    rows = [("State", card.where), ("Error", card.error),
            ("Job", f"{card.job_kind} {card.job}" if card.job else None),
            ("Source", card.source.location if card.source else None)]
    parts = ['<div class="stepfn-failure" style="border:1px solid #c0392b;border-radius:6px;padding:8px 12px;'
             'margin:8px 0;max-width:100%;box-sizing:border-box">',
             f'<div style="color:#c0392b;font-weight:bold;{wrap}">{html.escape(card.status)}: '
             f'{html.escape(card.reason or card.error or "")}</div>']
    parts += [f'<div style="{wrap}"><b>{name}</b> {html.escape(str(value))}</div>' for name, value in rows if value]
    if card.log_tail:
        parts.append(f'<details open><summary>Last {len(card.log_tail)} lines of the log</summary>'
                     f'<pre style="{wrap};font-size:11px">{html.escape(chr(10).join(card.log_tail))}</pre></details>')
    if card.cause:
        parts.append(f'<details><summary>Whole cause</summary><pre style="{wrap};font-size:11px">'
                     f"{html.escape(card.cause)}</pre></details>")
    return "".join(parts) + "</div>"


def link(url: str, text: str) -> str:
    return f'<a target="_blank" href="{html.escape(url, quote=True)}">{html.escape(text)}</a>'


def display(document: HtmlDocument) -> Any:
    """What ``html=True`` returns: IPython's HTML object when IPython is installed, else the document."""
    try:
        from IPython.display import HTML
    except ImportError:
        return document
    return HTML(str(document))  # type: ignore[no-untyped-call]


__all__ = ["HtmlDocument", "build_table", "display", "execution_link", "execution_url", "failure_card_html", "is_local",
           "link", "workflow_link", "workflow_url"]
