"""Where stepfn keeps its local state: the store, the object store, job records and logs."""

from __future__ import annotations

import os
from pathlib import Path


def stepfn_home() -> Path:
    """``$STEPFN_HOME``, or ``./.stepfn`` in the working directory when it is unset or empty."""
    return Path(os.environ.get("STEPFN_HOME") or ".stepfn")
