"""``Transformer`` (sagemaker v2 ``sagemaker.transformer``) and the CreateTransformJob request (docs/design/compat.md §5.3, §6.6)."""

from __future__ import annotations

from typing import Any

from ._jobs import TRANSFORM, SessionJob
from .session import SessionHolder, SessionLike, base_from_name, name_from_base
from .validation import is_local_mode, validate_request

__all__ = ["Transformer", "build_transform_job_request", "transform_request"]


class Transformer(SessionHolder):
    """Batch transform settings for one model."""

    def __init__(
        self,
        model_name: Any,
        instance_count: Any,
        instance_type: Any,
        strategy: Any = None,
        assemble_with: Any = None,
        output_path: Any = None,
        output_kms_key: Any = None,
        accept: Any = None,
        max_concurrent_transforms: Any = None,
        max_payload: Any = None,
        tags: Any = None,
        env: Any = None,
        base_transform_job_name: str | None = None,
        sagemaker_session: SessionLike | None = None,
        volume_kms_key: Any = None,
    ) -> None:
        self.model_name = model_name
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.strategy = strategy
        self.assemble_with = assemble_with
        self.output_path = output_path
        self.output_kms_key = output_kms_key
        self.accept = accept
        self.max_concurrent_transforms = max_concurrent_transforms
        self.max_payload = max_payload
        self.tags = tags
        self.env = env
        self.base_transform_job_name = base_transform_job_name
        self._sagemaker_session = sagemaker_session
        self.volume_kms_key = volume_kms_key
        self._current_job_name: Any = None
        self._reset_output_path = False
        self.latest_transform_job: SessionJob | None = None

    def transform(self, data: str, data_type: str = "S3Prefix", content_type: str | None = None,
                  compression_type: str | None = None, split_type: str | None = None, job_name: str | None = None,
                  input_filter: str | None = None, output_filter: str | None = None, join_source: str | None = None,
                  experiment_config: dict[str, Any] | None = None,
                  model_client_config: dict[str, Any] | None = None, batch_data_capture_config: Any = None,
                  wait: bool = True, logs: bool = True) -> None:
        """Run a batch transform job now, as sagemaker v2's ``transform``: on local SageMaker for a local session
        (the results land under ``output_path``; without one, ``s3://<default bucket>/<job name>``, which
        ``output_path`` then holds until the next job), on SageMaker for a
        session built on boto3. The job is ``job_name``, else ``<base_transform_job_name or model
        name>-<timestamp>``; ``latest_transform_job`` is its handle. With ``wait``, a failed job raises
        :class:`~stepfn.sagemaker.exceptions.UnexpectedStatusException`."""
        if job_name is None:
            # v2 names the job from the model's image; the model's name is what stepfn knows without a call.
            job_name = name_from_base(self.base_transform_job_name or base_from_name(str(self.model_name)))
        if self.output_path is None or self._reset_output_path:
            # As v2: a transformer made without output_path writes under the job's name, and says where
            # (transformer.output_path, which notebooks then read); each later job gets its own.
            self.output_path = f"s3://{self.sagemaker_session.default_bucket()}/{job_name}"
            self._reset_output_path = True
        request = build_transform_job_request(
            self, data, data_type=data_type, content_type=content_type, compression_type=compression_type,
            split_type=split_type, job_name=job_name, input_filter=input_filter, output_filter=output_filter,
            join_source=join_source)
        if experiment_config:
            request["ExperimentConfig"] = experiment_config
        if model_client_config:
            request["ModelClientConfig"] = model_client_config
        if batch_data_capture_config is not None:
            request["DataCaptureConfig"] = batch_data_capture_config._to_request_dict()
        self.latest_transform_job = SessionJob(TRANSFORM, self.sagemaker_session, job_name)
        self.latest_transform_job.start(request, wait=wait)
        if wait:
            self.latest_transform_job.wait(logs=logs)

    def wait(self, logs: bool = True) -> None:
        """Wait for the last ``transform()`` job (sagemaker v2's ``transformer.wait``)."""
        if self.latest_transform_job is None:
            raise ValueError("No transform job available")
        self.latest_transform_job.wait(logs=logs)

    def stop_transform_job(self, wait: bool = True) -> None:
        """Stop the last ``transform()`` job; with ``wait``, until it has ended."""
        if self.latest_transform_job is None:
            raise ValueError("No transform job available")
        self.latest_transform_job.stop()
        if wait:
            self.latest_transform_job.wait()


def transform_request(
    transformer: Transformer,
    data: Any,
    data_type: Any = "S3Prefix",
    content_type: Any = None,
    compression_type: Any = None,
    split_type: Any = None,
    job_name: Any = None,
    input_filter: Any = None,
    output_filter: Any = None,
    join_source: Any = None,
    output_path: Any = None,
) -> dict[str, Any]:
    """sagemaker 2.72.3's ``transform_config``: the request in docs/design/compat.md §5.3 key order (steps 1-5).

    ``output_path`` overrides the transformer's (the TransformStep passes one built from a placeholder job name).
    """
    if job_name is not None:
        name = job_name
    elif transformer.base_transform_job_name is not None:
        name = name_from_base(transformer.base_transform_job_name)
    else:
        name = transformer.model_name
    transformer._current_job_name = name
    if output_path is None:
        output_path = transformer.output_path
    if output_path is None:
        output_path = f"s3://{transformer.sagemaker_session.default_bucket()}/{name}"
    transform_input: dict[str, Any] = {"DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": data}}}
    if content_type is not None:
        transform_input["ContentType"] = content_type
    if compression_type is not None:
        transform_input["CompressionType"] = compression_type
    if split_type is not None:
        transform_input["SplitType"] = split_type
    transform_output: dict[str, Any] = {"S3OutputPath": output_path}
    if transformer.output_kms_key is not None:
        transform_output["KmsKeyId"] = transformer.output_kms_key
    if transformer.assemble_with is not None:
        transform_output["AssembleWith"] = transformer.assemble_with
    if transformer.accept is not None:
        transform_output["Accept"] = transformer.accept
    resources: dict[str, Any] = {
        "InstanceCount": transformer.instance_count,
        "InstanceType": transformer.instance_type,
    }
    if transformer.volume_kms_key is not None:
        resources["VolumeKmsKeyId"] = transformer.volume_kms_key
    request: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": transformer.model_name,
        "TransformInput": transform_input,
        "TransformOutput": transform_output,
        "TransformResources": resources,
    }
    processing: dict[str, Any] = {}
    if input_filter is not None:
        processing["InputFilter"] = input_filter
    if output_filter is not None:
        processing["OutputFilter"] = output_filter
    if join_source is not None:
        processing["JoinSource"] = join_source
    if processing:
        request["DataProcessing"] = processing
    if transformer.strategy is not None:
        request["BatchStrategy"] = transformer.strategy
    if transformer.max_concurrent_transforms is not None:
        request["MaxConcurrentTransforms"] = transformer.max_concurrent_transforms
    if transformer.max_payload is not None:
        request["MaxPayloadInMB"] = transformer.max_payload
    if transformer.env is not None:
        request["Environment"] = transformer.env
    if transformer.tags is not None:
        request["Tags"] = transformer.tags
    return request


def build_transform_job_request(transformer: Transformer, data: Any, *, validate: bool = True,
                                **kwargs: Any) -> dict[str, Any]:
    """A CreateTransformJob request ready for boto3 (keyword arguments as ``transform_request``)."""
    request = transform_request(transformer, data, **kwargs)
    if validate:
        validate_request("CreateTransformJob", request, local_mode=is_local_mode(transformer.instance_type))
    return request
