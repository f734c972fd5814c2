"""Load: many concurrent executions while other processes read the store; consistency and memory measured.

One process starts ``--executions`` executions at once through ``LocalStepFunctionsClient`` (a Lambda-style
function, an inline Map of 10 items with MaxConcurrency 5, a Choice, a Wait long enough that they all run at the
same time; the peak number RUNNING is reported), ``--rounds`` times. While
they run, ``--readers`` other processes hammer the same SQLite store with ListExecutions (paginated),
DescribeExecution and GetExecutionHistory. At the end it checks that every execution SUCCEEDED with the right
output, that every history is well-formed and as long as the definition makes it, that the listed counts match,
and that no reader call failed. It reports throughput and the engine process's resident memory (RSS) after each
round, so growth across rounds shows.

    python bench/load.py                                # 200 executions, 10 readers, 2 rounds
    python bench/load.py --executions 40 --readers 4 --rounds 1 --json
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chaos import full_history, history_problems  # bench/ is not a package

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"
ITEMS = 10


def definition(wait_seconds: int) -> dict[str, Any]:
    return {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Parameters": {"n.$": "$.n", "items.$": "States.ArrayRange(1, 10, 1)"},
                        "Next": "Fan"},
            "Fan": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 5, "ResultPath": "$.squares",
                "ItemProcessor": {"StartAt": "Square", "States": {"Square": {
                    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload",
                    "Parameters": {"FunctionName": "load-square", "Payload.$": "$"}, "End": True}}},
                "Next": "Check",
            },
            "Check": {"Type": "Choice", "Default": "Pause",
                      "Choices": [{"Variable": "$.n", "NumericLessThan": 0, "Next": "Negative"}]},
            "Negative": {"Type": "Fail", "Error": "Negative"},
            "Pause": {"Type": "Wait", "Seconds": wait_seconds, "Next": "Done"},
            "Done": {"Type": "Pass", "Parameters": {"n.$": "$.n", "squares.$": "$.squares"},
                     "End": True},
        },
    }


EXPECTED_SQUARES = [i * i for i in range(1, ITEMS + 1)]


def square(value: int) -> int:
    time.sleep(0.005)
    return value * value


def rss_mib() -> float:
    """This process's resident set size now (VmRSS), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- readers (separate processes) ------------------------------------------------------------------------------


def run_reader(home: Path, stop_file: Path, out: Path) -> int:
    """Read the store until ``stop_file`` appears; write {calls, errors, by kind} to ``out``."""
    from stepfn.workflow.local_client import LocalStepFunctionsClient

    client = LocalStepFunctionsClient(home, resume=False)
    rng = random.Random(os.getpid())
    calls: collections.Counter[str] = collections.Counter()
    errors: list[str] = []
    while not stop_file.exists():
        try:
            machines = client.list_state_machines()["stateMachines"]
            if not machines:
                time.sleep(0.05)
                continue
            listed = [e for page in client.get_paginator("list_executions").paginate(
                stateMachineArn=machines[0]["stateMachineArn"]) for e in page["executions"]]
            calls["list_executions"] += 1
            if not listed:
                continue
            arn = rng.choice(listed)["executionArn"]
            client.describe_execution(executionArn=arn)
            calls["describe_execution"] += 1
            client.get_execution_history(executionArn=arn, maxResults=100, reverseOrder=rng.random() < 0.5)
            calls["get_execution_history"] += 1
        except Exception as exc:  # every failure is a finding; keep reading to count them all
            errors.append(f"{type(exc).__name__}: {exc}")
    client.close()
    out.write_text(json.dumps({"calls": dict(calls), "errors": errors[:20], "error_count": len(errors)}))
    return 0


