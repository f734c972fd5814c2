"""Chaos: executions with real tasks survive SIGKILL of the process running them.

One invocation starts ``--executions`` executions of a workflow whose tasks are real: local Python Lambda
functions (``stepfn.local.lambdas``), a script-mode training job per execution on the local SageMaker (a real
subprocess), an inline Map, a Parallel and a Retry. They run in a child process through
``LocalStepFunctionsClient``. This parent kills that child with SIGKILL at random moments (``--kills`` times,
``--seed`` picks the moments) and starts a new one, which resumes the executions the dead one left behind,
until every execution has finished.

Every task appends ``start <key>`` / ``done <key>`` lines to an append-only side-effect file (fsync'd), where
``<key>`` names the execution, state, Map index and retry attempt. At the end it prints:

* completed: executions that SUCCEEDED with exactly the output computed independently here;
* lost results: executions that did not (failed, wrong or missing output, missing model artifact, or a
  malformed history);
* tasks run twice: task attempts started again after a kill although their outcome (succeeded or failed) was
  already recorded in the store when the runner died. This is the guarantee: a finished task is never run again.

An attempt that was in flight when the runner died is dispatched again (at-least-once, as Step Functions does
with a task whose worker is lost). Those are reported too, with how many had already finished their body in the
milliseconds before the kill, when the result was not yet recorded.

    python bench/chaos.py                       # 100 executions, 10 kills
    python bench/chaos.py --executions 10 --kills 3 --seed 1 --json
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"
SAGEMAKER_ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
MACHINE = "chaos"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SOURCEDIR = "s3://chaos/code/sourcedir.tar.gz"
ITEMS = 3
TERMINAL_TYPES = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")

TRAIN_SCRIPT = """
import json, os, sys, time
job = os.environ["CHAOS_JOB"]
n = int(sys.argv[sys.argv.index("-n") + 1])  # one-letter hyperparameters get one dash, as the toolkit does

def effect(kind):
    with open(os.environ["CHAOS_LOG"], "a") as handle:
        handle.write(f"{kind} train/{job} {time.time():.3f}\\n")
        handle.flush()
        os.fsync(handle.fileno())

effect("start")
time.sleep(0.3)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as handle:
    json.dump({"n_squared": n * n}, handle)
