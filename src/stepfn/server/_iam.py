"""The IAM API of ``stepfn serve``: the AWS query protocol (form-encoded ``Action=...``, XML answers) over the
roles and policies kept in the home (:mod:`stepfn.local.iam`), so a notebook that makes its role with
``boto3.client("iam")`` before deploying a function or a state machine runs locally as written.

The protocol is read from botocore's ``iam`` service model, not written out per operation: a request's flat
``Tags.member.1.Key`` form fields become the operation's input structure, that input is checked against the
model's constraints (required members, types, enums, lengths, patterns) and refused with IAM's
``ValidationError``, and the result is written as the XML of the operation's output shape. botocore's own query
parser reads it back, and its IAM handler decodes the URL-encoded policy documents into dicts.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from stepfn.local.iam import IamError, IamStore
from stepfn.server._protocol import NOT_XML, ApiError, python_name, service_model, validate_request, xml_text

IAM_XMLNS = "https://iam.amazonaws.com/doc/2010-05-08/"
# The model's patterns are Java's: the Unicode classes of the tag patterns, in Python's terms (\w is letters, digits
# and "_", which those patterns allow anyway; Z is the separators Java's \p{Z} matches).
_JAVA_CLASSES = {r"\p{L}": r"\w", r"\p{N}": r"\d",
                 r"\p{Z}": "\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"}


def _error_response(error: IamError) -> Response:
    request_id = str(uuid.uuid4())
    kind = "Receiver" if error.status >= 500 else "Sender"
    body = (f'<ErrorResponse xmlns="{IAM_XMLNS}"><Error><Type>{kind}</Type><Code>{xml_text(error.code)}</Code>'
            f"<Message>{xml_text(error.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return Response(body, status_code=error.status, media_type="text/xml", headers={"x-amzn-RequestId": request_id})


def _present(form: dict[str, str], key: str) -> bool:
    return key in form or any(name.startswith(key + ".") for name in form)


def parse_query(form: dict[str, str], shape: Any, key: str = "") -> Any:
    """The value of ``shape`` that the query-protocol fields under ``key`` carry (``""``: the whole input),
    as botocore's query serializer flattens it: ``Name.member.N`` for a list, ``Name.Member`` for a structure."""
    kind = shape.type_name
    if kind == "structure":
        parsed: dict[str, Any] = {}
        for name, member in shape.members.items():
            field = member.serialization.get("name", name)
            field = f"{key}.{field}" if key else field
            if _present(form, field):
                parsed[name] = parse_query(form, member, field)
        return parsed
    if kind == "list":
        prefix = key if shape.serialization.get("flattened") else f"{key}.{shape.member.serialization.get('name', 'member')}"
        items: list[Any] = []
        while _present(form, f"{prefix}.{len(items) + 1}"):
            items.append(parse_query(form, shape.member, f"{prefix}.{len(items) + 1}"))
        return items  # an empty list arrives as ``Name=`` alone
    raw = form.get(key, "")
    if kind in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise IamError("ValidationError", f"1 validation error detected: Value '{raw}' at '{_member_path(key)}' "
                           "failed to satisfy constraint: Member must be a number", 400) from None
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise IamError("ValidationError", f"1 validation error detected: Value '{raw}' at '{_member_path(key)}' "
                           "failed to satisfy constraint: Member must be true or false", 400)
        return raw == "true"
    return raw


def _member_path(key: str) -> str:
    # IAM names members in camelCase in its messages (``roleName``, ``tags.1.member.key``).
    return ".".join(part[:1].lower() + part[1:] for part in key.split("."))


def _python_pattern(pattern: str) -> str:
    for java, python in _JAVA_CLASSES.items():
        pattern = pattern.replace(java, python)
    return pattern


