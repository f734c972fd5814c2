"""Session-like configuration and job names (docs/design/compat.md §6.1).

A :class:`Session` carries the region, the default bucket and the partition that request builders need. It makes no
AWS call unless the caller asks for something it cannot know (the region or the account's default bucket), and the
bucket is never created. Any object with ``boto_region_name`` and ``default_bucket()`` may stand in for it, as the
``sagemaker_session=`` objects of sagemaker v2 do.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any, Protocol, runtime_checkable

from stepfn._partitions import LOCAL_ACCOUNT, partition_for_region

from ._objects import ObjectBackend, expose_local_store, inside, object_backend
from ._runtime import (
    create_endpoint,
    create_resource,
    delete_endpoint,
    delete_endpoint_config,
    delete_endpoint_models,
    delete_model,
    describe_endpoint,
    monitoring_call,
    runtime_client,
)
from .exceptions import UnexpectedStatusException
from .inputs import s3_input  # sagemaker v2 keeps v1's name here too (sagemaker.session.s3_input)

__all__ = [
    "LOCAL_ACCOUNT",
    "LOCAL_REGION",
    "Session",
    "SessionHolder",
    "SessionLike",
    "aws_boto_session",
    "base_from_name",
    "base_name_from_image",
    "container_def",
    "get_execution_role",
    "local_default_bucket",
    "name_from_base",
    "partition_for_region",
    "pipeline_container_def",
    "production_variant",
    "s3_input",
    "sagemaker_timestamp",
]

_NO_REGION = "Must setup local AWS configuration with a region supported by SageMaker."


@runtime_checkable
class SessionLike(Protocol):
    """What request builders read from a session (sagemaker v2 sessions satisfy it too)."""

    @property
    def boto_region_name(self) -> str: ...

    def default_bucket(self) -> str: ...


class Session:
    """Region, default bucket and partition for building SageMaker requests.

    A session built without a ``boto_session`` is a local one and never needs AWS configuration: the region is the
    argument, else boto3's configured default (``AWS_REGION``, ``AWS_DEFAULT_REGION``, the profile; read, no
    network), else ``us-east-1``; the default bucket is the argument, else ``sagemaker-{region}-{account}`` named
    as SageMaker names it, with the local account (:data:`LOCAL_ACCOUNT`), and no STS call. Its ``boto_session``,
    ``sagemaker_client``, ``sagemaker_runtime_client``, ``s3_client`` and ``s3_resource`` are real boto3 objects
    answered by the local backends in this process (see :attr:`boto_session`), for notebooks that call them.

    A local session also lets pandas and other fsspec readers open ``s3://`` URIs in the local object store
    where s3fs is not installed (``pd.read_csv("s3://bucket/key")``, as notebooks read S3;
    :mod:`stepfn.local.fsspec_store`).

    ``Session(boto_session=boto3.Session())`` is sagemaker v2's AWS session: its region must be configured (a clear
    error otherwise), and ``default_bucket()`` asks STS for the account id once and returns
    ``sagemaker-{region}-{account}``, without creating the bucket. A definition that names the local default
    bucket is refused when it is deployed to AWS.
    """

    # sagemaker v2's flag: a LocalSession (stepfn.sagemaker.local) sets it.
    local_mode = False

    def __init__(
        self,
        boto_session: Any = None,
        sagemaker_client: Any = None,
        sagemaker_runtime_client: Any = None,
        sagemaker_featurestore_runtime_client: Any = None,
        default_bucket: str | None = None,
        settings: Any = None,
        sagemaker_metrics_client: Any = None,
        sagemaker_config: dict[str, Any] | None = None,
        default_bucket_prefix: str | None = None,
        *,
        region_name: str | None = None,
    ) -> None:
        """sagemaker v2's parameters in v2's order (notebooks write ``sagemaker.Session(boto3.Session())``), and
        stepfn's keyword ``region_name`` for a local session in another region."""
        if isinstance(boto_session, str):
            # stepfn's earlier Session(region, bucket) order: v2's first parameter is the boto3 session.
            raise TypeError(f"Session's first argument is a boto3.Session (sagemaker v2's order), not "
                            f"{boto_session!r}; for a local session in a region write Session(region_name=...)")
        if default_bucket_prefix:
            # Every default S3 location would move under the prefix; until that is built, say so instead of
            # writing where the user did not ask.
            raise NotImplementedError("Session(default_bucket_prefix=...) is not supported by stepfn yet")
        self._region_name = region_name
        self._default_bucket = default_bucket
        # The user's boto3 session: AWS. None: the local backend (whose boto_session is the in-process one).
        self._aws_session = boto_session
        if boto_session is None:
            expose_local_store()
        self._local_session: Any = None
        # The boto3 clients below, made on first use; assigning one replaces it (v2's are plain attributes).
        self._clients: dict[str, Any] = {}
        if sagemaker_client is not None:
            self.sagemaker_client = sagemaker_client
        if sagemaker_runtime_client is not None:
            self.sagemaker_runtime_client = sagemaker_runtime_client
        # Kept as v2 keeps them, for code that reads them back; stepfn's own calls do not use them.
        self.sagemaker_featurestore_runtime_client = sagemaker_featurestore_runtime_client
        self.sagemaker_metrics_client = sagemaker_metrics_client
        self.settings = settings
        self.sagemaker_config = sagemaker_config
        self.default_bucket_prefix = default_bucket_prefix

    # -- boto3 (sagemaker v2's attributes; on the local backend they reach local SageMaker and S3) -------------

    @property
    def boto_session(self) -> Any:
        """The ``boto3.Session`` this session's calls go through.

        The one given, on AWS. On the local backend, a ``boto3.Session`` in :attr:`boto_region_name` whose
        ``sagemaker``, ``sagemaker-runtime``, ``s3``, ``stepfunctions`` and ``sts`` clients and resources are
        answered by the local backends of ``$STEPFN_HOME`` in this process (no server, no port, no AWS
        credentials; :mod:`stepfn.server._inprocess`), made on first use.
        """
        if self._aws_session is not None:
            return self._aws_session
        if self._local_session is None:
            from stepfn.server._inprocess import local_boto_session

            self._local_session = local_boto_session(self.boto_region_name)
        return self._local_session

    @boto_session.setter
    def boto_session(self, boto_session: Any) -> None:
        self._aws_session = boto_session
        self._clients.clear()

    def _client(self, attribute: str, make: Any) -> Any:
        if attribute not in self._clients:
            self._clients[attribute] = make(self.boto_session)
        return self._clients[attribute]

    @property
    def sagemaker_client(self) -> Any:
        """A boto3 ``sagemaker`` client (sagemaker v2's ``sagemaker_session.sagemaker_client``)."""
        return self._client("sagemaker_client", lambda boto: boto.client("sagemaker", region_name=self.boto_region_name))

    @sagemaker_client.setter
    def sagemaker_client(self, client: Any) -> None:
        self._clients["sagemaker_client"] = client

    @property
    def sagemaker_runtime_client(self) -> Any:
        """A boto3 ``sagemaker-runtime`` client: ``invoke_endpoint`` answers from the session's endpoints."""
        return self._client("sagemaker_runtime_client",
                            lambda boto: boto.client("sagemaker-runtime", region_name=self.boto_region_name))

    @sagemaker_runtime_client.setter
    def sagemaker_runtime_client(self, client: Any) -> None:
        self._clients["sagemaker_runtime_client"] = client

    @property
    def s3_client(self) -> Any:
        """A boto3 ``s3`` client (the local object store on the local backend)."""
        return self._client("s3_client", lambda boto: boto.client("s3", region_name=self.boto_region_name))

    @s3_client.setter
    def s3_client(self, client: Any) -> None:
        self._clients["s3_client"] = client

    @property
    def s3_resource(self) -> Any:
        """A boto3 ``s3`` resource (the local object store on the local backend)."""
        return self._client("s3_resource", lambda boto: boto.resource("s3", region_name=self.boto_region_name))

    @s3_resource.setter
    def s3_resource(self, resource: Any) -> None:
        self._clients["s3_resource"] = resource

    def account_id(self) -> str:
        """The account id: the local account on the local backend, else STS's answer (sagemaker v2's)."""
        if self._aws_session is None:
            return LOCAL_ACCOUNT
        sts = self._aws_session.client("sts", region_name=self.boto_region_name)
        account: str = sts.get_caller_identity()["Account"]
        return account

    @property
    def boto_region_name(self) -> str:
        if self._region_name:
            return self._region_name
        if self._aws_session is None:
            # Locally the region only names things (image URIs, ARNs): a default keeps "no AWS account" true.
            region = _boto3_default_region() or LOCAL_REGION
        else:
            region = self._aws_session.region_name
        if not region:
            raise ValueError(_NO_REGION)
        self._region_name = region
        return region

    @property
    def partition(self) -> str:
        return partition_for_region(self.boto_region_name)

    def default_bucket(self) -> str:
        if self._default_bucket:
            return self._default_bucket
        region = self.boto_region_name
        if self._aws_session is None:
            self._default_bucket = local_default_bucket(region)
            return self._default_bucket
        sts = self._aws_session.client("sts", region_name=region)
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            account = sts.get_caller_identity()["Account"]
        except (BotoCoreError, ClientError) as exc:
            # Typical on the local backend, where there is no AWS account to ask.
            raise ValueError(
                f"Session.default_bucket() asks STS for the account id to name 'sagemaker-{region}-<account>', "
                f"and that failed ({exc}). Give the bucket instead: Session(region_name=..., default_bucket=...), "
                "or an output_path / code_location on the estimator."
            ) from exc
        self._default_bucket = f"sagemaker-{region}-{account}"
        return self._default_bucket

    # -- data helpers (sagemaker v2's Session methods notebooks call; objects go where _objects says) --------

    def _objects(self) -> ObjectBackend:
        region = self.boto_region_name if self._aws_session is not None else None
        return object_backend(self._aws_session, region)

    def upload_data(self, path: str, bucket: str | None = None, key_prefix: str = "data", callback: Any = None,
                    extra_args: dict[str, Any] | None = None) -> str:
        """Upload a file to ``s3://{bucket}/{key_prefix}/{name}`` (returned), or a directory's files under
        ``s3://{bucket}/{key_prefix}/`` keeping their relative paths (the prefix is returned)."""
        bucket = bucket or self.default_bucket()
        objects = self._objects()
        path = os.fspath(path)
        if os.path.isdir(path):
            for directory, _, names in os.walk(path):
                relative = "" if directory == path else os.path.relpath(directory, path).replace(os.sep, "/") + "/"
                for name in sorted(names):
                    objects.put_file(os.path.join(directory, name), bucket, f"{key_prefix}/{relative}{name}",
                                     extra_args)
            return f"s3://{bucket}/{key_prefix}"
        if not os.path.isfile(path):
            raise FileNotFoundError(f"upload_data: no such file or directory: {path}")
        name = os.path.basename(path)
        objects.put_file(path, bucket, f"{key_prefix}/{name}", extra_args)
        return f"s3://{bucket}/{key_prefix}/{name}"

    def upload_string_as_file_body(self, body: str | bytes, bucket: str, key: str, kms_key: str | None = None) -> str:
        """Write ``body`` as the object ``s3://{bucket}/{key}`` and return that URI."""
        extra = {"SSEKMSKeyId": kms_key, "ServerSideEncryption": "aws:kms"} if kms_key is not None else None
        data = body.encode("utf-8") if isinstance(body, str) else body
        self._objects().put_bytes(data, bucket, key, extra)
        return f"s3://{bucket}/{key}"

    def download_data(self, path: str, bucket: str, key_prefix: str = "",
                      extra_args: dict[str, Any] | None = None) -> list[str]:
        """Download every object under ``key_prefix`` into ``path``; returns the local paths written.

        As sagemaker v2: a prefix with a file extension names one object, saved under its base name; otherwise
        each object keeps its key relative to the prefix. Keys that would land outside ``path`` are refused."""
        objects = self._objects()
        written = []
        path = os.fspath(path)
        for key, size in objects.iter_keys(bucket, key_prefix):
            if key.endswith("/") and size == 0:
                continue  # a console-made "folder" marker, not a file
            if os.path.splitext(key_prefix)[1]:
                relative = key.rsplit("/", 1)[-1]
            else:
                relative = os.path.relpath(key, key_prefix) if key_prefix else key
            destination = os.path.join(path, relative)
            if not inside(destination, path):
                raise ValueError(f"download_data: object key {key!r} would be written outside {path}")
            os.makedirs(os.path.dirname(destination) or ".", exist_ok=True)
            objects.get_file(bucket, key, destination)
            written.append(destination)
        return written

    def read_s3_file(self, bucket: str, key_prefix: str) -> str:
        """The object ``s3://{bucket}/{key_prefix}`` decoded as UTF-8."""
        return self._objects().get_bytes(bucket, key_prefix).decode("utf-8")

    def list_s3_files(self, bucket: str, key_prefix: str) -> list[str]:
        """The keys of the objects under ``key_prefix``."""
        return [key for key, _ in self._objects().iter_keys(bucket, key_prefix)]

    # -- endpoints (what Predictor calls; local endpoints, or SageMaker for a boto3-built session) ------------

    def delete_endpoint(self, endpoint_name: str, delete_endpoint_config: bool = False) -> None:
        delete_endpoint(self._aws_session, self._aws_region(), endpoint_name, with_config=delete_endpoint_config)

    def delete_models_of_endpoint(self, endpoint_name: str) -> None:
        delete_endpoint_models(self._aws_session, self._aws_region(), endpoint_name)

    def delete_endpoint_config(self, endpoint_config_name: str) -> None:
        delete_endpoint_config(self._aws_session, self._aws_region(), endpoint_config_name)

    def delete_model(self, model_name: str) -> None:
        delete_model(self._aws_session, self._aws_region(), model_name)

    def create_endpoint_config(self, name: str, model_name: str, initial_instance_count: int, instance_type: str,
                               accelerator_type: str | None = None, tags: list[dict[str, str]] | None = None,
                               kms_key: str | None = None, data_capture_config_dict: dict[str, Any] | None = None,
                               volume_size: int | None = None, model_data_download_timeout: int | None = None,
                               container_startup_health_check_timeout: int | None = None) -> str:
        """CreateEndpointConfig with one ``AllTraffic`` variant serving ``model_name``, as sagemaker v2 builds it;
        returns ``name``."""
        variant: dict[str, Any] = {"ModelName": model_name, "InstanceType": instance_type,
                                   "InitialInstanceCount": initial_instance_count, "VariantName": "AllTraffic",
                                   "InitialVariantWeight": 1}
        for key, value in (("AcceleratorType", accelerator_type), ("VolumeSizeInGB", volume_size),
                           ("ModelDataDownloadTimeoutInSeconds", model_data_download_timeout),
                           ("ContainerStartupHealthCheckTimeoutInSeconds", container_startup_health_check_timeout)):
            if value is not None:
                variant[key] = value
        request: dict[str, Any] = {"EndpointConfigName": name, "ProductionVariants": [variant]}
        if tags:
            request["Tags"] = tags
        if kms_key:
            request["KmsKeyId"] = kms_key
        if data_capture_config_dict is not None:
            request["DataCaptureConfig"] = data_capture_config_dict
        create_resource(self._aws_session, self._aws_region(), "endpoint-config", request)
        return name

    def create_endpoint(self, endpoint_name: str, config_name: str, tags: list[dict[str, str]] | None = None,
                        wait: bool = True, live_logging: bool = False) -> str:
        """CreateEndpoint serving ``config_name``; with ``wait``, until it is InService (as sagemaker v2's, it
        raises :class:`UnexpectedStatusException` when the endpoint fails). Returns ``endpoint_name``."""
        request: dict[str, Any] = {"EndpointName": endpoint_name, "EndpointConfigName": config_name}
        if tags:
            request["Tags"] = tags
        create_endpoint(self._aws_session, self._aws_region(), request)
        if wait:
            self.wait_for_endpoint(endpoint_name, live_logging=live_logging)
        return endpoint_name

    def endpoint_from_job(self, job_name: str, initial_instance_count: int, instance_type: str,
                          image_uri: str | None = None, name: str | None = None, role: str | None = None,
                          wait: bool = True, model_environment_vars: dict[str, str] | None = None,
                          vpc_config_override: Any = "VPC_CONFIG_DEFAULT", accelerator_type: str | None = None,
                          data_capture_config: Any = None) -> str:
        """An endpoint (named ``name``, by default the job's) serving training job ``job_name``'s model: its
        artifacts, by default its training image and role (sagemaker v2)."""
        job = self.sagemaker_client.describe_training_job(TrainingJobName=job_name)
        vpc_config = job.get("VpcConfig") if vpc_config_override == "VPC_CONFIG_DEFAULT" else vpc_config_override
        return self.endpoint_from_model_data(
            job["ModelArtifacts"]["S3ModelArtifacts"], image_uri or job["AlgorithmSpecification"]["TrainingImage"],
            initial_instance_count, instance_type, name=name or job_name, role=role or job["RoleArn"], wait=wait,
            model_environment_vars=model_environment_vars, model_vpc_config=vpc_config,
            accelerator_type=accelerator_type, data_capture_config=data_capture_config)

    def endpoint_from_model_data(self, model_s3_location: str, image_uri: str, initial_instance_count: int,
                                 instance_type: str, name: str | None = None, role: str | None = None,
                                 wait: bool = True, model_environment_vars: dict[str, str] | None = None,
                                 model_vpc_config: Any = None, accelerator_type: str | None = None,
                                 data_capture_config: Any = None) -> str:
        """An endpoint serving the model at ``model_s3_location`` in ``image_uri``: the model and endpoint config of
        the same name are created unless they exist (sagemaker v2); an existing endpoint of that name is refused."""
        name = name or name_from_base(base_name_from_image(image_uri))
        client = self.sagemaker_client
        if self._exists(lambda: client.describe_endpoint(EndpointName=name)):
            raise ValueError(f'Endpoint with name "{name}" already exists; please pick a different name.')
        if not self._exists(lambda: client.describe_model(ModelName=name)):
            self.create_model(name, role, container_def(image_uri, model_s3_location, model_environment_vars or {}),
                              vpc_config=model_vpc_config)
        if not self._exists(lambda: client.describe_endpoint_config(EndpointConfigName=name)):
            self.create_endpoint_config(
                name, name, initial_instance_count, instance_type, accelerator_type=accelerator_type,
                data_capture_config_dict=None if data_capture_config is None else data_capture_config._to_request_dict())
        return self.create_endpoint(name, name, wait=wait)

    @staticmethod
    def _exists(describe: Any) -> bool:
        """Whether ``describe()`` finds the resource: SageMaker answers one it cannot find with a ValidationException
        "Could not find ..." (botocore's ClientError, matched by its response so botocore stays unimported)."""
        try:
            describe()
        except Exception as error:
            detail = (getattr(error, "response", None) or {}).get("Error", {})
            if detail.get("Code") == "ValidationException" and "Could not find" in str(detail.get("Message")):
                return False
            raise
        return True

    def endpoint_from_production_variants(self, name: str, production_variants: list[dict[str, Any]],
                                          tags: list[dict[str, str]] | None = None, kms_key: str | None = None,
                                          wait: bool = True, data_capture_config_dict: dict[str, Any] | None = None,
                                          async_inference_config_dict: dict[str, Any] | None = None) -> str:
        """An endpoint config named ``name`` with these variants (see :func:`production_variant`), and the endpoint
        of the same name serving it; with ``wait``, until it is InService. Returns ``name`` (sagemaker v2)."""
        request: dict[str, Any] = {"EndpointConfigName": name, "ProductionVariants": production_variants}
        for key, value in (("Tags", tags), ("KmsKeyId", kms_key), ("DataCaptureConfig", data_capture_config_dict),
                           ("AsyncInferenceConfig", async_inference_config_dict)):
            if value:
                request[key] = value
        create_resource(self._aws_session, self._aws_region(), "endpoint-config", request)
        return self.create_endpoint(name, name, tags=tags, wait=wait)

    def create_model(self, name: str, role: str | None = None, container_defs: Any = None, vpc_config: Any = None,
                     enable_network_isolation: bool = False, primary_container: Any = None,
                     tags: list[dict[str, str]] | None = None) -> str:
        """CreateModel ``name``: one container (a dict, or ``primary_container``) or an inference pipeline's
        (a list of container definitions, :func:`pipeline_container_def`); returns ``name`` (sagemaker v2)."""
        if container_defs is not None and primary_container is not None:
            raise ValueError("Both container_defs and primary_container can not be passed as input")
        containers = primary_container if primary_container is not None else container_defs
        request: dict[str, Any] = {"ModelName": name}
        request["Containers" if isinstance(containers, list) else "PrimaryContainer"] = containers
        if role is not None:
            request["ExecutionRoleArn"] = self.expand_role(role)
        for key, value in (("VpcConfig", vpc_config), ("EnableNetworkIsolation", enable_network_isolation),
                           ("Tags", tags)):
            if value:
                request[key] = value
        create_resource(self._aws_session, self._aws_region(), "model", request)
        return name

    def expand_role(self, role: str) -> str:
        """The ARN of ``role``: as given when it is one (it has a ``/``), else the role of that name in the
        session's account (sagemaker v2 asks IAM; the name maps the same way there)."""
        if "/" in role:
            return role
        return f"arn:{self.partition}:iam::{self.account_id()}:role/{role}"

    def wait_for_endpoint(self, endpoint: str, poll: float = 30, live_logging: bool = False) -> dict[str, Any]:
        """Poll DescribeEndpoint every ``poll`` seconds while it is Creating or Updating, as sagemaker v2 does;
        returns the description, or raises :class:`UnexpectedStatusException` unless the endpoint is InService.
        ``live_logging`` (CloudWatch logs on AWS) has no effect: a local endpoint's log is ``stepfn logs``'."""
        while True:
            description = describe_endpoint(self._aws_session, self._aws_region(), endpoint)
            status = description["EndpointStatus"]
            if status not in ("Creating", "Updating"):
                break
            time.sleep(poll)
        if status != "InService":
            reason = description.get("FailureReason")
            raise UnexpectedStatusException(
                message=f"Error hosting endpoint {endpoint}: {status}. Reason: {reason}.",
                allowed_statuses=["InService"], actual_status=status)
        return description

    # -- Model Monitor (what DefaultModelMonitor calls; local SageMaker, or SageMaker for a boto3-built session) --

    def describe_monitoring_schedule(self, monitoring_schedule_name: str) -> dict[str, Any]:
        return monitoring_call(self, "describe_monitoring_schedule", {"MonitoringScheduleName": monitoring_schedule_name})

    def list_monitoring_executions(self, monitoring_schedule_name: str, sort_by: str = "ScheduledTime",
                                   sort_order: str = "Descending", max_results: int = 100) -> dict[str, Any]:
        return monitoring_call(self, "list_monitoring_executions", {
            "MonitoringScheduleName": monitoring_schedule_name, "SortBy": sort_by, "SortOrder": sort_order,
            "MaxResults": max_results})

    def start_monitoring_schedule(self, monitoring_schedule_name: str) -> None:
        monitoring_call(self, "start_monitoring_schedule", {"MonitoringScheduleName": monitoring_schedule_name})

    def stop_monitoring_schedule(self, monitoring_schedule_name: str) -> None:
        monitoring_call(self, "stop_monitoring_schedule", {"MonitoringScheduleName": monitoring_schedule_name})

    def delete_monitoring_schedule(self, monitoring_schedule_name: str) -> None:
        monitoring_call(self, "delete_monitoring_schedule", {"MonitoringScheduleName": monitoring_schedule_name})

    # -- job logs (sagemaker v2 prints CloudWatch; a local job's log is its own file) ----------------------------

    def logs_for_job(self, job_name: str, wait: bool = False, poll: float = 10, log_type: str = "All") -> None:
        """Print a training job's log; with ``wait``, until the job ends (a failed job then raises
        ``UnexpectedStatusException``). ``log_type`` has no effect: a local job has one log."""
        from ._jobs import TRAINING, print_job_log

        print_job_log(TRAINING, self, job_name, wait=wait, poll=poll)

    def logs_for_processing_job(self, job_name: str, wait: bool = False, poll: float = 10) -> None:
        """Print a processing job's log, as :meth:`logs_for_job`."""
        from ._jobs import PROCESSING, print_job_log

        print_job_log(PROCESSING, self, job_name, wait=wait, poll=poll)

    def logs_for_transform_job(self, job_name: str, wait: bool = False, poll: float = 10) -> None:
        """Print a batch transform job's log, as :meth:`logs_for_job`."""
        from ._jobs import TRANSFORM, print_job_log

        print_job_log(TRANSFORM, self, job_name, wait=wait, poll=poll)

    def _job(self, kind: str, job_name: str) -> Any:
        from . import _jobs

        return _jobs.SessionJob(getattr(_jobs, kind), self, job_name)

    def describe_processing_job(self, job_name: str) -> dict[str, Any]:
        described: dict[str, Any] = self._job("PROCESSING", job_name).describe()
        return described

    def describe_training_job(self, job_name: str) -> dict[str, Any]:
        described: dict[str, Any] = self._job("TRAINING", job_name).describe()
        return described

    def describe_transform_job(self, job_name: str) -> dict[str, Any]:
        described: dict[str, Any] = self._job("TRANSFORM", job_name).describe()
        return described

    def describe_tuning_job(self, job_name: str) -> dict[str, Any]:
        described: dict[str, Any] = self._job("TUNING", job_name).describe()
        return described

    # sagemaker v2's wait_for_*: poll the job until it ends and return its description; a Failed job raises
    # UnexpectedStatusException, a Stopped one does not. ``poll`` is accepted as v2's: a local job's record is
    # re-read every 0.1 s, SageMaker's through boto3's waiter (or every 5 s where boto3 has none).

    def wait_for_job(self, job: str, poll: float = 5) -> dict[str, Any]:
        """Wait for the training job ``job``."""
        described: dict[str, Any] = self._job("TRAINING", job).wait(logs=False)
        return described

    def wait_for_processing_job(self, job: str, poll: float = 5) -> dict[str, Any]:
        described: dict[str, Any] = self._job("PROCESSING", job).wait(logs=False)
        return described

    def wait_for_transform_job(self, job: str, poll: float = 5) -> dict[str, Any]:
        described: dict[str, Any] = self._job("TRANSFORM", job).wait(logs=False)
        return described

    def wait_for_tuning_job(self, job: str, poll: float = 5) -> dict[str, Any]:
        described: dict[str, Any] = self._job("TUNING", job).wait(logs=False)
        return described

    def stop_tuning_job(self, name: str) -> None:
        self._job("TUNING", name).stop()

    def _aws_region(self) -> str | None:
        """The region AWS calls go to; None for a local session (local resources have no region to ask)."""
        return self.boto_region_name if self._aws_session is not None else None

    def __repr__(self) -> str:
        return f"Session(region_name={self._region_name!r}, default_bucket={self._default_bucket!r})"


