"""Predictors, serializers and deserializers as a notebook uses them, against a real local endpoint."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.endpoints import Endpoints, list_endpoints, stop_endpoint
from stepfn.local.sagemaker.models import create_endpoint_config, create_model
from stepfn.local.sagemaker.records import RecordStore
from stepfn.sagemaker import Session, image_uris
from stepfn.sagemaker.deserializers import (
    BytesDeserializer,
    CSVDeserializer,
    JSONDeserializer,
    JSONLinesDeserializer,
    NumpyDeserializer,
    PandasDeserializer,
    StringDeserializer,
)
from stepfn.sagemaker.huggingface import HuggingFacePredictor
from stepfn.sagemaker.predictor import Predictor
from stepfn.sagemaker.pytorch import PyTorchPredictor
from stepfn.sagemaker.serializers import (
    CSVSerializer,
    IdentitySerializer,
    JSONLinesSerializer,
    JSONSerializer,
    NumpySerializer,
)
from stepfn.sagemaker.sklearn import SKLearnPredictor
from stepfn.sagemaker.tensorflow import TensorFlowPredictor
from stepfn.sagemaker.xgboost import XGBoostPredictor

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture
def endpoint(stepfn_home: Path, tmp_path: Path) -> Iterator[tuple[str, Any, np.ndarray]]:
    """A LogisticRegression saved as model.joblib, served by the scikit-learn image's defaults."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 3))
    model = LogisticRegression().fit(features, (features[:, 0] > 0).astype(int))
    joblib.dump(model, tmp_path / "model.joblib")
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "model.joblib", arcname="model.joblib")
    uri = ObjectStore().upload(tmp_path / "model.tar.gz", "s3://bucket/sk/model.tar.gz")
    image = image_uris.retrieve("sklearn", "us-east-1", "1.2-1", "py3", "ml.m5.large", image_scope="inference")
    records = RecordStore(stepfn_home)
    create_model(records, {"ModelName": "sk", "ExecutionRoleArn": ROLE,
                           "PrimaryContainer": {"Image": image, "ModelDataUrl": uri}})
    create_endpoint_config(records, {"EndpointConfigName": "sk-config", "ProductionVariants": [
        {"VariantName": "AllTraffic", "ModelName": "sk", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}]})
    Endpoints(stepfn_home).create({"EndpointName": "sk-ep", "EndpointConfigName": "sk-config"})
    yield "sk-ep", model, features
    for listed in list_endpoints(stepfn_home):
        stop_endpoint(listed["EndpointName"], stepfn_home)


def test_sklearn_predictor_round_trips_numpy(endpoint: tuple[str, Any, np.ndarray]) -> None:
    name, model, features = endpoint
    predictor = SKLearnPredictor(name)
    assert predictor.content_type == "application/x-npy" and predictor.accept == ("application/x-npy",)
    predicted = predictor.predict(features[:5])
    assert isinstance(predicted, np.ndarray)
    assert predicted.tolist() == model.predict(features[:5]).tolist()


def test_predictor_with_csv_and_json(endpoint: tuple[str, Any, np.ndarray]) -> None:
    name, model, features = endpoint
    csv_predictor = Predictor(name, serializer=CSVSerializer(), deserializer=CSVDeserializer())
    rows = csv_predictor.predict(features[:3].tolist())
    assert [int(float(row[0])) for row in rows] == model.predict(features[:3]).tolist()
    json_predictor = Predictor(endpoint_name=name, sagemaker_session=Session(region_name="us-east-1"),
                               serializer=JSONSerializer(), deserializer=JSONDeserializer())
    assert json_predictor.predict(features[:2]) == model.predict(features[:2]).tolist()
    # A raw request through initial_args, as v2 allows.
    raw = Predictor(name).predict(",".join(map(str, features[0])).encode(),
                                  initial_args={"ContentType": "text/csv", "Accept": "text/csv"})
    assert float(raw.decode()) == model.predict(features[:1])[0]


def test_delete_endpoint_stops_the_server_and_forgets_the_config(stepfn_home: Path,
                                                                  endpoint: tuple[str, Any, np.ndarray]) -> None:
    name, _, features = endpoint
    predictor = SKLearnPredictor(name)
    predictor.delete_model()
    predictor.delete_endpoint()
    assert list_endpoints(stepfn_home) == []
    records = RecordStore(stepfn_home)
    assert records.get("endpoint-config", "sk-config") is None and records.get("model", "sk") is None
    with pytest.raises(Exception, match="not found"):
        predictor.predict(features[:1])


