"""``git_config=``: the code of an estimator or model comes from a git repository (sagemaker v2 ``git_utils``).

As sagemaker v2 does, the repository is cloned with ``git`` into a new temporary directory, ``branch`` and then
``commit`` are checked out, and the paths are resolved inside the clone: ``source_dir`` (which must hold
``entry_point``) becomes the clone's directory, or, without one, ``entry_point`` becomes the script's path in the
clone. From there the code is a local ``source_dir`` (or lone entry point), packed as ``sourcedir.tar.gz`` where
the workflow runs, exactly as a directory given by hand would be.

HTTPS credentials (``username``/``password``, or ``token``) go into the clone URL, and git never prompts
(``GIT_TERMINAL_PROMPT=0``): a repository that needs credentials it was not given is an error, not a hang. SSH
URLs use the caller's SSH agent and keys.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = ["clone_code"]

_KEYS = {"repo", "branch", "commit", "2FA_enabled", "username", "password", "token"}


def _authenticated(repo: str, config: dict[str, Any]) -> str:
    if not repo.startswith("https://"):
        return repo
    parts = urlsplit(repo)
    if config.get("token"):
        credentials = quote(str(config["token"]), safe="")
    elif config.get("username") and config.get("password"):
        credentials = f"{quote(str(config['username']), safe='')}:{quote(str(config['password']), safe='')}"
    else:
        return repo
    return urlunsplit((parts.scheme, f"{credentials}@{parts.hostname}" + (f":{parts.port}" if parts.port else ""),
                       parts.path, parts.query, parts.fragment))


def _git(*args: str, cwd: str | None = None) -> None:
    import subprocess  # only when a git_config is given: building requests never starts processes

    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    try:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise RuntimeError("git_config= needs the git command, which is not on PATH.") from exc
    except subprocess.CalledProcessError as exc:
        # The URL may carry a token: name the repository without it.
        safe = [a if "@" not in a or not a.startswith("https://") else "<repository>" for a in args]
        raise RuntimeError(f"git {' '.join(safe)} failed: {exc.stderr.strip() or exc.stdout.strip()}") from exc


def clone_code(git_config: dict[str, Any], entry_point: Any, source_dir: Any) -> tuple[Any, Any]:
    """Clone ``git_config["repo"]`` and return ``(entry_point, source_dir)`` resolved inside the clone."""
    if not isinstance(git_config, dict) or "repo" not in git_config:
        raise ValueError("Please provide a repo for git_config.")
    unknown = sorted(set(git_config) - _KEYS)
    if unknown:
        raise ValueError(f"Unknown git_config key(s): {', '.join(unknown)}. Known keys: {', '.join(sorted(_KEYS))}.")
    for key in _KEYS - {"2FA_enabled"}:
        if key in git_config and not isinstance(git_config[key], str):
            raise ValueError(f"'{key}' must be a string.")
    if not isinstance(entry_point, str) or not entry_point:
        raise ValueError("git_config= needs entry_point: the script's path in the repository.")
    import tempfile

    destination = tempfile.mkdtemp(prefix="stepfn-git-")
    _git("clone", _authenticated(git_config["repo"], git_config), destination)
    for ref in (git_config.get("branch"), git_config.get("commit")):
        if ref:
            _git("checkout", ref, cwd=destination)
    if source_dir:
        directory = os.path.join(destination, str(source_dir))
        if not os.path.isdir(directory):
            raise ValueError("Source directory does not exist in the repo.")
        if not os.path.isfile(os.path.join(directory, entry_point)):
            raise ValueError("Entry point does not exist in the repo.")
        return entry_point, directory
    script = os.path.join(destination, entry_point)
    if not os.path.isfile(script):
        raise ValueError("Entry point does not exist in the repo.")
    return script, None
