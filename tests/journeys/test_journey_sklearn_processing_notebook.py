"""aws/amazon-sagemaker-examples' "Amazon SageMaker Processing jobs" notebook with scikit-learn (sagemaker v2 alone),
executed headless (nbclient) against ``stepfn serve`` as its reader runs it.

The notebook is not committed here: ``port-sources.toml``'s ``sklearn_processing_notebook`` names it; the test copies
its folder out of a fetched checkout (``$STEPFN_PORT_SOURCES``, see ``scripts/ported-suites.sh``) and skips without it.
``notebooks/port_notebook.py`` changes its imports; it has no placeholder to fill.

What it does: an ``SKLearnProcessor`` (scikit-learn 0.20.0) runs the ``%%writefile`` preprocessing.py on the census
data in the examples' bucket; the job's outputs are found with ``sklearn_processor.jobs[-1].describe()``; an
``SKLearn`` 0.20.0 estimator trains train.py (``from sklearn.externals import joblib``) and the model's S3 URI is
built from ``sklearn.jobs[-1].describe()``; a second processing job evaluates it and the report is read with
``S3Downloader.read_file``; then a ``FrameworkProcessor(estimator_cls=SKLearn)`` runs preprocessing.py from its
``code`` folder. Its optional last part builds a Docker image and pushes it to ECR for a ``ScriptProcessor``.
What the reader has that the test gives: the census CSV in the examples' bucket (a small stand-in,
``sdk_integ_support.census_csv``). The kernel has no package index, so its ``%pip install`` fails (IPython goes
on); the FrameworkProcessor's job, as on SageMaker, installs code/requirements.txt (keras, tensorflow, seaborn,
pillow: hundreds of MB from the package index) before it runs. Docker is not used: the optional part's image is
never built, so its job fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from port_sources import materialize, needs
from sdk_integ_support import census_csv
from test_journey_notebooks import PORT_SCRIPT, Serve, cell_errors, clean_environment, execute, outputs_of

FOLDER = " archived/scikit_learn_data_processing_and_model_evaluation"
NOTEBOOK = "scikit_learn_data_processing_and_model_evaluation.ipynb"


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a Python 3.7 environment built, four processing jobs and a training job
@needs("sklearn_processing_notebook")
def test_sklearn_processing_and_evaluation_notebook(tmp_path: Path) -> None:
    folder, home = tmp_path / "notebook", tmp_path / "home"
    home.mkdir()
    sources = materialize("sklearn_processing_notebook", tmp_path / "sources")
    shutil.copytree(sources / FOLDER, folder)  # a path without the space of the repository's " archived"
    notebook = folder / NOTEBOOK
    subprocess.run([sys.executable, str(PORT_SCRIPT), str(sources / FOLDER / NOTEBOOK), str(notebook)], check=True)
    envs = {"STEPFN_ENV_DIR": os.environ.get("STEPFN_TEST_ENV_DIR") or str(tmp_path / "envs")}
    serve = Serve(folder, clean_environment(home, **envs))
    try:
        s3 = serve.client("s3")
        s3.create_bucket(Bucket="sagemaker-sample-data-us-east-1")
        s3.put_object(Bucket="sagemaker-sample-data-us-east-1", Key="processing/census/census-income.csv",
                      Body=census_csv(600))
        document = execute(notebook, clean_environment(home, **serve.settings, **envs))
        # Every cell runs but the optional part's last: its ScriptProcessor names the ECR image the cells before
        # it would have built and pushed with Docker (here its script runs in stepfn's own Python, as any image
        # stepfn has no environment for, and today's scikit-learn has no OneHotEncoder(sparse=...); on SageMaker
        # the job fails to pull the image that was never pushed).
        errors = cell_errors(document)
        assert len(errors) == 1 and "UnexpectedStatusException" in errors[0], errors
        assert "sagemaker-processing-container" in errors[0]
        optional = next(index for index, cell in enumerate(document["cells"])
                        if "run_optional_steps = True" in cell["source"])
        assert int(errors[0].split(":", 1)[0].removeprefix("cell ")) > optional, errors

        sagemaker = serve.client("sagemaker")
        jobs = {job["ProcessingJobName"]: job["ProcessingJobStatus"]
                for job in sagemaker.list_processing_jobs(MaxResults=100)["ProcessingJobSummaries"]}
        assert sorted(jobs.values()) == ["Completed", "Completed", "Completed", "Failed"], jobs
        (training,) = sagemaker.list_training_jobs()["TrainingJobSummaries"]
        assert training["TrainingJobStatus"] == "Completed"
        # The evaluation report, read back with S3Downloader.read_file and printed.
        report = "".join(output.get("text", "") for output in outputs_of(document, "S3Downloader.read_file("))
        assert '"roc_auc": ' in report and '"accuracy": ' in report, report
        # The FrameworkProcessor's job ran preprocessing.py from code/ through runproc.sh.
        (framework_job,) = [name for name in jobs if name.startswith("scikit-learn-")]
        described = sagemaker.describe_processing_job(ProcessingJobName=framework_job)
        assert described["AppSpecification"]["ContainerEntrypoint"] == [
            "/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh"]
        assert described["ProcessingJobStatus"] == "Completed"
        printed = "".join(output.get("text", "") for output in outputs_of(document, "script_processor.jobs[-1]"))
        assert "'ProcessingJobStatus': 'Completed'" in printed
    finally:
        serve.stop()
