"""Benchmark: stepfn's engine against moto's Step Functions interpreter on the same workloads.

    .venv/bin/python bench/engine.py [--quick]

Workloads: a 20-state Pass chain, a Choice loop of 1,000 iterations, an inline Map over 1,000 items.
stepfn runs on the bare engine (history in memory, and with the SQLite journal), then through the public
local API with durable (SQLite) history: ``LocalStepFunctionsClient`` in this process, and
``ControlPlaneClient``, whose executions run in the home's control plane (another process, over a unix
socket); both timed from StartExecution until ``wait_for_execution`` returns.
moto runs with ``@mock_aws(config={"stepfunctions": {"execute_state_machine": True}})``, timed from
StartExecution until DescribeExecution reports the end (polling every 0.5 ms), as in the landscape study.
Reported: best-of-N wall time per execution, state transitions per second, and the stepfn/moto ratio.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stepfn.engine import Engine

ROLE = "arn:aws:iam::123456789012:role/bench"
_RUNS = itertools.count()
REGION = "us-east-1"


def pass_chain(length: int = 20) -> dict[str, Any]:
    states = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(length - 1)}
    states[f"S{length - 1}"] = {"Type": "Pass", "End": True}
    return {"StartAt": "S0", "States": states}


def choice_loop(iterations: int = 1000) -> dict[str, Any]:
    return {
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Result": {"i": 0}, "Next": "Increment"},
            "Increment": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.i", "NumericLessThan": iterations, "Next": "Increment"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }


def inline_map() -> dict[str, Any]:
    return {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Item",
                                  "States": {"Item": {"Type": "Pass", "End": True}}},
                "End": True,
            }
        },
    }


WORKLOADS: list[tuple[str, dict[str, Any], Any]] = [
    ("pass chain (20 states)", pass_chain(), {}),
    ("choice loop (1,000 iterations)", choice_loop(), {}),
    ("inline map (1,000 items)", inline_map(), list(range(1000))),
]


def best_of(repeat: int, run: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def transitions_of(events: list[dict[str, Any]]) -> int:
    return sum(1 for event in events if event["type"].endswith("StateEntered"))


def run_stepfn(definition: dict[str, Any], value: Any, repeat: int, journal_factory: Any = None) -> tuple[float, int]:
    """Best time from start to result (history recorded, not read back), and the transitions of one run."""
    engine = Engine()

    def once() -> Any:
        n = next(_RUNS)
        arn = f"arn:aws:states:{REGION}:123456789012:execution:bench:run-{n}"
        journal = journal_factory(arn) if journal_factory else None
        result = engine.run(definition, value, execution_arn=arn, name=f"run-{n}",
                            state_machine_arn=f"arn:aws:states:{REGION}:123456789012:stateMachine:bench",
                            role_arn=ROLE, journal=journal)
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        return result

    transitions = transitions_of(once().events)  # also compiles the definition and warms caches
    return best_of(repeat, once), transitions


def sqlite_journal_factory(home: Path) -> Callable[[str], Any] | None:
    try:
        from datetime import UTC, datetime

        from stepfn.store import ExecutionRecord, Store
    except ImportError:
        return None
    store = Store(home)

    def factory(arn: str) -> Any:
        store.create_execution(ExecutionRecord(
            arn=arn, state_machine_arn=f"arn:aws:states:{REGION}:123456789012:stateMachine:bench",
            name=arn.rsplit(":", 1)[-1], type="STANDARD", status="RUNNING", start_date=datetime.now(UTC),
            definition="{}"), owned=False)
        return store.journal(arn)

    return factory


def run_client(client: Any, definition: dict[str, Any], value: Any, repeat: int) -> float:
    """Best wall time of one execution through the public local API (boto3's method names): StartExecution,
    then ``wait_for_execution`` until the end, with the history journaled to SQLite (durable)."""
    machine = client.create_state_machine(name=f"bench-{next(_RUNS)}", definition=json.dumps(definition),
                                          roleArn=ROLE)["stateMachineArn"]

    def once() -> None:
        arn = client.start_execution(stateMachineArn=machine, name=f"run-{next(_RUNS)}",
                                     input=json.dumps(value))["executionArn"]
        client.wait_for_execution(arn)
        status = client.describe_execution(executionArn=arn)["status"]
        assert status == "SUCCEEDED", status

    once()  # compiles the definition, starts the control plane, warms the connection
    return best_of(repeat, once)


def run_api(home: Path, repeat: int) -> tuple[list[float], list[float]]:
    """Every workload through ``LocalStepFunctionsClient`` (in-process) and ``ControlPlaneClient`` (the
    home's control plane, a separate process behind a unix socket); best times per workload."""
    from stepfn.workflow._control import stop_service
    from stepfn.workflow.local_client import ControlPlaneClient, LocalStepFunctionsClient

    in_process = LocalStepFunctionsClient(home / "in-process")
    in_process_times = [run_client(in_process, d, v, repeat) for _, d, v in WORKLOADS]
    in_process.close()
    control_home = home / "control-plane"
    control = ControlPlaneClient(control_home)
    try:
        control_times = [run_client(control, d, v, repeat) for _, d, v in WORKLOADS]
    finally:
        control.close()
        stop_service(control_home, force=True)
    return in_process_times, control_times


def run_moto(definition: dict[str, Any], value: Any, repeat: int) -> float:
    """Best wall time from StartExecution until DescribeExecution reports SUCCEEDED."""
    import boto3
    from moto import mock_aws

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions", region_name=REGION)
        machine = client.create_state_machine(name="bench", definition=json.dumps(definition), roleArn=ROLE)
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            response = client.start_execution(stateMachineArn=machine["stateMachineArn"],
                                              name=f"run-{next(_RUNS)}", input=json.dumps(value))
            while (status := client.describe_execution(executionArn=response["executionArn"])["status"]) == "RUNNING":
                time.sleep(0.0005)
            best = min(best, time.perf_counter() - start)
            assert status == "SUCCEEDED", status
        return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    repeat_stepfn, repeat_moto = (3, 1) if args.quick else (10, 3)
    sys.setrecursionlimit(200_000)  # moto's inline Map recurses once per item (see spec/asl-engines.md §1.5)
    rows = []
    with tempfile.TemporaryDirectory() as home:
        journal_factory = sqlite_journal_factory(Path(home))
        # All stepfn runs first: moto leaves worker threads behind that would slow whatever runs after it.
        for label, definition, value in WORKLOADS:
            mem_time, transitions = run_stepfn(definition, value, repeat_stepfn)
            sql_time = run_stepfn(definition, value, max(1, repeat_stepfn // 3), journal_factory)[0] \
                if journal_factory else None
            rows.append([label, transitions, mem_time, sql_time])
        api_in_process, api_control = run_api(Path(home), max(1, repeat_stepfn // 3))
    for row, in_process, control in zip(rows, api_in_process, api_control, strict=True):
        row.extend([in_process, control])
    for row, (_, definition, value) in zip(rows, WORKLOADS, strict=True):
        row.append(run_moto(definition, value, repeat_moto))
    columns = ("engine mem", "engine sqlite", "API in-proc", "API control", "moto")
    print(f"{'workload':32} {'transitions':>11} " + " ".join(f"{c:>14}" for c in columns))
    for label, transitions, *times in rows:
        print(f"{label:32} {transitions:>11,} " + " ".join(
            f"{transitions / t:>12,.0f}/s" if t else f"{'n/a':>14}" for t in times))
        print(f"{'':32} {'':>11} " + " ".join(f"{t * 1000:>12.2f}ms" if t else f"{'':>14}" for t in times))
        moto_time = times[-1]
        print(f"{'':32} {'vs moto':>11} " + " ".join(
            f"{moto_time / t:>13.1f}x" if t else f"{'':>14}" for t in times[:-1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
