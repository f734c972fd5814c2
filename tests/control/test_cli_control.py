"""`stepfn run` detaches on Ctrl-C; `stepfn stop`, `redrive`, `rerun --from`, `attach` (issue 15 item 3).

Run as a person does: the CLI in subprocesses, `stepfn run` in a real terminal (tmux) for Ctrl-C."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from control_support import TrainingProject, wait_until

from stepfn.store import Store

pytestmark = pytest.mark.timeout(420)


def stepfn(*args: str, cwd: Path | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stepfn", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def execution(home: Path, name: str) -> tuple[str, list[dict[str, object]]]:
    store = Store(home)
    try:
        [record] = [r for r in store.list_executions(None) if r.name == name]
        return record.status, store.events(record.arn)
    finally:
        store.close()


class Terminal:
    """A 120x40 tmux terminal on its own tmux server, running one command."""

    def __init__(self, command: str, cwd: Path) -> None:
        self.socket = f"stepfn-test-{os.getpid()}-{time.monotonic_ns()}"
        environment = " ".join(f"{key}={shlex.quote(os.environ[key])}" for key in
                               ("STEPFN_HOME", "PYTHONPATH", "AWS_DEFAULT_REGION", "PATH") if key in os.environ)
        script = f"cd {shlex.quote(str(cwd))} && env -u STEPFN_IN_PROCESS {environment} {command}; sleep 600"
        subprocess.run(["tmux", "-L", self.socket, "new-session", "-d", "-s", "t", "-x", "120", "-y", "40",
                        script], check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "capture-pane", "-p", "-t", "t"], capture_output=True,
                              text=True).stdout

    def ctrl_c(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "send-keys", "-t", "t", "C-c"], check=True)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def terminal() -> Iterator[list[Terminal]]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    opened: list[Terminal] = []
    yield opened
    for each in opened:
        each.close()


def test_ctrl_c_detaches_and_twenty_reads_never_restart_the_job(
        project: TrainingProject, user_home: Path, terminal: list[Terminal]) -> None:
    run = Terminal(f"{shlex.quote(sys.executable)} -m stepfn run pipeline.py --name tmux-run "
                   f"--input '{json.dumps({'JobName': 'tmux-job'})}'", project.root)
    terminal.append(run)
    wait_until(lambda: project.start_count() == 1, 120, "the training job to start")
    run.ctrl_c()
    wait_until(lambda: "stepfn attach tmux-run" in run.screen(), 30, "the detach message")
    assert "stepfn stop tmux-run" in run.screen()

    for _ in range(20):
        listed = stepfn("executions")
        assert listed.returncode == 0, listed.stderr
        assert "RUNNING" in listed.stdout
        shown = stepfn("show", "tmux-run")
        assert shown.returncode == 0, shown.stderr
    assert execution(user_home, "tmux-run")[0] == "RUNNING"
    assert project.start_count() == 1

    # `stepfn attach` follows it again, to the end.
    attached = subprocess.Popen([sys.executable, "-m", "stepfn", "attach", "tmux-run", "--no-progress"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        project.release.touch()
        out, err = attached.communicate(timeout=120)
    finally:
        attached.kill()
    assert attached.returncode == 0, out + err
    assert "SUCCEEDED" in out and "tmux-run" in out
    assert execution(user_home, "tmux-run")[0] == "SUCCEEDED"
    assert project.start_count() == 1  # the job was never restarted
    log = stepfn("logs", "tmux-job")
    assert log.returncode == 0 and "trained" in log.stdout and "Restarting" not in log.stdout


def test_rerun_from_the_failed_step_after_a_script_fix(project: TrainingProject, user_home: Path) -> None:
    project.release.touch()
    project.write_script('raise SystemExit("bug in train.py")')
    first = stepfn("run", "pipeline.py", "--name", "first", "--no-progress", "--input", '{"JobName": "fix-job"}',
                   cwd=project.root)
    assert first.returncode == 1, first.stdout + first.stderr
    assert execution(user_home, "first")[0] == "FAILED"

    project.write_script("")  # the fix
    rerun = stepfn("rerun", "first", "--from", "Train", "--name", "second", "--no-progress", cwd=project.root)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "rerunning from Train" in rerun.stdout
    status, events = execution(user_home, "second")
    assert status == "SUCCEEDED"
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]  # type: ignore[index]
    assert entered == ["Rerun from Train", "Train", "Model"]  # Prepare did not run again
    _, first_events = execution(user_home, "first")
    train_input = [e["stateEnteredEventDetails"]["input"] for e in first_events  # type: ignore[index]
                   if e.get("stateEnteredEventDetails", {}).get("name") == "Train"]  # type: ignore[attr-defined]
    rerun_input = [e["stateEnteredEventDetails"]["input"] for e in events  # type: ignore[index]
                   if e.get("stateEnteredEventDetails", {}).get("name") == "Train"]  # type: ignore[attr-defined]
    assert json.loads(rerun_input[0]) == json.loads(train_input[0]) == {"prepared": True}
    scheduled = [json.loads(e["taskScheduledEventDetails"]["parameters"]) for e in events  # type: ignore[index]
                 if e["type"] == "TaskScheduled"]
    job_name = scheduled[0]["TrainingJobName"]
    assert job_name.startswith("fix-job-") and job_name != "fix-job"  # a fresh job; the failed one stays
    assert scheduled[1]["ModelName"] == job_name
    assert project.start_count() == 2  # the failed run and the rerun: nothing ran twice within one


FLOW = textwrap.dedent(
    """
    from stepfn.steps import Chain, LambdaStep, Wait

    pipeline = Chain([
        Wait("Pause", seconds_path="$.pause"),
        LambdaStep("Gate", parameters={"FunctionName": "gate:check", "Payload.$": "$"}),
    ])
    """
)
GATE = textwrap.dedent(
    """
    import pathlib

    def check(event):
        if not (pathlib.Path(__file__).parent / "open").exists():
            raise RuntimeError("the gate is closed")
        return {"passed": True}
    """
)


def test_stop_and_redrive(user_home: Path, tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    (tmp_path / "gate.py").write_text(GATE)
    running = subprocess.Popen([sys.executable, "-m", "stepfn", "run", "flow.py", "--name", "to-stop",
                                "--no-progress", "--input", '{"pause": 300}'], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: any(r.name == "to-stop" for r in Store(user_home).list_executions(None)), 60,
                   "the execution to start")
        stopped = stepfn("stop", "to-stop")
        assert stopped.returncode == 0, stopped.stderr
        assert "to-stop: ABORTED" in stopped.stdout
        assert running.wait(60) == 1  # the watching `stepfn run` saw it end
    finally:
        running.kill()
        running.communicate()

    failed = stepfn("run", "flow.py", "--name", "to-redrive", "--no-progress", "--input", '{"pause": 0}',
                    cwd=tmp_path)
    assert failed.returncode == 1 and "the gate is closed" in failed.stdout
    (tmp_path / "open").touch()
    redriven = stepfn("redrive", "to-redrive", "--follow")
    assert redriven.returncode == 0, redriven.stdout + redriven.stderr
    status, events = execution(user_home, "to-redrive")
    assert status == "SUCCEEDED"
    assert [e["type"] for e in events].count("ExecutionRedriven") == 1


def test_a_second_ctrl_c_or_stop_on_interrupt_stops_the_run(
        user_home: Path, tmp_path: Path, terminal: list[Terminal]) -> None:
    (tmp_path / "waits.py").write_text(
        "from stepfn.steps import Chain, Pass, Wait\npipeline = Chain([Pass('A'), Wait('Long', seconds=300)])\n")
    twice = Terminal(f"{shlex.quote(sys.executable)} -m stepfn run waits.py --name twice", tmp_path)
    terminal.append(twice)
    wait_until(lambda: "Long" in twice.screen(), 60, "the run to reach the Wait state")
    twice.ctrl_c()
    wait_until(lambda: "Press Ctrl-C again" in twice.screen(), 30, "the detach prompt")
    twice.ctrl_c()
    wait_until(lambda: "stopped twice" in twice.screen(), 60, "the stop")
    assert execution(user_home, "twice")[0] == "ABORTED"

    once = Terminal(f"{shlex.quote(sys.executable)} -m stepfn run waits.py --name once --stop-on-interrupt", tmp_path)
    terminal.append(once)
    wait_until(lambda: "Long" in once.screen(), 60, "the run to reach the Wait state")
    once.ctrl_c()
    wait_until(lambda: "stopped once" in once.screen(), 60, "the stop")
    assert execution(user_home, "once")[0] == "ABORTED"


def test_stop_stops_the_running_training_job(project: TrainingProject, user_home: Path) -> None:
    from stepfn.local.sagemaker.records import RecordStore

    running = subprocess.Popen([sys.executable, "-m", "stepfn", "run", "pipeline.py", "--name", "stop-training",
                                "--no-progress", "--input", '{"JobName": "stopped-job"}'], cwd=project.root,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: project.start_count() == 1, 120, "the training job to start")
        stopped = stepfn("stop", "stop-training")
        assert stopped.returncode == 0, stopped.stderr
        assert "stop-training: ABORTED" in stopped.stdout
        assert running.wait(60) == 1
    finally:
        running.kill()
        running.communicate()
    record = RecordStore(user_home).get("training-job", "stopped-job")
    assert record is not None and record["TrainingJobStatus"] == "Stopped"
    script_pid = int(project.starts.read_text().split()[0])
    wait_until(lambda: not Path(f"/proc/{script_pid}").exists(), 30, "the training script to end")
