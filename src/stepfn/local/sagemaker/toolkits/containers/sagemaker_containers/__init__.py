"""``sagemaker_containers`` (2.8.6, the scikit-learn and XGBoost images' toolkit) as stepfn provides it: the parts
that user scripts call, over stepfn's container contract. What is not provided raises, naming itself.

Standalone on purpose: it runs in the images' Pythons (3.7 on), which have no stepfn.
"""

from __future__ import annotations

from sagemaker_containers import _env


def training_env() -> _env.TrainingEnv:
    """The training job's environment, as the toolkit computes it (``SM_TRAINING_ENV``)."""
    return _env.TrainingEnv()


__all__ = ["training_env"]
