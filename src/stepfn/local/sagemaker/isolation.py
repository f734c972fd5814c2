"""Container paths without a container: each job's process runs in its own mount namespace in which the job's
directory *is* ``/opt/ml`` (and, for bring-your-own images, their program directory is ``/opt/program``), so
scripts that hard-code container paths run unchanged, and many jobs run at once, each seeing its own tree.

Modes, tried in this order unless ``STEPFN_JOB_ISOLATION`` names one (``bwrap``, ``unshare``, ``none``):

* ``bwrap`` (bubblewrap): a new mount namespace whose root binds every top-level host directory in place
  except ``/opt``, which becomes a tmpfs holding the host's ``/opt/*`` entries plus the job's mounts. Nothing is
  created on the host (binding ``/`` whole would make bwrap create ``/opt/ml`` on the host's disk when run as
  root).
* ``unshare`` (util-linux, ``--mount --map-root-user``): the same layout made by a short ``sh`` script: the
  host's ``/opt`` is bound aside (into the job's scratch directory), a tmpfs covers ``/opt``, each entry is bound
  back, then the job's mounts. The job runs as root of its user namespace (SageMaker containers run as root);
  files it writes belong to the calling user on the host.
* ``none``: no namespace; ``/opt/ml`` is relocated into the job's directory (``SAGEMAKER_BASE_DIR`` and the
  ``SM_*`` variables point there) and a script opening a hard-coded ``/opt/ml`` path gets a clear message.

Each mode is probed once per process (a tiny job that must see a file through ``/opt/ml``): sandboxes and
hardened kernels forbid user namespaces, and an installed ``bwrap`` says nothing about whether it works.
Host paths stay valid inside the namespace, so interpreters, virtual environments and the object store are
where they were.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

IsolationMode = Literal["bwrap", "unshare", "none"]
ISOLATION_ENV = "STEPFN_JOB_ISOLATION"
CONTAINER_ROOT = "/opt"
_PROBE_TIMEOUT_SECONDS = 10.0


class IsolationError(RuntimeError):
    """The isolation mode asked for with ``STEPFN_JOB_ISOLATION`` does not work on this machine."""


@dataclass(frozen=True)
class Isolation:
    mode: IsolationMode
    detail: str
    """Why this mode (for the job log): the probe's failure for ``none``, the tool for the others."""

    @property
    def isolated(self) -> bool:
        return self.mode != "none"

    def describe(self, base: Path) -> str:
        """The job-log line saying which mode ran."""
        if self.isolated:
            return f"stepfn: isolation {self.mode}: the job sees its directory as /opt/ml ({self.detail})"
        return (f"stepfn: isolation none: /opt/ml is relocated to {base} (SAGEMAKER_BASE_DIR, SM_* variables); "
                f"{self.detail}")


@dataclass(frozen=True)
class Mount:
    """``host`` seen at ``target`` (a path under ``/opt``) inside the job's namespace."""

    target: str
    host: Path


HOSTS_FILE = "/etc/hosts"
"""The one mount outside /opt: a multi-instance job's hosts resolve ``algo-1``, ``algo-2``... to this machine."""


def _check_target(target: str) -> None:
    parts = target.split("/")
    if target == HOSTS_FILE:
        return
    if not target.startswith(CONTAINER_ROOT + "/") or any(p in ("", ".", "..") for p in parts[1:]):
        raise ValueError(f"mount target {target!r} must be a plain path under {CONTAINER_ROOT}/ (or {HOSTS_FILE})")


def _bwrap_argv(argv: Sequence[str], mounts: Sequence[Mount], cwd: str) -> list[str]:
    args = ["bwrap", "--die-with-parent"]
    for entry in sorted(os.listdir("/")):
        path = "/" + entry
        if entry == "opt":
            continue
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--dev-bind", path, path]
        elif os.path.exists(path):  # a plain file at the root (/.dockerenv...)
            args += ["--ro-bind", path, path]
    args += ["--dir", CONTAINER_ROOT]
    targets = {m.target.split("/")[2] for m in mounts if m.target != HOSTS_FILE}
    for entry in sorted(os.listdir(CONTAINER_ROOT)) if os.path.isdir(CONTAINER_ROOT) else []:
        if entry not in targets:
            path = f"{CONTAINER_ROOT}/{entry}"
            args += (["--symlink", os.readlink(path), path] if os.path.islink(path)
                     else ["--dev-bind", path, path])
    for mount in mounts:
        args += ["--ro-bind" if mount.target == HOSTS_FILE else "--bind", str(mount.host), mount.target]
    return [*args, "--chdir", cwd, "--", *argv]


