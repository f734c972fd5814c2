"""Where stepfn keeps its local state: the store, the object store, job records and logs."""

from __future__ import annotations

import functools
import os
from pathlib import Path


@functools.cache
def _start_directory() -> Path:
    # Captured once: a pipeline that later changes directory keeps the home it started with.
    return Path.cwd()


def stepfn_home() -> Path:
    """``$STEPFN_HOME``, or ``.stepfn`` when it is unset or empty, as an absolute path.

    A relative value is resolved against the working directory of the first call (normally the process's
    start), once: training scripts run in their own code directory, so every path handed to them
    (``SM_CHANNEL_*``, ``SM_MODEL_DIR``, ...) must be absolute.
    """
    home = Path(os.environ.get("STEPFN_HOME") or ".stepfn")
    return home if home.is_absolute() else _start_directory() / home
