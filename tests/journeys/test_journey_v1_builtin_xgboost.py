"""A user's script written in sagemaker v1-era names, run on the local backend with no AWS configuration at all.

The script is the user's, run as a user runs it: in its own folder, in a newcomer's environment (``user_env``: no
``AWS_*`` variables, no ``~/.aws``, no region anywhere, no ``STEPFN_HOME`` so the relative default home applies).
It speaks the names sagemaker v2 still accepted from v1: ``get_image_uri(region, 'xgboost')`` (the legacy
``xgboost:1`` image), ``sagemaker.s3_input``, ``train_instance_count``/``train_instance_type``, S3 locations in the
``https://s3-<region>.amazonaws.com/<bucket>/<key>`` form; it uploads data with ``Session().upload_data`` and with
the session's own boto3 ``s3_client``, then builds a Step Functions workflow (TrainingStep → ModelStep →
TransformStep → EndpointConfigStep → EndpointStep) and runs it with the in-process local client. Afterwards it asks
the endpoint for predictions through ``Predictor`` with a CSV serializer, reads the batch transform's output and
deletes the endpoint. The test judges what the script printed against the formula that generated the data.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def formula(features: list[float]) -> float:
    return 10 * features[0] + 5 * features[1] - 3 * features[2]


def generated_rows(count: int, seed: int) -> list[list[float]]:
    """Label first, then four features in [0, 1) (the fourth is noise the model should learn to ignore)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        features = [rng.random() for _ in range(4)]
        rows.append([round(formula(features) + rng.gauss(0, 0.2), 4), *(round(value, 4) for value in features)])
    return rows


def as_csv(rows: list[list[float]]) -> str:
    return "".join(",".join(str(value) for value in row) + "\n" for row in rows)


USER_SCRIPT = textwrap.dedent('''
    import json
    import sys
    import warnings

    import stepfn.sagemaker as sagemaker
    from stepfn import steps
    from stepfn.inputs import ExecutionInput
    from stepfn.sagemaker.amazon.amazon_estimator import get_image_uri
    from stepfn.sagemaker.predictor import Predictor
    from stepfn.sagemaker.serializers import CSVSerializer
    from stepfn.workflow import Workflow
    from stepfn.workflow.local_client import LocalStepFunctionsClient

    warnings.simplefilter("ignore", DeprecationWarning)  # v2 warns about every v1 name; this user knows

    session = sagemaker.Session()
    region = session.boto_region_name
    bucket = session.default_bucket()
    prefix = "v1-xgboost"
    role = "arn:aws:iam::111122223333:role/SageMakerRole"

    def https_location(key):
        return f"https://s3-{region}.amazonaws.com/{bucket}/{prefix}/{key}"

    train_uri = session.upload_data("train.csv", bucket=bucket, key_prefix=f"{prefix}/train")
    with open("validation.csv", "rb") as body:
        session.s3_client.put_object(Bucket=bucket, Key=f"{prefix}/validation/validation.csv", Body=body)
    session.s3_client.upload_file("batch.csv", bucket, f"{prefix}/batch/batch.csv")

    container = get_image_uri(region, "xgboost")
    xgb = sagemaker.estimator.Estimator(
        container, role, train_instance_count=1, train_instance_type="ml.m4.xlarge",
        output_path=https_location("output"), sagemaker_session=session,
    )
    xgb.set_hyperparameters(objective="reg:linear", max_depth=4, eta=0.3, num_round=60, subsample=0.9)
    train_input = sagemaker.s3_input(https_location("train"), content_type="text/csv")
    validation_input = sagemaker.s3_input(https_location("validation"), content_type="text/csv")

    names = ExecutionInput(schema={"JobName": str, "ModelName": str, "EndpointName": str})
    training = steps.TrainingStep("Train", estimator=xgb, job_name=names["JobName"],
                                  data={"train": train_input, "validation": validation_input})
    model = steps.ModelStep("Save model", model=training.get_expected_model(), model_name=names["ModelName"])
    transformer = xgb.transformer(instance_count=1, instance_type="ml.m4.xlarge",
                                  output_path=https_location("batch-out"))
    transform = steps.TransformStep("Batch predict", transformer=transformer, job_name=names["JobName"],
                                    model_name=names["ModelName"], data=https_location("batch"),
                                    content_type="text/csv", split_type="Line")
    config = steps.EndpointConfigStep("Endpoint config", endpoint_config_name=names["ModelName"],
                                      model_name=names["ModelName"], initial_instance_count=1,
                                      instance_type="ml.m4.xlarge")
    endpoint = steps.EndpointStep("Endpoint", endpoint_name=names["EndpointName"],
                                  endpoint_config_name=names["ModelName"])
    workflow = Workflow("V1XGBoost", steps.Chain([training, model, transform, config, endpoint]),
                        "arn:aws:iam::111122223333:role/StepFunctionsWorkflowExecutionRole",
                        execution_input=names, client=LocalStepFunctionsClient())
    workflow.create()
    execution = workflow.execute(inputs={"JobName": "v1-xgb-1", "ModelName": "v1-xgb-model",
                                         "EndpointName": "v1-xgb-endpoint"})
    execution.get_output(wait=True)
    status = execution.describe()["status"]
    entered = [event["stateEnteredEventDetails"]["name"] for event in execution.list_events()
               if "stateEnteredEventDetails" in event]

    job = session.sagemaker_client.describe_training_job(TrainingJobName="v1-xgb-1")
    endpoint_status = session.sagemaker_client.describe_endpoint(EndpointName="v1-xgb-endpoint")["EndpointStatus"]
    predictor = Predictor("v1-xgb-endpoint", sagemaker_session=session, serializer=CSVSerializer())
    with open("fresh.csv") as fresh:
        features = [[float(value) for value in line.split(",")] for line in fresh.read().splitlines()]
    predictions = predictor.predict(features).decode()

    transform_out = session.s3_client.get_object(Bucket=bucket, Key=f"{prefix}/batch-out/batch.csv.out")
    predictor.delete_endpoint()
    try:
        session.sagemaker_client.describe_endpoint(EndpointName="v1-xgb-endpoint")
        after_delete = "still there"
    except session.sagemaker_client.exceptions.ClientError as error:
        after_delete = error.response["Error"]["Code"]

    json.dump({"region": region, "bucket": bucket, "train_uri": train_uri, "container": container,
               "status": status, "job_image": job["AlgorithmSpecification"]["TrainingImage"],
               "job_resources": job["ResourceConfig"], "job_status": job["TrainingJobStatus"],
               "job_inputs": {channel["ChannelName"]: channel["DataSource"]["S3DataSource"]["S3Uri"]
                              for channel in job["InputDataConfig"]},
               "model_data": job["ModelArtifacts"]["S3ModelArtifacts"], "entered": entered, "endpoint_status": endpoint_status,
               "predictions": predictions, "transform_out": transform_out["Body"].read().decode(),
               "after_delete": after_delete}, sys.stdout)
''')


