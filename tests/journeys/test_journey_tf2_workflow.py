"""Port of aws-samples/amazon-sagemaker-script-mode ``tf-2-workflow/tf-2-workflow.ipynb`` (TensorFlow 2 in script mode).

Source: https://github.com/aws-samples/amazon-sagemaker-script-mode/blob/8af6abda949e888eed297735eed2d9e72682d855/tf-2-workflow/tf-2-workflow.ipynb
(commit 8af6abd, "TF2 workflow SM SDK v2 mods", 2020-12-12). The repository's newest commit (f45f27a) adds lines to
``preprocessing.py`` that read a ``y_*.npy`` file from the processing input, which the notebook never uploads there
(it saves only ``x_train.npy``/``x_test.npy`` under ``data/raw``): that script raises NameError on SageMaker too, so
the commit before it is ported.

The notebook is not committed here: ``port-sources.toml``'s ``tf2_scripts`` takes it at that commit from a fetched
checkout (``$STEPFN_PORT_SOURCES``, see ``scripts/ported-suites.sh``); without it the test skips. Its code cells run
in order, in this process (one namespace, as one kernel), as the notebook writes them, with these changes only:

* imports: ``sagemaker`` -> ``stepfn.sagemaker``, ``stepfunctions`` -> ``stepfn`` (``notebooks/port_notebook.py``);
* the role and bucket: ``get_execution_role()`` and ``Session().default_bucket()`` are stepfn's local ones, and
  ``workflow_execution_role = "<execution-role-arn>"`` (the notebook asks to paste an ARN there) is a dummy ARN;
* the data: cell 3's ``boston_housing`` (its import line is dropped: a download through ``tensorflow.python.keras``)
  is an object whose ``load_data()`` gives small synthetic data of the same shapes (13 features, a price-like
  target); cell 1's unused ``import tensorflow as tf`` is dropped (TensorFlow is in the training environment,
  not in stepfn's Python);
* the git repository: ``git_config`` names https://github.com/aws-samples/amazon-sagemaker-script-mode, which this
  test serves from a local repository (git's ``url.<local>.insteadOf``, set in the environment) holding
  ``tf-2-workflow/train_model/train.py`` and ``model_def.py`` with the originals' contract (``--epochs``,
  ``--batch_size``, ``--learning_rate``, ``SM_CHANNEL_TRAIN``/``TEST`` holding ``x_*.npy``/``y_*.npy``, a Keras
  model of 13 -> 13 tanh -> 6 sigmoid -> 1 trained with SGD on MSE and saved as a SavedModel under
  ``<model_dir>/1``), written here, not copied;
* cell 5 (``%%writefile preprocessing.py``) is written as Jupyter would (``port_sources.write_cells``) and copied
  into the working directory;
* shell lines: ``!aws s3 cp`` is ``stepfn cp`` (the local object store's ``aws s3 cp``) and ``!tar`` is tar, with
  ``{expression}`` expanded as IPython expands it; cells 13
  and 19 (``wget local_mode_setup.sh``, ``docker container stop``) set up Docker for SageMaker's Local Mode, which
  stepfn runs without Docker, and are not run; ``pip install stepfunctions`` (cell 54) is not run;
* cells 15 and 32 pass ``script_mode=True``, which makes sagemaker v2 (and stepfn) warn that it was removed; the
  test expects that DeprecationWarning (this suite makes warnings errors);
* display-only cells (``render_graph``, ``list_executions(html=True)``, ``render_progress``) run and their
  results are not looked at; cell 72's pattern, not a raw string, has invalid escapes, which Python warns about
  when compiling it (this suite makes warnings errors): the cells compile with that warning ignored, as the
  kernel shows it and runs on; the notebook's "wait until the workflow completes" is
  ``execution.get_output(wait=True)`` after cell 68; cell 50's predictions are kept before cell 74 reuses the
  names.

The workflow: SKLearnProcessor (scikit-learn 0.20.0, two instances, ``ShardedByS3Key``) scales the features; a
TensorFlow 2.2 estimator from git trains in Local Mode (``instance_type='local'``, ``file://`` data) and is deployed
and invoked locally, then trains again as a hosted job; a HyperparameterTuner runs 15 jobs, 5 at a time, and
deploys the best; then the Step Functions ``TrainingPipeline`` template trains, saves the model, configures and
creates an endpoint, which a ``TensorFlowPredictor`` found through the execution's events answers.

Skipped where jobs cannot have their own mount namespace (the notebook's ``preprocessing.py`` names
``/opt/ml/processing``). Needs the scikit-learn 0.20.0 and TensorFlow 2.2 framework environments (built with uv on
first use, or found in ``STEPFN_TEST_ENV_DIR``); the TensorFlow models are served in the TensorFlow 2.2 environment, with TF Serving's
REST contract.
"""

