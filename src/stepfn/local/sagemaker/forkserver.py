"""Model servers forked from a warm interpreter: a job's fixed cost without the imports.

Starting a model server was a new interpreter importing stepfn, numpy and the framework (scikit-learn alone
takes a second here) before the user's module even loads: about 1.5 s on an idle machine, more on a busy
one, for every transform job. Here one *fork server* per stepfn process (started on first use, as
``python -m stepfn.local.sagemaker.forkserver``) forks each model server instead: the server is a fresh
process with its own session, environment, working directory and log, but the interpreter and the libraries
are already loaded.

Which libraries: what the model servers it forked imported. Each reports, once its models are loaded, the
library modules it imported (those under the interpreter's own directories or site-packages, never the
user's code); the fork server imports them between requests, so the second server of a framework starts
warm. Libraries known to be unsafe to fork after import (they start threads or device contexts at import:
TensorFlow, PyTorch, JAX, MXNet) are left to each server to import itself.

The fork server exits when the process that started it does (its end of the channel closes); the model
servers it forked run in sessions of their own and outlive it, as endpoints must. Where the fork server
cannot start or answer, :func:`spawn` returns None and the caller starts a fresh interpreter as before;
``STEPFN_MODEL_SERVER_FORK=0`` always does.

Environment variables that a library reads when it is imported (``OMP_NUM_THREADS`` for OpenBLAS, say)
take their value from the fork server's environment, not from the model's; the model's environment is
otherwise the server's ``os.environ``.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import importlib.util
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path
from typing import Any

# Imported by the servers themselves, never by the fork server: they start threads or device contexts at import.
_FORK_UNSAFE = frozenset({"tensorflow", "torch", "jax", "jaxlib", "mxnet", "tensorflow_core", "keras"})
_LIBRARY_DIRS = tuple(
    str(Path(path).resolve())
    for path in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
                 str(Path(__file__).resolve().parents[3])}
)


def _library_modules() -> list[str]:
    """Modules of this process that come from the interpreter's libraries or site-packages (or stepfn)."""
    names = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path or name == "__main__" or name.partition(".")[0] in _FORK_UNSAFE:
            continue
        with contextlib.suppress(OSError, ValueError):
            if str(Path(path).resolve()).startswith(_LIBRARY_DIRS):
                names.append(name)
    return names


def _report(learned: int) -> None:
    """Tell the fork server what this server imported: lines under PIPE_BUF, so each write is atomic."""
    line: list[str] = []
    for name in _library_modules():
        line.append(name)
        if len(json.dumps(line)) > 3500:
            os.write(learned, (json.dumps(line[:-1]) + "\n").encode())
            line = [name]
    if line:
        os.write(learned, (json.dumps(line) + "\n").encode())
    os.close(learned)


def _learn(learned: int, pending: bytearray) -> None:
    """Import the modules servers reported (what is not importable, or fails, is skipped)."""
    while True:
        try:
            chunk = os.read(learned, 65536)
        except BlockingIOError:
            break
        if not chunk:
            break
        pending.extend(chunk)
    *lines, rest = bytes(pending).split(b"\n")
    pending[:] = rest
    for line in lines:
        with contextlib.suppress(ValueError):
            for name in json.loads(line):
                if isinstance(name, str) and name not in sys.modules and _installed_library(name):
                    with contextlib.suppress(BaseException):
                        importlib.import_module(name)


def _installed_library(name: str) -> bool:
    """Whether ``name``'s package is one of the interpreter's libraries (never a model's code): the report
    comes from a process running a model's code, so its names are checked again here."""
    top = name.partition(".")[0]
    if top in _FORK_UNSAFE or not top.isidentifier():
        return False
    if top in sys.modules:
        return True
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    origin = spec.origin if spec is not None else None
    return bool(origin) and str(Path(str(origin)).resolve()).startswith(_LIBRARY_DIRS)


def _child(request: dict[str, Any], learned: int) -> None:
    """In the forked process: become the model server ``request`` describes; never returns."""
    from stepfn.local.sagemaker.modelserver import serve

    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for entry in reversed(request["env"].get("PYTHONPATH", "").split(os.pathsep)):
            if entry and entry not in sys.path:
                sys.path.insert(0, entry)
        # A fresh process draws fresh random numbers; forked ones would all repeat the fork server's.
        random.seed()
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        code = serve(json.loads(Path(request["spec"]).read_text()), on_ready=lambda: _report(learned))
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run(channel_fd: int) -> int:
    """The fork server: read one JSON request a line, fork a model server for it, answer its pid."""
    channel = socket.socket(fileno=channel_fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked servers are reaped by the kernel, not waited for
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent's Ctrl-C is the parent's
    import stepfn.local.sagemaker.modelserver  # noqa: F401 (what every server runs, loaded once here)

    learned_read, learned_write = os.pipe()
    os.set_blocking(learned_read, False)
    pending, buffered = bytearray(), b""
    while True:
        # A server's report is learned as soon as it arrives, while that server runs, so the next request of
        # the same framework already forks warm.
        readable, _, _ = select.select([channel.fileno(), learned_read], [], [])
        if learned_read in readable:
            _learn(learned_read, pending)
        if channel.fileno() not in readable:
            continue
        chunk = channel.recv(65536)
        if not chunk:
            return 0  # the process that started us is gone
        buffered += chunk
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                channel.close()
                os.close(learned_read)
                _child(request, learned_write)
            channel.sendall((json.dumps({"pid": pid}) + "\n").encode())


class _ForkServer:
    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        package_root = str(Path(__file__).resolve().parents[3])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(theirs.fileno())], pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            start_new_session=True)
        theirs.close()
        self.owner = os.getpid()
        self.channel = ours
        self.replies = ours.makefile("rb")
        self.lock = threading.Lock()

    def spawn(self, request: dict[str, Any]) -> int:
        with self.lock:
            self.channel.sendall((json.dumps(request) + "\n").encode())
            reply = self.replies.readline()
        if not reply:
            raise OSError("the fork server exited")
        return int(json.loads(reply)["pid"])

    def close(self) -> None:
        self.channel.close()
        self.replies.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


_SERVER: _ForkServer | None = None
_SERVER_LOCK = threading.Lock()
atexit.register(lambda: stop())


def spawn(spec_path: Path, env: dict[str, str], cwd: Path, log_path: Path) -> int | None:
    """Fork a model server for ``spec_path``; its pid, or None where no fork server can do it (the caller
    then starts a fresh interpreter)."""
    global _SERVER
    if os.environ.get("STEPFN_MODEL_SERVER_FORK", "1") == "0" or not hasattr(os, "fork"):
        return None
    # Absolute: the fork server's working directory is not this process's.
    request = {"spec": str(spec_path.resolve()), "env": env, "cwd": str(cwd.resolve()), "log": str(log_path.resolve())}
    with _SERVER_LOCK:
        for _ in range(2):  # a fork server that died (killed, or its parent forked) is replaced once
            try:
                # A fork server belongs to the process that started it (a forked copy of this one starts its own).
                if _SERVER is None or _SERVER.owner != os.getpid() or _SERVER.process.poll() is not None:
                    if _SERVER is not None:
                        _SERVER.close()
                    _SERVER = _ForkServer()
                return _SERVER.spawn(request)
            except (OSError, ValueError, KeyError):
                if _SERVER is not None:
                    _SERVER.close()
                _SERVER = None
    return None


def stop() -> None:
    """Stop this process's fork server (the model servers it forked keep running)."""
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is not None:
            _SERVER.close()
            _SERVER = None


if __name__ == "__main__":
    sys.exit(run(int(sys.argv[1])))
