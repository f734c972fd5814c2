"""Local CreateTrainingJob: the request (AWS API shape, as the engine passes it) runs for real on this machine.

``handlers(home)`` gives the engine ``{"sagemaker:createTrainingJob": ...}``:

* request-response: the job starts in the background and the result is ``{"TrainingJobArn": ...}``;
* ``.sync``: the Task waits and its result is the DescribeTrainingJob-shaped record (timestamps as epoch
  milliseconds). A job that ends Failed or Stopped fails the Task with ``States.TaskFailed`` whose cause is
  that record as JSON; a refused request fails it with ``SageMaker.AmazonSageMakerException`` (docs/design/sagemaker-contract.md §2.4).

A job walks SageMaker's secondary statuses (Starting, Downloading, Training, Uploading, then Completed /
Failed / Stopped / MaxRuntimeExceeded), in its relocated ``/opt/ml`` under ``<home>/sagemaker/jobs``, with its
log at ``<home>/sagemaker/logs/training-job/<name>.log``. Names are unique as on SageMaker; a Task re-dispatched
after a crash (``request.resumed``) attaches to the job of that name instead, as every local job does
(:mod:`stepfn.local.sagemaker.lifecycle`: its owner and lease, stop requests from any process): it waits for a
job still running, returns the record of a finished one, and re-runs one whose runner died.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepfn._extras import require_extra
from stepfn.engine.protocol import TaskControl, TaskHandler, TaskRequest
from stepfn.errors import MissingExtraError, ServiceError, StatesError, StoreError
from stepfn.local.objectstore import ObjectStore, stepfn_home
from stepfn.local.sagemaker.envs import (
    JobEnvironment,
    JobEnvironmentError,
    ensure_requirements,
    environment_for_image,
)
from stepfn.local.sagemaker.frameworks import framework_of_image
from stepfn.local.sagemaker.images import (
    Runtime,
    UnknownImageError,
    image_metric_definitions,
    repository_of,
    resolve_image,
)
from stepfn.local.sagemaker.isolation import NOT_ISOLATED, PROGRAM_DIR, IsolationError, Launch, choose_isolation
from stepfn.local.sagemaker.jobdir import (
    CONTAINER_VIEW,
    OPT_ML,
    ChannelError,
    DirectorySync,
    JobDir,
    PipeFeeder,
    build_input_data_config,
    build_resource_config,
    host_names,
    pack,
    remove_staged_inputs,
    stage_channels,
)
from stepfn.local.sagemaker.jobprocess import (
    MetricCollector,
    append_log,
    clean_environment,
    first_failure,
    relocation_hint,
    run_instances,
)
from stepfn.local.sagemaker.lifecycle import (
    TERMINAL,
    begin_job,
    job_control,
    request_stop,
    run_detached,
    run_guarded,
)
from stepfn.local.sagemaker.records import (
    REGION,
    RecordStore,
    arn,
    as_states_error,
    check_name,
    now_millis,
    optimized_result,
    sagemaker_error,
)
from stepfn.local.sagemaker.scriptmode import (
    ScriptModeError,
    decode_hyperparameters,
    distribution_environment,
    entry_command,
    num_gpus,
    python_path,
    requirements_command,
    stage_code,
    to_cmd_args,
    toolkit_environment,
)
from stepfn.local.sagemaker.toolkits import paths_for

KIND = "training-job"
OPERATION = "CreateTrainingJob"
DEFAULT_STOP_GRACE_SECONDS = 120.0
_ECHOED = (
    "HyperParameters", "AlgorithmSpecification", "RoleArn", "InputDataConfig", "OutputDataConfig", "ResourceConfig",
    "StoppingCondition", "VpcConfig", "CheckpointConfig", "DebugHookConfig", "ExperimentConfig",
    "DebugRuleConfigurations", "TensorBoardOutputConfig", "ProfilerConfig", "ProfilerRuleConfigurations",
    "Environment", "RetryStrategy", "RemoteDebugConfig", "InfraCheckConfig",
)
_STATUS_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job stopped because it exceeded its maximum allowed runtime",
}
_ENV_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")  # \Z, not $: "$" lets a trailing newline in
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9\.\-_]+\Z")


def _invalid(message: str) -> ServiceError:
    return sagemaker_error(OPERATION, "ValidationException", message)


def _null(member: str) -> ServiceError:
    return _invalid(f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: "
                    "Member must not be null")


def validate_request(params: Any) -> dict[str, Any]:
    """The checks SageMaker makes before accepting a job (botocore's shape checks, then the service's own)."""
    if not isinstance(params, dict):
        raise _invalid("The CreateTrainingJob request must be a JSON object")
    _botocore_validate(params)
    check_name(KIND, params.get("TrainingJobName"), OPERATION, "TrainingJobName")
    if not params.get("RoleArn"):
        raise _null("roleArn")
    spec = params.get("AlgorithmSpecification")
    if not isinstance(spec, dict):
        raise _null("algorithmSpecification")
    if spec.get("TrainingInputMode") not in ("Pipe", "File", "FastFile"):
        raise _invalid(f"1 validation error detected: Value '{spec.get('TrainingInputMode')}' at "
                       "'algorithmSpecification.trainingInputMode' failed to satisfy constraint: Member must "
                       "satisfy enum value set: [Pipe, File, FastFile]")
    if bool(spec.get("TrainingImage")) == bool(spec.get("AlgorithmName")):
        raise _invalid("Either AlgorithmName or TrainingImage must be specified, but not both.")
    if spec.get("AlgorithmName"):
        raise _invalid(f"Algorithm {spec['AlgorithmName']!r} (an algorithm resource or Marketplace algorithm) does "
                       "not run locally; give a TrainingImage instead.")
    output = params.get("OutputDataConfig")
    if not isinstance(output, dict) or not output.get("S3OutputPath"):
        raise _null("outputDataConfig.s3OutputPath")
    hyperparameters = params.get("HyperParameters") or {}
    for key, value in hyperparameters.items():
        if not isinstance(value, str):
            raise _invalid(f"HyperParameters values must be strings: {key!r} is {type(value).__name__} "
                           f"{json.dumps(value)} (encode it, e.g. \"{json.dumps(value)}\")")
    environment = params.get("Environment") or {}
    if len(environment) > 100 or any(not _ENV_KEY.match(k) or not isinstance(v, str) or len(v) > 512
                                     for k, v in environment.items()):
        raise _invalid("Environment: at most 100 entries, keys matching [a-zA-Z_][a-zA-Z0-9_]*, string values "
                       "of at most 512 characters")
    channels = params.get("InputDataConfig") or []
    names = [c.get("ChannelName") for c in channels if isinstance(c, dict)]
    if len(names) != len(channels) or len(set(names)) != len(names) or len(channels) > 20:
        raise _invalid("InputDataConfig: at most 20 channels with unique ChannelName values")
    for name in names:
        if not isinstance(name, str) or not _CHANNEL_NAME.match(name) or len(name) > 64 or name in (".", ".."):
            raise _invalid(f"Channel name {name!r} must match [A-Za-z0-9\\.\\-_]+ (at most 64 characters)")
    return params


_shape_cache: list[Any] = []


def _botocore_validate(params: dict[str, Any]) -> None:
    """botocore's own parameter validation against the CreateTrainingJob input shape (types, required members,
    minimums), so a request that boto3 would refuse is refused here too."""
    try:
        from botocore.exceptions import ParamValidationError
        from botocore.validate import validate_parameters
    except ImportError:  # botocore comes with boto3, a core dependency; keep working without it all the same
        return
    if not _shape_cache:
        import botocore.session

        model = botocore.session.get_session().get_service_model("sagemaker")
        _shape_cache.append(model.operation_model(OPERATION).input_shape)
    try:
        validate_parameters(_without_local_mode_channels(params), _shape_cache[0])
    except ParamValidationError as exc:
        raise _invalid(str(exc).replace("Parameter validation failed:\n", "")) from None


def _without_local_mode_channels(params: dict[str, Any]) -> dict[str, Any]:
    """The request less its ``FileDataSource`` channels when it is one of sagemaker v2's Local Mode
    (``InstanceType`` ``local``/``local_gpu``): v2 sends ``file://`` data that way to its local client only, so
    SageMaker's model lacks the member; the rest of the request is checked, and elsewhere the member is refused."""
    resources = params.get("ResourceConfig")
    channels = params.get("InputDataConfig")
    if not isinstance(resources, dict) or resources.get("InstanceType") not in ("local", "local_gpu") or \
            not isinstance(channels, list):
        return params
    kept = [c for c in channels if not (isinstance(c, dict) and "FileDataSource" in (c.get("DataSource") or {}))]
    return {**params, "InputDataConfig": kept} if kept else {k: v for k, v in params.items() if k != "InputDataConfig"}


