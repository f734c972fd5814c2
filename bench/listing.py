"""Benchmark: listing executions, the console under a listing, and ``stepfn show`` of a long history.

    .venv/bin/python bench/listing.py [--small 500] [--large 2000] [--console 4000] [--events 25000]

1. Growth of paging. ``--small`` and ``--large`` finished executions (2 KB input and output each, written
   straight to the store) are paged through 100 at a time with ``ListExecutions`` of the local client, best of
   3. Linear growth is the size ratio (4x for 500 -> 2,000); quadratic its square (16x). Target: <= 6x. The
   floor printed beside it is one SQLite query reading every execution's ARN, in the same run.
2. The console while it lists. ``--console`` executions; one client process keeps asking the console (its own
   process) for all of them (``/ui/api/executions?limit=N``) while this one times ``GET /ping``. Target: /ping
   < 50 ms at p99 (p50 and max printed too).
3. ``stepfn show`` of an execution with ``--events`` history events (an inline Map of Pass states that runs
   into the 25,000-event limit), as a person runs it: a fresh ``python -m stepfn show NAME``, best of 3.
   Target: < 1 s. The interpreter's start with the CLI imported (``python -c "import stepfn.cli"``) is the floor.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from stepfn.store import ExecutionRecord, Store
from stepfn.workflow.local_client import LocalStepFunctionsClient

ROLE = "arn:aws:iam::123456789012:role/bench"
DOCUMENT = json.dumps({"features": [round(i * 0.001, 3) for i in range(300)]})  # about 2 KB
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def populate(home: Path, count: int) -> tuple[LocalStepFunctionsClient, str]:
    client = LocalStepFunctionsClient(home=home)
    machine = client.create_state_machine(name="listed", definition=json.dumps(PASS), roleArn=ROLE)["stateMachineArn"]
    store = Store(home)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for index in range(count):
        store.create_execution(ExecutionRecord(
            arn=machine.replace(":stateMachine:", ":execution:") + f":run-{index:05d}", state_machine_arn=machine,
            name=f"run-{index:05d}", type="STANDARD", status="SUCCEEDED", start_date=start + timedelta(seconds=index),
            stop_date=start + timedelta(seconds=index + 1), definition=json.dumps(PASS), input=DOCUMENT,
            output=DOCUMENT), owned=False)
    store.close()
    return client, machine


def page_through(client: LocalStepFunctionsClient, machine: str) -> int:
    seen, token = 0, None
    while True:
        page = client.list_executions(stateMachineArn=machine, maxResults=100, **({"nextToken": token} if token else {}))
        seen += len(page["executions"])
        token = page.get("nextToken")
        if not token:
            return seen


def best(runs: int, work: Any) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def measure_paging(home: Path, count: int) -> tuple[float, float]:
    """(paging through ``count`` executions, the floor) in seconds, best of 3 each."""
    client, machine = populate(home, count)
    try:
        assert page_through(client, machine) == count
        floor = best(3, lambda: sqlite3.connect(home / "stepfn.db").execute("SELECT arn FROM executions").fetchall())
        return best(3, lambda: page_through(client, machine)), floor
    finally:
        client.close()


def growth_section(args: argparse.Namespace, root: Path) -> None:
    figures = {}
    for count in (args.small, args.large):
        figures[count], floor = measure_paging(root / f"growth-{count}", count)
        print(f"page through {count:5d} executions, 100 a page  {figures[count] * 1e3:8.1f} ms"
              f"   (floor: one query of every ARN {floor * 1e3:6.2f} ms)")
    ratio = figures[args.large] / figures[args.small]
    size = args.large / args.small
    print(f"growth {args.small} -> {args.large}: {ratio:.1f}x (linear {size:.0f}x, quadratic {size * size:.0f}x); "
          f"target <= 6x: {'met' if ratio <= 6 else 'MISSED'}")


def _get(url: str, path: str, token: str) -> tuple[int, bytes]:
    address = urlparse(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
    try:
        connection.request("GET", path, headers={"X-Stepfn-Token": token})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


SERVE_CONSOLE = """
import sys, time
from stepfn.server import start_background
server = start_background(sys.argv[1], "bench-token", ui=True)
print(server.url, flush=True)
time.sleep(3600)
"""


def _keep_listing(url: str, count: int, stop: Any, timings: Any) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        status, body = _get(url, f"/ui/api/executions?limit={count}", "bench-token")
        if status != 200 or len(json.loads(body)) != count:
            raise SystemExit(f"console listing answered {status}")
        timings.put(time.perf_counter() - started)


def console_section(args: argparse.Namespace, root: Path) -> None:
    """The console in its own process (as ``stepfn ui`` runs), the listing client in another, /ping timed here:
    three processes, so no client's own work shows up as the console's latency."""
    import multiprocessing

    home = root / "console"
    client, _machine = populate(home, args.console)
    client.close()
    server = subprocess.Popen([sys.executable, "-c", SERVE_CONSOLE, str(home)], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    context = multiprocessing.get_context("fork")
    stop, timings = context.Event(), context.Queue()
    lister = context.Process(target=_keep_listing, args=(url, args.console, stop, timings))
    listings: list[float] = []
    try:
        lister.start()
        listings.append(timings.get(timeout=120))
        pings = []
        for _ in range(100):
            started = time.perf_counter()
            if _get(url, "/ping", "bench-token")[0] != 200:
                raise SystemExit("/ping failed")
            pings.append(time.perf_counter() - started)
            time.sleep(0.01)
    finally:
        stop.set()
        lister.join(120)
        while not timings.empty():
            listings.append(timings.get())
        server.kill()
        server.wait()
    pings.sort()
    p99 = pings[int(len(pings) * 0.99) - 1]
    print(f"console listing {args.console} executions       {statistics.median(listings) * 1e3:8.1f} ms a listing "
          f"({len(listings)} listings)")
    print(f"/ping meanwhile                         p50 {pings[len(pings) // 2] * 1e3:6.1f} ms  p99 {p99 * 1e3:6.1f} ms"
          f"  max {pings[-1] * 1e3:6.1f} ms; target < 50 ms (p99): {'met' if p99 < 0.05 else 'MISSED'}")


def show_section(args: argparse.Namespace, root: Path) -> None:
    home = root / "show"
    client = LocalStepFunctionsClient(home=home)
    fan_out = {"StartAt": "Fan out", "States": {"Fan out": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0, "ResultPath": None, "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Each",
                          "States": {"Each": {"Type": "Pass", "End": True}}}}}}
    machine = client.create_state_machine(name="long", definition=json.dumps(fan_out), roleArn=ROLE)["stateMachineArn"]
    arn = client.start_execution(stateMachineArn=machine, name="long-run",
                                 input=json.dumps({"items": list(range(args.events // 4))}))["executionArn"]
    while client.describe_execution(executionArn=arn)["status"] == "RUNNING":
        time.sleep(0.1)
    events = client.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=1)["events"][0]["id"]
    client.close()
    env = {**os.environ, "STEPFN_HOME": str(home), "COLUMNS": "120"}

    def run(*argv: str) -> None:
        subprocess.run([sys.executable, *argv], env=env, check=True, stdout=subprocess.DEVNULL)

    floor = best(3, lambda: run("-c", "import stepfn.cli"))
    shown = best(3, lambda: run("-m", "stepfn", "show", "long-run"))
    print(f"stepfn show of a {events}-event execution   {shown:8.2f} s  (floor: python -c 'import stepfn.cli' "
          f"{floor:.2f} s); target < 1 s: {'met' if shown < 1 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--large", type=int, default=2000)
    parser.add_argument("--console", type=int, default=4000)
    parser.add_argument("--events", type=int, default=25000)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cpus, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        growth_section(args, root)
        console_section(args, root)
        show_section(args, root)


if __name__ == "__main__":
    main()
