"""sagemaker v2 ``sagemaker.serializers``: how a Predictor turns the caller's data into a request body.

Same classes, defaults and rules as v2 (``CONTENT_TYPE``, ``serialize(data)``). numpy and pandas are imported
only when a value needs them, so importing this module stays cheap.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from stepfn._extras import needs_extra

__all__ = [
    "BaseSerializer",
    "CSVSerializer",
    "DataSerializer",
    "IdentitySerializer",
    "JSONLinesSerializer",
    "JSONSerializer",
    "LibSVMSerializer",
    "NumpySerializer",
    "SimpleBaseSerializer",
    "SparseMatrixSerializer",
    "StringSerializer",
]


def _is_ndarray(data: Any) -> bool:
    return type(data).__module__ == "numpy" and type(data).__name__ == "ndarray"


class BaseSerializer:
    """Turns data into a request body; ``CONTENT_TYPE`` is the request's Content-Type."""

    @property
    def CONTENT_TYPE(self) -> str:
        """The request's media type (a subclass may also set it as a class attribute, as v2's docs show)."""
        return "application/octet-stream"

    def serialize(self, data: Any) -> Any:
        raise NotImplementedError


class SimpleBaseSerializer(BaseSerializer):
    """A serializer whose content type is a constructor argument (default: the class's ``default_content_type``)."""

    default_content_type = "application/json"

    def __init__(self, content_type: str | None = None) -> None:
        content_type = self.default_content_type if content_type is None else content_type
        if not isinstance(content_type, str):
            raise ValueError(f"content_type must be a string specifying the MIME type of the data sent in "
                             f"requests: e.g. 'application/json', 'text/csv', etc. Got {content_type}")
        self.content_type = content_type

    @property
    def CONTENT_TYPE(self) -> str:
        return self.content_type


class CSVSerializer(SimpleBaseSerializer):
    """Rows of values as CSV: a list of lists (or 2-D array) is one line per row; a DataFrame without header."""

    default_content_type = "text/csv"

    def serialize(self, data: Any) -> Any:
        if hasattr(data, "read"):
            return data.read()
        if type(data).__name__ == "DataFrame" and hasattr(data, "to_csv"):
            return data.to_csv(header=False, index=False)
        mutable_sequence = _sequence_like(data) and hasattr(data, "__setitem__")
        if mutable_sequence and len(data) > 0 and _sequence_like(data[0]):
            return "\n".join(_csv_row(row) for row in data)
        return _csv_row(data)


def _sequence_like(data: Any) -> bool:
    return hasattr(data, "__iter__") and hasattr(data, "__getitem__")


def _csv_row(data: Any) -> str:
    if isinstance(data, str):
        return data
    if _is_ndarray(data):
        data = data.flatten()
    if hasattr(data, "__len__"):
        if len(data) == 0:
            raise ValueError("Cannot serialize empty array")
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=",").writerow(data)
        return buffer.getvalue().rstrip("\r\n")
    raise ValueError(f"Unable to handle input format: {type(data)}")


class NumpySerializer(SimpleBaseSerializer):
    """An array in NPY format (``np.save``)."""

    default_content_type = "application/x-npy"

    def __init__(self, dtype: Any = None, content_type: str | None = None) -> None:
        super().__init__(content_type)
        self.dtype = dtype

    def serialize(self, data: Any) -> Any:
        with needs_extra("Serializing a request"):
            import numpy as np

        if isinstance(data, np.ndarray):
            if data.size == 0:
                raise ValueError("Cannot serialize empty array.")
            return _npy(data)
        if isinstance(data, list):
            if len(data) == 0:
                raise ValueError("Cannot serialize empty array.")
            return _npy(np.array(data, self.dtype))
        if hasattr(data, "read"):
            return data.read()
        return _npy(np.array(data))


def _npy(array: Any) -> bytes:
    with needs_extra("Serializing a request"):
        import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


class JSONSerializer(SimpleBaseSerializer):
    """JSON; arrays (also as dict values) become lists."""

    def serialize(self, data: Any) -> Any:
        if isinstance(data, dict):
            return json.dumps({key: value.tolist() if _is_ndarray(value) else value for key, value in data.items()})
        if hasattr(data, "read"):
            return data.read()
        if _is_ndarray(data):
            return json.dumps(data.tolist())
        return json.dumps(data)


class IdentitySerializer(SimpleBaseSerializer):
    """The data as given (bytes or str)."""

    default_content_type = "application/octet-stream"

    def serialize(self, data: Any) -> Any:
        return data


class JSONLinesSerializer(SimpleBaseSerializer):
    """One JSON document per line."""

    default_content_type = "application/jsonlines"

    def serialize(self, data: Any) -> Any:
        if isinstance(data, str):
            return data
        if hasattr(data, "read"):
            return data.read()
        if isinstance(data, Iterable):
            return "\n".join(json.dumps(element) for element in data)
        raise ValueError(f"Object of type {type(data)} is not JSON Lines serializable.")


class SparseMatrixSerializer(SimpleBaseSerializer):
    """A scipy sparse matrix in NPZ format (``scipy.sparse.save_npz``)."""

    default_content_type = "application/x-npz"

    def serialize(self, data: Any) -> Any:
        with needs_extra("Serializing a request"):
            import scipy.sparse

        buffer = io.BytesIO()
        scipy.sparse.save_npz(buffer, data)
        return buffer.getvalue()


class LibSVMSerializer(SimpleBaseSerializer):
    """LibSVM text, given as a string or a file-like object."""

    default_content_type = "text/libsvm"

    def serialize(self, data: Any) -> Any:
        if isinstance(data, str):
            return data
        if hasattr(data, "read"):
            return data.read()
        raise ValueError(f"Unable to handle input format: {type(data)}")


class DataSerializer(SimpleBaseSerializer):
    """Raw bytes, or the contents of the file a string names."""

    default_content_type = "file-path/raw-bytes"

    def serialize(self, data: Any) -> Any:
        if isinstance(data, str):
            try:
                with open(data, "rb") as handle:
                    return handle.read()
            except OSError as exc:
                raise ValueError(f"Could not open/read file: {data}. {exc}") from exc
        if isinstance(data, bytes):
            return data
        raise ValueError(f"Object of type {type(data)} is not Data serializable.")


class StringSerializer(SimpleBaseSerializer):
    """A string, as given."""

    default_content_type = "text/plain"

    def serialize(self, data: Any) -> Any:
        if isinstance(data, str):
            return data
        raise ValueError(f"Object of type {type(data)} is not String serializable.")
