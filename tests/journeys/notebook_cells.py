"""Run a fetched notebook's code cells in this process, one namespace for all (as one kernel runs them).

For notebooks a headless kernel cannot run here as a whole (``test_journey_notebooks.py`` runs those that can):
the test names the cells it leaves out, with why, and the text it replaces; imports are ported by
``notebooks/port_notebook.py``; ``!command {expression}`` lines run as IPython runs them, ``aws s3`` as stepfn's
copy of it over the local object store. The cells are the fetched notebook's, never copied here.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent / "notebooks"))
try:
    from port_notebook import port_source
finally:
    sys.path.pop(0)


def shell(line: str) -> None:
    """A ``!`` line of the notebook, expanded; ``aws s3`` is ``stepfn``'s copy of it over the local object store."""
    command = shlex.split(line)
    if command[:2] == ["aws", "s3"]:
        command = [sys.executable, "-m", "stepfn", *command[2:]]
    subprocess.run(command, check=True)


def shell_lines(source: str) -> str:
    """``!command {expression}`` lines as IPython runs them: the command, its ``{...}`` expanded, to ``shell``."""
    return "\n".join(f"shell(f{line.strip()[1:]!r})" if line.lstrip().startswith("!") else line
                     for line in source.split("\n"))


def code_cells(notebook: Path, skipped: dict[int, str], replacements: dict[str, str]) -> list[tuple[int, str]]:
    """(index, ported source) of each code cell not in ``skipped``."""
    cells = json.loads(notebook.read_text())["cells"]
    return [(index, shell_lines(port_source("".join(cell["source"]), replacements)))
            for index, cell in enumerate(cells) if cell["cell_type"] == "code" and index not in skipped]


def run_cell(index: int, source: str, kernel: dict[str, Any], name: str) -> None:
    with warnings.catch_warnings():
        # Invalid escapes in a non-raw string warn when compiled; the kernel shows that and runs the cell.
        warnings.simplefilter("ignore", DeprecationWarning)
        code = compile(source, f"{name} cell {index}", "exec")
    kernel.setdefault("shell", shell)
    exec(code, kernel)  # the fetched notebook's own cell
