"""sagemaker v2's ``sagemaker.local``: ``LocalSession`` and ``file_input``, for notebooks written for Local Mode.

stepfn runs every job and endpoint of a local session on this machine already, so a ``LocalSession`` is a local
:class:`~stepfn.sagemaker.session.Session` that says so (``local_mode``) and keeps v2's ``config``
(``{"local": {"local_code": True}}``). A ``boto_session`` given to it names the region only: data stays in the
local object store (``STEPFN_S3_ENDPOINT_URL`` points that at an S3 endpoint), and nothing is sent to SageMaker.
"""

from __future__ import annotations

from typing import Any

from .session import Session

__all__ = ["LocalSession", "file_input"]


class LocalSession(Session):
    """sagemaker v2's ``LocalSession(boto_session=None, default_bucket=None, s3_endpoint_url=None,
    disable_local_code=False, ...)``."""

    local_mode = True

    def __init__(self, boto_session: Any = None, default_bucket: str | None = None, s3_endpoint_url: str | None = None,
                 disable_local_code: bool = False, sagemaker_config: Any = None,
                 default_bucket_prefix: str | None = None) -> None:
        if s3_endpoint_url is not None:
            raise NotImplementedError("LocalSession(s3_endpoint_url=...): set STEPFN_S3_ENDPOINT_URL for stepfn's "
                                      "object store instead.")
        if default_bucket_prefix is not None:
            raise NotImplementedError("LocalSession(default_bucket_prefix=...) is not supported.")
        region = getattr(boto_session, "region_name", None) if boto_session is not None else None
        super().__init__(region_name=region, default_bucket=default_bucket)
        # v2 reads local_code from here: code is used where it is unless disable_local_code.
        self.config: dict[str, Any] | None = None if disable_local_code else {"local": {"local_code": True}}


class file_input:  # v2 names this class in lower case
    """A channel of local files (``file://``), as v2's Local Mode reads them: ``config`` is the Channel without
    ``ChannelName``; ``fit()`` takes it as it takes a ``TrainingInput`` (and a ``file://`` string means it)."""

    def __init__(self, fileUri: str, content_type: str | None = None) -> None:  # fileUri: v2's name
        self.config: dict[str, Any] = {
            "DataSource": {"FileDataSource": {"FileDataDistributionType": "FullyReplicated", "FileUri": fileUri}}}
        if content_type is not None:
            self.config["ContentType"] = content_type
