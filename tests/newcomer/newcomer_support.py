"""What a newcomer meets, reproduced: a fresh clone, a clean environment, the README's own commands.

``docs``-style recipe: docs/design/user-side-testing.md ("A newcomer on a fresh machine"). Everything runs
in subprocesses under an environment built from nothing, as ``env -i PATH="$(getconf PATH)" HOME=<tmp>
LANG=C.UTF-8`` builds it: Debian's own ``python3``, no pyenv, no AWS variables, no ``STEPFN_HOME``, no
``~/.aws``. Commands are parsed from README.md, never retyped here, so the README cannot drift from what works.
"""

from __future__ import annotations

import csv
import http.cookiejar
import io
import json
import re
import shlex
import socket
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
# The data the README's `stepfn cp` line puts in: rows of x,y on the line y = 2x + 1, so the trained model is known.
DATA_ROWS = [(x, 2 * x + 1) for x in range(1, 21)]


def clean_env(home: Path, bin_dir: Path | None = None) -> dict[str, str]:
    """``env -i PATH="$(getconf PATH)" HOME=home LANG=C.UTF-8``, with ``bin_dir`` first on PATH as activating a
    venv puts it."""
    system_path = subprocess.run(["getconf", "PATH"], capture_output=True, text=True, check=True).stdout.strip()
    path = f"{bin_dir}:{system_path}" if bin_dir is not None else system_path
    return {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8"}


def run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run one command as the person would; the transcript goes into the assertion message on failure."""
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def transcript(result: subprocess.CompletedProcess[str]) -> str:
    return f"$ {shlex.join(result.args)}\nexit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def clone_head(destination: Path) -> Path:
    """``git clone`` of the repository these tests run in, checked out at its HEAD commit (committed work only)."""
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(REPO), str(destination)], check=True, timeout=300)
    subprocess.run(["git", "-C", str(destination), "checkout", "-q", "--detach", head], check=True, timeout=300)
    return destination


# -- reading the README ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Readme:
    text: str

    def blocks(self, language: str) -> list[str]:
        return re.findall(rf"^```{language}\n(.*?)^```", self.text, flags=re.S | re.M)

    def first_command(self) -> list[str]:
        """The first command of the first shell block (the README's promise: ``make demo``)."""
        return self.commands(self.blocks("bash")[0])[0]

    @staticmethod
    def commands(block: str) -> list[list[str]]:
        """Each line of a shell block as argv, comments dropped (shlex keeps a ``#`` inside quotes)."""
        return [argv for line in block.splitlines() if (argv := shlex.split(line, comments=True))]

    def user_files(self) -> dict[str, str]:
        """The Python blocks that start with ``# file: NAME``: the files the person writes."""
        files = {}
        for block in self.blocks("python"):
            first, _, _ = block.partition("\n")
            if first.startswith("# file: "):
                files[first.removeprefix("# file: ").strip()] = block
        return files

    def run_sequence(self) -> list[list[str]]:
        """The shell block that runs the pipeline: ``stepfn cp``, ``run``, ``executions``, ``show``."""
        block = next(b for b in self.blocks("bash") if "stepfn run " in b)
        return self.commands(block)


def read_readme(root: Path) -> Readme:
    return Readme((root / "README.md").read_text())


# -- the person's own pipeline --------------------------------------------------------------------------------


def write_user_folder(folder: Path, readme: Readme) -> None:
    folder.mkdir(parents=True)
    files = readme.user_files()
    assert {"pipeline.py", "train.py"} <= set(files), f"README shows no pipeline.py/train.py: {sorted(files)}"
    for name, text in files.items():
        (folder / name).write_text(text)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(DATA_ROWS)
    (folder / "data.csv").write_text(buffer.getvalue())


def follow_run_sequence(folder: Path, readme: Readme, env: dict[str, str]) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run the README's run-and-watch lines in ``folder``; asserts each exits 0, returns them by subcommand."""
    results = {}
    for argv in readme.run_sequence():
        assert argv[0] == "stepfn", f"README run sequence has a non-stepfn line: {argv}"
        result = run(argv, cwd=folder, env=env, timeout=600)
        assert result.returncode == 0, transcript(result)
        results[argv[1]] = result
    assert {"cp", "run", "executions", "show"} <= set(results), sorted(results)
    return results


def check_user_pipeline_results(folder: Path, results: dict[str, subprocess.CompletedProcess[str]]) -> str:
    """What the person looks at after the README's sequence; returns the execution name ``show`` was given."""
    cp_argv = results["cp"].args
    destination = cp_argv[-1]
    bucket, _, key = destination.removeprefix("s3://").partition("/")
    home = folder / ".stepfn"  # the default home: ./.stepfn of the folder the commands ran in
    stored = home / "s3" / bucket / key
    assert stored.is_file(), f"stepfn cp put nothing at {stored}\n{transcript(results['cp'])}"
    assert stored.read_text() == (folder / "data.csv").read_text()

    ran = results["run"]
    assert "slope=2.000 intercept=1.000" in ran.stdout, "the training script's output streams\n" + transcript(ran)
    assert "SUCCEEDED" in ran.stdout and "Save model" in ran.stdout, transcript(ran)
    name = ran.args[ran.args.index("--name") + 1] if "--name" in ran.args else None
    job_name = json.loads(ran.args[ran.args.index("--input") + 1])["JobName"]
    artifacts = sorted(home.glob(f"s3/*/{job_name}/output/model.tar.gz"))
    assert len(artifacts) == 1, f"one model.tar.gz for {job_name} in the object store: {artifacts}"
    with tarfile.open(artifacts[0]) as archive:
        member = archive.extractfile("model.json")
        assert member is not None
        model = json.loads(member.read())
    assert abs(model["slope"] - 2) < 1e-9 and abs(model["intercept"] - 1) < 1e-9, model

    listing = results["executions"].stdout
    assert "my-pipeline" in listing and "SUCCEEDED" in listing, listing
    shown_name = results["show"].args[-1]
    assert shown_name in listing, f"`stepfn executions` lists {shown_name}:\n{listing}"
    if name is not None:
        assert shown_name == name
    shown = results["show"].stdout
    for expected in ("Train", "Save model", "ExecutionSucceeded", f'"JobName": "{job_name}"', "ModelArn"):
        assert expected in shown, f"{expected!r} missing from `stepfn show {shown_name}`:\n{shown}"
    return shown_name


# -- servers the person starts ----------------------------------------------------------------------------------


@dataclass
class Server:
    """A ``stepfn serve`` / ``stepfn ui`` process and what it printed (read on a thread so the pipe never fills)."""

    process: subprocess.Popen[str]
    lines: list[str]

    def line_starting(self, prefix: str) -> str:
        return next(line.strip() for line in self.lines if line.strip().startswith(prefix))

    def url(self) -> str:
        """The server's base URL from its first line (``... on http://127.0.0.1:PORT ...``), once it accepts."""
        url = re.search(r"http://[^\s/]+", self.lines[0])
        assert url is not None, self.lines[0]
        host, _, port = url.group(0).removeprefix("http://").rpartition(":")
        # The port is bound (and printed) before uvicorn listens on it: wait until a connection is accepted.
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
                return url.group(0)
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError("the server never accepted a connection:\n" + "".join(self.lines)) from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def start_server(argv: list[str], *, cwd: Path, env: dict[str, str], until: str, timeout: float = 60) -> Server:
    """Start the server and wait for the printed line that starts with ``until`` (its start-up banner)."""
    process = subprocess.Popen(argv, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.strip().startswith(until):
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(timeout) or process.poll() is not None:
        process.kill()
        raise AssertionError(f"{shlex.join(argv)} did not print {until!r}:\n{''.join(lines)}")
    return Server(process, lines)


def browser() -> urllib.request.OpenerDirector:
    """An HTTP client that keeps cookies, as the browser the person opens the printed URL in."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def http_get(client: urllib.request.OpenerDirector, url: str) -> tuple[int, str, str]:
    """(status, final URL after redirects, body)."""
    try:
        with client.open(url, timeout=30) as response:
            return response.status, response.geturl(), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, url, error.read().decode()


def http_post_json(client: urllib.request.OpenerDirector, url: str, document: object) -> tuple[int, str]:
    """(status, body) of a JSON POST, as the console's own script sends it."""
    request = urllib.request.Request(url, data=json.dumps(document).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with client.open(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