from __future__ import annotations

import os
import subprocess
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from notebook_cells import code_cells, run_cell
from port_sources import materialize, needs

# A fresh machine first builds the scikit-learn 0.20 and TensorFlow 2.2 environments (a few hundred MB from PyPI);
# then 18 TensorFlow training jobs run (5 at a time while tuning) and three endpoints serve.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800), needs("tf2_scripts")]

TRAIN_PY = '''\
import argparse
import os

import numpy as np
import tensorflow as tf

from model_def import get_model


def arguments():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--train", type=str, default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--test", type=str, default=os.environ.get("SM_CHANNEL_TEST"))
    parser.add_argument("--model_dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
    return parser.parse_known_args()[0]


def load(directory, split):
    return (np.load(os.path.join(directory, "x_%s.npy" % split)),
            np.load(os.path.join(directory, "y_%s.npy" % split)))


if __name__ == "__main__":
    args = arguments()
    x_train, y_train = load(args.train, "train")
    x_test, y_test = load(args.test, "test")
    model = get_model()
    model.compile(optimizer=tf.keras.optimizers.SGD(args.learning_rate), loss="mse")
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, validation_data=(x_test, y_test),
              verbose=2)
    print("Test MSE:", model.evaluate(x_test, y_test, args.batch_size, verbose=0))
    model.save(args.model_dir + "/1")
'''

MODEL_DEF_PY = '''\
import tensorflow as tf


def get_model():
    features = tf.keras.Input(shape=(13,))
    hidden = tf.keras.layers.Dense(13, activation="tanh")(features)
    hidden = tf.keras.layers.Dense(6, activation="sigmoid")(hidden)
    return tf.keras.Model(inputs=features, outputs=tf.keras.layers.Dense(1)(hidden))
'''

REPOSITORY = "https://github.com/aws-samples/amazon-sagemaker-script-mode"


