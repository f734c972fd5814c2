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


def test_a_client_of_stepfn_serve_gets_a_lone_entry_point_staged_too(stepfn_home: Path, tmp_path: Path) -> None:
    # The SDK's TrainingPipeline integration test creates its workflow through boto3.client('stepfunctions'),
    # which stepfn serve answers: that engine reads this machine's object store, where the code must be.
    from stepfn.server import create_server_client, start_background

    script = tmp_path / "train.py"
    script.write_text("print('served')\n")
    server = start_background(stepfn_home)
    try:
        client = create_server_client("stepfunctions", server.url, home=stepfn_home)
        train = TrainingStep("Train", estimator=estimator(str(script)), data="s3://data/train", job_name="job-5")
        workflow = Workflow("served", Chain([train]), ROLE, client=client)
        uri = submit_directory(workflow, "Train")
        workflow.create()
        assert archive_members(stepfn_home, uri) == {"train.py": b"print('served')\n"}
        described = client.describe_state_machine(stateMachineArn=workflow.state_machine_arn)
        assert json.loads(described["definition"]) == json.loads(workflow.definition.to_json())
    finally:
        server.stop()


def test_client_on_this_machine_reads_the_endpoint() -> None:
    from stepfn.aws import client_on_this_machine

    class Meta:
        endpoint_url = "https://states.us-east-1.amazonaws.com"
        events = None

    class AwsClient:
        meta = Meta()

    assert not client_on_this_machine(AwsClient())
    Meta.endpoint_url = "http://127.0.0.1:8080"
    assert client_on_this_machine(AwsClient())
