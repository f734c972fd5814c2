"""The step cache per job kind and its rules: processing outputs moved to the new job's locations, failures never
kept, expiry, digests not re-read, Lambda and request-response hits, distributed Map settings."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from test_models import Control, check_shape
from test_processing import SCRIPT, _request
from test_tuning import _request as _tuning_request

from stepfn.engine.protocol import TaskRequest
from stepfn.errors import StatesError
from stepfn.local import default_handlers
from stepfn.local.cache import StepCache, write_machine_settings, write_run_settings
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.records import RecordStore

MACHINE = "pipeline"


def _run(home: Path, execution: str, params: dict[str, Any], *, state: str = "Process",
         action: str = "createProcessingJob") -> Any:
    request = TaskRequest(
        resource=f"arn:aws:states:::sagemaker:{action}.sync", service="sagemaker",
        action=action, pattern="sync", parameters=params, state_name=state,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:{MACHINE}:{execution}")
    return default_handlers(home)[f"sagemaker:{action}"](request, Control())


def _ran(home: Path, name: str) -> bool:
    return "Cache hit" not in RecordStore(home).log_file("processing-job", name).read_text()


@pytest.fixture
def store(stepfn_home: Path) -> ObjectStore:
    store = ObjectStore(stepfn_home / "s3")
    store.put_bytes("s3://bucket/raw/a.csv", b"1,2\n3,4\n")
    store.put_bytes("s3://bucket/code/preprocess.py", SCRIPT.encode())
    return store


def _outputs(params: dict[str, Any], prefix: str) -> dict[str, Any]:
    for output in params["ProcessingOutputConfig"]["Outputs"]:
        output["S3Output"]["S3Uri"] = f"{prefix}/{output['OutputName']}/"
    return params


def test_processing_hit_writes_the_outputs_where_the_new_job_asked(stepfn_home: Path, store: ObjectStore) -> None:
    write_run_settings(stepfn_home, MACHINE, "run-1", cache=True)
    write_run_settings(stepfn_home, MACHINE, "run-2", cache=True)
    _run(stepfn_home, "run-1", _outputs(_request("prep-1"), "s3://bucket/first"))
    assert _ran(stepfn_home, "prep-1")
    record = _run(stepfn_home, "run-2", _outputs(_request("prep-2"), "s3://bucket/second"))
    assert not _ran(stepfn_home, "prep-2")
    assert record["ProcessingJobName"] == "prep-2" and record["ProcessingJobStatus"] == "Completed"
    assert record["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].startswith("s3://bucket/second/")
    check_shape("DescribeProcessingJob", record)
    for name in ("train/train.csv", "test/test.csv"):
        assert store.get_bytes(f"s3://bucket/second/{name}") == store.get_bytes(f"s3://bucket/first/{name}")
    # A different environment variable given to the job is another key: it runs.
    write_run_settings(stepfn_home, MACHINE, "run-3", cache=True)
    _run(stepfn_home, "run-3", _request("prep-3", Environment={"MODE": "other"}))
    assert _ran(stepfn_home, "prep-3")


def test_failed_jobs_are_never_kept(stepfn_home: Path, store: ObjectStore) -> None:
    store.put_bytes("s3://bucket/code/preprocess.py", b"import sys\nsys.exit(3)\n")
    for run in ("run-1", "run-2"):
        write_run_settings(stepfn_home, MACHINE, run, cache=True)
        with pytest.raises(StatesError):
            _run(stepfn_home, run, _request(f"fail-{run}"))
        assert RecordStore(stepfn_home).get("processing-job", f"fail-{run}")["ProcessingJobStatus"] == "Failed"
    assert StepCache(stepfn_home).entries() == []
    assert not (stepfn_home / "cache" / "entries").exists()  # not even a temporary folder was started


def test_step_settings_expiry_and_opt_out(stepfn_home: Path, store: ObjectStore) -> None:
    write_machine_settings(stepfn_home, MACHINE, {"Process": {"enable_caching": True, "expire_after": "PT1H"},
                                                  "Other": {"enable_caching": False, "expire_after": None}})
    _run(stepfn_home, "run-1", _request("exp-1"))
    _run(stepfn_home, "run-2", _request("exp-2"))
    assert not _ran(stepfn_home, "exp-2")
    (entry,) = StepCache(stepfn_home).entries()
    document = json.loads((entry.path / "entry.json").read_text())
    document["created"] -= 7200  # two hours old: past PT1H
    (entry.path / "entry.json").write_text(json.dumps(document))
    _run(stepfn_home, "run-3", _request("exp-3"))
    assert _ran(stepfn_home, "exp-3")
    assert len(StepCache(stepfn_home).entries()) == 1  # the fresh result replaced the expired entry
    # What a process killed while writing an entry leaves: never an entry; prune sweeps it once it is old.
    abandoned = stepfn_home / "cache" / "entries" / ".tmp-crashed"
    (abandoned / "objects").mkdir(parents=True)
    assert len(StepCache(stepfn_home).entries()) == 1
    os.utime(abandoned, (time.time() - 7200, time.time() - 7200))
    assert StepCache(stepfn_home).prune(older_than=86400) == [] and not abandoned.exists()
    # A step's own enable_caching=False wins over the run's flag.
    write_run_settings(stepfn_home, MACHINE, "run-4", cache=True)
    _run(stepfn_home, "run-4", _request("exp-4"), state="Other")
    assert _ran(stepfn_home, "exp-4")


def test_unchanged_objects_are_not_read_again(stepfn_home: Path, store: ObjectStore,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import stepfn.local.cachekeys as cachekeys

    reads: list[str] = []
    real = cachekeys._bytes_digest
    monkeypatch.setattr(cachekeys, "_bytes_digest", lambda path: reads.append(path.name) or real(path))
    for uri in ("s3://bucket/raw/a.csv", "s3://bucket/code/preprocess.py"):  # written a while ago
        os.utime(store.local_path(uri), (time.time() - 3600, time.time() - 3600))
    cache = StepCache(stepfn_home)
    first, _ = cache.keys.key("createProcessingJob", _request("a"))
    assert sorted(reads) == ["a.csv", "preprocess.py"]
    second, _ = StepCache(stepfn_home).keys.key("createProcessingJob", _request("b"))
    assert second == first and len(reads) == 2  # same key for another name; no file read again
    store.put_bytes("s3://bucket/raw/a.csv", b"1,2\n3,5\n")  # one byte
    third, _ = StepCache(stepfn_home).keys.key("createProcessingJob", _request("c"))
    assert third != first and reads[2:] == ["a.csv"]
    # A damaged memo costs re-reading, never a failed key (nor a failed task).
    (stepfn_home / "cache" / "digests.sqlite").write_bytes(b"not a database" * 100)
    for extra in ("-wal", "-shm"):
        (stepfn_home / "cache" / f"digests.sqlite{extra}").unlink(missing_ok=True)
    assert StepCache(stepfn_home).keys.key("createProcessingJob", _request("d"))[0] == third


CALLS: list[Any] = []


def _scored(event: Any) -> dict[str, Any]:
    CALLS.append(event)
    return {"score": event["x"] * 2}


def test_a_file_rewritten_in_place_in_the_tick_of_its_last_write_is_read_again(tmp_path: Path) -> None:
    """A file rewritten in place (same inode and size) within one tick of a coarse file clock keeps its mtime, so
    its memoized digest would pass for the new bytes; the tie is forced with utime (this machine's kernel may stamp
    the two writes apart)."""
    from stepfn.local.cachekeys import DigestMemo

    memo = DigestMemo(tmp_path / "digests.sqlite")
    script = tmp_path / "train.py"
    script.write_text("print(1)\n")
    first = memo.file_digest(script)
    written = script.stat().st_mtime_ns
    with script.open("r+") as handle:
        handle.write("print(2)\n")
    os.utime(script, ns=(script.stat().st_atime_ns, written))
    assert memo.file_digest(script) != first
    memo.close()


def test_lambda_hit_returns_the_payload_in_a_new_invocation(stepfn_home: Path) -> None:
    from stepfn.local.lambdas import register_function, unregister_function

    register_function("scored", _scored)
    CALLS.clear()
    try:
        results = []
        for run, x in (("run-1", 1), ("run-2", 1), ("run-3", 2)):
            write_run_settings(stepfn_home, MACHINE, run, cache=True)
            request = TaskRequest(
                resource="arn:aws:states:::lambda:invoke", service="lambda", action="invoke",
                pattern="request_response", parameters={"FunctionName": "scored", "Payload": {"x": x}},
                state_name="Score", execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:{MACHINE}:{run}")
            results.append(default_handlers(stepfn_home)["lambda:invoke"](request, Control()))
    finally:
        unregister_function("scored")
    assert CALLS == [{"x": 1}, {"x": 2}]  # the second call with x=1 came from the cache
    assert [result["Payload"] for result in results] == [{"score": 2}, {"score": 2}, {"score": 4}]
    assert results[0]["SdkResponseMetadata"]["RequestId"] != results[1]["SdkResponseMetadata"]["RequestId"]


def test_a_created_functions_hit_is_keyed_by_its_package_and_environment(stepfn_home: Path, tmp_path: Path) -> None:
    """A function created through the Lambda API runs in a process of its own: the cache keys it by its package's
    CodeSha256 and its configuration (a new package or variable is a miss), not by a source file of this process."""
    import base64
    import io
    import zipfile

    from stepfn.local.lambda_functions import create_function, delete_function

    marker = tmp_path / "runs"

    def deploy(answer: int, variables: dict[str, str]) -> None:
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            # A fixed date: the same code gives the same zip, so the same CodeSha256.
            archive.writestr(zipfile.ZipInfo("app.py", (2020, 1, 1, 0, 0, 0)), f"import os\n\n\ndef handler(event, context):\n"
                                       f"    open({str(marker)!r}, 'a').write('x')\n"
                                       f"    return {{'answer': {answer}, 'env': os.environ.get('MODE')}}\n")
        create_function(stepfn_home, {"FunctionName": "cached", "Handler": "app.handler",
                                      "Environment": {"Variables": variables},
                                      "Code": {"ZipFile": base64.b64encode(package.getvalue()).decode()}},
                        lambda bucket, key: b"")

    payloads = []
    for run, answer, mode in (("run-1", 1, "a"), ("run-2", 1, "a"), ("run-3", 2, "a"), ("run-4", 2, "b")):
        deploy(answer, {"MODE": mode})
        write_run_settings(stepfn_home, MACHINE, run, cache=True)
        request = TaskRequest(
            resource="arn:aws:states:::lambda:invoke", service="lambda", action="invoke",
            pattern="request_response", parameters={"FunctionName": "cached", "Payload": {}},
            state_name="Cached", execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:{MACHINE}:{run}")
        payloads.append(default_handlers(stepfn_home)["lambda:invoke"](request, Control())["Payload"])
        delete_function(stepfn_home, "cached")
    assert payloads == [{"answer": 1, "env": "a"}, {"answer": 1, "env": "a"}, {"answer": 2, "env": "a"},
                        {"answer": 2, "env": "b"}]
    assert marker.read_text() == "xxx"  # run-2 was the cache's


def test_request_response_task_takes_a_hit_too(stepfn_home: Path, store: ObjectStore) -> None:
    write_run_settings(stepfn_home, MACHINE, "run-1", cache=True)
    _run(stepfn_home, "run-1", _request("sync-1"))
    write_run_settings(stepfn_home, MACHINE, "run-2", cache=True)
    request = TaskRequest(
        resource="arn:aws:states:::sagemaker:createProcessingJob", service="sagemaker",
        action="createProcessingJob", pattern="request_response", parameters=_request("async-2"),
        state_name="Process", execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:{MACHINE}:run-2")
    result = default_handlers(stepfn_home)["sagemaker:createProcessingJob"](request, Control())
    assert result["ProcessingJobArn"] == "arn:aws:sagemaker:us-east-1:123456789012:processing-job/async-2"
    assert result["SdkHttpMetadata"]["HttpStatusCode"] == 200  # the optimized integration's shape, as a run's
    assert RecordStore(stepfn_home).get("processing-job", "async-2")["ProcessingJobStatus"] == "Completed"
    assert not _ran(stepfn_home, "async-2")


def test_an_output_rewritten_in_place_is_not_reused(stepfn_home: Path, store: ObjectStore) -> None:
    """Entries hard-link the store's files; the store replaces objects by rename, but a person may edit a file
    under the home in place, which changes the entry's copy too: that entry is then not used."""
    for run in ("run-1", "run-2", "run-3"):
        write_run_settings(stepfn_home, MACHINE, run, cache=True)
    _run(stepfn_home, "run-1", _request("edit-1"))
    path = store.local_path("s3://bucket/processed/train/train.csv")
    with path.open("r+b") as handle:  # in place: same inode
        handle.write(b"9")
    _run(stepfn_home, "run-2", _request("edit-2"))
    assert _ran(stepfn_home, "edit-2")
    _run(stepfn_home, "run-3", _request("edit-3"))
    assert not _ran(stepfn_home, "edit-3")  # the job's fresh result replaced the damaged entry