effect("done")
"""


# -- the workflow -------------------------------------------------------------------------------------------


def _lambda(function: str, payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, "Payload": payload}, **fields,
    }


def definition(log: str) -> dict[str, Any]:
    flaky = _lambda(
        "chaos-flaky",
        {"n.$": "$.n", "attempt.$": "$$.State.RetryCount",
         "key.$": "States.Format('{}/Flaky/{}', $$.Execution.Name, $$.State.RetryCount)"},
        ResultSelector={"flaky.$": "$.Payload.flaky"},
        Retry=[{"ErrorEquals": ["FlakyError"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0}],
        End=True,
    )
    train = {
        "Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "Parameters": {
            "TrainingJobName.$": "States.Format('chaos-{}', $$.Execution.Name)",
            "RoleArn": SAGEMAKER_ROLE,
            "AlgorithmSpecification": {"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
            "HyperParameters": {
                "sagemaker_program": '"train.py"', "sagemaker_submit_directory": json.dumps(SOURCEDIR),
                "n.$": "States.Format('{}', $.n)",
            },
            "Environment": {"CHAOS_LOG": log, "CHAOS_JOB.$": "States.Format('chaos-{}', $$.Execution.Name)"},
            "OutputDataConfig": {"S3OutputPath": "s3://chaos/output"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 120},
        },
        "ResultSelector": {"status.$": "$.TrainingJobStatus", "model.$": "$.ModelArtifacts.S3ModelArtifacts"},
        "End": True,
    }
    return {
        "Comment": "bench/chaos.py: Lambda functions, a Map, a Parallel with a Retry and a training job",
        "StartAt": "Prepare",
        "States": {
            "Prepare": _lambda(
                "chaos-prepare",
                {"n.$": "$.n", "key.$": "States.Format('{}/Prepare', $$.Execution.Name)"},
                ResultSelector={"doubled.$": "$.Payload.n"}, ResultPath="$.prepare", Next="Fan",
            ),
            "Fan": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ResultPath": "$.squares",
                "ItemSelector": {
                    "value.$": "$$.Map.Item.Value",
                    "key.$": "States.Format('{}/Square/{}', $$.Execution.Name, $$.Map.Item.Index)",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Square",
                    "States": {"Square": _lambda("chaos-square", {"value.$": "$.value", "key.$": "$.key"},
                                                 OutputPath="$.Payload", End=True)},
                },
                "Next": "Both",
            },
            "Both": {
                "Type": "Parallel", "ResultPath": "$.parallel", "Next": "Sum",
                "Branches": [
                    {"StartAt": "Flaky", "States": {"Flaky": flaky}},
                    {"StartAt": "Train", "States": {"Train": train}},
                ],
            },
            "Sum": _lambda(
                "chaos-sum",
                {"key.$": "States.Format('{}/Sum', $$.Execution.Name)", "doubled.$": "$.prepare.doubled",
                 "squares.$": "$.squares", "flaky.$": "$.parallel[0].flaky", "model.$": "$.parallel[1].model",
                 "status.$": "$.parallel[1].status"},
                OutputPath="$.Payload", End=True,
            ),
        },
    }


def execution_input(n: int) -> dict[str, Any]:
    return {"n": n, "items": [n + k for k in range(ITEMS)]}


def expected_output(name: str, n: int) -> dict[str, Any]:
    """What the workflow must return for input ``n``, computed without the engine."""
    total = 2 * n + sum((n + k) ** 2 for k in range(ITEMS)) + (n + 100)
    return {"total": total, "model": f"s3://chaos/output/chaos-{name}/output/model.tar.gz", "status": "Completed"}


# -- the task bodies (run in the child) -----------------------------------------------------------------------


class FlakyError(Exception):
    """Raised by the first attempt of the Flaky task, so that its Retry runs."""


def _effect(kind: str, key: str) -> None:
    with open(os.environ["CHAOS_LOG"], "a") as handle:
        handle.write(f"{kind} {key} {time.time():.3f}\n")
        handle.flush()
        os.fsync(handle.fileno())


def _work(kind_key: str) -> None:
    _effect("start", kind_key)
    time.sleep(random.uniform(0.02, 0.15))  # long enough that kills often land inside a task body


def prepare(event: dict[str, Any]) -> dict[str, Any]:
    _work(event["key"])
    _effect("done", event["key"])
    return {"n": event["n"] * 2}


def square(event: dict[str, Any]) -> int:
    _work(event["key"])
    _effect("done", event["key"])
    return int(event["value"]) ** 2


def flaky(event: dict[str, Any]) -> dict[str, Any]:
    _work(event["key"])
    if event["attempt"] == 0:
        _effect("fail", event["key"])
        raise FlakyError("the first attempt always fails")
    _effect("done", event["key"])
    return {"flaky": event["n"] + 100}


def total(event: dict[str, Any]) -> dict[str, Any]:
    _work(event["key"])
    _effect("done", event["key"])
    return {"total": event["doubled"] + sum(event["squares"]) + event["flaky"], "model": event["model"],
            "status": event["status"]}


def _sourcedir() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = TRAIN_SCRIPT.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def run_child(args: argparse.Namespace) -> int:
    """One life of the runner: resume what a dead predecessor left, start what is missing, wait for all."""
    from stepfn.local.lambdas import register_function
    from stepfn.local.objectstore import ObjectStore
    from stepfn.workflow.local_client import LocalStepFunctionsClient

    for name, fn in (("chaos-prepare", prepare), ("chaos-square", square), ("chaos-flaky", flaky),
                     ("chaos-sum", total)):
        register_function(name, fn)
    home = Path(os.environ["STEPFN_HOME"])
    store = ObjectStore(home / "s3")
    if not store.exists(SOURCEDIR):
        store.put_bytes(SOURCEDIR, _sourcedir())
    client = LocalStepFunctionsClient(home)  # resumes the executions of dead processes
    machine = client.create_state_machine(
        name=MACHINE, definition=json.dumps(definition(os.environ["CHAOS_LOG"])), roleArn=ROLE,
    )["stateMachineArn"]
    for n, name in enumerate(execution_names(args.seed, args.executions)):
        with contextlib.suppress(client.exceptions.ExecutionAlreadyExists):  # finished in an earlier life
            client.start_execution(stateMachineArn=machine, name=name, input=json.dumps(execution_input(n)))
    print("all started", flush=True)
    while _running(client, machine):
        time.sleep(0.2)
    client.close()
    return 0


def _running(client: Any, machine: str) -> int:
    pages = client.get_paginator("list_executions").paginate(stateMachineArn=machine, statusFilter="RUNNING")
    return sum(len(page["executions"]) for page in pages)


def execution_names(seed: int, count: int) -> list[str]:
    return [f"run-{seed}-{i:04d}" for i in range(count)]


# -- checking -------------------------------------------------------------------------------------------------


def history_problems(events: list[dict[str, Any]]) -> list[str]:
    """What is wrong with one execution's history: ids, links, start and end events."""
    problems = []
    ids = [event["id"] for event in events]
    if ids != list(range(1, len(events) + 1)):
        problems.append("event ids are not 1..N")
    for event in events:
        previous = event.get("previousEventId", 0)
        if not 0 <= previous < event["id"]:
            problems.append(f"event {event['id']} points forward to {previous}")
    types = [event["type"] for event in events]
    if not types or types[0] != "ExecutionStarted" or types.count("ExecutionStarted") != 1:
        problems.append("not exactly one ExecutionStarted, first")
    ends = [t for t in types if t in TERMINAL_TYPES]
    if len(ends) != 1 or types[-1] not in TERMINAL_TYPES:
        problems.append(f"terminal events {ends}, last {types[-1] if types else None}")
    return problems


