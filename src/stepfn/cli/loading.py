"""Find the workflow a command names: ``FILE[:NAME]`` where FILE is a Python file or an ASL JSON file.

A Python file is the user's own program, run as a script (``runpy``, its folder first on ``sys.path``, but
``__name__`` is not ``"__main__"``, so a ``if __name__ == "__main__":`` block does not run); inside it, NAME picks a Workflow,
Graph, Chain or state by variable name, else the only Workflow (or chain) it defines. A JSON file is a
state machine definition as-is.
"""

from __future__ import annotations

import json
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from stepfn._partitions import LOCAL_ACCOUNT

LOCAL_ROLE = f"arn:aws:iam::{LOCAL_ACCOUNT}:role/stepfn-local"


@dataclass
class Loaded:
    name: str
    definition: dict[str, Any]
    workflow: Any = None
    """The user's Workflow object when the file defined one."""


def split_target(target: str) -> tuple[Path, str | None]:
    path, _, name = target.partition(":") if not Path(target).exists() else (target, "", "")
    return Path(path), (name or None)


def load_target(target: str) -> Loaded:
    path, name = split_target(target)
    if not path.is_file():
        raise click.UsageError(f"no such file: {path}")
    if path.suffix in (".json", ".asl"):
        try:
            definition = json.loads(path.read_text())
        except ValueError as error:
            raise click.UsageError(f"{path} is not valid JSON: {error}") from error
        return Loaded(name=_safe_name(name or path.stem.split(".")[0]), definition=definition)
    # As `python FILE` does: the file's folder comes first on sys.path, so modules beside it import.
    folder = str(path.resolve().parent)
    if sys.path[:1] != [folder]:
        sys.path.insert(0, folder)
    namespace = runpy.run_path(str(path), run_name="__stepfn__")
    obj = _pick(namespace, name, path)
    return _to_loaded(obj, name or path.stem)


def _pick(namespace: dict[str, Any], name: str | None, path: Path) -> Any:
    from stepfn.steps.states import Chain, Graph, State
    from stepfn.workflow import Workflow

    if name is not None:
        if name not in namespace:
            raise click.UsageError(f"{path} defines no {name!r}")
        return namespace[name]
    for kinds in ((Workflow,), (Graph, Chain), (State,)):
        found = [value for key, value in namespace.items() if not key.startswith("_") and isinstance(value, kinds)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(sorted(k for k, v in namespace.items() if isinstance(v, kinds)))
            raise click.UsageError(f"{path} defines several workflows ({names}); pick one with {path}:NAME")
    raise click.UsageError(f"{path} defines no Workflow, Graph, Chain or state")


def _to_loaded(obj: Any, default_name: str) -> Loaded:
    from stepfn.steps.states import Chain, Graph, State
    from stepfn.workflow import Workflow

    if isinstance(obj, Workflow):
        return Loaded(name=obj.name, definition=json.loads(obj.definition.to_json()), workflow=obj)
    if isinstance(obj, (Chain, State)):
        obj = Graph(obj)
    if isinstance(obj, Graph):
        return Loaded(name=_safe_name(default_name), definition=json.loads(obj.to_json()))
    if isinstance(obj, dict):
        return Loaded(name=_safe_name(default_name), definition=obj)
    raise click.UsageError(f"{default_name!r} is a {type(obj).__name__}, not a workflow")


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:80] or "workflow"


def parse_input(value: str | None) -> Any:
    """``--input`` takes JSON text, or ``@file`` to read it from a file."""
    if value is None:
        return {}
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        return json.loads(text)
    except ValueError as error:
        raise click.BadParameter(f"not valid JSON: {error}", param_hint="--input") from error
