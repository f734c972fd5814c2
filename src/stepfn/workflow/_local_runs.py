"""Running executions of the local client on the engine, durably, and taking over those of dead processes.

Each execution runs on an engine thread of this process and journals every history event to the store
before going on. A watcher thread per execution writes the final status when the engine returns (the
terminal history event already did, in the same transaction; the watcher covers an engine that ends
without one). A process that dies leaves RUNNING executions whose owner is gone; ``resume_orphans``
claims them (a compare-and-set on the owner, so two processes never both resume one) and restarts them
from their journal: completed tasks replay from history, a task that was running is dispatched again
with ``resumed=True``.

Stop requests, task-token callbacks and UpdateMapRun settings for an execution another live process runs
go through the store; the owner's poller picks them up (every ``STOP_POLL_SECONDS``). An execution's
journal (:class:`MapRunJournal`) also records the distributed Map Runs it starts and their child executions.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stepfn.errors import StatesError, StoreError
from stepfn.store import ExecutionJournal, ExecutionRecord, MapRunRecord, RecordNotFound, Store

logger = logging.getLogger(__name__)

STOP_POLL_SECONDS = 0.5
# How long a redrive waits for an earlier attempt's children to record their end: their threads do so when their
# tasks next check for the stop, well within this.
CHILD_SETTLE_SECONDS = 10.0
TERMINAL_EVENT_TYPES = ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut")


class LiveMapRuns:
    """The Map Runs this process's engine is running, by ARN (what UpdateMapRun changes in place)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Any] = {}

    def add(self, map_run: Any) -> None:
        with self._lock:
            self._runs[map_run.arn] = map_run

    def discard(self, arn: str) -> None:
        with self._lock:
            self._runs.pop(arn, None)

    def get(self, arn: str) -> Any | None:
        with self._lock:
            return self._runs.get(arn)

    def arns(self) -> list[str]:
        with self._lock:
            return list(self._runs)


def apply_settings(map_run: Any, record: MapRunRecord) -> None:
    map_run.update(max_concurrency=record.max_concurrency, tolerated_count=record.tolerated_failure_count,
                   tolerated_percentage=record.tolerated_failure_percentage)


class MapRunJournal(ExecutionJournal):
    """An execution's journal that also records the Map Runs it starts (and their children's histories)."""

    __slots__ = ("live",)

    def __init__(self, store: Store, execution_arn: str, live: LiveMapRuns) -> None:
        super().__init__(store, execution_arn)
        self.live = live

    def map_run_started(self, map_run: Any) -> None:
        self.store.create_map_run(MapRunRecord(
            arn=map_run.arn, execution_arn=map_run.execution_arn, state_machine_arn=map_run.state_machine_arn,
            status=map_run.status, start_date=map_run.start_date, max_concurrency=map_run.max_concurrency,
            tolerated_failure_count=map_run.tolerated_count,
            tolerated_failure_percentage=map_run.tolerated_percentage, item_total=map_run.item_total,
            execution_total=map_run.execution_total,
        ))
        if map_run.status == "RUNNING":
            self.live.add(map_run)

    def map_run_child(self, map_run: Any, *, execution_arn: str, name: str, state_machine_arn: str,
                      definition: str, input: Any, item_count: int, start_date: datetime,
                      role_arn: str | None) -> MapRunJournal:
        self.store.create_execution(ExecutionRecord(
            arn=execution_arn, state_machine_arn=state_machine_arn, name=name, type="STANDARD", status="RUNNING",
            start_date=start_date, definition=definition, input=json.dumps(input, separators=(",", ":")),
            role_arn=role_arn, map_run_arn=map_run.arn, item_count=item_count,
        ), owned=False)
        return MapRunJournal(self.store, execution_arn, self.live)

    def map_run_redriven(self, map_run: Any, redrive_date: datetime) -> Any:
        from stepfn.engine.map import EarlierMapRun, PriorChild  # only a running engine calls this

        record = self.store.redrive_map_run(map_run.arn, redrive_date=redrive_date)
        if record is None:
            return None
        redriven = record.status == "RUNNING"
        if redriven:
            self._settle_children(map_run.arn)
            self.live.add(map_run)
        children = [PriorChild(child.arn, child.name, child.status, child.start_date,
                               json.loads(child.output) if child.output is not None else None)
                    for child in self.store.map_run_children(map_run.arn)]
        return EarlierMapRun(record.redrive_count, children, redriven)

    def _settle_children(self, map_run_arn: str) -> None:
        """Wait until every child of the earlier attempt has recorded its end, so that each child's redrive reads
        its whole history. Stopping a parent ends its row and its Map Run's at once (``Store.finish_execution``),
        but each running child's thread records its own ``ExecutionAborted`` when its task next checks in; a
        redrive that read a child's history before that write gave its ``ExecutionRedriven`` the same event id,
        and the execution failed with RecordExists. A child whose end is still unrecorded after
        ``CHILD_SETTLE_SECONDS`` has no thread left (its process died first): it is aborted after its history,
        as StopExecution aborts an execution no process runs."""
        deadline = time.monotonic() + CHILD_SETTLE_SECONDS
        while unended := self.store.unended_children(map_run_arn):
            if time.monotonic() >= deadline:
                for arn in unended:
                    self.store.abort_after_history(arn, when=datetime.now(UTC))
                return
            time.sleep(0.02)

    def map_run_child_redriven(self, map_run: Any, *, execution_arn: str, redrive_date: datetime) -> MapRunJournal:
        self.store.redrive_child(execution_arn, redrive_date=redrive_date)
        return MapRunJournal(self.store, execution_arn, self.live)

    def map_run_finished(self, map_run: Any) -> None:
        self.live.discard(map_run.arn)
        self.store.update_map_run(map_run.arn, attempt=map_run.redrive_count, status=map_run.status,
                                  stop_date=map_run.stop_date, error=map_run.error, cause=map_run.cause,
                                  results_written=map_run.results_written)


