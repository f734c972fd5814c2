"""CreateEndpointConfig and CreateEndpoint/UpdateEndpoint requests (docs/design/compat.md §5.4)."""

from __future__ import annotations

from typing import Any

from .model_monitor import DataCaptureConfig
from .validation import is_local_mode, validate_request

__all__ = [
    "build_endpoint_config_request",
    "build_endpoint_request",
    "endpoint_config_request",
    "endpoint_request",
]


def endpoint_config_request(endpoint_config_name: Any, model_name: Any, initial_instance_count: Any,
                            instance_type: Any, variant_name: Any = "AllTraffic",
                            data_capture_config: DataCaptureConfig | None = None) -> dict[str, Any]:
    """One production variant serving ``model_name``, with optional data capture."""
    request: dict[str, Any] = {
        "EndpointConfigName": endpoint_config_name,
        "ProductionVariants": [{
            "InitialInstanceCount": initial_instance_count,
            "InstanceType": instance_type,
            "ModelName": model_name,
            "VariantName": variant_name,
        }],
    }
    if isinstance(data_capture_config, DataCaptureConfig):
        request["DataCaptureConfig"] = data_capture_config._to_request_dict()
    return request


def endpoint_request(endpoint_name: Any, endpoint_config_name: Any) -> dict[str, Any]:
    """The body of CreateEndpoint and of UpdateEndpoint."""
    return {"EndpointConfigName": endpoint_config_name, "EndpointName": endpoint_name}


def build_endpoint_config_request(*args: Any, validate: bool = True, **kwargs: Any) -> dict[str, Any]:
    """A CreateEndpointConfig request ready for boto3 (arguments as ``endpoint_config_request``)."""
    request = endpoint_config_request(*args, **kwargs)
    if validate:
        variants = request.get("ProductionVariants")
        local = isinstance(variants, list) and any(
            isinstance(variant, dict) and is_local_mode(variant.get("InstanceType")) for variant in variants)
        validate_request("CreateEndpointConfig", request, local_mode=local)
    return request


def build_endpoint_request(endpoint_name: Any, endpoint_config_name: Any, *, update: bool = False,
                           validate: bool = True) -> dict[str, Any]:
    """A CreateEndpoint (or UpdateEndpoint) request ready for boto3."""
    request = endpoint_request(endpoint_name, endpoint_config_name)
    if validate:
        validate_request("UpdateEndpoint" if update else "CreateEndpoint", request)
    return request