def timestamps_backwards(events: list[dict[str, Any]]) -> bool:
    """Whether a later event carries an earlier timestamp (seen with concurrent Parallel/Map branches)."""
    return any(b["timestamp"] < a["timestamp"] for a, b in itertools.pairwise(events))


def full_history(client: Any, arn: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("get_execution_history").paginate(executionArn=arn)
    return [event for page in pages for event in page["events"]]


def task_key(parameters: Any) -> str | None:
    """The side-effect key of a TaskScheduled event's parameters (the same key the task body logs)."""
    if isinstance(parameters.get("Payload"), dict) and "key" in parameters["Payload"]:
        return str(parameters["Payload"]["key"])
    if "TrainingJobName" in parameters:
        return f"train/{parameters['TrainingJobName']}"
    return None


def recorded_outcomes(home: Path) -> set[str]:
    """Keys of the task attempts whose outcome (succeeded or failed) is durable in the store right now."""
    from stepfn.store import Store

    store = Store(home)
    keys = set()
    try:
        for record in store.list_executions():
            events = store.events(record.arn)
            by_id = {event["id"]: event for event in events}
            for event in events:
                if event["type"] not in ("TaskSucceeded", "TaskFailed", "TaskTimedOut"):
                    continue
                started = by_id.get(event["previousEventId"], {})
                scheduled = by_id.get(started.get("previousEventId"), {})
                details = scheduled.get("taskScheduledEventDetails")
                key = task_key(json.loads(details["parameters"])) if details else None
                if key is not None:
                    keys.add(key)
    finally:
        store.close()
    return keys


def rerun_after_recorded(log: Path, snapshots: list[tuple[int, set[str]]]) -> list[str]:
    """Task attempts started again after a kill although their outcome was already recorded before it.

    ``snapshots``: (side-effect lines written before the kill, keys recorded when the runner was dead)."""
    lines = log.read_text().splitlines() if log.exists() else []
    violations = set()
    for position, recorded in snapshots:
        for line in lines[position:]:
            kind, key = line.split()[:2]
            if kind == "start" and key in recorded:
                violations.add(key)
    return sorted(violations)


def verify(home: Path, log: Path, seed: int, count: int, snapshots: list[tuple[int, set[str]]]) -> dict[str, Any]:
    """Compare every execution with its independently computed result and count the side effects."""
    from stepfn.local.objectstore import ObjectStore
    from stepfn.workflow.local_client import LocalStepFunctionsClient

    client = LocalStepFunctionsClient(home, resume=False)
    store = ObjectStore(home / "s3")
    machine = f"arn:aws:states:us-east-1:123456789012:stateMachine:{MACHINE}"
    completed, lost, unordered = 0, [], 0
    try:
        for n, name in enumerate(execution_names(seed, count)):
            arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
            try:
                described = client.describe_execution(executionArn=arn)
            except client.exceptions.ExecutionDoesNotExist:
                lost.append(f"{name}: never started")
                continue
            output = json.loads(described["output"]) if described.get("output") else None
            events = full_history(client, arn)
            problems = history_problems(events)
            unordered += timestamps_backwards(events)
            if described["status"] != "SUCCEEDED":
                problems.append(f"{described['status']} {described.get('error')}: {described.get('cause')}")
            elif output != expected_output(name, n):
                problems.append(f"output {output} != {expected_output(name, n)}")
            elif not store.exists(output["model"]):
                problems.append(f"model artifact {output['model']} missing")
            if problems:
                lost.append(f"{name}: {'; '.join(problems)}"[:400])
            else:
                completed += 1
    finally:
        client.close()
    effects: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in log.read_text().splitlines() if log.exists() else []:
        kind, key = line.split()[:2]
        effects[kind][key] += 1
    twice = rerun_after_recorded(log, snapshots)
    finished_twice = sorted(key for key, times in effects["done"].items() if times > 1 and key not in twice)
    redispatched = sorted(key for key, times in effects["start"].items() if times > 1)
    return {
        "completed": completed, "lost": len(lost), "lost_detail": lost[:20], "run_twice": len(twice),
        "run_twice_keys": twice[:20], "in_flight_finished_twice": len(finished_twice),
        "redispatched": len(redispatched), "tasks_done": len(effects["done"]),
        "histories_with_unordered_timestamps": unordered,
    }


# -- the parent -----------------------------------------------------------------------------------------------


def _child_command(args: argparse.Namespace) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", "--executions", str(args.executions),
            "--seed", str(args.seed)]


