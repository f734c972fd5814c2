"""Port of aws-samples/amazon-sagemaker-script-mode ``tf-2-workflow/tf-2-workflow.ipynb`` (TensorFlow 2 in script mode).

Source: https://github.com/aws-samples/amazon-sagemaker-script-mode/blob/8af6abda949e888eed297735eed2d9e72682d855/tf-2-workflow/tf-2-workflow.ipynb
(commit 8af6abd, "TF2 workflow SM SDK v2 mods", 2020-12-12). The repository's newest commit (f45f27a) adds lines to
``preprocessing.py`` that read a ``y_*.npy`` file from the processing input, which the notebook never uploads there
(it saves only ``x_train.npy``/``x_test.npy`` under ``data/raw``): that script raises NameError on SageMaker too, so
the commit before it is ported.

The notebook's code cells run in order as written, with these changes only:

* imports: ``sagemaker`` -> ``stepfn.sagemaker``, ``stepfunctions`` -> ``stepfn``;
* the role and bucket: ``get_execution_role()`` and ``Session().default_bucket()`` are stepfn's local ones, and
  ``workflow_execution_role = "<execution-role-arn>"`` (the notebook asks to paste an ARN there) is a dummy ARN;
* the data: ``boston_housing.load_data()`` (a download through ``tensorflow.python.keras``) is small synthetic
  data of the same shapes (13 features, a price-like target); the kernel's unused ``import tensorflow as tf``
  goes with it (TensorFlow is in the training environment, not in stepfn's Python);
* the git repository: ``git_config`` names https://github.com/aws-samples/amazon-sagemaker-script-mode, which this
  test serves from a local repository (git's ``url.<local>.insteadOf``, set in the environment) holding
  ``tf-2-workflow/train_model/train.py`` and ``model_def.py`` with the originals' contract (``--epochs``,
  ``--batch_size``, ``--learning_rate``, ``SM_CHANNEL_TRAIN``/``TEST`` holding ``x_*.npy``/``y_*.npy``, a Keras
  model of 13 -> 13 tanh -> 6 sigmoid -> 1 trained with SGD on MSE and saved as a SavedModel under
  ``<model_dir>/1``), written here, not copied;
* cell 5 (``%%writefile preprocessing.py``) is not committed here: ``port-sources.toml``'s ``tf2_scripts`` takes
  it from the notebook at that commit in a fetched checkout (``$STEPFN_PORT_SOURCES``, see
  ``scripts/ported-suites.sh``) and the fixture writes it as Jupyter would; without it the test skips;
* shell cells: ``!aws s3 cp`` is ``stepfn cp`` (the local object store's ``aws s3 cp``) and ``!tar`` is tar; cells 13
  and 19 (``wget local_mode_setup.sh``, ``docker container stop``) set up Docker for SageMaker's Local Mode, which
  stepfn runs without Docker, and are not run; ``pip install stepfunctions`` (cell 54) is not run;
* cells 15 and 32 pass ``script_mode=True``, which makes sagemaker v2 (and stepfn) warn that it was removed; the
  test expects that DeprecationWarning (this suite makes warnings errors);
* display-only cells (``render_graph``, ``list_executions(html=True)``, ``render_progress``) run and their
  results are not looked at; cell 72's regular expression is written as a raw string (the same string: this
  suite makes Python's invalid-escape warning an error); the notebook's "wait until the workflow completes" is
  ``execution.get_output(wait=True)``; the DataFrames cells 44 and 46 end with (displayed by Jupyter) and the
  predictions of cell 50 are kept in variables for the checks at the end.

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

# The notebook's cells are kept as written: str.format and % formatting, import order, unused imports.
# ruff: noqa: UP032, UP031, I001, F401

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
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


def shell(*command: str) -> None:
    """A ``!`` line of the notebook; ``aws s3`` is ``stepfn``'s copy of it over the local object store."""
    if command[:2] == ("aws", "s3"):
        command = (sys.executable, "-m", "stepfn", *command[2:])
    subprocess.run(command, check=True)


