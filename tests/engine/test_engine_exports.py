"""The engine's public surface (contracts.md §2) and what importing it loads."""

from __future__ import annotations

import subprocess
import sys

import stepfn.engine as engine_package


def test_contract_names_are_exported() -> None:
    for name in ("Engine", "ExecutionHandle", "ExecutionResult", "Clock", "ScaledClock", "SystemClock", "Journal",
                 "TaskRequest", "TaskControl", "TaskHandler", "UnknownTaskToken", "compile_definition"):
        assert name in engine_package.__all__
        assert hasattr(engine_package, name)
    assert sorted(engine_package.__all__) == engine_package.__all__


def test_importing_the_engine_loads_no_backend_io() -> None:
    code = ("import sys, stepfn.engine, stepfn.engine.mocking, stepfn.engine.teststate; "
            "print(','.join(m for m in ('boto3', 'botocore', 'sqlite3', 'subprocess', 'stepfn.local', 'stepfn.aws', "
            "'stepfn.steps', 'stepfn.store', 'stepfn.workflow') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