LOCAL_EXECUTION_ROLE = "stepfn-local-execution-role"
#: The region of a local session when none is configured (SageMaker's and the AWS CLI's usual first region).
LOCAL_REGION = "us-east-1"


def container_def(image_uri: Any, model_data_url: Any = None, env: Any = None,
                  image_config: Any = None) -> dict[str, Any]:
    """``{Image, Environment, [ModelDataUrl], [ImageConfig]}`` as sagemaker v2's ``container_def``."""
    definition: dict[str, Any] = {"Image": image_uri, "Environment": env if env is not None else {}}
    if model_data_url:
        definition["ModelDataUrl"] = model_data_url
    if image_config:
        definition["ImageConfig"] = image_config
    return definition


def pipeline_container_def(models: list[Any], instance_type: Any = None) -> list[dict[str, Any]]:
    """The container definitions of an inference pipeline: each model's, in order (sagemaker v2)."""
    return [model.prepare_container_def(instance_type) for model in models]


def production_variant(model_name: str, instance_type: str, initial_instance_count: int = 1,
                       variant_name: str = "AllTraffic", initial_weight: float = 1,
                       accelerator_type: str | None = None) -> dict[str, Any]:
    """One ``ProductionVariants`` entry of a CreateEndpointConfig request, as sagemaker v2 builds it (A/B tests
    give ``Session.endpoint_from_production_variants`` several, weighted)."""
    variant: dict[str, Any] = {"ModelName": model_name, "InstanceType": instance_type,
                               "InitialInstanceCount": initial_instance_count, "VariantName": variant_name,
                               "InitialVariantWeight": initial_weight}
    if accelerator_type:
        variant["AcceleratorType"] = accelerator_type
    return variant


