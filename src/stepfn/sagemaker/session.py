"""Session-like configuration and job names (docs/design/compat.md §6.1).

A :class:`Session` carries the region, the default bucket and the partition that request builders need. It makes no
AWS call unless the caller asks for something it cannot know (the region or the account's default bucket), and the
bucket is never created. Any object with ``boto_region_name`` and ``default_bucket()`` may stand in for it, as the
``sagemaker_session=`` objects of sagemaker v2 do.
"""

from __future__ import annotations

import time
from typing import Any, Protocol, runtime_checkable

from stepfn._partitions import partition_for_region

__all__ = [
    "Session",
    "SessionHolder",
    "SessionLike",
    "base_name_from_image",
    "name_from_base",
    "partition_for_region",
    "sagemaker_timestamp",
]

_NO_REGION = "Must setup local AWS configuration with a region supported by SageMaker."


@runtime_checkable
class SessionLike(Protocol):
    """What request builders read from a session (sagemaker v2 sessions satisfy it too)."""

    @property
    def boto_region_name(self) -> str: ...

    def default_bucket(self) -> str: ...


class Session:
    """Region, default bucket and partition for building SageMaker requests.

    ``Session(region_name='us-east-1', default_bucket='sagemaker')`` makes no AWS call at all. Without a region the
    boto3 default region is read (no network); without a default bucket, ``default_bucket()`` asks STS for the
    account id once and returns ``sagemaker-{region}-{account}``, as sagemaker v2 does, without creating it.
    """

    def __init__(
        self,
        region_name: str | None = None,
        default_bucket: str | None = None,
        boto_session: Any = None,
    ) -> None:
        self._region_name = region_name
        self._default_bucket = default_bucket
        self.boto_session = boto_session

    @property
    def boto_region_name(self) -> str:
        if self._region_name:
            return self._region_name
        region = self.boto_session.region_name if self.boto_session is not None else _boto3_default_region()
        if not region:
            raise ValueError(_NO_REGION)
        self._region_name = region
        return region

    @property
    def partition(self) -> str:
        return partition_for_region(self.boto_region_name)

    def default_bucket(self) -> str:
        if self._default_bucket:
            return self._default_bucket
        region = self.boto_region_name
        if self.boto_session is not None:
            sts = self.boto_session.client("sts", region_name=region)
        else:
            import boto3

            sts = boto3.client("sts", region_name=region)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            account = sts.get_caller_identity()["Account"]
        except (BotoCoreError, ClientError) as exc:
            # Typical on the local backend, where there is no AWS account to ask.
            raise ValueError(
                f"Session.default_bucket() asks STS for the account id to name 'sagemaker-{region}-<account>', "
                f"and that failed ({exc}). Give the bucket instead: Session(region_name=..., default_bucket=...), "
                "or an output_path / code_location on the estimator."
            ) from exc
        self._default_bucket = f"sagemaker-{region}-{account}"
        return self._default_bucket

    def __repr__(self) -> str:
        return f"Session(region_name={self._region_name!r}, default_bucket={self._default_bucket!r})"


class SessionHolder:
    """Gives a class sagemaker v2's lazily created ``sagemaker_session`` attribute."""

    _sagemaker_session: SessionLike | None = None

    @property
    def sagemaker_session(self) -> SessionLike:
        # Created on first use, so building an object never needs a region.
        if self._sagemaker_session is None:
            self._sagemaker_session = Session()
        return self._sagemaker_session

    @sagemaker_session.setter
    def sagemaker_session(self, session: SessionLike | None) -> None:
        self._sagemaker_session = session


def _boto3_default_region() -> str | None:
    import boto3

    region: str | None = boto3.session.Session().region_name
    return region


def sagemaker_timestamp() -> str:
    """UTC ``%Y-%m-%d-%H-%M-%S-mmm``, the suffix sagemaker v2 puts on generated names."""
    moment = time.time()
    millis = int((moment - int(moment)) * 1000)
    return time.strftime(f"%Y-%m-%d-%H-%M-%S-{millis:03d}", time.gmtime(moment))


def _short_timestamp() -> str:
    return time.strftime("%y%m%d-%H%M")


def name_from_base(base: str, max_length: int = 63, short: bool = False) -> str:
    """``base`` trimmed so that ``base-<timestamp>`` fits ``max_length`` (docs/design/compat.md §6.1)."""
    timestamp = _short_timestamp() if short else sagemaker_timestamp()
    trimmed = base[: max_length - len(timestamp) - 1]
    return f"{trimmed}-{timestamp}"


def base_name_from_image(image: str) -> str:
    """The repository name of an image URI: ``…/sagemaker-xgboost:1.2-1`` -> ``sagemaker-xgboost``."""
    repository = image.rsplit("/", 1)[-1]
    return repository.split("@", 1)[0].split(":", 1)[0]
