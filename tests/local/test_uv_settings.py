"""How stepfn calls uv: the system-certificates setting under the name the installed uv reads."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stepfn.local.sagemaker import envs


def test_the_installed_uv_gets_its_current_certificates_variable_and_prints_no_deprecation() -> None:
    lines: list[str] = []
    code, _ = envs._run_uv(["python", "find", "3"], lines.append)
    assert code == 0
    assert not [line for line in lines if "deprecated" in line]
    assert envs._system_certs_variable(envs.uv_binary()) in ("UV_SYSTEM_CERTS", "UV_NATIVE_TLS")


def test_an_older_uv_without_the_new_name_gets_the_old_one(tmp_path: Path) -> None:
    old_uv = tmp_path / "uv"
    old_uv.write_text("#!/bin/sh\necho '      --native-tls  Whether to load TLS certificates [env: UV_NATIVE_TLS=]'\n")
    old_uv.chmod(0o755)
    assert envs._system_certs_variable(str(old_uv)) == "UV_NATIVE_TLS"
    new_uv = tmp_path / "uv-new"
    new_uv.write_text("#!/bin/sh\necho '      --system-certs  Whether to load TLS certificates [env: UV_SYSTEM_CERTS=]'\n")
    new_uv.chmod(0o755)
    assert envs._system_certs_variable(str(new_uv)) == "UV_SYSTEM_CERTS"
    assert envs._system_certs_variable(str(tmp_path / "missing")) == "UV_NATIVE_TLS"


def test_uv_lines_carry_no_colour_codes_when_a_jupyter_kernel_forces_colour(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """ipykernel exports FORCE_COLOR; a job started from a notebook kept uv's ANSI codes in its FailureReason."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("CLICOLOR_FORCE", "1")
    lines: list[str] = []
    code, tail = envs._run_uv(["pip", "install", "--offline", "--python", sys.executable, "--target",
                               str(tmp_path / "target"), "stepfn-no-such-package"], lines.append)
    assert code != 0
    assert any("stepfn-no-such-package" in line for line in tail), tail
    assert not [line for line in lines if "\x1b" in line], lines
