"""Local SageMaker: training jobs, models, endpoints, transform, processing and tuning run on this machine.

Each module exposes ``handlers(home)`` for the engine (contract §1): ``training`` (F1) and ``serving`` (F2).
``records`` keeps the Describe*-shaped record of every resource; ``images`` maps image URIs to local runtimes.
"""

from __future__ import annotations
