"""The SQLite store: records round-trip, transactions, history journal, leases and orphans, other processes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from stepfn.errors import StoreError
from stepfn.store import (
    SCHEMA_VERSION,
    AliasRecord,
    ExecutionRecord,
    MapRunRecord,
    NotRedrivable,
    RecordExists,
    RecordNotFound,
    StateMachineRecord,
    Store,
    current_owner,
)

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:m"
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def machine(name: str = "m", **changes: object) -> StateMachineRecord:
    base = StateMachineRecord(
        arn=f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}", name=name, type="STANDARD",
        definition='{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}', role_arn="arn:aws:iam::1:role/r",
        revision_id="rev-1", creation_date=T0,
    )
    return StateMachineRecord(**{**base.__dict__, **changes})


def execution(name: str = "e1", **changes: object) -> ExecutionRecord:
    base = ExecutionRecord(
        arn=f"arn:aws:states:us-east-1:123456789012:execution:m:{name}", state_machine_arn=SM, name=name,
        type="STANDARD", status="RUNNING", start_date=T0, definition="{}", input='{"a": 1}',
    )
    return ExecutionRecord(**{**base.__dict__, **changes})


def event(id_: int, type_: str, **details: object) -> dict[str, object]:
    return {"timestamp": T0 + timedelta(seconds=id_), "type": type_, "id": id_, "previousEventId": id_ - 1, **details}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path)
    yield s
    s.close()


def test_default_home_is_stepfn_home(stepfn_home: Path) -> None:
    s = Store()
    try:
        assert s.path == stepfn_home / "stepfn.db"
        assert s.path.exists()
    finally:
        s.close()


def test_wal_mode_and_schema_version(store: Store) -> None:
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "stepfn.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this stepfn"):
        Store(tmp_path)


def test_reopening_keeps_data(tmp_path: Path) -> None:
    s = Store(tmp_path)
    s.create_state_machine(machine(description="d", logging_configuration={"level": "OFF"}))
    s.close()
    again = Store(tmp_path)
    try:
        got = again.get_state_machine(SM)
        assert got == machine(description="d", logging_configuration={"level": "OFF"})
    finally:
        again.close()


def test_state_machine_crud(store: Store) -> None:
    store.create_state_machine(machine())
    with pytest.raises(RecordExists) as info:
        store.create_state_machine(machine(arn=SM + "x"))
    assert info.value.existing == SM
    later = T0 + timedelta(hours=1)
    updated = store.update_state_machine(SM, definition="{}", revision_id="rev-2", update_date=later)
    assert store.get_state_machine(SM) == updated
    assert updated.update_date == later and updated.definition == "{}"
    store.create_state_machine(machine("a"))
    assert [m.name for m in store.list_state_machines()] == ["a", "m"]
    store.delete_state_machine(SM)
    with pytest.raises(RecordNotFound, match="StateMachine does not exist"):
        store.get_state_machine(SM)
    with pytest.raises(RecordNotFound):
        store.update_state_machine(SM, definition="{}")


def test_versions_are_numbered_idempotent_and_never_reused(store: Store) -> None:
    store.create_state_machine(machine())
    v1 = store.publish_version(SM, creation_date=T0, description="first")
    assert (v1.arn, v1.version, v1.description) == (SM + ":1", 1, "first")
    assert store.publish_version(SM, creation_date=T0) == v1  # same revision: the same version
    store.update_state_machine(SM, revision_id="rev-2", definition='{"x":1}')
    with pytest.raises(RecordExists):
        store.publish_version(SM, creation_date=T0, revision_id="rev-1")
    v2 = store.publish_version(SM, creation_date=T0, revision_id="rev-2")
    assert v2.version == 2 and v2.definition == '{"x":1}'
    assert [v.version for v in store.list_versions(SM)] == [2, 1]
    store.delete_version(v2.arn)
    store.update_state_machine(SM, revision_id="rev-3")
    assert store.publish_version(SM, creation_date=T0).version == 3
    with pytest.raises(RecordNotFound):
        store.get_version(v2.arn)


def test_aliases_and_tags(store: Store) -> None:
    store.create_state_machine(machine())
    alias = AliasRecord(
        arn=SM + ":prod", state_machine_arn=SM, name="prod",
        routing_configuration=[{"stateMachineVersionArn": SM + ":1", "weight": 100}],
        creation_date=T0, update_date=T0,
    )
    store.create_alias(alias)
    with pytest.raises(RecordExists):
        store.create_alias(alias)
    assert store.get_alias(alias.arn) == alias
    later = T0 + timedelta(minutes=5)
    store.update_alias(alias.arn, description="live", update_date=later)
    assert store.get_alias(alias.arn).description == "live"
    assert [a.name for a in store.list_aliases(SM)] == ["prod"]
    store.tag(SM, [("team", "ml"), ("env", "dev")])
    store.tag(SM, [("env", "prod")])
    assert store.tags(SM) == [("team", "ml"), ("env", "prod")]
    store.untag(SM, ["team"])
    assert store.tags(SM) == [("env", "prod")]
    store.delete_state_machine(SM)
    assert store.tags(SM) == [] and store.list_aliases(SM) == []


def test_execution_lifecycle_and_listing(store: Store) -> None:
    store.create_execution(execution("e1"))
    store.create_execution(execution("e2"))
    with pytest.raises(RecordExists):
        store.create_execution(execution("e1"))
    got = store.get_execution(execution("e1").arn)
    assert got.owner == current_owner().token and got.lease_expires is not None
    assert [e.name for e in store.list_executions(SM)] == ["e2", "e1"]  # newest first
    assert store.finish_execution(got.arn, status="SUCCEEDED", stop_date=T0, output="{}")
    assert not store.finish_execution(got.arn, status="FAILED", stop_date=T0)  # already ended
    done = store.get_execution(got.arn)
    assert (done.status, done.output, done.owner, done.stop_date) == ("SUCCEEDED", "{}", None, T0)
    assert [e.name for e in store.list_executions(SM, status="RUNNING")] == ["e2"]
    with pytest.raises(RecordNotFound):
        store.get_execution(SM + "nope")


def test_history_round_trip_and_terminal_event_updates_row(store: Store) -> None:
    record = execution()
    store.create_execution(record)
    journal = store.journal(record.arn)
    started = event(1, "ExecutionStarted", executionStartedEventDetails={"input": "{}", "roleArn": "r"})
    started["previousEventId"] = 0
    journal.append(started)
    journal.append(event(2, "PassStateEntered", stateEnteredEventDetails={"name": "P", "input": "{}"}))
    journal.append(event(3, "ExecutionFailed", executionFailedEventDetails={"error": "E", "cause": "C"}))
    events = journal.events()
    assert events[0] == started
    assert [e["type"] for e in events] == ["ExecutionStarted", "PassStateEntered", "ExecutionFailed"]
    assert events[1]["timestamp"] == T0 + timedelta(seconds=2) and events[1]["timestamp"].tzinfo is not None
    assert [e["id"] for e in store.events(record.arn, reverse=True, limit=2)] == [3, 2]
    assert [e["id"] for e in store.events(record.arn, after_id=1)] == [2, 3]
    row = store.get_execution(record.arn)
    assert (row.status, row.error, row.cause, row.stop_date, row.owner) == (
        "FAILED", "E", "C", T0 + timedelta(seconds=3), None)
    with pytest.raises(RecordExists):
        journal.append(event(3, "ExecutionSucceeded"))


def test_nested_datetimes_and_naive_refused(store: Store) -> None:
    record = execution()
    store.create_execution(record)
    other_tz = datetime(2024, 1, 1, 9, tzinfo=timezone(timedelta(hours=2)))
    store.append_event(record.arn, event(1, "X", extra={"when": other_tz, "list": [other_tz]}))
    got = store.events(record.arn)[0]
    assert got["extra"]["when"] == other_tz and got["extra"]["list"] == [other_tz]
    with pytest.raises(StoreError, match="naive"):
        store.append_event(record.arn, {"timestamp": datetime(2024, 1, 1), "type": "X", "id": 2})
    assert len(store.events(record.arn)) == 1  # nothing half-written


def test_failed_write_rolls_back_whole_transaction(store: Store) -> None:
    store.create_state_machine(machine())
    with pytest.raises(TypeError):
        store.update_state_machine(SM, logging_configuration={"bad": object()}, definition="changed")
    assert store.get_state_machine(SM).definition == machine().definition


def test_redrive(store: Store) -> None:
    record = execution()
    store.create_execution(record)
    with pytest.raises(NotRedrivable, match="RUNNING"):
        store.start_redrive(record.arn, redrive_date=T0)
    store.finish_execution(record.arn, status="FAILED", stop_date=T0, error="E", cause="C")
    redriven = store.start_redrive(record.arn, redrive_date=T0 + timedelta(hours=1))
    assert (redriven.status, redriven.redrive_count, redriven.error, redriven.stop_date) == ("RUNNING", 1, None, None)
    assert redriven.owner == current_owner().token
    assert [e.name for e in store.list_executions(redriven=True)] == ["e1"]
    with pytest.raises(RecordNotFound):
        store.start_redrive(record.arn + "x", redrive_date=T0)


def test_lease_keeper_renews(tmp_path: Path) -> None:
    # Long enough that a loaded machine, which may leave the keeper thread (renewing every second) unscheduled for a
    # second or two, still renews within one lease: a 0.3 s lease could lapse so, and a 1.5 s one nearly.
    s = Store(tmp_path, lease_seconds=3)
    try:
        s.create_execution(execution())
        first = s.get_execution(execution().arn).lease_expires
        time.sleep(3.5)
        second = s.get_execution(execution().arn).lease_expires
        assert first is not None and second is not None and second > first
        assert second > time.time()  # still valid although more than one lease period passed
    finally:
        s.close()


def _child(code: str, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "STEPFN_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


OWNING_CHILD = """
    import sys, time
    from datetime import UTC, datetime
    from stepfn.store import ExecutionRecord, Store
    store = Store(lease_seconds=float(sys.argv[1]) if len(sys.argv) > 1 else 30.0)
    arn = "arn:aws:states:us-east-1:123456789012:execution:m:child"
    store.create_execution(ExecutionRecord(
        arn=arn, state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:m", name="child",
        type="STANDARD", status="RUNNING", start_date=datetime.now(UTC), definition="{}"))
    journal = store.journal(arn)
    for i in range(1, 1000):
        journal.append({"timestamp": datetime.now(UTC), "type": "PassStateEntered", "id": i,
                        "previousEventId": i - 1, "stateEnteredEventDetails": {"name": f"S{i}"}})
        print(i, flush=True)
        time.sleep(0.01)
