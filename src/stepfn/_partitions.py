"""Which AWS partition a region belongs to: one table for the authoring, SageMaker and AWS layers.

Pure and cached; it reads nothing (no boto3 session, no environment): callers decide where the region
comes from.
"""

from __future__ import annotations

import functools

DEFAULT_PARTITION = "aws"

#: Region-name prefixes of the partitions other than ``aws``, longest first so ``us-isob-`` beats ``us-iso-``.
PARTITION_PREFIXES: tuple[tuple[str, str], ...] = (
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("eu-isoe-", "aws-iso-e"),
    ("us-iso-", "aws-iso"),
    ("us-gov-", "aws-us-gov"),
    ("cn-", "aws-cn"),
)


@functools.lru_cache(maxsize=64)
def partition_for_region(region: str | None) -> str:
    """The partition of ``region``: ``cn-north-1`` -> ``aws-cn``, ``us-gov-west-1`` -> ``aws-us-gov``; ``aws``
    for any other or a missing region."""
    if not region:
        return DEFAULT_PARTITION
    for prefix, partition in PARTITION_PREFIXES:
        if region.startswith(prefix):
            return partition
    return DEFAULT_PARTITION