def load_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Boston-housing-shaped data: 13 features on their own scales, a price in thousands that depends on them."""
    rng = np.random.default_rng(13)

    def rows(count: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(0, 1, (count, 13)) * np.array([90, 100, 27, 1, 0.5, 9, 100, 12, 24, 700, 22, 400, 38])
        y = 22 + 4 * (x[:, 5] - 6) - 0.3 * (x[:, 12] - 12) + rng.normal(0, 1.5, count)
        return x.astype("float64"), np.clip(y, 5, 50).round(1)

    return rows(160), rows(40)


def git_repository(root: Path) -> Path:
    """The notebook's repository, at the paths ``git_config``/``source_dir`` name, on branch master."""
    code = root / "tf-2-workflow" / "train_model"
    code.mkdir(parents=True)
    (code / "train.py").write_text(TRAIN_PY)
    (code / "model_def.py").write_text(MODEL_DEF_PY)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.com")
    for args in (["init", "-q", "-b", "master"], ["add", "."], ["commit", "-q", "-m", "train_model"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)
    return root


@pytest.fixture(autouse=True)
def notebook_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The notebook's working directory, its region, framework environments and the git repository it names."""
    from stepfn.local.sagemaker.isolation import choose_isolation

    # preprocessing.py reads and writes /opt/ml/processing itself; the relocated fallback's message is tested in
    # tests/local.
    if not choose_isolation().isolated:
        pytest.skip("jobs cannot have their own mount namespace here (no bubblewrap, no user namespaces)")
    work = tmp_path / "notebook"
    work.mkdir()
    monkeypatch.chdir(work)
    # The notebook's %%writefile cell, run as Jupyter runs it: its body, as written, in the working directory.
    notebook = materialize("tf2_scripts", tmp_path / "sources") / "tf-2-workflow"
    (work / "preprocessing.py").write_text((notebook / "preprocessing.py").read_text())
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # The default (auto), as a user has it: stepfn's Python has neither scikit-learn 0.20 nor TensorFlow 2.2.
    monkeypatch.delenv("STEPFN_JOB_ENV")
    monkeypatch.setenv("STEPFN_ENV_DIR", os.environ.get("STEPFN_TEST_ENV_DIR") or str(tmp_path / "envs"))
    local = git_repository(tmp_path / "amazon-sagemaker-script-mode")
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{local.as_uri()}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", REPOSITORY)
    return notebook / "tf-2-workflow.ipynb"


SKIPPED_CELLS = {
    5: "%%writefile preprocessing.py: written by notebook_instance",
    13: "wget local_mode_setup.sh: Docker for SageMaker's Local Mode, which stepfn runs without Docker",
    19: "docker container stop: the same",
    54: "pip install --upgrade stepfunctions: stepfn is installed",
}
PORT = {
    "import tensorflow as tf\n": "",
    "from tensorflow.python.keras.datasets import boston_housing\n": "",
    '"<execution-role-arn>"': '"arn:aws:iam::111122223333:role/StepFunctionsWorkflowExecutionRole"',
}


def test_tf2_workflow_notebook(notebook_instance: Path) -> None:
    kernel: dict[str, Any] = {"__name__": "__main__", "boston_housing": types.SimpleNamespace(load_data=load_data)}
    cells = code_cells(notebook_instance, SKIPPED_CELLS, PORT)
    assert [index for index, _ in cells] == [1, 3, 7, 9, 11, 15, 17, 21, 23, 25, 27, 29, 30, 32, 34, 36, 38, 40, 42, 44,
                                             46, 48, 50, 52, 57, 59, 60, 62, 64, 66, 68, 70, 72, 74]
    kept: dict[str, Any] = {}
    for index, source in cells:
        if "script_mode=True" in source:  # cells 15 and 32: sagemaker v2 (and stepfn) say it was removed
            with pytest.warns(DeprecationWarning, match="script_mode has been removed"):
                run_cell(index, source, kernel, "tf-2-workflow.ipynb")
        else:
            run_cell(index, source, kernel, "tf-2-workflow.ipynb")
        if index == 50:
            kept["tuning_flat_list"] = kernel["flat_list"]
        if index == 68:  # the notebook's "wait until the workflow completes with status Succeeded"
            kernel["execution"].get_output(wait=True)

    # --- what the notebook's reader looks at ---
    assert kernel["preprocessing_job_description"]["ProcessingJobStatus"] == "Completed"
    scaled = np.load('./data/train/x_train.npy')
    assert scaled.shape == kernel["x_train"].shape and np.allclose(scaled.mean(axis=0), 0, atol=1e-6)
    assert os.path.isfile('./model/1/saved_model.pb')
    frame = kernel["tuner_metrics"].dataframe()
    top5 = frame.sort_values(['FinalObjectiveValue'], ascending=True).head(5)  # what cell 44 displays
    assert len(top5) == 5 and list(top5['FinalObjectiveValue']) == sorted(top5['FinalObjectiveValue'])
    assert frame['TrainingJobStatus'].value_counts().to_dict() == {'Completed': 15} and kernel["total_time"] > 0
    assert kernel["execution"].describe()['status'] == 'SUCCEEDED'
    # The notebook sends the unscaled test features, as it does on SageMaker: one number per row comes back.
    for predictions in (kernel["local_preds_flat_list"], kept["tuning_flat_list"], kernel["flat_list"]):
        assert len(predictions) == 10 and np.isfinite(predictions).all()
    kernel["workflow_predictor"].delete_endpoint()
