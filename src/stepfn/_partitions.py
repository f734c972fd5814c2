"""Which AWS partition a region belongs to, and the account local ARNs carry: one home for the authoring,
engine, local SageMaker and AWS layers.

``partition_for_region`` is pure; ``configured_region`` reads the region the way botocore does (environment,
then the profile in the shared config file) without building a boto3 session, which cost the original SDK
seconds per step.
"""

from __future__ import annotations

import configparser
import functools
import os
from pathlib import Path

DEFAULT_PARTITION = "aws"

#: The account id in every ARN the local backend makes (state machines, executions, SageMaker records, Lambda
#: functions, get_execution_role's role, a local Session's default bucket). It is moto's default account
#: (moto.core.DEFAULT_ACCOUNT_ID) and the AWS documentation's example account, so ARNs from a local run and from a
#: test against moto look alike; one value, so a record's ARN never names another account than its execution's.
LOCAL_ACCOUNT = "123456789012"

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


def configured_region() -> str | None:
    """``$AWS_REGION``, ``$AWS_DEFAULT_REGION``, then ``region`` of the active profile in ``$AWS_CONFIG_FILE``
    (default ``~/.aws/config``; profile from ``$AWS_PROFILE`` / ``$AWS_DEFAULT_PROFILE``, else ``default``)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        return region
    profile = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE") or "default"
    config = Path(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config").expanduser()
    try:
        mtime = config.stat().st_mtime_ns
    except OSError:
        return None
    return _profile_region(str(config), mtime, profile)


@functools.lru_cache(maxsize=16)
def _profile_region(config: str, mtime: int, profile: str) -> str | None:
    # Keyed on the file's mtime so an edited config is read again, and read once per edit otherwise.
    parser = configparser.RawConfigParser()
    try:
        parser.read(config, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    section = profile if profile == "default" else f"profile {profile}"
    if not parser.has_section(section) and parser.has_section(profile):
        section = profile  # botocore also accepts a bare name for non-default profiles
    value = parser.get(section, "region", fallback=None) if parser.has_section(section) else None
    return value.strip() or None if value else None
