"""stepfn: ML workflows as AWS Step Functions state machines, run locally for real or on AWS unchanged."""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

# The one place the version is written: pyproject.toml reads it (``[tool.setuptools.dynamic]``), and
# ``stepfn --version``, the user agent and CHANGELOG.md's top heading follow it. A literal rather than a git tag
# (setuptools-scm) so a source checkout on PYTHONPATH, a clone without tags and the built wheel all agree.
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())


def set_stream_logger(level: int = logging.INFO) -> None:
    """Send the ``stepfn`` logger's records to stderr at ``level`` (as ``stepfunctions.set_stream_logger``)."""
    logger = logging.getLogger(__name__)
    logger.setLevel(level)
    handler = logging.StreamHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s [%(levelname)s] %(message)s"))
    logger.addHandler(handler)


# The original's package imports steps, workflow and template (steps brings inputs), so code written for it reaches
# them as attributes of a bare ``import stepfunctions``: ``stepfunctions.workflow.Workflow``,
# ``stepfunctions.steps.states.Retry``. Here they load on first use instead, because importing any stepfn module
# (``stepfn.engine`` included) imports this package, and the engine must not load the authoring or workflow layers.
_SUBPACKAGES = frozenset({"inputs", "steps", "template", "workflow"})


def __getattr__(name: str) -> ModuleType:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["__version__", "set_stream_logger"]
