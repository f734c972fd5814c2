"""``processor.run()`` on local SageMaker, as sagemaker v2's: a processing job runs now, ``latest_job`` describes
and waits for it, and what the script writes under ``/opt/ml/processing/output`` lands in the output's S3 URI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stepfn.local.objectstore import ObjectStore
from stepfn.sagemaker import Session
from stepfn.sagemaker.exceptions import UnexpectedStatusException
from stepfn.sagemaker.processing import (
    FrameworkProcessor,
    ProcessingInput,
    ProcessingOutput,
    Processor,
    ScriptProcessor,
)
from stepfn.sagemaker.sklearn import SKLearnProcessor

ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
SCRIPT = """\
import argparse
import os

parser = argparse.ArgumentParser()
parser.add_argument("--scale", type=int)
scale = parser.parse_args().scale
source = "/opt/ml/processing/input/data"
total = sum(int(line) for name in sorted(os.listdir(source)) for line in open(os.path.join(source, name)))
os.makedirs("/opt/ml/processing/output/sums", exist_ok=True)
with open("/opt/ml/processing/output/sums/total.txt", "w") as out:
    out.write(str(total * scale))
"""


def test_sklearn_processor_runs_a_local_script_on_local_data(tmp_path: Path) -> None:
    (tmp_path / "preprocess.py").write_text(SCRIPT)
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("1\n2\n")
    (data / "b.txt").write_text("3\n")
    processor = SKLearnProcessor(framework_version="1.2-1", role=ROLE, instance_type="ml.m5.large",
                                 instance_count=1)
    processor.run(code=str(tmp_path / "preprocess.py"),
                  inputs=[ProcessingInput(source=str(data), destination="/opt/ml/processing/input/data")],
                  outputs=[ProcessingOutput(source="/opt/ml/processing/output/sums", output_name="sums")],
                  arguments=["--scale", "10"])

    job = processor.latest_job
    assert job is not None and processor.jobs == [job]
    assert re.fullmatch(r"sagemaker-scikit-learn-\d{4}(-\d{2}){5}-\d{3}", job.job_name)
    described = job.describe()
    assert described["ProcessingJobStatus"] == "Completed"
    assert described["AppSpecification"]["ContainerEntrypoint"] == [
        "python3", "/opt/ml/processing/input/code/preprocess.py"]
    # As v2: local inputs and code are uploaded under the job, an output without a destination goes there too.
    bucket = Session().default_bucket()
    names = [item["InputName"] for item in described["ProcessingInputs"]]
    assert names == ["input-1", "code"]
    assert described["ProcessingInputs"][0]["S3Input"]["S3Uri"] == f"s3://{bucket}/{job.job_name}/input/input-1"
    output = f"s3://{bucket}/{job.job_name}/output/sums"
    assert job.outputs[0].destination == output
    assert ObjectStore().get_bytes(f"{output}/total.txt") == b"60"


def test_a_processor_with_an_entrypoint_and_waiting_later(tmp_path: Path) -> None:
    script = tmp_path / "write.py"
    script.write_text("import os\nos.makedirs('/opt/ml/processing/output', exist_ok=True)\n"
                      "open('/opt/ml/processing/output/done.txt', 'w').write('yes')\n")
    session = Session()
    code = session.upload_data(str(script), key_prefix="proc-code")
    processor = Processor(role=ROLE, image_uri="111122223333.dkr.ecr.us-east-1.amazonaws.com/mine:1",
                          instance_count=1, instance_type="ml.m5.large", base_job_name="mine",
                          entrypoint=["python3", "/opt/ml/processing/input/code/write.py"])
    destination = f"s3://{session.default_bucket()}/proc-out"
    processor.run(inputs=[ProcessingInput(source=code, destination="/opt/ml/processing/input/code")],
                  outputs=[ProcessingOutput(source="/opt/ml/processing/output", destination=destination)],
                  wait=False, logs=False, job_name="later-processing")
    job = processor.latest_job
    assert job is not None and job.job_name == "later-processing"
    with pytest.raises(ValueError, match="Logs can only be shown if wait is set to True"):
        processor.run(wait=False)
    assert job.wait()["ProcessingJobStatus"] == "Completed"
    assert ObjectStore().get_bytes(f"{destination}/done.txt") == b"yes"


def test_a_failing_script_raises_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "fail.py").write_text("raise SystemExit('no rows to process')\n")
    processor = ScriptProcessor(role=ROLE, image_uri="111122223333.dkr.ecr.us-east-1.amazonaws.com/mine:1",
                                command=["python3"], instance_count=1,
                                instance_type="ml.m5.large")
    with pytest.raises(ValueError, match="wasn't found"):
        processor.run(str(tmp_path / "missing.py"))
    with pytest.raises(UnexpectedStatusException) as raised:
        processor.run(str(tmp_path / "fail.py"), job_name="failing-processing")
    assert raised.value.actual_status == "Failed"
    assert str(raised.value).startswith("Error for Processing job failing-processing: Failed. Reason: ")
    assert "no rows to process" in str(raised.value)


def test_on_aws_run_creates_the_job_in_sagemaker() -> None:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        session = Session(boto_session=boto3.Session(region_name="us-east-1"), default_bucket="my-bucket")
        processor = Processor(role=ROLE, image_uri="111122223333.dkr.ecr.us-east-1.amazonaws.com/mine:1",
                              instance_count=1, instance_type="ml.m5.large", sagemaker_session=session)
        processor.run(outputs=[ProcessingOutput(source="/opt/ml/processing/output")], wait=False, logs=False,
                      job_name="aws-processing")
        described = boto3.client("sagemaker", region_name="us-east-1").describe_processing_job(
            ProcessingJobName="aws-processing")
        assert described["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == (
            "s3://my-bucket/aws-processing/output/output-1")
        assert processor.latest_job is not None and processor.latest_job.describe()["ProcessingJobName"] == (
            "aws-processing")


def test_framework_processor_runs_a_source_dir_through_runproc(tmp_path: Path) -> None:
    """sagemaker v2's FrameworkProcessor, as the examples' scikit-learn processing notebook uses it
    (``FrameworkProcessor(estimator_cls=SKLearn, framework_version=...)``, ``run(code=..., source_dir="code")``):
    the image and base job name come from the estimator class; the source_dir goes up as sourcedir.tar.gz (the
    ``code`` input) with v2's runproc.sh (the ``entrypoint`` input), which bash runs: it unpacks the code, where
    the script imports its helper module, and runs it with ``python`` and the job's arguments."""
    from stepfn.sagemaker.sklearn import SKLearn

    code = tmp_path / "code"
    code.mkdir()
    (code / "helper.py").write_text("SCALE_NAME = '--scale'\n")
    (code / "preprocess.py").write_text(SCRIPT.replace('"--scale"', "helper.SCALE_NAME").replace(
        "import os\n", "import os\n\nimport helper\n", 1))
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("1\n2\n")
    processor = FrameworkProcessor(estimator_cls=SKLearn, framework_version="1.2-1", role=ROLE, instance_count=1,
                                   instance_type="ml.m5.large")
    assert processor.image_uri == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    assert processor.base_job_name == "scikit-learn" and processor.command == ["python"]
    processor.run(code="preprocess.py", source_dir=str(code),
                  inputs=[ProcessingInput(source=str(data), destination="/opt/ml/processing/input/data")],
                  outputs=[ProcessingOutput(source="/opt/ml/processing/output/sums", output_name="sums")],
                  arguments=["--scale", "10"])

    job = processor.jobs[-1]
    assert re.fullmatch(r"scikit-learn-\d{4}(-\d{2}){5}-\d{3}", job.job_name)
    described = job.describe()
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["AppSpecification"]["ContainerEntrypoint"] == [
        "/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh"]
    assert described["AppSpecification"]["ContainerArguments"] == ["--scale", "10"]
    bucket = Session().default_bucket()
    inputs = {item["InputName"]: item["S3Input"] for item in described["ProcessingInputs"]}
    assert list(inputs) == ["input-1", "code", "entrypoint"]
    assert inputs["code"]["S3Uri"] == f"s3://{bucket}/{job.job_name}/source/sourcedir.tar.gz"
    assert inputs["code"]["LocalPath"] == "/opt/ml/processing/input/code/"
    assert inputs["entrypoint"]["S3Uri"] == f"s3://{bucket}/{job.job_name}/source/runproc.sh"
    assert inputs["entrypoint"]["LocalPath"] == "/opt/ml/processing/input/entrypoint"
    runproc = ObjectStore().get_bytes(inputs["entrypoint"]["S3Uri"]).decode()
    assert runproc.startswith("#!/bin/bash\n\ncd /opt/ml/processing/input/code/\ntar -xzf sourcedir.tar.gz\n")
    assert runproc.endswith('\npython preprocess.py "$@"\n')
    assert ObjectStore().get_bytes(f"s3://{bucket}/{job.job_name}/output/sums/total.txt") == b"30"

    # A lone script (no source_dir) is packed alone and run by its file name.
    processor.run(code=str(code / "helper.py"), job_name="lone-script")
    described = processor.jobs[-1].describe()
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    runproc = ObjectStore().get_bytes(f"s3://{bucket}/lone-script/source/runproc.sh").decode()
    assert runproc.endswith('\npython helper.py "$@"\n')