def local_default_bucket(region: str) -> str:
    """The default bucket of a local session: ``sagemaker-{region}-{LOCAL_ACCOUNT}``, as SageMaker names it."""
    return f"sagemaker-{region}-{LOCAL_ACCOUNT}"


def get_execution_role(sagemaker_session: Session | None = None, use_default: bool = False) -> str:
    """The IAM role ARN jobs run as (``sagemaker.get_execution_role``).

    On the local backend (a session without a ``boto_session``) nothing checks roles, so this names a local role
    in the partition of the session's region without calling STS. A session built on boto3 asks STS, as sagemaker
    v2 does, and turns an assumed-role identity into its role ARN; an identity that is no role is an error (v2's
    ``use_default`` creates an IAM role, which stepfn never does).
    """
    session = sagemaker_session or Session()
    boto_session = aws_boto_session(session)
    if boto_session is None:
        partition = partition_for_region(session._region_name) if session._region_name else "aws"
        return f"arn:{partition}:iam::{LOCAL_ACCOUNT}:role/{LOCAL_EXECUTION_ROLE}"
    identity = boto_session.client("sts", region_name=session.boto_region_name).get_caller_identity()
    arn: str = identity["Arn"]
    if ":assumed-role/" in arn:
        prefix, _, rest = arn.partition(":assumed-role/")
        return f"{prefix.replace(':sts:', ':iam:')}:role/{rest.split('/', 1)[0]}"
    if ":role/" in arn:
        return arn
    raise ValueError(
        f"The current AWS identity is not a role: {arn}. Pass role= explicitly"
        + (" (stepfn does not create AmazonSageMaker-DefaultRole)." if use_default else ".")
    )


