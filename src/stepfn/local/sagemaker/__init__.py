"""Local SageMaker: training jobs, models, endpoints, transform, processing and tuning run on this machine.

Each module exposes ``handlers(home)`` for the engine (docs/design/sagemaker-contract.md §1): ``training`` and ``serving``.
``records`` keeps the Describe*-shaped record of every resource; ``images`` maps image URIs to local runtimes:
:func:`register_image` tells stepfn how to run a bring-your-own training image without Docker.
:func:`run_monitoring_schedule` runs a Model Monitor schedule's execution now (``schedules``).
"""

from __future__ import annotations

from stepfn.local.sagemaker.images import register_image, unregister_image
from stepfn.local.sagemaker.schedules import run_monitoring_schedule

__all__ = ["register_image", "run_monitoring_schedule", "unregister_image"]
