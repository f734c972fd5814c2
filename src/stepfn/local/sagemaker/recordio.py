"""RecordIO-protobuf (docs/design/sagemaker-contract.md §5.2) as the local runtime's built-in algorithms use it: the
records as numpy arrays. The codec itself is :mod:`stepfn._recordio`; numpy is imported only by these helpers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepfn._recordio import Record, RecordIOError, read_records

if TYPE_CHECKING:
    import numpy as np


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


__all__ = ["read_records_as_arrays", "records_to_arrays"]
