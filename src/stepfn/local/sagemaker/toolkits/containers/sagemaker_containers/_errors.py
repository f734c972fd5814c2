"""The toolkit's errors that scripts catch or raise."""

from __future__ import annotations


class ClientError(Exception):
    """A request the handlers refuse."""


class UnsupportedFormatError(Exception):
    """A content type the default codecs cannot decode or encode (the toolkit's message)."""

    def __init__(self, content_type: str) -> None:
        self.content_type = content_type
        self.message = (f"Content type {content_type} is not supported by this framework.\n\n"
                        "Please implement input_fn to to deserialize the request data or an output_fn to\n"
                        "serialize the response. For more information, see the SageMaker Python SDK README.")
        super().__init__(self.message)