# -- the engine process ----------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    from stepfn.local.lambdas import register_function
    from stepfn.workflow.local_client import LocalStepFunctionsClient

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="stepfn-load-"))
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    register_function("load-square", square)
    rss = {"start": round(rss_mib(), 1)}
    client = LocalStepFunctionsClient(home)
    machine = client.create_state_machine(name="load", definition=json.dumps(definition(args.wait)),
                                          roleArn=ROLE)["stateMachineArn"]
    stop_file = workdir / "stop"
    readers = [
        subprocess.Popen([sys.executable, __file__, "--reader", str(home), str(stop_file),
                          str(workdir / f"reader-{i}.json")])
        for i in range(args.readers)
    ]
    peak = [rss_mib()]
    peak_running = [0]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.25):
            peak[0] = max(peak[0], rss_mib())
            running = client.store.list_executions(machine, status="RUNNING")
            peak_running[0] = max(peak_running[0], len(running))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rounds = []
    arns: list[tuple[str, int]] = []
    try:
        for round_index in range(args.rounds):
            started = time.monotonic()
            numbers = range(round_index * args.executions, (round_index + 1) * args.executions)

            def start(n: int) -> tuple[str, int]:
                response = client.start_execution(stateMachineArn=machine, name=f"load-{n:05d}",
                                                  input=json.dumps({"n": n}))
                return str(response["executionArn"]), n

            with concurrent.futures.ThreadPoolExecutor(args.starters) as pool:
                batch = list(pool.map(start, numbers))
            start_seconds = time.monotonic() - started
            for arn, _ in batch:
                if not client.wait_for_execution(arn, timeout=args.timeout):
                    raise SystemExit(f"{arn} still running after {args.timeout} s")
            elapsed = time.monotonic() - started
            arns.extend(batch)
            rounds.append({"executions": len(batch), "seconds": round(elapsed, 2),
                           "start_calls_seconds": round(start_seconds, 2),
                           "executions_per_second": round(len(batch) / elapsed, 1),
                           "rss_mib_after": round(rss_mib(), 1)})
    finally:
        stop_file.touch()
        for reader in readers:
            reader.wait(timeout=120)
        sampling.set()
        sampler.join()
    rss["peak_sampled"] = round(peak[0], 1)
    peak_concurrent = peak_running[0]
    rss["max_rusage"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    problems: list[str] = []
    lengths: collections.Counter[int] = collections.Counter()
    transitions = 0
    for arn, n in arns:
        described = client.describe_execution(executionArn=arn)
        if described["status"] != "SUCCEEDED":
            problems.append(f"{arn}: {described['status']} {described.get('error')}")
            continue
        if json.loads(described["output"]) != {"n": n, "squares": EXPECTED_SQUARES}:
            problems.append(f"{arn}: output {described['output']}")
        events = full_history(client, arn)
        lengths[len(events)] += 1
        transitions += sum(1 for e in events if e["type"].endswith("Entered"))
        problems.extend(f"{arn}: {p}" for p in history_problems(events))
    if len(lengths) != 1:
        problems.append(f"histories of one definition differ in length: {dict(lengths)}")
    listed = [e for page in client.get_paginator("list_executions").paginate(stateMachineArn=machine)
              for e in page["executions"]]
    by_status = collections.Counter(e["status"] for e in listed)
    if len(listed) != len(arns) or by_status != {"SUCCEEDED": len(arns)}:
        problems.append(f"ListExecutions shows {dict(by_status)} for {len(arns)} executions")
    client.close()

    reader_results = [json.loads((workdir / f"reader-{i}.json").read_text()) for i in range(args.readers)]
    reader_calls = sum(sum(r["calls"].values()) for r in reader_results)
    reader_errors = [e for r in reader_results for e in r["errors"]]
    total_seconds = sum(r["seconds"] for r in rounds)
    return {
        "executions": len(arns), "per_round": args.executions, "peak_running": peak_concurrent,
        "readers": args.readers, "rounds": rounds,
        "state_transitions": transitions, "transitions_per_second": round(transitions / total_seconds, 1),
        "history_events_per_execution": sorted(lengths), "reader_calls": reader_calls,
        "reader_calls_per_second": round(reader_calls / total_seconds, 1),
        "reader_errors": sum(r["error_count"] for r in reader_results), "reader_error_samples": reader_errors[:5],
        "problems": len(problems), "problem_samples": problems[:10], "rss_mib": rss, "workdir": str(workdir),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--reader"]:
        return run_reader(Path(argv[1]), Path(argv[2]), Path(argv[3]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=200, help="executions started at once, per round")
    parser.add_argument("--readers", type=int, default=10, help="reader processes")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--wait", type=int, default=5, help="seconds each execution waits (keeps them running at once)")
    parser.add_argument("--starters", type=int, default=16, help="threads calling StartExecution")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--workdir")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    summary = run(args)
    if args.json:
        print(json.dumps(summary))
    else:
        for i, entry in enumerate(summary["rounds"], 1):
            print(f"round {i}: {entry['executions']} executions in {entry['seconds']} s "
                  f"({entry['executions_per_second']}/s; StartExecution calls took {entry['start_calls_seconds']} s), "
                  f"RSS after {entry['rss_mib_after']} MiB")
        print(f"peak RUNNING at once: {summary['peak_running']}")
        print(f"{summary['state_transitions']} state transitions, {summary['transitions_per_second']}/s; "
              f"{summary['history_events_per_execution']} events per history")
        print(f"{summary['readers']} readers: {summary['reader_calls']} calls "
              f"({summary['reader_calls_per_second']}/s), {summary['reader_errors']} errors")
        print(f"RSS MiB: {summary['rss_mib']}")
        print(f"consistency problems: {summary['problems']}")
        for line in summary["problem_samples"] + summary["reader_error_samples"]:
            print("  ", line)
    return 0 if summary["problems"] == 0 and summary["reader_errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
