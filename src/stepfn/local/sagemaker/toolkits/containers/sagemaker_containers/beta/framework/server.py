"""``sagemaker_containers.beta.framework.server``: importable, as scripts import it; stepfn's model server and job
runner do its work themselves, so any use raises."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    raise AttributeError(f"stepfn's sagemaker_containers does not provide beta.framework.server.{name}: stepfn runs and "
                         "serves the script itself")
