"""sagemaker v2's immediate calls on local SageMaker, from a model trained with ``fit()``.

``estimator.deploy()`` / ``model.deploy()``: the model, endpoint config and endpoint are created now, the call returns
once the endpoint is InService, with the framework's predictor. ``transformer.transform()``: a batch transform job
runs now and its results land under ``output_path``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sagemaker_support import SKLEARN_SCRIPT

from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.records import RecordStore
from stepfn.sagemaker import Session, SKLearn
from stepfn.sagemaker.deserializers import CSVDeserializer
from stepfn.sagemaker.exceptions import UnexpectedStatusException
from stepfn.sagemaker.model import Model
from stepfn.sagemaker.predictor import Predictor, SKLearnPredictor
from stepfn.sagemaker.serializers import CSVSerializer
from stepfn.sagemaker.sklearn import SKLearnModel

ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"


def _trained(tmp_path: Path) -> SKLearn:
    (tmp_path / "train.py").write_text(SKLEARN_SCRIPT)
    session = Session()
    # y = 2*a + 3*b: the endpoint's answer shows the trained model served it.
    rows = "".join(f"{2 * a + 3 * b},{a},{b}\n" for a in range(5) for b in range(5))
    train = session.upload_string_as_file_body(rows, session.default_bucket(), "deploy/train/train.csv")
    estimator = SKLearn(entry_point=str(tmp_path / "train.py"), framework_version="1.2-1", role=ROLE,
                        instance_type="ml.m5.large", instance_count=1)
    estimator.fit({"train": train.rsplit("/", 1)[0]})
    return estimator


def test_estimator_deploy_predict_and_delete(tmp_path: Path) -> None:
    estimator = _trained(tmp_path)
    predictor = estimator.deploy(1, "ml.m5.large", serializer=CSVSerializer(), deserializer=CSVDeserializer(),
                                 endpoint_name="deployed-sklearn")
    assert isinstance(predictor, SKLearnPredictor) and predictor.endpoint_name == "deployed-sklearn"
    records = RecordStore()
    endpoint = records.get("endpoint", "deployed-sklearn")
    assert endpoint is not None and endpoint["EndpointStatus"] == "InService"
    config = records.get("endpoint-config", endpoint["EndpointConfigName"])
    assert config is not None
    model_name = config["ProductionVariants"][0]["ModelName"]
    assert model_name.startswith("sagemaker-scikit-learn-")
    model = records.get("model", model_name)
    assert model is not None
    assert model["PrimaryContainer"]["ModelDataUrl"] == estimator.model_data

    assert float(predictor.predict([1, 2])[0][0]) == pytest.approx(8.0)

    # v2's order: the models are found through the endpoint's config, so they go first.
    predictor.delete_model()
    predictor.delete_endpoint()
    assert records.get("endpoint", "deployed-sklearn") is None
    assert records.get("endpoint-config", endpoint["EndpointConfigName"]) is None
    assert records.get("model", model_name) is None


def test_model_deploy_uploads_a_lone_entry_point_and_names_the_endpoint(tmp_path: Path) -> None:
    estimator = _trained(tmp_path)
    # A model built by hand from the artifacts, as notebooks do after training elsewhere.
    model = SKLearnModel(model_data=estimator.model_data, role=ROLE, entry_point=str(tmp_path / "train.py"),
                         framework_version="1.2-1")
    predictor = model.deploy(initial_instance_count=1, instance_type="ml.m5.large", serializer=CSVSerializer())
    assert isinstance(predictor, SKLearnPredictor)
    # Model and endpoint are each named from the image with a millisecond timestamp, as sagemaker v2 names them:
    # made in the same millisecond (a quick machine) the two names are equal, so only their form is checked.
    assert model.endpoint_name == predictor.endpoint_name
    for name in (model.name, model.endpoint_name):
        assert re.fullmatch(r"sagemaker-scikit-learn-\d{4}(-\d{2}){5}-\d{3}", name or ""), name
    # SKLearnPredictor's own deserializer (NPY) reads the answer when the endpoint is asked for NPY.
    assert predictor.predict([[2, 0], [0, 1]]).tolist() == pytest.approx([4.0, 3.0])
    predictor.delete_model()
    predictor.delete_endpoint()


def test_deploy_needs_a_trained_model_and_a_role() -> None:
    estimator = SKLearn(entry_point="train.py", framework_version="1.2-1", role=ROLE, instance_type="ml.m5.large",
                        instance_count=1)
    with pytest.raises(ValueError, match="not associated with a training job"):
        estimator.deploy(1, "ml.m5.large")
    with pytest.raises(ValueError, match="Role can not be null"):
        Model("111122223333.dkr.ecr.us-east-1.amazonaws.com/mine:1", "s3://b/m.tar.gz").deploy(1, "ml.m5.large")


def test_a_model_that_cannot_be_served_fails_the_deploy() -> None:
    model = Model("111122223333.dkr.ecr.us-east-1.amazonaws.com/mine:1", None, ROLE, predictor_cls=Predictor)
    with pytest.raises(UnexpectedStatusException, match="Error hosting endpoint byo-deploy: Failed"):
        model.deploy(1, "ml.m5.large", endpoint_name="byo-deploy")
    Session().delete_endpoint("byo-deploy", delete_endpoint_config=True)


def test_estimator_jobs_keeps_every_fit(tmp_path: Path) -> None:
    """As v2: ``estimator.jobs`` holds each job ``fit()`` started, oldest first; the examples' scikit-learn
    processing notebook reads the training job's output path from ``sklearn.jobs[-1].describe()``."""
    estimator = _trained(tmp_path)
    (first,) = estimator.jobs
    assert first is estimator.latest_training_job
    described = first.describe()
    assert described["TrainingJobStatus"] == "Completed"
    # v2's default output path ends in "/", so the notebook's "{}{}/{}".format(path, name, ...) is the artifact.
    assert described["OutputDataConfig"]["S3OutputPath"] == f"s3://{Session().default_bucket()}/"
    assert estimator.model_data == "{}{}/{}".format(described["OutputDataConfig"]["S3OutputPath"],
                                                    described["TrainingJobName"], "output/model.tar.gz")
    estimator.fit({"train": f"s3://{Session().default_bucket()}/deploy/train"}, job_name="second-fit")
    assert [job.job_name for job in estimator.jobs] == [first.job_name, "second-fit"]
    assert estimator.jobs[-1].describe()["TrainingJobStatus"] == "Completed"