def test_v1_names_train_transform_and_serve_xgboost_without_aws(tmp_path: Path, user_env: dict[str, str]) -> None:
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "pipeline.py").write_text(USER_SCRIPT)
    (folder / "train.csv").write_text(as_csv(generated_rows(400, seed=1)))
    (folder / "validation.csv").write_text(as_csv(generated_rows(100, seed=2)))
    batch = generated_rows(30, seed=3)
    (folder / "batch.csv").write_text(as_csv([row[1:] for row in batch]))
    fresh = generated_rows(20, seed=4)
    (folder / "fresh.csv").write_text(as_csv([row[1:] for row in fresh]))

    result = subprocess.run([sys.executable, "pipeline.py"], cwd=folder, env=user_env, capture_output=True,
                            text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout)

    assert report["region"] == "us-east-1"  # stepfn's local default: nothing configured one
    assert report["container"].endswith(".dkr.ecr.us-east-1.amazonaws.com/xgboost:1")
    assert report["train_uri"] == f"s3://{report['bucket']}/v1-xgboost/train/train.csv"
    assert report["status"] == "SUCCEEDED", result.stderr[-4000:]
    assert report["job_status"] == "Completed" and report["job_image"] == report["container"]
    assert report["job_resources"]["InstanceCount"] == 1
    assert report["job_resources"]["InstanceType"] == "ml.m4.xlarge"
    https = f"https://s3-us-east-1.amazonaws.com/{report['bucket']}/v1-xgboost"
    assert report["job_inputs"] == {"train": f"{https}/train", "validation": f"{https}/validation"}
    assert report["model_data"].endswith("/v1-xgb-1/output/model.tar.gz")
    assert report["entered"] == ["Train", "Save model", "Batch predict", "Endpoint config", "Endpoint"]
    assert report["endpoint_status"] == "InService"
    assert report["after_delete"] == "ValidationException"  # what DescribeEndpoint answers for an unknown name
    assert (folder / ".stepfn").is_dir(), "the relative default home, since no STEPFN_HOME was set"

    predicted = [float(value) for value in report["predictions"].replace("\n", ",").split(",") if value.strip()]
    assert len(predicted) == len(fresh)
    errors = [abs(guess - formula(row[1:])) for guess, row in zip(predicted, fresh, strict=True)]
    # The labels span about -3..15; always guessing their mean would be off by about 3 on average.
    assert sum(errors) / len(errors) < 1.0, errors
    assert max(errors) < 3.0, errors

    transformed = [float(line) for line in report["transform_out"].splitlines() if line.strip()]
    assert len(transformed) == len(batch)
    batch_errors = [abs(guess - formula(row[1:])) for guess, row in zip(transformed, batch, strict=True)]
    assert sum(batch_errors) / len(batch_errors) < 1.0, batch_errors