def aws_boto_session(session: Any) -> Any:
    """The boto3 session through which ``session``'s SageMaker and S3 calls go to AWS; None on the local backend.

    A stepfn :class:`Session` on the local backend has a ``boto_session`` too (the in-process one, for the user's
    own boto3 calls), so stepfn's own calls ask this instead: they use the local backends directly. Any other
    session object (sagemaker v2's, a test double) means AWS when it has a ``boto_session``.
    """
    if isinstance(session, Session):
        return session._aws_session
    return getattr(session, "boto_session", None)


def invocation_client(session: Any) -> Any:
    """What a Predictor sends InvokeEndpoint to: a local session's endpoints directly (no botocore round trip on
    the hot path) unless the user assigned the session's ``sagemaker_runtime_client``; otherwise the session's
    ``sagemaker_runtime_client``."""
    if isinstance(session, Session) and session._aws_session is None \
            and "sagemaker_runtime_client" not in session._clients:
        return runtime_client(None, None)
    return session.sagemaker_runtime_client


class SessionHolder:
    """Gives a class sagemaker v2's lazily created ``sagemaker_session`` attribute."""

    _sagemaker_session: SessionLike | None = None

    @property
    def sagemaker_session(self) -> SessionLike:
        # Created on first use, so building an object never needs a region.
        if self._sagemaker_session is None:
            self._sagemaker_session = Session()
        return self._sagemaker_session

    @sagemaker_session.setter
    def sagemaker_session(self, session: SessionLike | None) -> None:
        self._sagemaker_session = session


