"""Fixtures shared by every test package."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE_REPORT = REPO_ROOT / "build" / "conformance-report.txt"
_SESSION_START = time.time()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show the AWS-conformance pass rates (written by tests/conformance, maybe on an xdist worker)."""
    if CONFORMANCE_REPORT.is_file() and CONFORMANCE_REPORT.stat().st_mtime >= _SESSION_START:
        with CONFORMANCE_REPORT.open() as report:
            terminalreporter.write_line(f"conformance: {report.readline().strip()} (details: {CONFORMANCE_REPORT})")


DATA_DIR = REPO_ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """Outputs of the original SDK that stepfn must reproduce (provenance: tests/data/README.md)."""
    return DATA_DIR / "golden"


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """Cases recorded on AWS Step Functions and mock-config fixtures (provenance: tests/data/README.md)."""
    return DATA_DIR / "conformance"


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a newcomer's shell, for subprocesses: no ``STEPFN_HOME`` (the default relative
    home applies), no ``AWS_*`` variables, ``HOME`` an empty folder (no ``~/.aws``), a plain PATH with this
    interpreter's folder first. ``PYTHONPATH`` is kept only so a worktree's own sources stay first."""
    home = tmp_path / "user-home"
    home.mkdir()
    path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
    env = {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8", "COLUMNS": "80"}
    # From the autouse fixture: framework environments (STEPFN_JOB_ENV) and the control plane service
    # (STEPFN_IN_PROCESS) are tested on their own, and a service left idling would outlive the test's folder.
    for kept in ("PYTHONPATH", "STEPFN_JOB_ENV", "STEPFN_IN_PROCESS"):
        if os.environ.get(kept):
            env[kept] = os.environ[kept]
    return env


@pytest.fixture(autouse=True)
def stepfn_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own ``$STEPFN_HOME`` so no test reads another's executions or artifacts."""
    home = tmp_path_factory.mktemp("stepfn-home")
    monkeypatch.setenv("STEPFN_HOME", str(home))
    # Framework jobs run in stepfn's own Python here: building each image's environment is tested on its own
    # (tests/local/test_job_environments.py), not once per test home.
    monkeypatch.setenv("STEPFN_JOB_ENV", "host")
    # Unit tests run executions in their own process (and the subprocesses they start inherit it); the tests
    # of the control plane itself (tests/control) remove this to use the default, as a user does.
    monkeypatch.setenv("STEPFN_IN_PROCESS", "1")
    yield home


@pytest.fixture(scope="session", autouse=True)
def _no_control_plane_outlives_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Control planes that user-side tests started (one per test home, idling 10 minutes by default) end with
    the session, so a test run leaves no process behind. Only services whose home lies under this session's
    temporary folder are stopped: other runs on the machine keep theirs."""
    yield
    base = str(tmp_path_factory.getbasetemp().resolve())
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [arg.decode(errors="replace") for arg in argv]
        if "stepfn.server.control" in args and "--home" in args:
            home = args[args.index("--home") + 1] if args.index("--home") + 1 < len(args) else ""
            if home.startswith(base):
                with contextlib.suppress(OSError):
                    os.kill(int(entry.name), signal.SIGTERM)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def page() -> Iterator[Any]:
    """A Playwright page in Debian's headless Chromium (skipped where chromium is not installed)."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (CI installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    (REPO_ROOT / "build" / "screenshots").mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)  # a loaded 2-core CI machine can be slow to start executions
        yield page
        browser.close()
