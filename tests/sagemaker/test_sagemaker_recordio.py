"""``record_set()`` writes RecordIO-protobuf that an independent reader decodes (docs/design/sagemaker-contract.md §5.2).

The reader here shares nothing with stepfn's encoder: it unframes the MXNet RecordIO records itself and parses
each payload with the protobuf runtime, from a descriptor built for ``aialgs.data.Record`` in this file.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from stepfn.local.objectstore import ObjectStore
from stepfn.sagemaker import KMeans, LinearLearner, RecordSet, Session
from stepfn.sagemaker.recordio import write_dense_records

SESSION = Session(region_name="us-east-1", default_bucket="my-bucket")
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def record_class() -> Any:
    """``Record`` from ``record.proto`` (proto2, package aialgs.data), built from a descriptor."""
    proto = descriptor_pb2.FileDescriptorProto(name="test_record.proto", package="aialgs.data", syntax="proto2")
    label = descriptor_pb2.FieldDescriptorProto
    for name, value_type in (("Float32Tensor", label.TYPE_FLOAT), ("Float64Tensor", label.TYPE_DOUBLE),
                             ("Int32Tensor", label.TYPE_INT32)):
        message = proto.message_type.add(name=name)
        message.field.add(name="values", number=1, type=value_type, label=label.LABEL_REPEATED,
                          options=descriptor_pb2.FieldOptions(packed=True))
        message.field.add(name="keys", number=2, type=label.TYPE_UINT64, label=label.LABEL_REPEATED,
                          options=descriptor_pb2.FieldOptions(packed=True))
        message.field.add(name="shape", number=3, type=label.TYPE_UINT64, label=label.LABEL_REPEATED,
                          options=descriptor_pb2.FieldOptions(packed=True))
    value = proto.message_type.add(name="Value")
    value.oneof_decl.add(name="value")
    for name, number in (("float32_tensor", 2), ("float64_tensor", 3), ("int32_tensor", 7)):
        type_name = "." + "aialgs.data." + {"float32_tensor": "Float32Tensor", "float64_tensor": "Float64Tensor",
                                            "int32_tensor": "Int32Tensor"}[name]
        value.field.add(name=name, number=number, type=label.TYPE_MESSAGE, type_name=type_name,
                        label=label.LABEL_OPTIONAL, oneof_index=0)
    record = proto.message_type.add(name="Record")
    for map_name, number in (("features", 1), ("label", 2)):
        entry_name = "".join(part.title() for part in map_name.split("_")) + "Entry"
        entry = record.nested_type.add(name=entry_name, options=descriptor_pb2.MessageOptions(map_entry=True))
        entry.field.add(name="key", number=1, type=label.TYPE_STRING, label=label.LABEL_OPTIONAL)
        entry.field.add(name="value", number=2, type=label.TYPE_MESSAGE, type_name=".aialgs.data.Value",
                        label=label.LABEL_OPTIONAL)
        record.field.add(name=map_name, number=number, type=label.TYPE_MESSAGE, label=label.LABEL_REPEATED,
                         type_name=f".aialgs.data.Record.{entry_name}")
    record.field.add(name="uid", number=3, type=label.TYPE_STRING, label=label.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("aialgs.data.Record"))


RECORD = record_class()


def read_recordio(data: bytes) -> list[Any]:
    records = []
    offset = 0
    while offset < len(data):
        magic, length = struct.unpack_from("<II", data, offset)
        assert magic == 0xCED7230A
        length &= (1 << 29) - 1
        payload = data[offset + 8: offset + 8 + length]
        offset += 8 + length + (-length % 4)
        message = RECORD()
        message.ParseFromString(payload)
        records.append(message)
    assert offset == len(data)
    return records


def tensor_values(value: Any) -> tuple[str, list[float]]:
    kind = value.WhichOneof("value")
    return kind, list(getattr(value, kind).values)


def test_record_set_writes_manifest_and_shards_through_the_uploader() -> None:
    stored: dict[str, bytes] = {}
    estimator = KMeans(role=ROLE, instance_count=2, instance_type="ml.c5.xlarge", k=2, sagemaker_session=SESSION)
    train = np.arange(15, dtype="float32").reshape(5, 3)
    labels = np.array([0.0, 1.0, 0.0, 1.0, 1.0], dtype="float32")
    records = estimator.record_set(train, labels=labels, upload=lambda uri, data: stored.__setitem__(uri, data))

    assert isinstance(records, RecordSet)
    assert (records.num_records, records.feature_dim, records.channel) == (5, 3, "train")
    assert records.s3_data.startswith("s3://my-bucket/sagemaker-record-sets/KMeans-")
    assert records.s3_data.endswith("/.amazon.manifest")
    prefix = records.s3_data.removesuffix(".amazon.manifest")
    manifest = json.loads(stored[records.s3_data])
    assert manifest == [{"prefix": prefix}, "matrix_0.pbr", "matrix_1.pbr"]
    shards = [read_recordio(stored[prefix + name]) for name in manifest[1:]]
    assert [len(shard) for shard in shards] == [2, 3]  # the last shard takes the remainder
    decoded = [record for shard in shards for record in shard]
    for row, label, record in zip(train, labels, decoded, strict=True):
        assert tensor_values(record.features["values"]) == ("float32_tensor", row.tolist())
        assert tensor_values(record.label["values"]) == ("float32_tensor", [label])


def test_record_set_dtypes_and_default_object_store() -> None:
    estimator = LinearLearner(role=ROLE, instance_count=1, instance_type="ml.c5.xlarge", predictor_type="regressor",
                              sagemaker_session=SESSION, data_location="s3://my-bucket/rs")
    train = np.array([[1.5, -2.25], [1e10, 3.0]], dtype="float64")
    labels = np.array([7, -3], dtype="int64")
    records = estimator.record_set(train, labels=labels, channel="validation")
    store = ObjectStore()
    prefix = records.s3_data.removesuffix(".amazon.manifest")
    assert prefix.startswith("s3://my-bucket/rs/LinearLearner-")
    decoded = read_recordio(store.get_bytes(prefix + "matrix_0.pbr"))
    assert [tensor_values(r.features["values"]) for r in decoded] == [
        ("float64_tensor", [1.5, -2.25]), ("float64_tensor", [1e10, 3.0])]
    assert [tensor_values(r.label["values"]) for r in decoded] == [("int32_tensor", [7]), ("int32_tensor", [-3])]
    assert records.channel == "validation"


def test_features_without_labels_and_padding() -> None:
    payloads = read_recordio(write_dense_records([[1, 2, 3]], feature_type="Int32"))
    assert tensor_values(payloads[0].features["values"]) == ("int32_tensor", [1, 2, 3])
    assert len(payloads[0].label) == 0
    data = write_dense_records([[0.5]])
    assert len(data) % 4 == 0


@pytest.mark.parametrize(("train", "labels", "message"), [
    (np.zeros(3), None, "Array must be a Matrix"),
    (np.zeros((3, 2)), np.zeros((3, 1)), "Labels must be a Vector"),
    (np.zeros((3, 2)), np.zeros(5), "not compatible"),
    (np.zeros((3, 2), dtype="complex64"), None, "Unsupported dtype"),
    (np.zeros((1, 2)), None, "Array length is less than num shards"),
])
def test_record_set_rejects_bad_arrays(train: Any, labels: Any, message: str) -> None:
    estimator = KMeans(role=ROLE, instance_count=2, instance_type="ml.c5.xlarge", k=2, sagemaker_session=SESSION)
    with pytest.raises(ValueError, match=message):
        estimator.record_set(train, labels=labels, upload=lambda uri, data: None)


def test_amazon_common_writes_what_the_sagemaker_toolkit_writes_and_reads_it_back() -> None:
    """sagemaker v2's ``sagemaker.amazon.common`` functions, as notebooks call them (``import sagemaker.amazon.common as
    smac``; ``smac.write_numpy_to_dense_tensor(buf, vectors, labels)``): byte for byte what the sagemaker-training
    toolkit's copy of v2's writers (the protobuf runtime's serialization) writes, dense and sparse."""
    import io

    from sagemaker_training import recordio as toolkit
    from scipy.sparse import csr_matrix

    import stepfn.sagemaker.amazon.common as smac

    rng = np.random.default_rng(9)
    for array, labels in ((rng.normal(size=(5, 3)).astype("float32"), rng.integers(0, 2, 5).astype("float32")),
                          (rng.normal(size=(4, 2)), None), (rng.integers(-5, 5, size=(3, 4)), np.arange(3.0))):
        ours, theirs = io.BytesIO(), io.BytesIO()
        smac.write_numpy_to_dense_tensor(ours, array, labels)
        toolkit._write_numpy_to_dense_tensor(theirs, array, labels)
        assert ours.getvalue() == theirs.getvalue()
        ours.seek(0)
        records = smac.read_records(ours)
        assert np.array_equal(np.array([r.features["values"].values for r in records], dtype=array.dtype), array)
    sparse = csr_matrix(np.array([[0, 1.5, 0, 0], [2.0, 0, 0, -1.0], [0, 0, 0, 0]], dtype="float32"))
    ours, theirs = io.BytesIO(), io.BytesIO()
    smac.write_spmatrix_to_sparse_tensor(ours, sparse, np.array([1.0, 0.0, 1.0], dtype="float32"))
    toolkit._write_spmatrix_to_sparse_tensor(theirs, sparse, np.array([1.0, 0.0, 1.0], dtype="float32"))
    assert ours.getvalue() == theirs.getvalue()
    ours.seek(0)
    first, second, _ = smac.read_records(ours)
    assert (second.features["values"].float32_tensor.keys, second.features["values"].float32_tensor.values,
            second.features["values"].shape, second.label["values"].values) == ([0, 3], [2.0, -1.0], [4], [0.0])
    assert first.features["values"].keys == [1]
    with pytest.raises(ValueError, match="Array must be a Matrix"):
        smac.write_numpy_to_dense_tensor(io.BytesIO(), np.zeros(3))
    with pytest.raises(ValueError, match=r"Label shape \(2,\) not compatible with array shape \(3, 1\)"):
        smac.write_numpy_to_dense_tensor(io.BytesIO(), np.zeros((3, 1)), np.zeros(2))
    with pytest.raises(TypeError, match="Array must be sparse"):
        smac.write_spmatrix_to_sparse_tensor(io.BytesIO(), np.zeros((3, 1)))
