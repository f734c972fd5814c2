"""sagemaker v2 ``sagemaker.s3``: S3Uploader, S3Downloader and the S3 URI helpers.

Each call goes through a :class:`~stepfn.sagemaker.Session` (a new one when none is given), so objects land in
the local object store on the local backend and in S3 for a session built on boto3 (see ``Session.upload_data``).
"""

from __future__ import annotations

import io
from functools import reduce
from typing import Any
from urllib.parse import urlparse

from .session import Session

__all__ = ["S3Downloader", "S3Uploader", "is_s3_url", "parse_s3_url", "s3_path_join"]


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``; any other scheme is a ValueError, as in sagemaker v2."""
    parsed = urlparse(url)
    if parsed.scheme != "s3":
        raise ValueError(f"Expecting 's3' scheme, got: {parsed.scheme} in {url}.")
    return parsed.netloc, parsed.path.lstrip("/")


def is_s3_url(url: str) -> bool:
    return urlparse(url).scheme == "s3"


def s3_path_join(*args: str | None, with_end_slash: bool = False) -> str:
    """Join with ``/`` as sagemaker v2 does: empty parts dropped, repeated slashes collapsed (``s3://`` kept),
    leading slashes removed, a trailing one only with ``with_end_slash``."""
    merged = ""
    for index, part in enumerate(p for p in args if p):
        if index == 0 or merged.endswith("/") or part.startswith("/"):
            merged += part
        else:
            merged += "/" + part
    if with_end_slash and merged and not merged.endswith("/"):
        merged += "/"

    def collapse(text: str, char: str) -> str:
        return text if text.endswith("/") and char == "/" else text + char

    if merged:
        if merged.startswith("s3://"):
            merged = reduce(collapse, merged[5:], merged[:5])
        else:
            merged = reduce(collapse, merged[1:], merged[0])
    merged = merged.lstrip("/")
    if not with_end_slash and merged != "s3://":
        merged = merged.rstrip("/")
    return merged


def _kms_args(kms_key: str | None) -> dict[str, Any] | None:
    return {"SSEKMSKeyId": kms_key, "ServerSideEncryption": "aws:kms"} if kms_key is not None else None


class S3Uploader:
    """Upload local files, strings and bytes to S3 URIs."""

    @staticmethod
    def upload(local_path: str, desired_s3_uri: str, kms_key: str | None = None,
               sagemaker_session: Session | None = None, callback: Any = None) -> str:
        """A file goes to ``{desired_s3_uri}/{name}``, a directory's files under ``desired_s3_uri``."""
        session = sagemaker_session or Session()
        bucket, prefix = parse_s3_url(desired_s3_uri)
        return session.upload_data(local_path, bucket=bucket, key_prefix=prefix, callback=callback,
                                   extra_args=_kms_args(kms_key))

    @staticmethod
    def upload_string_as_file_body(body: str, desired_s3_uri: str, kms_key: str | None = None,
                                   sagemaker_session: Session | None = None) -> str:
        session = sagemaker_session or Session()
        bucket, key = parse_s3_url(desired_s3_uri)
        session.upload_string_as_file_body(body, bucket=bucket, key=key, kms_key=kms_key)
        return desired_s3_uri

    @staticmethod
    def upload_bytes(b: bytes | io.BytesIO, s3_uri: str, kms_key: str | None = None,
                     sagemaker_session: Session | None = None) -> str:
        session = sagemaker_session or Session()
        bucket, key = parse_s3_url(s3_uri)
        data = b.getvalue() if isinstance(b, io.BytesIO) else b
        session.upload_string_as_file_body(data, bucket=bucket, key=key, kms_key=kms_key)
        return s3_uri


class S3Downloader:
    """Download, read and list objects under S3 URIs."""

    @staticmethod
    def download(s3_uri: str, local_path: str, kms_key: str | None = None,
                 sagemaker_session: Session | None = None) -> list[str]:
        session = sagemaker_session or Session()
        bucket, prefix = parse_s3_url(s3_uri)
        extra = {"SSECustomerKey": kms_key} if kms_key is not None else None
        return session.download_data(local_path, bucket=bucket, key_prefix=prefix, extra_args=extra)

    @staticmethod
    def read_file(s3_uri: str, sagemaker_session: Session | None = None) -> str:
        session = sagemaker_session or Session()
        bucket, key = parse_s3_url(s3_uri)
        return session.read_s3_file(bucket, key)

    @staticmethod
    def read_bytes(s3_uri: str, sagemaker_session: Session | None = None) -> bytes:
        session = sagemaker_session or Session()
        bucket, key = parse_s3_url(s3_uri)
        return session._objects().get_bytes(bucket, key)

    @staticmethod
    def list(s3_uri: str, sagemaker_session: Session | None = None) -> list[str]:
        """The ``s3://`` URIs of the objects under ``s3_uri``."""
        session = sagemaker_session or Session()
        bucket, prefix = parse_s3_url(s3_uri)
        return [s3_path_join("s3://", bucket, key) for key in session.list_s3_files(bucket, prefix)]
