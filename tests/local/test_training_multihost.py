"""Multi-instance training jobs: InstanceCount = N runs N host processes at once with the toolkit's view of the
cluster, ShardedByS3Key channels split across them, the distribution settings' variables, one failing host
failing the job; and a 2-host PyTorch DDP job over gloo that really trains (slow: needs PyTorch)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from test_training_support import read_tar, sourcedir, training_request

from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.isolation import IsolationError, choose_isolation
from stepfn.local.sagemaker.scriptmode import distribution_environment
from stepfn.local.sagemaker.training import TrainingJobs

HOST_SCRIPT = """\
import json, os, socket, sys, time
hosts = json.loads(os.environ["SM_HOSTS"])
me = os.environ["SM_CURRENT_HOST"]
config = json.load(open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "resourceconfig.json")))
seen = {
    "host": me, "hosts": hosts, "config_host": config["current_host"], "config_hosts": config["hosts"],
    "num_cpus": int(os.environ["SM_NUM_CPUS"]), "is_master": json.loads(os.environ["SM_TRAINING_ENV"])["is_master"],
    "shard": sorted(os.listdir(os.environ["SM_CHANNEL_SHARDED"])),
    "replicated": sorted(os.listdir(os.environ["SM_CHANNEL_REPLICATED"])),
    "rank": os.environ["RANK"], "world": os.environ["WORLD_SIZE"], "master": os.environ["MASTER_ADDR"],
}
# The hosts really run at once and reach each other: the workers report to the master over TCP.
address = (os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]))
if me == hosts[0]:
    server = socket.create_server(address)
    server.settimeout(60)
    reports = []
    for _ in hosts[1:]:
        connection, _ = server.accept()
        reports.append(connection.recv(100).decode())
        connection.close()
    seen["reports"] = sorted(reports)
else:
    for _ in range(600):
        try:
            with socket.create_connection(address, timeout=1) as connection:
                connection.sendall(f"{me}:{os.environ['RANK']}".encode())
            break
        except OSError:
            time.sleep(0.05)
name = "master.json" if me == hosts[0] else f"{me}.json"
json.dump(seen, open(os.path.join(os.environ["SM_MODEL_DIR"], name), "w"))
print(f"{me} done")
"""


def _request(store: ObjectStore, name: str, script: str, count: int, **hyperparameters: str) -> dict[str, Any]:
    code = sourcedir(store, f"s3://bucket/{name}/sourcedir.tar.gz", {"train.py": script})
    for i in range(5):
        store.put_bytes(f"s3://bucket/{name}/sharded/part-{i}.csv", f"{i}\n".encode())
    store.put_bytes(f"s3://bucket/{name}/replicated/all.csv", b"x\n")
    request = training_request(name, hyperparameters={
        "sagemaker_program": '"train.py"', "sagemaker_submit_directory": json.dumps(code), **hyperparameters},
        channels={"sharded": f"s3://bucket/{name}/sharded/", "replicated": f"s3://bucket/{name}/replicated/"},
        max_runtime=300)
    request["ResourceConfig"]["InstanceCount"] = count
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"] = "ShardedByS3Key"
    return request


@pytest.mark.parametrize("isolation", ["bwrap", "unshare", "none"])
def test_three_hosts_run_at_once_with_the_toolkit_cluster_view_and_sharded_data(
        isolation: str, stepfn_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPFN_JOB_ISOLATION", isolation)
    try:
        choose_isolation()
    except IsolationError as exc:
        pytest.skip(str(exc))
    store = ObjectStore(stepfn_home / "s3")
    jobs = TrainingJobs(stepfn_home)
    record = jobs.run(_request(store, f"three-{isolation}", HOST_SCRIPT, 3,
                               sagemaker_torch_distributed_enabled="true"))
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    model = read_tar(store.local_path(record["ModelArtifacts"]["S3ModelArtifacts"]))  # every host's files, merged
    assert sorted(model) == ["algo-2.json", "algo-3.json", "master.json"]
    seen = {name: json.loads(data) for name, data in model.items()}
    hosts = ["algo-1", "algo-2", "algo-3"]
    shards = []
    for rank, (name, host) in enumerate(zip(["master.json", "algo-2.json", "algo-3.json"], hosts, strict=True)):
        view = seen[name]
        assert view["host"] == view["config_host"] == host and view["hosts"] == view["config_hosts"] == hosts
        assert view["rank"] == str(rank) and view["world"] == "3" and view["is_master"] is (rank == 0)
        assert view["num_cpus"] == os.cpu_count() and view["replicated"] == ["all.csv"]
        shards.append(view["shard"])
    # ShardedByS3Key: each object on exactly one host, in key order round the hosts
    assert shards == [["part-0.csv", "part-3.csv"], ["part-1.csv", "part-4.csv"], ["part-2.csv"]]
    assert seen["master.json"]["reports"] == ["algo-2:1", "algo-3:2"]
    isolated = "stepfn: isolation none" not in jobs.log_path(f"three-{isolation}").read_text()
    assert seen["master.json"]["master"] == ("algo-1" if isolated else "127.0.0.1")
    log = jobs.log_path(f"three-{isolation}").read_text()
    assert "[algo-1] algo-1 done" in log and "[algo-3] algo-3 done" in log
    assert "3 instances (algo-1, algo-2, algo-3) run as processes on this machine" in log


FAILING_HOST = """\
import os, sys, time
if os.environ["SM_CURRENT_HOST"] == "algo-2":
    print("algo-2 cannot go on", file=sys.stderr)
    sys.exit(3)
