"""The one line a person needs from a failure cause (CLI summary, get_output's warning)."""

from __future__ import annotations

import json

import pytest

from stepfn.workflow.progress import failure_reason

SCRIPT_FAILED = (
    'AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "Traceback (most recent call last):\n'
    '  File "train.py", line 5, in <module>\n    raise ValueError(f"row {number} is not a number: {row}")\n'
    'ValueError: row 2 is not a number: x"\nCommand "/usr/bin/python3 train.py", exit code: 1'
)
NO_EXCEPTION = (
    'AlgorithmError: ExecuteUserScriptError:\nExitCode 125\nErrorMessage "docker: Cannot connect to the Docker '
    "daemon.\n\nRun 'docker run --help' for more information\"\nCommand \"docker run x train\", exit code: 125"
)


@pytest.mark.parametrize(("cause", "reason", "job"), [
    # A .sync SageMaker task's cause is the whole DescribeTrainingJob record.
    (json.dumps({"TrainingJobName": "job-4", "TrainingJobArn": "arn:...", "FailureReason": SCRIPT_FAILED}),
     "ValueError: row 2 is not a number: x", "job-4"),
    (json.dumps({"ProcessingJobName": "prep", "FailureReason": NO_EXCEPTION}),
     "docker: Cannot connect to the Docker daemon.", "prep"),
    (SCRIPT_FAILED, "ValueError: row 2 is not a number: x", None),
    (json.dumps({"errorMessage": "first call fails", "errorType": "RuntimeError"}), "first call fails", None),
    ("doubled is below 10\nsecond line", "doubled is below 10", None),
    ("botocore.exceptions.ClientError: An error occurred (ValidationException)",
     "botocore.exceptions.ClientError: An error occurred (ValidationException)", None),
    ("x" * 400, "x" * 299 + "…", None),  # a States.Runtime cause can quote a whole state input
    ("", None, None),
    (None, None, None),
])
def test_failure_reason_is_the_useful_line(cause: str | None, reason: str | None, job: str | None) -> None:
    assert failure_reason(cause) == (reason, job)