def _constraint_violations(value: Any, shape: Any, path: str) -> Iterator[str]:
    """The model's length and pattern constraints botocore's client-side validation leaves to the service."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                yield from _constraint_violations(value[name], member, f"{path}.{name}" if path else name)
    elif kind == "list" and isinstance(value, list):
        for index, item in enumerate(value, start=1):
            yield from _constraint_violations(item, shape.member, f"{path}.{index}.member")
    elif kind == "string" and isinstance(value, str):
        where = f"Value '{value}' at '{_member_path(path)}' failed to satisfy constraint: Member must"
        maximum, pattern = shape.metadata.get("max"), shape.metadata.get("pattern")
        if maximum is not None and len(value) > maximum:
            yield f"{where} have length less than or equal to {maximum}"
        if pattern and not re.fullmatch(_python_pattern(pattern), value):
            yield f"{where} satisfy regular expression pattern: {pattern}"
        elif NOT_XML.search(value):
            yield f"{where} not contain control characters"
    elif kind in ("integer", "long") and isinstance(value, int):
        where = f"Value '{value}' at '{_member_path(path)}' failed to satisfy constraint: Member must have value"
        maximum, minimum = shape.metadata.get("max"), shape.metadata.get("min")
        if maximum is not None and value > maximum:
            yield f"{where} less than or equal to {maximum}"
        if minimum is not None and value < minimum:
            yield f"{where} greater than or equal to {minimum}"


def _validate(operation: str, shape: Any, params: dict[str, Any]) -> None:
    try:
        validate_request("iam", operation, params)
    except ApiError as error:
        raise IamError("ValidationError", error.message, 400) from error
    problems = list(_constraint_violations(params, shape, ""))
    if problems:
        count = len(problems)
        raise IamError("ValidationError", f"{count} validation error{'s' if count > 1 else ''} detected: "
                       + "; ".join(problems), 400)


def to_xml(value: Any, shape: Any, name: str) -> str:
    """``value`` as the query protocol writes a member of ``shape`` named ``name``."""
    kind = shape.type_name
    if kind == "structure":
        inner = "".join(to_xml(value[member], member_shape, member_shape.serialization.get("name", member))
                        for member, member_shape in shape.members.items() if value.get(member) is not None)
    elif kind == "list":
        member_name = shape.member.serialization.get("name", "member")
        inner = "".join(to_xml(item, shape.member, member_name) for item in value)
        if shape.serialization.get("flattened"):
            return inner
    elif kind == "boolean":
        inner = "true" if value else "false"
    elif kind == "timestamp" and isinstance(value, datetime):
        inner = value.strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        inner = xml_text(str(value))
    return f"<{name}>{inner}</{name}>"


class IamApi:
    """The ASGI app answering IAM requests for one home."""

    def __init__(self, home: Path) -> None:
        self.store = IamStore(home)
        self._operations: frozenset[str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.answer(await Request(scope, receive).body())
        await response(scope, receive, send)

    def operations(self) -> frozenset[str]:
        """The IAM operations served (those :class:`~stepfn.local.iam.IamStore` keeps records for)."""
        if self._operations is None:
            self._operations = frozenset(name for name in service_model("iam").operation_names
                                         if callable(getattr(self.store, python_name(name), None)))
        return self._operations

    async def answer(self, body: bytes) -> Response:
        """The answer to one query-protocol request body."""
        # parse_qs, not request.form(): Starlette's form parser needs python-multipart even for urlencoded bodies.
        form = {key: values[-1] for key, values in
                parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        action = form.pop("Action", "")
        form.pop("Version", None)
        try:
            if action not in self.operations():
                raise IamError("InvalidAction", f"stepfn serve does not implement the IAM action {action!r} (it "
                               "keeps roles, their inline and attached policies, and customer managed policies)",
                               400)
            operation = service_model("iam").operation_model(action)
            params = parse_query(form, operation.input_shape) if operation.input_shape is not None else {}
            if operation.input_shape is not None:
                _validate(action, operation.input_shape, params)
            result = await run_in_threadpool(lambda: getattr(self.store, python_name(action))(**params))
        except IamError as error:
            return _error_response(error)
        request_id = str(uuid.uuid4())
        output = operation.output_shape
        inner = ""
        if output is not None:
            members = to_xml(result, output, "Result")[len("<Result>"):-len("</Result>")]
            wrapper = output.serialization.get("resultWrapper", f"{action}Result")
            inner = f"<{wrapper}>{members}</{wrapper}>"
        xml = (f'<{action}Response xmlns="{IAM_XMLNS}">{inner}<ResponseMetadata><RequestId>{request_id}'
               f"</RequestId></ResponseMetadata></{action}Response>")
        return Response(xml, media_type="text/xml", headers={"x-amzn-RequestId": request_id})


def create_iam_app(home: Path) -> IamApi:
    return IamApi(home)
