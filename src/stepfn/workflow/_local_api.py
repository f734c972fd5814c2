"""What makes the local client look like boto3's: the service model, errors, paginators, names, tokens.

Nothing here is hand-copied from boto3: the operation shapes, error classes and pagination settings are
botocore's own, loaded (once, lazily) from the service model botocore ships. So ``client.exceptions``
holds the same classes boto3 builds, parameters are validated by botocore's ``ParamValidator`` (the same
``ParamValidationError`` for a wrong keyword), and ``get_paginator`` returns botocore's ``Paginator``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from functools import cache
from typing import Any

from botocore.errorfactory import ClientExceptionsFactory
from botocore.exceptions import ClientError
from botocore.loaders import create_loader
from botocore.model import OperationModel, ServiceModel
from botocore.paginate import Paginator
from botocore.validate import validate_parameters

SERVICE = "stepfunctions"

# Names: 1-80 characters, none of whitespace, brackets, wildcards, the listed specials or control characters.
_INVALID_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
_ROLE_ARN = re.compile(r"^arn:[\w-]+:iam::\d+:role/[\w+=,.@/-]+$")


@cache
def service_model() -> ServiceModel:
    loader = create_loader()
    return ServiceModel(loader.load_service_model(SERVICE, "service-2"), service_name=SERVICE)


@cache
def pagination_configs() -> dict[str, Any]:
    return dict(create_loader().load_service_model(SERVICE, "paginators-1")["pagination"])


@cache
def exceptions() -> Any:
    """The ``client.exceptions`` namespace, built by botocore from the service model as boto3 builds it."""
    return ClientExceptionsFactory().create_client_exceptions(service_model())


@cache
def _python_names() -> dict[str, str]:
    """``create_state_machine`` -> ``CreateStateMachine``, for every operation of the model."""
    from botocore import xform_name

    return {xform_name(name): name for name in service_model().operation_names}


def is_operation(python_name: str) -> bool:
    """Whether ``python_name`` is a Step Functions operation (``start_execution``), as boto3 names them."""
    return python_name in _python_names()


def operation_model(python_name: str) -> OperationModel:
    return service_model().operation_model(_python_names()[python_name])


def check_parameters(python_name: str, params: dict[str, Any]) -> None:
    """botocore's client-side check: unknown or missing keywords and wrong types raise ParamValidationError."""
    shape = operation_model(python_name).input_shape
    if shape is not None:
        validate_parameters(params, shape)


def response_metadata() -> dict[str, Any]:
    request_id = str(uuid.uuid4())
    return {
        "RequestId": request_id,
        "HTTPStatusCode": 200,
        "HTTPHeaders": {"x-amzn-requestid": request_id, "content-type": "application/x-amz-json-1.0"},
        "RetryAttempts": 0,
    }


def client_error(code: str, message: str, python_name: str) -> ClientError:
    """The ClientError subclass boto3 raises for ``code`` (plain ClientError for a code the model lacks)."""
    operation = _python_names()[python_name]
    meta = response_metadata()
    meta["HTTPStatusCode"] = 400
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": meta, "message": message}
    cls = getattr(exceptions(), code, ClientError)
    error: ClientError = cls(response, operation)
    return error


def build_paginator(client: Any, python_name: str) -> Paginator:
    operation = _python_names()[python_name]
    config = pagination_configs().get(operation)
    if config is None:
        raise client_error("OperationNotPageableError", f"Operation cannot be paginated: {python_name}", python_name)
    return Paginator(getattr(client, python_name), config, service_model().operation_model(operation))


def can_paginate(python_name: str) -> bool:
    return _python_names().get(python_name) in pagination_configs()


def is_valid_name(name: str) -> bool:
    return 1 <= len(name) <= 80 and not _INVALID_NAME.search(name)


def is_valid_role_arn(role: str) -> bool:
    return bool(_ROLE_ARN.match(role))


def encode_token(position: int, scope: str) -> str:
    """An opaque nextToken bound to one listing (``scope``), as AWS refuses a token from another listing."""
    return base64.urlsafe_b64encode(json.dumps([position, scope]).encode()).decode()


def decode_token(token: str, scope: str) -> int | None:
    """The position a token stands for, or None when it is not a token of this listing."""
    try:
        position, token_scope = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError):
        return None
    if token_scope != scope or not isinstance(position, int) or position < 0:
        return None
    return position


__all__ = [
    "build_paginator",
    "can_paginate",
    "check_parameters",
    "client_error",
    "decode_token",
    "encode_token",
    "exceptions",
    "is_operation",
    "is_valid_name",
    "is_valid_role_arn",
    "operation_model",
    "response_metadata",
    "service_model",
]
