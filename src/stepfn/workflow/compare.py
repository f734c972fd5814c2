"""What an execution produced, as flat facts to compare: sweeps (a Map of jobs) and ``stepfn diff A B``.

A fact is a ``(key, value)``: the execution's input and output, each state's output (from the run its status
comes from, :mod:`stepfn.workflow.progress`), and for each SageMaker job a state ran its hyperparameters, status,
duration and final metrics, read from the local job records under ``$STEPFN_HOME``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from stepfn.workflow.progress import read_history, state_progress

_STATUS_KEYS = ("TrainingJobStatus", "ProcessingJobStatus", "TransformJobStatus")
_TIMES = {"training-job": ("TrainingStartTime", "TrainingEndTime"),
          "processing-job": ("ProcessingStartTime", "ProcessingEndTime"),
          "transform-job": ("TransformStartTime", "TransformEndTime")}


def job_times(kind: str, name: str, home: Path | str | None = None) -> tuple[float, float | None] | None:
    """When a local job started and ended (epoch seconds; end None while it runs), from its record."""
    from stepfn.local.sagemaker.records import RecordStore

    record = RecordStore(home).get(kind, name) or {}
    start, end = (record.get(key) for key in _TIMES.get(kind, ("", "")))
    if not isinstance(start, int | float):
        return None
    scale = 1000.0 if start > 1e11 else 1.0  # epoch milliseconds (the local records) or seconds
    return start / scale, end / scale if isinstance(end, int | float) else None


def timeline(events: list[dict[str, Any]], started: datetime, now: datetime,
             home: Path | str | None = None) -> list[dict[str, Any]]:
    """Gantt rows: every state run (``Sweep[1] > Train``) and each job it ran, as seconds from the
    execution's start (``end`` None while running), in the order they started."""
    rows: list[dict[str, Any]] = []
    origin = started.timestamp()
    for progress in state_progress(events).values():
        for run in progress.history:
            if run.entered is None:
                continue
            rows.append({"label": run.path, "kind": "state", "type": run.type, "status": run.status,
                         "start": run.entered.timestamp() - origin,
                         "end": None if run.exited is None and run.status == "RUNNING"
                         else ((run.exited or now).timestamp() - origin)})
            for kind, name in run.jobs:
                times = job_times(kind, name, home)
                if times is not None:
                    facts = job_facts(kind, name, home)
                    rows.append({"label": f"{kind} {name}", "kind": "job", "type": kind, "status": facts.status,
                                 "start": times[0] - origin, "end": None if times[1] is None else times[1] - origin,
                                 "job": {"kind": kind, "name": name}})
    rows.sort(key=lambda row: row["start"])
    return rows


@dataclass(frozen=True)
class JobFacts:
    kind: str
    name: str
    status: str | None
    seconds: float | None
    hyperparameters: dict[str, str] = field(default_factory=dict)
    """The user's hyperparameters (the SDK's own ``sagemaker_*`` ones left out), decoded from JSON text."""
    metrics: dict[str, float] = field(default_factory=dict)
    """``FinalMetricDataList`` as ``{name: value}``."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "status": self.status, "seconds": self.seconds,
                "hyperparameters": self.hyperparameters, "metrics": self.metrics}


def _seconds(record: dict[str, Any], kind: str) -> float | None:
    start, end = (record.get(key) for key in _TIMES.get(kind, ("", "")))
    if isinstance(record.get("TrainingTimeInSeconds"), int | float):
        return float(record["TrainingTimeInSeconds"])
    if isinstance(start, int | float) and isinstance(end, int | float):
        return max(float(end - start), 0.0) / (1000.0 if start > 1e11 else 1.0)  # epoch milliseconds or seconds
    return None


def _plain(value: Any) -> str:
    """Hyperparameters are JSON-encoded strings in requests made by the SDK (``"\\"train.py\\""``)."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return decoded if isinstance(decoded, str) else value
    return json.dumps(value)


def job_facts(kind: str, name: str, home: Path | str | None = None) -> JobFacts:
    from stepfn.local.sagemaker.records import RecordStore

    record = RecordStore(home).get(kind, name) or {}
    hyperparameters = {key: _plain(value) for key, value in sorted((record.get("HyperParameters") or {}).items())
                       if not key.startswith("sagemaker_")}
    metrics = {m["MetricName"]: float(m["Value"]) for m in record.get("FinalMetricDataList") or []
               if isinstance(m, dict) and "MetricName" in m and "Value" in m}
    status = next((record[key] for key in _STATUS_KEYS if key in record), None)
    return JobFacts(kind=kind, name=name, status=status, seconds=_seconds(record, kind),
                    hyperparameters=hyperparameters, metrics=metrics)


def sweeps(events: list[dict[str, Any]], home: Path | str | None = None) -> dict[str, list[dict[str, Any]]]:
    """For each Map state whose iterations ran SageMaker jobs: one row per iteration and job, with the
    iteration's index and status and the job's hyperparameters, status, duration and final metrics."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for progress in state_progress(events).values():
        if not progress.history or not progress.history[-1].iterations:
            continue
        rows = []
        for index, iteration in sorted(progress.history[-1].iterations.items()):
            for kind, name in iteration.jobs:
                rows.append({"iteration": index, "iterationStatus": iteration.status,
                             **job_facts(kind, name, home).to_dict()})
        if rows:
            tables[progress.name] = rows
    return tables


def execution_facts(client: Any, execution_arn: str, home: Path | str | None = None) -> dict[str, Any]:
    """The facts of one execution, keyed as ``stepfn diff`` prints them."""
    described = client.describe_execution(executionArn=execution_arn)
    facts: dict[str, Any] = {"status": described["status"],
                             "input": json.loads(described.get("input") or "null"),
                             "output": json.loads(described.get("output") or "null")}
    for progress in state_progress(read_history(client, execution_arn)).values():
        for run in progress.history:
            where = run.path
            facts[f"{where}: status"] = run.status
            if run.output is not None:
                facts[f"{where}: output"] = run.output
            for kind, name in run.jobs:
                job = job_facts(kind, name, home)
                facts.update({f"{where}: hyperparameter {key}": text for key, text in job.hyperparameters.items()})
                facts.update({f"{where}: metric {key}": number for key, number in job.metrics.items()})
    return facts


def diff_facts(a: dict[str, Any], b: dict[str, Any], *, everything: bool = False) -> list[tuple[str, Any, Any]]:
    """``(key, value in a, value in b)`` for every key whose values differ (all keys with ``everything``), in
    the order the keys first appear; a missing key reads None."""
    keys = list(dict.fromkeys([*a, *b]))
    return [(key, a.get(key), b.get(key)) for key in keys if everything or a.get(key) != b.get(key)]


__all__ = ["JobFacts", "diff_facts", "execution_facts", "job_facts", "job_times", "sweeps", "timeline"]
