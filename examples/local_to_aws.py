"""Moving a pipeline from your machine to AWS Step Functions, unchanged.

The same ``Workflow`` runs on the local engine (the default) and on AWS (``client=`` a boto3
stepfunctions client, or ``backend="aws"``). This script:

1. builds a small scoring pipeline (Pass, Map, Choice, intrinsic functions: no AWS service inside),
2. runs it locally and prints the output,
3. creates and runs the very same workflow on AWS Step Functions and prints that output,
4. checks the two runs with ``stepfn.aws.parity.compare_backends`` (status, output, event types),
5. deploys a training workflow whose estimator has a *local* ``source_dir``: ``stepfn.aws.deploy_workflow``
   packs the directory into ``sourcedir.tar.gz``, uploads it to S3 and creates the state machine
   pointing at it (locally the same workflow reads the directory in place, nothing is uploaded).

Run it against moto (no AWS account needed; what the test suite does)::

    STEPFN_EXAMPLE_MOTO=1 python examples/local_to_aws.py

or against your AWS account, with a role Step Functions can assume (and SageMaker permissions for
the deployed training workflow, which this script creates but does not start)::

    AWS_REGION=eu-west-1 STEPFN_ROLE_ARN=arn:aws:iam::<account>:role/<role> python examples/local_to_aws.py
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stepfn.aws import create_client, deploy_workflow
from stepfn.aws.parity import compare_backends
from stepfn.inputs import ExecutionInput
from stepfn.steps.choice_rule import ChoiceRule
from stepfn.steps.states import Chain, Choice, Map, Pass, Succeed
from stepfn.workflow import Workflow

MOTO_ROLE = "arn:aws:iam::123456789012:role/StepFunctionsExampleRole"
INPUT = {"threshold": 0.5, "scores": [{"id": "a", "score": 0.91}, {"id": "b", "score": 0.12}, {"id": "c", "score": 0.64}]}


def build_pipeline() -> Chain:
    """Label each score above or below the threshold, then count the items: nothing here calls a service."""
    label = Choice("Above threshold?")
    label.add_choice(
        ChoiceRule.NumericGreaterThanPath(variable="$.score", value="$.threshold"),
        Pass("High", parameters={"id.$": "$.id", "label": "high"}),
    )
    label.default_choice(Pass("Low", parameters={"id.$": "$.id", "label": "low"}))
    each = Map(
        "Label each score",
        items_path="$.scores",
        max_concurrency=1,  # one item at a time: the history reads the same on every run
        parameters={"id.$": "$$.Map.Item.Value.id", "score.$": "$$.Map.Item.Value.score", "threshold.$": "$.threshold"},
        result_path="$.labels",
    )
    each.attach_iterator(label)
    summary = Pass(
        "Summarize",
        parameters={"labels.$": "$.labels", "count.$": "States.ArrayLength($.labels)"},
    )
    return Chain([each, summary, Succeed("Done")])


def build_training_workflow(role: str, code_dir: Path, client: Any) -> Workflow:
    """A training step whose scikit-learn estimator reads its script from a local directory."""
    from stepfn.sagemaker import Session
    from stepfn.sagemaker.sklearn import SKLearn
    from stepfn.steps.sagemaker import TrainingStep

    region = client.meta.region_name
    session = Session(region_name=region, default_bucket=f"stepfn-example-{region}")
    estimator = SKLearn(
        entry_point="train.py", source_dir=str(code_dir), framework_version="1.2-1", role=role,
        instance_type="ml.m5.large", instance_count=1, sagemaker_session=session,
    )
    inputs = ExecutionInput(schema={"JobName": str})
    training = TrainingStep("Train", estimator=estimator, data={"train": "s3://stepfn-example-data/train"},
                            job_name=inputs["JobName"])
    return Workflow("stepfn-example-training", Chain([training]), role, execution_input=inputs, client=client)


@contextlib.contextmanager
def aws_side() -> Iterator[tuple[str, str]]:
    """(region, role) for the AWS half: moto when STEPFN_EXAMPLE_MOTO=1, else your account."""
    if os.environ.get("STEPFN_EXAMPLE_MOTO") == "1":
        from moto import mock_aws

        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            yield "us-east-1", MOTO_ROLE
        return
    role = os.environ.get("STEPFN_ROLE_ARN")
    if not role:
        raise SystemExit("set STEPFN_ROLE_ARN to a role Step Functions can assume (or STEPFN_EXAMPLE_MOTO=1)")
    yield os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "", role


def main() -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    pipeline = build_pipeline()

    # 1. Locally: no client, no backend -> the local engine under $STEPFN_HOME.
    local = Workflow(f"score-{suffix}", pipeline, MOTO_ROLE)
    local.create()
    local_output = local.execute(name="local-run", inputs=INPUT).get_output(wait=True)
    print("local output:", json.dumps(local_output))

    with aws_side() as (region, role):
        # 2. On AWS: the same definition, a boto3 client instead of the local one. Nothing else changes.
        client = create_client("stepfunctions", region_name=region or None)
        remote = Workflow(f"score-{suffix}", pipeline, role, client=client)
        remote.create()
        remote_output = remote.execute(name="aws-run", inputs=INPUT).get_output(wait=True)
        print("AWS output:  ", json.dumps(remote_output))

        # 3. One call runs the definition on both sides and lists every difference.
        report = compare_backends(local.definition.to_dict(), INPUT, local_client=local.client, remote_client=client,
                                  role_arn=role, name=f"parity-{suffix}")
        print(report)

        # 4. Local code goes to S3 when the workflow is deployed to AWS.
        with tempfile.TemporaryDirectory() as tmp:
            code_dir = Path(tmp)
            (code_dir / "train.py").write_text("print('training on SageMaker')\n")
            training = build_training_workflow(role, code_dir, client)
            arn = deploy_workflow(training)
            deployed = json.loads(client.describe_state_machine(stateMachineArn=arn)["definition"])
            code_uri = json.loads(deployed["States"]["Train"]["Parameters"]["HyperParameters"]["sagemaker_submit_directory"])
            print("training workflow:", arn)
            print("its code on S3:   ", code_uri)
        remote.delete()
        training.delete()
    local.delete()
    return {"local": local_output, "aws": remote_output, "same": report.same, "code_uri": code_uri}


if __name__ == "__main__":
    main()
