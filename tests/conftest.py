"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE_REPORT = REPO_ROOT / "build" / "conformance-report.txt"
_SESSION_START = time.time()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show the AWS-conformance pass rates (written by tests/conformance, maybe on an xdist worker)."""
    if CONFORMANCE_REPORT.is_file() and CONFORMANCE_REPORT.stat().st_mtime >= _SESSION_START:
        with CONFORMANCE_REPORT.open() as report:
            terminalreporter.write_line(f"conformance: {report.readline().strip()} (details: {CONFORMANCE_REPORT})")


def _shared_dir() -> Path:
    return Path(os.environ.get("STEPFN_SHARED", REPO_ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the repository (CI lays a copy there), or ``$STEPFN_SHARED``."""
    path = _shared_dir()
    if not path.is_dir():
        pytest.fail(f"shared material not found at {path}; set STEPFN_SHARED")
    return path


@pytest.fixture(scope="session")
def golden_dir(shared_dir: Path) -> Path:
    return shared_dir / "golden"


@pytest.fixture
def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, for a server started in another process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def stepfn_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own ``$STEPFN_HOME`` so no test reads another's executions or artifacts."""
    home = tmp_path_factory.mktemp("stepfn-home")
    monkeypatch.setenv("STEPFN_HOME", str(home))
    yield home
