"""Benchmark: how local jobs start (framework environments, mount namespaces) and run on several instances.

    .venv/bin/python bench/jobs.py [--repeats 9] [--seconds 1.0] [--skip-cold]

1. First build of a framework environment (scikit-learn 1.2-1: Python 3.9, scikit-learn 1.2.1, numpy, pandas,
   scipy, joblib) with uv: cold (an empty uv cache, so every package is downloaded) unless ``--skip-cold``, and
   warm (uv's cache filled, as for every environment after the first on a machine).
2. Cached job start: an empty training script run (a) directly by the environment's interpreter in a prepared
   directory and (b) as a local training job of the 1.2-1 image (environment cached, the job in its own mount
   namespace where available), best of ``--repeats``; the difference is what a job adds. Also (c) the same job
   in stepfn's own Python without a namespace (``STEPFN_JOB_ENV=host``, ``STEPFN_JOB_ISOLATION=none``), the
   previous behaviour. Target: (b) - (a) <= 0.15 s.
3. Instances: a script doing ``--seconds`` of CPU work on each instance, as a 1-instance and a 2-instance job.
   On 2 cores the 2-instance job should take about as long as the 1-instance one (its instances run at once).
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
from typing import Any

from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.envs import ensure_environment, spec_for_image
from stepfn.local.sagemaker.isolation import choose_isolation
from stepfn.local.sagemaker.training import TrainingJobs

ROLE = "arn:aws:iam::123456789012:role/bench"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
WORK = """
import os, time
end = time.process_time() + {seconds}
total = 0
while time.process_time() < end:
    total += 1
open(os.path.join(os.environ.get("SM_MODEL_DIR", "."), "model.txt"), "w").write(str(total))
"""


def _tarball(store: ObjectStore, uri: str, script: str) -> str:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = script.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    store.put_bytes(uri, buffer.getvalue())
    return uri


def _request(store: ObjectStore, name: str, code: str, instances: int = 1) -> dict[str, Any]:
    return {
        "TrainingJobName": name, "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "HyperParameters": {"sagemaker_program": '"train.py"', "sagemaker_submit_directory": json.dumps(code)},
        "OutputDataConfig": {"S3OutputPath": "s3://bench/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": instances, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://bench/data/"}}}],
    }


def _run_job(jobs: TrainingJobs, request: dict[str, Any]) -> float:
    started = time.perf_counter()
    record = jobs.run(request)
    elapsed = time.perf_counter() - started
    if record["TrainingJobStatus"] != "Completed":
        raise SystemExit(f"{request['TrainingJobName']}: {record.get('FailureReason')}")
    return elapsed


def _quiet(line: str) -> None:
    pass


def first_build(root: Path, cold: bool) -> dict[str, float]:
    spec = spec_for_image(IMAGE)
    assert spec is not None
    results = {}
    for label in (["cold"] if cold else []) + ["warm"]:
        os.environ["STEPFN_ENV_DIR"] = str(root / f"envs-{label}")
        saved = os.environ.get("UV_CACHE_DIR")
        if label == "cold":
            os.environ["UV_CACHE_DIR"] = str(root / "empty-uv-cache")
        started = time.perf_counter()
        ensure_environment(spec, _quiet)
        results[label] = time.perf_counter() - started
        if label == "cold":
            if saved is None:
                os.environ.pop("UV_CACHE_DIR")
            else:
                os.environ["UV_CACHE_DIR"] = saved
    os.environ["STEPFN_ENV_DIR"] = str(root / "envs-warm")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--skip-cold", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stepfn-bench-jobs-") as scratch:
        root = Path(scratch)
        os.environ["STEPFN_HOME"] = str(root / "home")
        os.environ["STEPFN_JOB_ENV"] = "image"
        builds = first_build(root, cold=not args.skip_cold)
        for label, seconds in builds.items():
            print(f"first build of the sklearn 1.2-1 environment, {label} uv cache: {seconds:.1f} s")
        spec = spec_for_image(IMAGE)
        assert spec is not None
        python = ensure_environment(spec, _quiet) / "bin" / "python"
        store = ObjectStore(root / "home" / "s3")
        store.put_bytes("s3://bench/data/train.csv", b"1,2\n")
        empty = _tarball(store, "s3://bench/code/empty.tar.gz", "")
        jobs = TrainingJobs(root / "home")
        direct_dir = root / "direct"
        direct_dir.mkdir()
        (direct_dir / "train.py").write_text("")
        direct, in_env, host = [], [], []
        for i in range(args.repeats):  # interleaved, so load changes hit all three alike
            started = time.perf_counter()
            subprocess.run([str(python), "train.py"], cwd=direct_dir, check=True)
            direct.append(time.perf_counter() - started)
            in_env.append(_run_job(jobs, _request(store, f"env-{i}", empty)))
            os.environ.update(STEPFN_JOB_ENV="host", STEPFN_JOB_ISOLATION="none")
            host.append(_run_job(jobs, _request(store, f"host-{i}", empty)))
            os.environ["STEPFN_JOB_ENV"] = "image"
            os.environ.pop("STEPFN_JOB_ISOLATION")
        isolation = choose_isolation().mode
        print(f"empty script, best of {args.repeats}: direct {min(direct):.3f} s; job in the cached environment "
              f"({isolation}) {min(in_env):.3f} s, adds {min(in_env) - min(direct):.3f} s (target <= 0.15 s); "
              f"job in stepfn's Python without a namespace {min(host):.3f} s")
        work = _tarball(store, "s3://bench/code/work.tar.gz", WORK.format(seconds=args.seconds))
        one, two = [], []
        for i in range(max(1, args.repeats // 3)):
            one.append(_run_job(jobs, _request(store, f"one-{i}", work, 1)))
            two.append(_run_job(jobs, _request(store, f"two-{i}", work, 2)))
        print(f"{args.seconds:g} s of CPU per instance, best of {len(one)}: 1 instance {min(one):.3f} s, "
              f"2 instances {min(two):.3f} s ({min(two) / min(one):.2f}x; os.cpu_count() = {os.cpu_count()})")
        print(f"Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