def describe(record: dict[str, Any]) -> dict[str, Any]:
    """The DescribeTrainingJob response for a record (records are kept in that shape already)."""
    return dict(record)


class _Detached:
    """The TaskControl of a job started request-response: nobody cancels it but StopTrainingJob."""

    def cancelled(self) -> bool:
        return False

    def heartbeat(self) -> None:
        pass

    def sleep(self, seconds: float) -> bool:
        time.sleep(seconds)
        return True

    def log(self, message: str) -> None:
        pass


class TrainingJobs:
    """Local training jobs of one ``$STEPFN_HOME``."""

    def __init__(
        self,
        home: Path | str | None = None,
        *,
        store: ObjectStore | None = None,
        stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS,
        region: str = REGION,
    ) -> None:
        # Absolute: scripts run in their code directory and read the channel paths handed to them.
        self.home = Path(home).absolute() if home is not None else stepfn_home()
        self.records = RecordStore(self.home)
        self.store = store or ObjectStore(self.home / "s3")
        self.stop_grace_seconds = stop_grace_seconds
        self.region = region

    # -- API -----------------------------------------------------------------------------------------------------

    def job_dir(self, name: str) -> JobDir:
        self.records.path(KIND, name)  # refuses names that are not SageMaker names before touching the disk
        return JobDir(self.home / "sagemaker" / "jobs" / KIND / name)

    def log_path(self, name: str) -> Path:
        return self.records.log_path(KIND, name)

    def create(self, params: Any) -> dict[str, Any]:
        """Validate and record a new job (InProgress/Starting); raises ServiceError as SageMaker refuses."""
        validate_request(params)
        runtime = self.runtime_for(params)
        name = params["TrainingJobName"]
        now = now_millis()
        record: dict[str, Any] = {
            "TrainingJobName": name,
            "TrainingJobArn": arn(KIND, name, region=self.region),
            "ModelArtifacts": {"S3ModelArtifacts": self._model_artifacts_uri(params)},
            "TrainingJobStatus": "InProgress",
            "SecondaryStatus": "Starting",
        }
        record.update({key: params[key] for key in _ECHOED if key in params})
        record["HyperParameters"] = dict(params.get("HyperParameters") or {})
        record["ResourceConfig"] = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30,
                                    **(params.get("ResourceConfig") or {})}
        record["StoppingCondition"] = {"MaxRuntimeInSeconds": 86400, **(params.get("StoppingCondition") or {})}
        record.update({
            "CreationTime": now,
            "LastModifiedTime": now,
            "SecondaryStatusTransitions": [
                {"Status": "Starting", "StartTime": now, "StatusMessage": _STATUS_MESSAGES["Starting"]}
            ],
            "EnableNetworkIsolation": bool(params.get("EnableNetworkIsolation", False)),
            "EnableInterContainerTrafficEncryption": bool(params.get("EnableInterContainerTrafficEncryption", False)),
            "EnableManagedSpotTraining": bool(params.get("EnableManagedSpotTraining", False)),
        })
        # The creating process runs the job: its lease says so at once, so a crash before the job starts is seen
        # as a dead runner (the job run again at once by whoever attaches to it).
        begin_job(self.records, KIND, name, record, operation=OPERATION, resumed=False)
        if runtime.kind == "builtin" and runtime.algorithm:
            append_log(self.log_path(name), f"stepfn: {runtime.image} runs the local {runtime.algorithm} emulator")
        return record

    def describe(self, name: str) -> dict[str, Any]:
        return describe(self.records.require(KIND, name, "DescribeTrainingJob"))

    def stop(self, name: str) -> None:
        """StopTrainingJob: SIGTERM, then SIGKILL after the grace period, whichever process runs the job."""
        record = self.records.require(KIND, name, "StopTrainingJob")
        if record["TrainingJobStatus"] != "InProgress":
            raise sagemaker_error("StopTrainingJob", "ValidationException",
                                  f"The request was rejected because the training job is in status "
                                  f"{record['TrainingJobStatus']}.")
        request_stop(self.records, KIND, name)

    def start(self, params: Any) -> dict[str, Any]:
        """Create the job and run it on a background thread; returns the CreateTrainingJob response."""
        record = self.create(params)
        self._start_background(record["TrainingJobName"])
        return {"TrainingJobArn": record["TrainingJobArn"]}

    def run(self, params: Any, control: TaskControl | None = None) -> dict[str, Any]:
        """Create the job and run it to its end; returns the final record."""
        record = self.create(params)
        return self.run_existing(record["TrainingJobName"], control or _Detached())

    def wait(self, name: str, control: TaskControl | None = None) -> dict[str, Any]:
        """Wait for a job (of this or another process) to end; returns its final record. A job whose runner
        is gone (its process died, or its lease ran out) runs again here under its name."""
        self.records.require(KIND, name, "DescribeTrainingJob")
        control = control or _Detached()
        finished = begin_job(self.records, KIND, name, None, operation=OPERATION, resumed=True, control=control)
        return finished if finished is not None else self._run_taken(name, control)

    # -- the engine's handler ------------------------------------------------------------------------------------

    def handler(self, request: TaskRequest, control: TaskControl) -> Any:
        params = request.parameters
        name = params.get("TrainingJobName") if isinstance(params, dict) else None
        if request.resumed and isinstance(name, str) and self.records.get(KIND, name) is not None:
            record = self.records.get(KIND, name) or {}
            if request.pattern == "request_response":
                if begin_job(self.records, KIND, name, None, operation=OPERATION, resumed=True,
                             background=True) is None:  # its runner is gone: run it again here
                    self._start_background(name)
                return optimized_result(request, {"TrainingJobArn": record["TrainingJobArn"]})
            return self._task_result(self.wait(name, control))
        try:
            if request.pattern == "request_response":
                return optimized_result(request, self.start(params))
            record = self.create(params)
        except ServiceError as exc:
            raise as_states_error(exc) from exc
        return self._task_result(self.run_existing(record["TrainingJobName"], control))

    @staticmethod
    def _task_result(record: dict[str, Any]) -> dict[str, Any]:
        result = describe(record)
        if result["TrainingJobStatus"] != "Completed":
            raise StatesError("States.TaskFailed", json.dumps(result))
        return result

    # -- running ---------------------------------------------------------------------------------------------

    def _start_background(self, name: str) -> None:
        run_detached(f"training-{name}", lambda: self._run_taken(name, _Detached()))

    def run_existing(self, name: str, control: TaskControl) -> dict[str, Any]:
        """Run a job this process recorded (:meth:`create`) in this thread; returns its final record."""
        return self._run_taken(name, control)

    def _run_taken(self, name: str, control: TaskControl) -> dict[str, Any]:
        """Run a job whose lease this process holds (it created the job or took it over) to its end."""
        run = _Run(self, name, job_control(self.records, KIND, name, control))
        return run_guarded(self.records, KIND, name, run.execute, fail=run.fail)

    def runtime_for(self, params: dict[str, Any]) -> Runtime:
        spec = params["AlgorithmSpecification"]
        image = spec["TrainingImage"]
        script_mode = "sagemaker_program" in (params.get("HyperParameters") or {})
        try:
            return resolve_image(image, script_mode=script_mode, home=self.home)
        except UnknownImageError as exc:
            if spec.get("ContainerEntrypoint"):
                # The request says what to run: run it here, /opt/ml relocated (as docker --entrypoint would).
                return Runtime("command", image, repository_of(image))
            raise _invalid(str(exc)) from None

    @staticmethod
    def _output_base(params: dict[str, Any]) -> str:
        return f"{params['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{params['TrainingJobName']}/output"

    def _model_artifacts_uri(self, params: dict[str, Any]) -> str:
        base = self._output_base(params)
        if params["OutputDataConfig"].get("CompressionType") == "NONE":
            return f"{base}/model/"
        return f"{base}/model.tar.gz"


