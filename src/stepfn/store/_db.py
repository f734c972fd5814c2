"""The SQLite file under ``$STEPFN_HOME``: connections, transactions, schema migrations, JSON codec.

One connection per thread (sqlite3 connections must not cross threads), WAL so that readers in other
processes never block the writer, and a busy timeout so concurrent writers queue instead of failing.
Every write runs inside ``BEGIN IMMEDIATE`` ... ``COMMIT``: a crash leaves either all of it or none.

``synchronous=NORMAL`` under WAL makes a commit durable against the *process* dying (kill -9) before
the call returns; only a power loss can drop the last commits. ``STEPFN_DB_SYNC=FULL`` trades speed for
power-loss durability too.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stepfn._home import stepfn_home
from stepfn.asl.paths import json_encoder
from stepfn.errors import StoreError

DB_FILENAME = "stepfn.db"
BUSY_TIMEOUT_MS = 30_000

# Each entry upgrades the schema from version i to i + 1; ``PRAGMA user_version`` records how far a file got.
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE state_machines (
        arn TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        definition TEXT NOT NULL,
        role_arn TEXT NOT NULL,
        description TEXT,
        logging_configuration TEXT,
        tracing_configuration TEXT,
        revision_id TEXT NOT NULL,
        creation_date TEXT NOT NULL,
        update_date TEXT,
        version_counter INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE state_machine_versions (
        arn TEXT PRIMARY KEY,
        state_machine_arn TEXT NOT NULL,
        version INTEGER NOT NULL,
        type TEXT NOT NULL,
        definition TEXT NOT NULL,
        role_arn TEXT NOT NULL,
        description TEXT,
        logging_configuration TEXT,
        tracing_configuration TEXT,
        revision_id TEXT NOT NULL,
        creation_date TEXT NOT NULL,
        UNIQUE (state_machine_arn, version)
    );
    CREATE TABLE state_machine_aliases (
        arn TEXT PRIMARY KEY,
        state_machine_arn TEXT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        routing_configuration TEXT NOT NULL,
        creation_date TEXT NOT NULL,
        update_date TEXT NOT NULL
    );
    CREATE TABLE tags (
        resource_arn TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (resource_arn, key)
    );
    CREATE TABLE executions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        arn TEXT NOT NULL UNIQUE,
        state_machine_arn TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        input TEXT,
        output TEXT,
        error TEXT,
        cause TEXT,
        start_date TEXT NOT NULL,
        stop_date TEXT,
        definition TEXT NOT NULL,
        role_arn TEXT,
        version_arn TEXT,
        alias_arn TEXT,
        trace_header TEXT,
        redrive_count INTEGER NOT NULL DEFAULT 0,
        redrive_date TEXT,
        owner TEXT,
        owner_host TEXT,
        owner_pid INTEGER,
        owner_started TEXT,
        lease_expires REAL
    );
    CREATE INDEX executions_by_machine ON executions (state_machine_arn, seq);
    CREATE INDEX executions_by_status ON executions (status);
    CREATE TABLE events (
        execution_arn TEXT NOT NULL,
        id INTEGER NOT NULL,
        type TEXT NOT NULL,
        timestamp TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (execution_arn, id)
    ) WITHOUT ROWID;
    """,
    # 2: stop requests for an execution that another process runs (its owner polls for them).
    """
    ALTER TABLE executions ADD COLUMN stop_requested_at TEXT;
    ALTER TABLE executions ADD COLUMN stop_error TEXT;
    ALTER TABLE executions ADD COLUMN stop_cause TEXT;
    """,
    # 3: task-token callbacks sent by a process that does not run the waiting execution.
    """
    CREATE TABLE task_callbacks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        token TEXT NOT NULL,
        kind TEXT NOT NULL,
        output TEXT,
        error TEXT,
        cause TEXT,
        created REAL NOT NULL,
        outcome TEXT
    );
    """,
    # 4: distributed Map Runs, and the child executions each one starts (listed by ListExecutions(mapRunArn)).
    """
    CREATE TABLE map_runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        arn TEXT NOT NULL UNIQUE,
        execution_arn TEXT NOT NULL,
        state_machine_arn TEXT NOT NULL,
        status TEXT NOT NULL,
        start_date TEXT NOT NULL,
        stop_date TEXT,
        max_concurrency INTEGER NOT NULL DEFAULT 0,
        tolerated_failure_count INTEGER,
        tolerated_failure_percentage REAL,
        item_total INTEGER NOT NULL DEFAULT 0,
        execution_total INTEGER NOT NULL DEFAULT 0,
        results_written INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        cause TEXT,
        redrive_count INTEGER NOT NULL DEFAULT 0,
        redrive_date TEXT
    );
    CREATE INDEX map_runs_by_execution ON map_runs (execution_arn, seq);
    ALTER TABLE executions ADD COLUMN map_run_arn TEXT;
    ALTER TABLE executions ADD COLUMN item_count INTEGER;
    CREATE INDEX executions_by_map_run ON executions (map_run_arn, seq);
    """,
    # 5: a state machine's top-level executions newest first, one page at a time (keyset pagination); without
    # it a listing walks past every Map Run child of the machine.
    """
    CREATE INDEX executions_top_level ON executions (state_machine_arn, seq) WHERE map_run_arn IS NULL;
    """,
    # 6: the same index covering every column a listing returns (and filters on): rows store the input and
    # output (kilobytes, overflow pages) before those columns, so reading a listing from the table walked
    # through them. From the index alone, a page costs the same whatever the documents weigh.
    """
    DROP INDEX executions_top_level;
    CREATE INDEX executions_listing ON executions (state_machine_arn, seq, arn, name, status, start_date, stop_date,
        version_arn, alias_arn, redrive_count, redrive_date, map_run_arn, item_count) WHERE map_run_arn IS NULL;
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)

_DATETIME_TAG = "__datetime__"


def _encode_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_DATETIME_TAG: format_datetime(value)}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _decode_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _DATETIME_TAG in obj:
        return parse_datetime(obj[_DATETIME_TAG])
    return obj


_ENCODE = json_encoder(default=_encode_default)


def dumps(value: Any) -> str:
    """JSON text for a stored value; datetimes (anywhere inside) survive the round trip as aware datetimes."""
    return _ENCODE(value)


def loads(text: str) -> Any:
    if _DATETIME_TAG in text:
        return json.loads(text, object_hook=_decode_hook)
    return json.loads(text)


def format_datetime(value: datetime) -> str:
    if value.tzinfo is UTC:  # the engine's timestamps: already UTC, nothing to convert
        return value.isoformat()
    if value.tzinfo is None:
        raise StoreError(f"refusing to store a naive datetime {value!r}: history timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat()


def parse_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text)


default_home = stepfn_home



def _journal_mode_wal(conn: sqlite3.Connection) -> Any:
    """Switch to WAL, retrying while another process switches the same new file: SQLite answers "database is
    locked" at once there (two `stepfn run` started together on a fresh home), without its busy handler."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)

