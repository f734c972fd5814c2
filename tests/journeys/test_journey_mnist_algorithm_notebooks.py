"""aws/amazon-sagemaker-examples' MNIST notebooks of the built-in algorithms (sagemaker v2 alone): "An Introduction to
Linear Learner with MNIST" (build_and_train_models) and its archived edition, and the archived k-means one, executed
headless (nbclient) against ``stepfn serve`` as their reader runs them.

The notebooks are not committed here: ``port-sources.toml``'s ``mnist_algorithm_notebooks`` names them; the tests
copy them out of a fetched checkout (``$STEPFN_PORT_SOURCES``, see ``scripts/ported-suites.sh``) and skip without
it. ``notebooks/port_notebook.py`` changes their imports (``import sagemaker.amazon.common as smac`` included); they
have no placeholder to fill (``get_execution_role()``, the session's default bucket).

What the Linear Learner one does: MNIST read with ``boto3``'s ``download_file`` from the examples' bucket, written as RecordIO-protobuf
with ``smac.write_numpy_to_dense_tensor`` and put in S3 with ``upload_fileobj``; the built-in Linear Learner
(``image_uris.retrieve(framework="linear-learner")``) trained with ``Estimator.fit``, then tuned with a
``HyperparameterTuner`` (six jobs, two at once, on ``validation:binary_f_beta``), whose best model is deployed;
predictions through ``CSVSerializer`` / ``JSONDeserializer``; ``pd.crosstab`` of them; the model and endpoint deleted.
The k-means one finds the data's bucket with ``sagemaker.utils.S3DataConfig``, writes the training set with
``KMeans.record_set`` (two instances: two shards), fits, deploys, and reads the ``KMeansPredictor``'s
RecordIO-protobuf answers as ``record_pb2`` records (``r.label["closest_cluster"].float32_tensor.values[0]``).
The gaps these notebooks found, each fixed with a test of its own outside the journeys: ``sagemaker.amazon.common``
(``tests/sagemaker/test_sagemaker_recordio.py``), ``tuner.fit()`` waiting (``tests/sagemaker/test_sagemaker_tuner_fit.py``),
``S3DataConfig`` (``tests/sagemaker/test_sagemaker_s3.py``), ``KMeansPredictor``'s records
(``tests/sagemaker/test_sagemaker_amazon.py``, ``tests/local/test_endpoints_builtins.py``).
What the reader has that the tests give: ``mnist.pkl.gz`` in the examples' bucket, a small stand-in (each digit a
noisy copy of its own random prototype, in MNIST's shapes and types), and the examples' data config naming that
bucket; no package index, so the ``!pip install`` lines fail (IPython goes on); matplotlib, whose cells fail where the
kernel lacks it.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from port_sources import materialize, needs
from test_journey_notebooks import PORT_SCRIPT, Serve, cell_errors, clean_environment, execute, outputs_of

NOTEBOOK = "      build_and_train_models/sm-linear_learner_mnist.ipynb"
ARCHIVED = " archived/linear_learner_mnist.ipynb"
KMEANS = " archived/kmeans_mnist.ipynb"
EXAMPLES_BUCKET = "sagemaker-example-files-prod-us-east-1"


def mnist_stand_in(path: Path, seed: int) -> None:
    """``(train_set, valid_set, test_set)`` as MNIST's pickle holds them: float32 images of 784 pixels in [0, 1]
    and int64 labels."""
    rng = np.random.default_rng(seed)
    prototypes = rng.uniform(0, 1, size=(10, 784)).astype("float32")

    def split(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, count)
        images = np.clip(prototypes[labels] + rng.normal(0, 0.3, size=(count, 784)), 0, 1).astype("float32")
        return images, labels.astype("int64")

    with gzip.open(path, "wb") as f:
        pickle.dump((split(1000), split(300), split(300)), f)


def run_notebook(tmp_path: Path, path: str, without_matplotlib: tuple[str, ...] = (
        "ModuleNotFoundError: No module named 'matplotlib'",)) -> tuple[Serve, dict[str, Any]]:
    """The notebook ported and executed against a started ``stepfn serve`` (the caller stops it), the stand-in MNIST
    in the examples' bucket; every cell must run but, where the kernel lacks matplotlib, those that fail for it
    (``without_matplotlib``: each failing cell's error, in order)."""
    folder, home = tmp_path / "notebook", tmp_path / "home"
    folder.mkdir()
    home.mkdir()
    sources = materialize("mnist_algorithm_notebooks", tmp_path / "sources")
    notebook = folder / Path(path).name
    subprocess.run([sys.executable, str(PORT_SCRIPT), str(sources / path), str(notebook)], check=True)
    mnist_stand_in(tmp_path / "mnist.pkl.gz", seed=0)
    serve = Serve(folder, clean_environment(home))
    try:
        s3 = serve.client("s3")
        s3.create_bucket(Bucket=EXAMPLES_BUCKET)
        s3.upload_file(str(tmp_path / "mnist.pkl.gz"), EXAMPLES_BUCKET, "datasets/image/MNIST/mnist.pkl.gz")
        s3.create_bucket(Bucket="example-notebooks-data-config")
        s3.put_object(Bucket="example-notebooks-data-config", Key="config/data_config.json",
                      Body=json.dumps({"default": EXAMPLES_BUCKET}).encode())
        document = execute(notebook, clean_environment(home, **serve.settings))
        expected = list(without_matplotlib) if importlib.util.find_spec("matplotlib") is None else []
        assert [error.split("\n", 1)[0].split(": ", 1)[1] for error in cell_errors(document)] == expected, \
            cell_errors(document)
    except BaseException:
        serve.stop()
        raise
    return serve, document


def assert_predictions_right(document: dict[str, Any]) -> None:
    """The notebook's crosstab of the test set's "is it a zero" against the endpoint's predictions: nearly all
    right; and the single prediction it printed, in the algorithm's JSON."""
    (table,) = [output["data"]["text/plain"] for output in outputs_of(document, "pd.crosstab(") if "data" in output]
    counts = {(row.split()[0], column): int(value) for row in table.splitlines()[2:]
              for column, value in zip(("0.0", "1.0"), row.split()[1:], strict=False)}
    assert sum(counts.values()) == 300
    assert counts[("0", "0.0")] + counts.get(("1", "1.0"), 0) >= 290, table
    single = json.loads(outputs_of(document, "print(result)")[0]["text"].replace("'", '"'))
    assert set(single["predictions"][0]) == {"score", "predicted_label"}


@pytest.mark.slow
@pytest.mark.timeout(900)  # a training job, a tuning job of six and an endpoint on a loaded 2-core machine
@needs("mnist_algorithm_notebooks")
def test_linear_learner_mnist_notebook(tmp_path: Path) -> None:
    serve, document = run_notebook(tmp_path, NOTEBOOK)
    try:
        # One training job, then the tuning job's six, its best on the validation F-beta it was told to maximize.
        sagemaker = serve.client("sagemaker")
        jobs = sagemaker.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
        assert len(jobs) == 7 and {job["TrainingJobStatus"] for job in jobs} == {"Completed"}
        tuning_job = next(line.split(": ", 1)[1] for output in outputs_of(document, "hp_tuner.fit(")
                          for line in output.get("text", "").splitlines() if line.startswith("Tuning job name: "))
        tuning = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job)
        assert tuning["HyperParameterTuningJobStatus"] == "Completed"
        assert tuning["TrainingJobStatusCounters"]["Completed"] == 6
        assert tuning["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == \
            "validation:binary_f_beta"
        assert_predictions_right(document)
        assert sagemaker.list_endpoints()["Endpoints"] == []  # its last cell deleted the model and the endpoint
    finally:
        serve.stop()


@pytest.mark.slow
@pytest.mark.timeout(600)
@needs("mnist_algorithm_notebooks")
def test_archived_linear_learner_mnist_notebook(tmp_path: Path) -> None:
    """The notebook's archived edition: the data read with ``get_object``, the estimator built with v1's
    ``train_instance_count`` / ``train_instance_type`` (v2 renames them with a warning), ``deploy(serializer=...,
    deserializer=...)``, and ``Session().delete_endpoint(predictor.endpoint)`` (v2's deprecated name)."""
    serve, document = run_notebook(tmp_path, ARCHIVED)
    try:
        assert "DeprecationWarning: train_instance_count has been renamed in sagemaker>=2" in "".join(
            output.get("text", "") for output in outputs_of(document, "linear.fit("))
        assert_predictions_right(document)
        assert serve.client("sagemaker").list_endpoints()["Endpoints"] == []
    finally:
        serve.stop()


@pytest.mark.slow
@pytest.mark.timeout(600)
@needs("mnist_algorithm_notebooks")
def test_archived_kmeans_mnist_notebook(tmp_path: Path) -> None:
    serve, document = run_notebook(tmp_path, KMEANS, (
        "ModuleNotFoundError: No module named 'matplotlib'", "ModuleNotFoundError: No module named 'matplotlib'",
        "NameError: name 'plt' is not defined"))  # %matplotlib inline, its import, the cluster plots
    try:
        s3 = serve.client("s3")
        bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("sagemaker-us-east-1-"))
        shards = [o["Key"].rsplit("/", 1)[1] for o in s3.list_objects_v2(
            Bucket=bucket, Prefix="kmeans_highlevel_example/data/")["Contents"]]
        assert sorted(shards) == [".amazon.manifest", "matrix_0.pbr", "matrix_1.pbr"]  # record_set for 2 instances
        (job,) = serve.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
        assert job["TrainingJobStatus"] == "Completed"
        # The predictor's answer, printed: records whose label holds the closest cluster and its distance.
        printed = outputs_of(document, "print(result)")[0]["text"]
        assert printed.startswith("[Record(") and "'closest_cluster': Tensor(values=[" in printed
        assert "'distance_to_cluster': Tensor(values=[" in printed
        if importlib.util.find_spec("matplotlib") is None:  # the plot cell printed each cluster's heading first
            assert "Cluster 0:" in "".join(o.get("text", "") for o in outputs_of(document, "for cluster in range(10)"))
        assert outputs_of(document, "print(kmeans_predictor.endpoint)")[0]["text"].startswith("kmeans-")
        assert serve.client("sagemaker").list_endpoints()["Endpoints"] == []
    finally:
        serve.stop()
