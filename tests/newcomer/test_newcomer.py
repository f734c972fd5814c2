"""A newcomer's first hour, end to end, against committed work (issues #13 and #21).

Run with ``pytest tests/newcomer -m newcomer -n 0`` (the default ``-m 'not newcomer'`` leaves these out of
``make test``; ``.ci/run`` runs them after the suite). They take minutes and need the package index (pip).
``STEPFN_WHEEL=dist/stepfn-*.whl`` makes the wheel variant install that file (CI passes the wheel it built and
checked); without it the test builds a wheel from the fresh clone.

1. Fresh clone: ``git clone`` of this repository at HEAD into an empty folder (no ``shared/`` beside it), the
   README's first command (``make demo``) with Debian's ``python3``, then the README's pipeline written in a
   separate folder and run with the README's ``stepfn cp`` / ``run`` / ``executions`` / ``show`` lines.
2. Wheel: the wheel installed with no extras into a fresh venv made by Debian's ``python3``; the same README
   lines, then ``stepfn ui`` (pages and console API), ``stepfn serve`` (a boto3 call), every command's
   ``--help``, and what needs an extra says ``pip install 'stepfn[ml]'``.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from newcomer_support import (
    REPO,
    SYSTEM_PYTHON,
    browser,
    check_user_pipeline_results,
    clean_env,
    clone_head,
    follow_run_sequence,
    http_get,
    http_post_json,
    read_readme,
    run,
    start_server,
    transcript,
    write_user_folder,
)

pytestmark = [
    pytest.mark.newcomer,
    pytest.mark.skipif(not Path(SYSTEM_PYTHON).is_file(), reason=f"needs the system interpreter {SYSTEM_PYTHON}"),
    pytest.mark.skipif(not (REPO / ".git").exists(), reason="needs a git checkout to clone"),
]


@pytest.mark.timeout(2400)
def test_fresh_clone_make_demo_then_the_readme_pipeline(tmp_path: Path) -> None:
    clone = clone_head(tmp_path / "stepfn")
    assert not (tmp_path / "shared").exists() and not (clone.parent / "shared").exists()
    home = tmp_path / "home"
    home.mkdir()
    readme = read_readme(clone)

    first = readme.first_command()
    assert first == ["make", "demo"], f"the README's first command changed: {first}"
    demo = run(first, cwd=clone, env=clean_env(home), timeout=1800)
    assert demo.returncode == 0, transcript(demo)
    assert "Collecting" in demo.stdout, "the install shows progress while it runs"
    assert "SUCCEEDED in" in demo.stdout and "predictions:" in demo.stdout, transcript(demo)
    assert "batch transform:" in demo.stdout and "object store root:" in demo.stdout, transcript(demo)
    version = subprocess.run([str(clone / ".venv" / "bin" / "python"), "--version"], capture_output=True,
                             text=True, check=True).stdout
    system = subprocess.run([SYSTEM_PYTHON, "--version"], capture_output=True, text=True, check=True).stdout
    assert version == system, "make demo built .venv with the system python3 (PATH without pyenv)"

    # The person activates the checkout's venv and works in a folder of their own.
    user = tmp_path / "my-pipeline"
    write_user_folder(user, readme)
    results = follow_run_sequence(user, readme, clean_env(home, clone / ".venv" / "bin"))
    check_user_pipeline_results(user, results)


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, str]]:
    """(venv, home, wheel version): the wheel installed with no extras into a venv of the system python3."""
    root = tmp_path_factory.mktemp("wheel")
    home = root / "home"
    home.mkdir()
    venv = root / "venv"
    env = clean_env(home)
    made = run([SYSTEM_PYTHON, "-m", "venv", str(venv)], cwd=root, env=env, timeout=300)
    assert made.returncode == 0, transcript(made)
    given = os.environ.get("STEPFN_WHEEL")
    if given:
        matches = sorted(glob.glob(given))
        assert len(matches) == 1, f"STEPFN_WHEEL={given} matches {matches}"
        wheel, source = Path(matches[0]).resolve(), REPO
    else:
        source = clone_head(root / "stepfn")
        built = run([str(venv / "bin" / "python"), "-m", "pip", "wheel", "--no-deps", "-w", str(root / "dist"),
                     str(source)], cwd=root, env=env, timeout=600)
        assert built.returncode == 0, transcript(built)
        (wheel,) = (root / "dist").glob("stepfn-*.whl")
    # Static files, data tables, license files, core dependencies; nothing from tests/ (the check CI runs).
    checked = run([SYSTEM_PYTHON, str(source / ".ci" / "check_dist.py"), str(wheel)], cwd=root, env=env)
    assert checked.returncode == 0, transcript(checked)
    installed = run([str(venv / "bin" / "python"), "-m", "pip", "install", str(wheel)], cwd=root, env=env,
                    timeout=900)
    assert installed.returncode == 0, transcript(installed)
    yield venv, home, wheel.name.split("-")[1]


@pytest.mark.timeout(1200)
def test_wheel_in_a_fresh_system_venv_follows_the_readme(wheel_venv: tuple[Path, Path, str],
                                                         tmp_path: Path) -> None:
    venv, home, version = wheel_venv
    env = clean_env(home, venv / "bin")
    no_extras = run(["python", "-c", "import numpy"], cwd=tmp_path, env=env)
    assert no_extras.returncode != 0, "the plain install pulled in numpy: the test would not check a minimal install"
    shown_version = run(["stepfn", "--version"], cwd=tmp_path, env=env)
    assert shown_version.stdout == f"stepfn {version}\n", transcript(shown_version)

    readme = read_readme(REPO)
    user = tmp_path / "my-pipeline"
    write_user_folder(user, readme)
    results = follow_run_sequence(user, readme, env)
    execution_name = check_user_pipeline_results(user, results)

    # stepfn ui: the person opens the printed console URL; its pages and API answer from the plain install.
    console = start_server(["stepfn", "ui", "--port", "0"], cwd=user, env=env, until="console: ")
    try:
        base = console.url()
        page_url = console.line_starting("console: ").removeprefix("console: ")
        client = browser()
        status, _, page = http_get(client, page_url)
        assert status == 200 and "<html" in page.lower(), page[:500]
        for asset in ("/ui/static/app.js", "/ui/static/app.css"):
            assert http_get(client, base + asset)[0] == 200, asset
        status, landed, _ = http_get(client, f"{base}/")
        assert status == 200 and "/ui" in landed, f"GET / leads to the console: {status} {landed}"
        status, _, body = http_get(client, f"{base}/ui/api/workflows")
        assert status == 200 and "my-pipeline" in body, body
        status, _, body = http_get(client, f"{base}/ui/api/executions")
        assert status == 200 and execution_name in body, body
        arn = next(e["executionArn"] for e in json.loads(body) if e["name"] == execution_name)
        status, _, body = http_get(client, f"{base}/ui/api/execution/{arn}")
        assert status == 200 and "ExecutionSucceeded" in body, body[:500]
        job = json.loads(results["run"].args[results["run"].args.index("--input") + 1])["JobName"]
        status, _, body = http_get(client, f"{base}/ui/api/jobs/training-job/{job}")
        assert status == 200 and "Completed" in body, body[:500]
        assert http_get(client, f"{base}/ui/api/endpoints")[0] == 200
        # The console's Start button: a second run of the same pipeline, to the end.
        status, body = http_post_json(client, f"{base}/ui/api/executions",
                                      {"workflow": "my-pipeline", "name": "from-console",
                                       "input": {"JobName": "from-console"}})
        assert status == 200, body
        started = json.loads(body)["executionArn"]
        deadline = time.monotonic() + 600
        while '"SUCCEEDED"' not in (body := http_get(client, f"{base}/ui/api/execution/{started}")[2]):
            assert '"FAILED"' not in body and time.monotonic() < deadline, body[:2000]
            time.sleep(1)
    finally:
        console.stop()

    # stepfn serve: the person pastes the `export` lines it prints, then calls boto3 with no arguments but the
    # service: the venv's own boto3 reads them and sees the pipeline the CLI ran.
    server = start_server(["stepfn", "serve", "--port", "0"], cwd=user, env=env, until="token: ")
    try:
        server.url()
        exported = dict(setting.split("=", 1) for line in server.lines if line.strip().startswith("export ")
                        for setting in line.split()[1:])
        assert {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(exported), server.lines
        call = ("import boto3\n"
                "print(sorted(m['name'] for m in boto3.client('stepfunctions').list_state_machines()['stateMachines']))")
        listed = run(["python", "-c", call], cwd=user, env={**env, **exported}, timeout=120)
        assert listed.returncode == 0 and "'my-pipeline'" in listed.stdout, transcript(listed) + "".join(server.lines)
    finally:
        server.stop()


@pytest.mark.timeout(900)
def test_a_plain_install_runs_every_command_and_names_the_extra_it_lacks(wheel_venv: tuple[Path, Path, str],
                                                                        tmp_path: Path) -> None:
    venv, home, _ = wheel_venv
    env = clean_env(home, venv / "bin")

    # Every command and subcommand answers --help.
    listed = run(["python", "-c", textwrap.dedent("""
        import click
        from stepfn.cli import cli

        def walk(group, prefix):
            for name, command in sorted(group.commands.items()):
                print(" ".join([*prefix, name]))
                if isinstance(command, click.Group):
                    walk(command, [*prefix, name])

        walk(cli, [])
    """)], cwd=tmp_path, env=env)
    assert listed.returncode == 0, transcript(listed)
    commands = listed.stdout.split("\n")[:-1]
    assert {"run", "executions", "show", "ui", "serve", "logs"} <= set(commands), commands
    for command in commands:
        helped = run(["stepfn", *command.split(), "--help"], cwd=tmp_path, env=env, timeout=120)
        assert helped.returncode == 0 and "Usage:" in helped.stdout, transcript(helped)

    # Every module imports without the extras, except the built-in algorithms' own modules, which run only in
    # the job's process after training.py's require_extra("ml") check (tests/packaging checks that guard).
    imported = run(["python", "-c", textwrap.dedent("""
        import importlib, json, pkgutil, stepfn
        failed = {}
        for module in pkgutil.walk_packages(stepfn.__path__, "stepfn."):
            if module.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(module.name)
            except ModuleNotFoundError as error:
                failed[module.name] = error.name
        print(json.dumps(failed))
    """)], cwd=tmp_path, env=env, timeout=300)
    assert imported.returncode == 0, transcript(imported)
    failed = json.loads(imported.stdout)
    assert all(name.startswith("stepfn.local.sagemaker.builtins.") for name in failed), failed

    # What needs the `ml` extra says so: a built-in algorithm's training job, a tuning job, record_set; serving
    # a framework model (a batch transform) needs none.
    script = tmp_path / "needs_ml.py"
    script.write_text(textwrap.dedent("""
        import io
        import json
        import tarfile

        from stepfn.errors import MissingExtraError
        from stepfn.local.objectstore import ObjectStore
        from stepfn.sagemaker import Estimator, KMeans, Model, Session, Transformer, image_uris
        from stepfn.sagemaker.tuner import ContinuousParameter, HyperparameterTuner
        from stepfn.steps import Chain, ModelStep, TrainingStep, TransformStep, TuningStep
        from stepfn.workflow import Workflow

        ROLE = "arn:aws:iam::111122223333:role/Role"
        session = Session(region_name="us-east-1", default_bucket="bucket")
        store = ObjectStore()
        archive = io.BytesIO()
        tarfile.open(fileobj=archive, mode="w:gz").close()
        store.put_bytes("s3://bucket/model/model.tar.gz", archive.getvalue())
        store.put_bytes("s3://bucket/batch/in.csv", b"1,2\\n")
        store.put_bytes("s3://bucket/train/train.csv", b"1,2\\n")

        xgboost = Estimator(image_uri=image_uris.retrieve("xgboost", "us-east-1", version="1.7-1"), role=ROLE,
                            instance_count=1, instance_type="ml.m5.large", output_path="s3://bucket/out",
                            hyperparameters={"num_round": 2}, sagemaker_session=session)
        training = Workflow("needs-ml-training", TrainingStep("Train", estimator=xgboost, job_name="xgb-1",
                                                              data={"train": "s3://bucket/train/"}), role=ROLE)
        model = Model(image_uri=image_uris.retrieve("sklearn", "us-east-1", version="1.2-1"),
                      model_data="s3://bucket/model/model.tar.gz", role=ROLE, sagemaker_session=session)
        transformer = Transformer(model_name="skl-model", instance_count=1, instance_type="ml.m5.large",
                                  output_path="s3://bucket/out", sagemaker_session=session)
        serving = Workflow("needs-ml-serving", Chain([
            ModelStep("Model", model=model, model_name="skl-model"),
            TransformStep("Transform", transformer=transformer, job_name="skl-transform", model_name="skl-model",
                          data="s3://bucket/batch/", content_type="text/csv"),
        ]), role=ROLE)
        tuner = HyperparameterTuner(xgboost, objective_metric_name="validation:auc",
                                    hyperparameter_ranges={"eta": ContinuousParameter(0.1, 0.5)}, max_jobs=1,
                                    max_parallel_jobs=1)
        tuning = Workflow("needs-ml-tuning", TuningStep("Tune", tuner=tuner, job_name="tune-1",
                                                         data={"train": "s3://bucket/train/"}), role=ROLE)
        outcome = {}
        for workflow in (training, serving, tuning):
            workflow.create_or_update()
            execution = workflow.execute()
            execution.get_output(wait=True)
            described = execution.describe()
            outcome[workflow.name] = {"status": described["status"], "cause": described.get("cause", "")}
        kmeans = KMeans(role=ROLE, instance_count=1, instance_type="ml.m5.large", k=2, sagemaker_session=session)
        try:
            kmeans.record_set([[1.0, 2.0], [3.0, 4.0]])
            outcome["record_set"] = {"status": "no error", "cause": ""}
        except MissingExtraError as error:
            outcome["record_set"] = {"status": "MissingExtraError", "cause": str(error)}
        print(json.dumps(outcome))
    """))
    ran = run(["python", str(script)], cwd=tmp_path, env=env, timeout=300)
    assert ran.returncode == 0, transcript(ran)
    outcome = json.loads(ran.stdout.strip().splitlines()[-1])
    expected = {
        "needs-ml-training": "The local built-in xgboost algorithm needs",
        "needs-ml-tuning": "A local hyperparameter tuning job (searched with optuna) needs optuna",
        "record_set": "record_set (RecordIO-protobuf shards) needs numpy",
    }
    # Serving a framework model needs no extra: without scikit-learn in stepfn's Python, the model is served in
    # the sklearn 1.2-1 image's own environment (built with uv), as its training job would run. The archive here
    # is empty, so the transform fails there, on the model, not on a missing stepfn extra.
    serving = outcome["needs-ml-serving"]
    assert serving["status"] == "FAILED", serving
    assert "stepfn[ml]" not in serving["cause"] and "No module named" not in serving["cause"], serving["cause"][:2000]
    transform_log = (tmp_path / ".stepfn" / "sagemaker" / "logs" / "transform-job" / "skl-transform.log").read_text()
    assert "stepfn: the model is served in the sklearn environment" in transform_log, transform_log[-2000:]
    for what, purpose in expected.items():
        status, cause = outcome[what]["status"], outcome[what]["cause"]
        assert status in ("FAILED", "MissingExtraError"), (what, outcome[what])
        assert purpose in cause and "pip install 'stepfn[ml]'" in cause, (what, cause[:2000])
