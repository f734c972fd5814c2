"""Durable local state: state machines, versions, aliases, tags, executions and history in SQLite.

``Store(home)`` opens (creating and migrating as needed) ``<home>/stepfn.db``; ``home`` defaults to
``$STEPFN_HOME`` or ``./.stepfn``. ``Store.journal(arn)`` is the engine's durable ``Journal``.
"""

from __future__ import annotations

from stepfn.store._db import DB_FILENAME, SCHEMA_VERSION, default_home
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
from stepfn.store._store import DEFAULT_LEASE_SECONDS, ExecutionJournal, Store

__all__ = [
    "DB_FILENAME",
    "DEFAULT_LEASE_SECONDS",
    "SCHEMA_VERSION",
    "AliasRecord",
    "ExecutionJournal",
    "ExecutionRecord",
    "ExecutionSummary",
    "MapRunRecord",
    "NotRedrivable",
    "Owner",
    "RecordExists",
    "RecordNotFound",
    "StateMachineRecord",
    "Store",
    "VersionRecord",
    "current_owner",
    "default_home",
]
