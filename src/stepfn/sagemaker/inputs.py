"""Training channel inputs (sagemaker v2 ``sagemaker.inputs``): TrainingInput, FileSystemInput, ShuffleConfig."""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["BatchDataCaptureConfig", "FileSystemInput", "ShuffleConfig", "TrainingInput", "s3_input"]


class ShuffleConfig:
    """Shuffles a channel's S3 objects with ``seed`` (``ShuffleConfig{Seed}``)."""

    def __init__(self, seed: Any) -> None:
        self.seed = seed


class TrainingInput:
    """One training channel's data source and options; ``config`` is the Channel dict without ``ChannelName``."""

    def __init__(
        self,
        s3_data: Any,
        distribution: Any = None,
        compression: Any = None,
        content_type: Any = None,
        record_wrapping: Any = None,
        s3_data_type: Any = "S3Prefix",
        input_mode: Any = None,
        attribute_names: Any = None,
        target_attribute_name: Any = None,
        shuffle_config: ShuffleConfig | None = None,
    ) -> None:
        source: dict[str, Any] = {"S3DataType": s3_data_type, "S3Uri": s3_data}
        self.config: dict[str, Any] = {"DataSource": {"S3DataSource": source}}
        if not (target_attribute_name or distribution):
            distribution = "FullyReplicated"
        if distribution is not None:
            source["S3DataDistributionType"] = distribution
        if compression is not None:
            self.config["CompressionType"] = compression
        if content_type is not None:
            self.config["ContentType"] = content_type
        if record_wrapping is not None:
            self.config["RecordWrapperType"] = record_wrapping
        if input_mode is not None:
            self.config["InputMode"] = input_mode
        if attribute_names is not None:
            source["AttributeNames"] = attribute_names
        if target_attribute_name is not None:
            self.config["TargetAttributeName"] = target_attribute_name
        if shuffle_config is not None:
            self.config["ShuffleConfig"] = {"Seed": shuffle_config.seed}

    def __repr__(self) -> str:
        return f"TrainingInput({self.config!r})"


class s3_input(TrainingInput):
    """sagemaker v1's name for :class:`TrainingInput`; sagemaker v2 kept it (``sagemaker.s3_input``) with a
    DeprecationWarning, and v1-era notebooks (the original SDK's abalone example) still call it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn("The class sagemaker.session.s3_input has been renamed in sagemaker>=2: use "
                      "sagemaker.inputs.TrainingInput", DeprecationWarning, stacklevel=2)
        super().__init__(*args, **kwargs)


class FileSystemInput:
    """An EFS or FSx for Lustre channel (``DataSource.FileSystemDataSource``)."""

    def __init__(
        self,
        file_system_id: Any,
        file_system_type: Any,
        directory_path: Any,
        file_system_access_mode: Any = "ro",
        content_type: Any = None,
    ) -> None:
        if isinstance(file_system_type, str) and file_system_type not in ("EFS", "FSxLustre"):
            raise ValueError(
                f"Unrecognized file system type: {file_system_type}. Valid values: EFS, FSxLustre."
            )
        if isinstance(file_system_access_mode, str) and file_system_access_mode not in ("ro", "rw"):
            raise ValueError(
                f"Unrecognized file system access mode: {file_system_access_mode}. Valid values: ro, rw."
            )
        self.config: dict[str, Any] = {
            "DataSource": {
                "FileSystemDataSource": {
                    "FileSystemId": file_system_id,
                    "FileSystemType": file_system_type,
                    "DirectoryPath": directory_path,
                    "FileSystemAccessMode": file_system_access_mode,
                }
            }
        }
        if content_type:
            self.config["ContentType"] = content_type


class BatchDataCaptureConfig:
    """A batch transform job's data capture (``DataCaptureConfig`` of CreateTransformJob), as sagemaker v2's: the
    job writes manifests of its input and output objects under ``destination_s3_uri``'s ``input/`` and ``output/``,
    which Model Monitor's ``BatchTransformInput`` reads."""

    def __init__(self, destination_s3_uri: str, kms_key_id: str | None = None,
                 generate_inference_id: bool | None = None) -> None:
        self.destination_s3_uri = destination_s3_uri
        self.kms_key_id = kms_key_id
        self.generate_inference_id = generate_inference_id

    def _to_request_dict(self) -> dict[str, Any]:
        request: dict[str, Any] = {"DestinationS3Uri": self.destination_s3_uri}
        if self.kms_key_id is not None:
            request["KmsKeyId"] = self.kms_key_id
        if self.generate_inference_id is not None:
            request["GenerateInferenceId"] = self.generate_inference_id
        return request
