"""sagemaker v2's ``sagemaker.analytics``: ``HyperparameterTuningJobAnalytics`` (a tuning job's trials as a DataFrame)
and ``TrainingJobAnalytics`` (a training job's metrics as a DataFrame).

One row per training job of the tuning job: its tuned hyperparameters (numbers as floats, as v2 converts them),
``TrainingJobName``, ``TrainingJobStatus``, ``FinalObjectiveValue``, ``TrainingStartTime``, ``TrainingEndTime``
and ``TrainingElapsedTimeSeconds``. A local session reads the local tuning job's trials
(ListTrainingJobsForHyperParameterTuningJob of local SageMaker); a session built on boto3 pages SageMaker's.
pandas is imported when a DataFrame is asked for.

``TrainingJobAnalytics`` gives rows of ``timestamp`` (seconds since the metric's first datapoint), ``metric_name``
and ``value``. SageMaker's come from CloudWatch, one average per ``period`` (60 s) of the job; a local job's metrics
are its ``FinalMetricDataList`` (the last value each metric definition matched, as SageMaker keeps it there too), one
datapoint per metric at ``timestamp`` 0, which is what CloudWatch answers for a job shorter than a period.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from typing import Any

from stepfn._extras import needs_extra

from ._jobs import TRAINING, TUNING, SessionJob
from .session import aws_boto_session

__all__ = ["HyperparameterTuningJobAnalytics", "TrainingJobAnalytics"]

logger = logging.getLogger(__name__)
METRICS_PERIOD_DEFAULT = 60  # seconds, as sagemaker v2


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


class TrainingJobAnalytics:
    """The metrics of training job ``training_job_name`` (``metric_names``, by default every metric the job
    defines); results are cached until ``clear_cache()`` or ``force_refresh``."""

    CLOUDWATCH_NAMESPACE = "/aws/sagemaker/TrainingJobs"

    def __init__(self, training_job_name: str, metric_names: list[str] | None = None, sagemaker_session: Any = None,
                 start_time: Any = None, end_time: Any = None, period: int | None = None) -> None:
        if sagemaker_session is None:
            from .session import Session

            sagemaker_session = Session()
        self.sagemaker_session = sagemaker_session
        self._job = SessionJob(TRAINING, sagemaker_session, training_job_name)
        self._start_time, self._end_time = start_time, end_time
        self._period = period or METRICS_PERIOD_DEFAULT
        self._metric_names = metric_names or self._metric_names_for_training_job()
        self.clear_cache()

    @property
    def name(self) -> str:
        return self._job.name

    def __repr__(self) -> str:
        return f"<sagemaker.TrainingJobAnalytics for {self.name}>"

    def clear_cache(self) -> None:
        self._data: dict[str, list[Any]] = defaultdict(list)
        self._dataframe: Any = None

    def _metric_names_for_training_job(self) -> list[str]:
        description = self._job.describe()
        definitions = description["AlgorithmSpecification"].get("MetricDefinitions") or []
        if definitions or self._job._client() is not None:
            return [definition["Name"] for definition in definitions]
        # A local built-in algorithm's job records no definitions (SageMaker fills in the algorithm's own): its
        # metrics are those it reported.
        return [metric["MetricName"] for metric in description.get("FinalMetricDataList") or []]

    def dataframe(self, force_refresh: bool = False) -> Any:
        """A pandas DataFrame: ``timestamp``, ``metric_name``, ``value``, each metric's points in time order."""
        if force_refresh:
            self.clear_cache()
        if self._dataframe is None:
            with needs_extra("TrainingJobAnalytics.dataframe()"):
                import pandas

            for metric_name in self._metric_names:
                points = self._points(metric_name)
                if not points:
                    logger.warning("Warning: No metrics called %s found", metric_name)
                for elapsed, value in points:
                    self._data["timestamp"].append(elapsed)
                    self._data["metric_name"].append(metric_name)
                    self._data["value"].append(value)
            self._dataframe = pandas.DataFrame(self._data)
        return self._dataframe

    def _points(self, metric_name: str) -> list[tuple[float, float]]:
        """``(seconds since the metric's first datapoint, value)`` pairs, in time order."""
        boto_session = aws_boto_session(self.sagemaker_session)
        if boto_session is None:
            final = self._job.describe().get("FinalMetricDataList") or []
            return [(0.0, float(metric["Value"])) for metric in final if metric["MetricName"] == metric_name]
        description = self._job.describe()
        # By default a minute past the job's end: CloudWatch drops the seconds of EndTime, and with them the last
        # point (sagemaker v2's reason).
        end = self._end_time or description.get("TrainingEndTime", datetime.datetime.now(datetime.UTC)) + \
            datetime.timedelta(minutes=1)
        cloudwatch = boto_session.client("cloudwatch", region_name=self.sagemaker_session.boto_region_name)
        datapoints = cloudwatch.get_metric_statistics(
            Namespace=self.CLOUDWATCH_NAMESPACE, MetricName=metric_name,
            Dimensions=[{"Name": "TrainingJobName", "Value": self.name}],
            StartTime=self._start_time or description["TrainingStartTime"], EndTime=end, Period=self._period,
            Statistics=["Average"])["Datapoints"]
        if not datapoints:
            return []
        base = min(point["Timestamp"] for point in datapoints)
        return sorted(((point["Timestamp"] - base).total_seconds(), point["Average"]) for point in datapoints)

    def export_csv(self, filename: str, force_refresh: bool = False) -> None:
        self.dataframe(force_refresh=force_refresh).to_csv(filename)