def _unshare_argv(argv: Sequence[str], mounts: Sequence[Mount], cwd: str, scratch: Path) -> list[str]:
    stage = scratch / "host-opt"
    stage.mkdir(parents=True, exist_ok=True)
    quote = shlex.quote
    targets = {m.target.split("/")[2] for m in mounts if m.target != HOSTS_FILE}
    lines = ["set -e", f"stage={quote(str(stage))}"]
    if os.path.isdir(CONTAINER_ROOT):
        lines += [f"mount --rbind {CONTAINER_ROOT} \"$stage\""]
    lines += [f"mount -t tmpfs -o mode=0755 stepfn-opt {CONTAINER_ROOT}"]
    for entry in sorted(os.listdir(CONTAINER_ROOT)) if os.path.isdir(CONTAINER_ROOT) else []:
        if entry in targets:
            continue
        source, path = f"\"$stage\"/{quote(entry)}", quote(f"{CONTAINER_ROOT}/{entry}")
        if os.path.islink(f"{CONTAINER_ROOT}/{entry}"):
            lines.append(f"ln -s {quote(os.readlink(f'{CONTAINER_ROOT}/{entry}'))} {path}")
        else:
            make = "mkdir" if os.path.isdir(f"{CONTAINER_ROOT}/{entry}") else "touch"
            lines += [f"{make} {path}", f"mount --rbind {source} {path}"]
    for mount in mounts:
        if mount.target != HOSTS_FILE:  # /etc/hosts is there already: only directories under the tmpfs are made
            lines.append(f"mkdir -p {quote(mount.target)}")
        lines.append(f"mount --bind {quote(str(mount.host))} {quote(mount.target)}")
    if os.path.isdir(CONTAINER_ROOT):
        lines.append("umount -l \"$stage\"")
    lines += [f"cd {quote(cwd)}", "exec \"$@\""]
    return ["unshare", "--mount", "--map-root-user", "--", "/bin/sh", "-c", "\n".join(lines), "stepfn-job", *argv]


def isolate(
    argv: Sequence[str], *, isolation: Isolation, mounts: Sequence[Mount], cwd: str, scratch: Path
) -> list[str]:
    """``argv`` wrapped to run in its own mount namespace with ``mounts`` in place and ``cwd`` (a path as the
    job sees it) as its working directory; ``argv`` unchanged for ``none``. ``scratch`` is a directory of the
    job's own (``unshare`` binds the host's ``/opt`` there for a moment)."""
    for mount in mounts:
        _check_target(mount.target)
    if isolation.mode == "bwrap":
        return _bwrap_argv(argv, mounts, cwd)
    if isolation.mode == "unshare":
        return _unshare_argv(argv, mounts, cwd, scratch)
    return list(argv)


def _probe(mode: IsolationMode) -> str | None:
    """None when ``mode`` works here, else why not."""
    tool = "bwrap" if mode == "bwrap" else "unshare"
    if not sys.platform.startswith("linux"):
        return f"mount namespaces need Linux (this is {sys.platform})"
    if shutil.which(tool) is None:
        return f"{tool} is not installed"
    with tempfile.TemporaryDirectory(prefix="stepfn-probe-") as scratch:
        base = Path(scratch) / "ml"
        base.mkdir()
        (base / "probe").write_text("ok")
        argv = isolate(["/bin/sh", "-c", "cat /opt/ml/probe && touch /opt/ml/written"],
                       isolation=Isolation(mode, ""), mounts=[Mount("/opt/ml", base)], cwd="/opt/ml",
                       scratch=Path(scratch))
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=_PROBE_TIMEOUT_SECONDS,
                                    stdin=subprocess.DEVNULL, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"{tool} did not run: {exc}"
        if result.returncode != 0 or result.stdout.strip() != "ok" or not (base / "written").exists():
            why = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
            return f"{tool} cannot make a mount namespace here: {why}"
    return None


