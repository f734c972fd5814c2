"""``s3://`` for fsspec readers (pandas, pyarrow, dask) as the local object store, where s3fs is not installed.

A SageMaker notebook reads S3 with pandas (``pd.read_csv("s3://bucket/key")``), which goes through fsspec's
``s3`` protocol, implemented by s3fs. Locally, ``s3://`` names stepfn's object store everywhere else
(``$STEPFN_HOME/s3``: what ``upload_data`` writes and jobs read), so a local :class:`~stepfn.sagemaker.Session`
registers :class:`LocalS3FileSystem` for ``s3`` and ``s3a`` when s3fs is not installed and the store is local;
pandas then reads and writes the same files. Where s3fs is installed nothing is registered: it talks to AWS, or
to ``stepfn serve``'s S3 API when the settings the server prints are exported.
"""

from __future__ import annotations

import importlib.util
import os
from functools import cache
from typing import Any

from fsspec.implementations.dirfs import DirFileSystem
from fsspec.implementations.local import LocalFileSystem
from fsspec.registry import register_implementation, registry

from stepfn._home import stepfn_home

PROTOCOLS = ("s3", "s3a")


class LocalS3FileSystem(DirFileSystem):  # type: ignore[misc]  # fsspec is untyped
    """``s3://bucket/key`` as ``$STEPFN_HOME/s3/bucket/key`` (keys cannot leave that folder); s3fs's options
    (``anon``, ``key``, ``client_kwargs``, ...) have nothing to act on here and are ignored."""

    protocol = PROTOCOLS
    cachable = False  # the root follows $STEPFN_HOME when each instance is made, not the first one's

    def __init__(self, *args: Any, **storage_options: Any) -> None:
        root = stepfn_home() / "s3"
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(path=str(root.absolute()), fs=LocalFileSystem(auto_mkdir=True))

    def _join(self, path: Any) -> Any:
        # Older fsspec releases join ".." through to the parent folders; no key leaves the store in any.
        for item in [path] if isinstance(path, str) else path:
            if ".." in str(self._strip_protocol(item)).split("/"):
                raise ValueError(f"{item} escapes the object store ({self.path}): '..' is not a key segment here")
        return super()._join(path)


@cache
def register_local_s3() -> bool:
    """Register :class:`LocalS3FileSystem` for ``s3://`` and ``s3a://`` unless s3fs is installed, another
    implementation was registered, or the store goes to S3 (``STEPFN_S3_BACKEND`` / ``STEPFN_S3_ENDPOINT_URL``);
    True when it did. Once per process."""
    store_on_s3 = os.environ.get("STEPFN_S3_ENDPOINT_URL") or os.environ.get("STEPFN_S3_BACKEND", "").lower() == "s3"
    if store_on_s3 or importlib.util.find_spec("s3fs") is not None:
        return False
    for protocol in PROTOCOLS:
        if protocol in registry:
            return False
    for protocol in PROTOCOLS:
        register_implementation(protocol, LocalS3FileSystem)
    return True
