"""The toolkit's Flask ``Response`` that an ``output_fn`` may return: a body, a status and a media type.

The model server answers it as Flask would: the body, its status, and its content type (Flask adds
``; charset=utf-8`` to ``text/*`` types)."""

from __future__ import annotations

from typing import Any

from sagemaker_containers import _content_types


class Response:
    default_mimetype = _content_types.JSON
    charset = "utf-8"

    def __init__(self, response: Any = None, status: int = 200, headers: Any = None, mimetype: str | None = None,
                 accept: str | None = None) -> None:
        if response is None:
            body = b""
        elif isinstance(response, str):
            body = response.encode(self.charset)
        elif isinstance(response, (bytes, bytearray)):
            body = bytes(response)
        else:  # Flask takes an iterable of str or bytes
            body = b"".join(part.encode(self.charset) if isinstance(part, str) else bytes(part) for part in response)
        self.response = [body]
        self.status_code = int(status)
        self.headers = dict(headers or {})
        self.mimetype = mimetype or accept or self.default_mimetype

    @property
    def content_type(self) -> str:
        if self.mimetype.startswith("text/"):
            return f"{self.mimetype}; charset={self.charset}"
        return self.mimetype

    @property
    def data(self) -> bytes:
        return self.response[0]

    def get_data(self, as_text: bool = False) -> Any:
        body = self.response[0]
        return body.decode(self.charset) if as_text else body
