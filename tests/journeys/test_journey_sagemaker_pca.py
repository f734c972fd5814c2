"""cdk-entest/sagemaker-pca: a PCA pipeline for ECG channels in two scripts, each run from a folder holding the
``config.json`` its author's scripts read (role, bucket, region: what a reader fills in), against ``stepfn serve``.

The source is the repository at its last commit (``port-sources.toml``, ``sagemaker_pca``), not committed here: the
tests copy it out of a fetched checkout (``$STEPFN_PORT_SOURCES``, see ``scripts/ported-suites.sh``) into their
temporary folder and skip without it. Only the scripts' imports change.

* ``pipeline_stepfunctions.py`` (the Step Functions Data Science SDK): ``from sagemaker.estimator import sagemaker``
  and ``sagemaker.estimator.image_uris.retrieve(framework="pca", version="0.23-1", ...)``, a ``ProcessingStep`` of an
  ``SKLearnProcessor`` (scikit-learn 0.23-1) whose code is an S3 input run by ``container_entrypoint``, a PCA
  ``TrainingStep`` on the processed CSV (``text/csv;label_size=0``), a ``ModelStep`` of its expected model,
  ``stepfunctions.workflow.Workflow`` after a bare ``import stepfunctions``; ``create()`` and ``execute()`` without
  waiting. Its ``upload_data_code_to_s3``, ``create_end_point`` and ``test_boto3_invoke_endpoint`` (commented out
  in its ``__main__``) run as the reader runs them, before and after.
* ``pca.py`` (sagemaker v2 alone): a ``Processor`` of the scikit-learn image, ``Estimator.fit`` of the PCA image,
  the newest training job's artifacts found with ``list_training_jobs``, ``create_model`` / ``create_endpoint_config``
  / ``create_endpoint`` through boto3, ``invoke_endpoint`` with CSV, a ``Transformer``, and its ``__main__``
  as committed: the code upload and ``PCAPredictor.predict`` (RecordIO-protobuf both ways).

The gaps these scripts found, each fixed with a test of its own outside the journeys: ``sagemaker.estimator``'s
``sagemaker`` / ``image_uris`` names and ``stepfunctions.workflow`` after a bare import
(``tests/sagemaker/test_sagemaker_v2_paths.py``), ``PCAPredictor`` and the built-in endpoints' RecordIO-protobuf
answers (``tests/sagemaker/test_sagemaker_amazon.py``, ``tests/local/test_endpoints_builtins.py``).

Ours: the raw ECG recording the author uploaded (``171A_raw.csv``, not in the repository; a stand-in with the
``Ch1``..``Ch8`` columns the processing script selects from), the transform input, and the reader's waits for an
execution or an endpoint between commands.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from port_sources import materialize, needs
from test_journey_notebooks import Serve, clean_environment, wait_for_executions

ROLE = "arn:aws:iam::111122223333:role/SageMakerExecutionRole"
BUCKET = "my-pca-bucket"
REGION = "us-east-1"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900), needs("sagemaker_pca")]


def ecg_recording(path: Path, rows: int, seed: int) -> list[list[int]]:
    """A stand-in for the author's raw recording: a time column and eight channels (two underlying signals mixed,
    plus noise) as integers; returns the Ch5..Ch8 rows the processing script keeps."""
    rng = random.Random(seed)
    kept = []
    lines = ["Time," + ",".join(f"Ch{i}" for i in range(1, 9))]
    for t in range(rows):
        signals = (rng.gauss(0, 1), rng.gauss(0, 1))
        channels = [round(100 * signals[i % 2] * (1 + i / 4) + rng.gauss(0, 3)) for i in range(8)]
        lines.append(",".join(map(str, [t, *channels])))
        kept.append(channels[4:])
    path.write_text("\n".join(lines) + "\n")
    return kept


def run(folder: Path, environment: dict[str, str], *argv: str) -> str:
    done = subprocess.run([sys.executable, *argv], cwd=folder, env=environment, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def call(folder: Path, environment: dict[str, str], module: str, statement: str) -> str:
    """One of the script's functions, run as the reader runs a line of its ``__main__`` they uncomment."""
    return run(folder, environment, "-c", f"import {module}\n{module}.{statement}")


def started(tmp_path: Path) -> tuple[Path, Serve, dict[str, str]]:
    """The scripts' folder with their config.json, ``stepfn serve`` started there, and the reader's environment."""
    folder, home = tmp_path / "sagemaker-pca", tmp_path / "home"
    home.mkdir()
    materialize("sagemaker_pca", folder)
    (folder / "config.json").write_text(json.dumps(
        {"SAGEMAKER_ROLE": ROLE, "SAGEMAKER_BUCKET": BUCKET, "REGION": REGION}))
    # The scikit-learn 0.23-1 image's environment takes minutes to build: the suite may keep one.
    serve = Serve(folder, clean_environment(
        home, STEPFN_ENV_DIR=os.environ.get("STEPFN_TEST_ENV_DIR") or str(tmp_path / "envs")))
    return folder, serve, clean_environment(home, **serve.settings)


def csv_rows(text: str) -> list[list[float]]:
    return [[float(v) for v in line.split(",")] for line in text.splitlines() if line.strip()]


def json_documents(text: str) -> list[Any]:
    """The projections of a transform's output: one JSON document per mini-batch the transform sent, in order."""
    decoder, rows, offset = json.JSONDecoder(), [], 0
    while text[offset:].strip():
        document, offset = decoder.raw_decode(text, len(text) - len(text[offset:].lstrip()))
        rows += document["projections"]
    return rows


