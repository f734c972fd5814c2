"""The documentation builds as CI builds it: `mkdocs build --strict`, so any warning (a broken link or anchor,
a page missing from the nav, a docstring mkdocstrings cannot render, an included file that moved) fails."""

from __future__ import annotations

import html
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                            cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "WARNING" not in result.stderr, result.stderr[-4000:]

    for page in ("quickstart", "migration", "examples", "changes", "concepts/engine", "concepts/local-sagemaker",
                 "concepts/testing", "concepts/aws", "concepts/server", "concepts/steps"):
        assert (site / page / "index.html").is_file(), page
    # The API reference is generated from the docstrings, not written by hand.
    from stepfn.workflow import Workflow

    reference = (site / "reference" / "workflow" / "index.html").read_text()
    assert 'id="stepfn.workflow.Workflow.execute"' in reference
    summary = (inspect.getdoc(Workflow.execute) or "").splitlines()[0].replace("``", "")
    assert summary and summary in html.unescape(re.sub(r"<[^>]+>", "", reference))
    steps = (site / "reference" / "steps" / "index.html").read_text()
    assert 'id="stepfn.steps.sagemaker.TrainingStep"' in steps
    # Included repository files are expanded, not left as snippet markers.
    changes = (site / "changes" / "index.html").read_text()
    title = (ROOT / "CHANGES-vs-stepfunctions.md").read_text().splitlines()[0].lstrip("# ").replace("`", "")
    assert title in html.unescape(re.sub(r"<[^>]+>", "", changes)) and "--8&lt;--" not in changes
    examples = (site / "examples" / "index.html").read_text()
    assert "register_function" in examples and "--8&lt;--" not in examples


def test_every_docs_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    listed = set(re.findall(r":\s*([\w/.-]+\.md)\s*$", nav, re.M))
    pages = {str(path.relative_to(ROOT / "docs")) for path in (ROOT / "docs").rglob("*.md")}
    # docs/design/ holds the specification the docstrings cite; the site leaves it out on purpose.
    assert re.search(r"^exclude_docs: \|\n  design/$", nav, re.M)
    assert {page for page in pages if not page.startswith("design/")} == listed


def test_command_line_page_lists_every_command() -> None:
    from stepfn.cli import cli

    page = (ROOT / "docs" / "cli.md").read_text()
    documented = set(re.findall(r"^\| `stepfn ([a-z-]+)", page, re.M))
    assert documented == set(cli.commands)  # type: ignore[attr-defined]
    endpoint_commands = cli.commands["endpoints"].commands  # type: ignore[attr-defined]
    assert all(re.search(rf"`{name}\b", page) for name in endpoint_commands)
