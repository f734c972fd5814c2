"""RecordIO-protobuf, the training format of the Amazon built-in algorithms (docs/design/sagemaker-contract.md §5.2).

Records are ``aialgs.data.Record`` protobuf messages (proto2): ``features`` and ``label`` are maps from a name to a
``Value`` holding a Float32/Float64/Int32 tensor. Each record is framed MXNet-RecordIO style: little-endian
``uint32`` magic ``0xCED7230A``, ``uint32`` length, the payload, and zero padding to a 4-byte boundary.

The protobuf wire format is written by hand here (it is a few dozen lines), so stepfn needs no protobuf runtime and
no generated module. Rows are plain sequences of numbers; numpy arrays work as they are.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "RECORDIO_MAGIC",
    "encode_dense_record",
    "frame_record",
    "write_dense_records",
]

RECORDIO_MAGIC = 0xCED7230A

# Value.oneof field numbers and the packed element encoding of each tensor type.
_TENSOR_FIELDS = {"Float32": 2, "Float64": 3, "Int32": 7}


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int32 negatives are sign-extended to 64 bits on the wire
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _varint((field << 3) | 2) + _varint(len(payload)) + payload


def _packed_values(tensor_type: str, values: Sequence[Any]) -> bytes:
    if tensor_type == "Float32":
        return struct.pack(f"<{len(values)}f", *values)
    if tensor_type == "Float64":
        return struct.pack(f"<{len(values)}d", *values)
    return b"".join(_varint(int(v)) for v in values)


def _tensor(tensor_type: str, values: Sequence[Any], keys: Sequence[int] | None = None,
            shape: Sequence[int] | None = None) -> bytes:
    body = b""
    if len(values):
        body += _length_delimited(1, _packed_values(tensor_type, values))
    if keys:
        body += _length_delimited(2, b"".join(_varint(int(k)) for k in keys))
    if shape:
        body += _length_delimited(3, b"".join(_varint(int(s)) for s in shape))
    return body


def _map_entry(field: int, name: str, tensor_type: str, tensor: bytes) -> bytes:
    value = _length_delimited(_TENSOR_FIELDS[tensor_type], tensor)
    entry = _length_delimited(1, name.encode("utf-8")) + _length_delimited(2, value)
    return _length_delimited(field, entry)


def tensor_type_of(dtype: Any) -> str:
    """sagemaker v2's dtype mapping: int -> Int32, float64 -> Float64, float32 -> Float32."""
    name = str(dtype)
    if name.startswith(("int", "uint")) or dtype is int:
        return "Int32"
    if name in ("float64", "<class 'float'>") or dtype is float:
        return "Float64"
    if name == "float32":
        return "Float32"
    raise ValueError(f"Unsupported dtype {dtype} on array")


def encode_dense_record(features: Sequence[Any], feature_type: str = "Float32", label: Any = None,
                        label_type: str = "Float32") -> bytes:
    """One ``Record`` with ``features["values"]`` (and ``label["values"] = [label]``), serialized."""
    for tensor_type in (feature_type, label_type):
        if tensor_type not in _TENSOR_FIELDS:
            raise ValueError(f"Unknown tensor type {tensor_type!r}; expected one of {', '.join(_TENSOR_FIELDS)}.")
    record = _map_entry(1, "values", feature_type, _tensor(feature_type, list(features)))
    if label is not None:
        record += _map_entry(2, "values", label_type, _tensor(label_type, [label]))
    return record


def frame_record(payload: bytes) -> bytes:
    """Frame one payload as a RecordIO record (magic, length, payload, padding to 4 bytes)."""
    padding = (-len(payload)) % 4
    return struct.pack("<II", RECORDIO_MAGIC, len(payload)) + payload + b"\x00" * padding


def write_dense_records(rows: Iterable[Sequence[Any]], labels: Sequence[Any] | None = None,
                        feature_type: str = "Float32", label_type: str = "Float32") -> bytes:
    """The bytes of a ``.pbr`` file: one framed record per row (as sagemaker v2 ``write_numpy_to_dense_tensor``)."""
    out = bytearray()
    for index, row in enumerate(rows):
        label = labels[index] if labels is not None else None
        out += frame_record(encode_dense_record(row, feature_type, label, label_type))
    return bytes(out)