def wait_in_service(serve: Serve, endpoint: str) -> None:
    serve.client("sagemaker").get_waiter("endpoint_in_service").wait(
        EndpointName=endpoint, WaiterConfig={"Delay": 1, "MaxAttempts": 300})


def projections(printed: str) -> list[list[float]]:
    """The projections of the response ``test_boto3_invoke_endpoint`` prints (a dict's repr)."""
    import ast

    document = ast.literal_eval(printed.strip().splitlines()[0])
    return [row["projection"] for row in document["projections"]]


def test_pipeline_stepfunctions_script(tmp_path: Path) -> None:
    folder, serve, environment = started(tmp_path)
    try:
        kept = ecg_recording(folder / "171A_raw.csv", 400, seed=17)
        call(folder, environment, "pipeline_stepfunctions", "upload_data_code_to_s3()")

        printed = run(folder, environment, "pipeline_stepfunctions.py")
        assert printed.startswith(ROLE + "\n") and '"StartAt": "PreprocessingData"' in printed
        (execution,) = wait_for_executions(serve, "StepFunctionWorkFlowDemo001", timeout=600)
        assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
        names = json.loads(execution["input"])
        assert names["ModelName"].startswith("PCAModel")

        # The processing job kept the four channels of each row, and wrote its 100 random test rows beside them.
        s3 = serve.client("s3")
        processed = {item["Key"]: s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode()
                     for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="pca-processed-data/")["Contents"]}
        assert sorted(processed) == ["pca-processed-data/clean_171A_raw.csv", "pca-processed-data/test_data.csv"]
        assert csv_rows(processed["pca-processed-data/clean_171A_raw.csv"]) == kept
        assert len(csv_rows(processed["pca-processed-data/test_data.csv"])) == 101  # pandas' header row, 100 rows
        training = serve.client("sagemaker").describe_training_job(TrainingJobName=names["TrainingJobName"])
        assert training["TrainingJobStatus"] == "Completed"
        assert training["HyperParameters"] == {"feature_dim": "4", "num_components": "3", "mini_batch_size": "200"}

        # The endpoint of the workflow's model, as the script's commented-out lines create and invoke it.
        call(folder, environment, "pipeline_stepfunctions",
             f"create_end_point(model_name={names['ModelName']!r}, endpoint_name='pca-endpoint-test')")
        wait_in_service(serve, "pca-endpoint-test")
        first, again, shifted = projections(call(folder, environment, "pipeline_stepfunctions",
                                                 "test_boto3_invoke_endpoint('pca-endpoint-test')"))
        assert len(first) == 3 and first == again
        # Orthonormal components: moving the input by (1, 1, 1, 1) moves its projection by at most that length.
        assert 0 < sum((a - b) ** 2 for a, b in zip(shifted, first, strict=True)) <= 4 + 1e-6
    finally:
        serve.stop()


def test_pca_script(tmp_path: Path) -> None:
    folder, serve, environment = started(tmp_path)
    try:
        kept = ecg_recording(folder / "171A_raw.csv", 400, seed=18)
        transform_input = "".join(",".join(map(str, row)) + "\n" for row in kept[:5])
        (folder / "transform-input.csv").write_text(transform_input)
        for source, key in (("171A_raw.csv", "pca-raw-data/171A_raw.csv"),
                            ("process_raw_data.py", "code/process_raw_data.py"),
                            ("transform-input.csv", "ecg/transform-input/part-1.csv")):
            run(folder, environment, "-m", "stepfn", "cp", source, f"s3://{BUCKET}/{key}")

        # The steps its __main__ lists (commented out), in order, each run as the reader runs it.
        call(folder, environment, "pca", "process_data()")
        s3 = serve.client("s3")
        cleaned = s3.get_object(Bucket=BUCKET, Key="pca-processed-data/clean_171A_raw.csv")["Body"].read().decode()
        assert csv_rows(cleaned) == kept
        call(folder, environment, "pca", "train_pca_model()")
        artifacts = call(folder, environment, "pca", "get_trained_model()").splitlines()[0]
        assert "model.tar.gz" in artifacts
        call(folder, environment, "pca", "create_model('my-pca-model')")
        call(folder, environment, "pca", "batch_transform()")
        # The Transformer names no output_path: its output goes under the session's default bucket.
        outputs = [(bucket["Name"], item["Key"]) for bucket in s3.list_buckets()["Buckets"]
                   for item in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", [])
                   if item["Key"].endswith("part-1.csv.out")]
        assert len(outputs) == 1, outputs
        (bucket, key), = outputs
        assert bucket == f"sagemaker-{REGION}-123456789012" and key.startswith("my-pca-model-")
        assert len(json_documents(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())) == 5

        # __main__ names "pca-model-test", the model of an earlier run of the author's; this run's is my-pca-model.
        call(folder, environment, "pca", "create_end_point(model_name='my-pca-model', endpoint_name='pca-endpoint-test')")
        wait_in_service(serve, "pca-endpoint-test")
        (by_csv,) = projections(call(folder, environment, "pca", "test_boto3_invoke_endpoint('pca-endpoint-test')"))

        # __main__ as committed: the code upload, then PCAPredictor.predict(np.array([1, 2, 3, 4])), printed.
        printed = run(folder, environment, "pca.py")
        assert printed.count("Record(") == 1 and "'projection': Tensor(values=[" in printed
        values = printed.split("'projection': Tensor(values=[", 1)[1].split("]", 1)[0]
        assert [float(v) for v in values.split(",")] == pytest.approx(by_csv, rel=1e-5)
    finally:
        serve.stop()
