"""Local backends: the task handlers that run a workflow's Task states on this machine.

``default_handlers(home)`` merges every local backend's ``handlers(home)`` (S3 over the local object store,
SageMaker training, SageMaker models/endpoints/transform/processing/tuning, Lambda as Python functions) into
the ``{"service:action": handler}`` dict the engine takes, the cacheable ones wrapped by the step cache (:mod:`stepfn.local.cache`). Backends are imported lazily, and one that is
missing from this installation is skipped, so a partial install still runs what it can.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from stepfn.engine.protocol import TaskHandler

logger = logging.getLogger(__name__)

BACKEND_MODULES = (
    "stepfn.local.s3",
    "stepfn.local.sagemaker.training",
    "stepfn.local.sagemaker.serving",
    "stepfn.local.lambdas",
)


def default_handlers(home: Path | str) -> dict[str, TaskHandler]:
    """Every available local backend's handlers, keyed ``"<service>:<action>"``; later modules win on a clash.

    ``home`` is the stepfn home (``$STEPFN_HOME``) the backends keep their objects, jobs and logs under.
    """
    root = Path(home)
    merged: dict[str, TaskHandler] = {}
    for module_name in BACKEND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            # Only the backend module itself may be absent; a missing dependency *inside* it is a real bug.
            if error.name is None or not (module_name == error.name or module_name.startswith(error.name + ".")):
                raise
            logger.debug("local backend %s is not available: %s", module_name, error)
            continue
        merged.update(module.handlers(root))
    from stepfn.local.cache import cached_handlers

    # Job and Lambda handlers go through the step cache, which passes a Task straight on unless its step or
    # its run asked for caching (stepfn.local.cache).
    return cached_handlers(root, merged)


__all__ = ["BACKEND_MODULES", "default_handlers"]