@dataclass(frozen=True)
class _Host:
    """One instance of a job: its name (``algo-1``...), its own ``/opt/ml`` tree and its process."""

    name: str
    job: JobDir
    launch: Launch


@dataclass(frozen=True)
class _HostNetwork:
    """How a job's instances, all processes on this machine, reach each other: every ``algo-<i>`` is this
    machine (an ``/etc/hosts`` of their own names under isolation, ``127.0.0.1`` otherwise), and each gets two
    free ports, since they share one network."""

    master_addr: str
    ports: list[int]
    hosts_file: Path | None

    @classmethod
    def for_hosts(cls, hosts: list[str], root: Path, isolated: bool) -> _HostNetwork:
        sockets = []
        for _ in range(2 * len(hosts)):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            sockets.append(probe)
        ports = [int(probe.getsockname()[1]) for probe in sockets]
        for probe in sockets:
            probe.close()
        if not isolated:
            return cls("127.0.0.1", ports, None)
        hosts_file = root / "etc-hosts"
        try:
            system = Path("/etc/hosts").read_text()
        except OSError:
            system = "127.0.0.1 localhost\n"
        hosts_file.write_text(system.rstrip("\n") + f"\n127.0.0.1 {' '.join(hosts)}\n")
        return cls(hosts[0], ports, hosts_file)

    def describe(self) -> str:
        if self.hosts_file is not None:
            return f"their names resolve to 127.0.0.1 inside the job; MASTER_ADDR={self.master_addr}"
        return ("without a mount namespace their names (SM_HOSTS) do not resolve: use MASTER_ADDR "
                f"({self.master_addr}) and the ports the job's variables give")


