"""Exceptions of the authoring API, named as in ``stepfunctions.exceptions`` (docs/design/compat.md §1).

They stay plain ``Exception`` subclasses, as in the original, so ``except`` clauses written for
``stepfunctions`` keep working after an import change.
"""

from __future__ import annotations


class WorkflowNotFound(Exception):
    """A Workflow method needs a state machine that does not exist (yet)."""


class MissingRequiredParameter(Exception):
    """A call lacks an argument it cannot do without (e.g. ``Workflow.update()`` with nothing to update)."""


class DuplicateStatesInChain(Exception):
    """The same state object was put into one Chain twice."""


__all__ = ["DuplicateStatesInChain", "MissingRequiredParameter", "WorkflowNotFound"]
