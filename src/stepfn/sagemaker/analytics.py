"""sagemaker v2's ``sagemaker.analytics.HyperparameterTuningJobAnalytics``: a tuning job's trials as a DataFrame.

One row per training job of the tuning job: its tuned hyperparameters (numbers as floats, as v2 converts them),
``TrainingJobName``, ``TrainingJobStatus``, ``FinalObjectiveValue``, ``TrainingStartTime``, ``TrainingEndTime``
and ``TrainingElapsedTimeSeconds``. A local session reads the local tuning job's trials
(ListTrainingJobsForHyperParameterTuningJob of local SageMaker); a session built on boto3 pages SageMaker's.
pandas is imported when a DataFrame is asked for.
"""

from __future__ import annotations

import datetime
from typing import Any

from stepfn._extras import needs_extra

from ._jobs import TUNING, SessionJob

__all__ = ["HyperparameterTuningJobAnalytics"]


def _as_datetime(value: Any) -> Any:
    """boto3 gives datetimes; local SageMaker records epoch milliseconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value / 1000, tz=datetime.UTC)
    return value


def _row(summary: dict[str, Any]) -> dict[str, Any]:
    """v2's reshape of one HyperParameterTrainingJobSummary."""
    row: dict[str, Any] = {}
    for name, value in (summary.get("TunedHyperParameters") or {}).items():
        try:  # the API sends numbers as strings
            row[name] = float(value)
        except (TypeError, ValueError):
            row[name] = value
    row["TrainingJobName"] = summary["TrainingJobName"]
    row["TrainingJobStatus"] = summary["TrainingJobStatus"]
    row["FinalObjectiveValue"] = (summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value")
    start, end = _as_datetime(summary.get("TrainingStartTime")), _as_datetime(summary.get("TrainingEndTime"))
    row["TrainingStartTime"] = start
    row["TrainingEndTime"] = end
    if start and end:
        row["TrainingElapsedTimeSeconds"] = (end - start).total_seconds()
    if "TrainingJobDefinitionName" in summary:
        row["TrainingJobDefinitionName"] = summary["TrainingJobDefinitionName"]
    return row


class HyperparameterTuningJobAnalytics:
    """The trials of tuning job ``hyperparameter_tuning_job_name``; results are cached until ``clear_cache()``
    or ``force_refresh``."""

    def __init__(self, hyperparameter_tuning_job_name: str, sagemaker_session: Any = None) -> None:
        if sagemaker_session is None:
            from .session import Session

            sagemaker_session = Session()
        self.sagemaker_session = sagemaker_session
        self._job = SessionJob(TUNING, sagemaker_session, hyperparameter_tuning_job_name)
        self.clear_cache()

    @property
    def name(self) -> str:
        return self._job.name

    def __repr__(self) -> str:
        return f"<sagemaker.HyperparameterTuningJobAnalytics for {self.name}>"

    def clear_cache(self) -> None:
        self._description: dict[str, Any] | None = None
        self._summaries: list[dict[str, Any]] | None = None
        self._dataframe: Any = None

    def description(self, force_refresh: bool = False) -> dict[str, Any]:
        """DescribeHyperParameterTuningJob of the job."""
        if force_refresh:
            self.clear_cache()
        if self._description is None:
            self._description = self._job.describe()
        return self._description

    @property
    def tuning_ranges(self) -> dict[str, dict[str, Any]]:
        """Each tuned hyperparameter's range, by name."""
        ranges = self.description()["HyperParameterTuningJobConfig"].get("ParameterRanges") or {}
        return {entry["Name"]: entry for kind in ranges.values() for entry in kind}

    def training_job_summaries(self, force_refresh: bool = False) -> list[dict[str, Any]]:
        """ListTrainingJobsForHyperParameterTuningJob, every page."""
        if force_refresh:
            self.clear_cache()
        if self._summaries is None:
            client = self._job._client()
            if client is None:
                from stepfn.local.sagemaker.tuning import list_training_jobs_for_tuning_job

                self._summaries = list_training_jobs_for_tuning_job(self.name)
            else:
                summaries: list[dict[str, Any]] = []
                request: dict[str, Any] = {"HyperParameterTuningJobName": self.name, "MaxResults": 100}
                while True:
                    page = client.list_training_jobs_for_hyper_parameter_tuning_job(**request)
                    summaries.extend(page["TrainingJobSummaries"])
                    if not page.get("NextToken"):
                        break
                    request["NextToken"] = page["NextToken"]
                self._summaries = summaries
        return self._summaries

    def dataframe(self, force_refresh: bool = False) -> Any:
        """A pandas DataFrame, one row per training job of the tuning job."""
        if force_refresh:
            self.clear_cache()
        if self._dataframe is None:
            with needs_extra("HyperparameterTuningJobAnalytics.dataframe()"):
                import pandas

            self._dataframe = pandas.DataFrame([_row(summary) for summary in self.training_job_summaries()])
        return self._dataframe

    def export_csv(self, filename: str, force_refresh: bool = False) -> None:
        self.dataframe(force_refresh=force_refresh).to_csv(filename)