time.sleep(120)
"""


def test_one_host_failing_fails_the_job_and_stops_the_others(stepfn_home: Path) -> None:
    store = ObjectStore(stepfn_home / "s3")
    jobs = TrainingJobs(stepfn_home, stop_grace_seconds=2)
    started = time.monotonic()
    record = jobs.run(_request(store, "one-fails", FAILING_HOST, 2))
    assert time.monotonic() - started < 60  # the sleeping master was stopped, not waited for
    assert record["TrainingJobStatus"] == "Failed"
    assert record["FailureReason"].startswith("[algo-2] AlgorithmError: ")
    assert "algo-2 cannot go on" in record["FailureReason"] and "ExitCode 3" in record["FailureReason"]
    assert "stepfn: algo-2 exited with code 3: stopping the other instances" in jobs.log_path("one-fails").read_text()


def test_distribution_variables_as_the_containers_set_them() -> None:
    hosts = ["algo-1", "algo-2"]
    ports = [7001, 7002, 7003, 7004]
    env, note = distribution_environment({"sagemaker_parameter_server_enabled": True}, hosts, "algo-2",
                                         master_addr="algo-1", ports=ports)
    assert json.loads(env["TF_CONFIG"]) == {
        "cluster": {"master": ["algo-1:7001"], "ps": ["algo-1:7002", "algo-2:7004"], "worker": ["algo-2:7003"]},
        "environment": "cloud", "task": {"index": 0, "type": "worker"}}
    assert note is not None and "parameter-server processes themselves are not started" in note
    env, _ = distribution_environment({"sagemaker_parameter_server_enabled": True}, hosts, "algo-1",
                                      master_addr="algo-1", ports=ports)
    assert json.loads(env["TF_CONFIG"])["task"] == {"index": 0, "type": "master"}
    env, note = distribution_environment({"sagemaker_mpi_enabled": True}, hosts, "algo-2", master_addr="algo-1",
                                         ports=ports)
    assert env["OMPI_COMM_WORLD_RANK"] == "1" and env["OMPI_COMM_WORLD_SIZE"] == "2" and "no mpirun" in (note or "")
    env, note = distribution_environment({"sagemaker_pytorch_ddp_enabled": True}, hosts, "algo-2",
                                         master_addr="algo-1", ports=ports)
    assert env == {"MASTER_ADDR": "algo-1", "MASTER_PORT": "7001", "WORLD_SIZE": "2", "RANK": "1",
                   "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "1", "NODE_RANK": "1", "GROUP_RANK": "1"} and note is None
    env, _ = distribution_environment({"sagemaker_multi_worker_mirrored_strategy_enabled": True}, hosts, "algo-1",
                                      master_addr="algo-1", ports=ports)
    assert json.loads(env["TF_CONFIG"]) == {"cluster": {"worker": ["algo-1:7001", "algo-2:7003"]},
                                            "task": {"index": 0, "type": "worker"}}
    assert distribution_environment({}, hosts, "algo-1", master_addr="algo-1", ports=ports) == ({}, None)


DDP_SCRIPT = """\
import hashlib, json, os
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

dist.init_process_group("gloo")  # MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE from the platform
rank, world = dist.get_rank(), dist.get_world_size()
torch.manual_seed(0)
rows = [float(open(os.path.join(os.environ["SM_CHANNEL_SHARDED"], f)).read()) for f in
        sorted(os.listdir(os.environ["SM_CHANNEL_SHARDED"]))]
x = torch.tensor(rows).unsqueeze(1)
y = 3.0 * x + 1.0
model = DistributedDataParallel(torch.nn.Linear(1, 1))
optimiser = torch.optim.SGD(model.parameters(), lr=0.02)
losses = []
for _ in range(300):
    optimiser.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()  # gradients all-reduced across the hosts over gloo
    optimiser.step()
    losses.append(loss.item())
