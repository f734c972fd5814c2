"""The public surface of ``stepfn.workflow`` and ``stepfn.store``, and what importing them loads."""

from __future__ import annotations

import subprocess
import sys

import stepfn.store
import stepfn.workflow


def test_workflow_exports() -> None:
    assert sorted(stepfn.workflow.__all__) == sorted(
        ["EventsList", "Execution", "ExecutionFailedWarning", "ExecutionStatus", "ExecutionsList", "Workflow",
         "WorkflowList"])
    assert all(hasattr(stepfn.workflow, name) for name in stepfn.workflow.__all__)


def test_store_exports() -> None:
    assert {"Store", "ExecutionJournal", "ExecutionRecord", "StateMachineRecord", "RecordExists",
            "RecordNotFound", "default_home", "SCHEMA_VERSION"} <= set(stepfn.store.__all__)
    assert all(hasattr(stepfn.store, name) for name in stepfn.store.__all__)


def test_importing_workflow_loads_no_aws_sdk_engine_or_sqlite() -> None:
    code = (
        "import sys, stepfn.workflow\n"
        "print(sorted(m for m in ('boto3', 'botocore', 'sqlite3', 'stepfn.engine') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
