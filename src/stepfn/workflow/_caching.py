"""The authoring side of the local step cache: per-step ``CacheConfig`` and the run-wide ``cache=True`` flag go
to the local home beside the state machine and the execution, never into the ASL (:mod:`stepfn.local.cache`).

On AWS both are ignored, with one warning per process: Step Functions has no step cache, and the definition
sent there must stay what it would be without them.
"""

from __future__ import annotations

import threading
import uuid
import warnings
from pathlib import Path
from typing import Any

from stepfn.workflow._stage_code import _states

__all__ = ["CacheIgnoredWarning", "record_machine_settings", "record_run_settings", "step_cache_settings",
           "warn_ignored_on_aws"]

_warned = threading.Event()


class CacheIgnoredWarning(UserWarning):
    """Step caching was asked for a workflow that runs on AWS, where it does not apply."""


def step_cache_settings(definition: Any) -> dict[str, dict[str, Any]]:
    """``{state name: {"enable_caching", "expire_after"}}`` for every Task (nested ones included) given a
    ``cache_config``."""
    settings: dict[str, dict[str, Any]] = {}
    for state in _states(definition):
        config = state.__dict__.get("cache_config")
        if config is not None:
            settings[state.state_id] = {"enable_caching": config.enable_caching,
                                        "expire_after": config.expire_after}
    return settings


def warn_ignored_on_aws(what: str) -> None:
    if not _warned.is_set():
        _warned.set()
        warnings.warn(f"{what}: the step cache is local-only, and this workflow runs on AWS Step Functions; "
                      "it is ignored there", CacheIgnoredWarning, stacklevel=3)


def record_machine_settings(definition: Any, home: Path, machine_name: str) -> None:
    """Keep the definition's per-step cache settings beside the local state machine ``machine_name``."""
    from stepfn.local.cache import write_machine_settings

    write_machine_settings(home, machine_name, step_cache_settings(definition))


def record_run_settings(home: Path, state_machine_arn: str, name: str | None) -> str:
    """Ask for caching in every cacheable step of the execution about to start; returns its name (one is chosen
    when none was given, since the settings are kept under it before the execution exists)."""
    from stepfn.local.cache import write_run_settings

    name = name if name is not None else str(uuid.uuid4())
    write_run_settings(home, state_machine_arn.split(":")[6], name, cache=True)
    return name
