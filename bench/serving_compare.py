"""Benchmark: the model servers of several stepfn checkouts under the same load, round by round.

    PYTHONPATH=src .venv/bin/python bench/serving_compare.py /tmp/before/src src [--rounds 4] [--workers 2] [--rows 1]

On a machine shared with other work, ``bench/serving.py``'s throughput follows the machine's load as much as
the server: two runs minutes apart are not comparable. Here each round runs the keep-alive echo floor and then
the model server of every given ``src`` folder (``python -m stepfn.local.sagemaker.modelserver`` with that
folder on ``PYTHONPATH``, the bench's LogisticRegression, ``--workers`` workers), ``--clients`` client processes
of ``--per-client`` requests each; it prints each server's requests per second, its ratio to the echo of the
same round and its CPU per request (from /proc), and the medians. ``--own-session`` starts the servers and the
echo in sessions of their own, as stepfn starts a model server. ``--python PATH`` serves the model as a framework
environment's model is (STEPFN_JOB_ENV=auto): fitted by that interpreter and answered by a handler host under it,
one per worker (``--python /tmp/runtime-envs/sklearn-1.2-1-*/bin/python`` for the 1.2-1 image's).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving import FEATURES, FIT, INFERENCE, start_echo, throughput


def start_server(src: str, folder: Path, index: int, workers: int, own_session: bool,
                 python: str | None) -> tuple[subprocess.Popen[bytes], int]:
    ready = folder / f"ready-{index}.json"
    container = {"ModelDir": str(folder / "model"), "CodeDir": str(folder / "code"), "Program": "inference.py",
                 "Framework": "sklearn", **({"Python": python} if python else {})}
    spec = {"ready_file": str(ready), "workers": workers,
            "variants": [{"VariantName": "AllTraffic", "Containers": [container]}]}
    (folder / f"spec-{index}.json").write_text(json.dumps(spec))
    process = subprocess.Popen(
        [sys.executable, "-m", "stepfn.local.sagemaker.modelserver", str(folder / f"spec-{index}.json")],
        env={**os.environ, "PYTHONPATH": src}, stderr=subprocess.DEVNULL, start_new_session=own_session)
    deadline = time.monotonic() + 120
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the model server from {src} did not start")
        time.sleep(0.05)
    answer = json.loads(ready.read_text())
    if "port" not in answer:
        raise SystemExit(f"the model server from {src} failed: {answer}")
    return process, int(answer["port"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sources", nargs="+", help="src folders of the stepfn checkouts to compare")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=1500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rows", type=int, default=1, help="CSV rows a request (20000: a MultiRecord payload of 3.7 MB)")
    parser.add_argument("--own-session", action="store_true")
    parser.add_argument("--python", help="serve through a handler host under this interpreter (fits the model too)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "model").mkdir()
        (folder / "code").mkdir()
        subprocess.run([args.python or sys.executable, "-c", FIT, str(folder / "model" / "model.joblib")], check=True,
                       timeout=300)
        (folder / "code" / "inference.py").write_text(INFERENCE)
        rows = np.random.default_rng(1).normal(size=(args.rows, FEATURES))
        body = "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows).encode()
        servers = [start_server(str(Path(src).resolve()), folder, index, args.workers, args.own_session, args.python)
                   for index, src in enumerate(args.sources)]
        echo, echo_port = start_echo(own_session=args.own_session)
        ratios: list[list[float]] = [[] for _ in servers]
        costs: list[list[float]] = [[] for _ in servers]
        try:
            print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cpus")
            for _ in range(args.rounds):
                echo_rps, echo_cpu = throughput(echo_port, "/invocations", body, args.clients, args.per_client, echo.pid)
                line = f"echo {echo_rps:7.0f} req/s ({echo_cpu * 1e6:3.0f} us)"
                for index, (process, port) in enumerate(servers):
                    rps, cpu = throughput(port, "/invocations", body, args.clients, args.per_client, process.pid)
                    ratios[index].append(rps / echo_rps)
                    costs[index].append(cpu * 1e6)
                    line += f" | {index}: {rps:7.0f} req/s ({cpu * 1e6:3.0f} us) {rps / echo_rps:4.0%}"
                print(line, flush=True)
            for index, src in enumerate(args.sources):
                print(f"{index} {src}: median {sorted(ratios[index])[len(ratios[index]) // 2]:.0%} of the echo, "
                      f"CPU per request {min(costs[index]):.0f}-{max(costs[index]):.0f} us "
                      f"(median {sorted(costs[index])[len(costs[index]) // 2]:.0f})")
            print(f"load average {os.getloadavg()[0]:.1f}")
        finally:
            for process in (echo, *(process for process, _ in servers)):
                process.kill()
                process.wait()


if __name__ == "__main__":
    main()