@pytest.fixture(autouse=True)
def notebook_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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


def test_tf2_workflow_notebook() -> None:
    # --- cell 1 ---
    import os
    import stepfn.sagemaker as sagemaker

    sess = sagemaker.Session()
    bucket = sess.default_bucket()

    data_dir = os.path.join(os.getcwd(), 'data')
    os.makedirs(data_dir, exist_ok=True)

    train_dir = os.path.join(os.getcwd(), 'data/train')
    os.makedirs(train_dir, exist_ok=True)

    test_dir = os.path.join(os.getcwd(), 'data/test')
    os.makedirs(test_dir, exist_ok=True)

    raw_dir = os.path.join(os.getcwd(), 'data/raw')
    os.makedirs(raw_dir, exist_ok=True)

    # --- cell 3 (the data set: the stand-in above) ---
    import numpy as np
    from sklearn.preprocessing import StandardScaler

    (x_train, y_train), (x_test, y_test) = load_data()

    np.save(os.path.join(raw_dir, 'x_train.npy'), x_train)
    np.save(os.path.join(raw_dir, 'x_test.npy'), x_test)
    np.save(os.path.join(train_dir, 'y_train.npy'), y_train)
    np.save(os.path.join(test_dir, 'y_test.npy'), y_test)
    s3_prefix = 'tf-2-workflow'
    rawdata_s3_prefix = '{}/data/raw'.format(s3_prefix)
    raw_s3 = sess.upload_data(path='./data/raw/', key_prefix=rawdata_s3_prefix)
    print(raw_s3)

    # --- cell 5: %%writefile preprocessing.py (written by notebook_instance from the fetched notebook) ---

    # --- cell 7 ---
    from stepfn.sagemaker import get_execution_role
    from stepfn.sagemaker.sklearn.processing import SKLearnProcessor

    sklearn_processor = SKLearnProcessor(framework_version='0.20.0',
                                         role=get_execution_role(),
                                         instance_type='ml.m5.xlarge',
                                         instance_count=2)

    # --- cell 9 ---
    from stepfn.sagemaker.processing import ProcessingInput, ProcessingOutput
    from time import gmtime, strftime

    processing_job_name = "tf-2-workflow-{}".format(strftime("%d-%H-%M-%S", gmtime()))
    output_destination = 's3://{}/{}/data'.format(bucket, s3_prefix)

    sklearn_processor.run(code='preprocessing.py',
                          job_name=processing_job_name,
                          inputs=[ProcessingInput(
                            source=raw_s3,
                            destination='/opt/ml/processing/input',
                            s3_data_distribution_type='ShardedByS3Key')],
                          outputs=[ProcessingOutput(output_name='train',
                                                    destination='{}/train'.format(output_destination),
                                                    source='/opt/ml/processing/train'),
                                   ProcessingOutput(output_name='test',
                                                    destination='{}/test'.format(output_destination),
                                                    source='/opt/ml/processing/test')])

    preprocessing_job_description = sklearn_processor.jobs[-1].describe()

    # --- cell 11 ---
    train_in_s3 = '{}/train/x_train.npy'.format(output_destination)
    test_in_s3 = '{}/test/x_test.npy'.format(output_destination)
    shell('aws', 's3', 'cp', train_in_s3, './data/train/x_train.npy')
    shell('aws', 's3', 'cp', test_in_s3, './data/test/x_test.npy')

    # --- cell 15 ---
    from stepfn.sagemaker.tensorflow import TensorFlow

    git_config = {'repo': 'https://github.com/aws-samples/amazon-sagemaker-script-mode',
                  'branch': 'master'}

    model_dir = '/opt/ml/model'
    train_instance_type = 'local'
    hyperparameters = {'epochs': 5, 'batch_size': 128, 'learning_rate': 0.01}
    with pytest.warns(DeprecationWarning, match="script_mode has been removed"):
        local_estimator = TensorFlow(git_config=git_config,
                                     source_dir='tf-2-workflow/train_model',
                                     entry_point='train.py',
                                     model_dir=model_dir,
                                     instance_type=train_instance_type,
                                     instance_count=1,
                                     hyperparameters=hyperparameters,
                                     role=sagemaker.get_execution_role(),
                                     base_job_name='tf-2-workflow',
                                     framework_version='2.2',
                                     py_version='py37',
                                     script_mode=True)

    # --- cell 17 ---
    inputs = {'train': f'file://{train_dir}',
              'test': f'file://{test_dir}'}

    local_estimator.fit(inputs)

    # --- cell 21 ---
    local_predictor = local_estimator.deploy(initial_instance_count=1, instance_type='local')

    # --- cell 23 ---
    local_results = local_predictor.predict(x_test[:10])['predictions']

    # --- cell 25 ---
    local_preds_flat_list = [float('%.1f'%(item)) for sublist in local_results for item in sublist]
    print('predictions: \t{}'.format(np.array(local_preds_flat_list)))
    print('target values: \t{}'.format(y_test[:10].round(decimals=1)))

    # --- cell 27 ---
    local_predictor.delete_endpoint()

    # --- cell 29 ---
    s3_prefix = 'tf-2-workflow'

    traindata_s3_prefix = '{}/data/train'.format(s3_prefix)
    testdata_s3_prefix = '{}/data/test'.format(s3_prefix)

    # --- cell 30 ---
    train_s3 = sess.upload_data(path='./data/train/', key_prefix=traindata_s3_prefix)
    test_s3 = sess.upload_data(path='./data/test/', key_prefix=testdata_s3_prefix)

    inputs = {'train':train_s3, 'test': test_s3}

    print(inputs)

    # --- cell 32 ---
    train_instance_type = 'ml.c5.xlarge'
    hyperparameters = {'epochs': 30, 'batch_size': 128, 'learning_rate': 0.01}

    git_config = {'repo': 'https://github.com/aws-samples/amazon-sagemaker-script-mode',
                  'branch': 'master'}

    # sagemaker v2 warns that script_mode was removed (TensorFlow always trains in script mode), as stepfn does.
    with pytest.warns(DeprecationWarning, match="script_mode has been removed"):
        estimator = TensorFlow(git_config=git_config,
                               source_dir='tf-2-workflow/train_model',
                               entry_point='train.py',
                               model_dir=model_dir,
                               instance_type=train_instance_type,
                               instance_count=1,
                               hyperparameters=hyperparameters,
                               role=sagemaker.get_execution_role(),
                               base_job_name='tf-2-workflow',
                               framework_version='2.2',
                               py_version='py37',
                               script_mode=True)

    # --- cell 34 ---
    estimator.fit(inputs)

    # --- cell 36 ---
    shell('aws', 's3', 'cp', estimator.model_data, './model/model.tar.gz')

    # --- cell 38 ---
    shell('tar', '-xvzf', './model/model.tar.gz', '-C', './model')

    # --- cell 40 ---
    from stepfn.sagemaker.tuner import IntegerParameter, CategoricalParameter, ContinuousParameter, HyperparameterTuner

    hyperparameter_ranges = {
      'learning_rate': ContinuousParameter(0.001, 0.2, scaling_type="Logarithmic"),
      'epochs': IntegerParameter(10, 50),
      'batch_size': IntegerParameter(64, 256),
    }

    metric_definitions = [{'Name': 'loss',
                           'Regex': ' loss: ([0-9\\.]+)'},
                         {'Name': 'val_loss',
                           'Regex': ' val_loss: ([0-9\\.]+)'}]

    objective_metric_name = 'val_loss'
    objective_type = 'Minimize'

    # --- cell 42 ---
    tuner = HyperparameterTuner(estimator,
                                objective_metric_name,
                                hyperparameter_ranges,
                                metric_definitions,
                                max_jobs=15,
                                max_parallel_jobs=5,
                                objective_type=objective_type)

    tuning_job_name = "tf-2-workflow-{}".format(strftime("%d-%H-%M-%S", gmtime()))
    tuner.fit(inputs, job_name=tuning_job_name)
    tuner.wait()

    # --- cell 44 ---
    tuner_metrics = sagemaker.HyperparameterTuningJobAnalytics(tuning_job_name)
    top5 = tuner_metrics.dataframe().sort_values(['FinalObjectiveValue'], ascending=True).head(5)

    # --- cell 46 ---
    total_time = tuner_metrics.dataframe()['TrainingElapsedTimeSeconds'].sum() / 3600
    print("The total training time is {:.2f} hours".format(total_time))
    statuses = tuner_metrics.dataframe()['TrainingJobStatus'].value_counts()

    # --- cell 48 ---
    tuning_predictor = tuner.deploy(initial_instance_count=1, instance_type='ml.m5.xlarge')

    # --- cell 50 ---
    results = tuning_predictor.predict(x_test[:10])['predictions']
    flat_list = [float('%.1f'%(item)) for sublist in results for item in sublist]
    print('predictions: \t{}'.format(np.array(flat_list)))
    print('target values: \t{}'.format(y_test[:10].round(decimals=1)))
    tuning_flat_list = flat_list

    # --- cell 52 ---
    sess.delete_endpoint(tuning_predictor.endpoint_name)

    # --- cell 57 ---
    import stepfn

    from stepfn.template.pipeline import TrainingPipeline

    # paste the StepFunctionsWorkflowExecutionRole ARN from above
    workflow_execution_role = "arn:aws:iam::111122223333:role/StepFunctionsWorkflowExecutionRole"

    pipeline = TrainingPipeline(
        estimator=estimator,
        role=workflow_execution_role,
        inputs=inputs,
        s3_bucket=bucket
    )

    # --- cell 59 ---
    print(pipeline.workflow.definition.to_json(pretty=True))

    # --- cell 60 ---
    pipeline.render_graph()

    # --- cell 62 ---
    pipeline.create()

    # --- cell 64 ---
    execution = pipeline.execute()

    # --- cell 66 ---
    pipeline.workflow.list_executions(html=True)

    # --- cell 68 ---
    execution.render_progress()

    # --- "Wait until the workflow completes with status Succeeded" ---
    execution.get_output(wait=True)

    # --- cell 70 ---
    execution.list_events(reverse_order=True, html=False)

    # --- cell 72 ---
    import re

    endpoint_name_suffix = re.search(r'endpoint\Wtraining\Wpipeline\W([a-zA-Z0-9\W]+?)"', str(execution.list_events())).group(1)
    print(endpoint_name_suffix)

    # --- cell 74 ---
    from stepfn.sagemaker.tensorflow import TensorFlowPredictor

    workflow_predictor = TensorFlowPredictor('training-pipeline-' + endpoint_name_suffix)

    results = workflow_predictor.predict(x_test[:10])['predictions']
    flat_list = [float('%.1f'%(item)) for sublist in results for item in sublist]
    print('predictions: \t{}'.format(np.array(flat_list)))
    print('target values: \t{}'.format(y_test[:10].round(decimals=1)))

    # --- what the notebook's reader looks at ---
    assert preprocessing_job_description["ProcessingJobStatus"] == "Completed"
    scaled = np.load('./data/train/x_train.npy')
    assert scaled.shape == x_train.shape and np.allclose(scaled.mean(axis=0), 0, atol=1e-6)
    assert os.path.isfile('./model/1/saved_model.pb')
    assert len(top5) == 5 and list(top5['FinalObjectiveValue']) == sorted(top5['FinalObjectiveValue'])
    assert statuses.to_dict() == {'Completed': 15} and total_time > 0
    assert execution.describe()['status'] == 'SUCCEEDED'
    # The notebook sends the unscaled test features, as it does on SageMaker: one number per row comes back.
    for predictions in (local_preds_flat_list, tuning_flat_list, flat_list):
        assert len(predictions) == 10 and np.isfinite(predictions).all()
    workflow_predictor.delete_endpoint()
