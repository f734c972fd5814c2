"""Processing jobs (CreateProcessingJob) run on this machine, ``/opt/ml/processing`` being the job's own tree.

The job gets ``<home>/sagemaker/jobs/processing-job/<name>/opt/ml`` with ``config/processingjobconfig.json``
(the request, as the platform writes it) and ``config/resourceconfig.json``; each ``ProcessingInputs[].S3Input``
is downloaded to its ``LocalPath`` in that tree (an S3 prefix keeps its relative keys); the container command runs
as a process with the platform's environment plus ``Environment``; afterwards every ``ProcessingOutputConfig``
output's ``LocalPath`` is uploaded under its ``S3Uri``.

The command is ``ContainerEntrypoint + ContainerArguments`` (``python``/``python3`` meaning the image's interpreter:
its framework environment's, :mod:`stepfn.local.sagemaker.envs`, or this one), as
the SageMaker SDK's processors build it (``python3 /opt/ml/processing/input/code/script.py ...``); an image
registered with ``stepfn.local.sagemaker.images.register_image`` runs its command with the arguments instead
(its ``program_dir`` seen as ``/opt/program``). Where the job runs in its own mount namespace
(:mod:`stepfn.local.sagemaker.isolation`) the tree *is* ``/opt/ml`` and scripts with hard-coded paths run
unchanged. Without one, ``/opt/ml`` in the arguments points at the relocated tree, a ``bash``/``sh`` driver
staged by the job (the SDK FrameworkProcessor's ``runproc.sh``) gets ``/opt/ml`` relocated inside it, and a
script that hard-codes ``/opt/ml/...`` paths (rather than taking them from its arguments or from
``SAGEMAKER_BASE_DIR``) fails with a message saying so. ``python`` on the job's PATH is this interpreter.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stepfn.engine.protocol import TaskControl
from stepfn.errors import ServiceError, StoreError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.envs import JobEnvironmentError, environment_for_image
from stepfn.local.sagemaker.images import UnknownImageError, resolve_image
from stepfn.local.sagemaker.isolation import PROGRAM_DIR, IsolationError, Launch, choose_isolation
from stepfn.local.sagemaker.jobdir import (
    OPT_ML,
    ChannelError,
    JobDir,
    build_resource_config,
    host_names,
    stage_file_channel,
)
from stepfn.local.sagemaker.jobprocess import (
    MetricCollector,
    append_log,
    clean_environment,
    first_failure,
    relocation_hint,
    run_instances,
)
from stepfn.local.sagemaker.records import REGION, RecordStore, arn, check_name, now_millis, sagemaker_error
from stepfn.local.sagemaker.training import DEFAULT_STOP_GRACE_SECONDS

KIND = "processing-job"
OPERATION = "CreateProcessingJob"
PROCESSING_ROOT = "/opt/ml/processing"
_ECHOED = (
    "ProcessingInputs", "ProcessingOutputConfig", "ProcessingJobName", "ProcessingResources", "StoppingCondition",
    "AppSpecification", "Environment", "NetworkConfig", "RoleArn", "ExperimentConfig",
    "MonitoringScheduleArn",  # set by a monitoring execution (schedules.py), as DescribeProcessingJob shows it
)


class ProcessingError(Exception):
    """The job cannot run; the message is its FailureReason."""


def _invalid(message: str) -> ServiceError:
    return sagemaker_error(OPERATION, "ValidationException", message)


def _null(member: str) -> ServiceError:
    return _invalid(f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: "
                    "Member must not be null")


def _check_local_path(path: Any, member: str) -> None:
    if not isinstance(path, str) or not (path == PROCESSING_ROOT or path.startswith(PROCESSING_ROOT + "/")):
        raise _invalid(f"{member} {path!r} is invalid: local paths must be under {PROCESSING_ROOT}/")
    if any(part in (".", "..") for part in path.split("/")):
        raise _invalid(f"{member} {path!r} is invalid: it may not contain '.' or '..' segments")


def validate_request(params: dict[str, Any]) -> str:
    """The checks SageMaker makes before accepting a processing job; returns the job name."""
    name = check_name(KIND, params.get("ProcessingJobName"), OPERATION, "ProcessingJobName")
    if not (params.get("ProcessingResources") or {}).get("ClusterConfig"):
        raise _null("processingResources.clusterConfig")
    if not (params.get("AppSpecification") or {}).get("ImageUri"):
        raise _null("appSpecification.imageUri")
    if not params.get("RoleArn"):
        raise _null("roleArn")
    inputs = params.get("ProcessingInputs") or []
    outputs = (params.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    if len(inputs) > 10 or len(outputs) > 10:
        raise _invalid("A processing job takes at most 10 inputs and 10 outputs.")
    names = [i.get("InputName") for i in inputs] + [o.get("OutputName") for o in outputs]
    if len(set(names)) != len(names) or not all(names):
        raise _invalid("Every ProcessingInput InputName and ProcessingOutput OutputName must be given and unique.")
    for item in inputs:
        s3 = item.get("S3Input")
        if s3 is None:
            if item.get("DatasetDefinition") is not None:
                raise _invalid(f"Input {item['InputName']}: DatasetDefinition (Athena/Redshift) inputs do not run "
                               "locally; use an S3Input.")
            raise _null("processingInputs.member.s3Input")
        if s3.get("S3InputMode", "File") != "File":
            raise _invalid(f"Input {item['InputName']}: S3InputMode {s3['S3InputMode']} is not supported locally; "
                           "use File.")
        _check_local_path(s3.get("LocalPath"), f"ProcessingInputs[{item['InputName']}].S3Input.LocalPath")
    for item in outputs:
        s3 = item.get("S3Output")
        if s3 is None:
            raise _invalid(f"Output {item['OutputName']}: only S3Output outputs run locally.")
        _check_local_path(s3.get("LocalPath"), f"ProcessingOutputConfig.Outputs[{item['OutputName']}].S3Output.LocalPath")
    return name


def _describe_inputs(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ProcessingInputs as DescribeProcessingJob shows them: the service's defaults filled in."""
    described = []
    for item in inputs:
        s3 = {"S3DataDistributionType": "FullyReplicated", "S3InputMode": "File", "S3CompressionType": "None",
              **item["S3Input"]}
        described.append({**item, "S3Input": s3, "AppManaged": bool(item.get("AppManaged", False))})
    return described


