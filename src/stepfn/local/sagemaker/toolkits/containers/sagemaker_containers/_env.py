"""The training job's environment as ``sagemaker_containers.training_env()`` gives it.

stepfn starts every script-mode job with ``SM_TRAINING_ENV``: the toolkit's own computation of the job's
environment (hosts, channels, paths, hyperparameters...), so this reads it instead of the ``/opt/ml`` files."""

from __future__ import annotations

import json
import os
from typing import Any


class TrainingEnv:
    def __init__(self) -> None:
        raw = os.environ.get("SM_TRAINING_ENV")
        if not raw:
            raise RuntimeError("sagemaker_containers.training_env(): SM_TRAINING_ENV is not set; only a SageMaker "
                               "training job's process has a training environment")
        self._env: dict[str, Any] = json.loads(raw)

    def properties(self) -> list[str]:
        return sorted(self._env)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._env[name]
        except KeyError:
            raise AttributeError(f"the training environment has no {name!r} (it has {', '.join(sorted(self._env))})"
                                 ) from None

    def __getitem__(self, name: str) -> Any:
        return self._env[name]

    def to_env_vars(self) -> dict[str, str]:
        """The ``SM_*`` variables the job was started with (the toolkit's ``to_env_vars``)."""
        return {key: value for key, value in os.environ.items() if key.startswith("SM_")}

    def to_cmd_args(self) -> list[str]:
        """The hyperparameters as the command line the toolkit passes: keys sorted, ``--key value`` (``-k`` for a
        one-letter key), dicts as ``k=v,k2=v2``."""
        args: list[str] = []
        for key in sorted(self._env["hyperparameters"]):
            value = self._env["hyperparameters"][key]
            if isinstance(value, dict):
                text = ",".join(f"{k}={v}" for k, v in sorted(value.items()))
            else:
                text = "" if value is None else str(value)
            args += [f"--{key}" if len(key) > 1 else f"-{key}", text]
        return args

    def __str__(self) -> str:
        return str(self._env)

    def __repr__(self) -> str:
        return f"<TrainingEnv {self._env}>"
