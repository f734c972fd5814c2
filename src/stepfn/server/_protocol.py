"""The AWS JSON protocol as ``stepfn serve`` speaks it: operations, validation, bodies, errors, tokens.

AWS JSON 1.0 (Step Functions) and 1.1 (SageMaker) are the same on the wire apart from the
content type: ``POST /`` with ``X-Amz-Target: <Prefix>.<Operation>`` and a JSON body; the answer is
a JSON body, timestamps as epoch seconds, blobs base64; an error is ``{"__type": Code, "message":
...}`` with the HTTP status the service uses for that code (botocore reads ``__type``).

Requests are validated against botocore's own service model before they reach the backend, so a
client that is not botocore (curl, another SDK) gets the ``ValidationException`` AWS would send
instead of a Python TypeError from a keyword argument.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from starlette.responses import Response

from stepfn.server.auth import TOKEN_HEADER, read_token

logger = logging.getLogger("stepfn.server")


# Characters XML 1.0 cannot carry: a value holding one could not be answered in a document botocore parses.
NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` as XML character data; a character XML cannot carry (echoed in an error message) as its escape."""
    return escape(NOT_XML.sub(lambda match: match.group().encode("unicode_escape").decode(), text))


class ApiError(Exception):
    """An error answered as ``{"__type": code, "message": message}`` with HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int = 400, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra or {}


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"cannot encode {type(value).__name__} as AWS JSON")


def encode_body(data: Any) -> bytes:
    if isinstance(data, dict):
        data = {key: value for key, value in data.items() if key != "ResponseMetadata"}
    return json.dumps(data, default=_json_default, separators=(",", ":")).encode()


def json_response(data: Any, content_type: str, status: int = 200) -> Response:
    return Response(
        encode_body(data), status_code=status, media_type=content_type,
        headers={"x-amzn-RequestId": str(uuid.uuid4())},
    )


def error_response(error: ApiError, content_type: str) -> Response:
    body = {"__type": error.code, "message": error.message, **error.extra}
    return Response(
        encode_body(body), status_code=error.status, media_type=content_type,
        headers={"x-amzn-RequestId": str(uuid.uuid4()), "x-amzn-ErrorType": error.code},
    )


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        params = json.loads(raw)
    except ValueError as exc:
        raise ApiError("SerializationException", f"the request body is not JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise ApiError("SerializationException", "the request body must be a JSON object")
    return params


@lru_cache(maxsize=8)
def service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def operation_model(service: str, operation: str) -> Any:
    model = service_model(service)
    if operation not in model.operation_names:
        raise ApiError("UnknownOperationException", f"{model.service_name} has no operation {operation!r}")
    return model.operation_model(operation)


def python_name(operation: str) -> str:
    """``StartExecution`` -> ``start_execution`` (boto3's method name)."""
    from botocore import xform_name

    return str(xform_name(operation))


def validate_request(service: str, operation: str, params: dict[str, Any]) -> None:
    """Raise ``ValidationException`` listing every problem botocore finds in ``params``."""
    from botocore.exceptions import ParamValidationError
    from botocore.validate import validate_parameters

    shape = operation_model(service, operation).input_shape
    if shape is None:
        return
    try:
        validate_parameters(params, shape)
    except ParamValidationError as exc:
        raise ApiError("ValidationException", str(exc.kwargs.get("report", exc)).strip()) from exc
    problems = list(_enum_violations(params, shape, ""))
    if problems:
        count = len(problems)
        raise ApiError("ValidationException", f"{count} validation error{'s' if count > 1 else ''} detected: "
                       + "; ".join(problems))


def _enum_violations(value: Any, shape: Any, path: str) -> Iterator[str]:
    """Enum members botocore's validator lets through, worded as AWS words them."""
    kind = shape.type_name
    if kind == "string" and shape.enum and isinstance(value, str) and value not in shape.enum:
        yield (f"Value '{value}' at '{path}' failed to satisfy constraint: Member must satisfy enum value set: "
               f"[{', '.join(shape.enum)}]")
    elif kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                # AWS names members in camelCase in these messages, whatever the API's own casing.
                segment = name[:1].lower() + name[1:]
                yield from _enum_violations(value[name], member, f"{path}.{segment}" if path else segment)
    elif kind == "list" and isinstance(value, list):
        for index, item in enumerate(value, start=1):
            yield from _enum_violations(item, shape.member, f"{path}.{index}.member")
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            yield from _enum_violations(item, shape.value, f"{path}.{key}")


def translate_errors(call: Callable[[], Any]) -> Any:
    """Run ``call``; map the errors backends raise (botocore ``ClientError``, stepfn ``ServiceError``)
    to :class:`ApiError` with the code and status the service would answer."""
    from botocore.exceptions import ClientError, ParamValidationError

    from stepfn.errors import ServiceError

    try:
        return call()
    except ApiError:
        raise
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
        code = str(error.get("Code") or "ValidationException")
        raise ApiError(code, str(error.get("Message") or exc), status) from exc
    except ServiceError as exc:
        response = exc.response or {}
        error = response.get("Error", {})
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
        code = str(error.get("Code") or exc.error or "ValidationException")
        extra = {"OriginalStatusCode": response["OriginalStatusCode"]} if "OriginalStatusCode" in response else {}
        raise ApiError(code, str(error.get("Message") or exc), status, extra) from exc
    except ParamValidationError as exc:
        raise ApiError("ValidationException", str(exc)) from exc


def attach_token(client: Any, token: str) -> Any:
    """Make a boto3 client send ``X-Stepfn-Token: <token>`` with every request to ``stepfn serve``.

    ``boto3.client(..., endpoint_url=url, aws_access_key_id=token, aws_secret_access_key="x")`` works
    too (the server accepts the SigV4 access key id as the token), which is how the AWS CLI is used.
    """

    def add_header(request: Any, **_: Any) -> None:
        request.headers[TOKEN_HEADER] = token

    client.meta.events.register_first("before-sign.*.*", add_header, unique_id="stepfn-serve-token")
    return client


def create_server_client(service: str, url: str, *, token: str | None = None, home: Path | str | None = None,
                         region_name: str = "us-east-1") -> Any:
    """A boto3 client (``stepfunctions``, ``sagemaker``, ``sagemaker-runtime``) for a ``stepfn serve`` at ``url``.

    ``token`` defaults to the one the server keeps in ``home`` (default ``$STEPFN_HOME``), so a client of
    a server started on the same home needs nothing more. It turns off botocore's host prefix injection:
    StartSyncExecution otherwise goes to ``sync-127.0.0.1``, which does not resolve (AWS CLI: there is no
    switch; use boto3 for it). The secret key is a dummy (the server checks only the token, which is also
    the access key id); retries are off so errors surface at once.
    """
    import boto3
    from botocore.config import Config

    if token is None:
        token = read_token(home)
    client = boto3.client(
        service, endpoint_url=url, region_name=region_name,
        aws_access_key_id=token or "stepfn", aws_secret_access_key="stepfn",
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}, read_timeout=300),
    )
    return attach_token(client, token) if token else client
