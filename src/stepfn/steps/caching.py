"""``CacheConfig``: opt a step into the local step cache (SageMaker Pipelines' spelling).

``TrainingStep(..., cache_config=CacheConfig(enable_caching=True, expire_after="P30D"))`` asks the local backend to
reuse the result of an earlier job whose request, code, input data and environment were the same
(:mod:`stepfn.local.cache`). The setting is not part of the state's ASL: the definition sent to AWS stays
byte-identical, and on AWS it is ignored (with one warning). Pure data: no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass

from stepfn._durations import parse_duration

__all__ = ["CacheConfig", "parse_duration"]

@dataclass(frozen=True)
class CacheConfig:
    """Whether a step's result may come from the local step cache, and for how long an entry stays valid.

    ``expire_after`` is an ISO 8601 duration (``"P30D"``); ``None`` keeps entries until ``stepfn cache prune``."""

    enable_caching: bool = False
    expire_after: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.enable_caching, bool):
            raise TypeError(f"enable_caching must be a bool, not {type(self.enable_caching).__name__}")
        if self.expire_after is not None:
            parse_duration(self.expire_after)

    @property
    def config(self) -> dict[str, object]:
        """The JSON form the local backend keeps beside the state machine (SageMaker Pipelines' property)."""
        result: dict[str, object] = {"Enabled": self.enable_caching}
        if self.expire_after is not None:
            result["ExpireAfter"] = self.expire_after
        return result
