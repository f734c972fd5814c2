"""A cache hit as a person sees it from outside: boto3's DescribeTrainingJob against `stepfn serve`, and the
console's job page (its API), both say the job's results came from the cache."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

TRAIN = """
import os
print("training for real")
open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write("m")
"""


def test_describe_training_job_and_console_show_the_hit(tmp_path: Path, stepfn_home: Path,
                                                        serve: Callable[..., str],
                                                        make_client: Callable[..., Any]) -> None:
    from stepfn.inputs import ExecutionInput
    from stepfn.local.objectstore import ObjectStore
    from stepfn.sagemaker import SKLearn
    from stepfn.server import read_token
    from stepfn.steps import CacheConfig, TrainingStep
    from stepfn.workflow import Workflow

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text(TRAIN)
    ObjectStore(stepfn_home / "s3").put_bytes("s3://bkt/train/data.csv", b"1,2\n")
    role = "arn:aws:iam::111122223333:role/Role"
    inputs = ExecutionInput(schema={"JobName": str})
    estimator = SKLearn(entry_point="train.py", source_dir=str(tmp_path / "code"), framework_version="1.2-1",
                        role=role, instance_count=1, instance_type="ml.m5.large", output_path="s3://bkt/models")
    workflow = Workflow("served-cache", TrainingStep("Train", estimator=estimator, job_name=inputs["JobName"],
                                                     data={"train": "s3://bkt/train/"},
                                                     cache_config=CacheConfig(enable_caching=True)),
                        role=role, execution_input=inputs)
    workflow.create_or_update()
    for job in ("served-1", "served-2"):
        workflow.execute(inputs={"JobName": job}).get_output(wait=True)

    url = serve(ui=True)
    described = make_client("sagemaker", url).describe_training_job(TrainingJobName="served-2")
    assert described["TrainingJobStatus"] == "Completed"
    assert described["SecondaryStatusTransitions"][-1]["StatusMessage"].startswith("Cache hit: results of served-1")
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == "s3://bkt/models/served-2/output/model.tar.gz"

    address = urlparse(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.request("GET", "/ui/api/jobs/training-job/served-2",
                           headers={"X-Stepfn-Token": read_token(stepfn_home)})
        response = connection.getresponse()
        page = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 200
    assert page["log"].startswith("stepfn: Cache hit: results of served-1") and "training for real" not in page["log"]
    assert page["record"]["SecondaryStatusTransitions"][-1]["Status"] == "Completed"
