"""The object store behind ``s3://`` URIs when workflows run locally.

``s3://bucket/key`` maps to ``<root>/bucket/key`` (root defaults to ``$STEPFN_HOME/s3``), through fsspec's
local filesystem. When the user points stepfn at a real S3 (or an S3-compatible server) the same calls go to
that filesystem instead:

* ``STEPFN_S3_ENDPOINT_URL=http://127.0.0.1:9000`` uses ``s3fs`` against that endpoint;
* ``STEPFN_S3_BACKEND=s3`` uses ``s3fs`` against AWS with the ambient credentials;
* ``ObjectStore(filesystem=...)`` takes any fsspec filesystem (tests use ``memory``).

``file://`` URIs and plain paths are always local files, and any other fsspec URL (``gs://``, ``memory://``)
goes to its fsspec filesystem. SageMaker also takes S3's own HTTPS URLs
(``https://s3-us-east-1.amazonaws.com/bucket/key``, ``https://bucket.s3.amazonaws.com/key``); they name the
same objects as ``s3://bucket/key`` (:func:`as_s3_uri`).

A key never escapes the local root: ``..`` and ``.`` segments, empty segments, absolute keys and symlinks that
resolve outside the root are refused with :class:`StoreError`, because job names and S3 URIs come from
workflow inputs that anyone starting an execution controls.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from stepfn._home import stepfn_home
from stepfn.errors import StoreError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

S3_SCHEME = "s3://"
# Path-style (s3[.-]<region>.amazonaws.com/<bucket>/<key>) and virtual-hosted (<bucket>.s3[.-]<region>...) URLs.
_S3_HTTPS = re.compile(
    r"^https://(?:(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.)?s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?(?:/(?P<rest>.*))?$"
)
_TMP_DIR = ".stepfn-tmp"  # S3 bucket names cannot start with ".", so this never collides with a bucket

RACY_SECONDS = 2.0
"""How long after its last write a file's (inode, size, mtime) cannot yet stand for its bytes. File times come
from a clock that ticks (every 4 ms on Debian 12's kernel, a second or two on some filesystems): a file written
again in place in the tick of a write already seen keeps its stamp with other bytes (git's "racily clean")."""


def settled(mtime_ns: int) -> bool:
    """Whether a file of this ``st_mtime_ns`` was last written more than :data:`RACY_SECONDS` ago, so that what is
    remembered of its bytes under its (inode, size, mtime) stays true until that stamp changes."""
    return time.time_ns() - mtime_ns >= RACY_SECONDS * 1e9


class ObjectNotFoundError(StoreError):
    """The URI names no object (S3's ``NoSuchKey``)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        super().__init__(f"no object at {uri}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.uri,))




def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> ``("bucket", "a/b")``; the key may be empty (a whole bucket)."""
    if not uri.startswith(S3_SCHEME):
        raise StoreError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len(S3_SCHEME):].partition("/")
    if not bucket or bucket in (".", "..") or any(c in bucket for c in "\\\0") or bucket.startswith("."):
        raise StoreError(f"invalid bucket name in {uri!r}")
    return bucket, key


def as_s3_uri(uri: str) -> str:
    """``s3://bucket/key`` for an S3 HTTPS URL (path-style or virtual-hosted), else ``uri`` unchanged."""
    match = _S3_HTTPS.match(uri) if uri.startswith("https://") else None
    if match is None:
        return uri
    rest = match["rest"] or ""
    if match["bucket"]:
        return f"{S3_SCHEME}{match['bucket']}/{rest}"
    return f"{S3_SCHEME}{rest}" if rest.strip("/") else uri


def _check_key(uri: str, key: str, *, prefix: bool) -> list[str]:
    if "\0" in key:
        raise StoreError(f"key contains a NUL byte: {uri!r}")
    if key.startswith("/"):
        raise StoreError(f"absolute key refused (it would escape the store root): {uri!r}")
    parts = key.split("/")
    if prefix and parts and parts[-1] == "":
        parts = parts[:-1]
    for part in parts:
        if part in ("", ".", ".."):
            raise StoreError(f"key segment {part!r} refused (it could escape the store root): {uri!r}")
    return parts


def _is_remote_url(uri: str) -> bool:
    return "://" in uri and not uri.startswith(("file://", S3_SCHEME))


def _file_uri_path(uri: str) -> Path:
    return Path(uri[len("file://"):]) if uri.startswith("file://") else Path(uri)


class ObjectStore:
    """Object storage for the local backend (docs/design/sagemaker-contract.md §5): ``s3://`` URIs, ``file://`` URIs and plain paths."""

    def __init__(
        self,
        root: Path | str | None = None,
        *,
        filesystem: AbstractFileSystem | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.root = Path(root if root is not None else stepfn_home() / "s3").absolute()
        self.filesystem = filesystem if filesystem is not None else _configured_s3(endpoint_url)

    @property
    def remote(self) -> bool:
        """True when ``s3://`` URIs go to a real (or S3-compatible) service rather than the local root."""
        return self.filesystem is not None

    # -- locating -------------------------------------------------------------------------------------------

    def local_path(self, uri: str) -> Path:
        """Where ``uri`` lives on this machine; refuses keys that escape the root and remote stores."""
        uri = as_s3_uri(uri)
        if uri.startswith(S3_SCHEME):
            if self.remote:
                raise StoreError(f"{uri} lives in a remote S3 store; download it instead of asking for its path")
            bucket, key = split_s3_uri(uri)
            parts = _check_key(uri, key, prefix=True)
            return self._contained(self.root.joinpath(bucket, *parts), uri)
        if _is_remote_url(uri):
            raise StoreError(f"{uri} is not a local file; download it instead of asking for its path")
        return _file_uri_path(uri).absolute()

    def _contained(self, path: Path, uri: str) -> Path:
        root = self.root.resolve()
        resolved = path.resolve()
        if resolved != root and not resolved.is_relative_to(root):
            raise StoreError(f"{uri} resolves outside the object store root {root} (through a symlink?)")
        return resolved

    def _remote(self, uri: str) -> tuple[AbstractFileSystem, str] | None:
        """The fsspec filesystem and path for URIs that are not plain local files."""
        if uri.startswith(S3_SCHEME) and self.filesystem is not None:
            bucket, key = split_s3_uri(uri)
            _check_key(uri, key, prefix=True)
            return self.filesystem, f"{bucket}/{key}".rstrip("/")
        if _is_remote_url(uri):
            from fsspec.core import url_to_fs

            fs, path = url_to_fs(uri)
            return fs, path
        return None

    # -- objects ----------------------------------------------------------------------------------------------

    def put_bytes(self, uri: str, data: bytes) -> None:
        uri = as_s3_uri(uri)
        remote = self._remote(uri)
        if remote:
            fs, remote_path = remote
            fs.pipe_file(remote_path, data)
            return
        target = self._object_path(uri)
        self._atomic_write(target, lambda handle: handle.write(data))

    def get_bytes(self, uri: str) -> bytes:
        uri = as_s3_uri(uri)
        remote = self._remote(uri)
        try:
            if remote:
                fs, remote_path = remote
                return bytes(fs.cat_file(remote_path))
            path = self.local_path(uri)
            if not path.is_file():
                raise ObjectNotFoundError(uri)
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise ObjectNotFoundError(uri) from exc

    def open(self, uri: str) -> BinaryIO:
        """A binary file object reading the object (stream large objects instead of :meth:`get_bytes`)."""
        uri = as_s3_uri(uri)
        remote = self._remote(uri)
        try:
            if remote:
                fs, remote_path = remote
                handle: BinaryIO = fs.open(remote_path, "rb")
                return handle
            path = self.local_path(uri)
            if not path.is_file():
                raise ObjectNotFoundError(uri)
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise ObjectNotFoundError(uri) from exc

    def exists(self, uri: str) -> bool:
        uri = as_s3_uri(uri)
        remote = self._remote(uri)
        if remote:
            fs, remote_path = remote
            return bool(fs.isfile(remote_path))
        return self.local_path(uri).is_file()

    def delete(self, uri: str) -> None:
        """Remove one object; a missing object is not an error (as S3's DeleteObject)."""
        uri = as_s3_uri(uri)
        remote = self._remote(uri)
        if remote:
            fs, remote_path = remote
            if fs.isfile(remote_path):
                fs.rm_file(remote_path)
            return
        path = self.local_path(uri)
        if path.is_file():
            path.unlink()
            if uri.startswith(S3_SCHEME):
                self._prune_empty_dirs(path.parent)

    def list(self, prefix_uri: str) -> list[str]:
        """Every object whose URI starts with ``prefix_uri`` (a string prefix, as S3's ListObjectsV2), sorted."""
        return sorted(uri for uri, _ in self._iter_prefix(as_s3_uri(prefix_uri)))

    def iter_objects(self, prefix_uri: str) -> Iterator[tuple[str, int]]:
        """``(uri, size)`` for every object under the prefix, in no particular order."""
        return self._iter_prefix(as_s3_uri(prefix_uri))

    def size(self, uri: str) -> int:
        uri = as_s3_uri(uri)
        remote = self._remote(uri)
        if remote:
            fs, remote_path = remote
            return int(fs.size(remote_path))
        path = self.local_path(uri)
        if not path.is_file():
            raise ObjectNotFoundError(uri)
        return int(path.stat().st_size)

    # -- files and directories --------------------------------------------------------------------------------

    def upload(self, local_path: Path | str, uri: str) -> str:
        """Copy a file to ``uri`` (or ``uri/<name>`` when it ends in ``/``), or a directory's files under the
        prefix ``uri``, keeping their relative paths; returns the URI written."""
        uri = as_s3_uri(uri)
        source = Path(local_path)
        if source.is_dir():
            base = uri.rstrip("/")
            for file in sorted(p for p in source.rglob("*") if p.is_file()):
                self._put_file(file, f"{base}/{file.relative_to(source).as_posix()}")
            return base
        if not source.is_file():
            raise StoreError(f"cannot upload {source}: no such file or directory")
        target = f"{uri}{source.name}" if uri.endswith("/") else uri
        self._put_file(source, target)
        return target

    def upload_code(self, source: Path | str, uri: str) -> str:
        """Pack a source directory (or one script) as ``sourcedir.tar.gz``, files at the archive root as the
        SageMaker SDK packs them, and store it at ``uri`` (``uri/sourcedir.tar.gz`` when ``uri`` ends in ``/``).
        Returns the URI, the value for the ``sagemaker_submit_directory`` hyperparameter."""
        uri = as_s3_uri(uri)
        root = Path(source)
        if not root.exists():
            raise StoreError(f"cannot upload code from {root}: no such file or directory")
        files = [root] if root.is_file() else sorted(
            p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.relative_to(root).parts)
        target = f"{uri}sourcedir.tar.gz" if uri.endswith("/") else uri
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for file in files:
                info = tar.gettarinfo(file, arcname=file.name if file == root else file.relative_to(root).as_posix())
                # Where the member came from, so a job's traceback maps back to the user's file (failure card).
                info.pax_headers = {"STEPFN.source": str(file.resolve())}
                with file.open("rb") as content:
                    tar.addfile(info, content)
        self.put_bytes(target, buffer.getvalue())
        return target

    def download(self, uri_or_prefix: str, local_dir: Path | str, *, link: bool = False) -> Path:
        """Fetch one object (returns its new path) or every object under a prefix (returns ``local_dir``).

        As the SageMaker SDK does, a URI that names an object is fetched as ``local_dir/<basename>``; otherwise
        each object under the prefix lands at its key relative to the prefix. ``link=True`` symlinks objects of
        the local store instead of copying them (FastFile mode reads them in place)."""
        uri_or_prefix = as_s3_uri(uri_or_prefix)
        destination = Path(local_dir)
        destination.mkdir(parents=True, exist_ok=True)
        if not uri_or_prefix.endswith("/") and self.exists(uri_or_prefix):
            name = uri_or_prefix.rstrip("/").rsplit("/", 1)[-1]
            target = destination / name
            self._get_file(uri_or_prefix, target, link=link)
            return target
        found = False
        for uri, _ in self._iter_prefix(uri_or_prefix):
            relative = uri[len(uri_or_prefix):].lstrip("/")
            target = destination.joinpath(*_check_key(uri, relative, prefix=False))
            self._get_file(uri, target, link=link)
            found = True
        if not found and not uri_or_prefix.endswith("/") and not self._is_dir(uri_or_prefix):
            raise ObjectNotFoundError(uri_or_prefix)
        return destination

    def copy(self, source_uri: str, target_uri: str) -> None:
        self.put_bytes(target_uri, self.get_bytes(source_uri))

    # -- internals --------------------------------------------------------------------------------------------

    def _object_path(self, uri: str) -> Path:
        if uri.startswith(S3_SCHEME):
            _, key = split_s3_uri(uri)
            if not key or key.endswith("/"):
                raise StoreError(f"{uri} names no object key")
        return self.local_path(uri)

    def _put_file(self, source: Path, uri: str) -> None:
        remote = self._remote(uri)
        if remote:
            fs, remote_path = remote
            fs.put_file(str(source), remote_path)
            return
        target = self._object_path(uri)
        with source.open("rb") as src:
            self._atomic_write(target, lambda handle: shutil.copyfileobj(src, handle, 1 << 20))

    def _get_file(self, uri: str, target: Path, *, link: bool) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        remote = self._remote(uri)
        if remote:
            fs, remote_path = remote
            fs.get_file(remote_path, str(target))
            return
        source = self.local_path(uri)
        if not source.is_file():
            raise ObjectNotFoundError(uri)
        if target.exists() or target.is_symlink():
            target.unlink()
        if link:
            target.symlink_to(source)
        else:
            shutil.copyfile(source, target)

    def _is_dir(self, uri: str) -> bool:
        remote = self._remote(uri)
        if remote:
            fs, remote_path = remote
            return bool(fs.isdir(remote_path))
        return self.local_path(uri).is_dir()

    def _atomic_write(self, target: Path, write: Any) -> None:
        """Write through a temporary file and rename, so readers never see half an object."""
        root = self.root.resolve()
        scratch = root / _TMP_DIR if target.is_relative_to(root) else target.parent
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            scratch.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # e.g. key "a/b" while an object "a" exists: S3 allows it, a filesystem cannot
            raise StoreError(f"cannot store {target}: {exc}") from exc
        fd, tmp_name = tempfile.mkstemp(dir=scratch, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def _prune_empty_dirs(self, directory: Path) -> None:
        root = self.root.resolve()
        while directory != root and directory.parent != root and directory.is_relative_to(root):
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def _iter_prefix(self, prefix_uri: str) -> Iterator[tuple[str, int]]:
        remote = self._remote(prefix_uri)
        if remote:
            yield from _iter_remote(prefix_uri, *remote)
            return
        if prefix_uri.startswith(S3_SCHEME):
            yield from self._iter_local_s3(prefix_uri)
            return
        base = self.local_path(prefix_uri)
        if base.is_file():
            yield prefix_uri, base.stat().st_size
            return
        start = base if base.is_dir() else base.parent
        text = str(base)
        for path in _walk_files(start):
            if str(path).startswith(text):
                # Spelled like the prefix (relative, file://...), so callers can strip the prefix off.
                rest = str(path)[len(text):]
                yield prefix_uri + (rest[1:] if prefix_uri.endswith("/") else rest), path.stat().st_size

    def _iter_local_s3(self, prefix_uri: str) -> Iterator[tuple[str, int]]:
        bucket, key = split_s3_uri(prefix_uri)
        directory_part = key.rsplit("/", 1)[0] if "/" in key else ""
        start = self.local_path(f"{S3_SCHEME}{bucket}/{directory_part}")
        if not start.is_dir():
            return
        bucket_root = self.local_path(f"{S3_SCHEME}{bucket}")
        root = self.root.resolve()
        for path in _walk_files(start):
            relative = path.relative_to(bucket_root).as_posix()
            if relative.startswith(key) and path.resolve().is_relative_to(root):
                yield f"{S3_SCHEME}{bucket}/{relative}", path.stat().st_size


def _walk_files(start: Path) -> Iterator[Path]:
    for directory, dirnames, filenames in os.walk(start, followlinks=False):
        dirnames[:] = [d for d in dirnames if d != _TMP_DIR]
        for name in filenames:
            yield Path(directory, name)


def _iter_remote(prefix_uri: str, fs: AbstractFileSystem, path: str) -> Iterator[tuple[str, int]]:
    scheme = prefix_uri.split("://", 1)[0] + "://"
    directory = path.rsplit("/", 1)[0] if "/" in path else path
    try:
        found = fs.find(directory, detail=True)
    except FileNotFoundError:
        return
    prefix = path if not prefix_uri.endswith("/") else path + "/"
    for name, info in found.items():
        stripped = name.lstrip("/")
        if stripped.startswith(prefix.lstrip("/")) and info.get("type") == "file":
            yield f"{scheme}{stripped}", int(info.get("size") or 0)


def _configured_s3(endpoint_url: str | None) -> AbstractFileSystem | None:
    endpoint = endpoint_url or os.environ.get("STEPFN_S3_ENDPOINT_URL")
    if not endpoint and os.environ.get("STEPFN_S3_BACKEND", "local").lower() != "s3":
        return None
    try:
        # s3fs by name, not fsspec's "s3" protocol: a local Session may have mapped that protocol to this very
        # store (stepfn.local.fsspec_store) in a process that has no s3fs.
        import s3fs

        options: dict[str, Any] = {"client_kwargs": {"endpoint_url": endpoint}} if endpoint else {}
        filesystem: AbstractFileSystem = s3fs.S3FileSystem(**options)
        return filesystem
    except ImportError as exc:
        raise StoreError(
            "STEPFN_S3_ENDPOINT_URL / STEPFN_S3_BACKEND=s3 need s3fs, which stepfn installs with its 's3' extra: "
            "pip install 'stepfn[s3]'"
        ) from exc


__all__ = ["RACY_SECONDS", "S3_SCHEME", "ObjectNotFoundError", "ObjectStore", "as_s3_uri", "settled", "split_s3_uri",
           "stepfn_home"]