class ExecutionRunner:
    """Starts, watches, stops and resumes the executions of one store on one engine."""

    def __init__(self, store: Store, engine_factory: Callable[[], Any]) -> None:
        self._store = store
        self._engine_factory = engine_factory
        self._engine: Any = None
        self._lock = threading.Lock()
        self._handles: dict[str, Any] = {}
        self._finished = threading.Condition(self._lock)
        self._poller: threading.Thread | None = None
        self._closed = threading.Event()
        self.map_runs = LiveMapRuns()
        atexit.register(self._warn_unfinished)

    def _warn_unfinished(self) -> None:
        running = self.running()
        if running:
            # Daemon threads die with the interpreter; the store keeps the executions RUNNING for a resume.
            logger.warning(
                "%d local execution(s) still running at exit will resume when a client next opens %s: %s",
                len(running), self._store.home, ", ".join(sorted(running)),
            )

    @property
    def engine(self) -> Any:
        """The engine, built on first use (so a client that only lists or describes never imports it)."""
        with self._lock:
            if self._engine is None:
                self._engine = self._engine_factory()
            return self._engine

    def start(self, record: ExecutionRecord, *, resume: bool = False, redrive: bool = False, mock: Any = None) -> None:
        """Run ``record`` (already in the store, owned by this process) on the engine; ``mock``: a mock-config
        test case (``stepfn.engine.mocking.MockTestCase``) that answers some of its tasks."""
        journal = MapRunJournal(self._store, record.arn, self.map_runs)
        target = {
            "execution_arn": record.arn, "state_machine_arn": record.version_arn or record.state_machine_arn,
            "name": record.name, "role_arn": record.role_arn, "journal": journal,
        }
        if mock is not None:
            target["mock"] = mock
        if redrive:
            handle = self.engine.redrive(record.definition, **target)
        else:
            execution_input = json.loads(record.input) if record.input is not None else {}
            handle = self.engine.start(record.definition, execution_input, resume=resume, **target)
        with self._lock:
            self._handles[record.arn] = handle
        # The row is finished on the thread that ends the execution (no watcher thread per execution).
        handle.add_done_callback(lambda ended: self._record_end(record.arn, ended))
        self._ensure_poller()

    def _record_end(self, arn: str, handle: Any) -> None:
        try:
            result = handle.wait()
            self._store.finish_execution(
                arn, status=result.status, stop_date=result.stop_date or datetime.now(UTC),
                output=result.output, error=result.error, cause=result.cause,
            )
        except Exception:  # the store failed to record the end; the row stays RUNNING and resumes later
            logger.exception("could not record the end of execution %s", arn)
        finally:
            with self._finished:
                self._handles.pop(arn, None)
                self._finished.notify_all()

    def running(self) -> set[str]:
        """The executions this runner's engine is running now."""
        with self._lock:
            return set(self._handles)

    def handle(self, arn: str) -> Any | None:
        with self._lock:
            return self._handles.get(arn)

    def stop(self, arn: str, error: str | None, cause: str | None) -> bool:
        """Stop an execution this process runs; False if it runs elsewhere (or not at all)."""
        handle = self.handle(arn)
        if handle is None:
            return False
        handle.stop(error=error, cause=cause)
        return True

    def wait(self, arn: str, timeout: float | None = None) -> bool:
        """Block until this process's run of ``arn`` has been recorded as finished."""
        with self._finished:
            return self._finished.wait_for(lambda: arn not in self._handles, timeout)

    def resume_orphans(self) -> list[str]:
        """Claim and restart every execution whose owner died; returns their ARNs."""
        resumed = []
        for record in self._store.find_orphans():
            if not self._store.claim_execution(record.arn, record.owner):
                continue  # another process took it first
            events = self._store.events(record.arn)
            logger.info("resuming execution %s left behind by %s", record.arn, record.owner)
            # A terminal event on a RUNNING row: the process died after accepting a redrive and before the
            # engine recorded ExecutionRedriven, so the redrive itself is what must be done again.
            if events and events[-1]["type"] in TERMINAL_EVENT_TYPES:
                self.start(record, redrive=True)
            else:
                self.start(record, resume=bool(events))
            resumed.append(record.arn)
        return resumed

    def _ensure_poller(self) -> None:
        with self._lock:
            if self._poller is not None and self._poller.is_alive():
                return
            self._poller = threading.Thread(target=self._poll_stop_requests, name="stepfn-stop-poller", daemon=True)
            self._poller.start()

    def _poll_stop_requests(self) -> None:
        while not self._closed.wait(STOP_POLL_SECONDS):
            with self._lock:
                running = list(self._handles)
            if not running:
                continue
            try:
                requests = self._store.stop_requests(running)
                callbacks = self._store.pending_callbacks()
                self._sync_map_runs()
            except StoreError:  # a busy store must not kill the poller; the next round retries
                logger.warning("could not read stop requests and callbacks", exc_info=True)
                continue
            for arn, (error, cause) in requests.items():
                self.stop(arn, error, cause)
            for callback in callbacks:
                self._deliver(callback)

    def _sync_map_runs(self) -> None:
        """Apply UpdateMapRun calls made by other processes to the Map Runs this one runs."""
        for arn in self.map_runs.arns():
            live = self.map_runs.get(arn)
            try:
                record = self._store.get_map_run(arn)
            except RecordNotFound:
                continue
            if live is not None:
                apply_settings(live, record)

    def _deliver(self, callback: dict[str, Any]) -> None:
        """Hand a callback another process posted to the engine here, if this process holds its token."""
        from stepfn.engine import UnknownTaskToken

        token = callback["token"]
        try:
            if callback["kind"] == "success":
                self.engine.send_task_success(token, callback["output"])
            elif callback["kind"] == "failure":
                self.engine.send_task_failure(token, callback["error"], callback["cause"])
            else:
                self.engine.send_task_heartbeat(token)
        except UnknownTaskToken:
            return  # held by another process, or by none: the sender gives up after a while
        except StatesError as error:
            self._store.settle_callback(callback["id"], error.error)
            return
        self._store.settle_callback(callback["id"], "delivered")

    def close(self) -> None:
        self._closed.set()
        atexit.unregister(self._warn_unfinished)


__all__ = ["ExecutionRunner", "LiveMapRuns", "MapRunJournal", "apply_settings"]
