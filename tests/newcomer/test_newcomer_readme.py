"""The README's commands and files, checked in seconds (the newcomer tests run them for real, in minutes).

Not marked ``newcomer``: this runs in ``make test`` so a README edit that breaks the newcomer's path fails early.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
from newcomer_support import DATA_ROWS, REPO, read_readme, write_user_folder

from stepfn.cli import cli


def test_the_first_lines_are_the_demo_and_the_test_commands() -> None:
    readme = read_readme(REPO)
    first_block = readme.commands(readme.blocks("bash")[0])
    assert first_block[:2] == [["make", "demo"], ["make", "test"]]
    makefile = (REPO / "Makefile").read_text()
    assert "\ndemo:" in makefile and "\ntest:" in makefile


def test_the_run_sequence_names_commands_that_exist() -> None:
    for argv in read_readme(REPO).run_sequence():
        command: click.Command = cli
        for word in argv[1:]:
            if not isinstance(command, click.Group) or word.startswith("-"):
                break
            assert word in command.commands, f"README runs `{' '.join(argv)}`, but stepfn has no {word!r} command"
            command = command.commands[word]


def test_the_readme_training_script_fits_the_data_the_test_puts_in(tmp_path: Path) -> None:
    """train.py as the README shows it, run as the job runs it (SM_CHANNEL_TRAIN, SM_MODEL_DIR), fits y = 2x + 1."""
    user = tmp_path / "user"
    write_user_folder(user, read_readme(REPO))
    channel, model = tmp_path / "train", tmp_path / "model"
    channel.mkdir()
    model.mkdir()
    (channel / "data.csv").write_text((user / "data.csv").read_text())
    env = {**os.environ, "SM_CHANNEL_TRAIN": str(channel), "SM_MODEL_DIR": str(model)}
    ran = subprocess.run([sys.executable, "train.py"], cwd=user, env=env, capture_output=True, text=True, timeout=60,
                         check=True)
    assert "slope=2.000 intercept=1.000" in ran.stdout
    fitted = json.loads((model / "model.json").read_text())
    assert abs(fitted["slope"] - 2) < 1e-9 and abs(fitted["intercept"] - 1) < 1e-9
    assert len(DATA_ROWS) == len((user / "data.csv").read_text().splitlines())
