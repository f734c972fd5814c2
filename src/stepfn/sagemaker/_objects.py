"""Where the Session's data helpers read and write objects: the local object store, or S3 through boto3.

A :class:`~stepfn.sagemaker.Session` built with a ``boto_session`` (as a sagemaker v2 session is) talks to real S3
through it. Without one, ``s3://`` URIs name objects in stepfn's local object store (``$STEPFN_HOME/s3``), the
same store local workflows, training jobs and endpoints read, so a notebook's ``upload_data`` feeds a local run.
That store itself goes to S3 when ``STEPFN_S3_BACKEND=s3`` or ``STEPFN_S3_ENDPOINT_URL`` is set.

Both are imported on first use: building requests never loads boto3 or the store.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

__all__ = ["ObjectBackend", "expose_local_store", "inside", "object_backend", "session_objects",
           "upload_entry_point"]


class ObjectBackend(Protocol):
    """The few object operations sagemaker v2's Session helpers need."""

    def put_file(self, local_path: str, bucket: str, key: str, extra_args: dict[str, Any] | None) -> None: ...

    def put_bytes(self, data: bytes, bucket: str, key: str, extra_args: dict[str, Any] | None) -> None: ...

    def get_bytes(self, bucket: str, key: str) -> bytes: ...

    def iter_keys(self, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
        """``(key, size)`` of every object whose key starts with ``prefix``, in key order."""
        ...

    def get_file(self, bucket: str, key: str, local_path: str) -> None: ...


def expose_local_store() -> None:
    """pandas' (fsspec's) ``s3://`` reads and writes go to the local object store where s3fs is not installed."""
    from stepfn.local.fsspec_store import register_local_s3

    register_local_s3()


class _LocalObjects:
    """The local object store; KMS and other S3 request options have nothing to act on and are ignored."""

    def __init__(self) -> None:
        from stepfn.local.objectstore import ObjectStore

        self._store = ObjectStore()

    def put_file(self, local_path: str, bucket: str, key: str, extra_args: dict[str, Any] | None) -> None:
        self._store.upload(local_path, f"s3://{bucket}/{key}")

    def put_bytes(self, data: bytes, bucket: str, key: str, extra_args: dict[str, Any] | None) -> None:
        self._store.put_bytes(f"s3://{bucket}/{key}", data)

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return self._store.get_bytes(f"s3://{bucket}/{key}")

    def iter_keys(self, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
        start = len(f"s3://{bucket}/")
        for uri in self._store.list(f"s3://{bucket}/{prefix}"):
            yield uri[start:], self._store.size(uri)

    def get_file(self, bucket: str, key: str, local_path: str) -> None:
        Path(local_path).write_bytes(self._store.get_bytes(f"s3://{bucket}/{key}"))


class _BotoObjects:
    """Real S3 through the session's boto3 session."""

    def __init__(self, boto_session: Any, region: str | None) -> None:
        self._client = boto_session.client("s3", region_name=region)

    def put_file(self, local_path: str, bucket: str, key: str, extra_args: dict[str, Any] | None) -> None:
        self._client.upload_file(local_path, bucket, key, ExtraArgs=extra_args)

    def put_bytes(self, data: bytes, bucket: str, key: str, extra_args: dict[str, Any] | None) -> None:
        self._client.put_object(Bucket=bucket, Key=key, Body=data, **(extra_args or {}))

    def get_bytes(self, bucket: str, key: str) -> bytes:
        body: bytes = self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def iter_keys(self, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"], int(item["Size"])

    def get_file(self, bucket: str, key: str, local_path: str) -> None:
        self._client.download_file(bucket, key, local_path)


def object_backend(boto_session: Any, region: str | None) -> ObjectBackend:
    """Real S3 for a session built on boto3, else the local object store (see the module docstring)."""
    if boto_session is not None:
        return _BotoObjects(boto_session, region)
    return _LocalObjects()


def session_objects(session: Any) -> ObjectBackend:
    """The object backend of a SageMaker session (real S3 when it carries a ``boto_session``)."""
    from .session import aws_boto_session  # session.py builds on this module

    boto_session = aws_boto_session(session)
    return object_backend(boto_session, session.boto_region_name if boto_session is not None else None)


def upload_entry_point(session: Any, entry_point: str, s3_uri: str) -> None:
    """A lone entry point packed as ``sourcedir.tar.gz`` at ``s3_uri``, as sagemaker v2 uploads it."""
    from stepfn.aws._code import build_sourcedir_archive

    bucket, _, key = s3_uri[len("s3://"):].partition("/")
    session_objects(session).put_bytes(build_sourcedir_archive(None, entry_point), bucket, key, None)


def inside(path: str, directory: str) -> bool:
    """True when ``path`` stays inside ``directory``: an object key like ``../x`` must not write outside it."""
    root = os.path.realpath(directory)
    return os.path.realpath(path) == root or os.path.realpath(path).startswith(root + os.sep)