def _boto3_default_region() -> str | None:
    # AWS_REGION first, as the AWS CLI v2 and the other SDKs read it; botocore itself only reads
    # AWS_DEFAULT_REGION and the profile's region.
    if os.environ.get("AWS_REGION"):
        return os.environ["AWS_REGION"]
    import boto3

    region: str | None = boto3.session.Session().region_name
    return region


def sagemaker_timestamp() -> str:
    """UTC ``%Y-%m-%d-%H-%M-%S-mmm``, the suffix sagemaker v2 puts on generated names."""
    moment = time.time()
    millis = int((moment - int(moment)) * 1000)
    return time.strftime(f"%Y-%m-%d-%H-%M-%S-{millis:03d}", time.gmtime(moment))


def _short_timestamp() -> str:
    return time.strftime("%y%m%d-%H%M")


def name_from_base(base: str, max_length: int = 63, short: bool = False) -> str:
    """``base`` trimmed so that ``base-<timestamp>`` fits ``max_length`` (docs/design/compat.md §6.1)."""
    timestamp = _short_timestamp() if short else sagemaker_timestamp()
    trimmed = base[: max_length - len(timestamp) - 1]
    return f"{trimmed}-{timestamp}"


def base_from_name(name: str) -> str:
    """A generated name without its timestamp (sagemaker v2's ``base_from_name``): ``sklearn-2024-…-123`` ->
    ``sklearn``, so a name derived from it gets one timestamp, not two."""
    match = re.match(r"^(.+)-(\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3}|\d{6}-\d{4})", name)
    return match.group(1) if match else name


def base_name_from_image(image: str) -> str:
    """The repository name of an image URI: ``…/sagemaker-xgboost:1.2-1`` -> ``sagemaker-xgboost``."""
    repository = image.rsplit("/", 1)[-1]
    return repository.split("@", 1)[0].split(":", 1)[0]


def session_bucket(session: Any) -> str:
    """The session's default bucket for expected code locations.

    A bucket already known (``_default_bucket``, which sagemaker v2's request builders read directly) wins, so a
    test double (``MagicMock()`` with ``_default_bucket = "b"``, as the original SDK's own tests build) names the
    same locations the original did; otherwise the session resolves one (``default_bucket()``).
    """
    known = getattr(session, "_default_bucket", None)
    if isinstance(known, str) and known:
        return known
    return str(session.default_bucket())
