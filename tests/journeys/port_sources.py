"""The third-party code the journeys run, brought from fetched checkouts instead of being committed here.

``port-sources.toml`` names each source: repository, commit, paths, the one rewrite applied to them, and any
patch (a line replaced, with its reason).
``$STEPFN_PORT_SOURCES`` is a directory of checkouts laid out as ``<owner>+<name>/repo`` (a git directory, bare or
with a work tree); :func:`materialize` copies a source's paths at its commit out of it into a folder the caller
gives (always a temporary one, outside the repository) and rewrites what the table says. Without the variable, or
without the repository or commit in it, the journeys that need the source skip and say why.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import tarfile
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

TABLE = Path(__file__).with_name("port-sources.toml")
ENV = "STEPFN_PORT_SOURCES"

# The only change "imports" makes: import lines of the original SDKs point at stepfn. Where the code uses the
# module's name (``sagemaker.Session()``, ``stepfunctions.set_stream_logger()``) the alias keeps it working.
_IMPORTS = [
    (re.compile(r"^(\s*)from sagemaker(?=[.\s])", re.M), r"\1from stepfn.sagemaker"),
    (re.compile(r"^(\s*)from stepfunctions(?=[.\s])", re.M), r"\1from stepfn"),
    (re.compile(r"^(\s*)import sagemaker[ \t]*$", re.M), r"\1import stepfn.sagemaker as sagemaker"),
    (re.compile(r"^(\s*)import stepfunctions[ \t]*$", re.M), r"\1import stepfn as stepfunctions"),
]


def table() -> dict[str, Any]:
    with TABLE.open("rb") as f:
        return tomllib.load(f)


def rewrite_imports(text: str) -> str:
    for pattern, replacement in _IMPORTS:
        text = pattern.sub(replacement, text)
    return text


def git_dir(checkouts: Path, repo: str) -> Path | None:
    root = checkouts / repo.replace("/", "+") / "repo"
    for candidate in (root / ".git", root):
        if (candidate / "HEAD").is_file():
            return candidate
    return None


def missing(name: str) -> str | None:
    """Why source ``name`` cannot be had here, or None when it can."""
    checkouts = os.environ.get(ENV)
    if not checkouts:
        return f"needs the ported project's sources: set {ENV} to a directory of fetched checkouts " \
               "(see scripts/ported-suites.sh)"
    source = table()[name]
    git = git_dir(Path(checkouts), source["repo"])
    if git is None:
        return f"{ENV}={checkouts} has no checkout of {source['repo']} (<owner>+<name>/repo)"
    found = subprocess.run(["git", "--git-dir", str(git), "cat-file", "-e", source["commit"] + "^{commit}"],
                           capture_output=True)
    if found.returncode != 0:
        return f"the checkout of {source['repo']} in {checkouts} lacks commit {source['commit']}"
    return None


def needs(*names: str) -> pytest.MarkDecorator:
    """Skip unless every source named can be materialized."""
    reasons = [reason for reason in map(missing, names) if reason]
    return pytest.mark.skipif(bool(reasons), reason="; ".join(dict.fromkeys(reasons)))


def write_cells(notebook: Path) -> None:
    """Run a notebook's ``%%writefile NAME`` cells as Jupyter would: each body, as written, to NAME beside it."""
    for cell in json.loads(notebook.read_text())["cells"]:
        source = "".join(cell["source"])
        magic, _, body = source.partition("\n")
        if cell["cell_type"] == "code" and magic.startswith("%%writefile "):
            (notebook.parent / magic.split(maxsplit=1)[1].strip()).write_text(body)


def materialize(name: str, dest: Path) -> Path:
    """Copy source ``name``'s paths, in the repository's layout, under ``dest`` and apply its rewrite."""
    source = table()[name]
    git = git_dir(Path(os.environ[ENV]), source["repo"])
    assert git is not None, missing(name)
    dest.mkdir(parents=True, exist_ok=True)
    for group in source["files"]:
        archive = subprocess.run(["git", "--git-dir", str(git), "archive", "--format=tar", source["commit"], "--",
                                  *group["paths"]], capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(dest, filter="data")
        for notebook in group.get("writefile_cells_of", []):
            write_cells(dest / notebook)
        if group["rewrite"] == "imports":
            for path in group["paths"]:
                target = dest / path
                target.write_text(rewrite_imports(target.read_text()))
        else:
            assert group["rewrite"] == "none", f"{name}: unknown rewrite {group['rewrite']!r}"
    for patch in source.get("patches", []):  # each written out in the table with its reason
        target = dest / patch["path"]
        text = target.read_text()
        assert text.count(patch["old"]) == 1, f"{name}: {patch['path']} no longer has {patch['old']!r} once"
        target.write_text(text.replace(patch["old"], patch["new"]))
    return dest


def python_blocks(page: str) -> list[str]:
    """A reStructuredText page's ``.. code-block:: python`` bodies, dedented, in order."""
    blocks, body = [], None
    for line in [*page.splitlines(), "end of page"]:
        if body is not None and (not line.strip() or line.startswith(" ")):
            body.append(line)
        elif body is not None:
            blocks.append(textwrap.dedent("\n".join(body)).strip() + "\n")
            body = None
        if line.strip() == ".. code-block:: python":
            body = []
    return blocks
