"""Code and data that live on the user's disk, moved to S3 when a workflow is deployed to AWS.

A framework estimator whose ``source_dir``/``entry_point`` is local trains from a
``sourcedir.tar.gz`` on S3 there (docs/design/compat.md §6.3); locally the same workflow reads the directory in
place and nothing is uploaded. Deploying therefore has two halves:

* :func:`plan_uploads` reads a definition (and the local files it names) and returns the rewritten
  definition plus the list of :class:`Upload` s it needs. It sends nothing.
* :func:`run_uploads` performs a plan with a boto3 ``s3`` client.

Which values are code: the ``sagemaker_submit_directory`` hyperparameter (JSON-encoded, as the SDK
writes hyperparameters) of training and tuning jobs, ``SAGEMAKER_SUBMIT_DIRECTORY`` in a model's
container environment, and a processing job's ``code`` input. A value is local when it is a
``file://`` URI or a filesystem path; ``s3://`` values are left alone unless ``sources`` says which
local directory should be uploaded to that exact URI (the authoring layer computes the SDK's
``s3://<bucket>/<job>/source/sourcedir.tar.gz`` even when the directory is local).

Code goes to ``<prefix>/source/<sha256 of the archive>/sourcedir.tar.gz``: identical code is uploaded
once, and changed code gets a new key, so executions already running keep reading the code they
started with. Data (only with ``include_data=True``) goes to ``<prefix>/data/<state>/<channel>/``.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from stepfn._partitions import LOCAL_ACCOUNT
from stepfn.errors import StepfnError

_SAGEMAKER_RESOURCE = re.compile(r"^arn:[\w-]+:states:::sagemaker:(\w+)(\.[\w:]+)?$")
_SKIPPED_NAMES = frozenset({"__pycache__", ".git", ".ipynb_checkpoints", ".DS_Store", ".stepfn"})


class UploadError(StepfnError):
    """A local path named by the definition cannot be packed or uploaded."""


@dataclass(frozen=True)
class Upload:
    """One thing to put on S3: a packed source directory (``code``), or a data file or directory."""

    kind: Literal["code", "data"]
    source: Path
    uri: str
    entry_point: str | None = None
    archive: bytes | None = None
    """The ``sourcedir.tar.gz`` bytes for code uploads (built while planning, to name the key by its hash)."""


@dataclass(frozen=True)
class UploadPlan:
    definition: dict[str, Any]
    uploads: tuple[Upload, ...]


def build_sourcedir_archive(source_dir: Path | None, entry_point: str | None = None) -> bytes:
    """``sourcedir.tar.gz`` as the SageMaker SDK packs it: the directory's contents at the archive root,
    or only the entry point file when there is no directory. Byte-for-byte reproducible (sorted
    entries, zeroed times and owners) so that the content hash names the code, not the moment."""
    if source_dir is None:
        if not entry_point:
            raise UploadError("nothing to pack: neither a source directory nor an entry point was given")
        files = [(Path(entry_point), Path(entry_point).name)]
    else:
        if not source_dir.is_dir():
            raise UploadError(f"source directory {str(source_dir)!r} does not exist or is not a directory")
        files = [(path, path.relative_to(source_dir).as_posix()) for path in _walk_files(source_dir)]
        if entry_point and not (source_dir / entry_point).is_file():
            raise UploadError(f"entry point {entry_point!r} not found in source directory {str(source_dir)!r}")
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, name in files:
            if not path.is_file():
                raise UploadError(f"entry point {str(path)!r} does not exist")
            info = tarfile.TarInfo(name)
            data = path.read_bytes()
            info.size = len(data)
            info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def _walk_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.iterdir()):
        if path.name in _SKIPPED_NAMES or path.suffix == ".pyc":
            continue
        if path.is_dir():
            yield from _walk_files(path)
        elif path.is_file():
            yield path


def local_path_of(value: Any) -> Path | None:
    """The local path a definition value names (``file://...`` or a path), or None for S3/other URIs."""
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("file://"):
        return Path(value[len("file://"):])
    if "://" in value:
        return None
    if value.startswith(("/", "./", "../", "~")):
        return Path(value).expanduser()
    return None


def iter_task_states(definition: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Task state of a definition, nested Parallel branches and Map processors included.

    Yields ``(path, state)`` where path joins enclosing state names with ``/`` (unique per definition).
    """
    for name, state in definition.get("States", {}).items():
        path = f"{prefix}{name}"
        kind = state.get("Type")
        if kind == "Task":
            yield path, state
        elif kind == "Parallel":
            for index, branch in enumerate(state.get("Branches", [])):
                yield from iter_task_states(branch, f"{path}/{index}/")
        elif kind == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor:
                yield from iter_task_states(processor, f"{path}/")


def plan_uploads(
    definition: Mapping[str, Any] | str,
    *,
    bucket: str,
    prefix: str = "stepfn",
    sources: Mapping[str, Path | str] | None = None,
    include_data: bool = False,
) -> UploadPlan:
    """The definition rewritten to point at S3, and the uploads that make those URIs real.

    ``sources`` maps an ``s3://`` URI already in the definition to the local directory (or single
    entry-point file) whose ``sourcedir.tar.gz`` belongs there. ``include_data`` also uploads local
    training/transform/processing input paths. The input definition is not modified.
    """
    parsed = json.loads(definition) if isinstance(definition, str) else copy.deepcopy(dict(definition))
    planner = _Planner(bucket=bucket, prefix=prefix.strip("/"), sources=dict(sources or {}), include_data=include_data)
    for path, state in iter_task_states(parsed):
        match = _SAGEMAKER_RESOURCE.match(str(state.get("Resource", "")))
        if not match:
            continue
        for key in ("Parameters", "Arguments"):
            if isinstance(state.get(key), dict):
                planner.visit(match.group(1), path, state[key])
    return UploadPlan(definition=parsed, uploads=tuple(planner.uploads.values()))


class _Planner:
    def __init__(self, *, bucket: str, prefix: str, sources: dict[str, Path | str], include_data: bool) -> None:
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.sources = sources
        self.include_data = include_data
        self.uploads: dict[str, Upload] = {}

    def visit(self, action: str, state_path: str, params: dict[str, Any]) -> None:
        if action == "createTrainingJob":
            self._hyperparameters(params.get("HyperParameters"))
            self._channels(state_path, params.get("InputDataConfig"))
        elif action == "createHyperParameterTuningJob":
            definitions = [params.get("TrainingJobDefinition"), *(params.get("TrainingJobDefinitions") or [])]
            for job in definitions:
                if isinstance(job, dict):
                    self._hyperparameters(job.get("StaticHyperParameters"))
                    self._channels(state_path, job.get("InputDataConfig"))
        elif action == "createModel":
            containers = [params.get("PrimaryContainer"), *(params.get("Containers") or [])]
            for container in containers:
                if isinstance(container, dict) and isinstance(container.get("Environment"), dict):
                    self._environment(container["Environment"])
        elif action == "createTransformJob":
            source = _dig(params, "TransformInput", "DataSource", "S3DataSource")
            if isinstance(source, dict):
                self._data(source, "S3Uri", f"{state_path}/input")
        elif action == "createProcessingJob":
            for item in params.get("ProcessingInputs") or []:
                s3_input = item.get("S3Input") if isinstance(item, dict) else None
                if isinstance(s3_input, dict):
                    name = str(item.get("InputName") or "input")
                    self._data(s3_input, "S3Uri", f"{state_path}/{name}", always=name == "code")

    def _hyperparameters(self, hyperparameters: Any) -> None:
        if not isinstance(hyperparameters, dict):
            return
        raw = hyperparameters.get("sagemaker_submit_directory")
        if not isinstance(raw, str):
            return
        # Framework hyperparameters are JSON-encoded strings ("\"s3://...\""); keep the encoding on rewrite.
        encoded = raw.startswith('"')
        value = json.loads(raw) if encoded else raw
        program = hyperparameters.get("sagemaker_program")
        if isinstance(program, str) and program.startswith('"'):
            program = json.loads(program)
        uri = self._code(value, program if isinstance(program, str) else None)
        if uri is not None:
            hyperparameters["sagemaker_submit_directory"] = json.dumps(uri) if encoded else uri

    def _environment(self, environment: dict[str, Any]) -> None:
        program = environment.get("SAGEMAKER_PROGRAM")
        uri = self._code(environment.get("SAGEMAKER_SUBMIT_DIRECTORY"), program if isinstance(program, str) else None)
        if uri is not None:
            environment["SAGEMAKER_SUBMIT_DIRECTORY"] = uri

    def _code(self, value: Any, entry_point: str | None) -> str | None:
        """Plan the upload of one code location; return the new URI when the value must be rewritten."""
        if isinstance(value, str) and value in self.sources:
            source = Path(self.sources[value]).expanduser()
            self._add_code(source, entry_point, value)
            return None
        local = local_path_of(value)
        if local is None:
            return None
        if local.suffix == ".gz" and local.is_file():
            archive = local.read_bytes()
            uri = self._code_uri(archive)
            self.uploads.setdefault(uri, Upload("code", local, uri, entry_point, archive))
            return uri
        return self._add_code(local, entry_point, None)

    def _add_code(self, source: Path, entry_point: str | None, uri: str | None) -> str:
        if source.is_file():
            archive = build_sourcedir_archive(None, str(source))
            entry_point = entry_point or source.name
        else:
            archive = build_sourcedir_archive(source, entry_point or None)
        target = uri or self._code_uri(archive)
        self.uploads.setdefault(target, Upload("code", source, target, entry_point, archive))
        return target

    def _code_uri(self, archive: bytes) -> str:
        digest = hashlib.sha256(archive).hexdigest()[:20]
        return f"s3://{self.bucket}/{self.prefix}source/{digest}/sourcedir.tar.gz"

    def _channels(self, state_path: str, channels: Any) -> None:
        for channel in channels or []:
            source = _dig(channel, "DataSource", "S3DataSource")
            if isinstance(source, dict):
                self._data(source, "S3Uri", f"{state_path}/{channel.get('ChannelName', 'train')}")

    def _data(self, holder: dict[str, Any], key: str, location: str, *, always: bool = False) -> None:
        local = local_path_of(holder.get(key))
        if local is None or not (self.include_data or always):
            return
        if not local.exists():
            raise UploadError(f"local input {str(local)!r} of state {location.split('/')[0]!r} does not exist")
        slug = "/".join(_slug(part) for part in location.split("/"))
        uri = f"s3://{self.bucket}/{self.prefix}data/{slug}/"
        if local.is_file():
            uri += local.name
        self.uploads.setdefault(uri, Upload("data", local, uri))
        holder[key] = uri


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "state"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``("bucket", "key")``."""
    if not uri.startswith("s3://"):
        raise UploadError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket:
        raise UploadError(f"S3 URI without a bucket: {uri!r}")
    return bucket, key


def run_uploads(plan: UploadPlan | tuple[Upload, ...], s3_client: Any) -> list[str]:
    """Put every planned object on S3 with ``s3_client`` (boto3); returns the URIs written, in order."""
    uploads = plan.uploads if isinstance(plan, UploadPlan) else plan
    written: list[str] = []
    for upload in uploads:
        bucket, key = split_s3_uri(upload.uri)
        if upload.archive is not None:
            s3_client.put_object(Bucket=bucket, Key=key, Body=upload.archive)
            written.append(upload.uri)
        elif upload.source.is_dir():
            for path in _walk_files(upload.source):
                object_key = key + path.relative_to(upload.source).as_posix()
                s3_client.upload_file(str(path), bucket, object_key)
                written.append(f"s3://{bucket}/{object_key}")
        else:
            s3_client.upload_file(str(upload.source), bucket, key)
            written.append(upload.uri)
    return written


def ensure_bucket(s3_client: Any, bucket: str) -> None:
    """Create ``bucket`` in the client's region unless it exists (as the SDK's default bucket is created)."""
    from botocore.exceptions import ClientError

    try:
        s3_client.head_bucket(Bucket=bucket)
        return
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    region = s3_client.meta.region_name
    if region in (None, "us-east-1"):
        s3_client.create_bucket(Bucket=bucket)
    else:
        s3_client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def deploy_definition_code(
    definition: Mapping[str, Any] | str,
    *,
    s3_client: Any,
    bucket: str,
    prefix: str = "stepfn",
    sources: Mapping[str, Path | str] | None = None,
    include_data: bool = False,
    create_bucket: bool = True,
) -> dict[str, Any]:
    """Plan, upload, and return the definition that points at the uploaded code (and data)."""
    plan = plan_uploads(definition, bucket=bucket, prefix=prefix, sources=sources, include_data=include_data)
    if plan.uploads:
        buckets = {split_s3_uri(upload.uri)[0] for upload in plan.uploads}
        if create_bucket:
            for name in sorted(buckets):
                ensure_bucket(s3_client, name)
        run_uploads(plan, s3_client)
    return plan.definition


def default_code_bucket(region: str, *, sts_client: Any) -> str:
    """``sagemaker-<region>-<account>``, the SageMaker SDK's default bucket (one STS call)."""
    account = sts_client.get_caller_identity()["Account"]
    return f"sagemaker-{region}-{account}"


def prepare_definition_for_aws(
    definition: str,
    *,
    client: Any,
    bucket: str | None = None,
    prefix: str = "stepfn",
    sources: Mapping[str, Path | str] | None = None,
    include_data: bool = False,
    s3_client: Any = None,
) -> str:
    """The definition text ``Workflow.create``/``update`` should send to AWS ``client``.

    When the definition names no local code (and, with ``include_data``, no local data) it is
    returned unchanged and nothing touches the network; so it is when ``client`` talks to an endpoint
    on this machine (``stepfn serve``) and no ``s3_client`` is given, since that engine reads local
    paths in place. Otherwise the code is packed and uploaded to
    ``bucket`` (default ``$STEPFN_CODE_BUCKET``, else ``sagemaker-<region>-<account>``, created if
    missing) with an S3 client for the same region, and the rewritten definition is returned,
    indented as the input was (4 spaces or compact, as ``Graph.to_json`` writes it).
    """
    import os

    from stepfn.aws._clients import client_region, create_client

    if s3_client is None and client_on_this_machine(client):
        # stepfn serve (or another endpoint on this machine) runs local paths in place, as the local backend.
        return definition
    check_no_local_default_bucket(definition)
    probe = plan_uploads(definition, bucket="probe", prefix=prefix, sources=sources, include_data=include_data)
    if not probe.uploads:
        return definition
    region = client_region(client)
    bucket = bucket or os.environ.get("STEPFN_CODE_BUCKET") or default_code_bucket(
        region, sts_client=create_client("sts", region_name=region)
    )
    s3_client = s3_client or create_client("s3", region_name=region)
    rewritten = deploy_definition_code(
        definition, s3_client=s3_client, bucket=bucket, prefix=prefix, sources=sources, include_data=include_data
    )
    indent = 4 if definition.startswith("{\n") else None
    return json.dumps(rewritten, indent=indent)


# A local Session's default bucket (stepfn.sagemaker.session.local_default_bucket: named after the local account).
_LOCAL_DEFAULT_BUCKET = re.compile(rf"s3://(sagemaker-[a-z0-9-]+-{LOCAL_ACCOUNT})(?=[/\"])")


def check_no_local_default_bucket(definition: str) -> None:
    """Refuse a definition built with a local session's default bucket: on AWS that bucket is nobody's.

    A ``Session`` without ``boto_session`` names its default bucket after the local account so that building
    steps needs no AWS account; deploying such a definition would point SageMaker at a bucket that is not the
    user's, so the error says how to name a real one.
    """
    from stepfn.aws._clients import AwsConfigurationError

    found = _LOCAL_DEFAULT_BUCKET.search(definition)
    if found:
        raise AwsConfigurationError(
            f"the definition uses s3://{found[1]}, the default bucket of a local Session (local account "
            f"{LOCAL_ACCOUNT}); for AWS build the steps with sagemaker_session=Session(boto_session=boto3.Session()) "
            "(its default bucket comes from your account, as sagemaker v2's does), or "
            "Session(default_bucket='<your bucket>'), or give output_path / code_location"
        )


def client_on_this_machine(client: Any) -> bool:
    """Whether a boto3 client talks to an endpoint on this machine (``stepfn serve``), whose engine runs local
    paths in place and reads the local object store, rather than to AWS."""
    return _is_loopback(getattr(getattr(client, "meta", None), "endpoint_url", None))


def _is_loopback(endpoint_url: Any) -> bool:
    from urllib.parse import urlparse

    # Not a string: a test double's attribute (MagicMock), which talks to no endpoint at all.
    host = urlparse(endpoint_url).hostname if isinstance(endpoint_url, str) and endpoint_url else None
    return host in ("127.0.0.1", "localhost", "::1")
