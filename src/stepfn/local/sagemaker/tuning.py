"""Hyperparameter tuning jobs (CreateHyperParameterTuningJob) searched with optuna over real local training jobs.

Strategies map to optuna samplers: ``Bayesian`` -> TPE, ``Random`` -> random sampling, ``Grid`` -> every
combination of the (categorical or integer) ranges in order, ``Hyperband`` -> TPE with optuna's Hyperband
pruner (``StrategyConfig.HyperbandStrategyConfig`` Min/MaxResource). Each trial is a CreateTrainingJob of the
``TrainingJobDefinition`` (static hyperparameters, the tuned ones as strings, ``_tuning_objective_metric``)
run by the local training runner, named as SageMaker names them (``<tuning job>-<NNN>-<8 hex>``), at most
``MaxParallelTrainingJobs`` at once (each its own process), ``MaxNumberOfTrainingJobs`` in all.

The objective is the training job's ``FinalMetricDataList`` entry named by the objective's ``MetricName``.
``TrainingJobEarlyStoppingType: Auto`` (and Hyperband) prunes trials on the intermediate values of that metric,
read from the training log as it streams (the metric's regex from MetricDefinitions, or the built-in
algorithm's own), with optuna's median rule, the rule SageMaker documents for its early stopping; a pruned job
is stopped as SageMaker stops it. ``TuningJobCompletionCriteria`` (target value, best not improving) and
``ResourceLimits.MaxRuntimeInSeconds`` end the search early. The result is DescribeHyperParameterTuningJob-shaped,
with ``BestTrainingJob``, ``TrainingJobStatusCounters`` and ``ObjectiveStatusCounters``.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepfn._extras import require_extra
from stepfn.engine.protocol import TaskControl
from stepfn.errors import ServiceError
from stepfn.local.sagemaker.records import RecordStore, arn, now_millis, sagemaker_error

KIND = "tuning-job"
OPERATION = "CreateHyperParameterTuningJob"
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}\Z")  # \Z: "$" lets a trailing newline in
_STRATEGIES = ("Bayesian", "Random", "Hyperband", "Grid")
PRUNED_STOP_GRACE_SECONDS = 10.0
_TRAINING_MEMBERS = (
    "AlgorithmSpecification", "RoleArn", "InputDataConfig", "VpcConfig", "OutputDataConfig", "ResourceConfig",
    "StoppingCondition", "EnableNetworkIsolation", "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining", "CheckpointConfig", "RetryStrategy", "Environment",
)


def _invalid(message: str) -> ServiceError:
    return sagemaker_error(OPERATION, "ValidationException", message)


# -- the search space -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parameter:
    name: str
    kind: str  # "Integer", "Continuous", "Categorical"
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Auto"
    values: tuple[str, ...] = ()

    def distribution(self) -> Any:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "Categorical":
            return CategoricalDistribution(self.values)
        log = self.scaling == "Logarithmic"
        if self.kind == "Integer":
            return IntDistribution(int(self.low), int(self.high), log=log)
        if self.scaling == "ReverseLogarithmic":
            # Sampled as 1 - x on a log scale: dense near the upper bound, as SageMaker's reverse log scaling.
            return FloatDistribution(1.0 - self.high, 1.0 - self.low, log=True)
        return FloatDistribution(self.low, self.high, log=log)

    def encode(self, sampled: Any) -> str:
        """The hyperparameter string the training job gets."""
        if self.kind == "Categorical":
            return str(sampled)
        if self.kind == "Integer":
            return str(int(sampled))
        value = 1.0 - float(sampled) if self.scaling == "ReverseLogarithmic" else float(sampled)
        return repr(value)

    def decode(self, encoded: str) -> Any:
        """The sampled value behind a hyperparameter string (inverse of :meth:`encode`)."""
        if self.kind == "Categorical":
            return encoded
        if self.kind == "Integer":
            return int(float(encoded))
        value = float(encoded)
        return 1.0 - value if self.scaling == "ReverseLogarithmic" else value

    def grid(self) -> list[Any]:
        if self.kind == "Categorical":
            return list(self.values)
        if self.kind == "Integer":
            return list(range(int(self.low), int(self.high) + 1))
        raise _invalid(f"Grid search supports only categorical (and integer) parameters; {self.name} is continuous.")


def parse_ranges(ranges: dict[str, Any] | None) -> list[_Parameter]:
    """ParameterRanges -> parameters, refusing what SageMaker refuses (bounds, scaling, duplicates)."""
    parameters: list[_Parameter] = []
    ranges = ranges or {}
    for kind, key in (("Integer", "IntegerParameterRanges"), ("Continuous", "ContinuousParameterRanges")):
        for item in ranges.get(key) or []:
            try:
                low, high = float(item["MinValue"]), float(item["MaxValue"])
            except (KeyError, TypeError, ValueError) as exc:
                raise _invalid(f"{key} entry {item!r} needs numeric MinValue and MaxValue") from exc
            scaling = item.get("ScalingType", "Auto")
            if low > high:
                raise _invalid(f"The MinValue of hyperparameter {item.get('Name')} is greater than its MaxValue.")
            if kind == "Integer" and (low != int(low) or high != int(high)):
                raise _invalid(f"Integer hyperparameter {item.get('Name')} needs integer bounds.")
            if scaling == "Logarithmic" and low <= 0:
                raise _invalid(f"Logarithmic scaling of {item.get('Name')} needs a MinValue greater than 0.")
            if scaling == "ReverseLogarithmic" and (kind == "Integer" or low < 0 or high >= 1):
                raise _invalid(f"ReverseLogarithmic scaling of {item.get('Name')} needs a continuous range in [0, 1).")
            parameters.append(_Parameter(item["Name"], kind, low, high, scaling))
    for item in ranges.get("CategoricalParameterRanges") or []:
        values = tuple(str(v) for v in item.get("Values") or [])
        if not values:
            raise _invalid(f"Categorical hyperparameter {item.get('Name')} needs at least one value.")
        parameters.append(_Parameter(item["Name"], "Categorical", values=values))
    names = [p.name for p in parameters]
    if len(set(names)) != len(names):
        raise _invalid("A hyperparameter can appear in only one parameter range.")
    return parameters


# -- one trial -------------------------------------------------------------------------------------------------


class _TrialControl:
    """The TaskControl a trial's training job runs under: it reads the objective's intermediate values from the
    streaming log, reports them to optuna and stops the job when the pruner says so."""

    def __init__(self, parent: TaskControl | None, trial: Any, patterns: list[re.Pattern[str]],
                 pruning: bool, lock: threading.Lock, stop_all: threading.Event) -> None:
        self.parent = parent
        self.trial = trial
        self.patterns = patterns
        self.pruning = pruning
        self.lock = lock
        self.stop_all = stop_all
        self.pruned = threading.Event()
        self.step = 0

    def cancelled(self) -> bool:
        return self.pruned.is_set() or self.stop_all.is_set() or bool(self.parent and self.parent.cancelled())

    def heartbeat(self) -> None:
        if self.parent is not None:
            self.parent.heartbeat()

    def sleep(self, seconds: float) -> bool:
        time.sleep(seconds)
        return not self.cancelled()

    def log(self, message: str) -> None:
        if self.parent is not None:
            self.parent.log(message)
        value = self._intermediate(message)
        if value is None:
            return
        self.step += 1
        with self.lock:
            self.trial.report(value, self.step)
            if self.pruning and self.trial.should_prune():
                self.pruned.set()

    def _intermediate(self, line: str) -> float | None:
        for text in (line, line.replace("\t", "#011")):
            for pattern in self.patterns:
                match = pattern.search(text)
                if match and match.groups():
                    try:
                        value = float(match.group(1))
                    except (TypeError, ValueError):
                        continue
                    if math.isfinite(value):
                        return value
        return None


@dataclass
class _Outcome:
    record: dict[str, Any]
    tuned: dict[str, str]
    objective: float | None
    pruned: bool


@dataclass
class _Counters:
    training: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped"), 0))
    objective: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("Succeeded", "Pending", "Failed"), 0))


# -- the job ---------------------------------------------------------------------------------------------------


def validate_request(params: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any], list[_Parameter]]:
    name = params.get("HyperParameterTuningJobName")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _invalid(f"1 validation error detected: Value '{name}' at 'hyperParameterTuningJobName' failed to "
                       "satisfy constraint: Member must satisfy regular expression pattern: "
                       "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")
    config = params.get("HyperParameterTuningJobConfig")
    if not isinstance(config, dict):
        raise _invalid("1 validation error detected: Value null at 'hyperParameterTuningJobConfig' failed to "
                       "satisfy constraint: Member must not be null")
    if config.get("Strategy") not in _STRATEGIES:
        raise _invalid(f"Strategy {config.get('Strategy')!r} is not one of {', '.join(_STRATEGIES)}.")
    limits = config.get("ResourceLimits") or {}
    if not isinstance(limits.get("MaxParallelTrainingJobs"), int) or limits["MaxParallelTrainingJobs"] < 1:
        raise _invalid("ResourceLimits.MaxParallelTrainingJobs must be an integer of at least 1.")
    definition = params.get("TrainingJobDefinition")
    if definition is None and params.get("TrainingJobDefinitions"):
        if len(params["TrainingJobDefinitions"]) > 1:
            raise _invalid("Only one training job definition runs locally; use TrainingJobDefinition.")
        definition = params["TrainingJobDefinitions"][0]
    if not isinstance(definition, dict) or not definition.get("AlgorithmSpecification"):
        raise _invalid("A TrainingJobDefinition with an AlgorithmSpecification is required.")
    objective = config.get("HyperParameterTuningJobObjective") or definition.get("TuningObjective")
    if not objective or objective.get("Type") not in ("Maximize", "Minimize") or not objective.get("MetricName"):
        raise _invalid("HyperParameterTuningJobObjective needs Type (Maximize or Minimize) and MetricName.")
    parameters = parse_ranges(config.get("ParameterRanges") or definition.get("HyperParameterRanges"))
    if config["Strategy"] != "Grid" and not limits.get("MaxNumberOfTrainingJobs"):
        raise _invalid("ResourceLimits.MaxNumberOfTrainingJobs is required unless the Strategy is Grid.")
    return name, definition, objective, parameters


class TuningJobs:
    """Local tuning jobs of one ``$STEPFN_HOME``."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.records = RecordStore(home)

    def run(self, params: dict[str, Any], *, resumed: bool = False, control: TaskControl | None = None,
            background: bool = False) -> dict[str, Any]:
        """Create the tuning job and run its search to the end (or, ``background``, on a thread)."""
        from stepfn.local.sagemaker.lifecycle import begin_job, job_control, run_detached, run_guarded

        name, definition, objective, parameters = validate_request(params)
        require_extra("ml", "A local hyperparameter tuning job (searched with optuna)", "optuna")
        for parent in (params.get("WarmStartConfig") or {}).get("ParentHyperParameterTuningJobs") or []:
            parent_name = parent.get("HyperParameterTuningJobName") if isinstance(parent, dict) else None
            if not isinstance(parent_name, str) or self.records.get(KIND, parent_name) is None:
                raise _invalid(f"Amazon SageMaker can't find a tuning job with name {parent_name}")
        config = params["HyperParameterTuningJobConfig"]
        stamp = now_millis()
        record: dict[str, Any] = {
            "HyperParameterTuningJobName": name, "HyperParameterTuningJobArn": arn(KIND, name),
            "HyperParameterTuningJobConfig": config,
        }
        for key in ("TrainingJobDefinition", "TrainingJobDefinitions", "WarmStartConfig", "Autotune"):
            if key in params:
                record[key] = params[key]
        record.update({
            "HyperParameterTuningJobStatus": "InProgress", "CreationTime": stamp, "LastModifiedTime": stamp,
            "TrainingJobStatusCounters": _Counters().training, "ObjectiveStatusCounters": _Counters().objective,
        })
        finished = begin_job(self.records, KIND, name, record, operation=OPERATION, resumed=resumed,
                             control=control, background=background)
        if finished is not None:
            return finished
        search = _Search(self.records, record, definition, objective, parameters,
                         job_control(self.records, KIND, name, None if background else control))
        if background:
            run_detached(f"tuning-{name}", lambda: run_guarded(self.records, KIND, name, search.run))
            return record
        return run_guarded(self.records, KIND, name, search.run)


