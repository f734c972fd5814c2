"""``git_config=``: an estimator's code cloned from a git repository (made here) runs as a local source_dir would."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from stepfn.local.objectstore import ObjectStore
from stepfn.sagemaker import Session
from stepfn.sagemaker.sklearn import SKLearn, SKLearnModel
from stepfn.steps import Chain, TrainingStep
from stepfn.workflow import Workflow

ROLE = "arn:aws:iam::123456789012:role/SageMaker"
SESSION = Session(region_name="us-east-1", default_bucket="bucket")
TRAIN = """
import json, os
from helper import VERSION
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
    json.dump({"version": VERSION}, f)
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main has helper VERSION 'main'; branch dev changes it, and an earlier dev commit is tagged by its hash."""
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "t")
    (root / "src" / "train.py").write_text(TRAIN)
    (root / "src" / "helper.py").write_text("VERSION = 'main'\n")
    (root / "top.py").write_text("print('lone script')\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "main")
    git(root, "checkout", "-q", "-b", "dev")
    (root / "src" / "helper.py").write_text("VERSION = 'dev-1'\n")
    git(root, "commit", "-q", "-am", "dev 1")
    (root / "src" / "helper.py").write_text("VERSION = 'dev-2'\n")
    git(root, "commit", "-q", "-am", "dev 2")
    git(root, "checkout", "-q", "main")
    return root


def test_git_config_resolves_paths_in_a_clone(repo: Path) -> None:
    first_dev = git(repo, "rev-list", "--reverse", "dev").split()[1]
    estimator = SKLearn(entry_point="train.py", source_dir="src", framework_version="1.2-1", role=ROLE,
                        instance_type="ml.m5.large", sagemaker_session=SESSION,
                        git_config={"repo": str(repo), "branch": "dev", "commit": first_dev})
    source = Path(estimator.source_dir)
    assert source.is_dir() and source != repo / "src"
    assert (source / "helper.py").read_text() == "VERSION = 'dev-1'\n"
    lone = SKLearnModel(model_data="s3://b/m.tar.gz", role=ROLE, entry_point="top.py", framework_version="1.2-1",
                        git_config={"repo": str(repo)}, sagemaker_session=SESSION)
    assert Path(lone.entry_point).read_text() == "print('lone script')\n" and lone.source_dir is None
    with pytest.raises(ValueError, match="Entry point does not exist in the repo"):
        SKLearn(entry_point="nope.py", source_dir="src", framework_version="1.2-1", role=ROLE,
                instance_type="ml.m5.large", git_config={"repo": str(repo)})
    with pytest.raises(ValueError, match="Source directory does not exist in the repo"):
        SKLearn(entry_point="train.py", source_dir="missing", framework_version="1.2-1", role=ROLE,
                instance_type="ml.m5.large", git_config={"repo": str(repo)})
    with pytest.raises(RuntimeError, match="git checkout no-such-branch failed"):
        SKLearn(entry_point="train.py", source_dir="src", framework_version="1.2-1", role=ROLE,
                instance_type="ml.m5.large", git_config={"repo": str(repo), "branch": "no-such-branch"})
    with pytest.raises(ValueError, match="Please provide a repo"):
        SKLearn(entry_point="train.py", framework_version="1.2-1", role=ROLE, git_config={"branch": "x"})


@pytest.mark.timeout(180)
def test_cloned_code_trains_on_the_local_backend(repo: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "part.csv").write_text("1\n")
    ObjectStore().upload(str(data), "s3://bucket/data")
    estimator = SKLearn(entry_point="train.py", source_dir="src", framework_version="1.2-1", role=ROLE,
                        instance_type="ml.m5.large", output_path="s3://bucket/out", sagemaker_session=SESSION,
                        git_config={"repo": str(repo), "branch": "dev"})
    step = TrainingStep("Train", estimator=estimator, job_name="git-job", data={"train": "s3://bucket/data"})
    workflow = Workflow("git-config", Chain([step]), role="arn:aws:iam::123456789012:role/SFN")
    workflow.create()
    execution = workflow.execute(inputs={})
    execution.get_output(wait=True)
    assert execution.describe()["status"] == "SUCCEEDED", execution.list_events()
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(ObjectStore().get_bytes("s3://bucket/out/git-job/output/model.tar.gz"))
    with tarfile.open(archive) as tar:
        member = tar.extractfile("model.json")
        assert member is not None and json.load(member) == {"version": "dev-2"}
