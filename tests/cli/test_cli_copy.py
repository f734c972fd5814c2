"""``stepfn cp`` as a person types it, from their folder with the default home: ``aws s3 cp`` semantics."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def cp(*args: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["stepfn", "cp", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "data" / "sub").mkdir(parents=True)
    (project / "data" / "a.csv").write_text("1,2\n")
    (project / "data" / "sub" / "b.csv").write_text("3,4\n")
    return project


def stored(folder: Path) -> dict[str, str]:
    """Every object of the default home's object store (./.stepfn/s3), by s3:// URI."""
    root = folder / ".stepfn" / "s3"
    return {f"s3://{path.relative_to(root).as_posix()}": path.read_text()
            for path in sorted(root.rglob("*")) if path.is_file() and ".stepfn-tmp" not in path.parts}


def test_upload_a_file_and_a_folder(folder: Path, user_env: dict[str, str]) -> None:
    # The documented one-liner, verbatim.
    result = cp("./data", "s3://my-bucket/train/", "--recursive", folder=folder, env=user_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["upload: data/a.csv to s3://my-bucket/train/a.csv",
                                          "upload: data/sub/b.csv to s3://my-bucket/train/sub/b.csv"]
    # A prefix without the trailing slash means the same folder, as the AWS CLI has it.
    assert cp("data", "s3://other/train", "--recursive", folder=folder, env=user_env).returncode == 0
    for args in (("data/a.csv", "s3://files/exact.csv"), ("data/a.csv", "s3://files/dir/"),
                 ("data/a.csv", "s3://files")):
        assert cp(*args, folder=folder, env=user_env).returncode == 0
    assert stored(folder) == {
        "s3://files/a.csv": "1,2\n", "s3://files/dir/a.csv": "1,2\n", "s3://files/exact.csv": "1,2\n",
        "s3://my-bucket/train/a.csv": "1,2\n", "s3://my-bucket/train/sub/b.csv": "3,4\n",
        "s3://other/train/a.csv": "1,2\n", "s3://other/train/sub/b.csv": "3,4\n",
    }


def test_download_and_copy_between_keys(folder: Path, user_env: dict[str, str]) -> None:
    assert cp("data", "s3://b/train", "--recursive", folder=folder, env=user_env).returncode == 0
    assert cp("data/a.csv", "s3://b/train-2/c.csv", folder=folder, env=user_env).returncode == 0

    result = cp("s3://b/train", "out", "--recursive", folder=folder, env=user_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["download: s3://b/train/a.csv to out/a.csv",
                                          "download: s3://b/train/sub/b.csv to out/sub/b.csv"]
    # s3://b/train is the folder train/: train-2/ is not part of it.
    assert sorted(p.relative_to(folder / "out").as_posix() for p in (folder / "out").rglob("*.csv")) == [
        "a.csv", "sub/b.csv"]

    assert cp("s3://b/train/a.csv", "renamed.csv", folder=folder, env=user_env).returncode == 0
    assert cp("s3://b/train/a.csv", "new-folder/", folder=folder, env=user_env).returncode == 0
    assert cp("s3://b/train/sub/b.csv", "out", folder=folder, env=user_env).returncode == 0  # an existing folder
    assert (folder / "renamed.csv").read_text() == "1,2\n"
    assert (folder / "new-folder" / "a.csv").read_text() == "1,2\n"
    assert (folder / "out" / "b.csv").read_text() == "3,4\n"

    assert cp("s3://b/train/a.csv", "s3://c/", folder=folder, env=user_env).stdout.strip() == (
        "copy: s3://b/train/a.csv to s3://c/a.csv")
    assert cp("s3://b/train/", "s3://c/copy", "--recursive", folder=folder, env=user_env).returncode == 0
    assert {uri for uri in stored(folder) if uri.startswith("s3://c/")} == {
        "s3://c/a.csv", "s3://c/copy/a.csv", "s3://c/copy/sub/b.csv"}


def test_mistakes_say_what_to_do_and_keys_stay_inside_their_root(
    folder: Path, user_env: dict[str, str], tmp_path: Path
) -> None:
    local_only = cp("data/a.csv", "elsewhere.csv", folder=folder, env=user_env)
    assert local_only.returncode == 2 and "must be an s3://bucket/key URI" in local_only.stderr
    whole_folder = cp("data", "s3://b/x/", folder=folder, env=user_env)
    assert whole_folder.returncode == 1 and "add --recursive" in whole_folder.stderr
    missing = cp("s3://b/absent.csv", ".", folder=folder, env=user_env)
    assert missing.returncode == 1 and "s3://b/absent.csv is not an object" in missing.stderr
    assert cp("data", "s3://b/train", "--recursive", folder=folder, env=user_env).returncode == 0
    prefix = cp("s3://b/train", ".", folder=folder, env=user_env)
    assert prefix.returncode == 1 and "add --recursive" in prefix.stderr

    escape = cp("data/a.csv", "s3://b/../../../escaped.csv", folder=folder, env=user_env)
    assert escape.returncode == 1 and "refused" in escape.stderr
    assert not list(tmp_path.rglob("escaped.csv"))

    # A folder in the destination that is a link leading elsewhere does not carry objects out of it.
    outside = tmp_path / "outside"
    outside.mkdir()
    (folder / "dest").mkdir()
    (folder / "dest" / "sub").symlink_to(outside)
    through_link = cp("s3://b/train", "dest", "--recursive", folder=folder, env=user_env)
    assert through_link.returncode == 1 and "would be written outside dest" in through_link.stderr
    assert list(outside.iterdir()) == []