class _Search:
    def __init__(self, records: RecordStore, record: dict[str, Any], definition: dict[str, Any],
                 objective: dict[str, Any], parameters: list[_Parameter], control: TaskControl | None) -> None:
        from stepfn.local.sagemaker.training import TrainingJobs

        self.records = records
        self.record = record
        self.name = record["HyperParameterTuningJobName"]
        self.config = record["HyperParameterTuningJobConfig"]
        self.definition = definition
        self.objective = objective
        self.maximize = objective["Type"] == "Maximize"
        self.parameters = parameters
        self.control = control
        self.jobs = TrainingJobs(records.home, stop_grace_seconds=PRUNED_STOP_GRACE_SECONDS)
        self.lock = threading.Lock()
        self.stop_all = threading.Event()
        self.counters = _Counters()
        self.best: _Outcome | None = None
        self.not_improving = 0
        self.started = time.monotonic()

    def _study(self) -> Any:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        seed = self.config.get("RandomSeed")
        strategy = self.config["Strategy"]
        early = self.config.get("TrainingJobEarlyStoppingType") == "Auto"
        sampler: Any = optuna.samplers.RandomSampler(seed=seed) if strategy in ("Random", "Grid") else \
            optuna.samplers.TPESampler(seed=seed)
        pruner: Any = optuna.pruners.NopPruner()
        if strategy == "Hyperband":
            hyperband = (self.config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
            pruner = optuna.pruners.HyperbandPruner(min_resource=int(hyperband.get("MinResource", 1)),
                                                    max_resource=int(hyperband.get("MaxResource", 0)) or "auto")
        elif early:
            pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
        study = optuna.create_study(direction="maximize" if self.maximize else "minimize", sampler=sampler, pruner=pruner, study_name=self.name)
        return study, strategy == "Hyperband" or early

    def _plan(self, study: Any) -> int:
        limits = self.config["ResourceLimits"]
        if self.config["Strategy"] != "Grid":
            return int(limits["MaxNumberOfTrainingJobs"])
        combinations = list(itertools.product(*(p.grid() for p in self.parameters)))
        total = min(len(combinations), int(limits.get("MaxNumberOfTrainingJobs") or len(combinations)))
        for combination in combinations[:total]:
            study.enqueue_trial({p.name: value for p, value in zip(self.parameters, combination, strict=True)})
        return total

    def _patterns(self) -> list[re.Pattern[str]]:
        metric = self.objective["MetricName"]
        definitions = list(self.definition["AlgorithmSpecification"].get("MetricDefinitions") or [])
        try:
            runtime = self.jobs.runtime_for({"AlgorithmSpecification": self.definition["AlgorithmSpecification"],
                                             "HyperParameters": self.definition.get("StaticHyperParameters") or {}})
        except ServiceError:
            runtime = None
        if runtime is not None:
            from stepfn.local.sagemaker.images import image_metric_definitions

            definitions += image_metric_definitions(runtime)
        patterns = []
        for definition in definitions:
            if definition.get("Name") == metric:
                try:
                    patterns.append(re.compile(definition["Regex"]))
                except re.error:
                    continue
        return patterns

    def _training_request(self, job_name: str, tuned: dict[str, str]) -> dict[str, Any]:
        request: dict[str, Any] = {"TrainingJobName": job_name}
        request.update({key: self.definition[key] for key in _TRAINING_MEMBERS if key in self.definition})
        hyperparameters = dict(self.definition.get("StaticHyperParameters") or {})
        hyperparameters.update(tuned)
        hyperparameters["_tuning_objective_metric"] = self.objective["MetricName"]
        request["HyperParameters"] = hyperparameters
        return request

    def _train(self, job_name: str, tuned: dict[str, str], trial_control: _TrialControl) -> _Outcome:
        try:
            record = self.jobs.run(self._training_request(job_name, tuned), trial_control)
        except Exception as exc:  # one trial that cannot run is a failed trial, not a failed search
            response = exc.response if isinstance(exc, ServiceError) else None
            message = ((response or {}).get("Error") or {}).get("Message") or f"{type(exc).__name__}: {exc}"
            record = {"TrainingJobName": job_name, "TrainingJobArn": arn("training-job", job_name),
                      "TrainingJobStatus": "Failed", "FailureReason": message, "CreationTime": now_millis()}
        else:
            # The DescribeTrainingJob record of a tuning job's trial names its tuning job, as on SageMaker.
            stored = self.records.get("training-job", job_name)
            if stored is not None:
                stored["TuningJobArn"] = self.record["HyperParameterTuningJobArn"]
                self.records.put("training-job", job_name, stored)
                record = stored
        metrics = {m["MetricName"]: m["Value"] for m in record.get("FinalMetricDataList") or []}
        value = metrics.get(self.objective["MetricName"])
        objective = float(value) if value is not None and record["TrainingJobStatus"] == "Completed" else None
        return _Outcome(record, tuned, objective, trial_control.pruned.is_set())

    def _finish_trial(self, study: Any, trial: Any, outcome: _Outcome) -> None:
        from optuna.trial import TrialState

        status = outcome.record["TrainingJobStatus"]
        counters = self.counters
        counters.training["InProgress"] -= 1
        counters.objective["Pending"] -= 1
        if status == "Completed":
            counters.training["Completed"] += 1
        elif status == "Stopped":
            counters.training["Stopped"] += 1
        else:
            counters.training["NonRetryableError"] += 1
        with self.lock:
            if outcome.pruned:
                study.tell(trial, state=TrialState.PRUNED)
            elif outcome.objective is not None:
                study.tell(trial, outcome.objective)
            else:
                study.tell(trial, state=TrialState.FAIL)
        if outcome.objective is None:
            counters.objective["Failed"] += 1
            return
        counters.objective["Succeeded"] += 1
        better = self.best is None or self.best.objective is None or (
            outcome.objective > self.best.objective if self.maximize else outcome.objective < self.best.objective)
        if better:
            self.best = outcome
            self.not_improving = 0
        else:
            self.not_improving += 1

    def _should_stop_launching(self) -> bool:
        limits = self.config["ResourceLimits"]
        if self.control is not None and self.control.cancelled():
            self.stop_all.set()
            return True
        runtime = limits.get("MaxRuntimeInSeconds")
        if runtime and time.monotonic() - self.started >= float(runtime):
            self.stop_all.set()
            return True
        criteria = self.config.get("TuningJobCompletionCriteria") or {}
        target = criteria.get("TargetObjectiveMetricValue")
        if target is not None and self.best is not None and self.best.objective is not None and (
                self.best.objective >= target if self.maximize else self.best.objective <= target):
            return True
        patience = (criteria.get("BestObjectiveNotImproving") or {}).get("MaxNumberOfTrainingJobsNotImproving")
        return bool(patience and self.not_improving >= int(patience))

    def _save(self, **changes: Any) -> None:
        from stepfn.local.sagemaker.lifecycle import update_job

        self.record = update_job(self.records, KIND, self.name, TrainingJobStatusCounters=dict(self.counters.training),
                                 ObjectiveStatusCounters=dict(self.counters.objective), **changes)

    def _warm_start(self, study: Any, distributions: dict[str, Any]) -> None:
        """WarmStartConfig: the parent tuning jobs' finished trials seed the study as completed trials, so the
        sampler starts from what they learned (both IdenticalDataAndAlgorithm and TransferLearning)."""
        import optuna

        from stepfn.local.sagemaker.jobprocess import append_log

        warm = self.record.get("WarmStartConfig") or {}
        for parent in warm.get("ParentHyperParameterTuningJobs") or []:
            seeded = 0
            for trial in list_training_jobs_for_tuning_job(parent["HyperParameterTuningJobName"], self.records.home):
                metric = trial.get("FinalHyperParameterTuningJobObjectiveMetric")
                tuned = trial["TunedHyperParameters"]
                if metric is None or set(tuned) != set(distributions):
                    continue
                try:
                    params = {p.name: p.decode(tuned[p.name]) for p in self.parameters}
                    study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions,
                                                              value=float(metric["Value"])))
                except ValueError:
                    continue  # outside this job's ranges: the parent's knowledge does not apply
                seeded += 1
            append_log(self.records.log_path(KIND, self.name),
                       f"stepfn: warm start from {parent['HyperParameterTuningJobName']}: {seeded} finished trial(s)",
                       self.control)

    def run(self) -> dict[str, Any]:
        study, pruning = self._study()
        distributions = {p.name: p.distribution() for p in self.parameters}
        self._warm_start(study, distributions)
        total = self._plan(study)
        patterns = self._patterns() if pruning else []
        parallel = int(self.config["ResourceLimits"]["MaxParallelTrainingJobs"])
        launched = 0
        stopping = False
        running: dict[Future[_Outcome], Any] = {}
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix=f"tuning-{self.name}") as pool:
            while running or (launched < total and not stopping):
                while not stopping and launched < total and len(running) < parallel:
                    with self.lock:
                        trial = study.ask(distributions)
                    tuned = {p.name: p.encode(trial.params[p.name]) for p in self.parameters}
                    launched += 1
                    job_name = f"{self.name}-{launched:03d}-{uuid.uuid4().hex[:8]}"
                    trial_control = _TrialControl(self.control, trial, patterns, pruning, self.lock, self.stop_all)
                    running[pool.submit(self._train, job_name, tuned, trial_control)] = trial
                    self.counters.training["InProgress"] += 1
                    self.counters.objective["Pending"] += 1
                    self._save()
                done, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    self._finish_trial(study, running.pop(future), future.result())
                    self._save()
                stopping = stopping or self._should_stop_launching()
        return self._conclude(stopped=bool(self.control is not None and self.control.cancelled()))

    def _conclude(self, *, stopped: bool) -> dict[str, Any]:
        changes: dict[str, Any] = {
            "HyperParameterTuningEndTime": now_millis(),
            "ConsumedResources": {"RuntimeInSeconds": max(1, round(time.monotonic() - self.started))},
            "TuningJobCompletionDetails": {"NumberOfTrainingJobsObjectiveNotImproving": self.not_improving},
        }
        if self.best is not None:
            changes["BestTrainingJob"] = _summary(self.best, self.objective, self.name)
        if stopped:
            status = "Stopped"
        elif self.best is None:
            status = "Failed"
            changes["FailureReason"] = (
                "No training job succeeded after "
                f"{sum(self.counters.training.values())} attempts. Please take a look at the training job failures "
                "to get more details."
            )
        else:
            status = "Completed"
        self._save(HyperParameterTuningJobStatus=status, **changes)
        return self.record


