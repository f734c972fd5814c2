"""RecordIO-protobuf, the training format of the Amazon built-in algorithms (docs/design/sagemaker-contract.md §5.2).

Records are ``aialgs.data.Record`` protobuf messages (proto2): ``features`` and ``label`` are maps from a name to a
``Value`` holding a Float32/Float64/Int32 tensor. Each record is framed MXNet-RecordIO style: little-endian
``uint32`` magic ``0xCED7230A``, ``uint32`` length, the payload, and zero padding to a 4-byte boundary.

The protobuf wire format is written and read by hand (:mod:`stepfn._recordio`, shared with the local runtime), so
stepfn needs no protobuf runtime and no generated module. Rows are plain sequences of numbers; numpy arrays work as
they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from stepfn._recordio import MAGIC as RECORDIO_MAGIC
from stepfn._recordio import encode_dense_record, frame_record

__all__ = [
    "RECORDIO_MAGIC",
    "encode_dense_record",
    "frame_record",
    "tensor_type_of",
    "write_dense_records",
]


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


def write_dense_records(rows: Iterable[Sequence[Any]], labels: Sequence[Any] | None = None,
                        feature_type: str = "Float32", label_type: str = "Float32") -> bytes:
    """The bytes of a ``.pbr`` file: one framed record per row (as sagemaker v2 ``write_numpy_to_dense_tensor``)."""
    out = bytearray()
    for index, row in enumerate(rows):
        label = labels[index] if labels is not None else None
        out += frame_record(encode_dense_record(row, feature_type, label, label_type))
    return bytes(out)
