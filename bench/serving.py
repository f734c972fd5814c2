"""Benchmark: local endpoints and batch transform against their floors, measured in the same run.

    .venv/bin/python bench/serving.py [--requests 2000] [--clients 8] [--rows 100000] [--single-rows 5000]

1. Endpoint latency. A keep-alive HTTP echo server (a minimal HTTP/1.1 loop on a socket, TCP_NODELAY, one
   write per reply, in its own process) is the transport floor. Against it: the model server of a
   scikit-learn endpoint over one reused connection (``http.client``), and ``invoke_endpoint`` (what a
   SageMaker ``Predictor`` of a local endpoint calls), p50/p99 of ``--requests`` one-row CSV calls. Target:
   p50 <= 3x the echo floor + 1 ms. The in-process ``predict`` of one row is printed for reference.
2. Throughput. ``--clients`` client processes, each over its own keep-alive connection sending
   ``--per-client`` requests, against the echo server (in the clients' session, then in a session of its own as
   the model server runs) and then the model server (an endpoint config with InitialInstanceCount 2),
   ``--rounds`` times; each server's CPU per request is read from /proc. Target: the median round's model
   server >= 50 % of the requests per second of the echo floor in its own session (both ratios are printed).
   Sections 1 and 2 run twice: with STEPFN_JOB_ENV=host (the model served in this Python, what the targets
   have measured since the first run), then with STEPFN_JOB_ENV=auto (the user's default: the 1.2-1 image's
   framework environment serves a model fitted there, through a handler host: the one under ``STEPFN_ENV_DIR``,
   else under the user's stepfn home, built there first if missing). SingleRecord (section 4) runs under auto too,
   over ``--auto-single-rows`` rows (a handler host's start is most of a small job). ``--skip auto`` leaves these
   out.
3. Batch transform, MultiRecord. ``--rows`` CSV rows of 10 features through CreateTransformJob
   (MaxConcurrentTransforms 2) against the floor: pandas ``read_csv`` + ``predict`` + write the predictions. The
   job's fixed cost is a one-row job with the same settings (a default one-row job is printed too). Target:
   time <= 2x the floor + the fixed cost, fixed cost < 1 s.
4. Batch transform, SingleRecord: rows per second over ``--single-rows`` rows (MaxConcurrentTransforms 2), past
   a one-row job's fixed cost. ``--baseline SRC`` measures the same with another stepfn's sources in this run
   (a checkout of the commit before this work: ``git worktree add /tmp/before d22a45a``, then
   ``--baseline /tmp/before/src``). Target: >= 10x the baseline.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
FEATURES = 10
INFERENCE = '''
import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
'''

# The floor: the least an HTTP/1.1 keep-alive server in Python does per request (parse the head, read the body,
# answer in one write with Nagle off). Run as its own process, as the model server is.
ECHO_SERVER = r'''
import socket, sys, threading

def handle(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = b""
    while True:
        while b"\r\n\r\n" not in buffer:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buffer += chunk
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(buffer) < length:
            buffer += conn.recv(65536)
        body, buffer = buffer[:length], buffer[length:]
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(128)
print(listener.getsockname()[1], flush=True)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
'''


def _tar(directory: Path, target: Path) -> Path:
    with tarfile.open(target, "w:gz") as archive:
        for path in sorted(directory.iterdir()):
            archive.add(path, arcname=path.name)
    return target


# The model, fitted by whichever Python runs this (argv[1]: where to write model.joblib): the bench's own, or the
# image's framework environment's, whose scikit-learn is another release and may not read the other's pickle.
FIT = f"""
import sys

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

