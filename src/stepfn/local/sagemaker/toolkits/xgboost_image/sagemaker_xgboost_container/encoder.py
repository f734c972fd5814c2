"""Request bodies as DMatrix objects, as the XGBoost image's ``encoder`` decodes them: CSV and LIBSVM (the
RecordIO-protobuf decoder is not provided)."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable
from typing import Any

CSV = "text/csv"
LIBSVM = "text/libsvm"
X_LIBSVM = "text/x-libsvm"
X_RECORDIO_PROTOBUF = "application/x-recordio-protobuf"


def _clean_csv_string(csv_string: str, delimiter: str) -> list[str]:
    return ["nan" if value == "" else value for value in csv_string.split(delimiter)]


def csv_to_dmatrix(input: Any, dtype: Any = None) -> Any:
    """CSV rows (str or UTF-8 bytes, no surrounding newlines) as a DMatrix; the delimiter sniffed from the first
    line, empty fields missing values."""
    import numpy as np
    import xgboost as xgb

    text = input.decode() if isinstance(input, (bytes, bytearray)) else input
    try:
        sniffed = csv.Sniffer().sniff(text.split("\n")[0][:512]).delimiter
    except csv.Error:
        sniffed = ","
    delimiter = "," if sniffed.isalnum() else sniffed
    rows = [_clean_csv_string(line, delimiter) for line in text.split("\n")]
    return xgb.DMatrix(np.array(rows).astype(dtype))


def libsvm_to_dmatrix(string_like: Any) -> Any:
    """LIBSVM rows (bytes or str) as a DMatrix, read by XGBoost from a temporary file, as the container does."""
    from sagemaker_xgboost_container.data_utils import _dmatrix

    data = string_like.encode() if isinstance(string_like, str) else bytes(string_like)
    handle, path = tempfile.mkstemp()
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        return _dmatrix(f"{path}?format=libsvm")
    finally:
        os.remove(path)


def recordio_protobuf_to_dmatrix(string_like: Any) -> Any:
    raise ValueError("stepfn's sagemaker_xgboost_container does not decode RecordIO-protobuf: send text/csv or "
                     "text/libsvm")


_dmatrix_decoders_map: dict[str, Callable[[Any], Any]] = {CSV: csv_to_dmatrix, LIBSVM: libsvm_to_dmatrix, X_LIBSVM: libsvm_to_dmatrix,
                         X_RECORDIO_PROTOBUF: recordio_protobuf_to_dmatrix}


def json_to_jsonlines(json_data: Any) -> bytes:
    """A one-key JSON response (dict or str) as JSON Lines of that key's entries."""
    response = json_data if isinstance(json_data, dict) else json.loads(json_data)
    if len(response.keys()) != 1:
        raise ValueError("JSON response is not compatible for conversion to jsonlines.")
    out = io.BytesIO()
    for value in response.values():
        for entry in value:
            out.write((json.dumps(entry) + "\n").encode("utf-8"))
    return out.getvalue()


def decode(obj: Any, content_type: str) -> Any:
    """``obj`` of ``content_type`` (parameters ignored) as a DMatrix."""
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        decoder = _dmatrix_decoders_map[media]
    except KeyError:
        from sagemaker_containers import _errors

        raise _errors.UnsupportedFormatError(media) from None
    return decoder(obj)
