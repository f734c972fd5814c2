"""sagemaker v2 ``sagemaker.deserializers``: how a Predictor turns a response body into a value.

``deserialize(stream, content_type)`` reads and closes ``stream``; ``ACCEPT`` is the tuple of media types the
Predictor asks for. Same classes, defaults and rules as v2.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from typing import Any

from stepfn._extras import needs_extra

__all__ = [
    "BaseDeserializer",
    "BytesDeserializer",
    "CSVDeserializer",
    "JSONDeserializer",
    "JSONLinesDeserializer",
    "NumpyDeserializer",
    "PandasDeserializer",
    "SimpleBaseDeserializer",
    "StreamDeserializer",
    "StringDeserializer",
]


class BaseDeserializer:
    """Turns a response body into a value."""

    @property
    def ACCEPT(self) -> tuple[str, ...]:
        """The media types asked for (a subclass may also set it as a class attribute)."""
        return ("*/*",)

    def deserialize(self, stream: Any, content_type: str) -> Any:
        raise NotImplementedError


class SimpleBaseDeserializer(BaseDeserializer):
    """A deserializer whose accepted type(s) are a constructor argument."""

    default_accept: str | tuple[str, ...] = "*/*"

    def __init__(self, accept: str | tuple[str, ...] | None = None) -> None:
        self.accept = self.default_accept if accept is None else accept

    @property
    def ACCEPT(self) -> tuple[str, ...]:
        return (self.accept,) if isinstance(self.accept, str) else tuple(self.accept)


class StringDeserializer(SimpleBaseDeserializer):
    default_accept: str | tuple[str, ...] = "application/json"

    def __init__(self, encoding: str = "UTF-8", accept: str | tuple[str, ...] | None = None) -> None:
        super().__init__(accept)
        self.encoding = encoding

    def deserialize(self, stream: Any, content_type: str) -> Any:
        try:
            return stream.read().decode(self.encoding)
        finally:
            stream.close()


class BytesDeserializer(SimpleBaseDeserializer):
    def deserialize(self, stream: Any, content_type: str) -> Any:
        try:
            return stream.read()
        finally:
            stream.close()


class CSVDeserializer(SimpleBaseDeserializer):
    """A list of rows, each a list of strings."""

    default_accept = "text/csv"

    def __init__(self, encoding: str = "utf-8", accept: str | tuple[str, ...] | None = None) -> None:
        super().__init__(accept)
        self.encoding = encoding

    def deserialize(self, stream: Any, content_type: str) -> Any:
        try:
            return list(csv.reader(stream.read().decode(self.encoding).splitlines()))
        finally:
            stream.close()


class StreamDeserializer(SimpleBaseDeserializer):
    """``(stream, content_type)``: the caller reads and closes the stream."""

    def deserialize(self, stream: Any, content_type: str) -> Any:
        return stream, content_type


class NumpyDeserializer(SimpleBaseDeserializer):
    """An array from CSV, JSON or NPY/NPZ bodies."""

    default_accept = "application/x-npy"

    def __init__(self, dtype: Any = None, accept: str | tuple[str, ...] | None = None,
                 allow_pickle: bool = False) -> None:
        super().__init__(accept)
        self.dtype = dtype
        self.allow_pickle = allow_pickle

    def deserialize(self, stream: Any, content_type: str) -> Any:
        with needs_extra("Deserializing a response"):
            import numpy as np

        try:
            if content_type == "text/csv":
                return np.genfromtxt(codecs.getreader("utf-8")(stream), delimiter=",", dtype=self.dtype)
            if content_type == "application/json":
                return np.array(json.load(codecs.getreader("utf-8")(stream)), dtype=self.dtype)
            if content_type in ("application/x-npy", "application/x-npz"):
                try:
                    return np.load(io.BytesIO(stream.read()), allow_pickle=self.allow_pickle)
                except ValueError as exc:
                    raise ValueError("Please set the param allow_pickle=True to deserialize pickle objects in "
                                     "NumpyDeserializer") from exc
        finally:
            stream.close()
        raise ValueError(f"NumpyDeserializer cannot read content type {content_type}.")


class JSONDeserializer(SimpleBaseDeserializer):
    default_accept: str | tuple[str, ...] = "application/json"

    def deserialize(self, stream: Any, content_type: str) -> Any:
        try:
            return json.load(codecs.getreader("utf-8")(stream))
        finally:
            stream.close()


class PandasDeserializer(SimpleBaseDeserializer):
    """A DataFrame from a CSV or JSON body."""

    default_accept = ("text/csv", "application/json")

    def deserialize(self, stream: Any, content_type: str) -> Any:
        with needs_extra("Deserializing a response"):
            import pandas

        if content_type == "text/csv":
            return pandas.read_csv(stream)
        if content_type == "application/json":
            return pandas.read_json(stream)
        raise ValueError(f"PandasDeserializer cannot read content type {content_type}.")


class JSONLinesDeserializer(SimpleBaseDeserializer):
    default_accept = "application/jsonlines"

    def deserialize(self, stream: Any, content_type: str) -> Any:
        try:
            return [json.loads(line) for line in stream.read().decode("utf-8").rstrip().split("\n")]
        finally:
            stream.close()