def test_on_aws_deploy_calls_sagemaker() -> None:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        session = Session(boto_session=boto3.Session(region_name="us-east-1"))
        model = Model("111122223333.dkr.ecr.us-east-1.amazonaws.com/mine:1", "s3://b/m.tar.gz", ROLE,
                      name="aws-model", sagemaker_session=session)
        assert model.deploy(1, "ml.m5.large", endpoint_name="aws-endpoint", wait=False) is None
        client = boto3.client("sagemaker", region_name="us-east-1")
        assert client.describe_endpoint(EndpointName="aws-endpoint")["EndpointConfigName"] == "aws-endpoint"
        assert client.describe_model(ModelName="aws-model")["PrimaryContainer"]["ModelDataUrl"] == "s3://b/m.tar.gz"


def _rows(session: Session, key: str, rows: str) -> str:
    return session.upload_string_as_file_body(rows, session.default_bucket(), key).rsplit("/", 1)[0]


def test_transform_runs_a_batch_job_into_output_path(tmp_path: Path) -> None:
    estimator = _trained(tmp_path)
    session = Session()
    data = _rows(session, "batch/in/rows.csv", "1,2\n0,1\n")
    output = f"s3://{session.default_bucket()}/batch/out"
    transformer = estimator.transformer(1, "ml.m5.large", output_path=output, accept="text/csv",
                                        assemble_with="Line")
    transformer.transform(data, content_type="text/csv", split_type="Line")

    job = transformer.latest_transform_job
    assert job is not None and re.fullmatch(r"sagemaker-scikit-learn-\d{4}(-\d{2}){5}-\d{3}", job.job_name)
    # As v2: transformer() after fit() created the model the job ran.
    assert RecordStore().get("model", transformer.model_name) is not None
    assert job.describe()["TransformJobStatus"] == "Completed"
    answers = ObjectStore().get_bytes(f"{output}/rows.csv.out").decode().split()
    assert [float(value) for value in answers] == pytest.approx([8.0, 3.0])