def _summary(outcome: _Outcome, objective: dict[str, Any], tuning_name: str) -> dict[str, Any]:
    """A HyperParameterTrainingJobSummary of one trial."""
    record = outcome.record
    summary: dict[str, Any] = {
        "TrainingJobName": record["TrainingJobName"], "TrainingJobArn": record["TrainingJobArn"],
        "TuningJobName": tuning_name, "CreationTime": record["CreationTime"],
    }
    for key in ("TrainingStartTime", "TrainingEndTime"):
        if key in record:
            summary[key] = record[key]
    summary.update({"TrainingJobStatus": record["TrainingJobStatus"], "TunedHyperParameters": outcome.tuned})
    if record.get("FailureReason"):
        summary["FailureReason"] = record["FailureReason"]
    if outcome.objective is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": objective["Type"], "MetricName": objective["MetricName"], "Value": outcome.objective}
        summary["ObjectiveStatus"] = "Succeeded"
    else:
        summary["ObjectiveStatus"] = "Failed"
    return summary


def run_tuning_job(
    home: Path | str, params: dict[str, Any], *, resumed: bool = False, control: TaskControl | None = None,
    background: bool = False,
) -> dict[str, Any]:
    """Run a tuning job to its end; returns the DescribeHyperParameterTuningJob record."""
    return TuningJobs(home).run(params, resumed=resumed, control=control, background=background)


