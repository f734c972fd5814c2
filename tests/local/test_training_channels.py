"""Channels (File, FastFile, Pipe; S3Prefix, ManifestFile), checkpoints, output locations and BYO images."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from test_training_support import read_tar, seen_base, sourcedir, training_request

from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.images import register_image, resolve_image, unregister_image
from stepfn.local.sagemaker.jobdir import DirectorySync
from stepfn.local.sagemaker.training import TrainingJobs

INSPECT_SCRIPT = """
import json, os
base = os.environ["SAGEMAKER_BASE_DIR"]
data = os.path.join(base, "input", "data")
seen = {}
for entry in sorted(os.listdir(data)):
    path = os.path.join(data, entry)
    if os.path.isdir(path):
        seen[entry] = {os.path.relpath(os.path.join(d, f), path): [os.path.islink(os.path.join(d, f)),
                       open(os.path.join(d, f)).read()] for d, _, fs in os.walk(path) for f in fs}
    else:
        seen[entry] = "fifo"
seen["config"] = json.load(open(os.path.join(base, "input", "config", "inputdataconfig.json")))
json.dump(seen, open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w"))
"""


@pytest.fixture
def store(stepfn_home: Path) -> ObjectStore:
    store = ObjectStore(stepfn_home / "s3")
    store.put_bytes("s3://bucket/d/train/a.csv", b"a")
    store.put_bytes("s3://bucket/d/train/sub/b.csv", b"b")
    store.put_bytes("s3://bucket/elsewhere/x.csv", b"x")
    store.put_bytes("s3://bucket/elsewhere/deeper/y.csv", b"y")
    store.put_bytes("s3://bucket/manifest.json",
                    json.dumps([{"prefix": "s3://bucket/elsewhere/"}, "x.csv", "deeper/y.csv"]).encode())
    return store


def _script(store: ObjectStore, name: str, script: str, **extra: object) -> dict[str, object]:
    code = sourcedir(store, f"s3://bucket/code/{name}.tar.gz", {"train.py": script})
    return training_request(name, hyperparameters={"sagemaker_program": "train.py",
                                                   "sagemaker_submit_directory": code}, **extra)  # type: ignore[arg-type]


def _seen(store: ObjectStore, record: dict[str, object], member: str = "seen.json") -> dict[str, object]:
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    uri = record["ModelArtifacts"]["S3ModelArtifacts"]  # type: ignore[index]
    return json.loads(read_tar(store.local_path(uri))[member])  # type: ignore[no-any-return]


def test_file_fastfile_and_manifest_channels(stepfn_home: Path, store: ObjectStore) -> None:
    request = _script(store, "channels", INSPECT_SCRIPT, channels={"train": "s3://bucket/d/train"})
    request["InputDataConfig"] += [  # type: ignore[operator]
        {"ChannelName": "fast", "InputMode": "FastFile", "ContentType": "text/csv",
         "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/d/train/"}}},
        {"ChannelName": "listed",
         "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": "s3://bucket/manifest.json"}}},
    ]
    seen = _seen(store, TrainingJobs(stepfn_home).run(request))
    assert seen["train"] == {"a.csv": [False, "a"], "sub/b.csv": [False, "b"]}
    assert seen["fast"] == {"a.csv": [True, "a"], "sub/b.csv": [True, "b"]}
    assert seen["listed"] == {"x.csv": [False, "x"], "deeper/y.csv": [False, "y"]}
    assert seen["config"] == {
        "train": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"},
        "fast": {"ContentType": "text/csv", "TrainingInputMode": "FastFile",
                 "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"},
        "listed": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"},
    }
    # channel copies are dropped after the job; the store's objects are untouched
    assert not TrainingJobs(stepfn_home).job_dir("channels").data.exists()
    assert store.get_bytes("s3://bucket/d/train/a.csv") == b"a"


def test_pipe_mode_serves_epochs_through_fifos(stepfn_home: Path, store: ObjectStore) -> None:
    script = """
import json, os, stat
data = os.path.join(os.environ["SAGEMAKER_BASE_DIR"], "input", "data")
epochs = []
for epoch in range(3):
    path = os.path.join(data, f"train_{epoch}")
    assert stat.S_ISFIFO(os.stat(path).st_mode), path
    with open(path, "rb") as fifo:
        epochs.append(fifo.read().decode())
json.dump(epochs, open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w"))
"""
    request = _script(store, "pipes", script, mode="Pipe", channels={"train": "s3://bucket/d/train"})
    assert _seen(store, TrainingJobs(stepfn_home).run(request)) == ["ab", "ab", "ab"]


def test_pipe_mode_gzip_and_recordio_wrapping(stepfn_home: Path, store: ObjectStore) -> None:
    import gzip

    from stepfn._recordio import iter_frames

    store.put_bytes("s3://bucket/gz/one.gz", gzip.compress(b"first"))
    store.put_bytes("s3://bucket/gz/two.gz", gzip.compress(b"second!"))
    script = """
import os
data = os.path.join(os.environ["SAGEMAKER_BASE_DIR"], "input", "data")
with open(os.path.join(data, "train_0"), "rb") as fifo, open(os.path.join(os.environ["SM_MODEL_DIR"], "raw"), "wb") as out:
    out.write(fifo.read())
"""
    request = _script(store, "pipe-gz", script, mode="Pipe", channels={"train": "s3://bucket/gz/"})
    request["InputDataConfig"][0].update(CompressionType="Gzip", RecordWrapperType="RecordIO")  # type: ignore[index]
    record = TrainingJobs(stepfn_home).run(request)
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    raw = read_tar(store.local_path(record["ModelArtifacts"]["S3ModelArtifacts"]))["raw"]
    assert list(iter_frames(raw)) == [b"first", b"second!"]


def test_missing_channel_data_fails_like_sagemaker(stepfn_home: Path, store: ObjectStore) -> None:
    request = _script(store, "no-data", "print(1)", channels={"train": "s3://bucket/nothing/here"})
    record = TrainingJobs(stepfn_home).run(request)
    assert record["TrainingJobStatus"] == "Failed"
    assert record["FailureReason"].startswith("ClientError: channel 'train': no data found at s3://bucket/nothing/here")


def test_checkpoints_sync_both_ways_and_intermediate_output_uploads(stepfn_home: Path, store: ObjectStore) -> None:
    store.put_bytes("s3://bucket/ckpt/run/epoch-1.pt", b"one")
    script = """
import json, os
local = json.load(open(os.environ["SM_CHECKPOINT_CONFIG_FILE"] if "SM_CHECKPOINT_CONFIG_FILE" in os.environ
                       else os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "checkpointconfig.json")))["LocalPath"]
restored = sorted(os.listdir(local))
open(os.path.join(local, "epoch-2.pt"), "w").write("two")
open(os.path.join(os.environ["SM_OUTPUT_INTERMEDIATE_DIR"], "curve.csv"), "w").write("0,1")
json.dump({"restored": restored, "local": local}, open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w"))
"""
    request = _script(store, "ckpt", script, CheckpointConfig={"S3Uri": "s3://bucket/ckpt/run"})
    request["HyperParameters"]["sagemaker_s3_output"] = '"s3://bucket/intermediate"'  # type: ignore[index]
    seen = _seen(store, TrainingJobs(stepfn_home).run(request))
    assert store.get_bytes("s3://bucket/intermediate/ckpt/output/intermediate/curve.csv") == b"0,1"
    assert seen["restored"] == ["epoch-1.pt"]
    assert seen["local"] == seen_base(TrainingJobs(stepfn_home).job_dir("ckpt").base) + "/checkpoints"
    assert store.get_bytes("s3://bucket/ckpt/run/epoch-2.pt") == b"two"


def test_a_checkpoint_rewritten_in_the_tick_of_a_push_is_pushed_again(tmp_path: Path, store: ObjectStore) -> None:
    """A checkpoint written again in place within the tick of the file clock in which a push saw it keeps its size
    and mtime; the next push (the last one, at the job's end) must still upload it. The tie is forced with utime
    (this machine's kernel may stamp the two writes apart)."""
    sync = DirectorySync(store, "s3://bucket/ckpt", tmp_path / "checkpoints")
    sync.restore()
    state = tmp_path / "checkpoints" / "state.txt"
    state.write_text("epoch 1\n")
    sync.push()
    written = state.stat().st_mtime_ns
    with state.open("r+") as handle:
        handle.write("epoch 2\n")
    os.utime(state, ns=(state.stat().st_atime_ns, written))
    sync.push()
    assert store.get_bytes("s3://bucket/ckpt/state.txt") == b"epoch 2\n"


def test_uncompressed_model_and_file_output_path(stepfn_home: Path, store: ObjectStore, tmp_path: Path) -> None:
    script = "import os\nopen(os.path.join(os.environ['SM_MODEL_DIR'], 'weights.bin'), 'w').write('w')\n"
    request = _script(store, "plain-out", script)
    request["OutputDataConfig"] = {"S3OutputPath": f"file://{tmp_path}/out", "CompressionType": "NONE"}
    record = TrainingJobs(stepfn_home).run(request)
    assert record["ModelArtifacts"]["S3ModelArtifacts"] == f"file://{tmp_path}/out/plain-out/output/model/"
    assert (tmp_path / "out" / "plain-out" / "output" / "model" / "weights.bin").read_text() == "w"
    assert (tmp_path / "out" / "plain-out" / "output" / "output.tar.gz").is_file()


def test_registered_image_runs_its_command(stepfn_home: Path, store: ObjectStore, tmp_path: Path) -> None:
    program = tmp_path / "byo_train.py"
    program.write_text(
        "import json, os, sys\n"
        "base = os.environ['SAGEMAKER_BASE_DIR']\n"
        "hps = json.load(open(os.path.join(base, 'input', 'config', 'hyperparameters.json')))\n"
        "print('byo-metric=' + hps['alpha'])\n"
        "json.dump({'argv': sys.argv[1:], 'hps': hps}, open(os.path.join(base, 'model', 'seen.json'), 'w'))\n"
    )
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-algo:latest"
    register_image("*.dkr.ecr.*.amazonaws.com/my-algo:*", [sys.executable, str(program)])
    try:
        request = training_request("byo-job", image=image, hyperparameters={"alpha": "0.5"})
        request["AlgorithmSpecification"]["MetricDefinitions"] = [  # type: ignore[index]
            {"Name": "byo", "Regex": r"byo-metric=([0-9.]+)"}]
        record = TrainingJobs(stepfn_home).run(request)
        assert _seen(store, record) == {"argv": ["train"], "hps": {"alpha": "0.5"}}
        assert record["FinalMetricDataList"][0]["Value"] == 0.5
        request = training_request("byo-entry", image=image)
        request["AlgorithmSpecification"].update(  # type: ignore[union-attr]
            ContainerEntrypoint=[sys.executable, str(program)], ContainerArguments=["--out", "/opt/ml/model"])
        request["HyperParameters"] = {"alpha": "1"}
        seen = _seen(store, TrainingJobs(stepfn_home).run(request))
        base = seen_base(TrainingJobs(stepfn_home).job_dir("byo-entry").base)
        assert seen["argv"] == ["--out", f"{base}/model"]
    finally:
        unregister_image("*.dkr.ecr.*.amazonaws.com/my-algo:*")
    assert resolve_image("1.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1", script_mode=False).kind == \
        "builtin"


def test_persisted_registration_is_seen_by_a_fresh_registry(stepfn_home: Path) -> None:
    register_image("re:.*/persisted-algo:[0-9]+", "python train.py", persist=True, home=stepfn_home)
    unregister_image("never-registered")
    try:
        runtime = resolve_image("1.dkr.ecr.us-east-1.amazonaws.com/persisted-algo:3", script_mode=False,
                                home=stepfn_home)
        assert runtime.kind == "command" and runtime.command == ("python", "train.py")
    finally:
        unregister_image("re:.*/persisted-algo:[0-9]+", home=stepfn_home)
    assert json.loads((stepfn_home / "sagemaker" / "images.json").read_text()) == []


FAKE_DOCKER = """#!{python}
# Stands in for the docker CLI: records its argv and plays the container against the mounted /opt/ml.
import json, os, sys
args = sys.argv[1:]
mount = args[args.index("-v") + 1].split(":")
base = mount[0]
env = dict(a.split("=", 1) for i, a in enumerate(args) if i and args[i - 1] == "-e")
os.makedirs(os.path.join(base, "model"), exist_ok=True)
channel = os.path.join(base, "input", "data", "train")
json.dump({{"argv": args, "env": env, "links": [os.path.islink(os.path.join(channel, f)) for f in os.listdir(channel)],
           "hps": json.load(open(os.path.join(base, "input", "config", "hyperparameters.json")))}},
          open(os.path.join(base, "model", "seen.json"), "w"))
print("docker-metric=0.5")
"""


def test_unknown_image_runs_under_docker_when_there_is_one(
    stepfn_home: Path, store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable))
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.delenv("STEPFN_DOCKER", raising=False)
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/custom-trainer:2"
    request = training_request("docker-job", image=image, mode="FastFile", hyperparameters={"depth": "4"},
                               channels={"train": "s3://bucket/d/train"}, Environment={"MODE": "fast"})
    seen = _seen(store, TrainingJobs(stepfn_home).run(request))
    base = str(TrainingJobs(stepfn_home).job_dir("docker-job").base)
    argv = seen["argv"]
    assert argv[:4] == ["run", "--rm", "--name", "stepfn-docker-job"]
    assert argv[argv.index("-v") + 1] == f"{base}:/opt/ml"
    assert argv[-2:] == [image, "train"]
    assert seen["env"]["TRAINING_JOB_NAME"] == "docker-job" and seen["env"]["MODE"] == "fast"
    assert "SAGEMAKER_BASE_DIR" not in seen["env"]
    assert seen["links"] == [False, False]  # FastFile data is copied: a container cannot follow host symlinks
    assert seen["hps"] == {"depth": "4"}
    monkeypatch.setenv("STEPFN_DOCKER", "0")
    with pytest.raises(Exception, match="register_image"):
        TrainingJobs(stepfn_home).create(training_request("no-docker", image=image))


def test_container_entrypoint_runs_even_for_an_unknown_image(
    stepfn_home: Path, store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEPFN_DOCKER", "0")
    program = tmp_path / "entry.py"
    program.write_text("import os, sys\nopen(os.path.join(sys.argv[1], 'm.txt'), 'w').write(sys.argv[2])\n")
    request = training_request("entry-job", image="1.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1")
    request["AlgorithmSpecification"].update(  # type: ignore[union-attr]
        ContainerEntrypoint=["python3", str(program)], ContainerArguments=["/opt/ml/model", "from-entrypoint"])
    record = TrainingJobs(stepfn_home).run(request)
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    assert read_tar(store.local_path(record["ModelArtifacts"]["S3ModelArtifacts"])) == {"m.txt": b"from-entrypoint"}


def test_channel_under_an_s3_https_url(stepfn_home: Path, store: ObjectStore) -> None:
    from stepfn.local.sagemaker.jobdir import channel_objects

    store.put_bytes("s3://bucket/https-data/part-1.csv", b"1\n")
    store.put_bytes("s3://bucket/https-data/sub/part-2.csv", b"2\n")
    channel = {"ChannelName": "train", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": "https://s3-us-east-1.amazonaws.com/bucket/https-data"}}}
    assert channel_objects(store, channel) == [("s3://bucket/https-data/part-1.csv", "part-1.csv"),
                                               ("s3://bucket/https-data/sub/part-2.csv", "sub/part-2.csv")]
