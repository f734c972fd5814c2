"""Service-integration resource ARNs and partition resolution (docs/design/compat.md §4).

The original created a boto3 Session for every step to learn the region's partition (13 s for 300
states). stepfn resolves the partition cheaply and caches it per region: an explicit ``partition``
argument wins, then ``$AWS_PARTITION``, then the partition of ``$AWS_REGION`` /
``$AWS_DEFAULT_REGION`` or of the active profile's region in the shared config file (read once per change
of the file), then ``aws``. No boto3 import, no session.
"""

from __future__ import annotations

import functools
import logging
import os
from enum import Enum
from typing import Any

from stepfn._partitions import configured_region, partition_for_region

logger = logging.getLogger(__name__)



class IntegrationPattern(Enum):
    """How a Task waits for a service: ``WaitForTaskToken`` (``.waitForTaskToken``), ``WaitForCompletion``
    (``.sync``) or ``CallAndContinue`` (plain call)."""

    WaitForTaskToken = "waitForTaskToken"
    WaitForCompletion = "sync"
    CallAndContinue = ""


@functools.lru_cache(maxsize=1)
def _warn_no_region() -> None:
    # Once per process: the original logged this for every step it built.
    logger.warning("No region detected for the boto3 session. Using default partition: aws")


def get_aws_partition(partition: str | None = None) -> str:
    """The partition for new resource ARNs: ``partition``, ``$AWS_PARTITION``, the region's, or ``aws``."""
    if partition:
        return partition
    configured = os.environ.get("AWS_PARTITION")
    if configured:
        return configured
    region = configured_region()
    if not region:
        _warn_no_region()
    return partition_for_region(region)


def get_service_integration_arn(
    service: str,
    api: Any,
    integration_pattern: IntegrationPattern = IntegrationPattern.CallAndContinue,
    version: int | str | None = None,
    *,
    partition: str | None = None,
) -> str:
    """``arn:{partition}:states:::{service}:{api}`` plus ``.{pattern}`` unless CallAndContinue, plus ``:{version}``.

    ``api`` may be a str or an Enum whose value is the API name (as the original's ``*Api`` enums).
    """
    api_name = api.value if isinstance(api, Enum) else str(api)
    arn = f"arn:{get_aws_partition(partition)}:states:::{service}:{api_name}"
    if integration_pattern is not IntegrationPattern.CallAndContinue:
        arn = f"{arn}.{integration_pattern.value}"
    if version:
        arn = f"{arn}:{version}"
    return arn


def is_integration_pattern_valid(integration_pattern: Any, supported_integration_patterns: list[IntegrationPattern]) -> None:
    """Raise TypeError/ValueError (the original's texts) unless the pattern is one the step supports."""
    if not isinstance(integration_pattern, IntegrationPattern):
        raise TypeError(f"Integration pattern must be of type {IntegrationPattern}")
    if integration_pattern not in supported_integration_patterns:
        names = [pattern.name for pattern in supported_integration_patterns]
        raise ValueError(
            f"Integration Pattern ({integration_pattern.name}) is not supported for this step - "
            f"Please use one of the following: {names}"
        )


__all__ = [
    "IntegrationPattern",
    "get_aws_partition",
    "get_service_integration_arn",
    "is_integration_pattern_valid",
    "partition_for_region",
]