def test_framework_predictors_have_sagemaker_v2_defaults() -> None:
    expected = {
        SKLearnPredictor: ("application/x-npy", ("application/x-npy",)),
        PyTorchPredictor: ("application/x-npy", ("application/x-npy",)),
        XGBoostPredictor: ("text/libsvm", ("text/csv",)),
        TensorFlowPredictor: ("application/json", ("application/json",)),
        HuggingFacePredictor: ("application/json", ("application/json",)),
        Predictor: ("application/octet-stream", ("*/*",)),
    }
    for cls, (content_type, accept) in expected.items():
        predictor = cls("ep")
        assert (predictor.content_type, predictor.accept) == (content_type, accept), cls
    with pytest.raises(TypeError, match="content_type has been removed"):
        Predictor("ep", content_type="text/csv")
    with pytest.warns(DeprecationWarning, match="endpoint has been renamed"):
        assert Predictor(endpoint="old").endpoint_name == "old"


def test_serializers_follow_sagemaker_v2() -> None:
    csv = CSVSerializer()
    assert csv.serialize([[1, 2], [3, 4]]) == "1,2\n3,4"
    assert csv.serialize(np.array([[1.5, 2.0]])) == "1.5,2.0"
    assert csv.serialize([1, "a b", 3]) == "1,a b,3"
    assert csv.serialize("already,csv") == "already,csv"
    with pytest.raises(ValueError, match="empty array"):
        csv.serialize([])
    import pandas as pd

    assert csv.serialize(pd.DataFrame({"a": [1, 2], "b": [3, 4]})) == "1,3\n2,4\n"
    array = np.arange(6).reshape(2, 3)
    assert np.load(io.BytesIO(NumpySerializer().serialize(array))).tolist() == array.tolist()
    assert np.load(io.BytesIO(NumpySerializer(dtype="float32").serialize([1, 2]))).dtype == np.float32
    assert json.loads(JSONSerializer().serialize({"x": np.array([1, 2]), "y": 3})) == {"x": [1, 2], "y": 3}
    assert JSONLinesSerializer().serialize([{"a": 1}, {"b": 2}]) == '{"a": 1}\n{"b": 2}'
    assert IdentitySerializer().serialize(b"raw") == b"raw"


def test_deserializers_follow_sagemaker_v2() -> None:
    def body(data: bytes) -> io.BytesIO:
        return io.BytesIO(data)

    assert CSVDeserializer().deserialize(body(b"1,2\n3,4"), "text/csv") == [["1", "2"], ["3", "4"]]
    assert JSONDeserializer().deserialize(body(b'{"a": [1]}'), "application/json") == {"a": [1]}
    assert StringDeserializer().deserialize(body(b"hi"), "text/plain") == "hi"
    assert BytesDeserializer().deserialize(body(b"\x00"), "application/octet-stream") == b"\x00"
    assert JSONLinesDeserializer().deserialize(body(b'{"a":1}\n{"a":2}\n'), "application/jsonlines") == [
        {"a": 1}, {"a": 2}]
    assert NumpyDeserializer().deserialize(body(b"1,2\n3,4"), "text/csv").tolist() == [[1, 2], [3, 4]]
    assert NumpyDeserializer().deserialize(body(b"[[1, 2]]"), "application/json").tolist() == [[1, 2]]
    with pytest.raises(ValueError, match="cannot read content type"):
        NumpyDeserializer().deserialize(body(b""), "text/plain")
    frame = PandasDeserializer().deserialize(body(b"a,b\n1,2\n"), "text/csv")
    assert frame.to_dict("list") == {"a": [1], "b": [2]}


def test_an_a_b_endpoint_from_production_variants(endpoint: tuple[str, Any, np.ndarray]) -> None:
    """sagemaker v2's A/B testing notebooks: ``Session.create_model`` of a second model from ``container_def``,
    ``production_variant`` for each, ``endpoint_from_production_variants``; each variant answers when targeted."""
    from stepfn.sagemaker.session import container_def, production_variant

    _, model, features = endpoint
    session = Session()
    image = image_uris.retrieve("sklearn", "us-east-1", "1.2-1", "py3", "ml.m5.large", image_scope="inference")
    assert session.create_model("sk-b", "SageMakerRole", container_def(image, "s3://bucket/sk/model.tar.gz")) == "sk-b"
    assert session.sagemaker_client.describe_model(ModelName="sk-b")["ExecutionRoleArn"] == (
        "arn:aws:iam::123456789012:role/SageMakerRole")  # a role name, expanded in the session's account
    variants = [production_variant("sk", "ml.m5.large", variant_name="Variant1", initial_weight=1),
                production_variant("sk-b", "ml.m5.large", variant_name="Variant2", initial_weight=3)]
    assert variants[1] == {"ModelName": "sk-b", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1,
                           "VariantName": "Variant2", "InitialVariantWeight": 3}
    assert session.endpoint_from_production_variants("sk-ab", variants) == "sk-ab"
    config = session.sagemaker_client.describe_endpoint_config(EndpointConfigName="sk-ab")
    assert [v["VariantName"] for v in config["ProductionVariants"]] == ["Variant1", "Variant2"]
    predictor = SKLearnPredictor("sk-ab")
    expected = model.predict(features[:4]).tolist()
    for variant in ("Variant1", "Variant2"):
        assert predictor.predict(features[:4], target_variant=variant).tolist() == expected


