"""Helpers under sagemaker v2's module path (``sagemaker.utils``), for code that imports them from there: naming, and
the data config the example notebooks read to find their data set's bucket (``S3DataConfig``)."""

from __future__ import annotations

import abc
import json
import random
import time
from typing import Any

from .session import base_name_from_image, name_from_base, sagemaker_timestamp


def unique_name_from_base(base: str, max_length: int = 63) -> str:
    """``base-<epoch seconds>-<4 hex digits>`` trimmed to ``max_length``, as sagemaker v2 names test resources:
    unlike :func:`name_from_base`, two names made in the same second differ."""
    unique = f"{random.SystemRandom().randrange(16**4):04x}"
    timestamp = str(int(time.time()))
    trimmed = base[: max_length - 2 - len(timestamp) - len(unique)]
    return f"{trimmed}-{timestamp}-{unique}"


class DataConfig(abc.ABC):
    """A data configuration kept in an AWS resource; ``fetch_data_config()`` reads it."""

    @abc.abstractmethod
    def fetch_data_config(self) -> Any:
        """The configuration object."""


class S3DataConfig(DataConfig):
    """A JSON data configuration in S3 that maps a region to the bucket holding the data sets there (and
    ``"default"`` to the bucket for any other region), as the SageMaker example notebooks read it:
    ``S3DataConfig(session, "example-notebooks-data-config", "config/data_config.json").get_data_bucket()``."""

    def __init__(self, sagemaker_session: Any, bucket_name: str | None, prefix: str | None) -> None:
        if bucket_name is None or prefix is None:
            raise ValueError("Bucket Name and S3 file Prefix are required arguments and must be provided.")
        self.bucket_name = bucket_name
        self.prefix = prefix
        self.sagemaker_session = sagemaker_session

    def fetch_data_config(self) -> Any:
        return json.loads(self.sagemaker_session.read_s3_file(self.bucket_name, self.prefix))

    def get_data_bucket(self, region_requested: str | None = None) -> Any:
        """The bucket of the data sets for ``region_requested`` (default: the session's region)."""
        config = self.fetch_data_config()
        region = region_requested or self.sagemaker_session.boto_region_name
        return config[region] if region in config else config["default"]


__all__ = ["DataConfig", "S3DataConfig", "base_name_from_image", "name_from_base", "sagemaker_timestamp",
           "unique_name_from_base"]