def _drain(stream: Any, sink: list[str]) -> None:
    sink.extend(stream)


def _effect_count(log: Path) -> int:
    try:
        with log.open("rb") as handle:
            return sum(1 for _ in handle)
    except FileNotFoundError:
        return 0


def _kill_moment(child: subprocess.Popen[str], log: Path, rng: random.Random, args: argparse.Namespace) -> bool:
    """Wait for a random moment in the middle of the work: after 1..``--max-effects`` new task side effects
    and a further random 0..``--max-delay`` seconds. False if the runner finished first."""
    target = _effect_count(log) + rng.randint(1, args.max_effects)
    extra = rng.uniform(0, args.max_delay)
    deadline = time.monotonic() + args.timeout
    while _effect_count(log) < target:
        if child.poll() is not None:
            return False
        if time.monotonic() > deadline:
            raise SystemExit("the runner made no progress")
        time.sleep(0.01)
    try:
        child.wait(timeout=extra)
    except subprocess.TimeoutExpired:
        return True
    return False


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="stepfn-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    home, log = workdir / "home", workdir / "effects.log"
    env = {**os.environ, "STEPFN_HOME": str(home), "CHAOS_LOG": str(log)}
    rng = random.Random(args.seed)
    kills, lives = 0, 0
    snapshots: list[tuple[int, set[str]]] = []
    started = time.monotonic()
    while True:
        lives += 1
        child = subprocess.Popen(_child_command(args), env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        errors: list[str] = []
        drain = threading.Thread(target=_drain, args=(child.stderr, errors), daemon=True)
        drain.start()
        if kills < args.kills and _kill_moment(child, log, rng, args):
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            kills += 1
            snapshots.append((_effect_count(log), recorded_outcomes(home)))
            drain.join()
            continue
        if child.poll() is None:
            child.wait(timeout=args.timeout)
        drain.join()
        if child.returncode == 0:
            break
        raise SystemExit(f"the runner failed with exit code {child.returncode}:\n{''.join(errors[-20:])}")
    elapsed = time.monotonic() - started
    summary = verify(home, log, args.seed, args.executions, snapshots)
    summary.update({"executions": args.executions, "kills": kills, "lives": lives, "seconds": round(elapsed, 1),
                    "workdir": str(workdir)})
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=100)
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs of the runner before it may finish")
    parser.add_argument("--seed", type=int, default=0, help="picks the kill moments (and names the executions)")
    parser.add_argument("--max-effects", type=int, default=60,
                        help="a kill comes after 1..N new task side effects of the runner's life")
    parser.add_argument("--max-delay", type=float, default=1.0, help="...and a further 0..S seconds")
    parser.add_argument("--timeout", type=float, default=600.0, help="limit for the last, unkilled runner")
    parser.add_argument("--workdir", help="where the store and side-effect log go (default: a new temp dir)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args)
    summary = run(args)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"executions {summary['executions']}, SIGKILLs {summary['kills']}, runner lives {summary['lives']}, "
              f"{summary['seconds']} s")
        print(f"completed {summary['completed']} / lost results {summary['lost']} / "
              f"tasks run twice {summary['run_twice']}")
        print(f"task bodies finished {summary['tasks_done']}; in flight at a kill and dispatched again "
              f"{summary['redispatched']}, of which had finished before the kill (at-least-once window) "
              f"{summary['in_flight_finished_twice']}")
        for line in summary["lost_detail"] + summary["run_twice_keys"]:
            print("  ", line)
    ok = summary["completed"] == args.executions and summary["lost"] == 0 and summary["run_twice"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