rng = np.random.default_rng(0)
features = rng.normal(size=(500, {FEATURES}))
joblib.dump(LogisticRegression().fit(features, (features.sum(axis=1) > 0).astype(int)), sys.argv[1])
"""


def make_model(home: Path, scratch: Path, name: str = "bench", python: str = sys.executable) -> Any:
    """A LogisticRegression over FEATURES columns as a SageMaker model ``name`` (model.joblib + inference.py),
    fitted by ``python``; returns it loaded here when ``python`` is this interpreter."""
    import joblib

    from stepfn.local.objectstore import ObjectStore
    from stepfn.local.sagemaker.models import create_model
    from stepfn.local.sagemaker.records import RecordStore

    folder = scratch / name
    (folder / "model").mkdir(parents=True)
    subprocess.run([python, "-c", FIT, str(folder / "model" / "model.joblib")], check=True, timeout=300)
    (folder / "code").mkdir()
    (folder / "code" / "inference.py").write_text(INFERENCE)
    store = ObjectStore(home / "s3")
    model_uri = store.upload(_tar(folder / "model", folder / "model.tar.gz"), f"s3://bench/{name}/model.tar.gz")
    code_uri = store.upload(_tar(folder / "code", folder / "code.tar.gz"), f"s3://bench/{name}/sourcedir.tar.gz")
    create_model(RecordStore(home), {"ModelName": name, "PrimaryContainer": {
        "Image": IMAGE, "ModelDataUrl": model_uri,
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": code_uri}}})
    return joblib.load(folder / "model" / "model.joblib") if python == sys.executable else None


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def keepalive_latencies(port: int, path: str, body: bytes, requests: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "text/csv", "Accept": "text/csv"}
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        samples.append(time.perf_counter() - started)
        if response.status != 200:
            raise SystemExit(f"{path} answered {response.status}")
    connection.close()
    return samples


def _client_process(port: int, path: str, body: bytes, requests: int, start: Any, done: Any) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "text/csv", "Accept": "text/csv"}
    connection.request("POST", path, body=body, headers=headers)  # connect and warm up before the clock starts
    connection.getresponse().read()
    start.wait()
    for _ in range(requests):
        connection.request("POST", path, body=body, headers=headers)
        connection.getresponse().read()
    done.put(time.perf_counter())


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` and its children so far: what a server spends, whatever else
    the machine runs."""
    total = 0.0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        pids.extend(int(child) for child in children)
    return total


def throughput(port: int, path: str, body: bytes, clients: int, requests: int, pid: int) -> tuple[float, float]:
    """(requests per second, the server's CPU seconds per request) of ``clients`` processes, each over one
    keep-alive connection, against the server process ``pid`` (and its workers)."""
    context = multiprocessing.get_context("fork")
    start, done = context.Event(), context.Queue()
    workers = [context.Process(target=_client_process, args=(port, path, body, requests, start, done))
               for _ in range(clients)]
    for worker in workers:
        worker.start()
    time.sleep(0.5)
    cpu = cpu_seconds(pid)
    began = time.perf_counter()
    start.set()
    finished = max(done.get(timeout=300) for _ in workers)
    cpu = cpu_seconds(pid) - cpu
    for worker in workers:
        worker.join()
    return clients * requests / (finished - began), cpu / (clients * requests)


