"""Built-in algorithm estimators: hyperparameter validation and encoding (docs/design/compat.md §6.4)."""

from __future__ import annotations

import pytest

from stepfn._recordio import encode_label_record, frame_record
from stepfn.inputs import ExecutionInput
from stepfn.sagemaker import (
    KNN,
    LDA,
    NTM,
    PCA,
    FactorizationMachinesPredictor,
    IPInsightsPredictor,
    KMeans,
    KMeansModel,
    KMeansPredictor,
    KNNPredictor,
    LDAPredictor,
    LinearLearner,
    LinearLearnerModel,
    LinearLearnerPredictor,
    NTMPredictor,
    Object2Vec,
    PCAModel,
    PCAPredictor,
    Predictor,
    RandomCutForest,
    RandomCutForestPredictor,
    RecordSet,
    Session,
    training_request,
)
from stepfn.sagemaker.amazon.common import RecordDeserializer, RecordSerializer

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SESSION = Session(region_name="us-east-1", default_bucket="my-bucket")
COMMON = {"role": ROLE, "instance_count": 1, "instance_type": "ml.c5.xlarge", "sagemaker_session": SESSION}
RECORDS = RecordSet("s3://my-bucket/rs/.amazon.manifest", num_records=1000, feature_dim=7)


def test_kmeans_hyperparameters_in_constructor_order() -> None:
    estimator = KMeans(k=10, init_method="kmeans++", max_iterations=5, tol=0.01, eval_metrics=["msd"],
                       center_factor=2, **COMMON)
    assert estimator.hyperparameters() == {
        "force_dense": "True", "k": "10", "init_method": "kmeans++", "local_lloyd_max_iter": "5",
        "local_lloyd_tol": "0.01", "extra_center_factor": "2", "eval_metrics": '["msd"]',
    }
    request = training_request(estimator, RECORDS, "job", mini_batch_size=100)
    assert list(request["HyperParameters"].items())[-2:] == [("feature_dim", "7"), ("mini_batch_size", "100")]
    assert request["AlgorithmSpecification"]["TrainingImage"] == "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1"
    again = training_request(estimator, RECORDS, "job")
    assert "mini_batch_size" not in again["HyperParameters"]


@pytest.mark.parametrize(("build", "name"), [
    (lambda: KMeans(k=1, **COMMON), "k"),
    (lambda: KMeans(k=3, init_method="best", **COMMON), "init_method"),
    (lambda: KMeans(k=3, tol=2, **COMMON), "tol"),
    (lambda: PCA(num_components=0, **COMMON), "num_components"),
    (lambda: PCA(num_components=2, algorithm_mode="fast", **COMMON), "algorithm_mode"),
    (lambda: LinearLearner(predictor_type="ranker", **COMMON), "predictor_type"),
    (lambda: NTM(num_topics=1, **COMMON), "num_topics"),
    (lambda: KNN(k=3, sample_size=10, predictor_type="classifier", index_metric="L1", **COMMON), "index_metric"),
    (lambda: RandomCutForest(num_trees=10, **COMMON), "num_trees"),
    (lambda: Object2Vec(epochs=1, enc0_max_seq_len=10, enc0_vocab_size=1, **COMMON), "enc0_vocab_size"),
    (lambda: KMeans(k="many", **COMMON), "k"),
])
def test_invalid_hyperparameters_name_the_argument(build: object, name: str) -> None:
    with pytest.raises(ValueError, match=f"for {name}"):
        build()  # type: ignore[operator]


def test_placeholders_are_not_validated_and_pass_through() -> None:
    execution_input = ExecutionInput(schema={"k": int})
    estimator = KMeans(k=execution_input["k"], **COMMON)
    request = training_request(estimator, RECORDS, "job")
    assert request["HyperParameters"]["k"] is execution_input["k"]


def test_algorithm_specific_rules() -> None:
    with pytest.raises(ValueError, match="num_classes"):
        LinearLearner(predictor_type="multiclass_classifier", **COMMON)
    with pytest.raises(ValueError, match="mini_batch_size"):
        training_request(LDA(role=ROLE, instance_type="ml.c5.xlarge", num_topics=2, sagemaker_session=SESSION),
                         RECORDS, "job")
    with pytest.raises(ValueError, match="fixed mini_batch_size of 1000"):
        training_request(RandomCutForest(**COMMON), RECORDS, "job", mini_batch_size=10)
    with pytest.raises(ValueError, match="dimension_reduction_target"):
        KNN(k=1, sample_size=1, predictor_type="regressor", dimension_reduction_type="sign", **COMMON)
    with pytest.raises(ValueError, match="Must provide train channel"):
        training_request(PCA(num_components=2, **COMMON),
                         [RecordSet("s3://b/x", 1, 2, channel="test")], "job")
    lda = training_request(LDA(role=ROLE, instance_type="ml.c5.xlarge", num_topics=2, sagemaker_session=SESSION),
                           RECORDS, "job", mini_batch_size=8)
    assert lda["ResourceConfig"]["InstanceCount"] == 1
    assert lda["AlgorithmSpecification"]["TrainingImage"] == "766337827248.dkr.ecr.us-east-1.amazonaws.com/lda:1"


