"""stepfn: ML workflows as AWS Step Functions state machines, run locally for real or on AWS unchanged."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("stepfn")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())


def set_stream_logger(level: int = logging.INFO) -> None:
    """Send the ``stepfn`` logger's records to stderr at ``level`` (as ``stepfunctions.set_stream_logger``)."""
    logger = logging.getLogger(__name__)
    logger.setLevel(level)
    handler = logging.StreamHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s [%(levelname)s] %(message)s"))
    logger.addHandler(handler)


__all__ = ["__version__", "set_stream_logger"]
