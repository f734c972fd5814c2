"""``stepfn cp``: files in and out of the local object store, with the AWS CLI's ``aws s3 cp`` semantics.

What ``aws s3 cp`` does, kept here:

* one side at least is an ``s3://bucket/key`` URI; local to local is refused;
* a file copied to a key ending in ``/`` (or to a bare bucket) keeps its name under that prefix, otherwise the key
  is the object's whole name; an object copied to an existing folder, or a path ending in ``/``, keeps its name
  there, otherwise the path is the file's name (missing folders are created);
* ``--recursive`` copies a folder's files under a prefix (and a prefix's objects into a folder) by their relative
  paths; the source is taken as a folder (``s3://b/train`` means the objects under ``train/``); nothing found is
  not an error;
* each copy prints ``upload: SRC to DST`` (``download:``, ``copy:``).

Keys stay inside their root: an object whose key would land outside the destination folder is refused, and the
object store refuses keys that would leave its own root (``..``, absolute keys).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from stepfn.errors import StoreError
from stepfn.local.objectstore import S3_SCHEME, ObjectNotFoundError, ObjectStore, split_s3_uri

Report = Callable[[str], None]


def copy(source: str, destination: str, *, recursive: bool, store: ObjectStore, report: Report) -> int:
    """Copy as ``aws s3 cp SOURCE DESTINATION [--recursive]`` would; returns the number of files copied."""
    from_s3, to_s3 = source.startswith(S3_SCHEME), destination.startswith(S3_SCHEME)
    if not (from_s3 or to_s3):
        raise click.UsageError("one of SRC and DST must be an s3://bucket/key URI (local copies are cp's job)")
    try:
        pairs = list(_recursive_pairs(source, destination, store) if recursive
                     else [_single_pair(source, destination, store)])
        for origin, target in pairs:
            if from_s3 and to_s3:
                store.copy(origin, target)
                report(f"copy: {origin} to {target}")
            elif to_s3:
                store.upload(origin, target)
                report(f"upload: {origin} to {target}")
            else:
                _download(store, origin, Path(target))
                report(f"download: {origin} to {target}")
    except ObjectNotFoundError as error:
        raise click.ClickException(f"{error.uri} does not exist") from error
    except StoreError as error:  # a key the store refuses (.., absolute, a bad bucket name)
        raise click.ClickException(str(error)) from error
    return len(pairs)


def _single_pair(source: str, destination: str, store: ObjectStore) -> tuple[str, str]:
    if source.startswith(S3_SCHEME):
        _, key = split_s3_uri(source)
        if not key or key.endswith("/") or not store.exists(source):
            hint = " (a prefix: add --recursive)" if not key or key.endswith("/") or store.list(source) else ""
            raise click.ClickException(f"{source} is not an object{hint}")
        name = key.rsplit("/", 1)[-1]
    else:
        path = Path(source)
        if path.is_dir():
            raise click.ClickException(f"{source} is a folder: add --recursive to copy the files in it")
        if not path.is_file():
            raise click.ClickException(f"{source}: no such file")
        name = path.name
    if destination.startswith(S3_SCHEME):
        _, key = split_s3_uri(destination)
        return source, _as_folder(destination) + name if not key or key.endswith("/") else destination
    into_folder = destination.endswith(("/", os.sep)) or Path(destination).is_dir()
    return source, str(Path(destination) / name) if into_folder else destination


def _recursive_pairs(source: str, destination: str, store: ObjectStore) -> Iterator[tuple[str, str]]:
    for origin, relative in _files_under(source, store):
        if destination.startswith(S3_SCHEME):
            yield origin, _as_folder(destination) + relative
        else:
            yield origin, str(_inside(Path(destination), relative, origin))


def _files_under(source: str, store: ObjectStore) -> Iterator[tuple[str, str]]:
    """``(source of one file, its path relative to the folder or prefix)``, sorted."""
    if source.startswith(S3_SCHEME):
        prefix = _as_folder(source)
        for uri in store.list(prefix):
            if not uri.endswith("/"):  # a console-made "folder" marker, not a file
                yield uri, uri[len(prefix):]
        return
    root = Path(source)
    if not root.is_dir():
        raise click.ClickException(f"{source} is not a folder (--recursive copies the files of a folder)")
    for directory, folders, names in os.walk(root, followlinks=True):
        folders.sort()
        for name in sorted(names):
            file = Path(directory, name)
            yield str(file), file.relative_to(root).as_posix()


def _as_folder(uri: str) -> str:
    # As the AWS CLI does for --recursive: s3://b/train means the objects under train/, not train-2/.
    split_s3_uri(uri)  # a bucket name it refuses is an error before anything is copied
    return uri if uri.endswith("/") else uri + "/"


def _inside(folder: Path, relative: str, origin: str) -> Path:
    parts = relative.split("/")
    target = folder.joinpath(*parts)
    root = folder.resolve()
    if any(part in ("", ".", "..") for part in parts) or not target.resolve().is_relative_to(root):
        raise click.ClickException(f"{origin} would be written outside {folder}; not copied")
    return target


def _download(store: ObjectStore, uri: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with store.open(uri) as source:
        # Through a temporary file beside the target, so an interrupted copy leaves no half file.
        handle, scratch = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(handle, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            os.replace(scratch, target)
        except BaseException:
            Path(scratch).unlink(missing_ok=True)
            raise


__all__ = ["copy"]
