"""The code in docs/ is true: every ```python block of a page runs, in page order, in a fresh process.

Conventions (docs/ pages follow them):

* a ```python block runs; all blocks of one page share one namespace (like notebook cells) in a temporary
  directory that is also ``$STEPFN_HOME``'s parent;
* a ```python block whose first line is ``# file: NAME`` is written to ``NAME`` in that directory instead
  (a script the page's later blocks use);
* a ```py block is shown but not run: code that needs an AWS account, or a fragment.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.M | re.S)
FILE_LINE = re.compile(r"^# file: (\S+)\n")

RUNNER = r"""
import json, sys
blocks = json.load(open(sys.argv[1]))
namespace = {"__name__": "__docs__"}
for index, (page_line, source) in enumerate(blocks):
    try:
        exec(compile(source, f"{sys.argv[2]}:{page_line}", "exec"), namespace)
    except BaseException:
        print(f"block at line {page_line} of {sys.argv[2]} failed", file=sys.stderr)
        raise
"""


def site_pages() -> list[Path]:
    """The pages MkDocs publishes: docs/design/ is the specification, excluded from the site (mkdocs.yml)."""
    return [page for page in DOCS.rglob("*.md") if page.relative_to(DOCS).parts[0] != "design"]


def blocks(page: Path) -> list[tuple[int, str]]:
    text = page.read_text()
    return [(text.count("\n", 0, match.start()) + 1, match[2]) for match in FENCE.finditer(text)
            if match[1] == "python"]


def pages_with_code() -> list[Path]:
    return sorted(page for page in site_pages() if blocks(page))


@pytest.mark.slow
@pytest.mark.parametrize("page", pages_with_code(), ids=lambda page: str(page.relative_to(DOCS)))
def test_page_code_runs(page: Path, tmp_path: Path) -> None:
    runnable = []
    for line, source in blocks(page):
        named = FILE_LINE.match(source)
        if named:
            (tmp_path / named[1]).write_text(source[named.end():])
        else:
            runnable.append((line, source))
    (tmp_path / "blocks.json").write_text(json.dumps(runnable))
    env = {**os.environ, "STEPFN_HOME": str(tmp_path / ".stepfn"), "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", RUNNER, str(tmp_path / "blocks.json"), page.name],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}"


def test_every_page_has_a_checked_fence_language() -> None:
    """A typo such as ```pyton would silently skip a block; only known languages are allowed."""
    known = {"python", "py", "bash", "json", "yaml", "text", "r"}
    for page in site_pages():
        for match in FENCE.finditer(page.read_text()):
            assert match[1] in known, f"{page.relative_to(DOCS)}: unknown fence language {match[1]!r}"