def test_an_output_rewritten_in_the_tick_the_job_wrote_it_is_not_reused(
        stepfn_home: Path, store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a kernel with coarse file times (Debian 12's tick every 4 ms) a quick rewrite in place gets the very mtime
    the job's write got: that must not pass for the kept file either. The tie is forced here (this machine's kernel
    may stamp each write apart): the rewritten file gets the mtime the store gave the job's output."""
    written: dict[Path, int] = {}
    atomic_write = ObjectStore._atomic_write

    def noting_mtimes(self: ObjectStore, target: Path, write: Any) -> None:
        atomic_write(self, target, write)
        written[target.resolve()] = target.stat().st_mtime_ns

    monkeypatch.setattr(ObjectStore, "_atomic_write", noting_mtimes)
    for run in ("run-1", "run-2"):
        write_run_settings(stepfn_home, MACHINE, run, cache=True)
    _run(stepfn_home, "run-1", _request("tick-1"))
    path = store.local_path("s3://bucket/processed/train/train.csv")
    with path.open("r+b") as handle:  # in place: same inode, same size
        handle.write(b"9")
    os.utime(path, ns=(path.stat().st_atime_ns, written[path.resolve()]))
    _run(stepfn_home, "run-2", _request("tick-2"))
    assert _ran(stepfn_home, "tick-2")


def test_settings_reach_distributed_map_children_by_their_machine(stepfn_home: Path) -> None:
    from stepfn.local.cache import read_settings

    write_machine_settings(stepfn_home, MACHINE, {"Score": {"enable_caching": True, "expire_after": "P1D"}})
    write_run_settings(stepfn_home, MACHINE, "run-1", cache=True)
    child = f"arn:aws:states:us-east-1:123456789012:execution:{MACHINE}/Sweep:0f6e2c1a"
    assert read_settings(stepfn_home, child, "Score") == 86400
    assert read_settings(stepfn_home, child, "Other") is None
    assert read_settings(stepfn_home, f"arn:aws:states:us-east-1:123456789012:execution:{MACHINE}:run-1",
                         "Other") == float("inf")
    assert read_settings(stepfn_home, "arn:exec", "Score") is None


def test_tuning_hit_runs_no_training_job(stepfn_home: Path, store: ObjectStore) -> None:
    ranges = {"IntegerParameterRanges": [{"Name": "alpha", "MinValue": "1", "MaxValue": "2"}]}
    for run in ("run-1", "run-2"):
        write_run_settings(stepfn_home, MACHINE, run, cache=True)
        # Each request packs its code again (its own URI, new tarball mtimes): the same code all the same.
        result = _run(stepfn_home, run, _tuning_request(store, f"grid-{run}", "Grid", ranges, parallel=2),
                      action="createHyperParameterTuningJob", state="Tune")
        if run == "run-1":
            trials = sorted(path.name for path in (stepfn_home / "sagemaker" / "training-job").iterdir())
    assert result["HyperParameterTuningJobName"] == "grid-run-2"
    assert result["HyperParameterTuningJobStatus"] == "Completed"
    check_shape("DescribeHyperParameterTuningJob", result)
    assert result["BestTrainingJob"]["TrainingJobName"].startswith("grid-run-1-")  # the cached search's trials
    assert sorted(path.name for path in (stepfn_home / "sagemaker" / "training-job").iterdir()) == trials
    assert "Cache hit" in RecordStore(stepfn_home).log_file("tuning-job", "grid-run-2").read_text()


def test_waiting_for_a_keys_lock_heartbeats_and_gives_up_when_cancelled(stepfn_home: Path) -> None:
    class Waiting:
        def __init__(self) -> None:
            self.polls = self.heartbeats = 0

        def cancelled(self) -> bool:
            self.polls += 1
            return self.polls > 45

        def heartbeat(self) -> None:
            self.heartbeats += 1

        def sleep(self, seconds: float) -> bool:
            return True

        def log(self, message: str) -> None:
            pass

    cache = StepCache(stepfn_home)
    waiting = Waiting()
    with cache.locked("k" * 64) as held:
        assert held
        with cache.locked("k" * 64, waiting) as other:  # another execution's turn: it waits, then gives up
            assert other is False
    assert waiting.heartbeats == 2
    with cache.locked("k" * 64, waiting) as again:  # free once the first holder left
        assert again
