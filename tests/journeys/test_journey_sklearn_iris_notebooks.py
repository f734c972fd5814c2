"""aws/amazon-sagemaker-examples' scikit-learn Iris notebooks (sagemaker v2 alone), executed headless (nbclient)
against ``stepfn serve`` as their reader runs them.

The notebooks are not committed here: ``port-sources.toml``'s ``sklearn_iris_notebooks`` names them; the tests copy
them and their training scripts out of a fetched checkout (``$STEPFN_PORT_SOURCES``, see ``scripts/ported-suites.sh``)
and skip without it. ``notebooks/port_notebook.py`` changes their imports; they have no placeholder to fill
(``get_execution_role()``, the session's default bucket).

What the estimator example does: Iris read with ``boto3``'s ``download_file`` from the examples' bucket, relabelled
and written back with ``np.savetxt``, the folder put in S3 with ``Session.upload_data``; ``SKLearn`` 1.2-1 fitted
with ``scikit_learn_iris.py`` (a decision tree), deployed, ``predictor.predict`` of a NumPy array; then a
``transformer`` over ten CSV files that a ``%%bash`` cell samples with ``shuf`` and ``cut``, its output copied with
``!aws s3 cp --recursive`` and compared with the true labels by ``diff -s``.
The bring-your-own-model one: ``SKLearn(..., script_mode=True)`` (an argument sagemaker v2 takes and ignores) fitted
with ``train.py`` (a random forest regressor on the CSV's columns), deployed under an ``endpoint_name``, invoked with
``sagemaker_session.sagemaker_runtime_client.invoke_endpoint`` in JSON; the script's ``output_fn`` returns a dict,
which the scikit-learn container's Flask worker answers as JSON.
What the reader has that the tests give: ``iris.data`` in the examples' bucket (UCI's file, written from
scikit-learn's own copy of the data set); no package index, so the ``pip install`` lines fail (IPython goes on).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from port_sources import materialize, needs
from test_journey_notebooks import PORT_SCRIPT, Serve, cell_errors, clean_environment, execute, outputs_of

ESTIMATOR = " archived/scikit_learn_iris/scikit_learn_estimator_example_with_batch_transform_outputs.ipynb"
BYOM = " archived/sklearn/sklearn_byom_outputs.ipynb"
SAMPLES_BUCKET = "sagemaker-sample-files"
NAMES = ("Iris-setosa", "Iris-versicolor", "Iris-virginica")


def iris_data(path: Path) -> None:
    """UCI's ``iris.data``: 150 rows of four measurements and the class name, in the data set's order."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    path.write_text("".join(",".join(f"{v:.1f}" for v in row) + f",{NAMES[label]}\n"
                            for row, label in zip(iris.data, iris.target, strict=True)))


def run_notebook(tmp_path: Path, path: str) -> tuple[Serve, dict[str, Any]]:
    """The notebook ported beside its script and executed against a started ``stepfn serve`` (the caller stops it);
    every cell must run but the ``pip install`` one (no package index)."""
    folder, home = tmp_path / "notebook", tmp_path / "home"
    home.mkdir()
    sources = materialize("sklearn_iris_notebooks", tmp_path / "sources")
    source = sources / path
    # The notebook's folder as the reader has it (its training script beside it), at a path without the space
    # that begins the repository's " archived".
    shutil.copytree(source.parent, folder)
    notebook = folder / source.name
    subprocess.run([sys.executable, str(PORT_SCRIPT), str(source), str(notebook)], check=True)
    iris_data(tmp_path / "iris.data")
    # Framework jobs build the image's environment once; STEPFN_TEST_ENV_DIR reuses one already built.
    envs = {"STEPFN_ENV_DIR": os.environ.get("STEPFN_TEST_ENV_DIR") or str(tmp_path / "envs")}
    serve = Serve(folder, clean_environment(home, **envs))
    try:
        s3 = serve.client("s3")
        s3.create_bucket(Bucket=SAMPLES_BUCKET)
        s3.upload_file(str(tmp_path / "iris.data"), SAMPLES_BUCKET, "datasets/tabular/iris/iris.data")
        document = execute(notebook, clean_environment(home, **serve.settings, **envs))
        errors = cell_errors(document)
        assert [error for error in errors if "pip install" not in error] == [], errors
    except BaseException:
        serve.stop()
        raise
    return serve, document


def text_of(document: dict[str, Any], fragment: str) -> str:
    return "".join(output.get("text", "") for output in outputs_of(document, fragment))


@pytest.mark.slow
@pytest.mark.timeout(900)  # a training job, an endpoint and a transform job of ten files on a loaded 2-core machine
@needs("sklearn_iris_notebooks")
def test_sklearn_iris_estimator_with_batch_transform(tmp_path: Path) -> None:
    serve, document = run_notebook(tmp_path, ESTIMATOR)
    try:
        sagemaker = serve.client("sagemaker")
        (job,) = sagemaker.list_training_jobs()["TrainingJobSummaries"]  # the notebook's home is the server's
        assert job["TrainingJobStatus"] == "Completed"
        # The endpoint's predictions of 29 held rows (ten of each class but the last), then their true labels.
        predicted, true = text_of(document, "print(predictor.predict(").strip().split("]\n")
        assert predicted.split()[:3] == ["[0.", "0.", "0."] and len(predicted.split()) == 29, predicted
        assert predicted.replace("]", "").split() == true.replace("]", "").split()
        (transform,) = sagemaker.list_transform_jobs()["TransformJobSummaries"]
        assert transform["TransformJobStatus"] == "Completed"
        assert "Waiting for transform job: " in text_of(document, "transformer.transform(")
        # The AWS CLI copied the ten outputs, and the labels a tree of 30 leaves gives its own training rows are
        # the true ones: diff -s says each of the nine files compared is identical.
        compared = text_of(document, "diff -s")
        assert compared.count("are identical") == 9, compared
        assert sagemaker.list_endpoints()["Endpoints"] == []
    finally:
        serve.stop()


@pytest.mark.slow
@pytest.mark.timeout(600)
@needs("sklearn_iris_notebooks")
def test_sklearn_bring_your_own_model(tmp_path: Path) -> None:
    serve, document = run_notebook(tmp_path, BYOM)
    try:
        printed = text_of(document, "invoke_endpoint(")
        assert printed.startswith("Predicted class category "), printed
        category = int(printed.split()[3])
        assert printed.strip().endswith(f"({NAMES[category]})")
        # Its last cell deleted the model, then the endpoint.
        assert serve.client("sagemaker").list_endpoints()["Endpoints"] == []
        assert serve.client("sagemaker").list_models()["Models"] == []
    finally:
        serve.stop()
