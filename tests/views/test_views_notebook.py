"""Notebook views: executed headless with nbclient, rendered in Chromium; outputs that share a page keep
their own ids, local runs link the local console, events are objects, a live view updates in place."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from views_support import SHOTS

NOTEBOOK_CELLS = [
    "from stepfn.steps import Chain, Pass\nfrom stepfn.workflow import Workflow\n"
    "workflow = Workflow('nb-flow', Chain([Pass('First'), Pass('Second', result={'done': True})]),\n"
    "                    role='arn:aws:iam::123456789012:role/R')\n"
    "workflow.create_or_update()\n"
    "execution = workflow.execute(name='nb-run')\n"
    "execution.get_output(wait=True)",
    "execution.render_progress()",
    "workflow.render_graph()",
    "execution",
    "execution.list_events(html=True)",
]

# For every graph: do all its arrowheads point at a marker inside the same graph?
OWN_MARKERS = """() => [...document.querySelectorAll('svg.stepfn-graph')].map((svg) => {
  const own = new Set([...svg.querySelectorAll('marker')].map((m) => m.id));
  const used = [...svg.querySelectorAll('path[marker-end]')].map((p) => p.getAttribute('marker-end').slice(5, -1));
  return {own: [...own], used: used.length, resolved: used.every((id) => own.has(id))};
})"""


def _outputs_html(notebook: Any) -> list[str]:
    return [output["data"]["text/html"] for cell in notebook.cells for output in cell.get("outputs", [])
            if "text/html" in output.get("data", {})]


def test_a_notebook_run_headless_renders_graphs_that_keep_their_own_arrowheads(
        stepfn_home: Path, tmp_path: Path, page: Any) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in NOTEBOOK_CELLS])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = _outputs_html(notebook)
    assert len(outputs) == 4
    progress, _graph, execution_link, events = outputs
    assert "First (Pass): SUCCEEDED" in progress and "SUCCEEDED" in progress
    # A local run links the local console, never the AWS one.
    assert "console.aws.amazon.com" not in execution_link and "127.0.0.1:8083/ui/#/execution/" in execution_link
    # Events as objects: the input is a JSON object in the table, not a string of escaped JSON.
    assert "&quot;input&quot;: {}" in events and "\\&quot;" not in events

    # The outputs as a notebook page shows them, one after another in one document.
    page_file = tmp_path / "notebook.html"
    page_file.write_text("<!DOCTYPE html><html><body>" + "".join(
        f'<div class="output" id="out{i}">{html}</div>' for i, html in enumerate(outputs)) + "</body></html>")
    page.goto(page_file.as_uri())
    graphs = page.evaluate(OWN_MARKERS)
    assert len(graphs) == 2 and all(g["used"] and g["resolved"] for g in graphs)
    assert graphs[0]["own"] != graphs[1]["own"]
    # Hiding the first output (collapsing it in Jupyter) leaves the second graph's arrowheads in place.
    page.evaluate("document.getElementById('out0').remove()")
    assert page.evaluate(OWN_MARKERS)[0]["resolved"]
    page.screenshot(path=str(SHOTS / "views-notebook.png"), full_page=True)


def test_two_graphs_of_one_definition_have_distinct_marker_ids() -> None:
    from stepfn.workflow.graph import render_svg

    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}
    first, second = render_svg(definition), render_svg(definition)
    ids = [svg.split('<marker id="')[1].split('"')[0] for svg in (first, second)]
    assert ids[0] != ids[1]
    assert f"url(#{ids[0]})" in first and f"url(#{ids[1]})" in second and f"url(#{ids[0]})" not in second


def test_events_table_decodes_documents() -> None:
    from stepfn.workflow.widgets import EventsTableWidget

    html = EventsTableWidget([{"id": 1, "type": "TaskStateEntered", "timestamp": None, "stateEnteredEventDetails":
                               {"name": "T", "input": json.dumps({"a": [1, 2]}), "note": "{not json"}}]).show()
    assert "&quot;a&quot;: [" in html and "{not json" in html


# The Wait must outlast the kernel's turn from the first cell to the second's first view, which a loaded machine
# can stretch past a second or two.
LIVE_CELLS = [
    "from stepfn.steps import Chain, Pass, Wait\nfrom stepfn.workflow import Workflow\n"
    "workflow = Workflow('nb-live', Chain([Wait('Pause', seconds=4), Pass('Done')]),\n"
    "                    role='arn:aws:iam::123456789012:role/R')\n"
    "workflow.create_or_update()\n"
    "execution = workflow.execute(name='nb-live-run')\n"
    "print('status at start:', execution.describe()['status'])",
    "execution.render_progress(live=True, interval=0.2)",
]


def test_live_progress_updates_one_output_in_place_and_falls_back_to_static_html(
        stepfn_home: Path, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in LIVE_CELLS])
    pushed: list[str] = []

    class Recording(nbclient.NotebookClient):  # type: ignore[misc]
        """Keeps every widget value the kernel sends (the front end's view of the live output)."""

        def handle_comm_msg(self, outs: Any, msg: dict[str, Any], cell_index: int) -> None:
            value = msg["content"]["data"].get("state", {}).get("value")
            if isinstance(value, str):
                pushed.append(value)
            super().handle_comm_msg(outs, msg, cell_index)

    Recording(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert "status at start: RUNNING" in notebook.cells[0].outputs[0]["text"]
    # Pushed as it ran: first the Wait running, last the end.
    assert len(pushed) >= 3 and "Pause (Wait): RUNNING" in pushed[0] and "Done (Pass): SUCCEEDED" in pushed[-1]
    outputs = notebook.cells[1].outputs
    # One output, shown while the run was waiting and updated in place to its end (no second copy returned).
    assert [output["output_type"] for output in outputs] == ["display_data"]
    assert "Done (Pass): SUCCEEDED" in outputs[0]["data"]["text/html"]
    # While it ran it was an ipywidgets HTML widget whose value the kernel pushed: the widget state the
    # notebook keeps holds the view it was last sent, the run's end (it was first drawn while Pause waited).
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    views = [model["state"]["value"] for model in state.values() if model["model_name"] == "HTMLModel"]
    assert len(views) == 1 and "Done (Pass): SUCCEEDED" in views[0]
    # The finished output is the static view (no widget reference): it shows without a kernel or the widget manager.
    assert "application/vnd.jupyter.widget-view+json" not in outputs[0]["data"]

    # Without a kernel (a script): the call waits and returns the final view as static HTML.
    script = tmp_path / "live.py"
    script.write_text(LIVE_CELLS[0].replace("nb-live-run", "script-run") +
                      "\nview = execution.render_progress(live=True, interval=0.2)\n"
                      "print('Done (Pass): SUCCEEDED' in str(view))\n")
    ran = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False,
                         cwd=tmp_path)
    assert ran.stdout.splitlines()[-1] == "True", ran.stderr


def test_live_progress_without_ipywidgets_updates_its_output_by_display_id(stepfn_home: Path, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    # None in sys.modules makes `import ipywidgets` fail in the kernel, as where the widget part is not installed.
    hidden = "import sys\nsys.modules['ipywidgets'] = None\n" + LIVE_CELLS[0].replace("nb-live-run", "no-widgets")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in (hidden, LIVE_CELLS[1])])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = notebook.cells[1].outputs
    assert [output["output_type"] for output in outputs] == ["display_data"]
    assert "Done (Pass): SUCCEEDED" in outputs[0]["data"]["text/html"]
    assert "widgets" not in notebook.metadata