def test_endpoints_from_model_data_and_from_a_training_job(stepfn_home: Path,
                                                           endpoint: tuple[str, Any, np.ndarray]) -> None:
    """``Session.endpoint_from_model_data`` and ``endpoint_from_job`` (older notebooks deploy so): the model and
    config are made unless they exist, an endpoint's name is not taken twice, the job's image, artifacts and role are
    the defaults."""
    _, model, features = endpoint
    session = Session()
    image = image_uris.retrieve("sklearn", "us-east-1", "1.2-1", "py3", "ml.m5.large", image_scope="inference")
    assert session.endpoint_from_model_data("s3://bucket/sk/model.tar.gz", image, 1, "ml.m5.large",
                                            name="sk-data", role=ROLE) == "sk-data"
    assert SKLearnPredictor("sk-data").predict(features[:3]).tolist() == model.predict(features[:3]).tolist()
    with pytest.raises(ValueError, match='Endpoint with name "sk-data" already exists'):
        session.endpoint_from_model_data("s3://bucket/sk/model.tar.gz", image, 1, "ml.m5.large", name="sk-data")

    RecordStore(stepfn_home).put("training-job", "sk-job", {
        "TrainingJobName": "sk-job", "TrainingJobStatus": "Completed", "RoleArn": ROLE,
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/sk-job",
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "ModelArtifacts": {"S3ModelArtifacts": "s3://bucket/sk/model.tar.gz"}})
    assert session.endpoint_from_job("sk-job", 1, "ml.m5.large") == "sk-job"
    described = session.sagemaker_client.describe_model(ModelName="sk-job")
    assert (described["PrimaryContainer"]["Image"], described["ExecutionRoleArn"]) == (image, ROLE)
    assert SKLearnPredictor("sk-job").predict(features[:3]).tolist() == model.predict(features[:3]).tolist()


def test_v1_serializer_objects_still_work_with_a_warning(endpoint: tuple[str, Any, np.ndarray]) -> None:
    """sagemaker v1-era notebooks: ``from sagemaker.predictor import csv_serializer, json_deserializer`` and
    ``predictor.content_type = "text/csv"``; v2 keeps the objects and warns when they are used."""
    from stepfn.sagemaker.amazon.common import numpy_to_record_serializer, record_deserializer
    from stepfn.sagemaker.predictor import csv_deserializer, csv_serializer, json_deserializer, npy_serializer

    name, model, features = endpoint
    predictor = Predictor(name)
    predictor.content_type, predictor.serializer, predictor.deserializer = "text/csv", csv_serializer, csv_deserializer
    with pytest.warns(DeprecationWarning, match=r"The csv_(de)?serializer has been renamed in sagemaker>=2"):
        rows = predictor.predict(features[:2].tolist())
    assert [int(float(row[0])) for row in rows] == model.predict(features[:2]).tolist()
    assert (csv_serializer.CONTENT_TYPE, json_deserializer.ACCEPT) == ("text/csv", ("application/json",))
    with pytest.warns(DeprecationWarning, match="The json_deserializer has been renamed"):
        assert json_deserializer.deserialize(io.BytesIO(b"[1]"), "application/json") == [1]
    with pytest.warns(DeprecationWarning, match="npy_serializer"):
        assert np.load(io.BytesIO(npy_serializer.serialize(np.array([1.0])))).tolist() == [1.0]
    with pytest.warns(DeprecationWarning, match="numpy_to_record_serializer has been renamed"):
        assert numpy_to_record_serializer().CONTENT_TYPE == "application/x-recordio-protobuf"
    with pytest.warns(DeprecationWarning, match="record_deserializer has been renamed"):
        assert record_deserializer().ACCEPT == ("application/x-recordio-protobuf",)
