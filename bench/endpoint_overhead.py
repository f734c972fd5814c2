"""Benchmark: what a local endpoint adds on top of the model's own ``predict_fn``, for a small scikit-learn model.

    .venv/bin/python bench/endpoint_overhead.py [--requests 1000]

One-row CSV requests to a LogisticRegression over 10 features (the model and its ``inference.py`` are
``bench/serving.py``'s), p50 / p99 of ``--requests`` calls each, all in the same run:

1. ``predict_fn`` called directly in this process: the floor, what the model itself costs;
2. the container's handler chain in this process (``input_fn`` -> ``predict_fn`` -> ``output_fn``, as the model
   server runs it, without HTTP);
3. the model server over one reused HTTP connection (``http.client``): the chain plus the transport;
4. ``Predictor.predict`` with ``CSVSerializer`` / ``CSVDeserializer``, what a notebook calls: serialization,
   ``invoke_endpoint`` (endpoint lookup, data capture check, response shape) and the HTTP round trip.

The overhead is (4) p50 minus (1) p50; issue #17's goal is <= 1 ms. ``bench/serving.py`` compares the transport
with an echo-server floor; this file separates the SDK's and the handler chain's share.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import FEATURES, keepalive_latencies, make_model, percentiles

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="stepfn-bench-") as scratch_name:
        scratch = Path(scratch_name)
        home = scratch / "home"


        os.environ["STEPFN_HOME"] = str(home)
        from stepfn.local.sagemaker.endpoints import Endpoints
        from stepfn.local.sagemaker.inference import Container
        from stepfn.local.sagemaker.models import create_endpoint_config
        from stepfn.local.sagemaker.records import RecordStore
        from stepfn.sagemaker.deserializers import CSVDeserializer
        from stepfn.sagemaker.predictor import Predictor
        from stepfn.sagemaker.serializers import CSVSerializer

        model = make_model(home, scratch)
        row = np.random.default_rng(1).normal(size=(1, FEATURES))
        body = (",".join(repr(float(v)) for v in row[0]) + "\n").encode()

        container = Container.load({"ModelDir": str(scratch / "model"), "CodeDir": str(scratch / "code"),
                                    "Program": "inference.py", "Framework": "sklearn", "Environment": {}})
        data = container.defaults.input_fn(body, "text/csv")
        floor, floor_p99 = timed(lambda: container.defaults.predict_fn(data, container.model), args.requests)
        report("1. predict_fn, in process", floor, floor_p99)
        chain = timed(lambda: container.invoke(body, "text/csv", "text/csv"), args.requests)
        report("2. handler chain, in process", *chain, floor=floor)

        endpoints = Endpoints(home)
        create_endpoint_config(RecordStore(home), {"EndpointConfigName": "overhead", "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelName": "bench", "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"}]})
        endpoints.create({"EndpointName": "overhead", "EndpointConfigName": "overhead"})
        try:
            server = endpoints.server("overhead")
            if server is None:
                raise SystemExit(f"endpoint failed: {endpoints.describe('overhead').get('FailureReason')}")
            keepalive_latencies(server.port, "/invocations", body, 100)
            http_p50, http_p99 = percentiles(keepalive_latencies(server.port, "/invocations", body, args.requests))
            report("3. model server, keep-alive http.client", http_p50, http_p99, floor=floor)
            predictor = Predictor("overhead", serializer=CSVSerializer(), deserializer=CSVDeserializer())
            expected = str(model.predict(row.astype("float32"))[0])
            if predictor.predict(row)[0][0] != expected:
                raise SystemExit("the endpoint's answer differs from predict_fn's")
            sdk_p50, sdk_p99 = timed(lambda: predictor.predict(row), args.requests)
            report("4. Predictor.predict (CSV in, CSV out)", sdk_p50, sdk_p99, floor=floor)
        finally:
            endpoints.stop("overhead")
        overhead = sdk_p50 - floor
        print(f"endpoint overhead over predict_fn: {overhead * 1e3:.3f} ms p50 "
              f"(goal <= {GOAL_SECONDS * 1e3:.0f} ms: {'met' if overhead <= GOAL_SECONDS else 'MISSED'})")


if __name__ == "__main__":
    main()
