"""Processors and processing I/O (sagemaker v2 ``sagemaker.processing``); the CreateProcessingJob request (§5.6)."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Any

from ._jobs import PROCESSING, SessionJob
from ._objects import session_objects
from ._values import is_placeholder
from .session import SessionHolder, SessionLike, base_name_from_image, name_from_base, session_bucket
from .validation import is_local_mode, validate_request

__all__ = [
    "FrameworkProcessor",
    "NetworkConfig",
    "ProcessingInput",
    "ProcessingJob",
    "ProcessingOutput",
    "Processor",
    "ScriptProcessor",
    "build_processing_job_request",
    "processing_request",
]


class NetworkConfig:
    """``NetworkConfig{EnableNetworkIsolation, EnableInterContainerTrafficEncryption, [VpcConfig]}``."""

    def __init__(self, enable_network_isolation: Any = False, security_group_ids: Any = None, subnets: Any = None,
                 encrypt_inter_container_traffic: Any = None) -> None:
        self.enable_network_isolation = enable_network_isolation
        self.security_group_ids = security_group_ids
        self.subnets = subnets
        self.encrypt_inter_container_traffic = encrypt_inter_container_traffic

    def _to_request_dict(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "EnableNetworkIsolation": self.enable_network_isolation,
            "EnableInterContainerTrafficEncryption": self.encrypt_inter_container_traffic,
        }
        if self.security_group_ids is not None or self.subnets is not None:
            request["VpcConfig"] = {"SecurityGroupIds": self.security_group_ids, "Subnets": self.subnets}
        return request


class ProcessingInput:
    """``{InputName, AppManaged, S3Input{…}}``; unset names stay ``null`` as in sagemaker 2.72.3 (§11 #14)."""

    def __init__(
        self,
        source: Any = None,
        destination: Any = None,
        input_name: Any = None,
        s3_data_type: Any = "S3Prefix",
        s3_input_mode: Any = "File",
        s3_data_distribution_type: Any = "FullyReplicated",
        s3_compression_type: Any = "None",
        s3_input: Any = None,
        dataset_definition: Any = None,
        app_managed: Any = False,
    ) -> None:
        self.source = source
        self.destination = destination
        self.input_name = input_name
        self.s3_data_type = s3_data_type
        self.s3_input_mode = s3_input_mode
        self.s3_data_distribution_type = s3_data_distribution_type
        self.s3_compression_type = s3_compression_type
        self.s3_input = s3_input
        self.dataset_definition = dataset_definition
        self.app_managed = app_managed

    def _to_request_dict(self) -> dict[str, Any]:
        request: dict[str, Any] = {"InputName": self.input_name, "AppManaged": self.app_managed}
        if self.s3_input is not None:
            request["S3Input"] = dict(self.s3_input)
        elif self.dataset_definition is not None:
            request["DatasetDefinition"] = dict(self.dataset_definition)
        else:
            request["S3Input"] = {
                "S3Uri": self.source,
                "LocalPath": self.destination,
                "S3DataType": self.s3_data_type,
                "S3InputMode": self.s3_input_mode,
                "S3DataDistributionType": self.s3_data_distribution_type,
                "S3CompressionType": self.s3_compression_type,
            }
        return request


class ProcessingOutput:
    """``{OutputName, AppManaged, S3Output{S3Uri, LocalPath, S3UploadMode}}`` (or a FeatureStoreOutput)."""

    def __init__(self, source: Any = None, destination: Any = None, output_name: Any = None,
                 s3_upload_mode: Any = "EndOfJob", app_managed: Any = False, feature_store_output: Any = None) -> None:
        self.source = source
        self.destination = destination
        self.output_name = output_name
        self.s3_upload_mode = s3_upload_mode
        self.app_managed = app_managed
        self.feature_store_output = feature_store_output

    def _to_request_dict(self) -> dict[str, Any]:
        request: dict[str, Any] = {"OutputName": self.output_name, "AppManaged": self.app_managed}
        if self.feature_store_output is not None:
            request["FeatureStoreOutput"] = dict(self.feature_store_output)
        else:
            request["S3Output"] = {
                "S3Uri": self.destination,
                "LocalPath": self.source,
                "S3UploadMode": self.s3_upload_mode,
            }
        return request


class Processor(SessionHolder):
    """A processing container run on a cluster (sagemaker v2 signature)."""

    def __init__(
        self,
        role: Any,
        image_uri: Any,
        instance_count: Any,
        instance_type: Any,
        entrypoint: Any = None,
        volume_size_in_gb: Any = 30,
        volume_kms_key: Any = None,
        output_kms_key: Any = None,
        max_runtime_in_seconds: Any = None,
        base_job_name: str | None = None,
        sagemaker_session: SessionLike | None = None,
        env: Any = None,
        tags: Any = None,
        network_config: NetworkConfig | None = None,
    ) -> None:
        self.role = role
        self.image_uri = image_uri
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.entrypoint = entrypoint
        self.volume_size_in_gb = volume_size_in_gb
        self.volume_kms_key = volume_kms_key
        self.output_kms_key = output_kms_key
        self.max_runtime_in_seconds = max_runtime_in_seconds
        self.base_job_name = base_job_name
        self._sagemaker_session = sagemaker_session
        self.env = env
        self.tags = tags
        self.network_config = network_config
        self._current_job_name: Any = None
        self.latest_job: ProcessingJob | None = None
        self.jobs: list[ProcessingJob] = []
        self.arguments: Any = None

    def run(self, inputs: list[ProcessingInput] | None = None, outputs: list[ProcessingOutput] | None = None,
            arguments: list[str] | None = None, wait: bool = True, logs: bool = True, job_name: str | None = None,
            experiment_config: dict[str, Any] | None = None, kms_key: str | None = None) -> None:
        """Run a processing job now, as sagemaker v2's ``run``: on local SageMaker for a local session, on
        SageMaker for a session built on boto3; ``latest_job`` is its handle. See :meth:`_start`."""
        self._start(inputs, outputs, arguments, wait, logs, job_name, experiment_config, kms_key,
                    self.entrypoint, None)

    def _start(self, inputs: list[ProcessingInput] | None, outputs: list[ProcessingOutput] | None,
               arguments: list[str] | None, wait: bool, logs: bool, job_name: str | None,
               experiment_config: dict[str, Any] | None, kms_key: str | None, entrypoint: Any,
               code: str | None, code_input: tuple[str, str] = ("code", "/opt/ml/processing/input/code/")) -> None:
        """As v2: the job is ``job_name``, else ``<base_job_name or image repository>-<timestamp>``; inputs and
        outputs without a name become ``input-N`` / ``output-N``; a local input (and ``code``) is uploaded to
        ``s3://<bucket>/<job>/input/<name>`` and an output without an ``s3://`` destination goes to
        ``s3://<bucket>/<job>/output/<name>``. With ``wait``, a failed job raises
        :class:`~stepfn.sagemaker.exceptions.UnexpectedStatusException`."""
        if logs and not wait:
            # v2 refuses this too, so a notebook that runs here runs on SageMaker.
            raise ValueError("Logs can only be shown if wait is set to True. "
                             "Please either set wait to True or set logs to False.")
        if code is not None and not code.startswith("s3://") and not os.path.isfile(code.removeprefix("file://")):
            raise ValueError(f"code {code} wasn't found. Please make sure that the file exists.")
        name = job_name or name_from_base(self.base_job_name or _image_base(self.image_uri))
        session = self.sagemaker_session
        inputs = [*(inputs or [])]
        if code is not None:
            inputs.append(ProcessingInput(source=code, destination=code_input[1], input_name=code_input[0]))
        inputs = _normalized_inputs(inputs, name, session)
        outputs = _normalized_outputs(outputs or [], name, session)
        self.arguments = arguments
        request = build_processing_job_request(
            self, inputs=inputs or None, outputs=outputs or None, job_name=name, container_arguments=arguments,
            container_entrypoint=entrypoint, kms_key_id=kms_key)
        if experiment_config:
            request["ExperimentConfig"] = experiment_config
        job = ProcessingJob(session, name, inputs, outputs, kms_key)
        self.latest_job = job
        self.jobs.append(job)
        job.start(request, wait=wait)
        if wait:
            job.wait(logs=logs)

    def dropped_settings(self) -> list[str]:
        """Settings the request does not carry (docs/design/compat.md §11 #12): ``entrypoint`` (and a ScriptProcessor's command)."""
        return ["entrypoint"] if self.entrypoint else []

    def _generate_current_job_name(self, job_name: Any = None) -> Any:
        if job_name is not None:
            return job_name
        if self.base_job_name:
            return name_from_base(self.base_job_name)
        image = self.image_uri
        return base_name_from_image(image) if isinstance(image, str) else "processing-job"


class ScriptProcessor(Processor):
    """A Processor that runs a script with ``command`` (sagemaker v2 signature)."""

    def __init__(self, role: Any, image_uri: Any, command: Any, instance_count: Any, instance_type: Any,
                 volume_size_in_gb: Any = 30, volume_kms_key: Any = None, output_kms_key: Any = None,
                 max_runtime_in_seconds: Any = None, base_job_name: str | None = None,
                 sagemaker_session: SessionLike | None = None, env: Any = None, tags: Any = None,
                 network_config: NetworkConfig | None = None) -> None:
        super().__init__(role, image_uri, instance_count, instance_type, None, volume_size_in_gb, volume_kms_key,
                         output_kms_key, max_runtime_in_seconds, base_job_name, sagemaker_session, env, tags,
                         network_config)
        self.command = command

    def dropped_settings(self) -> list[str]:
        return [*super().dropped_settings(), "command"] if self.command else super().dropped_settings()

    def run(self, code: str, inputs: list[ProcessingInput] | None = None,  # type: ignore[override]
            outputs: list[ProcessingOutput] | None = None, arguments: list[str] | None = None, wait: bool = True,
            logs: bool = True, job_name: str | None = None, experiment_config: dict[str, Any] | None = None,
            kms_key: str | None = None) -> None:
        """Run ``code`` (a local file or an ``s3://`` object) as ``command + [/opt/ml/processing/input/code/<file>]``,
        as sagemaker v2's ``ScriptProcessor.run``; the rest as :meth:`Processor.run`."""
        entrypoint = [*self.command, posixpath.join(_CODE_DIRECTORY, os.path.basename(code))]
        self._start(inputs, outputs, arguments, wait, logs, job_name, experiment_config, kms_key, entrypoint, code)


class FrameworkProcessor(ScriptProcessor):
    """A processor that runs a script of a framework image with its ``source_dir`` (sagemaker v2's
    ``sagemaker.processing.FrameworkProcessor``): the image, and the base job name, come from ``estimator_cls``
    (``SKLearn``, ``PyTorch``, ``XGBoost``, ...) and ``framework_version``; the code goes up as
    ``sourcedir.tar.gz`` with the ``runproc.sh`` that unpacks it, installs its ``requirements.txt`` and runs
    ``command`` (``python``) on it."""

    framework_entrypoint_command = ["/bin/bash"]

    def __init__(self, estimator_cls: type, framework_version: str, role: Any = None, instance_count: Any = None,
                 instance_type: Any = None, py_version: str = "py3", image_uri: Any = None, command: Any = None,
                 volume_size_in_gb: Any = 30, volume_kms_key: Any = None, output_kms_key: Any = None,
                 code_location: str | None = None, max_runtime_in_seconds: Any = None,
                 base_job_name: str | None = None, sagemaker_session: SessionLike | None = None, env: Any = None,
                 tags: Any = None, network_config: NetworkConfig | None = None) -> None:
        super().__init__(role, image_uri, command or ["python"], instance_count, instance_type, volume_size_in_gb,
                         volume_kms_key, output_kms_key, max_runtime_in_seconds, base_job_name, sagemaker_session,
                         env, tags, network_config)
        self.estimator_cls = estimator_cls
        self.framework_version = framework_version
        self.py_version = py_version
        self.code_location = code_location[:-1] if code_location and code_location.endswith("/") else code_location
        if image_uri is None or base_job_name is None:
            estimator = self._create_estimator()
            if image_uri is None:
                self.image_uri = estimator.training_image_uri()
            if base_job_name is None:
                self.base_job_name = estimator.base_job_name or getattr(estimator_cls, "_framework_name", None)

    def _create_estimator(self, entry_point: str = "", source_dir: Any = None) -> Any:
        """The estimator v2 builds to find the image (and to pack the code): one instance, this processor's
        settings."""
        return self.estimator_cls(
            framework_version=self.framework_version, py_version=self.py_version, entry_point=entry_point,
            source_dir=source_dir, code_location=self.code_location, enable_network_isolation=False,
            image_uri=self.image_uri, role=self.role, instance_count=1, instance_type=self.instance_type,
            sagemaker_session=self.sagemaker_session, debugger_hook_config=False, disable_profiler=True,
            output_kms_key=self.output_kms_key)

    def dropped_settings(self) -> list[str]:
        return []  # the command is in runproc.sh, the entry point in the request

    def run(self, code: str, source_dir: str | None = None,  # type: ignore[override]
            dependencies: list[str] | None = None, git_config: dict[str, Any] | None = None,
            inputs: list[ProcessingInput] | None = None, outputs: list[ProcessingOutput] | None = None,
            arguments: list[str] | None = None, wait: bool = True, logs: bool = True, job_name: str | None = None,
            experiment_config: dict[str, Any] | None = None, kms_key: str | None = None) -> None:
        """As sagemaker v2's ``FrameworkProcessor.run``: ``source_dir`` (else ``code``'s file alone), packed as
        ``s3://<bucket or code_location>/<job>/source/sourcedir.tar.gz`` and given to the job as its ``code``
        input (``/opt/ml/processing/input/code/``), and ``runproc.sh`` beside it as its ``entrypoint`` input,
        which the container runs with ``/bin/bash``; ``code`` is the script's path inside ``source_dir``. An
        ``s3://`` ``code`` is run as that script instead."""
        if dependencies:
            raise NotImplementedError("dependencies= is not supported by stepfn's FrameworkProcessor: put them in "
                                      "source_dir.")
        if not code.startswith("s3://"):
            if git_config:
                from ._git import clone_code

                code, source_dir = clone_code(git_config, code, source_dir)
            job_name = job_name or self._generate_current_job_name()
            inputs = [*(inputs or []), ProcessingInput(
                source=self._upload_sourcedir(code, source_dir, job_name), destination=_CODE_DIRECTORY,
                input_name="code")]
            code = self._upload_runproc(code if source_dir else os.path.basename(code), job_name)
        entrypoint = [*self.framework_entrypoint_command, posixpath.join(_ENTRYPOINT_DIRECTORY, posixpath.basename(code))]
        self._start(inputs, outputs, arguments, wait, logs, job_name, experiment_config, kms_key, entrypoint, code,
                    ("entrypoint", _ENTRYPOINT_DIRECTORY))

    def _source_prefix(self, job_name: str) -> tuple[str, str]:
        if self.code_location:
            bucket, _, prefix = self.code_location[len("s3://"):].partition("/")
            return bucket, posixpath.join(prefix, job_name, "source") if prefix else f"{job_name}/source"
        return session_bucket(self.sagemaker_session), f"{job_name}/source"

    def _upload_sourcedir(self, code: str, source_dir: str | None, job_name: str) -> str:
        from stepfn.aws._code import build_sourcedir_archive

        if source_dir is not None and source_dir.startswith("s3://"):
            return source_dir
        archive = build_sourcedir_archive(Path(source_dir) if source_dir else None,
                                          code if source_dir else os.path.abspath(code))
        bucket, prefix = self._source_prefix(job_name)
        session_objects(self.sagemaker_session).put_bytes(archive, bucket, f"{prefix}/sourcedir.tar.gz", None)
        return f"s3://{bucket}/{prefix}/sourcedir.tar.gz"

    def _upload_runproc(self, script_name: str, job_name: str) -> str:
        """runproc.sh beside sourcedir.tar.gz; ``script_name`` is the script's path inside the archive."""
        bucket, prefix = self._source_prefix(job_name)
        script = _RUNPROC.format(entry_point_command=" ".join(self.command), entry_point=script_name)
        session_objects(self.sagemaker_session).put_bytes(script.encode(), bucket, f"{prefix}/runproc.sh", None)
        return f"s3://{bucket}/{prefix}/runproc.sh"


# sagemaker v2's runproc.sh, as FrameworkProcessor writes it.
_RUNPROC = """\
#!/bin/bash

cd /opt/ml/processing/input/code/
tar -xzf sourcedir.tar.gz

# Exit on any error. SageMaker uses error code to mark failed job.
set -e

if [[ -f 'requirements.txt' ]]; then
    # Some py3 containers has typing, which may breaks pip install
    pip uninstall --yes typing

    pip install -r requirements.txt
fi

{entry_point_command} {entry_point} "$@"
"""
_ENTRYPOINT_DIRECTORY = "/opt/ml/processing/input/entrypoint"


class ProcessingJob(SessionJob):
    """sagemaker v2's ``ProcessingJob``: the job ``run()`` started, with its inputs and outputs."""

    def __init__(self, sagemaker_session: Any, job_name: str, inputs: list[ProcessingInput],
                 outputs: list[ProcessingOutput], output_kms_key: str | None = None) -> None:
        super().__init__(PROCESSING, sagemaker_session, job_name)
        self.inputs = inputs
        self.outputs = outputs
        self.output_kms_key = output_kms_key


# Where v2's ScriptProcessor puts the code in the container.
_CODE_DIRECTORY = "/opt/ml/processing/input/code/"


def _image_base(image: Any) -> str:
    return base_name_from_image(image) if isinstance(image, str) else "processing-job"


def _normalized_inputs(inputs: list[ProcessingInput], job_name: str, session: Any) -> list[ProcessingInput]:
    for count, given in enumerate(inputs, 1):
        if given.input_name is None:
            given.input_name = f"input-{count}"
        if given.s3_input is not None or given.dataset_definition is not None or not isinstance(given.source, str):
            continue
        if not given.source.startswith("s3://"):
            given.source = _upload(given.source, f"{job_name}/input/{given.input_name}", session)
    return inputs


def _normalized_outputs(outputs: list[ProcessingOutput], job_name: str, session: Any) -> list[ProcessingOutput]:
    for count, given in enumerate(outputs, 1):
        if given.output_name is None:
            given.output_name = f"output-{count}"
        if given.feature_store_output is None and not (isinstance(given.destination, str)
                                                       and given.destination.startswith("s3://")):
            given.destination = f"s3://{session_bucket(session)}/{job_name}/output/{given.output_name}"
    return outputs


def _upload(local_path: str, prefix: str, session: Any) -> str:
    """A local file or directory under ``s3://<bucket>/<prefix>`` (a file keeps its name), as v2's S3Uploader."""
    bucket = session_bucket(session)
    objects = session_objects(session)
    path = local_path[len("file://"):] if local_path.startswith("file://") else local_path
    if os.path.isdir(path):
        for directory, _, names in os.walk(path):
            for file_name in sorted(names):
                relative = os.path.relpath(os.path.join(directory, file_name), path).replace(os.sep, "/")
                objects.put_file(os.path.join(directory, file_name), bucket, f"{prefix}/{relative}", None)
        return f"s3://{bucket}/{prefix}"
    if not os.path.isfile(path):
        raise ValueError(f"Processing input {local_path!r} is neither an s3:// URI nor a local file or directory")
    objects.put_file(path, bucket, f"{prefix}/{os.path.basename(path)}", None)
    return f"s3://{bucket}/{prefix}/{os.path.basename(path)}"


def processing_request(
    processor: Processor,
    inputs: list[ProcessingInput] | None = None,
    outputs: list[ProcessingOutput] | None = None,
    job_name: Any = None,
    container_arguments: Any = None,
    container_entrypoint: Any = None,
    kms_key_id: Any = None,
) -> dict[str, Any]:
    """The CreateProcessingJob request in docs/design/compat.md §5.6 key order (steps 1-6)."""
    name = processor._generate_current_job_name(None if is_placeholder(job_name) else job_name)
    processor._current_job_name = name
    request: dict[str, Any] = {
        "ProcessingJobName": job_name if is_placeholder(job_name) else name,
        "ProcessingInputs": [i._to_request_dict() for i in inputs] if inputs is not None else None,
    }
    output_config: dict[str, Any] = {
        "Outputs": [o._to_request_dict() for o in outputs] if outputs is not None else None,
    }
    if kms_key_id is not None:
        output_config["KmsKeyId"] = kms_key_id
    request["ProcessingOutputConfig"] = output_config
    app: dict[str, Any] = {"ImageUri": processor.image_uri}
    if container_arguments is not None:
        app["ContainerArguments"] = container_arguments
    if container_entrypoint is not None:
        app["ContainerEntrypoint"] = container_entrypoint
    request["AppSpecification"] = app
    request["RoleArn"] = processor.role
    if processor.env is not None:
        request["Environment"] = processor.env
    if processor.network_config is not None:
        request["NetworkConfig"] = processor.network_config._to_request_dict()
    cluster: dict[str, Any] = {
        "InstanceCount": processor.instance_count,
        "InstanceType": processor.instance_type,
        "VolumeSizeInGB": processor.volume_size_in_gb,
    }
    if processor.volume_kms_key is not None:
        cluster["VolumeKmsKeyId"] = processor.volume_kms_key
    request["ProcessingResources"] = {"ClusterConfig": cluster}
    if processor.max_runtime_in_seconds is not None:
        request["StoppingCondition"] = {"MaxRuntimeInSeconds": processor.max_runtime_in_seconds}
    if processor.tags is not None:
        request["Tags"] = processor.tags
    return request


def build_processing_job_request(processor: Processor, *, validate: bool = True, **kwargs: Any) -> dict[str, Any]:
    """A CreateProcessingJob request ready for boto3 (keyword arguments as ``processing_request``).

    ``ProcessingInputs``/``Outputs`` left ``None`` are dropped, since boto3 rejects ``null``.
    """
    request = processing_request(processor, **kwargs)
    if request["ProcessingInputs"] is None:
        del request["ProcessingInputs"]
    if request["ProcessingOutputConfig"]["Outputs"] is None:
        del request["ProcessingOutputConfig"]
    if validate:
        validate_request("CreateProcessingJob", request, local_mode=is_local_mode(processor.instance_type))
    return request
