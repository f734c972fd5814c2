"""Local S3 Task handlers over the object store: ``s3:getObject``, ``s3:putObject``, ``s3:listObjectsV2``
(plus ``s3:headObject`` and ``s3:deleteObject``).

Results have the shapes the AWS SDK integrations (``arn:aws:states:::aws-sdk:s3:<action>``) return: PascalCase
members, ``Body`` as a string, ``ETag`` quoted, timestamps as ISO-8601 strings, absent members left out.
Map's ItemReader reads ``Body`` / ``Contents`` from these results and ResultWriter writes through putObject.
Errors carry the names Step Functions gives SDK-integration exceptions (``S3.NoSuchKeyException``,
``S3.NoSuchBucketException``, ``S3.S3Exception``) so Retry/Catch match them as on AWS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stepfn.engine.protocol import TaskControl, TaskHandler, TaskRequest
from stepfn.errors import StatesError, StoreError
from stepfn.local.objectstore import ObjectNotFoundError, ObjectStore


def _fail(code: str, message: str, status: int) -> StatesError:
    return StatesError(
        f"S3.{code}",
        f"{message} (Service: S3, Status Code: {status}, Request ID: {uuid.uuid4().hex[:16].upper()})",
    )


def _no_such_key() -> StatesError:
    return _fail("NoSuchKeyException", "The specified key does not exist.", 404)


def _required(parameters: Any, *names: str) -> list[str]:
    if not isinstance(parameters, dict):
        raise _fail("S3Exception", "The request parameters must be a JSON object", 400)
    values = []
    for name in names:
        value = parameters.get(name)
        if not isinstance(value, str) or not value:
            raise StatesError(
                "States.Runtime",
                f"The field '{name}' is required by s3 and must be a non-empty string",
            )
        values.append(value)
    return values


def _etag(data: bytes) -> str:
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


def _timestamp(path: Path | None) -> str:
    moment = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC) if path else datetime.now(tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class S3Handlers:
    """The handlers bound to one object store."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def _uri(self, parameters: Any) -> str:
        bucket, key = _required(parameters, "Bucket", "Key")
        return f"s3://{bucket}/{key}"

    def _bucket_exists(self, bucket: str) -> bool:
        if self.store.remote:
            return True  # the service itself answers NoSuchBucket
        try:
            return self.store.local_path(f"s3://{bucket}").is_dir()
        except StoreError:
            return False

    def _modified(self, uri: str) -> str:
        return _timestamp(None if self.store.remote else self.store.local_path(uri))

    def _streamed_etag(self, uri: str) -> str:
        digest = hashlib.md5(usedforsecurity=False)
        with self.store.open(uri) as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        return f'"{digest.hexdigest()}"'

    def get_object(self, request: TaskRequest, control: TaskControl) -> dict[str, Any]:
        uri = self._uri(request.parameters)
        try:
            data = self.store.get_bytes(uri)
        except ObjectNotFoundError:
            raise _no_such_key() from None
        except StoreError as exc:
            raise _fail("S3Exception", str(exc), 400) from exc
        return {
            "AcceptRanges": "bytes",
            "Body": data.decode("utf-8", errors="replace"),
            "ContentLength": len(data),
            "ContentType": "binary/octet-stream",
            "ETag": _etag(data),
            "LastModified": self._modified(uri),
            "Metadata": {},
        }

    def head_object(self, request: TaskRequest, control: TaskControl) -> dict[str, Any]:
        result = self.get_object(request, control)
        del result["Body"]
        return result

    def put_object(self, request: TaskRequest, control: TaskControl) -> dict[str, Any]:
        uri = self._uri(request.parameters)
        body = request.parameters.get("Body", "")
        data = (body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))).encode()
        try:
            self.store.put_bytes(uri, data)
        except StoreError as exc:
            raise _fail("S3Exception", str(exc), 400) from exc
        return {"ETag": _etag(data), "ServerSideEncryption": "AES256"}

    def delete_object(self, request: TaskRequest, control: TaskControl) -> dict[str, Any]:
        uri = self._uri(request.parameters)
        try:
            self.store.delete(uri)
        except StoreError as exc:
            raise _fail("S3Exception", str(exc), 400) from exc
        return {}

    def list_objects_v2(self, request: TaskRequest, control: TaskControl) -> dict[str, Any]:
        (bucket,) = _required(request.parameters, "Bucket")
        parameters: dict[str, Any] = request.parameters
        prefix = str(parameters.get("Prefix") or "")
        delimiter = str(parameters.get("Delimiter") or "")
        max_keys = int(parameters.get("MaxKeys", 1000))
        token = parameters.get("ContinuationToken")
        start_after = str(parameters.get("StartAfter") or "")
        if token:
            try:
                start_after = base64.urlsafe_b64decode(str(token).encode()).decode()
            except (ValueError, UnicodeDecodeError):
                raise _fail("S3Exception", "The continuation token provided is incorrect", 400) from None
        if not self._bucket_exists(bucket):
            raise _fail("NoSuchBucketException", "The specified bucket does not exist", 404)
        try:
            objects = sorted(self.store.iter_objects(f"s3://{bucket}/{prefix}"))
        except StoreError as exc:
            raise _fail("S3Exception", str(exc), 400) from exc
        contents: list[dict[str, Any]] = []
        common: list[str] = []
        truncated = False
        last = ""
        for uri, size in objects:
            key = uri[len(f"s3://{bucket}/"):]
            if key <= start_after:
                continue
            rolled = None
            if delimiter and delimiter in key[len(prefix):]:
                rolled = key[: len(prefix) + key[len(prefix):].index(delimiter) + len(delimiter)]
                if common and common[-1] == rolled:
                    continue
            if len(contents) + len(common) >= max_keys:
                truncated = True
                break
            if rolled is not None:
                common.append(rolled)
                last = rolled + "\uffff"  # skip every key the common prefix rolled up
            else:
                contents.append({
                    "ETag": self._streamed_etag(uri),
                    "Key": key,
                    "LastModified": self._modified(uri),
                    "Size": size,
                    "StorageClass": "STANDARD",
                })
                last = key
        result: dict[str, Any] = {"IsTruncated": truncated}
        if contents:
            result["Contents"] = contents
        if common:
            result["CommonPrefixes"] = [{"Prefix": p} for p in common]
        if delimiter:
            result["Delimiter"] = delimiter
        result.update({"KeyCount": len(contents) + len(common), "MaxKeys": max_keys, "Name": bucket, "Prefix": prefix})
        if token:
            result["ContinuationToken"] = token
        if truncated:
            result["NextContinuationToken"] = base64.urlsafe_b64encode(last.encode()).decode()
        if parameters.get("StartAfter"):
            result["StartAfter"] = parameters["StartAfter"]
        return result


def handlers(home: Path | None = None, *, store: ObjectStore | None = None) -> dict[str, TaskHandler]:
    """``{"s3:getObject": ..., "s3:putObject": ..., "s3:listObjectsV2": ..., ...}`` over ``<home>/s3``.

    Registered as ``s3:<action>`` (the ItemReader/ResultWriter resources); a Task's
    ``arn:aws:states:::aws-sdk:s3:<action>`` (the only S3 form a Task state accepts on AWS) reaches the same
    handler, since the engine sends ``aws-sdk:<service>`` resources to the plain action's handler.
    """
    bound = S3Handlers(store or ObjectStore(Path(home) / "s3" if home is not None else None))
    actions: dict[str, TaskHandler] = {
        "getObject": bound.get_object,
        "headObject": bound.head_object,
        "putObject": bound.put_object,
        "deleteObject": bound.delete_object,
        "listObjectsV2": bound.list_objects_v2,
    }
    return {f"s3:{action}": handler for action, handler in actions.items()}


__all__ = ["S3Handlers", "handlers"]
