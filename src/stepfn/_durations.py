"""ISO 8601 durations (``P30D``, ``PT12H``), as SageMaker Pipelines' ``CacheConfig.expire_after`` takes them.

Shared by the authoring side (validation) and the local step cache (expiry); pure."""

from __future__ import annotations

import re

__all__ = ["parse_duration"]

_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
# Calendar units as SageMaker Pipelines approximates them for expiry (a cache is not a calendar).
_SECONDS = {"years": 365 * 86400, "months": 30 * 86400, "weeks": 7 * 86400, "days": 86400, "hours": 3600,
            "minutes": 60, "seconds": 1}


def parse_duration(text: str) -> float:
    """Seconds in an ISO 8601 duration (``P30D``, ``PT12H``, ``P1W``, ``P1DT30M``); ValueError otherwise."""
    match = _DURATION.match(text.strip().upper()) if isinstance(text, str) else None
    if match is None or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise ValueError(f"expire_after must be an ISO 8601 duration such as 'P30D' or 'PT12H', not {text!r}")
    return sum(float(value) * _SECONDS[unit] for unit, value in match.groupdict().items() if value)
