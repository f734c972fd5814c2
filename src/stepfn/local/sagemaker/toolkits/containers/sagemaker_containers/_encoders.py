"""The toolkit's default codecs between numpy arrays and JSON, CSV and NPY bodies."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from sagemaker_containers import _content_types, _errors


def _text(string_like: Any) -> str:
    # The toolkit's request hands JSON and CSV bodies over as text; bytes of the same are read as UTF-8.
    return string_like.decode("utf-8") if isinstance(string_like, (bytes, bytearray)) else str(string_like)


def array_to_npy(array_like: Any) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array_like)
    return buffer.getvalue()


def npy_to_numpy(npy_array: bytes) -> Any:
    """An NPY body as an array. Unlike the toolkit, pickled object arrays are refused: a request body must not run
    code in the model server."""
    import numpy as np

    return np.load(io.BytesIO(npy_array), allow_pickle=False)


def array_to_json(array_like: Any) -> str:
    def default(value: Any) -> Any:
        if hasattr(value, "tolist"):
            return value.tolist()
        return json.JSONEncoder().default(value)

    return json.dumps(array_like, default=default)


def json_to_numpy(string_like: Any, dtype: Any = None) -> Any:
    import numpy as np

    return np.array(json.loads(_text(string_like)), dtype=dtype)


def csv_to_numpy(string_like: Any, dtype: Any = None) -> Any:
    import numpy as np

    return np.genfromtxt(io.StringIO(_text(string_like)), dtype=dtype, delimiter=",")


def array_to_csv(array_like: Any) -> str:
    import numpy as np

    stream = io.StringIO()
    np.savetxt(stream, array_like, delimiter=",", fmt="%s")
    return stream.getvalue()


_encoders_map: dict[str, Callable[..., Any]] = {_content_types.NPY: array_to_npy, _content_types.CSV: array_to_csv,
                 _content_types.JSON: array_to_json}
_decoders_map: dict[str, Callable[..., Any]] = {_content_types.NPY: npy_to_numpy, _content_types.CSV: csv_to_numpy,
                 _content_types.JSON: json_to_numpy}


def _codec(table: dict[str, Callable[..., Any]], content_type: str) -> Callable[..., Any]:
    try:
        return table[content_type]
    except KeyError:
        raise _errors.UnsupportedFormatError(content_type) from None


def decode(obj: Any, content_type: str) -> Any:
    """``obj`` of ``content_type`` (exactly one of JSON, CSV, NPY) as a numpy array."""
    return _codec(_decoders_map, content_type)(obj)


def encode(array_like: Any, content_type: str) -> Any:
    """``array_like`` as a body of ``content_type`` (exactly one of JSON, CSV, NPY)."""
    return _codec(_encoders_map, content_type)(array_like)
