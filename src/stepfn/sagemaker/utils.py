"""Naming helpers under sagemaker v2's module path (``sagemaker.utils``), for code that imports them from there."""

from __future__ import annotations

import random
import time

from .session import base_name_from_image, name_from_base, sagemaker_timestamp


def unique_name_from_base(base: str, max_length: int = 63) -> str:
    """``base-<epoch seconds>-<4 hex digits>`` trimmed to ``max_length``, as sagemaker v2 names test resources:
    unlike :func:`name_from_base`, two names made in the same second differ."""
    unique = f"{random.SystemRandom().randrange(16**4):04x}"
    timestamp = str(int(time.time()))
    trimmed = base[: max_length - 2 - len(timestamp) - len(unique)]
    return f"{trimmed}-{timestamp}-{unique}"


__all__ = ["base_name_from_image", "name_from_base", "sagemaker_timestamp", "unique_name_from_base"]
