"""SageMaker Experiments' experiments and trials as local records (CreateExperiment, CreateTrial, ...).

Nothing runs here: an experiment and its trials are names jobs can be filed under (a job's ``ExperimentConfig``
names them). Code that sets them up with boto3 before a run, such as a Lambda function a workflow calls, works
against ``stepfn serve`` unchanged: names must be unique, a trial needs its experiment, and an experiment is
deleted only once its trials are.
"""

from __future__ import annotations

import re
from typing import Any

from stepfn.local.sagemaker.records import RecordStore, arn, now_millis, sagemaker_error

_LONG_NAME_PATTERN = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}"


def _name(params: dict[str, Any], member: str, operation: str) -> str:
    name = params.get(member)
    if not isinstance(name, str) or not re.fullmatch(_LONG_NAME_PATTERN, name):
        raise sagemaker_error(
            operation, "ValidationException",
            f"1 validation error detected: Value '{name}' at '{member[:1].lower() + member[1:]}' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: {_LONG_NAME_PATTERN}",
        )
    return name


def _not_found(kind: str, name: str, operation: str) -> Exception:
    label = "Experiment" if kind == "experiment" else "Trial"
    return sagemaker_error(operation, "ResourceNotFound", f"{label} '{arn(kind, name)}' does not exist.")


def _require(records: RecordStore, kind: str, name: str, operation: str) -> dict[str, Any]:
    record = records.get(kind, name)
    if record is None:
        raise _not_found(kind, name, operation)
    return record


def _store(records: RecordStore, kind: str, record: dict[str, Any], params: dict[str, Any], name: str,
           operation: str) -> None:
    """Stamp a new record with its times and tags and create it (a name taken is the API's error)."""
    now = now_millis()
    record.update({"CreationTime": now, "LastModifiedTime": now, "Tags": params.get("Tags") or []})
    records.create(kind, name, record, operation=operation)


def _describe(records: RecordStore, kind: str, name: str, operation: str) -> dict[str, Any]:
    """The record as Describe* answers it: tags are listed apart (ListTags), not described."""
    record = _require(records, kind, name, operation)
    return {key: value for key, value in record.items() if key != "Tags"}


def create_experiment(records: RecordStore, params: dict[str, Any]) -> dict[str, Any]:
    name = _name(params, "ExperimentName", "CreateExperiment")
    record: dict[str, Any] = {"ExperimentName": name, "ExperimentArn": arn("experiment", name),
                              "DisplayName": params.get("DisplayName") or name}
    if params.get("Description"):
        record["Description"] = params["Description"]
    _store(records, "experiment", record, params, name, "CreateExperiment")
    return {"ExperimentArn": record["ExperimentArn"]}


def describe_experiment(records: RecordStore, name: str) -> dict[str, Any]:
    return _describe(records, "experiment", name, "DescribeExperiment")


def delete_experiment(records: RecordStore, name: str) -> dict[str, Any]:
    record = _require(records, "experiment", name, "DeleteExperiment")
    if any(trial.get("ExperimentName") == name for trial in records.list("experiment-trial")):
        raise sagemaker_error("DeleteExperiment", "ValidationException",
                              f"Experiment '{record['ExperimentArn']}' has trials: delete them first.")
    records.delete("experiment", name)
    return {"ExperimentArn": record["ExperimentArn"]}


def create_trial(records: RecordStore, params: dict[str, Any]) -> dict[str, Any]:
    name = _name(params, "TrialName", "CreateTrial")
    experiment = _name(params, "ExperimentName", "CreateTrial")
    _require(records, "experiment", experiment, "CreateTrial")
    record: dict[str, Any] = {"TrialName": name, "TrialArn": arn("experiment-trial", name),
                              "DisplayName": params.get("DisplayName") or name, "ExperimentName": experiment}
    if params.get("MetadataProperties"):
        record["MetadataProperties"] = params["MetadataProperties"]
    _store(records, "experiment-trial", record, params, name, "CreateTrial")
    return {"TrialArn": record["TrialArn"]}


def describe_trial(records: RecordStore, name: str) -> dict[str, Any]:
    return _describe(records, "experiment-trial", name, "DescribeTrial")


def delete_trial(records: RecordStore, name: str) -> dict[str, Any]:
    record = _require(records, "experiment-trial", name, "DeleteTrial")
    records.delete("experiment-trial", name)
    return {"TrialArn": record["TrialArn"]}


def experiment_summaries(records: RecordStore) -> list[dict[str, Any]]:
    keys = ("ExperimentArn", "ExperimentName", "DisplayName", "CreationTime", "LastModifiedTime")
    return [{key: r[key] for key in keys if key in r} for r in records.list("experiment")]


def trial_summaries(records: RecordStore, experiment: str | None = None) -> list[dict[str, Any]]:
    keys = ("TrialArn", "TrialName", "DisplayName", "CreationTime", "LastModifiedTime")
    return [{key: r[key] for key in keys if key in r} for r in records.list("experiment-trial")
            if experiment is None or r.get("ExperimentName") == experiment]


__all__ = [
    "create_experiment",
    "create_trial",
    "delete_experiment",
    "delete_trial",
    "describe_experiment",
    "describe_trial",
    "experiment_summaries",
    "trial_summaries",
]