class Database:
    """The SQLite file, a small pool of connections, and transactions that commit whole or not at all.

    A connection is borrowed for one read or one transaction and given back, so any number of short-lived
    engine threads share a handful of connections (one per thread would leak a file handle per execution).
    """

    POOL_SIZE = 8

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.path = self.home / DB_FILENAME
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._synchronous = os.environ.get("STEPFN_DB_SYNC", "NORMAL").upper()
        if self._synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise StoreError(f"STEPFN_DB_SYNC must be OFF, NORMAL, FULL or EXTRA, not {self._synchronous!r}")
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create the stepfn home {self.home}: {error}") from error
        self._migrate()

    def _connect(self) -> sqlite3.Connection:
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so sqlite3 never opens hidden transactions.
            # check_same_thread=False: a pooled connection moves between threads, one borrower at a time.
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = _journal_mode_wal(conn)
            if str(mode).lower() != "wal":
                conn.close()
                raise StoreError(f"{self.path}: SQLite refused WAL mode (got {mode!r}); is it on a network filesystem?")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the execution store {self.path}: {error}") from error
        conn.row_factory = sqlite3.Row
        return conn

    @contextmanager
    def _borrow(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        finally:
            with self._lock:
                keep = len(self._idle) < self.POOL_SIZE
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: ``BEGIN IMMEDIATE`` takes the write lock up front, so it never fails half-way
        with SQLITE_BUSY on upgrade; any exception rolls everything back. Not reentrant."""
        with self._borrow() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise StoreError(f"{self.path}: cannot start a write transaction: {error}") from error
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as error:
                conn.execute("ROLLBACK")
                raise StoreError(f"{self.path}: commit failed: {error}") from error

    def read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._borrow() as conn:
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as error:
                raise StoreError(f"{self.path}: query failed: {error}") from error

    def _migrate(self) -> None:
        with self.write() as conn:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {current}, newer than this stepfn understands "
                    f"({SCHEMA_VERSION}); upgrade stepfn or point STEPFN_HOME elsewhere"
                )
            for version in range(current, SCHEMA_VERSION):
                # executescript would COMMIT our transaction; run the statements one by one instead.
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
            if current != SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the idle connections; a later use opens new ones."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
