"""Fixtures of the control-plane tests: the default (control-plane) client as a user has it, and a user's
training project. Every test stops the services it started."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from control_support import SRC, TrainingProject, shut_down


@pytest.fixture
def user_home(stepfn_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``$STEPFN_HOME`` with the default (control-plane) client, as a user has it; services stopped after."""
    monkeypatch.delenv("STEPFN_IN_PROCESS", raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield stepfn_home
    shut_down(stepfn_home)


@pytest.fixture
def project(user_home: Path, tmp_path: Path) -> TrainingProject:
    return TrainingProject(tmp_path / "project")
