"""Benchmark: stepfn's engine against moto's Step Functions interpreter on the same workloads.

    .venv/bin/python bench/engine.py [--quick]

Workloads: a 20-state Pass chain, a Choice loop of 1,000 iterations, an inline Map over 1,000 items.
stepfn runs with history in memory and, when ``stepfn.store`` is available, with the SQLite journal.
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
    sys.setrecursionlimit(200_000)  # moto's inline Map recurses once per item (see docs/design/asl-engines.md §1.5)
    rows = []
    with tempfile.TemporaryDirectory() as home:
        journal_factory = sqlite_journal_factory(Path(home))
        # All stepfn runs first: moto leaves worker threads behind that would slow whatever runs after it.
        for label, definition, value in WORKLOADS:
            mem_time, transitions = run_stepfn(definition, value, repeat_stepfn)
            sql_time = run_stepfn(definition, value, max(1, repeat_stepfn // 3), journal_factory)[0] \
                if journal_factory else None
            rows.append([label, transitions, mem_time, sql_time])
    for row, (_, definition, value) in zip(rows, WORKLOADS, strict=True):
        row.append(run_moto(definition, value, repeat_moto))
    print(f"{'workload':34} {'transitions':>11} {'stepfn mem':>12} {'stepfn sqlite':>14} {'moto':>10} "
          f"{'mem/moto':>9} {'sqlite/moto':>12}")
    for label, transitions, mem_time, sql_time, moto_time in rows:
        sql = f"{transitions / sql_time:>12,.0f}/s" if sql_time else f"{'n/a':>14}"
        sql_ratio = f"{moto_time / sql_time:>11.1f}x" if sql_time else f"{'n/a':>12}"
        print(f"{label:34} {transitions:>11,} {transitions / mem_time:>10,.0f}/s {sql} "
              f"{transitions / moto_time:>8,.0f}/s {moto_time / mem_time:>8.1f}x {sql_ratio}")
        print(f"{'':34} {'':>11} {mem_time * 1000:>10.2f}ms "
              f"{(f'{sql_time * 1000:>12.2f}ms' if sql_time else f'{chr(32) * 14}')} {moto_time * 1000:>8.1f}ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