PROGRAM_DIR = "/opt/program"


@dataclass(frozen=True)
class Launch:
    """One job process as the job sees it: ``argv``, ``env`` and working directory ``cwd`` use container paths
    under isolation and relocated host paths without; :meth:`command` and :attr:`host_cwd` are what starts it."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    """The working directory as the job sees it; None runs ``argv`` as is (``docker run`` mounts for itself)."""
    base: Path
    """The job's ``/opt/ml`` on the host."""
    isolation: Isolation
    program: Path | None = None
    """A bring-your-own image's program directory: ``/opt/program`` inside, and first on ``PATH``."""
    hosts_file: Path | None = None
    """Seen as ``/etc/hosts`` (a multi-instance job's host names)."""

    def command(self) -> list[str]:
        if self.cwd is None or not self.isolation.isolated:
            return list(self.argv)
        mounts = [Mount("/opt/ml", self.base)]
        if self.program is not None:
            mounts.append(Mount(PROGRAM_DIR, self.program))
        if self.hosts_file is not None:
            mounts.append(Mount(HOSTS_FILE, self.hosts_file))
        return isolate(self.argv, isolation=self.isolation, mounts=mounts, cwd=self.cwd, scratch=self.base.parent.parent)

    @property
    def wrapped(self) -> bool:
        """Whether the process started waits for the job rather than being it (bubblewrap's monitor; unshare
        execs the job in place)."""
        return self.cwd is not None and self.isolation.mode == "bwrap"

    @property
    def host_cwd(self) -> Path:
        """Where the process starts on the host (inside its namespace it moves to :attr:`cwd` itself)."""
        if self.cwd is None or self.isolation.isolated:
            return self.base.parent.parent
        return Path(self.cwd)

    @property
    def environment(self) -> dict[str, str]:
        if self.program is None:
            return self.env
        program = PROGRAM_DIR if self.isolation.isolated else str(self.program)
        return self.env | {"PATH": os.pathsep.join([program, self.env.get("PATH", os.defpath)])}


NOT_ISOLATED = Isolation("none", "not applicable")


_NAMESPACE_MODES: dict[str, IsolationMode] = {"bwrap": "bwrap", "unshare": "unshare"}  # in the order tried
_chosen: dict[str, Isolation] = {}
_chosen_lock = threading.Lock()


def choose_isolation() -> Isolation:
    """The mode jobs run in: ``STEPFN_JOB_ISOLATION`` if set (raising :class:`IsolationError` when that mode
    does not work), else the first of bwrap, unshare that works, else none. Probed once per process."""
    wanted = os.environ.get(ISOLATION_ENV, "").strip().lower() or "auto"
    if wanted not in ("auto", "bwrap", "unshare", "none"):
        raise IsolationError(f"{ISOLATION_ENV}={wanted!r}: use bwrap, unshare, none or auto")
    key = f"{wanted}:{os.environ.get('PATH', '')}"  # another PATH may find other tools
    with _chosen_lock:
        if key in _chosen:
            return _chosen[key]
        forced = _NAMESPACE_MODES.get(wanted)
        if wanted == "none":
            chosen = Isolation("none", f"{ISOLATION_ENV}=none")
        elif forced is not None:
            failure = _probe(forced)
            if failure is not None:
                raise IsolationError(f"{ISOLATION_ENV}={wanted}, but {failure}")
            chosen = Isolation(forced, f"{ISOLATION_ENV}={wanted}")
        else:
            failures = []
            for mode in _NAMESPACE_MODES.values():
                failure = _probe(mode)
                if failure is None:
                    chosen = Isolation(mode, f"{mode} works here")
                    break
                failures.append(failure)
            else:
                chosen = Isolation("none", "namespaces unavailable: " + "; ".join(failures) +
                                   " (install bubblewrap, or allow unprivileged user namespaces)")
        _chosen[key] = chosen
        return chosen


__all__ = [
    "HOSTS_FILE",
    "ISOLATION_ENV",
    "NOT_ISOLATED",
    "PROGRAM_DIR",
    "Isolation",
    "IsolationError",
    "IsolationMode",
    "Launch",
    "Mount",
    "choose_isolation",
    "isolate",
]
