"""Benchmark: what a local endpoint adds on top of the model's own ``predict_fn``, for a small scikit-learn model.

    .venv/bin/python bench/endpoint_overhead.py [--requests 1000] [--skip-auto]

One-row CSV requests to a LogisticRegression over 10 features (the model and its ``inference.py`` are
``bench/serving.py``'s), p50 / p99 of ``--requests`` calls each, all in the same run:

1. ``predict_fn`` called directly in this process: the floor, what the model itself costs;
2. the container's handler chain in this process (``input_fn`` -> ``predict_fn`` -> ``output_fn``, as the model
   server runs it, without HTTP);
3. the model server over one reused HTTP connection (``http.client``): the chain plus the transport;
4. ``Predictor.predict`` with ``CSVSerializer`` / ``CSVDeserializer``, what a notebook calls: serialization,
   ``invoke_endpoint`` (endpoint lookup, data capture check, response shape) and the HTTP round trip.

It runs twice: with ``STEPFN_JOB_ENV=host`` (the model served in this Python; (1) and (2) measured here), then
under the user's default, ``STEPFN_JOB_ENV=auto`` (the model fitted and served in the scikit-learn 1.2-1 image's
framework environment, through its handler host; (1) measured in that environment's Python, (2) not separable).

The overhead is (4) p50 minus (1) p50; issue #17's goal is <= 1 ms. ``bench/serving.py`` compares the transport
with an echo-server floor; this file separates the SDK's and the handler chain's share.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import FEATURES, IMAGE, keepalive_latencies, make_model, percentiles

GOAL_SECONDS = 1e-3


def timed(call: Any, requests: int) -> tuple[float, float]:
    for _ in range(min(100, requests)):  # warm caches and connections before the clock
        call()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def report(label: str, p50: float, p99: float, floor: float | None = None) -> None:
    extra = f"  (+{(p50 - floor) * 1e3:.3f} ms over predict_fn)" if floor is not None else ""
    print(f"{label:<44} p50 {p50 * 1e3:7.3f} ms  p99 {p99 * 1e3:7.3f} ms{extra}")


ENV_PREDICT = r"""
import sys, time
import joblib, numpy as np
model = joblib.load(sys.argv[1])
row = np.array([[float(v) for v in sys.argv[2].split(",")]], dtype="float32")
samples = []
for index in range(100 + int(sys.argv[3])):
    started = time.perf_counter()
    model.predict(row)
    if index >= 100:
        samples.append(time.perf_counter() - started)
