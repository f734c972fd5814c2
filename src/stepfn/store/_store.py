"""The execution store: state machines (with versions, aliases and tags), executions and their history.

Everything a process writes is visible to every other process that opens the same ``$STEPFN_HOME``:
``stepfn executions`` in one terminal lists what a notebook in another is running, and a process that
restarts after a crash finds the executions it must resume (``find_orphans`` + ``claim_execution``).

History is append-only. :class:`ExecutionJournal` is the engine's ``Journal``: ``append`` commits before it
returns, and a terminal event (``ExecutionSucceeded`` ...) updates the execution's row in the same
transaction, so the row and its history can never disagree, even when the process dies right after.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from stepfn.errors import StoreError
from stepfn.store._db import SCHEMA_VERSION, Database, dumps, format_datetime, loads, parse_datetime
from stepfn.store._owner import Owner, current_owner
from stepfn.store._records import (
    AliasRecord,
    ExecutionRecord,
    ExecutionSummary,
    MapRunRecord,
    NotRedrivable,
    RecordExists,
    RecordNotFound,
    StateMachineRecord,
    VersionRecord,
)

DEFAULT_LEASE_SECONDS = 30.0

logger = logging.getLogger(__name__)

# Terminal history event -> (status, the details member whose output/error/cause go onto the execution row).
_TERMINAL_EVENTS: dict[str, tuple[str, str]] = {
    "ExecutionSucceeded": ("SUCCEEDED", "executionSucceededEventDetails"),
    "ExecutionFailed": ("FAILED", "executionFailedEventDetails"),
    "ExecutionAborted": ("ABORTED", "executionAbortedEventDetails"),
    "ExecutionTimedOut": ("TIMED_OUT", "executionTimedOutEventDetails"),
}

_JSON_COLUMNS = {"logging_configuration", "tracing_configuration", "routing_configuration"}
_DATE_COLUMNS = {"creation_date", "update_date", "start_date", "stop_date", "redrive_date"}
_BOOL_COLUMNS = {"results_written"}

R = TypeVar("R")


def _to_row(record: Any) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if value is not None and f.name in _JSON_COLUMNS:
            value = dumps(value)
        elif value is not None and f.name in _DATE_COLUMNS:
            value = format_datetime(value)
        row[f.name] = value
    return row


_FIELD_NAMES: dict[type, frozenset[str]] = {}


def _from_row(cls: type[R], row: sqlite3.Row) -> R:
    # The row's columns that are the record's fields (a listing reads a few); field names cached per class,
    # since a page builds a hundred of these.
    wanted = _FIELD_NAMES.get(cls)
    if wanted is None:
        wanted = _FIELD_NAMES[cls] = frozenset(f.name for f in fields(cls))  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for name in row.keys():  # noqa: SIM118 (iterating a sqlite3.Row yields its values)
        if name not in wanted:
            continue
        value = row[name]
        if value is not None and name in _JSON_COLUMNS:
            value = loads(value)
        elif value is not None and name in _DATE_COLUMNS:
            value = parse_datetime(value)
        elif name in _BOOL_COLUMNS:
            value = bool(value)
        values[name] = value
    return cls(**values)


def _insert(conn: sqlite3.Connection, table: str, row: Mapping[str, Any]) -> None:
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))


class Store:
    """The SQLite store under ``home`` (default ``$STEPFN_HOME`` or ``./.stepfn``). Safe to share between threads."""

    schema_version = SCHEMA_VERSION

    def __init__(self, home: Path | str | None = None, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> None:
        self._db = Database(home)
        self.home = self._db.home
        self.path = self._db.path
        self.lease_seconds = lease_seconds
        self._keeper: threading.Thread | None = None
        self._keeper_stop = threading.Event()
        self._keeper_lock = threading.Lock()

    # -- state machines -------------------------------------------------------------------------------------

    def create_state_machine(self, record: StateMachineRecord) -> None:
        """Insert a new state machine; :class:`RecordExists` (with the existing ARN) when the name is taken."""
        with self._db.write() as conn:
            existing = conn.execute("SELECT arn FROM state_machines WHERE name = ?", (record.name,)).fetchone()
            if existing is not None:
                raise RecordExists("StateMachine", existing["arn"])
            _insert(conn, "state_machines", _to_row(record))

    def get_state_machine(self, arn: str) -> StateMachineRecord:
        rows = self._db.read("SELECT * FROM state_machines WHERE arn = ?", (arn,))
        if not rows:
            raise RecordNotFound("StateMachine", arn)
        return _from_row(StateMachineRecord, rows[0])

    def update_state_machine(self, arn: str, **changes: Any) -> StateMachineRecord:
        """Replace the given fields; returns the updated record."""
        with self._db.write() as conn:
            rows = conn.execute("SELECT * FROM state_machines WHERE arn = ?", (arn,)).fetchall()
            if not rows:
                raise RecordNotFound("StateMachine", arn)
            updated = replace(_from_row(StateMachineRecord, rows[0]), **changes)
            row = _to_row(updated)
            assignments = ", ".join(f"{key} = ?" for key in row if key != "arn")
            conn.execute(
                f"UPDATE state_machines SET {assignments} WHERE arn = ?",
                (*[value for key, value in row.items() if key != "arn"], arn),
            )
        return updated

    def delete_state_machine(self, arn: str) -> None:
        """Delete a state machine with its versions, aliases and tags; its executions (and history) stay readable."""
        with self._db.write() as conn:
            versions = [r["arn"] for r in conn.execute(
                "SELECT arn FROM state_machine_versions WHERE state_machine_arn = ?", (arn,))]
            aliases = [r["arn"] for r in conn.execute(
                "SELECT arn FROM state_machine_aliases WHERE state_machine_arn = ?", (arn,))]
            for resource in (arn, *versions, *aliases):
                conn.execute("DELETE FROM tags WHERE resource_arn = ?", (resource,))
            conn.execute("DELETE FROM state_machine_versions WHERE state_machine_arn = ?", (arn,))
            conn.execute("DELETE FROM state_machine_aliases WHERE state_machine_arn = ?", (arn,))
            conn.execute("DELETE FROM state_machines WHERE arn = ?", (arn,))

    def list_state_machines(self) -> list[StateMachineRecord]:
        rows = self._db.read("SELECT * FROM state_machines ORDER BY creation_date, name")
        return [_from_row(StateMachineRecord, row) for row in rows]

    # -- versions ---------------------------------------------------------------------------------------------

    def publish_version(
        self, state_machine_arn: str, *, creation_date: datetime, description: str | None = None,
        revision_id: str | None = None,
    ) -> VersionRecord:
        """Publish the state machine's current revision as the next version number.

        As AWS does, publishing a revision that is already the latest version returns that version, and a
        ``revision_id`` that is not the current revision raises :class:`RecordExists` naming the current one.
        """
        with self._db.write() as conn:
            rows = conn.execute("SELECT * FROM state_machines WHERE arn = ?", (state_machine_arn,)).fetchall()
            if not rows:
                raise RecordNotFound("StateMachine", state_machine_arn)
            machine = _from_row(StateMachineRecord, rows[0])
            if revision_id is not None and revision_id != machine.revision_id:
                raise RecordExists("Revision", machine.revision_id)
            latest = conn.execute(
                "SELECT * FROM state_machine_versions WHERE state_machine_arn = ? ORDER BY version DESC LIMIT 1",
                (state_machine_arn,),
            ).fetchone()
            if latest is not None and latest["revision_id"] == machine.revision_id:
                return _from_row(VersionRecord, latest)
            # Version numbers are never reused, even after a version is deleted: a counter on the machine's row.
            number = conn.execute(
                "UPDATE state_machines SET version_counter = version_counter + 1 WHERE arn = ? RETURNING version_counter",
                (state_machine_arn,),
            ).fetchone()[0]
            version = VersionRecord(
                arn=f"{state_machine_arn}:{number}", state_machine_arn=state_machine_arn, version=number,
                type=machine.type, definition=machine.definition, role_arn=machine.role_arn,
                revision_id=machine.revision_id, creation_date=creation_date, description=description,
                logging_configuration=machine.logging_configuration,
                tracing_configuration=machine.tracing_configuration,
            )
            _insert(conn, "state_machine_versions", _to_row(version))
        return version

    def get_version(self, arn: str) -> VersionRecord:
        rows = self._db.read("SELECT * FROM state_machine_versions WHERE arn = ?", (arn,))
        if not rows:
            raise RecordNotFound("StateMachineVersion", arn)
        return _from_row(VersionRecord, rows[0])

    def list_versions(self, state_machine_arn: str) -> list[VersionRecord]:
        rows = self._db.read(
            "SELECT * FROM state_machine_versions WHERE state_machine_arn = ? ORDER BY version DESC",
            (state_machine_arn,),
        )
        return [_from_row(VersionRecord, row) for row in rows]

    def delete_version(self, arn: str) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM state_machine_versions WHERE arn = ?", (arn,))
            conn.execute("DELETE FROM tags WHERE resource_arn = ?", (arn,))

    # -- aliases ----------------------------------------------------------------------------------------------

    def create_alias(self, record: AliasRecord) -> None:
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM state_machine_aliases WHERE arn = ?", (record.arn,)).fetchone():
                raise RecordExists("StateMachineAlias", record.arn)
            _insert(conn, "state_machine_aliases", _to_row(record))

    def get_alias(self, arn: str) -> AliasRecord:
        rows = self._db.read("SELECT * FROM state_machine_aliases WHERE arn = ?", (arn,))
        if not rows:
            raise RecordNotFound("StateMachineAlias", arn)
        return _from_row(AliasRecord, rows[0])

    def update_alias(self, arn: str, **changes: Any) -> AliasRecord:
        with self._db.write() as conn:
            rows = conn.execute("SELECT * FROM state_machine_aliases WHERE arn = ?", (arn,)).fetchall()
            if not rows:
                raise RecordNotFound("StateMachineAlias", arn)
            updated = replace(_from_row(AliasRecord, rows[0]), **changes)
            row = _to_row(updated)
            conn.execute(
                "UPDATE state_machine_aliases SET description = ?, routing_configuration = ?, update_date = ? "
                "WHERE arn = ?",
                (row["description"], row["routing_configuration"], row["update_date"], arn),
            )
        return updated

    def list_aliases(self, state_machine_arn: str) -> list[AliasRecord]:
        rows = self._db.read(
            "SELECT * FROM state_machine_aliases WHERE state_machine_arn = ? ORDER BY creation_date DESC, name",
            (state_machine_arn,),
        )
        return [_from_row(AliasRecord, row) for row in rows]

    def delete_alias(self, arn: str) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM state_machine_aliases WHERE arn = ?", (arn,))
            conn.execute("DELETE FROM tags WHERE resource_arn = ?", (arn,))

    # -- tags -------------------------------------------------------------------------------------------------

    def tag(self, resource_arn: str, tags: Iterable[tuple[str, str]]) -> None:
        with self._db.write() as conn:
            conn.executemany(
                "INSERT INTO tags (resource_arn, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (resource_arn, key) DO UPDATE SET value = excluded.value",
                [(resource_arn, key, value) for key, value in tags],
            )

    def untag(self, resource_arn: str, keys: Iterable[str]) -> None:
        with self._db.write() as conn:
            conn.executemany(
                "DELETE FROM tags WHERE resource_arn = ? AND key = ?", [(resource_arn, key) for key in keys]
            )

    def tags(self, resource_arn: str) -> list[tuple[str, str]]:
        rows = self._db.read("SELECT key, value FROM tags WHERE resource_arn = ? ORDER BY rowid", (resource_arn,))
        return [(row["key"], row["value"]) for row in rows]

    # -- executions -------------------------------------------------------------------------------------------

    def create_execution(self, record: ExecutionRecord, *, owned: bool = True) -> None:
        """Insert a new execution, owned (leased) by this process unless ``owned`` is False."""
        row = _to_row(record)
        if owned:
            row.update(self._ownership(current_owner()))
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM executions WHERE arn = ?", (record.arn,)).fetchone():
                raise RecordExists("Execution", record.arn)
            _insert(conn, "executions", row)
        if owned:
            self._ensure_keeper()

    def get_execution(self, arn: str) -> ExecutionRecord:
        rows = self._db.read("SELECT * FROM executions WHERE arn = ?", (arn,))
        if not rows:
            raise RecordNotFound("Execution", arn)
        return _from_row(ExecutionRecord, rows[0])

    def list_executions(
        self, state_machine_arn: str | None = None, *, status: str | None = None,
        version_arn: str | None = None, alias_arn: str | None = None, redriven: bool | None = None,
        map_run_arn: str | None = None, before_seq: int | None = None, limit: int | None = None,
    ) -> list[ExecutionSummary]:
        """Newest first, as ListExecutions returns them. The child executions of a Map Run are listed only
        by ``map_run_arn``, as AWS lists them.

        Keyset pagination: ``before_seq`` (the last ``seq`` of the previous page) and ``limit`` read one page
        from an index, so a page costs the same at any depth, and executions started while a client pages
        never shift the later pages (no repeats, no gaps)."""
        clauses: list[str] = []
        params: list[Any] = []
        # "+status": never the status index, which would read every execution of that status and sort them;
        # the listing index (state machine, seq) gives a page in order.
        for column, value in (
            ("state_machine_arn", state_machine_arn), ("+status", status),
            ("version_arn", version_arn), ("alias_arn", alias_arn), ("map_run_arn", map_run_arn),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if map_run_arn is None:
            clauses.append("map_run_arn IS NULL")
        if redriven is not None:
            clauses.append("redrive_count > 0" if redriven else "redrive_count = 0")
        if before_seq is not None:
            clauses.append("seq < ?")
            params.append(before_seq)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        columns = ", ".join(f.name for f in fields(ExecutionSummary))
        sql = f"SELECT {columns} FROM executions {where} ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_from_row(ExecutionSummary, row) for row in self._db.read(sql, tuple(params))]

    def finish_execution(
        self, arn: str, *, status: str, stop_date: datetime, output: str | None = None,
        error: str | None = None, cause: str | None = None,
    ) -> bool:
        """Record the end of a RUNNING execution and drop its owner; False if it had already ended."""
        with self._db.write() as conn:
            return self._finish(conn, arn, status, stop_date, output, error, cause)

    @staticmethod
    def _finish(
        conn: sqlite3.Connection, arn: str, status: str, stop_date: datetime, output: str | None,
        error: str | None, cause: str | None,
    ) -> bool:
        cursor = conn.execute(
            "UPDATE executions SET status = ?, stop_date = ?, output = ?, error = ?, cause = ?, owner = NULL, "
            "owner_host = NULL, owner_pid = NULL, owner_started = NULL, lease_expires = NULL, "
            "stop_requested_at = NULL, stop_error = NULL, stop_cause = NULL "
            "WHERE arn = ? AND status = 'RUNNING'",
            (status, format_datetime(stop_date), output, error, cause, arn),
        )
        if cursor.rowcount == 1:
            # Map Runs the execution left running (it was stopped, or died and was resumed) end with it.
            stamp = format_datetime(stop_date)
            conn.execute(
                "UPDATE executions SET status = 'ABORTED', stop_date = ? WHERE status = 'RUNNING' AND map_run_arn IN "
                "(SELECT arn FROM map_runs WHERE execution_arn = ? AND status = 'RUNNING')", (stamp, arn))
            conn.execute("UPDATE map_runs SET status = 'ABORTED', stop_date = ? WHERE execution_arn = ? "
                         "AND status = 'RUNNING'", (stamp, arn))
        return cursor.rowcount == 1

    def start_redrive(self, arn: str, *, redrive_date: datetime) -> ExecutionRecord:
        """Turn a FAILED/TIMED_OUT/ABORTED execution back into RUNNING, owned by this process."""
        owner = self._ownership(current_owner())
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE executions SET status = 'RUNNING', stop_date = NULL, output = NULL, error = NULL, "
                "cause = NULL, redrive_count = redrive_count + 1, redrive_date = ?, owner = ?, owner_host = ?, "
                "owner_pid = ?, owner_started = ?, lease_expires = ? "
                "WHERE arn = ? AND status IN ('FAILED', 'TIMED_OUT', 'ABORTED')",
                (format_datetime(redrive_date), owner["owner"], owner["owner_host"], owner["owner_pid"],
                 owner["owner_started"], owner["lease_expires"], arn),
            )
            if cursor.rowcount != 1:
                row = conn.execute("SELECT status FROM executions WHERE arn = ?", (arn,)).fetchone()
                if row is None:
                    raise RecordNotFound("Execution", arn)
                raise NotRedrivable(arn, row["status"])
            row = conn.execute("SELECT * FROM executions WHERE arn = ?", (arn,)).fetchone()
        self._ensure_keeper()
        return _from_row(ExecutionRecord, row)

    def request_stop(self, arn: str, *, error: str | None, cause: str | None, when: datetime) -> bool:
        """Ask the process that runs ``arn`` to stop it; False when it is not RUNNING."""
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE executions SET stop_requested_at = ?, stop_error = ?, stop_cause = ? "
                "WHERE arn = ? AND status = 'RUNNING'",
                (format_datetime(when), error, cause, arn),
            )
            return cursor.rowcount == 1

    def stop_requests(self, arns: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
        """The pending stop requests (error, cause) among ``arns`` that are still RUNNING."""
        wanted = list(arns)
        if not wanted:
            return {}
        marks = ", ".join("?" for _ in wanted)
        rows = self._db.read(
            f"SELECT arn, stop_error, stop_cause FROM executions WHERE arn IN ({marks}) "
            "AND status = 'RUNNING' AND stop_requested_at IS NOT NULL",
            tuple(wanted),
        )
        return {row["arn"]: (row["stop_error"], row["stop_cause"]) for row in rows}

    # -- Map Runs ---------------------------------------------------------------------------------------------

    def create_map_run(self, record: MapRunRecord) -> None:
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM map_runs WHERE arn = ?", (record.arn,)).fetchone():
                raise RecordExists("MapRun", record.arn)
            _insert(conn, "map_runs", _to_row(record))

    def get_map_run(self, arn: str) -> MapRunRecord:
        rows = self._db.read("SELECT * FROM map_runs WHERE arn = ?", (arn,))
        if not rows:
            raise RecordNotFound("MapRun", arn)
        return _from_row(MapRunRecord, rows[0])

    def list_map_runs(self, execution_arn: str) -> list[MapRunRecord]:
        """The Map Runs an execution started, newest first."""
        rows = self._db.read("SELECT * FROM map_runs WHERE execution_arn = ? ORDER BY seq DESC", (execution_arn,))
        return [_from_row(MapRunRecord, row) for row in rows]

    def update_map_run(self, arn: str, *, attempt: int | None = None, **changes: Any) -> MapRunRecord:
        """Replace the given fields (settings, totals, the end of the run); returns the updated record.

        With ``attempt``, only while the record is still at that redriveCount: a stopped attempt that ends after
        its parent was redriven leaves the newer attempt's record alone (and gets that record back)."""
        with self._db.write() as conn:
            rows = conn.execute("SELECT * FROM map_runs WHERE arn = ?", (arn,)).fetchall()
            if not rows:
                raise RecordNotFound("MapRun", arn)
            current = _from_row(MapRunRecord, rows[0])
            if attempt is not None and current.redrive_count != attempt:
                return current
            updated = replace(current, **changes)
            row = {key: value for key, value in _to_row(updated).items() if key in changes}
            if row:
                assignments = ", ".join(f"{key} = ?" for key in row)
                conn.execute(f"UPDATE map_runs SET {assignments} WHERE arn = ?", (*row.values(), arn))
        return updated

    def map_run_children(self, arn: str) -> list[ExecutionRecord]:
        """A Map Run's child executions in the order they were started (the engine starts them in item order)."""
        rows = self._db.read("SELECT * FROM executions WHERE map_run_arn = ? ORDER BY seq", (arn,))
        return [_from_row(ExecutionRecord, row) for row in rows]

    def unended_children(self, arn: str) -> list[str]:
        """The child executions of Map Run ``arn`` whose history does not end with a terminal event (yet): a
        running child, or one whose row ended with its parent while its own thread had not recorded its end."""
        terminal = tuple(_TERMINAL_EVENTS)
        rows = self._db.read(
            "SELECT x.arn FROM executions x WHERE x.map_run_arn = ? AND NOT EXISTS (SELECT 1 FROM events v WHERE "
            f"v.execution_arn = x.arn AND v.type IN ({', '.join('?' * len(terminal))}) AND v.id = (SELECT MAX(w.id) "
            "FROM events w WHERE w.execution_arn = x.arn)) ORDER BY x.seq", (arn, *terminal))
        return [str(row["arn"]) for row in rows]

    def redrive_map_run(self, arn: str, *, redrive_date: datetime) -> MapRunRecord | None:
        """Turn a FAILED/ABORTED/TIMED_OUT Map Run back into RUNNING for its parent's redrive (redriveCount + 1)
        and return it; a SUCCEEDED one is returned as it is (the redrive replays it); None for one still
        RUNNING (its parent is being resumed) or unknown."""
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE map_runs SET status = 'RUNNING', stop_date = NULL, error = NULL, cause = NULL, "
                "redrive_count = redrive_count + 1, redrive_date = ? WHERE arn = ? AND status IN ('FAILED', "
                "'ABORTED', 'TIMED_OUT')", (format_datetime(redrive_date), arn))
            row = conn.execute("SELECT * FROM map_runs WHERE arn = ?", (arn,)).fetchone()
        if row is None or (cursor.rowcount != 1 and row["status"] != "SUCCEEDED"):
            return None
        return _from_row(MapRunRecord, row)

    def redrive_child(self, arn: str, *, redrive_date: datetime) -> None:
        """Turn an unsuccessful child execution of a Map Run back into RUNNING: its redriven Map Run runs it
        again under the same ARN (a child has no owner of its own: its parent's process runs it)."""
        with self._db.write() as conn:
            conn.execute(
                "UPDATE executions SET status = 'RUNNING', stop_date = NULL, output = NULL, error = NULL, "
                "cause = NULL, redrive_count = redrive_count + 1, redrive_date = ? WHERE arn = ? AND "
                "map_run_arn IS NOT NULL AND status IN ('FAILED', 'TIMED_OUT', 'ABORTED')",
                (format_datetime(redrive_date), arn))

    def map_run_counts(self, arn: str) -> dict[str, tuple[int, int]]:
        """Status -> (child executions, items they process) for one Map Run's children."""
        rows = self._db.read(
            "SELECT status, COUNT(*) AS executions, COALESCE(SUM(item_count), COUNT(*)) AS items FROM executions "
            "WHERE map_run_arn = ? GROUP BY status", (arn,))
        return {row["status"]: (int(row["executions"]), int(row["items"])) for row in rows}

    # -- task-token callbacks between processes --------------------------------------------------------------

    def post_callback(self, token: str, kind: str, *, output: str | None = None, error: str | None = None,
                      cause: str | None = None) -> int:
        """Queue ``send_task_<kind>`` for whichever process holds ``token``; returns the callback's id."""
        with self._db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO task_callbacks (token, kind, output, error, cause, created) VALUES (?, ?, ?, ?, ?, ?)",
                (token, kind, output, error, cause, time.time()),
            )
            return int(cursor.lastrowid or 0)

    def pending_callbacks(self) -> list[dict[str, Any]]:
        rows = self._db.read("SELECT * FROM task_callbacks WHERE outcome IS NULL ORDER BY id")
        return [dict(row) for row in rows]

    def settle_callback(self, callback_id: int, outcome: str) -> bool:
        """Record what became of a callback (``delivered`` or an error code); False if already settled."""
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE task_callbacks SET outcome = ? WHERE id = ? AND outcome IS NULL", (outcome, callback_id))
            return cursor.rowcount == 1

    def callback_outcome(self, callback_id: int) -> str | None:
        rows = self._db.read("SELECT outcome FROM task_callbacks WHERE id = ?", (callback_id,))
        return rows[0]["outcome"] if rows else None

    def running_arns(self) -> set[str]:
        """The ARNs of every RUNNING execution, whichever process runs it (a Map Run's children run inside
        their parent's process and are left out)."""
        return {row["arn"] for row in self._db.read(
            "SELECT arn FROM executions WHERE status = 'RUNNING' AND map_run_arn IS NULL")}

    # -- history ----------------------------------------------------------------------------------------------

    def append_event(self, execution_arn: str, event: Mapping[str, Any]) -> None:
        """Append one GetExecutionHistory-shaped event; committed when this returns."""
        self.append_events(execution_arn, [event])

    def append_events(self, execution_arn: str, events: Iterable[Mapping[str, Any]]) -> None:
        """Append events in one transaction (all or none); a terminal event also ends the execution's row."""
        rows = []
        terminal: tuple[str, datetime, Mapping[str, Any]] | None = None
        for event in events:
            body = dict(event)  # the event less the columns of its own (cheaper than filtering every key)
            event_type = body.pop("type")
            timestamp = body.pop("timestamp")
            rows.append((execution_arn, body.pop("id"), event_type, format_datetime(timestamp), dumps(body)))
            if event_type in _TERMINAL_EVENTS:
                terminal = event_type, timestamp, event
        self._insert_events(execution_arn, rows, terminal)

    def abort_after_history(self, execution_arn: str, *, when: datetime, error: str | None = None,
                            cause: str | None = None) -> None:
        """Record ``ExecutionAborted`` after the last event of an execution no engine runs any more (its process
        died), which ends its row as ABORTED."""
        last = self.events(execution_arn, reverse=True, limit=1)
        last_id = last[0]["id"] if last else 0
        details = {key: value for key, value in (("error", error), ("cause", cause)) if value is not None}
        self.append_event(execution_arn, {"timestamp": when, "type": "ExecutionAborted", "id": last_id + 1,
                                          "previousEventId": last_id, "executionAbortedEventDetails": details})

    def append_encoded_events(self, execution_arn: str, events: Iterable[tuple[int, str, datetime, str]]) -> None:
        """``append_events`` for events the engine encoded itself: (id, type, timestamp, body), body being the
        JSON text of the event less those three members (what the ``body`` column holds)."""
        rows = []
        terminal: tuple[str, datetime, Mapping[str, Any]] | None = None
        for event_id, event_type, timestamp, body in events:
            rows.append((execution_arn, event_id, event_type, format_datetime(timestamp), body))
            if event_type in _TERMINAL_EVENTS:  # one per execution: decoding its body costs nothing to speak of
                terminal = event_type, timestamp, loads(body)
        self._insert_events(execution_arn, rows, terminal)

    def _insert_events(self, execution_arn: str, rows: list[tuple[str, int, str, str, str]],
                       terminal: tuple[str, datetime, Mapping[str, Any]] | None) -> None:
        """``terminal``: the type, timestamp and body of the batch's terminal event, which ends the row."""
        with self._db.write() as conn:
            try:
                conn.executemany(
                    "INSERT INTO events (execution_arn, id, type, timestamp, body) VALUES (?, ?, ?, ?, ?)", rows)
            except sqlite3.IntegrityError as error:
                raise RecordExists("HistoryEvent", f"{execution_arn}: {error}") from error
            if terminal is not None:
                event_type, timestamp, body = terminal
                status, details_key = _TERMINAL_EVENTS[event_type]
                details = body.get(details_key) or {}
                self._finish(
                    conn, execution_arn, status, timestamp, details.get("output"), details.get("error"),
                    details.get("cause"),
                )

    def events(
        self, execution_arn: str, *, reverse: bool = False, after_id: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """History events in id order (or reversed); ``after_id`` skips through that id in the chosen order."""
        order = "DESC" if reverse else "ASC"
        sql = "SELECT id, type, timestamp, body FROM events WHERE execution_arn = ?"
        params: list[Any] = [execution_arn]
        if after_id is not None:
            sql += " AND id < ?" if reverse else " AND id > ?"
            params.append(after_id)
        sql += f" ORDER BY id {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        result = []
        for row in self._db.read(sql, tuple(params)):
            event: dict[str, Any] = {"timestamp": parse_datetime(row["timestamp"]), "type": row["type"], "id": row["id"]}
            event.update(loads(row["body"]))
            result.append(event)
        return result

    def journal(self, execution_arn: str) -> ExecutionJournal:
        return ExecutionJournal(self, execution_arn)

    # -- ownership and leases ---------------------------------------------------------------------------------

    def _ownership(self, owner: Owner) -> dict[str, Any]:
        return {
            "owner": owner.token, "owner_host": owner.host, "owner_pid": owner.pid,
            "owner_started": owner.started, "lease_expires": time.time() + self.lease_seconds,
        }

    def find_orphans(self) -> list[ExecutionRecord]:
        """RUNNING executions whose owner is gone: dead on this host, or silent past its lease."""
        me = current_owner().token
        now = time.time()
        orphans = []
        # A Map Run's children run inside their parent's process: they end with it, never resume alone.
        for row in self._db.read("SELECT * FROM executions WHERE status = 'RUNNING' AND type = 'STANDARD' "
                                 "AND map_run_arn IS NULL"):
            if row["owner"] == me:
                continue
            owner = Owner(row["owner_host"] or "", row["owner_pid"] or 0, row["owner_started"] or "")
            alive = owner.seems_alive() if row["owner"] else False
            if alive is False or (alive is None and (row["lease_expires"] or 0) < now):
                orphans.append(_from_row(ExecutionRecord, row))
        return orphans

    def claim_execution(self, arn: str, previous_owner: str | None) -> bool:
        """Take over a RUNNING execution from ``previous_owner``; False if another process was quicker."""
        row = self._ownership(current_owner())
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE executions SET owner = ?, owner_host = ?, owner_pid = ?, owner_started = ?, "
                "lease_expires = ? WHERE arn = ? AND status = 'RUNNING' AND owner IS ?",
                (row["owner"], row["owner_host"], row["owner_pid"], row["owner_started"], row["lease_expires"],
                 arn, previous_owner),
            )
            claimed = cursor.rowcount == 1
        if claimed:
            self._ensure_keeper()
        return claimed

    def renew_leases(self) -> int:
        """Extend the lease of every RUNNING execution this process owns; returns how many."""
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE executions SET lease_expires = ? WHERE owner = ? AND status = 'RUNNING'",
                (time.time() + self.lease_seconds, current_owner().token),
            )
            return cursor.rowcount

    def _ensure_keeper(self) -> None:
        with self._keeper_lock:
            if self._keeper is not None and self._keeper.is_alive():
                return
            self._keeper_stop.clear()
            self._keeper = threading.Thread(target=self._keep_leases, name="stepfn-lease-keeper", daemon=True)
            self._keeper.start()

    def _keep_leases(self) -> None:
        # Runs until close(): one cheap UPDATE per interval, and no race with a keeper that decides to quit.
        interval = max(self.lease_seconds / 3, 0.05)
        while not self._keeper_stop.wait(interval):
            try:
                self.renew_leases()
            except StoreError as error:
                # A busy or briefly unavailable file: the lease has slack for a missed renewal or two.
                logger.warning("could not renew execution leases: %s", error)

    def close(self) -> None:
        """Stop renewing leases and close the SQLite connections."""
        self._keeper_stop.set()
        keeper = self._keeper
        if keeper is not None and keeper is not threading.current_thread():
            keeper.join(timeout=5)
        self._db.close()


class ExecutionJournal:
    """The engine's ``Journal`` for one execution, backed by the store."""

    __slots__ = ("execution_arn", "store")

    def __init__(self, store: Store, execution_arn: str) -> None:
        self.store = store
        self.execution_arn = execution_arn

    def append(self, event: dict[str, Any]) -> None:
        self.store.append_event(self.execution_arn, event)

    def append_many(self, events: list[dict[str, Any]]) -> None:
        """Several events in one transaction (the engine batches the events of pure states)."""
        self.store.append_events(self.execution_arn, events)

    def append_encoded(self, events: list[tuple[int, str, datetime, str]]) -> None:
        """Several events the engine encoded itself (``stepfn.engine.history.EncodedEvent``), one transaction."""
        self.store.append_encoded_events(self.execution_arn, events)

    def events(self) -> list[dict[str, Any]]:
        return self.store.events(self.execution_arn)


__all__ = ["DEFAULT_LEASE_SECONDS", "ExecutionJournal", "Store"]