class _Run:
    """One attempt at running a recorded job, from Starting to its terminal status."""

    def __init__(self, jobs: TrainingJobs, name: str, control: TaskControl) -> None:
        self.jobs = jobs
        self.name = name
        self.control = control
        self.record = jobs.records.require(KIND, name, "DescribeTrainingJob")
        self.job = jobs.job_dir(name)
        self.log = jobs.log_path(name)
        self.feeders: list[PipeFeeder] = []
        self.checkpoints: DirectorySync | None = None
        self.intermediate: DirectorySync | None = None
        self.container: str | None = None
        self.isolation = NOT_ISOLATED
        self.python = sys.executable
        """The image's interpreter: a framework environment's (:mod:`stepfn.local.sagemaker.envs`) or this one."""
        self.environment: JobEnvironment | None = None
        self.layer: Path | None = None
        self.definitions: list[dict[str, str]] = []
        self._last_checkpoint_push = 0.0

    def _status(self, secondary: str, *, status: str | None = None, message: str | None = None,
                **changes: Any) -> None:
        now = now_millis()
        text = message or _STATUS_MESSAGES.get(secondary, secondary)
        transitions = self.record["SecondaryStatusTransitions"]
        if transitions and transitions[-1]["Status"] == secondary:
            transitions[-1]["StatusMessage"] = text
        else:
            if transitions:
                transitions[-1].setdefault("EndTime", now)
            transitions.append({"Status": secondary, "StartTime": now, "StatusMessage": text})
        if status in TERMINAL:
            transitions[-1]["EndTime"] = now
            self.record["TrainingJobStatus"] = status
        self.record["SecondaryStatus"] = secondary
        self.record.update(changes)
        self.record["LastModifiedTime"] = now
        self.jobs.records.put(KIND, self.name, self.record)
        append_log(self.log, f"stepfn: {self.name}: {secondary} - {text}", self.control)

    def execute(self) -> dict[str, Any]:
        record = self.record
        if record["TrainingJobStatus"] in TERMINAL:
            return record
        if record["SecondaryStatus"] != "Starting":  # re-run after a crash: start over
            record.update(TrainingJobStatus="InProgress")
            for stale in ("FailureReason", "FinalMetricDataList", "TrainingEndTime", "TrainingStartTime"):
                record.pop(stale, None)
            self._status("Starting", message="Restarting the job: its supervising process ended")
        stop = threading.Event()
        try:
            self.job.create()
            hosts, definitions = self._prepare(stop)
        except (ChannelError, ScriptModeError, StoreError, OSError, ServiceError, MissingExtraError,
                IsolationError, JobEnvironmentError) as exc:
            stop.set()
            self._remove_inputs()
            return self.fail(f"ClientError: {exc}")
        start = now_millis()
        self._status("Training", TrainingStartTime=start)
        metrics = MetricCollector(definitions)
        try:
            outcomes = run_instances(
                [(host.name, host.launch) for host in hosts], log_path=self.log, control=self.control,
                stop_requested=threading.Event(),  # StopTrainingJob cancels self.control (its lifecycle's stop)
                max_runtime_seconds=float(self.record["StoppingCondition"].get("MaxRuntimeInSeconds") or 0) or None,
                stop_grace_seconds=self.jobs.stop_grace_seconds, metrics=metrics, on_tick=self._tick)
        finally:
            stop.set()
        stopped = next((o.stopped for o in outcomes.values() if o.stopped is not None), None)
        if stopped is not None and self.container is not None:
            # SIGKILL ends the docker CLI, not the container it started: remove that too.
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(["docker", "rm", "-f", self.container], capture_output=True, timeout=60, check=False)
        feeder_error = next((f.error for f in self.feeders if f.error), None)
        self._status("Uploading")
        upload_error = self._upload([host.job for host in hosts])
        end = now_millis()
        seconds = max(1, round((end - start) / 1000))
        final: dict[str, Any] = {
            "TrainingEndTime": end, "TrainingTimeInSeconds": seconds, "BillableTimeInSeconds": seconds,
        }
        if metrics.values:
            final["FinalMetricDataList"] = metrics.final_metric_data()
        self._remove_inputs()
        self.record.update(final)
        # One instance failing fails the job (the others were stopped because of it): that instance's reason.
        failed_name = first_failure(outcomes)
        failed = next((h for h in hosts if h.name == failed_name), None)
        if failed is None and stopped is not None:
            self._status(stopped, status="Stopped")
            return self.record
        if failed is not None or feeder_error or upload_error:
            host = failed or hosts[0]
            outcome = outcomes[host.name]
            prefix = f"[{host.name}] " if failed is not None and len(hosts) > 1 else ""
            return self.fail(prefix + self._failure_reason(host.job, outcome.exit_code, outcome.error_tail,
                                                           host.launch.argv, feeder_error or upload_error))
        self._status("Completed", status="Completed")
        return self.record

    def _remove_inputs(self) -> None:
        remove_staged_inputs(self.job)
        hosts = self.job.root / "hosts"
        for host in hosts.iterdir() if hosts.is_dir() else []:
            remove_staged_inputs(JobDir(host))

    def fail(self, reason: str) -> dict[str, Any]:
        self.record["FailureReason"] = reason[:1024]
        self.record.setdefault("TrainingEndTime", now_millis())
        self._status("Failed", status="Failed", message=reason[:1024])
        return self.record

    def _failure_reason(self, job: JobDir, exit_code: int | None, tail: list[str], argv: list[str],
                        error: str | None) -> str:
        if error and exit_code == 0:
            return f"ClientError: {error}"
        written = ""
        with contextlib.suppress(OSError):
            written = job.failure.read_text(errors="replace").strip()
        if written:
            return f"AlgorithmError: {written}, exit code: {exit_code}"
        lines = "\n".join(tail[-10:]).strip() or "(no output)"
        command = " ".join(shlex.quote(a) for a in argv)
        hint = "" if self.isolation.isolated else relocation_hint(lines)
        return (f"AlgorithmError: {hint}ExecuteUserScriptError:\nExitCode {exit_code}\n"
                f"ErrorMessage \"{lines}\"\n"
                f"Command \"{command}\", exit code: {exit_code}")

    def _tick(self) -> None:
        # The job is alive and supervised: that is the progress a .sync Task's heartbeat stands for.
        with contextlib.suppress(Exception):
            self.control.heartbeat()
        if time.monotonic() - self._last_checkpoint_push >= 5:
            self._last_checkpoint_push = time.monotonic()
            for sync in (self.checkpoints, self.intermediate):
                if sync is not None:
                    with contextlib.suppress(StoreError, OSError):
                        sync.push()

    # -- preparing the process ---------------------------------------------------------------------------------

    def _prepare(self, stop: threading.Event) -> tuple[list[_Host], list[dict[str, str]]]:
        """Everything the job's hosts need (configs, data, code, environment); one :class:`_Host` per instance."""
        record = self.record
        spec = record["AlgorithmSpecification"]
        runtime = self.jobs.runtime_for(record | {"TrainingJobName": self.name})
        if runtime.kind == "builtin":
            # The algorithm's process imports numpy, scikit-learn, xgboost: before any download, name the extra.
            require_extra("ml", f"The local built-in {runtime.algorithm} algorithm")
        if runtime.kind != "docker":  # docker mounts /opt/ml itself
            self.isolation = choose_isolation()
            append_log(self.log, self.isolation.describe(self.job.base), self.control)
        count = int(record["ResourceConfig"].get("InstanceCount") or 1)
        if count > 1 and runtime.kind in ("builtin", "docker"):
            append_log(self.log, f"stepfn: InstanceCount {count} runs as one local instance (algo-1) for "
                       f"{runtime.kind} images", self.control)
            count = 1
        hosts = host_names(count)
        # The paths as the job's process sees them: the container's own under isolation, else relocated.
        seen = CONTAINER_VIEW if self.isolation.isolated or runtime.kind == "docker" else self.job
        decoded = decode_hyperparameters(record.get("HyperParameters") or {})
        distributed = len(hosts) > 1 or any(
            decoded.get(f"sagemaker_{flag}_enabled") for flag in (
                "torch_distributed", "pytorch_ddp", "distributed_dataparallel", "mpi", "parameter_server",
                "multi_worker_mirrored_strategy"))
        network = _HostNetwork.for_hosts(hosts, self.job.root, self.isolation.isolated) if distributed else None
        if network is not None and len(hosts) > 1:
            append_log(self.log, f"stepfn: {len(hosts)} instances ({', '.join(hosts)}) run as processes on this "
                       f"machine; {network.describe()}", self.control)
        self.definitions = list(spec.get("MetricDefinitions") or [])
        self._status("Downloading")
        prepared = []
        for index, host in enumerate(hosts):
            job = self.job if index == 0 else self.host_job(host)
            if index:
                job.create()
            prepared.append(_Host(host, job, self._prepare_host(stop, runtime, seen, job, hosts, index, network)))
        return prepared, self.definitions

    def host_job(self, host: str) -> JobDir:
        """The tree of instance ``host`` (``algo-1`` is the job's own, the others sit under ``hosts/``)."""
        return self.job if host == "algo-1" else JobDir(self.job.root / "hosts" / host)

    def _prepare_host(self, stop: threading.Event, runtime: Runtime, seen: JobDir, job: JobDir, hosts: list[str],
                      index: int, network: _HostNetwork | None) -> Launch:
        record = self.record
        spec = record["AlgorithmSpecification"]
        mode = spec["TrainingInputMode"]
        channels = record.get("InputDataConfig") or []
        hyperparameters = record.get("HyperParameters") or {}
        master = index == 0
        input_data_config = build_input_data_config(channels, mode)
        resource_config = build_resource_config(record["ResourceConfig"], hosts, hosts[index])
        job.write_json("hyperparameters.json", hyperparameters)
        job.write_json("inputdataconfig.json", input_data_config)
        job.write_json("resourceconfig.json", resource_config)
        checkpoint = record.get("CheckpointConfig")
        if checkpoint:
            seen_as = checkpoint.get("LocalPath") or "/opt/ml/checkpoints"
            local = job.relocate(seen_as)
            under_opt_ml = seen_as == OPT_ML or seen_as.startswith(OPT_ML + "/")
            job.write_json("checkpointconfig.json", {
                "LocalPath": seen_as if seen is CONTAINER_VIEW and under_opt_ml else str(local),
                "S3Uri": checkpoint["S3Uri"]})
            if master:  # the first instance's checkpoints are the ones kept in step with S3
                self.checkpoints = DirectorySync(self.jobs.store, checkpoint["S3Uri"], local)
        decoded = decode_hyperparameters(hyperparameters)
        s3_output = decoded.get("sagemaker_s3_output")
        if master and isinstance(s3_output, str) and s3_output.startswith("s3://"):
            # The toolkit uploads output/intermediate to <sagemaker_s3_output>/<job>/output/intermediate.
            prefix = f"{s3_output.rstrip('/')}/{self.name}/output/intermediate"
            self.intermediate = DirectorySync(self.jobs.store, prefix, job.output / "intermediate")
        self.feeders += stage_channels(self.jobs.store, channels, mode, job, stop, links=runtime.kind != "docker",
                                       host_index=index, hosts=len(hosts))
        if master and self.checkpoints is not None:
            self.checkpoints.restore()
        platform = {
            "TRAINING_JOB_NAME": self.name,
            "TRAINING_JOB_ARN": record["TrainingJobArn"],
            "AWS_REGION": self.jobs.region,
            "AWS_DEFAULT_REGION": self.jobs.region,
            "SAGEMAKER_BASE_DIR": str(seen.base if seen is CONTAINER_VIEW else job.base),
            "PYTHONUNBUFFERED": "1",  # so the log streams while the job runs, as CloudWatch shows it
        }
        endpoint = os.environ.get("STEPFN_S3_ENDPOINT_URL")
        if endpoint:
            platform["S3_ENDPOINT_URL"] = endpoint
        if network is not None:
            distribution, note = distribution_environment(
                decoded, hosts, hosts[index], master_addr=network.master_addr, ports=network.ports)
            platform.update(distribution)
            if master and note:
                append_log(self.log, f"stepfn: {note}", self.control)
        platform.update(record.get("Environment") or {})
        view = seen if seen is CONTAINER_VIEW else job
        hosts_file = network.hosts_file if network is not None else None
        if runtime.kind == "command":
            argv = self._container_command(spec, [*runtime.command, "train"], view)
            env = clean_environment(platform | {"SM_STUDIO_LOCAL_MODE": "True"})
            cwd = PROGRAM_DIR if runtime.program and self.isolation.isolated else str(runtime.program or Path.cwd())
            return self._launch(job, argv, env, cwd, program=runtime.program, hosts_file=hosts_file)
        if runtime.kind == "docker":
            return self._launch(job, self._docker_command(runtime, spec, platform), clean_environment({}), None)
        toolkit = toolkit_environment(
            view, job_name=self.name, hyperparameters=hyperparameters, input_data_config=input_data_config,
            resource_config=resource_config, region=self.jobs.region,
        )
        known = {d.get("Name") for d in self.definitions}
        self.definitions += [d for d in image_metric_definitions(runtime) if d["Name"] not in known]
        if runtime.kind == "builtin":
            config = view.config
            toolkit.update({
                "SM_INPUT_TRAINING_CONFIG_FILE": str(config / "hyperparameters.json"),
                "SM_INPUT_DATA_CONFIG_FILE": str(config / "inputdataconfig.json"),
            })
            if checkpoint:
                toolkit["SM_CHECKPOINT_CONFIG_FILE"] = str(config / "checkpointconfig.json")
            env = clean_environment(platform | toolkit | {"PYTHONPATH": python_path(job, view.code)})
            argv = [sys.executable, "-m", "stepfn.local.sagemaker.builtins", runtime.algorithm or ""]
            return self._launch(job, self._container_command(spec, argv, view), env, str(view.root))
        program = str(decoded["sagemaker_program"])
        submit = decoded.get("sagemaker_submit_directory")
        stage_code(self.jobs.store, str(submit) if submit else None, job)
        if not (job.code / program).exists() and not (job.code / "setup.py").exists():
            raise ScriptModeError(f"entry point {program} not found in the code from "
                                  f"{submit or 'the job (no sagemaker_submit_directory)'}")
        if master:
            self.environment = environment_for_image(runtime.image, self._progress)
            if self.environment is None:
                self._install_requirements(platform)
            else:
                assert self.environment.spec is not None
                spec_ = self.environment.spec
                append_log(self.log, f"stepfn: the job runs in the {spec_.framework} {spec_.version} environment "
                           f"(Python {spec_.python}: {' '.join(spec_.packages)})", self.control)
                requirements = job.code / "requirements.txt"
                if requirements.is_file():
                    self.layer = ensure_requirements(self.environment, requirements, self._progress) / "site-packages"
                self.python = str(self.environment.python)
        if self.environment is None:
            layer = self.job.root / "site-packages"  # the requirements every host shares (host mode)
            layer_or_none = layer if layer.is_dir() else None
        else:
            layer_or_none = self.layer
            platform["PATH"] = os.pathsep.join([str(self.environment.bin_dir), clean_environment({})["PATH"]])
        image = framework_of_image(runtime.image)
        pythonpath = python_path(job, view.code, layer=layer_or_none, host=self.environment is None,
                                 toolkits=paths_for(image.framework if image else None))
        env = clean_environment(platform | toolkit | {"PYTHONPATH": pythonpath})
        user = {k: v for k, v in decoded.items() if not (k.startswith("sagemaker_") or k in (
            "default_user_module_name", "_tuning_objective_metric"))}
        argv = entry_command(job, program, to_cmd_args(user), self.python)
        return self._launch(job, self._container_command(spec, argv, view), env, str(view.code), hosts_file=hosts_file)

    def _progress(self, line: str) -> None:
        append_log(self.log, line, self.control)

    def _launch(self, job: JobDir, argv: list[str], env: dict[str, str], cwd: str | None,
                program: Path | None = None, hosts_file: Path | None = None) -> Launch:
        return Launch(argv, env, cwd, job.base, self.isolation, program, hosts_file)

    def _container_command(self, spec: dict[str, Any], default: list[str], seen: JobDir) -> list[str]:
        """ContainerEntrypoint / ContainerArguments as docker applies them (the entrypoint replaces the image's,
        the arguments replace its ``train`` command), with ``/opt/ml`` in them relocated when the job does not
        run in its own namespace."""
        entrypoint = spec.get("ContainerEntrypoint")
        arguments = spec.get("ContainerArguments") or []
        base = str(seen.base)
        if entrypoint:
            argv = [a.replace(OPT_ML, base) for a in [*entrypoint, *arguments]]
            if argv[0] in ("python", "python3", f"python{sys.version_info.major}.{sys.version_info.minor}"):
                argv[0] = self.python  # the image's python: the framework environment's, else this interpreter
            return argv
        if arguments and default[-1] == "train":
            return [*default[:-1], *(a.replace(OPT_ML, base) for a in arguments)]
        return default

    def _docker_command(self, runtime: Runtime, spec: dict[str, Any], platform: dict[str, str]) -> list[str]:
        """``docker run`` of the image itself, the job's tree mounted at ``/opt/ml`` (nothing relocated then).

        ``docker run`` forwards SIGTERM to the container, so MaxRuntimeInSeconds and stops behave as on SageMaker;
        ``--gpus all`` is added for GPU instance types when this machine has GPUs."""
        self.container = f"stepfn-{self.name}"
        argv = [*runtime.command, "run", "--rm", "--name", self.container, "-v", f"{self.job.base}:/opt/ml"]
        for key, value in platform.items():
            if key not in ("SAGEMAKER_BASE_DIR", "PYTHONUNBUFFERED"):
                argv += ["-e", f"{key}={value}"]
        instance_type = str(self.record["ResourceConfig"].get("InstanceType") or "")
        if instance_type.startswith(("ml.p", "ml.g")) and num_gpus():
            argv += ["--gpus", "all"]
        entrypoint = spec.get("ContainerEntrypoint")
        if entrypoint:
            argv += ["--entrypoint", entrypoint[0], runtime.image, *entrypoint[1:]]
        else:
            argv.append(runtime.image)
        arguments = spec.get("ContainerArguments")
        return [*argv, *(arguments or ([] if entrypoint else ["train"]))]

    def _install_requirements(self, platform: dict[str, str]) -> None:
        command = requirements_command(self.job)
        if command is None:
            return
        append_log(self.log, "stepfn: installing requirements.txt into the job's site-packages", self.control)
        result = subprocess.run(command, cwd=self.job.code, env=clean_environment(platform), capture_output=True,
                                text=True, check=False)
        append_log(self.log, (result.stdout + result.stderr).strip() or "(pip printed nothing)")
        if result.returncode != 0:
            raise ScriptModeError(f"pip install -r requirements.txt failed: {result.stderr.strip()[-500:]}")

    # -- artifacts -------------------------------------------------------------------------------------------

    def _upload(self, jobs: list[JobDir]) -> str | None:
        """Pack ``model/`` and ``output/data`` and put them at ``<S3OutputPath>/<job>/output/``. With several
        instances, what the others wrote is merged into the first's tree first, the first instance's file
        winning a name written by several (scripts save on the master, as the frameworks advise)."""
        output = self.record["OutputDataConfig"]
        base = f"{output['S3OutputPath'].rstrip('/')}/{self.name}/output"
        store = self.jobs.store
        try:
            for other in jobs[1:]:
                for mine, theirs in ((self.job.model, other.model), (self.job.output_data, other.output_data)):
                    _merge_missing(theirs, mine)
            if output.get("CompressionType") == "NONE":
                if self.job.model.is_dir() and any(self.job.model.iterdir()):
                    store.upload(self.job.model, f"{base}/model/")
            else:
                store.upload(pack(self.job.model, self.job.root / "model.tar.gz"), f"{base}/model.tar.gz")
            store.upload(pack(self.job.output_data, self.job.root / "output.tar.gz"), f"{base}/output.tar.gz")
            for sync in (self.checkpoints, self.intermediate):
                if sync is not None:
                    sync.push()
        except (StoreError, OSError) as exc:
            return f"uploading the artifacts to {base} failed: {exc}"
        return None


def _merge_missing(source: Path, target: Path) -> None:
    """Copy the files of ``source`` that ``target`` lacks into it."""
    for path in sorted(source.rglob("*")) if source.is_dir() else []:
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        elif not destination.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def handlers(home: Path | str | None = None, **options: Any) -> dict[str, TaskHandler]:
    """``{"sagemaker:createTrainingJob": ...}`` for the engine (request-response and ``.sync``)."""
    jobs = TrainingJobs(home, **options)
    return {"sagemaker:createTrainingJob": jobs.handler}


__all__ = ["DEFAULT_STOP_GRACE_SECONDS", "TrainingJobs", "describe", "handlers", "validate_request"]