"""


def test_another_process_reads_while_it_runs_and_orphan_after_kill(store: Store) -> None:
    child = _child(OWNING_CHILD, store.home)
    arn = "arn:aws:states:us-east-1:123456789012:execution:m:child"
    try:
        assert child.stdout is not None
        for _ in range(20):
            child.stdout.readline()
        seen = len(store.events(arn))
        assert seen >= 20
        running = store.get_execution(arn)
        assert running.status == "RUNNING" and running.owner and str(child.pid) in running.owner
        assert store.find_orphans() == []  # the owner is alive
        deadline = time.time() + 10
        while len(store.events(arn)) <= seen and time.time() < deadline:
            time.sleep(0.02)
        assert len(store.events(arn)) > seen  # the other process keeps appending while we read
    finally:
        child.kill()
        child.wait()
        child.stdout.close() if child.stdout else None
        child.stderr.close() if child.stderr else None
    events = store.events(arn)
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))  # nothing half-written, no gaps
    orphans = store.find_orphans()
    assert [o.arn for o in orphans] == [arn]
    previous = orphans[0].owner
    assert store.claim_execution(arn, previous)
    assert not store.claim_execution(arn, previous)  # the second claimant loses
    assert store.get_execution(arn).owner == current_owner().token
    assert store.find_orphans() == []


def test_orphan_on_other_host_needs_expired_lease(store: Store) -> None:
    store.create_execution(execution(), owned=False)
    conn = sqlite3.connect(store.path)
    try:
        conn.execute(
            "UPDATE executions SET owner = 'elsewhere:1:1', owner_host = 'elsewhere', owner_pid = 1, "
            "lease_expires = ?", (time.time() + 60,))
        conn.commit()
        assert store.find_orphans() == []
        conn.execute("UPDATE executions SET lease_expires = ?", (time.time() - 1,))
        conn.commit()
    finally:
        conn.close()
    assert [o.name for o in store.find_orphans()] == ["e1"]


def test_concurrent_writers_from_threads_and_processes(store: Store) -> None:
    writer = """
        import sys
        from datetime import UTC, datetime
        from stepfn.store import Store
        store = Store()
        base = int(sys.argv[1])
        for i in range(200):
            store.append_event("arn:x", {"timestamp": datetime.now(UTC), "type": "T", "id": base + i})
        print("ok")
    """
    env = {**os.environ, "STEPFN_HOME": str(store.home)}
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(writer), str(base)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for base in (0, 1000)
    ]

    def write_from_thread(base: int) -> None:
        for i in range(200):
            store.append_event("arn:x", {"timestamp": datetime.now(UTC), "type": "T", "id": base + i})

    threads = [threading.Thread(target=write_from_thread, args=(base,)) for base in (2000, 3000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == "ok"
    ids = sorted(e["id"] for e in store.events("arn:x"))
    assert ids == [*range(200), *range(1000, 1200), *range(2000, 2200), *range(3000, 3200)]


def test_stop_requests(store: Store) -> None:
    store.create_execution(execution("e1"))
    store.create_execution(execution("e2"))
    when = T0 + timedelta(minutes=1)
    assert store.request_stop(execution("e1").arn, error="E", cause="C", when=when)
    assert store.stop_requests([execution("e1").arn, execution("e2").arn]) == {execution("e1").arn: ("E", "C")}
    store.finish_execution(execution("e1").arn, status="ABORTED", stop_date=when)
    assert store.stop_requests([execution("e1").arn]) == {}
    assert not store.request_stop(execution("e1").arn, error=None, cause=None, when=when)


def test_migrates_a_version_1_file(tmp_path: Path) -> None:
    from stepfn.store._db import _MIGRATIONS

    conn = sqlite3.connect(tmp_path / "stepfn.db")
    for statement in _MIGRATIONS[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO executions (arn, state_machine_arn, name, type, status, start_date, definition) "
        "VALUES ('arn:e', 'arn:m', 'e', 'STANDARD', 'RUNNING', ?, '{}')", (T0.isoformat(),))
    conn.commit()
    conn.close()
    s = Store(tmp_path)
    try:
        assert s.get_execution("arn:e").name == "e"
        assert s.request_stop("arn:e", error=None, cause="why", when=T0)
        assert s.stop_requests(["arn:e"]) == {"arn:e": (None, "why")}
    finally:
        s.close()


def test_append_many_is_one_transaction(store: Store) -> None:
    record = execution()
    store.create_execution(record)
    journal = store.journal(record.arn)
    journal.append_many([event(1, "ExecutionStarted"), event(2, "PassStateEntered")])
    with pytest.raises(RecordExists):
        journal.append_many([event(3, "PassStateExited"), event(2, "Duplicate")])
    assert [e["id"] for e in journal.events()] == [1, 2]  # the failed batch left nothing behind
    journal.append_many([event(3, "PassStateExited"), event(4, "ExecutionSucceeded",
                                                            executionSucceededEventDetails={"output": "{}"})])
    row = store.get_execution(record.arn)
    assert (row.status, row.output, row.stop_date) == ("SUCCEEDED", "{}", T0 + timedelta(seconds=4))


def _journaled_run(store: Store, name: str, definition: dict[str, object], value: object) -> tuple[str, object]:
    from stepfn.engine import Engine

    arn = f"arn:aws:states:us-east-1:123456789012:execution:m:{name}"
    store.create_execution(execution(name))
    result = Engine().run(definition, value, execution_arn=arn, state_machine_arn=SM, name=name,
                          journal=store.journal(arn))
    return arn, result


def test_events_the_engine_encodes_itself_read_back_as_it_records_them(store: Store) -> None:
    # The engine hands a store journal its events as encoded rows (append_encoded), not dicts: what the store
    # reads back must be the history the engine holds, member for member, and the last event ends the row.
    definition = {"StartAt": "Fan", "States": {
        "Fan": {"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Item",
                "States": {"Item": {"Type": "Pass", "Parameters": {"v.$": "$", "tag": "naïve ✓"}, "End": True}}},
                "ItemsPath": "$.items", "ResultPath": "$.out", "Next": "Both"},
        "Both": {"Type": "Parallel", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"x": [1.5, None, True]}, "End": True}}},
            {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 0, "End": True}}}], "Next": "Stop"},
        "Stop": {"Type": "Fail", "Error": "Custom.Ünïcode", "Cause": "quote \" and \\ and \u2603"},
    }}
    arn, result = _journaled_run(store, "encoded", definition, {"items": ["é", {"k": [1, 2]}, 3]})
    stored = store.events(arn)
    assert len(stored) > 10
    assert stored == result.events
    row = store.get_execution(arn)
    assert (row.status, row.error, row.cause) == ("FAILED", "Custom.Ünïcode", "quote \" and \\ and \u2603")
    assert row.stop_date == stored[-1]["timestamp"]


def test_a_value_plain_json_cannot_hold_goes_through_the_stores_own_encoding(store: Store) -> None:
    from stepfn.engine.clock import SystemClock
    from stepfn.engine.history import History

    record = execution()
    store.create_execution(record)
    history = History(SystemClock(), store.journal(record.arn))
    history.add("ExecutionStarted", 0, {"input": "{}", "roleArn": "r"})
    history.add("PassStateEntered", 1, {"name": "P", "when": T0})  # a datetime: the store tags it
    history.checkpoint()
    stored = store.events(record.arn)
    assert [e["type"] for e in stored] == ["ExecutionStarted", "PassStateEntered"]
    assert stored[1]["stateEnteredEventDetails"] == {"name": "P", "when": T0}
    assert stored == history.events()


def test_short_lived_threads_share_a_bounded_pool_of_connections(store: Store) -> None:
    def open_db_handles() -> int:
        fd_dir = Path("/proc/self/fd")
        if not fd_dir.is_dir():
            pytest.skip("needs /proc")
        count = 0
        for fd in fd_dir.iterdir():
            try:
                count += os.readlink(fd) == str(store.path)
            except OSError:
                continue
        return count

    def work(i: int) -> None:
        store.append_event("arn:pool", {"timestamp": T0, "type": "T", "id": i})
        store.events("arn:pool", limit=1)

    for batch in range(5):
        threads = [threading.Thread(target=work, args=(batch * 40 + i,)) for i in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(store.events("arn:pool")) == 200
    # Not one per thread that ever wrote (200). SQLite may hold a few closed handles back while other
    # connections of the process keep POSIX locks on the file, so allow for those above the pool size.
    assert open_db_handles() < 40


def test_processes_opening_a_fresh_home_at_once_all_get_the_store(tmp_path: Path) -> None:
    """Two `stepfn run` started together on a new home: each switches the new file to WAL, which SQLite refuses
    at once ("database is locked") to all but one; each must still open the store."""
    home = tmp_path / "fresh-home"
    script = textwrap.dedent(f"""
        import sys, time
        from stepfn.store import Store
        while time.time() < {time.time() + 1.0}:
            pass  # start together
        Store({str(home)!r}).list_state_machines()
        print("opened")
    """)
    processes = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, env={**os.environ}) for _ in range(6)]
    outputs = [process.communicate(timeout=60)[0] for process in processes]
    assert [process.returncode for process in processes] == [0] * 6, outputs
    assert all(output.strip() == "opened" for output in outputs), outputs


def test_a_stale_map_run_attempt_does_not_overwrite_the_redriven_one(store: Store) -> None:
    parent = execution("parent")
    store.create_execution(parent)
    arn = "arn:aws:states:us-east-1:123456789012:mapRun:m/Fan:1"
    store.create_map_run(MapRunRecord(arn=arn, execution_arn=parent.arn, state_machine_arn=SM, status="RUNNING",
                                      start_date=T0))
    store.update_map_run(arn, attempt=0, status="ABORTED", stop_date=T0)  # the first attempt is stopped
    redriven = store.redrive_map_run(arn, redrive_date=T0 + timedelta(minutes=1))
    assert redriven is not None and (redriven.status, redriven.redrive_count) == ("RUNNING", 1)
    store.update_map_run(arn, attempt=1, status="SUCCEEDED", stop_date=T0 + timedelta(minutes=2))
    # The first attempt's thread ends late and reports ABORTED: the redriven attempt's end stands.
    kept = store.update_map_run(arn, attempt=0, status="ABORTED", stop_date=T0 + timedelta(minutes=3))
    assert kept.status == "SUCCEEDED"
    assert (store.get_map_run(arn).status, store.get_map_run(arn).redrive_count) == ("SUCCEEDED", 1)