class ProcessingJobs:
    """Local processing jobs of one ``$STEPFN_HOME``."""

    def __init__(self, home: Path | str | None = None, *, store: ObjectStore | None = None,
                 stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS) -> None:
        self.records = RecordStore(home)
        self.store = store if store is not None else ObjectStore(self.records.home / "s3")
        self.stop_grace_seconds = stop_grace_seconds

    def job_dir(self, name: str) -> JobDir:
        self.records.path(KIND, name)
        return JobDir(self.records.base / "jobs" / KIND / name)

    def run(self, params: dict[str, Any], *, resumed: bool = False, control: TaskControl | None = None,
            background: bool = False) -> dict[str, Any]:
        """Create the job and run it to its end (or, ``background``, on a thread); returns its record."""
        from stepfn.local.sagemaker.lifecycle import begin_job, job_control, run_detached, run_guarded

        name = validate_request(params)
        stamp = now_millis()
        record: dict[str, Any] = {key: params[key] for key in _ECHOED if key in params}
        if "ProcessingInputs" in record:
            record["ProcessingInputs"] = _describe_inputs(record["ProcessingInputs"])
        record.update({"ProcessingJobArn": arn(KIND, name), "ProcessingJobStatus": "InProgress",
                       "CreationTime": stamp, "LastModifiedTime": stamp})
        finished = begin_job(self.records, KIND, name, record, operation=OPERATION, resumed=resumed,
                             control=control, background=background)
        if finished is not None:
            return finished
        watched = job_control(self.records, KIND, name, None if background else control)
        if background:
            run_detached(f"processing-{name}", lambda: run_guarded(
                self.records, KIND, name, lambda: self._execute(name, record, watched)))
            return record
        return run_guarded(self.records, KIND, name, lambda: self._execute(name, record, watched))

    def _execute(self, name: str, record: dict[str, Any], control: TaskControl | None) -> dict[str, Any]:
        from stepfn.local.sagemaker.lifecycle import finish_job, update_job

        log = self.records.log_path(KIND, name)
        job = self.job_dir(name)
        cluster = record["ProcessingResources"]["ClusterConfig"]
        hosts = host_names(int(cluster.get("InstanceCount") or 1))
        instances: list[tuple[str, JobDir, Launch]] = []
        try:
            for index, host in enumerate(hosts):
                # The first instance's tree is the job's; the others' sit under hosts/ (made after the first's,
                # whose creation empties the job's directory).
                tree = job if index == 0 else JobDir(job.root / "hosts" / host)
                progress: Callable[[str], None] = (lambda line: append_log(log, line, control)) if index == 0 \
                    else (lambda line: None)
                instances.append((host, tree, self._prepare(tree, record, progress, hosts, index)))
        except (ProcessingError, ChannelError, StoreError, OSError, IsolationError, JobEnvironmentError) as exc:
            return finish_job(self.records, KIND, name, "Failed",
                              failure=f"ClientError: {exc}")
        launch = instances[0][2]
        update_job(self.records, KIND, name, ProcessingStartTime=now_millis())
        append_log(log, launch.isolation.describe(job.base), control)
        if len(hosts) > 1:
            append_log(log, f"stepfn: {len(hosts)} instances ({', '.join(hosts)}) run as processes on this machine",
                       control)
        append_log(log, f"stepfn: {name}: running {' '.join(launch.argv)}", control)
        runtime = (record.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
        outcomes = run_instances(
            [(host, instance) for host, _, instance in instances], log_path=log, control=control,
            stop_requested=threading.Event(), max_runtime_seconds=float(runtime) if runtime else None,
            stop_grace_seconds=self.stop_grace_seconds, metrics=MetricCollector([]))
        message = self._exit_message(job)
        extra = {"ExitMessage": message} if message else {}
        failed = first_failure(outcomes)
        stopped = next((o.stopped for o in outcomes.values() if o.stopped is not None), None)
        if failed is None and stopped == "Stopped":
            return finish_job(self.records, KIND, name, "Stopped", **extra)
        if failed is None and stopped == "MaxRuntimeExceeded":
            return finish_job(self.records, KIND, name, "Failed",
                              failure=f"MaxRuntimeExceeded: the job ran longer than MaxRuntimeInSeconds ({runtime})",
                              **extra)
        if failed is not None:
            outcome = outcomes[failed]
            tail = "\n".join(outcome.error_tail[-10:]).strip() or "(no output)"
            hint = "" if launch.isolation.isolated else relocation_hint(tail)
            prefix = f"[{failed}] " if len(hosts) > 1 else ""
            return finish_job(self.records, KIND, name, "Failed",
                              failure=f"{prefix}AlgorithmError: {hint}exit code {outcome.exit_code}: {tail}",
                              **extra)
        try:
            for _, tree, _ in reversed(instances):  # the first instance's files land last (they win a shared name)
                self._upload_outputs(tree, record)
        except (StoreError, OSError) as exc:
            return finish_job(self.records, KIND, name, "Failed",
                              failure=f"ClientError: uploading the outputs failed: {exc}", **extra)
        return finish_job(self.records, KIND, name, "Completed", **extra)

    def _prepare(self, job: JobDir, record: dict[str, Any], progress: Callable[[str], None],
                 hosts: list[str], index: int) -> Launch:
        """Instance ``hosts[index]``'s tree (config, its share of the inputs, output directories) and process."""
        isolation = choose_isolation()
        job.create()
        config = job.base / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "processingjobconfig.json").write_text(json.dumps(record))
        cluster = record["ProcessingResources"]["ClusterConfig"]
        (config / "resourceconfig.json").write_text(json.dumps(build_resource_config(cluster, hosts, hosts[index])))
        for item in record.get("ProcessingInputs") or []:
            s3 = item["S3Input"]
            channel = {"ChannelName": item["InputName"], "DataSource": {"S3DataSource": {
                "S3Uri": s3["S3Uri"], "S3DataType": s3.get("S3DataType", "S3Prefix"),
                "S3DataDistributionType": s3.get("S3DataDistributionType", "FullyReplicated")}}}
            stage_file_channel(self.store, channel, job.relocate(s3["LocalPath"]), link=False, host_index=index,
                               hosts=len(hosts))
        for item in (record.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            job.relocate(item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        spec = record["AppSpecification"]
        # /opt/ml as the job's process sees it: itself in its own namespace, else relocated.
        base = OPT_ML if isolation.isolated else str(job.base)

        def relocate(argument: str) -> str:
            return base if argument == OPT_ML else argument.replace(OPT_ML + "/", base + "/")

        arguments = [relocate(a) for a in spec.get("ContainerArguments") or []]
        program: Path | None = None
        image = spec["ImageUri"]
        try:
            runtime = resolve_image(image, script_mode=True, home=self.records.home)
        except UnknownImageError:
            runtime = None
        environment = None
        if spec.get("ContainerEntrypoint"):
            environment = environment_for_image(image, progress)
            python = str(environment.python) if environment is not None else sys.executable
            argv = [relocate(a) for a in spec["ContainerEntrypoint"]] + arguments
            if argv[0] in ("python", "python3", f"python{sys.version_info.major}.{sys.version_info.minor}"):
                argv[0] = python
            elif Path(argv[0]).name in ("bash", "sh") and len(argv) > 1 and not isolation.isolated:
                _relocate_script(Path(argv[1]), job.base, base)
        elif runtime is not None and runtime.kind == "command":
            argv = [*runtime.command, *arguments]
            program = runtime.program
        else:
            raise ProcessingError(
                f"Image {image} has no local command: give AppSpecification.ContainerEntrypoint (for example "
                f"['python3', '/opt/ml/processing/input/code/script.py']) or register one with "
                f"stepfn.local.sagemaker.images.register_image({image!r}, ['python', 'process.py'])."
            )
        platform = {
            "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "SAGEMAKER_BASE_DIR": base,
            "PYTHONUNBUFFERED": "1", "PROCESSING_JOB_NAME": record["ProcessingJobName"],
        }
        platform.update({str(k): str(v) for k, v in (record.get("Environment") or {}).items()})
        env = clean_environment(platform)
        # `python` in a driver script (the SDK's runproc.sh) means the image's interpreter: the framework
        # environment's, else this one.
        python_bin = environment.bin_dir if environment is not None else Path(sys.executable).parent
        env["PATH"] = os.pathsep.join([str(python_bin), env.get("PATH", os.defpath)])
        if environment is not None and environment.spec is not None:
            progress(f"stepfn: the job runs in the {environment.spec.framework} {environment.spec.version} "
                     f"environment (Python {environment.spec.python}: {' '.join(environment.spec.packages)})")
            # runproc.sh's `pip install -r requirements.txt` goes to the job's own directory, not into the
            # environment every job shares.
            env["PIP_TARGET"] = str(job.root / "site-packages")
            env["PYTHONPATH"] = str(job.root / "site-packages")
        if program is not None:
            cwd = PROGRAM_DIR if isolation.isolated else str(program)
        elif isolation.mode == "bwrap":
            # The framework images' working directory: a script's relative `opt/ml/processing` (awslabs/mlmax's
            # default) is /opt/ml/processing, and what it writes to `.` stays in bubblewrap's private root.
            cwd = "/"
        else:  # the job's root stands in for the container's `/` (unshare's `/` is the host's): relative
            # `opt/ml/...` paths are the job's tree and what the script writes lands there, not in the host's root
            cwd = str(job.root)
        return Launch(argv, env, cwd, job.base, isolation, program)

    @staticmethod
    def _exit_message(job: JobDir) -> str | None:
        try:
            return (job.base / "output" / "message").read_text(errors="replace")[:1024] or None
        except OSError:
            return None

    def _upload_outputs(self, job: JobDir, record: dict[str, Any]) -> None:
        for item in (record.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            s3 = item["S3Output"]
            local = job.relocate(s3["LocalPath"])
            if local.is_dir() and any(local.iterdir()):
                self.store.upload(local, s3["S3Uri"].rstrip("/"))


def _relocate_script(script: Path, job_base: Path, base: str) -> None:
    """Point ``/opt/ml`` inside a staged driver script at the relocated tree. The SageMaker SDK's
    FrameworkProcessor runs ``bash /opt/ml/processing/input/entrypoint/runproc.sh``, which ``cd``s into
    ``/opt/ml/processing/input/code`` itself; only scripts staged inside the job are touched."""
    try:
        if not script.resolve().is_relative_to(job_base.resolve()) or script.stat().st_size > 256 * 1024:
            return
        text = script.read_text()
    except (OSError, UnicodeDecodeError):
        return
    script.write_text(text.replace(OPT_ML + "/", base + "/"))


def run_processing_job(
    home: Path | str, params: dict[str, Any], *, resumed: bool = False, control: TaskControl | None = None,
    background: bool = False,
) -> dict[str, Any]:
    """Run a processing job to its end; returns the DescribeProcessingJob record (Completed, Failed or Stopped)."""
    return ProcessingJobs(home).run(params, resumed=resumed, control=control, background=background)


__all__ = ["ProcessingJobs", "run_processing_job", "validate_request"]