def start_echo(own_session: bool = False) -> tuple[subprocess.Popen[str], int]:
    """The echo floor's process; ``own_session``: in a session of its own, as stepfn starts a model server."""
    process = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True,
                               start_new_session=own_session)
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def endpoint_section(home: Path, model: Any, args: argparse.Namespace, name: str = "bench") -> None:
    """The endpoint figures for model ``name`` (``model``: it loaded here, for the in-process predict; None when
    another interpreter serves it), under the STEPFN_JOB_ENV in force now."""
    from stepfn.local.sagemaker.endpoints import Endpoints
    from stepfn.local.sagemaker.models import create_endpoint_config
    from stepfn.local.sagemaker.records import RecordStore

    print(f"-- endpoint, STEPFN_JOB_ENV={os.environ['STEPFN_JOB_ENV']} (model {name}), load average "
          f"{os.getloadavg()[0]:.1f}")
    row = np.random.default_rng(1).normal(size=(1, FEATURES))
    body = (",".join(repr(float(v)) for v in row[0]) + "\n").encode()
    if model is not None:
        samples = []
        for _ in range(args.requests):
            started = time.perf_counter()
            model.predict(row.astype("float32"))
            samples.append(time.perf_counter() - started)
        print(f"in-process predict (1 row)              p50 {percentiles(samples)[0] * 1e3:7.3f} ms")

    echo, echo_port = start_echo()
    # The same echo server in a session of its own, as the model server runs (endpoints.start_model_server:
    # its own session, so that stopping it takes its workers). Linux's autogroup scheduler shares the CPU
    # between sessions before processes: on a busy machine a server in another session than its clients gets
    # a different share than one in theirs (the same echo served 37-65 % of its own rate there at load 8), so
    # the throughput target compares servers placed alike. Both floors are printed.
    apart, apart_port = start_echo(own_session=True)
    endpoints = Endpoints(home)
    try:
        create_endpoint_config(RecordStore(home), {"EndpointConfigName": name, "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 2, "InstanceType": "ml.m5.large"}]})
        started = time.perf_counter()
        endpoints.create({"EndpointName": name, "EndpointConfigName": name})
        print(f"CreateEndpoint (to InService)           {time.perf_counter() - started:7.2f} s")
        server = endpoints.server(name)
        if server is None:
            raise SystemExit(f"endpoint failed: {endpoints.describe(name).get('FailureReason')}")
        keepalive_latencies(echo_port, "/invocations", body, 200)
        keepalive_latencies(server.port, "/invocations", body, 200)
        echo_p50, echo_p99 = percentiles(keepalive_latencies(echo_port, "/invocations", body, args.requests))
        server_p50, server_p99 = percentiles(keepalive_latencies(server.port, "/invocations", body, args.requests))
        invoke = []
        for _ in range(args.requests):
            started = time.perf_counter()
            endpoints.invoke(name, body, "text/csv", "text/csv")["Body"].read()
            invoke.append(time.perf_counter() - started)
        invoke_p50, invoke_p99 = percentiles(invoke)
        target = 3 * echo_p50 + 1e-3
        print(f"echo floor, keep-alive                  p50 {echo_p50 * 1e3:7.3f} ms  p99 {echo_p99 * 1e3:7.3f} ms")
        print(f"model server, keep-alive http.client    p50 {server_p50 * 1e3:7.3f} ms  p99 {server_p99 * 1e3:7.3f} ms"
              f"  ({server_p50 / echo_p50:.1f}x floor)")
        print(f"invoke_endpoint (Predictor path)        p50 {invoke_p50 * 1e3:7.3f} ms  p99 {invoke_p99 * 1e3:7.3f} ms"
              f"  target <= {target * 1e3:.3f} ms: {'met' if invoke_p50 <= target else 'MISSED'}")
        # Rounds alternate the floor and the server, each a few seconds long: on a shared machine the load moves
        # between a run of the one and of the other, and the median of the rounds' ratios is what is compared.
        rounds = []
        for _ in range(args.rounds):
            echo_rps, echo_cpu = throughput(echo_port, "/invocations", body, args.clients, args.per_client, echo.pid)
            apart_rps, apart_cpu = throughput(apart_port, "/invocations", body, args.clients, args.per_client,
                                              apart.pid)
            server_rps, server_cpu = throughput(server.port, "/invocations", body, args.clients, args.per_client,
                                                server.pid)
            rounds.append((server_rps / apart_rps, server_rps / echo_rps))
            print(f"{args.clients} clients x {args.per_client}: echo floor {echo_rps:8.0f} req/s (in its own session "
                  f"{apart_rps:.0f}), model server {server_rps:8.0f} req/s ({server_rps / apart_rps:.0%} of the "
                  f"floor in its own session, {server_rps / echo_rps:.0%} of the other); server CPU per request: "
                  f"echo {echo_cpu * 1e6:.0f} us (own session {apart_cpu * 1e6:.0f} us), model server "
                  f"{server_cpu * 1e6:.0f} us")
        share = sorted(ratio for ratio, _ in rounds)[len(rounds) // 2]
        other = sorted(ratio for _, ratio in rounds)[len(rounds) // 2]
        # Throughput on a shared machine follows the share of the CPU the servers get; the CPU each spends per
        # request (from /proc) does not.
        print(f"{args.clients} clients: median of {len(rounds)} rounds {share:.0%} of the echo floor's req/s (the "
              f"floor in its own session, as the model server; {other:.0%} of the floor in the clients' session), "
              f"target >= 50%: {'met' if share >= 0.5 else 'MISSED'}")
    finally:
        for process in (echo, apart):
            process.kill()
            process.wait()
        endpoints.stop(name)


def auto_section(home: Path, scratch: Path, args: argparse.Namespace) -> None:
    """The endpoint figures and SingleRecord's (each unless its section is skipped) under STEPFN_JOB_ENV=auto,
    what a user gets by default: unless this Python has scikit-learn 1.2, the 1.2-1 image's framework
    environment serves the model (a handler host per worker, ``hosted.py``), and its model is fitted there, as
    its training job would have. The environment is the user's (``main`` points ``STEPFN_ENV_DIR`` at it),
    built on first use as for a user."""
    from stepfn.local.sagemaker.envs import environment_for_image

    mode = os.environ["STEPFN_JOB_ENV"]
    os.environ["STEPFN_JOB_ENV"] = "auto"
    try:
        environment = environment_for_image(IMAGE, print)
        python = str(environment.python) if environment is not None else sys.executable
        model = make_model(home, scratch, "bench-auto", python)
        if "endpoint" not in args.skip:
            endpoint_section(home, model, args, "bench-auto")
        if "transform" not in args.skip:
            steady, overall, one = single_record(home, args.auto_single_rows, "bench-auto")
            print(f"SingleRecord, {args.auto_single_rows} rows, 2 at a time, STEPFN_JOB_ENV=auto  {steady:8.0f} rows/s "
                  f"past the fixed cost ({overall:.0f} rows/s overall, one-row job {one:.2f} s)")
    finally:
        os.environ["STEPFN_JOB_ENV"] = mode


def transform_job(home: Path, name: str, source: str, model: str = "bench", **extra: Any) -> float:
    from stepfn.local.sagemaker.transform import run_transform_job

    params: dict[str, Any] = {
        "TransformJobName": name, "ModelName": model,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": f"s3://bench/out/{name}", "AssembleWith": "Line", "Accept": "text/csv"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        **extra,
    }
    started = time.perf_counter()
    record = run_transform_job(home, params)
    took = time.perf_counter() - started
    if record["TransformJobStatus"] != "Completed":
        raise SystemExit(f"transform {name} ended {record['TransformJobStatus']}: {record.get('FailureReason')}")
    return took


def _csv_rows(count: int) -> bytes:
    rows = np.random.default_rng(2).normal(size=(count, FEATURES))
    return "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in rows).encode()


def single_record(home: Path, rows: int, model: str = "bench") -> tuple[float, float, float]:
    """SingleRecord with MaxConcurrentTransforms 2: (rows/s past the fixed cost, rows/s overall, a one-row job's
    seconds), the one-row job run just before with the same settings."""
    from stepfn.local.objectstore import ObjectStore

    data = _csv_rows(rows)
    store = ObjectStore(home / "s3")
    store.put_bytes("s3://bench/in/single/data.csv", data)
    store.put_bytes("s3://bench/in/single-one/data.csv", data[: data.index(b"\n") + 1])
    settings = {"BatchStrategy": "SingleRecord", "MaxConcurrentTransforms": 2}
    one = transform_job(home, f"{model}-single-one", "s3://bench/in/single-one/", model, **settings)
    took = transform_job(home, f"{model}-single", "s3://bench/in/single/", model, **settings)
    return (rows - 1) / max(took - one, 1e-9), rows / took, one


def transform_section(home: Path, model: Any, args: argparse.Namespace, scratch: Path) -> None:
    import pandas as pd

    from stepfn.local.objectstore import ObjectStore

    store = ObjectStore(home / "s3")
    data = _csv_rows(args.rows)
    store.put_bytes("s3://bench/in/big/data.csv", data)
    store.put_bytes("s3://bench/in/one/data.csv", data[: data.index(b"\n") + 1])

    (scratch / "floor.csv").write_bytes(data)
    floors = []
    for _ in range(3):
        started = time.perf_counter()
        frame = pd.read_csv(scratch / "floor.csv", header=None, dtype="float32")
        predictions = model.predict(frame.to_numpy())
        pd.Series(predictions).to_csv(scratch / "floor.out", header=False, index=False)
        floors.append(time.perf_counter() - started)
    floor = min(floors)
    # The first job of this process starts its model server cold (the framework imported); later ones fork
    # from an interpreter that has it (forkserver.py). Both are printed; the target is the warm one.
    cold = transform_job(home, "one-cold", "s3://bench/in/one/")
    fixed = min(transform_job(home, f"one-{i}", "s3://bench/in/one/") for i in range(3))
    # The MultiRecord job's own fixed cost is a one-row job with its settings: two workers start (and stop)
    # where the default job starts one. Both fixed costs are printed; the MultiRecord target adds its own.
    settings = {"BatchStrategy": "MultiRecord", "MaxConcurrentTransforms": 2}
    fixed_same = min(transform_job(home, f"one-multi-{i}", "s3://bench/in/one/", **settings) for i in range(3))
    multi = min(transform_job(home, f"multi-{i}", "s3://bench/in/big/", **settings) for i in range(2))
    target = 2 * floor + fixed_same
    print(f"transform fixed cost (1-row job)        {fixed:7.2f} s  (first job of the process {cold:.2f} s; "
          f"MaxConcurrentTransforms 2: {fixed_same:.2f} s); target < 1 s: "
          f"{'met' if max(fixed, fixed_same) < 1 else 'MISSED'}")
    print(f"floor: pandas read + predict + write    {floor:7.2f} s  ({args.rows} rows)")
    print(f"MultiRecord transform, {args.rows} rows  {multi:7.2f} s  target <= 2 x floor + fixed (same settings) "
          f"= {target:.2f} s: {'met' if multi <= target else 'MISSED'}; past the fixed cost {multi - fixed_same:.2f} s "
          f"against 2 x floor {2 * floor:.2f} s (with the default job's fixed cost: "
          f"{'met' if multi <= 2 * floor + fixed else 'missed'})")
    steady, overall, one = single_record(home, args.single_rows)
    print(f"SingleRecord, {args.single_rows} rows, 2 at a time  {steady:8.0f} rows/s past the fixed cost "
          f"({overall:.0f} rows/s overall, one-row job {one:.2f} s)")
    if args.baseline:
        # The same measurement with another stepfn's sources (a checkout of the commit before this work), now.
        answer = subprocess.run(
            [sys.executable, __file__, "--single-only", "--single-rows", str(args.single_rows)],
            env={**os.environ, "PYTHONPATH": args.baseline}, capture_output=True, text=True, check=True)
        old_steady, old_overall, old_one = (float(v) for v in answer.stdout.split()[-3:])
        print(f"  baseline {args.baseline}: {old_steady:8.0f} rows/s past the fixed cost ({old_overall:.0f} overall, "
              f"one-row job {old_one:.2f} s); ratio {steady / old_steady:.1f}x past the fixed cost, "
              f"{overall / old_overall:.1f}x overall; target >= 10x: {'met' if steady >= 10 * old_steady else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=1500, help="requests per client in a throughput round")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (echo floor, then model server)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--single-rows", type=int, default=5000)
    parser.add_argument("--auto-single-rows", type=int, default=50_000,
                        help="SingleRecord rows under STEPFN_JOB_ENV=auto (past a handler host's start, ~0.5 s)")
    parser.add_argument("--skip", choices=["endpoint", "auto", "transform"], action="append", default=[],
                        help="leave out a section (auto: the endpoint served in the image's framework environment)")
    parser.add_argument("--baseline", help="src folder of another stepfn to measure SingleRecord with, in this run")
    parser.add_argument("--single-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # The model is fitted here, with this Python's scikit-learn, so it is served here too: stepfn's own model
    # server, what these figures have measured since the first run. (Under the default, auto, a model of the
    # 1.2-1 image is served in that image's environment unless this Python has scikit-learn 1.2: a handler host
    # in another interpreter, which this bench does not measure.)
    os.environ.setdefault("STEPFN_JOB_ENV", "host")
    # The auto section's framework environment is the user's (STEPFN_ENV_DIR, else their home's envs), not one
    # built afresh in the bench's temporary home below.
    from stepfn.local.sagemaker.envs import environments_root

    os.environ.setdefault("STEPFN_ENV_DIR", str(environments_root()))
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        os.environ["STEPFN_HOME"] = str(home)
        scratch = Path(folder) / "scratch"
        scratch.mkdir()
        model = make_model(home, scratch)
        if args.single_only:
            print(*single_record(home, args.single_rows))
            return
        print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cpus, Python {sys.version.split()[0]}, "
              f"STEPFN_JOB_ENV={os.environ['STEPFN_JOB_ENV']}")
        if "endpoint" not in args.skip:
            endpoint_section(home, model, args)
        if "transform" not in args.skip:
            transform_section(home, model, args, scratch)
        if "auto" not in args.skip:
            auto_section(home, scratch, args)


if __name__ == "__main__":
    main()
