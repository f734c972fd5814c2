"""A framework estimator's lone local entry point is put where its definition expects it (local backend)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from stepfn.local.objectstore import ObjectStore
from stepfn.sagemaker import Session, SKLearn
from stepfn.steps import Chain, Map, TrainingStep
from stepfn.workflow import Workflow

ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
SESSION = Session(region_name="us-east-1", default_bucket="code-bucket")


def estimator(entry_point: str, source_dir: str | None = None) -> SKLearn:
    return SKLearn(entry_point=entry_point, source_dir=source_dir, framework_version="1.2-1", role=ROLE,
                   instance_count=1, instance_type="ml.m5.large", sagemaker_session=SESSION)


def submit_directory(workflow: Workflow, state: str) -> str:
    definition = json.loads(workflow.definition.to_json())
    states = definition["States"]
    if state not in states:
        states = next(iter(states.values()))["Iterator"]["States"]
    return str(json.loads(states[state]["Parameters"]["HyperParameters"]["sagemaker_submit_directory"]))


def archive_members(stepfn_home: Path, uri: str) -> dict[str, bytes]:
    data = ObjectStore(stepfn_home / "s3").get_bytes(uri)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_create_and_update_pack_a_lone_entry_point(stepfn_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("print('v1')\n")
    train = TrainingStep("Train", estimator=estimator(str(script)), data="s3://data/train", job_name="job-1")
    workflow = Workflow("staged", Chain([train]), ROLE)
    uri = submit_directory(workflow, "Train")
    assert uri == "s3://code-bucket/job-1/source/sourcedir.tar.gz"
    assert not ObjectStore(stepfn_home / "s3").exists(uri)
    workflow.create()
    assert archive_members(stepfn_home, uri) == {"train.py": b"print('v1')\n"}

    # An edited script reaches the store on update, inside a Map iterator too.
    script.write_text("print('v2')\n")
    sweep = Map("Sweep", items_path="$.Jobs")
    sweep.attach_iterator(TrainingStep("Train again", estimator=estimator(str(script)), data="s3://data/train",
                                       job_name="job-2"))
    workflow.update(definition=Chain([sweep]))
    inner = submit_directory(workflow, "Train again")
    assert archive_members(stepfn_home, inner) == {"train.py": b"print('v2')\n"}


def test_nothing_is_staged_with_a_source_dir_or_a_missing_script(stepfn_home: Path, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('in place')\n")
    in_place = TrainingStep("In place", estimator=estimator("train.py", source_dir=str(tmp_path)),
                            data="s3://data/train", job_name="job-3")
    missing = TrainingStep("Missing", estimator=estimator(str(tmp_path / "absent.py")), data="s3://data/train",
                           job_name="job-4")
    workflow = Workflow("not-staged", Chain([in_place, missing]), ROLE)
    assert submit_directory(workflow, "In place") == f"file://{tmp_path}"
    workflow.create()
    assert ObjectStore(stepfn_home / "s3").list("s3://code-bucket/") == []
