"""The local step cache (stepfn.local.cache): the demo's train + transform pipeline run again reuses both jobs,
a changed byte reruns exactly the steps that read it, concurrent misses keep one entry, failures are never kept."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))

from cache_demo import TRANSFORM_OUTPUT, prepare, run_once  # noqa: E402
from test_models import check_shape  # noqa: E402

from stepfn.local.cache import StepCache  # noqa: E402
from stepfn.local.objectstore import ObjectStore  # noqa: E402
from stepfn.local.sagemaker.records import RecordStore  # noqa: E402

pytest.importorskip("sklearn")


def _log(home: Path, kind: str, name: str) -> str:
    return RecordStore(home).log_file(kind, name).read_text()


def _ran(home: Path, kind: str, name: str) -> bool:
    """Whether a job process ran for this job: a hit's log holds only the cache line."""
    lines = _log(home, kind, name).splitlines()
    hit = any("Cache hit" in line for line in lines)
    assert len(lines) == 1 if hit else lines, lines  # a hit logs its one line; a job process logs its own
    return not hit


def test_second_run_reuses_training_and_transform(stepfn_home: Path) -> None:
    store = ObjectStore(stepfn_home / "s3")
    workflow = prepare(store)
    run_once(workflow, "1")
    assert _ran(stepfn_home, "training-job", "cache-train-1")
    assert "validation:accuracy" in _log(stepfn_home, "training-job", "cache-train-1")
    first = store.get_bytes(f"{TRANSFORM_OUTPUT}/test.csv.out")
    first_model = store.get_bytes("s3://stepfn-demo/cached-models/cache-train-1/output/model.tar.gz")

    output = run_once(workflow, "2")
    assert not _ran(stepfn_home, "training-job", "cache-train-2")
    assert not _ran(stepfn_home, "transform-job", "cache-transform-2")
    assert store.get_bytes(f"{TRANSFORM_OUTPUT}/test.csv.out") == first
    # The new job's artifacts exist where its record says (the model step read them), byte for byte.
    training = RecordStore(stepfn_home).get("training-job", "cache-train-2")
    assert training is not None and training["TrainingJobStatus"] == "Completed"
    assert training["ModelArtifacts"]["S3ModelArtifacts"].endswith("/cache-train-2/output/model.tar.gz")
    assert store.get_bytes(training["ModelArtifacts"]["S3ModelArtifacts"]) == first_model
    assert "Cache hit" in training["SecondaryStatusTransitions"][-1]["StatusMessage"]
    check_shape("DescribeTrainingJob", training)  # what boto3's DescribeTrainingJob would return, valid
    check_shape("DescribeTransformJob", output)
    assert training["FinalMetricDataList"][0]["MetricName"] == "validation:accuracy"
    assert output["TransformJobName"] == "cache-transform-2" and output["TransformJobStatus"] == "Completed"
    assert len(StepCache(stepfn_home).entries()) == 2


def _touch_one_byte(store: ObjectStore, uri: str) -> None:
    data = bytearray(store.get_bytes(uri))
    index = data.index(b".")  # a decimal point becomes a digit: still a number, another value
    data[index:index + 1] = b"1"
    store.put_bytes(uri, bytes(data))


def test_a_changed_byte_reruns_exactly_the_steps_that_read_it(stepfn_home: Path, tmp_path: Path) -> None:
    import shutil

    store = ObjectStore(stepfn_home / "s3")
    workflow = prepare(store)
    run_once(workflow, "1")
    # The code packed again (new tarball, new mtimes, same files) is the same code.
    from cache_demo import HERE

    store.upload_code(HERE / "demo_code", "s3://stepfn-demo/code/sourcedir.tar.gz")
    run_once(workflow, "2")
    assert not _ran(stepfn_home, "training-job", "cache-train-2")

    _touch_one_byte(store, "s3://stepfn-demo/data/test/test.csv")  # what only the transform reads
    run_once(workflow, "3")
    assert not _ran(stepfn_home, "training-job", "cache-train-3")
    assert _ran(stepfn_home, "transform-job", "cache-transform-3")

    _touch_one_byte(store, "s3://stepfn-demo/data/train/train.csv")
    run_once(workflow, "4")
    assert _ran(stepfn_home, "training-job", "cache-train-4")

    code = tmp_path / "code"
    shutil.copytree(HERE / "demo_code", code)
    with (code / "train.py").open("a") as script:
        script.write("#")
    store.upload_code(code, "s3://stepfn-demo/code/sourcedir.tar.gz")
    run_once(workflow, "5")
    assert _ran(stepfn_home, "training-job", "cache-train-5")
    assert _ran(stepfn_home, "transform-job", "cache-transform-5")  # its model's serving code changed too


def test_concurrent_misses_on_one_key_run_one_job_and_keep_one_entry(stepfn_home: Path) -> None:
    store = ObjectStore(stepfn_home / "s3")
    workflow = prepare(store)
    executions = [workflow.execute(name=f"together-{index}", inputs={
        "TrainingJobName": f"together-train-{index}", "ModelName": f"together-model-{index}",
        "TransformJobName": f"together-transform-{index}"}) for index in (1, 2)]
    for execution in executions:
        execution.get_output(wait=True)
        assert execution.describe()["status"] == "SUCCEEDED"
    ran = [_ran(stepfn_home, "training-job", f"together-train-{index}") for index in (1, 2)]
    assert sorted(ran) == [False, True]
    entries = StepCache(stepfn_home).entries()
    assert sorted(entry.kind or "" for entry in entries) == ["training-job", "transform-job"]
    assert not [path for path in StepCache(stepfn_home).entries_dir.iterdir() if path.name.startswith(".")]
