"""The Lambda API of ``stepfn serve`` (REST JSON, requests signed for ``lambda``): CreateFunction, GetFunction,
ListFunctions, DeleteFunction and Invoke over the functions kept in the home
(:mod:`stepfn.local.lambda_functions`), so a notebook that deploys its function with boto3 and a LambdaStep that
names it run locally. Invoke answers as Lambda does: the function's result as the body, or its error document
with ``X-Amz-Function-Error: Unhandled``, status 200 either way; ``LogType=Tail`` adds the last 4 KB of the
invocation's log, base64, as ``X-Amz-Log-Result``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from stepfn.local.lambda_functions import (
    FunctionError,
    create_function,
    created_function,
    delete_function,
    get_function,
    list_functions,
)
from stepfn.local.objectstore import ObjectNotFoundError, ObjectStore

_FUNCTIONS = re.compile(r"^/2015-03-31/functions/?$")
_FUNCTION = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)(?P<invoke>/invocations)?/?$")


def _error(code: str, message: str, status: int) -> Response:
    return JSONResponse({"Type": "User", "message": message}, status_code=status,
                        headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": str(uuid.uuid4())})


async def _json_body(request: Request, default: Any) -> Any:
    """The request's JSON document (``default`` for an empty body); Lambda's 400 for anything else."""
    raw = await request.body()
    if not raw.strip():
        return default
    try:
        return json.loads(raw)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise FunctionError("InvalidRequestContentException",
                            f"Could not parse request body into json: {error}", 400) from error


def _function_name(value: str) -> str:
    """A FunctionName as the path carries it: a name, or a function ARN (``...:function:<name>[:qualifier]``)."""
    if value.startswith("arn:"):
        parts = value.split(":")
        return parts[6] if len(parts) > 6 else value
    return value.split(":", 1)[0]


class LambdaApi:
    """The ASGI app answering Lambda requests for one home."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.store = ObjectStore(home / "s3")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._dispatch(request)
        except FunctionError as error:
            response = _error(error.code, error.message, error.status)
        await response(scope, receive, send)

    def _read_object(self, bucket: str, key: str) -> bytes:
        try:
            return self.store.get_bytes(f"s3://{bucket}/{key}")
        except ObjectNotFoundError as error:
            raise FunctionError("InvalidParameterValueException",
                                f"Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The "
                                f"specified key does not exist. (s3://{bucket}/{key})", 400) from error

    async def _dispatch(self, request: Request) -> Response:
        path, method = request.url.path, request.method
        if _FUNCTIONS.match(path):
            if method == "POST":
                body = await _json_body(request, {})
                if not isinstance(body, dict):
                    raise FunctionError("InvalidRequestContentException", "The request body is not a JSON object",
                                        400)
                created = await run_in_threadpool(create_function, self.home, body, self._read_object)
                return JSONResponse(created, status_code=201)
            if method == "GET":
                return JSONResponse({"Functions": await run_in_threadpool(list_functions, self.home)})
        match = _FUNCTION.match(path)
        if match:
            name = _function_name(match["name"])
            if match["invoke"] and method == "POST":
                return await self._invoke(request, name)
            if method == "GET":
                configuration = get_function(self.home, name)
                return JSONResponse({"Configuration": configuration,
                                     "Code": {"RepositoryType": "S3", "Location": ""}})
            if method == "DELETE":
                await run_in_threadpool(delete_function, self.home, name)
                return Response(status_code=204)
        raise FunctionError("UnknownOperationException", f"stepfn serve does not implement {method} {path} of "
                            "the Lambda API (it serves CreateFunction, GetFunction, ListFunctions, DeleteFunction "
                            "and Invoke)", 400)

    async def _invoke(self, request: Request, name: str) -> Response:
        function = created_function(self.home, name)
        if function is None:
            get_function(self.home, name)  # ResourceNotFoundException (or the name's ValidationException)
            raise FunctionError("ResourceNotFoundException", f"Function not found: {name}", 404)
        if request.headers.get("x-amz-invocation-type", "RequestResponse") != "RequestResponse":
            raise FunctionError("InvalidParameterValueException",
                                "stepfn serve runs RequestResponse invocations only", 400)
        event = await _json_body(request, {})
        invocation = await run_in_threadpool(function.invoke, event)
        headers = {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": invocation.request_id}
        if request.headers.get("x-amz-log-type") == "Tail":
            headers["X-Amz-Log-Result"] = base64.b64encode(invocation.log.encode()[-4096:]).decode()
        if invocation.error is not None:
            headers["X-Amz-Function-Error"] = "Unhandled"
            return Response(json.dumps(invocation.error), headers=headers, media_type="application/json")
        return Response(invocation.payload or "null", headers=headers, media_type="application/json")


def create_lambda_app(home: Path) -> LambdaApi:
    return LambdaApi(home)
