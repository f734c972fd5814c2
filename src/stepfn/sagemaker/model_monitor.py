"""``DataCaptureConfig`` (sagemaker v2 ``sagemaker.model_monitor``) for CreateEndpointConfig (docs/design/compat.md §6.7)."""

from __future__ import annotations

from typing import Any

from .session import SessionLike

__all__ = ["DataCaptureConfig"]

_CAPTURE_MODES = {"REQUEST": "Input", "RESPONSE": "Output"}


class DataCaptureConfig:
    """Which endpoint requests/responses to capture, and where (``s3://{bucket}/model-monitor/data-capture``)."""

    def __init__(
        self,
        enable_capture: Any,
        sampling_percentage: Any = 20,
        destination_s3_uri: Any = None,
        kms_key_id: Any = None,
        capture_options: list[str] | None = None,
        csv_content_types: Any = None,
        json_content_types: Any = None,
        sagemaker_session: SessionLike | None = None,
    ) -> None:
        self.enable_capture = enable_capture
        self.sampling_percentage = sampling_percentage
        self.destination_s3_uri = destination_s3_uri
        self.sagemaker_session = sagemaker_session
        self.kms_key_id = kms_key_id
        self.capture_options = capture_options or ["REQUEST", "RESPONSE"]
        for mode in self.capture_options:
            if mode not in _CAPTURE_MODES:
                raise ValueError(f"capture_options must be REQUEST and/or RESPONSE, got {mode!r}.")
        self.csv_content_types = csv_content_types or ["text/csv"]
        self.json_content_types = json_content_types or ["application/json"]

    def _destination(self) -> Any:
        if self.destination_s3_uri is not None:
            return self.destination_s3_uri
        if self.sagemaker_session is None:
            from .session import Session

            self.sagemaker_session = Session()
        return f"s3://{self.sagemaker_session.default_bucket()}/model-monitor/data-capture"

    def _to_request_dict(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "EnableCapture": self.enable_capture,
            "InitialSamplingPercentage": self.sampling_percentage,
            "DestinationS3Uri": self._destination(),
            "CaptureOptions": [{"CaptureMode": _CAPTURE_MODES[mode]} for mode in self.capture_options],
        }
        if self.kms_key_id is not None:
            request["KmsKeyId"] = self.kms_key_id
        request["CaptureContentTypeHeader"] = {
            "CsvContentTypes": self.csv_content_types,
            "JsonContentTypes": self.json_content_types,
        }
        return request