def test_per_framework_processors_are_framework_processors_of_their_estimator(tmp_path: Path) -> None:
    """sagemaker v2's ``sagemaker.{pytorch,xgboost,tensorflow}.processing`` processors: the FrameworkProcessor of
    that framework's estimator (image and base job name from it); an XGBoostProcessor's job runs its script."""
    from stepfn.sagemaker.pytorch.processing import PyTorchProcessor
    from stepfn.sagemaker.tensorflow.processing import TensorFlowProcessor
    from stepfn.sagemaker.xgboost.processing import XGBoostProcessor

    ecr = "763104351884.dkr.ecr.us-east-1.amazonaws.com"
    pytorch = PyTorchProcessor(framework_version="2.1", py_version="py310", role=ROLE, instance_count=1,
                               instance_type="ml.m5.large")
    assert (pytorch.image_uri, pytorch.base_job_name) == (f"{ecr}/pytorch-training:2.1-cpu-py310", "pytorch")
    tensorflow = TensorFlowProcessor(framework_version="2.13", py_version="py310", role=ROLE, instance_count=1,
                                     instance_type="ml.m5.large")
    assert tensorflow.image_uri == f"{ecr}/tensorflow-training:2.13-cpu-py310"
    assert tensorflow.base_job_name == "tensorflow"
    xgboost = XGBoostProcessor(framework_version="1.7-1", role=ROLE, instance_count=1, instance_type="ml.m5.large",
                               base_job_name="xgb-prep")
    assert xgboost.image_uri == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    assert isinstance(xgboost, FrameworkProcessor) and xgboost.estimator_cls.__name__ == "XGBoost"
    (tmp_path / "prep.py").write_text(
        'import os, sys\nos.makedirs("/opt/ml/processing/out", exist_ok=True)\n'
        'open("/opt/ml/processing/out/args.txt", "w").write(" ".join(sys.argv[1:]))\n')
    xgboost.run(code=str(tmp_path / "prep.py"), arguments=["--depth", "3"],
                outputs=[ProcessingOutput(source="/opt/ml/processing/out", output_name="out")])
    job = xgboost.jobs[-1]
    assert job.job_name.startswith("xgb-prep-")
    assert job.describe()["ProcessingJobStatus"] == "Completed"
    assert ObjectStore().get_bytes(f"{job.outputs[0].destination}/args.txt") == b"--depth 3"