def test_transform_without_waiting_then_wait_and_a_failing_job_raises(tmp_path: Path) -> None:
    estimator = _trained(tmp_path)
    session = Session()
    transformer = estimator.transformer(1, "ml.m5.large", output_path=f"s3://{session.default_bucket()}/later")
    with pytest.raises(ValueError, match="No transform job available"):
        transformer.wait()
    transformer.transform(_rows(session, "later/in/rows.csv", "1,2\n"), content_type="text/csv",
                          job_name="later-transform", wait=False)
    transformer.wait()
    assert ObjectStore().exists(f"s3://{session.default_bucket()}/later/rows.csv.out")

    # Rows the model cannot read fail the job; waiting raises with the job's reason, as v2.
    with pytest.raises(UnexpectedStatusException) as raised:
        transformer.transform(_rows(session, "broken/in/rows.csv", "not,numbers\n"), content_type="text/csv",
                              job_name="broken-transform")
    assert raised.value.actual_status == "Failed"
    assert str(raised.value).startswith("Error for Transform job broken-transform: Failed. Reason: ")


def test_on_aws_transform_creates_the_job_in_sagemaker() -> None:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    from stepfn.sagemaker.transformer import Transformer

    with moto.mock_aws():
        client = boto3.client("sagemaker", region_name="us-east-1")
        client.create_model(ModelName="aws-model", ExecutionRoleArn=ROLE,
                            PrimaryContainer={"Image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/mine:1"})
        session = Session(boto_session=boto3.Session(region_name="us-east-1"), default_bucket="my-bucket")
        transformer = Transformer("aws-model", 1, "ml.m5.large", sagemaker_session=session)
        transformer.transform("s3://my-bucket/in", content_type="text/csv", job_name="aws-transform", wait=False)
        described = client.describe_transform_job(TransformJobName="aws-transform")
        assert described["TransformOutput"]["S3OutputPath"] == "s3://my-bucket/aws-transform"
        assert transformer.latest_transform_job is not None
        assert transformer.latest_transform_job.describe()["ModelName"] == "aws-model"
        # As v2: made without output_path, the transformer says where the job wrote (notebooks copy the results
        # from transformer.output_path), and each later job writes under its own name.
        assert transformer.output_path == "s3://my-bucket/aws-transform"
        transformer.transform("s3://my-bucket/in", content_type="text/csv", job_name="aws-transform-2", wait=False)
        assert transformer.output_path == "s3://my-bucket/aws-transform-2"
        described = client.describe_transform_job(TransformJobName="aws-transform-2")
        assert described["TransformOutput"]["S3OutputPath"] == "s3://my-bucket/aws-transform-2"
        # One given is kept.
        given = Transformer("aws-model", 1, "ml.m5.large", output_path="s3://my-bucket/mine",
                            sagemaker_session=session)
        given.transform("s3://my-bucket/in", content_type="text/csv", job_name="aws-transform-3", wait=False)
        assert given.output_path == "s3://my-bucket/mine"
        described = client.describe_transform_job(TransformJobName="aws-transform-3")
        assert described["TransformOutput"]["S3OutputPath"] == "s3://my-bucket/mine"