samples.sort()
print(samples[len(samples) // 2], samples[min(len(samples) - 1, int(len(samples) * 0.99))], model.predict(row)[0])
"""


def endpoint_figures(home: Path, name: str, model_name: str, row: Any, body: bytes, expected: str,
                     floor: float, requests: int) -> float:
    """(3) and (4) for an endpoint serving ``model_name``; returns Predictor.predict's p50."""
    from stepfn.local.sagemaker.endpoints import Endpoints
    from stepfn.local.sagemaker.models import create_endpoint_config
    from stepfn.local.sagemaker.records import RecordStore
    from stepfn.sagemaker.deserializers import CSVDeserializer
    from stepfn.sagemaker.predictor import Predictor
    from stepfn.sagemaker.serializers import CSVSerializer

    endpoints = Endpoints(home)
    create_endpoint_config(RecordStore(home), {"EndpointConfigName": name, "ProductionVariants": [
        {"VariantName": "AllTraffic", "ModelName": model_name, "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}]})
    endpoints.create({"EndpointName": name, "EndpointConfigName": name})
    try:
        server = endpoints.server(name)
        if server is None:
            raise SystemExit(f"endpoint failed: {endpoints.describe(name).get('FailureReason')}")
        keepalive_latencies(server.port, "/invocations", body, 100)
        http_p50, http_p99 = percentiles(keepalive_latencies(server.port, "/invocations", body, requests))
        report("3. model server, keep-alive http.client", http_p50, http_p99, floor=floor)
        predictor = Predictor(name, serializer=CSVSerializer(), deserializer=CSVDeserializer())
        answer = predictor.predict(row)[0][0]
        if float(answer) != float(expected):
            raise SystemExit(f"the endpoint's answer {answer} differs from predict_fn's {expected}")
        sdk_p50, sdk_p99 = timed(lambda: predictor.predict(row), requests)
        report("4. Predictor.predict (CSV in, CSV out)", sdk_p50, sdk_p99, floor=floor)
    finally:
        endpoints.stop(name)
    return sdk_p50


def verdict(label: str, sdk_p50: float, floor: float) -> None:
    overhead = sdk_p50 - floor
    print(f"{label}: endpoint overhead over predict_fn {overhead * 1e3:.3f} ms p50 "
          f"(goal <= {GOAL_SECONDS * 1e3:.0f} ms: {'met' if overhead <= GOAL_SECONDS else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--skip-auto", action="store_true", help="leave out the framework-environment endpoint")
    args = parser.parse_args()
    # The auto section's framework environment is the user's (STEPFN_ENV_DIR, else their home's envs), not one
    # built afresh in the bench's temporary home.
    from stepfn.local.sagemaker.envs import environments_root

    os.environ.setdefault("STEPFN_ENV_DIR", str(environments_root()))
    with tempfile.TemporaryDirectory(prefix="stepfn-bench-") as scratch_name:
        scratch = Path(scratch_name)
        home = scratch / "home"
        os.environ["STEPFN_HOME"] = str(home)
        from stepfn.local.sagemaker.inference import Container

        print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cpus, Python {sys.version.split()[0]}, "
              f"{args.requests} requests a figure")
        row = np.random.default_rng(1).normal(size=(1, FEATURES))
        body = (",".join(repr(float(v)) for v in row[0]) + "\n").encode()

        # The model served in this Python (STEPFN_JOB_ENV=host): the floor is its predict_fn here.
        os.environ["STEPFN_JOB_ENV"] = "host"
        model = make_model(home, scratch)
        print("-- STEPFN_JOB_ENV=host: the model served in this Python")
        container = Container.load({"ModelDir": str(scratch / "bench" / "model"),
                                    "CodeDir": str(scratch / "bench" / "code"), "Program": "inference.py",
                                    "Framework": "sklearn", "Environment": {}})
        data = container.defaults.input_fn(body, "text/csv")
        floor, floor_p99 = timed(lambda: container.defaults.predict_fn(data, container.model), args.requests)
        report("1. predict_fn, in process", floor, floor_p99)
        chain = timed(lambda: container.invoke(body, "text/csv", "text/csv"), args.requests)
        report("2. handler chain, in process", *chain, floor=floor)
        expected = str(model.predict(row.astype("float32"))[0])
        verdict("host", endpoint_figures(home, "overhead", "bench", row, body, expected, floor, args.requests),
                floor)
        if args.skip_auto:
            return

        # The user's default (STEPFN_JOB_ENV=auto): the 1.2-1 image's framework environment serves the model,
        # fitted there as its training job would; the floor is predict_fn in that environment's Python.
        from stepfn.local.sagemaker.envs import environment_for_image

        os.environ["STEPFN_JOB_ENV"] = "auto"
        environment = environment_for_image(IMAGE, print)
        python = str(environment.python) if environment is not None else sys.executable
        make_model(home, scratch, "bench-auto", python)
        print(f"-- STEPFN_JOB_ENV=auto: the model served by {python}")
        model_file = str(scratch / "bench-auto" / "model" / "model.joblib")
        values = ",".join(repr(float(v)) for v in row[0])
        measured = subprocess.run([python, "-c", ENV_PREDICT, model_file, values, str(args.requests)],
                                  check=True, capture_output=True, text=True, timeout=300).stdout.split()
        # p50, p99, and the model's answer to the row, which the endpoint's must equal.
        env_floor, env_floor_p99, expected = float(measured[0]), float(measured[1]), measured[2]
        report("1. predict_fn, in the environment's Python", env_floor, env_floor_p99)
        verdict("auto", endpoint_figures(home, "overhead-auto", "bench-auto", row, body, expected, env_floor,
                                         args.requests), env_floor)


if __name__ == "__main__":
    main()
