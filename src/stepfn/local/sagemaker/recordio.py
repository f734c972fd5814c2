"""RecordIO-protobuf, the data format of SageMaker's built-in algorithms (docs/design/sagemaker-contract.md §5.2), read and written
without generated protobuf code.

Framing (MXNet RecordIO): ``uint32 magic 0xCED7230A``, ``uint32 length`` (little-endian; the top 3 bits are a
continuation flag the SDK never sets, masked off here), the payload, zero padding to 4 bytes. The payload is
an ``aialgs.data.Record``::

    Record  { map<string, Value> features = 1; map<string, Value> label = 2; string uid = 3; ... }
    Value   { oneof: Float32Tensor float32_tensor = 2; Float64Tensor float64_tensor = 3;
              Int32Tensor int32_tensor = 7; Bytes bytes = 9 }
    *Tensor { repeated values = 1 [packed]; repeated uint64 keys = 2 [packed]; repeated uint64 shape = 3 [packed] }

The wire format is decoded by hand (both packed and unpacked repeated fields, as any proto2 parser accepts),
so neither ``protobuf`` nor a vendored ``record_pb2`` is needed. numpy is imported only by the array helpers.
Writing is the authoring side's job: :mod:`stepfn.sagemaker.recordio` (``write_dense_records``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

MAGIC = 0xCED7230A
_LENGTH_MASK = (1 << 29) - 1
_TENSOR_FIELDS = {2: ("f", 4), 3: ("d", 8), 7: ("i", 0)}  # Value field -> (struct code, fixed width; 0 = varint)


class RecordIOError(ValueError):
    """The bytes are not RecordIO-protobuf."""


@dataclass
class Tensor:
    """One tensor of a record: ``values`` plus, for sparse tensors, ``keys`` (column indices) and ``shape``."""

    values: list[float] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)
    shape: list[int] = field(default_factory=list)
    dtype: str = "float32"


@dataclass
class Record:
    features: dict[str, Tensor] = field(default_factory=dict)
    label: dict[str, Tensor] = field(default_factory=dict)


# -- framing --------------------------------------------------------------------------------------------------


def iter_frames(data: bytes) -> Iterator[bytes]:
    """The payload of each RecordIO frame in ``data``."""
    offset = 0
    size = len(data)
    while offset < size:
        if size - offset < 8:
            raise RecordIOError(f"truncated RecordIO header at byte {offset}")
        magic, length = struct.unpack_from("<II", data, offset)
        if magic != MAGIC:
            raise RecordIOError(f"bad RecordIO magic {magic:#x} at byte {offset}")
        length &= _LENGTH_MASK
        start = offset + 8
        if start + length > size:
            raise RecordIOError(f"truncated RecordIO record at byte {offset}")
        yield data[start:start + length]
        offset = start + length + (-length % 4)


# -- protobuf wire format ---------------------------------------------------------------------------------------


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if offset >= len(data):
            raise RecordIOError("truncated varint")
        byte = data[offset]
        offset += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, offset
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """``(field number, wire type, value)``; length-delimited values are bytes."""
    offset = 0
    while offset < len(data):
        tag, offset = _varint(data, offset)
        number, wire = tag >> 3, tag & 7
        value: Any
        if wire == 0:
            value, offset = _varint(data, offset)
        elif wire == 1:
            value, offset = data[offset:offset + 8], offset + 8
        elif wire == 2:
            length, offset = _varint(data, offset)
            value, offset = data[offset:offset + length], offset + length
        elif wire == 5:
            value, offset = data[offset:offset + 4], offset + 4
        else:
            raise RecordIOError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _tensor(data: bytes, kind: int) -> Tensor:
    code, width = _TENSOR_FIELDS[kind]
    tensor = Tensor(dtype={"f": "float32", "d": "float64", "i": "int32"}[code])
    for number, wire, value in _fields(data):
        if number == 1:
            if wire == 2 and width:
                tensor.values.extend(struct.unpack(f"<{len(value) // width}{code}", value))
            elif wire == 2:
                tensor.values.extend(_signed32(v) for v in _packed_varints(value))
            elif wire == 0:
                tensor.values.append(_signed32(value))
            else:
                tensor.values.append(struct.unpack("<" + code, value)[0])
        elif number in (2, 3):
            target = tensor.keys if number == 2 else tensor.shape
            if wire == 2:
                target.extend(_packed_varints(value))
            else:
                target.append(value)
    return tensor


def _packed_varints(data: bytes) -> Iterator[int]:
    offset = 0
    while offset < len(data):
        value, offset = _varint(data, offset)
        yield value


def _value(data: bytes) -> Tensor | None:
    for number, _, value in _fields(data):
        if number in _TENSOR_FIELDS:
            return _tensor(value, number)
    return None  # a Bytes value: not used by the tabular built-ins


def _map_entry(data: bytes) -> tuple[str, Tensor | None]:
    key, tensor = "", None
    for number, _, value in _fields(data):
        if number == 1:
            key = value.decode()
        elif number == 2:
            tensor = _value(value)
    return key, tensor


def decode_record(payload: bytes) -> Record:
    record = Record()
    for number, _, value in _fields(payload):
        if number in (1, 2):
            key, tensor = _map_entry(value)
            if tensor is not None:
                (record.features if number == 1 else record.label)[key] = tensor
    return record


def read_records(data: bytes) -> list[Record]:
    return [decode_record(payload) for payload in iter_frames(data)]


def records_to_arrays(records: list[Record], feature_dim: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(features, labels)``: dense float64 rows (sparse tensors expanded through keys/shape), labels or None."""
    import numpy as np

    width = feature_dim or 0
    for record in records:
        tensor = record.features.get("values")
        if tensor is not None:
            width = max(width, tensor.shape[0] if tensor.shape else 0, len(tensor.values) if not tensor.keys else 0,
                        max(tensor.keys) + 1 if tensor.keys else 0)
    features = np.zeros((len(records), width), dtype=np.float64)
    labels = np.zeros(len(records), dtype=np.float64)
    has_labels = bool(records)
    for index, record in enumerate(records):
        tensor = record.features.get("values")
        if tensor is None:
            raise RecordIOError(f"record {index} has no features['values'] tensor")
        if tensor.keys:
            features[index, tensor.keys] = tensor.values
        else:
            features[index, : len(tensor.values)] = tensor.values
        label = record.label.get("values")
        if label is None or not label.values:
            has_labels = False
        else:
            labels[index] = label.values[0]
    return features, (labels if has_labels else None)


def read_records_as_arrays(data: bytes, feature_dim: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """RecordIO-protobuf bytes -> ``(features, labels)`` numpy arrays (labels None when records carry none)."""
    return records_to_arrays(read_records(data), feature_dim)


__all__ = [
    "MAGIC",
    "Record",
    "RecordIOError",
    "Tensor",
    "decode_record",
    "iter_frames",
    "read_records",
    "read_records_as_arrays",
    "records_to_arrays",
]