def list_training_jobs_for_tuning_job(name: str, home: Path | str | None = None) -> list[dict[str, Any]]:
    """ListTrainingJobsForHyperParameterTuningJob: a summary of every trial of tuning job ``name``."""
    records = RecordStore(home)
    tuning = records.require(KIND, name, "ListTrainingJobsForHyperParameterTuningJob")
    definition = tuning.get("TrainingJobDefinition") or (tuning.get("TrainingJobDefinitions") or [{}])[0]
    objective = tuning["HyperParameterTuningJobConfig"].get("HyperParameterTuningJobObjective") or \
        definition.get("TuningObjective") or {}
    ranges = parse_ranges(tuning["HyperParameterTuningJobConfig"].get("ParameterRanges") or
                          definition.get("HyperParameterRanges"))
    summaries = []
    for record in records.list("training-job"):
        if record.get("TuningJobArn") != tuning["HyperParameterTuningJobArn"]:
            continue
        tuned = {p.name: record["HyperParameters"][p.name] for p in ranges if p.name in record.get("HyperParameters", {})}
        metrics = {m["MetricName"]: m["Value"] for m in record.get("FinalMetricDataList") or []}
        value = metrics.get(objective.get("MetricName"))
        score = float(value) if value is not None and record["TrainingJobStatus"] == "Completed" else None
        summaries.append(_summary(_Outcome(record, tuned, score, False), objective, name))
    return summaries


__all__ = ["TuningJobs", "list_training_jobs_for_tuning_job", "parse_ranges", "run_tuning_job", "validate_request"]