def test_duplicate_record_channels_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"Duplicate channel train not allowed\."):
        training_request(PCA(num_components=2, **COMMON), [RECORDS, RECORDS], "job")


def test_create_model_is_a_model_of_the_algorithm_image_deploying_its_predictor() -> None:
    estimator = PCA(num_components=2, output_path="s3://my-bucket/out", **COMMON)
    training_request(estimator, RECORDS, "job-7")
    model = estimator.create_model()
    assert model.image_uri == "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1"
    assert model.model_data == "s3://my-bucket/out/job-7/output/model.tar.gz"
    assert model.role == ROLE
    assert isinstance(model, PCAModel) and model.predictor_cls is PCAPredictor  # deploy() returns a PCAPredictor
    assert KMeans(k=2, **COMMON).create_model().predictor_cls is KMeansPredictor
    assert Object2Vec(epochs=1, enc0_max_seq_len=2, enc0_vocab_size=2, **COMMON).create_model().predictor_cls \
        is Predictor
    assert PCA(num_components=2, **COMMON).create_model(predictor_cls=Predictor).predictor_cls is Predictor


def test_algorithm_models_as_sagemaker_v2s() -> None:
    from stepfn.sagemaker.amazon.kmeans import KMeansModel as FromItsV2Path

    model = PCAModel("s3://my-bucket/out/model.tar.gz", ROLE, sagemaker_session=SESSION)
    assert (model.image_uri, model.model_data, model.role, model.predictor_cls) == (
        "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1", "s3://my-bucket/out/model.tar.gz", ROLE, PCAPredictor)
    assert FromItsV2Path is KMeansModel and KMeansModel("s3://b/m.tar.gz", ROLE).predictor_cls is KMeansPredictor
    unplaced = LinearLearnerModel("s3://b/m.tar.gz", ROLE)
    assert unplaced._sagemaker_session is None  # built without a session: the image's region is looked up later
    assert LinearLearnerModel("s3://b/m.tar.gz", ROLE, sagemaker_session=Session(region_name="eu-west-1")).image_uri \
        == "438346466558.dkr.ecr.eu-west-1.amazonaws.com/linear-learner:1"


def test_algorithm_predictors_speak_recordio_protobuf_as_sagemaker_v2s() -> None:
    import io

    import numpy as np

    for predictor_cls in (PCAPredictor, KMeansPredictor, LinearLearnerPredictor, FactorizationMachinesPredictor,
                          NTMPredictor, LDAPredictor, RandomCutForestPredictor, KNNPredictor):
        predictor = predictor_cls("ep", sagemaker_session=SESSION)
        assert isinstance(predictor.serializer, RecordSerializer), predictor_cls
        assert isinstance(predictor.deserializer, RecordDeserializer), predictor_cls
        assert (predictor.content_type, predictor.accept) == ("application/x-recordio-protobuf",
                                                              ("application/x-recordio-protobuf",))
    ip = IPInsightsPredictor("ep", sagemaker_session=SESSION)
    assert (ip.content_type, ip.accept) == ("text/csv", ("application/json",))

    # A 1-D array is one record, a 2-D array one per row; the dtype picks the tensor (int: Int32, float64: Float64).
    records = RecordDeserializer().deserialize(io.BytesIO(RecordSerializer().serialize(np.array([1, 2, 3]))), "")
    assert [(r.features["values"].dtype, r.features["values"].values) for r in records] == [("int32", [1, 2, 3])]
    records = RecordDeserializer().deserialize(io.BytesIO(RecordSerializer().serialize(np.eye(2))), "")
    assert [r.features["values"].float64_tensor.values for r in records] == [[1.0, 0.0], [0.0, 1.0]]
    assert records[0].features["values"].float32_tensor.values == []  # the Value's other members read empty
    with pytest.raises(ValueError, match=r"Expected a 1D or 2D array, but got a 3D array instead\."):
        RecordSerializer().serialize(np.zeros((1, 1, 1)))

    # The shape of an algorithm's answer: named Float32 tensors in the label map.
    answer = frame_record(encode_label_record({"closest_cluster": 1.0, "distance_to_cluster": [0.25]}))
    (record,) = RecordDeserializer().deserialize(io.BytesIO(answer), "application/x-recordio-protobuf")
    assert record.label["closest_cluster"].float32_tensor.values == [1.0]
    assert record.label["distance_to_cluster"].float32_tensor.values == [0.25]
