"""RecordIO-protobuf, the data format of SageMaker's built-in algorithms (docs/design/sagemaker-contract.md §5.2), read and
written without generated protobuf code.

Framing (MXNet RecordIO): ``uint32 magic 0xCED7230A``, ``uint32 length`` (little-endian; the top 3 bits are a
continuation flag the SDK never sets, masked off here), the payload, zero padding to 4 bytes. The payload is
an ``aialgs.data.Record``::

    Record  { map<string, Value> features = 1; map<string, Value> label = 2; string uid = 3; ... }
    Value   { oneof: Float32Tensor float32_tensor = 2; Float64Tensor float64_tensor = 3;
              Int32Tensor int32_tensor = 7; Bytes bytes = 9 }
    *Tensor { repeated values = 1 [packed]; repeated uint64 keys = 2 [packed]; repeated uint64 shape = 3 [packed] }

The wire format is encoded and decoded by hand (both packed and unpacked repeated fields are read, as any proto2
parser accepts them), so neither ``protobuf`` nor a vendored ``record_pb2`` is needed. Pure and dependency-free:
shared by the authoring side (``stepfn.sagemaker.recordio`` writes training data; the built-in algorithms'
predictors read responses) and the local runtime (the built-in algorithms read their channels and requests and
answer in it).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAGIC",
    "Record",
    "RecordIOError",
    "Tensor",
    "decode_record",
    "encode_dense_record",
    "encode_label_record",
    "frame_record",
    "iter_frames",
    "read_records",
]

MAGIC = 0xCED7230A
_LENGTH_MASK = (1 << 29) - 1
_TENSOR_CODES = {2: ("f", 4), 3: ("d", 8), 7: ("i", 0)}  # Value field -> (struct code, fixed width; 0 = varint)


class RecordIOError(ValueError):
    """The bytes are not RecordIO-protobuf."""


@dataclass
class Tensor:
    """One tensor of a record: ``values`` plus, for sparse tensors, ``keys`` (column indices) and ``shape``."""

    values: list[float] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)
    shape: list[int] = field(default_factory=list)
    dtype: str = "float32"

    # A record's map holds protobuf Values, each one tensor of the oneof; code written for sagemaker's record_pb2
    # reaches the tensor through the Value (``record.label["projection"].float32_tensor.values``). The Tensor
    # stands for its Value too: the member of its own type is itself, any other is empty, as an unset oneof member
    # reads in protobuf.
    @property
    def float32_tensor(self) -> Tensor:
        return self if self.dtype == "float32" else Tensor(dtype="float32")

    @property
    def float64_tensor(self) -> Tensor:
        return self if self.dtype == "float64" else Tensor(dtype="float64")

    @property
    def int32_tensor(self) -> Tensor:
        return self if self.dtype == "int32" else Tensor(dtype="int32")


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


def frame_record(payload: bytes) -> bytes:
    """Frame one payload as a RecordIO record (magic, length, payload, padding to 4 bytes)."""
    padding = (-len(payload)) % 4
    return struct.pack("<II", MAGIC, len(payload)) + payload + b"\x00" * padding


# -- protobuf wire format ---------------------------------------------------------------------------------------


def _read_varint(data: bytes, offset: int) -> tuple[int, int]:
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
        tag, offset = _read_varint(data, offset)
        number, wire = tag >> 3, tag & 7
        value: Any
        if wire == 0:
            value, offset = _read_varint(data, offset)
        elif wire == 1:
            value, offset = data[offset:offset + 8], offset + 8
        elif wire == 2:
            length, offset = _read_varint(data, offset)
            value, offset = data[offset:offset + length], offset + length
        elif wire == 5:
            value, offset = data[offset:offset + 4], offset + 4
        else:
            raise RecordIOError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _read_tensor(data: bytes, kind: int) -> Tensor:
    code, width = _TENSOR_CODES[kind]
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
        value, offset = _read_varint(data, offset)
        yield value


def _value(data: bytes) -> Tensor | None:
    for number, _, value in _fields(data):
        if number in _TENSOR_CODES:
            return _read_tensor(value, number)
    return None  # a Bytes value: not used by the tabular built-ins


def _read_map_entry(data: bytes) -> tuple[str, Tensor | None]:
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
            key, tensor = _read_map_entry(value)
            if tensor is not None:
                (record.features if number == 1 else record.label)[key] = tensor
    return record


def read_records(data: bytes) -> list[Record]:
    return [decode_record(payload) for payload in iter_frames(data)]


# -- writing --------------------------------------------------------------------------------------------------


# The Value.oneof field of each tensor type.
_VALUE_FIELDS = {"Float32": 2, "Float64": 3, "Int32": 7}


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


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


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


def _map_entry(number: int, name: str, tensor_type: str, tensor: bytes) -> bytes:
    value = _length_delimited(_VALUE_FIELDS[tensor_type], tensor)
    entry = _length_delimited(1, name.encode("utf-8")) + _length_delimited(2, value)
    return _length_delimited(number, entry)


def encode_dense_record(features: Sequence[Any], feature_type: str = "Float32", label: Any = None,
                        label_type: str = "Float32", *, keys: Sequence[int] | None = None,
                        shape: Sequence[int] | None = None) -> bytes:
    """One ``Record`` with ``features["values"]`` (and ``label["values"] = [label]``), serialized. With ``keys``
    (the column of each value) and ``shape`` (the row's width) the features are a sparse row."""
    for tensor_type in (feature_type, label_type):
        if tensor_type not in _VALUE_FIELDS:
            raise ValueError(f"Unknown tensor type {tensor_type!r}; expected one of {', '.join(_VALUE_FIELDS)}.")
    record = _map_entry(1, "values", feature_type, _tensor(feature_type, list(features), keys, shape))
    if label is not None:
        record += _map_entry(2, "values", label_type, _tensor(label_type, [label]))
    return record


def encode_label_record(label: Mapping[str, float | Iterable[float]]) -> bytes:
    """One ``Record`` whose ``label`` map holds a Float32 tensor per key (a number is a one-value tensor): how the
    built-in algorithms answer a RecordIO-protobuf request, e.g. ``{"projection": [...]}`` for PCA."""
    return b"".join(_map_entry(2, name, "Float32", _tensor("Float32", _values(values))) for name, values in label.items())


def _values(values: float | Iterable[float]) -> list[float]:
    return list(values) if isinstance(values, Iterable) else [values]