weights = [p.detach().flatten().tolist() for p in model.module.parameters()]
digest = hashlib.sha256(json.dumps(weights).encode()).hexdigest()
print(f"rank {rank}/{world} loss {losses[0]:.4f} -> {losses[-1]:.6f}")
name = "model.json" if rank == 0 else f"rank-{rank}.json"
json.dump({"weights": weights, "digest": digest, "first": losses[0], "last": losses[-1]},
          open(os.path.join(os.environ["SM_MODEL_DIR"], name), "w"))
dist.destroy_process_group()
"""


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_two_host_pytorch_ddp_over_gloo_trains(stepfn_home: Path, tmp_path_factory: pytest.TempPathFactory,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3-cpu-py311"
    try:
        import torch  # noqa: F401  (stepfn's own Python has PyTorch: run there)
    except ImportError:
        if os.environ.get("STEPFN_TEST_FRAMEWORK_ENVS") != "1":
            pytest.skip("needs PyTorch: in stepfn's Python, or STEPFN_TEST_FRAMEWORK_ENVS=1 to build its environment")
        monkeypatch.setenv("STEPFN_JOB_ENV", "image")
        monkeypatch.setenv("STEPFN_ENV_DIR", os.environ.get("STEPFN_TEST_ENV_DIR") or
                           str(tmp_path_factory.mktemp("envs")))
    store = ObjectStore(stepfn_home / "s3")
    jobs = TrainingJobs(stepfn_home)
    request = _request(store, "ddp", DDP_SCRIPT, 2, sagemaker_torch_distributed_enabled="true")
    request["AlgorithmSpecification"]["TrainingImage"] = image
    record = jobs.run(request)
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    model = {k: json.loads(v) for k, v in read_tar(store.local_path(record["ModelArtifacts"]["S3ModelArtifacts"])).items()}
    assert sorted(model) == ["model.json", "rank-1.json"]
    # DDP kept the two hosts' models identical although each saw its own shard, and training converged
    assert model["model.json"]["digest"] == model["rank-1.json"]["digest"]
    assert model["model.json"]["last"] < model["model.json"]["first"] / 100
    weight, bias = model["model.json"]["weights"]
    assert abs(weight[0] - 3.0) < 0.1 and abs(bias[0] - 1.0) < 0.3


PROCESS_SHARD = """\
import json, os
base = os.environ["SAGEMAKER_BASE_DIR"]
me = json.load(open(os.path.join(base, "config", "resourceconfig.json")))["current_host"]
seen = sorted(os.listdir(os.path.join(base, "processing", "input", "rows")))
with open(os.path.join(base, "processing", "output", "out", me + ".txt"), "w") as handle:
    handle.write(" ".join(seen))
"""


def test_processing_instances_split_a_sharded_input_and_all_upload(stepfn_home: Path) -> None:
    from stepfn.local.sagemaker.processing import ProcessingJobs

    store = ObjectStore(stepfn_home / "s3")
    store.put_bytes("s3://bucket/proc/code/shard.py", PROCESS_SHARD.encode())
    for i in range(4):
        store.put_bytes(f"s3://bucket/proc/rows/r{i}.csv", b"1\n")
    record = ProcessingJobs(stepfn_home).run({
        "ProcessingJobName": "sharded-processing", "RoleArn": "arn:aws:iam::123456789012:role/R",
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.large",
                                                  "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
                             "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/shard.py"]},
        "ProcessingInputs": [
            {"InputName": "rows", "S3Input": {"S3Uri": "s3://bucket/proc/rows/", "S3DataType": "S3Prefix",
                                              "S3DataDistributionType": "ShardedByS3Key",
                                              "LocalPath": "/opt/ml/processing/input/rows"}},
            {"InputName": "code", "S3Input": {"S3Uri": "s3://bucket/proc/code/shard.py", "S3DataType": "S3Prefix",
                                              "LocalPath": "/opt/ml/processing/input/code"}}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "out", "S3Output": {
            "S3Uri": "s3://bucket/proc/out", "S3UploadMode": "EndOfJob", "LocalPath": "/opt/ml/processing/output/out"}}]},
    })
    assert record["ProcessingJobStatus"] == "Completed", record.get("FailureReason")
    assert store.get_bytes("s3://bucket/proc/out/algo-1.txt") == b"r0.csv r2.csv"
    assert store.get_bytes("s3://bucket/proc/out/algo-2.txt") == b"r1.csv r3.csv"
