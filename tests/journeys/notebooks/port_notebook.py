"""Port a SageMaker / Step Functions Data Science SDK notebook to stepfn: imports, and the placeholders a reader
fills in (role ARNs, names), nothing else.

    python port_notebook.py SOURCE.ipynb TARGET.ipynb ['{"<execution-role-arn>": "arn:aws:iam::...:role/R"}']

Import lines change so that every name the notebook binds stays the same:

* ``import stepfunctions`` -> ``import stepfn as stepfunctions``; ``import sagemaker`` -> ``import stepfn.sagemaker
  as sagemaker`` (with ``as`` kept when the notebook has one);
* ``import sagemaker.amazon.common as smac`` -> ``import stepfn.sagemaker.amazon.common as smac``;
  ``import sagemaker.x`` (which binds ``sagemaker``) -> ``import stepfn.sagemaker.x; import stepfn.sagemaker as
  sagemaker``;
* ``from stepfunctions... import`` / ``from sagemaker... import`` -> ``from stepfn... import`` /
  ``from stepfn.sagemaker... import``.

Everything else in every cell (``!pip`` lines, ``%%writefile`` cells, outputs) is left as it is.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

PACKAGES = {"stepfunctions": "stepfn", "sagemaker": "stepfn.sagemaker"}
_IMPORT = re.compile(r"^(\s*)import\s+(.+?)\s*(#.*)?$")
_FROM = re.compile(r"^(\s*)from\s+(stepfunctions|sagemaker)(\.[\w.]+)?(\s+import\b.*)$")


def _port_import(name: str) -> str | None:
    """``import <name>`` (one item of the list) ported, or None when it names another package."""
    module, _, alias = (part.strip() for part in name.partition(" as "))
    top, dot, rest = module.partition(".")
    if top not in PACKAGES:
        return None
    target = PACKAGES[top] + dot + rest
    if alias:
        return f"import {target} as {alias}"
    if dot:  # `import sagemaker.x` binds `sagemaker` and loads sagemaker.x
        return f"import {target}; import {PACKAGES[top]} as {top}"
    return f"import {target} as {top}"


def port_line(line: str) -> str:
    match = _FROM.match(line)
    if match:
        indent, top, rest, tail = match.groups()
        return f"{indent}from {PACKAGES[top]}{rest or ''}{tail}"
    match = _IMPORT.match(line)
    if match:
        indent, names, comment = match.groups()
        items = [item.strip() for item in names.split(",")]
        ported = [_port_import(item) for item in items]
        if any(ported):
            statements = [new or f"import {item}" for item, new in zip(items, ported, strict=True)]
            return indent + "; ".join(statements) + (f"  {comment}" if comment else "")
    return line


def port_source(source: str, replacements: dict[str, str]) -> str:
    lines = [port_line(line) for line in source.split("\n")]
    ported = "\n".join(lines)
    for placeholder, value in replacements.items():
        ported = ported.replace(placeholder, value)
    return ported


def port_notebook(notebook: dict[str, Any], replacements: dict[str, str]) -> dict[str, Any]:
    """The notebook (nbformat 4 JSON) with its code cells ported; markdown and outputs as they were."""
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            cell["source"] = port_source(source, replacements)
    return notebook


def main(argv: list[str]) -> None:
    source, target = Path(argv[0]), Path(argv[1])
    replacements = json.loads(argv[2]) if len(argv) > 2 else {}
    notebook = port_notebook(json.loads(source.read_text()), replacements)
    target.write_text(json.dumps(notebook, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
