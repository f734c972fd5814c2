"""A training job's relocated ``/opt/ml`` tree (docs/design/sagemaker-contract.md §1.2) and the data moving in and out of it.

``<home>/sagemaker/jobs/training-job/<name>/opt/ml`` gets ``input/config/{hyperparameters,inputdataconfig,
resourceconfig,checkpointconfig}.json``, ``input/data/<channel>/`` (File mode: copies; FastFile mode: symlinks
into the local object store; Pipe mode: FIFOs ``<channel>_<epoch>`` fed by a thread per channel), ``code/``,
``model/``, ``output/{data,failure,intermediate}`` and ``checkpoints/``. Afterwards ``model/`` and
``output/data`` are packed as ``model.tar.gz`` / ``output.tar.gz`` with their files at the archive root.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import gzip
import json
import os
import shutil
import struct
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepfn.errors import StoreError
from stepfn.local.objectstore import ObjectStore, as_s3_uri, settled

OPT_ML = "/opt/ml"
RECORDIO_MAGIC = 0xCED7230A


class ChannelError(ValueError):
    """A channel cannot be staged (bad data source, missing data)."""


@dataclass(frozen=True)
class JobDir:
    root: Path

    @property
    def base(self) -> Path:
        return self.root / "opt" / "ml"

    @property
    def config(self) -> Path:
        return self.base / "input" / "config"

    @property
    def data(self) -> Path:
        return self.base / "input" / "data"

    @property
    def code(self) -> Path:
        return self.base / "code"

    @property
    def model(self) -> Path:
        return self.base / "model"

    @property
    def output(self) -> Path:
        return self.base / "output"

    @property
    def output_data(self) -> Path:
        return self.output / "data"

    @property
    def failure(self) -> Path:
        return self.output / "failure"

    def create(self) -> None:
        """A fresh tree (a re-run after a crash starts from nothing, as a new container would)."""
        if self.root.exists():
            shutil.rmtree(self.root)
        for directory in (self.config, self.data, self.model, self.output_data, self.output / "intermediate"):
            directory.mkdir(parents=True, exist_ok=True)

    def relocate(self, path: str) -> Path:
        """A container path (``/opt/ml/checkpoints``, ``/data``) -> its place inside this job's root."""
        if path == OPT_ML or path.startswith(OPT_ML + "/"):
            return self.base / path[len(OPT_ML):].lstrip("/")
        parts = [p for p in path.split("/") if p not in ("", ".", "..")]
        return self.root.joinpath(*parts) if parts else self.root

    def write_json(self, name: str, data: Any) -> Path:
        path = self.config / name
        path.write_text(json.dumps(data))
        return path


CONTAINER_VIEW = JobDir(Path("/"))
"""A job's tree as its process sees it inside its own namespace (or a container): ``/opt/ml/...``."""


# -- configuration files -------------------------------------------------------------------------------------


def build_input_data_config(channels: list[dict[str, Any]], training_input_mode: str) -> dict[str, dict[str, str]]:
    """``inputdataconfig.json`` as the platform writes it: one entry per channel."""
    config: dict[str, dict[str, str]] = {}
    for channel in channels:
        entry: dict[str, str] = {}
        if channel.get("ContentType"):
            entry["ContentType"] = channel["ContentType"]
        s3 = (channel.get("DataSource") or {}).get("S3DataSource") or {}
        entry["TrainingInputMode"] = channel.get("InputMode") or training_input_mode
        entry["S3DistributionType"] = s3.get("S3DataDistributionType", "FullyReplicated")
        entry["RecordWrapperType"] = channel.get("RecordWrapperType", "None")
        config[channel["ChannelName"]] = entry
    return config


def host_names(count: int) -> list[str]:
    """``algo-1`` ... ``algo-<count>``, as SageMaker names a job's instances."""
    return [f"algo-{i + 1}" for i in range(max(1, count))]


def build_resource_config(resources: dict[str, Any], hosts: list[str] | None = None,
                          current_host: str = "algo-1") -> dict[str, Any]:
    """``resourceconfig.json`` for ``current_host`` among ``hosts`` (one homogeneous group; ``algo-1`` alone
    by default)."""
    instance_type = resources.get("InstanceType") or "local"
    hosts = hosts or ["algo-1"]
    return {
        "current_host": current_host,
        "hosts": hosts,
        "network_interface_name": "eth0",
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": hosts}
        ],
    }


def shard(objects: list[tuple[str, str]], channel: dict[str, Any], host_index: int, hosts: int) -> list[tuple[str, str]]:
    """The objects one host gets: all of them (FullyReplicated), or every ``hosts``-th in key order starting at
    its index (ShardedByS3Key: each instance gets 1/n of the objects)."""
    s3 = (channel.get("DataSource") or {}).get("S3DataSource") or {}
    if hosts <= 1 or s3.get("S3DataDistributionType") != "ShardedByS3Key":
        return objects
    return objects[host_index::hosts]


# -- channels --------------------------------------------------------------------------------------------------


def _manifest_objects(store: ObjectStore, manifest_uri: str) -> list[tuple[str, str]]:
    """``[(uri, relative path)]`` from a ManifestFile: ``[{"prefix": "s3://b/p/"}, "rel1", "rel2", ...]``."""
    try:
        entries = json.loads(store.get_bytes(manifest_uri))
    except (StoreError, ValueError) as exc:
        raise ChannelError(f"cannot read manifest {manifest_uri}: {exc}") from exc
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict) or "prefix" not in entries[0]:
        raise ChannelError(f"manifest {manifest_uri} must be a JSON list starting with {{\"prefix\": ...}}")
    prefix = str(entries[0]["prefix"])
    if not prefix.endswith("/"):
        prefix += "/"
    return [(prefix + str(relative), str(relative)) for relative in entries[1:]]


def channel_objects(store: ObjectStore, channel: dict[str, Any]) -> list[tuple[str, str]]:
    """``[(uri, path relative to the channel directory)]`` for one channel, in key order."""
    source = channel.get("DataSource") or {}
    name = channel.get("ChannelName")
    if "S3DataSource" in source:
        s3 = source["S3DataSource"]
        uri, data_type = as_s3_uri(s3.get("S3Uri", "")), s3.get("S3DataType", "S3Prefix")
    elif "FileDataSource" in source:  # the v2 SDK's local-mode file:// channels
        uri, data_type = source["FileDataSource"].get("FileUri", ""), "S3Prefix"
    else:
        kinds = ", ".join(source) or "none"
        raise ChannelError(f"channel {name!r}: data source {kinds} is not available locally (use S3DataSource)")
    if data_type == "ManifestFile":
        return _manifest_objects(store, uri)
    if data_type != "S3Prefix":
        raise ChannelError(f"channel {name!r}: S3DataType {data_type} is not supported locally")
    try:
        if not uri.endswith("/") and store.exists(uri):
            return [(uri, uri.rsplit("/", 1)[-1])]
        objects = [(found, found[len(uri):].lstrip("/")) for found in store.list(uri)]
    except StoreError as exc:
        raise ChannelError(f"channel {name!r}: {exc}") from exc
    if not objects:
        where = "" if store.remote or not uri.startswith("s3://") else (
            f" (in the local object store under {store.root}: put data there with "
            "ObjectStore().upload(path, uri), or point stepfn at S3 with STEPFN_S3_ENDPOINT_URL / STEPFN_S3_BACKEND=s3)")
        raise ChannelError(f"channel {name!r}: no data found at {uri}{where}")
    return objects


def stage_file_channel(store: ObjectStore, channel: dict[str, Any], target: Path, *, link: bool,
                       host_index: int = 0, hosts: int = 1) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for uri, relative in shard(channel_objects(store, channel), channel, host_index, hosts):
        parts = [p for p in relative.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise ChannelError(f"object {uri} would land outside channel {channel.get('ChannelName')!r}")
        try:
            store.download(uri, target.joinpath(*parts[:-1]), link=link and not store.remote)
        except StoreError as exc:
            raise ChannelError(f"channel {channel.get('ChannelName')!r}: {exc}") from exc


@dataclass
class PipeFeeder:
    """Feeds one Pipe-mode channel: FIFO ``<channel>_0`` gets every object once; when the reader reaches EOF,
    ``<channel>_1`` appears for the next epoch, and so on until the job stops."""

    store: ObjectStore
    channel: dict[str, Any]
    directory: Path
    stop: threading.Event
    host_index: int = 0
    hosts: int = 1
    thread: threading.Thread | None = None
    error: str | None = None
    epochs: int = 0
    objects: list[tuple[str, str]] = field(default_factory=list)

    def start(self) -> None:
        self.objects = shard(channel_objects(self.store, self.channel), self.channel, self.host_index, self.hosts)
        self._make_fifo(0)
        self.thread = threading.Thread(target=self._run, name=f"pipe-{self.channel['ChannelName']}", daemon=True)
        self.thread.start()

    def _fifo(self, epoch: int) -> Path:
        return self.directory / f"{self.channel['ChannelName']}_{epoch}"

    def _make_fifo(self, epoch: int) -> None:
        path = self._fifo(epoch)
        path.unlink(missing_ok=True)
        os.mkfifo(path)

    def _open_writer(self, path: Path) -> int | None:
        while not self.stop.is_set():
            try:
                return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
            time.sleep(0.02)
        return None

    def _chunks(self) -> Iterator[bytes]:
        """The channel's bytes, object after object, streamed (objects can be larger than memory)."""
        gzipped = self.channel.get("CompressionType") == "Gzip"
        wrapped = self.channel.get("RecordWrapperType") == "RecordIO"
        for uri, _ in self.objects:
            with self.store.open(uri) as raw:
                stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
                if wrapped:  # each object becomes one RecordIO record: magic, length, payload, padding to 4 bytes
                    data = stream.read()
                    yield struct.pack("<II", RECORDIO_MAGIC, len(data)) + data + b"\0" * (-len(data) % 4)
                    continue
                while chunk := stream.read(1 << 20):
                    yield chunk

    def _run(self) -> None:
        epoch = 0
        try:
            while not self.stop.is_set():
                fd = self._open_writer(self._fifo(epoch))
                if fd is None:
                    return
                os.set_blocking(fd, True)
                try:
                    for chunk in self._chunks():
                        view = memoryview(chunk)
                        while view and not self.stop.is_set():
                            written = os.write(fd, view[: 1 << 16])
                            view = view[written:]
                except BrokenPipeError:
                    pass  # the algorithm closed the pipe early: that epoch is over
                finally:
                    # The next epoch's FIFO exists before this one reports EOF, so a reader moving on finds it.
                    epoch += 1
                    self._make_fifo(epoch)
                    os.close(fd)
                self.epochs = epoch
        except (OSError, StoreError) as exc:
            self.error = f"Pipe mode channel {self.channel['ChannelName']!r}: {exc}"


def stage_channels(
    store: ObjectStore, channels: list[dict[str, Any]], training_input_mode: str, job: JobDir, stop: threading.Event,
    *, links: bool = True, host_index: int = 0, hosts: int = 1,
) -> list[PipeFeeder]:
    """Put every channel in place; returns the Pipe-mode feeders (already running). ``links=False`` copies
    FastFile channels too (a container cannot follow symlinks into the host's object store)."""
    feeders = []
    for channel in channels:
        mode = channel.get("InputMode") or training_input_mode
        if mode == "Pipe":
            feeder = PipeFeeder(store, channel, job.data, stop, host_index, hosts)
            feeder.start()
            feeders.append(feeder)
        else:
            stage_file_channel(store, channel, job.data / channel["ChannelName"], link=links and mode == "FastFile",
                               host_index=host_index, hosts=hosts)
    return feeders


# -- checkpoints -----------------------------------------------------------------------------------------------


class DirectorySync:
    """A job directory kept in step with a store prefix: CheckpointConfig (restore ``S3Uri`` into the local
    path at start, then upload new or changed files while the job runs and once more at the end, as
    SageMaker's checkpoint sync does) and the toolkit's ``output/intermediate`` upload."""

    def __init__(self, store: ObjectStore, s3_uri: str, local: Path) -> None:
        self.store = store
        self.s3_uri = s3_uri.rstrip("/")
        self.local = local
        self._seen: dict[Path, tuple[int, int]] = {}

    def restore(self) -> None:
        self.local.mkdir(parents=True, exist_ok=True)
        if self.store.list(self.s3_uri + "/"):
            self.store.download(self.s3_uri + "/", self.local)
        self._seen = self._snapshot()  # all of it: the job's process, started after this, is later than a tick

    def _snapshot(self) -> dict[Path, tuple[int, int]]:
        if not self.local.is_dir():
            return {}
        snapshot = {}
        for path in self.local.rglob("*"):
            if path.is_file():
                stat = path.stat()
                snapshot[path] = (stat.st_mtime_ns, stat.st_size)
        return snapshot

    def push(self) -> None:
        current = self._snapshot()
        for path, stamp in current.items():
            if self._seen.get(path) != stamp:
                self.store.upload(path, f"{self.s3_uri}/{path.relative_to(self.local).as_posix()}")
        # A file written in this tick of the file clock may be written again in it, keeping its stamp: it is pushed
        # again next time, else the last push could miss the job's last write.
        self._seen = {path: stamp for path, stamp in current.items() if settled(stamp[0])}


# -- artifacts -------------------------------------------------------------------------------------------------


def pack(directory: Path, archive: Path) -> Path:
    """``tar w:gz`` with every file at the archive root, as SageMaker packs ``model/`` and ``output/data``."""
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        for entry in sorted(directory.iterdir()) if directory.is_dir() else []:
            tar.add(entry, arcname=entry.name)
    return archive


# Python 3.11.4 added extraction filters (PEP 706); Debian 12's 3.11.2 lacks them, so the checks below are
# ours on every version, and the stdlib's "data" filter is a second layer where it exists.
_TAR_HAS_FILTERS = hasattr(tarfile, "data_filter")


class _UnsafeMember(ValueError):
    """A tar member that would land outside the destination or is not a plain file, directory or link."""


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


def _checked_member(member: tarfile.TarInfo, root: str) -> tarfile.TarInfo:
    """A copy of ``member`` safe to extract under ``root`` (a real path), or ``_UnsafeMember``.

    The same rules as the stdlib's ``data`` filter: no absolute names, no ``..`` (refused outright rather than
    resolved), no names resolving outside through a link extracted earlier, no link whose target leaves
    ``root``, no devices or FIFOs; permissions lose setuid/setgid and group/other write, ownership is ours.
    """
    name = member.name
    if name.startswith("/") or os.path.isabs(name):
        raise _UnsafeMember(f"{name!r}: absolute path")
    if ".." in name.split("/"):
        raise _UnsafeMember(f"{name!r}: '..' may lead outside the destination")
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise _UnsafeMember(f"{name!r}: device, FIFO or other special file")
    # realpath follows links that earlier members created, so "link/file" through "link -> /etc" is caught.
    if not _inside(os.path.realpath(os.path.join(root, name)), root):
        raise _UnsafeMember(f"{name!r}: resolves outside the destination")
    if member.issym() or member.islnk():
        if os.path.isabs(member.linkname):
            raise _UnsafeMember(f"{name!r}: link to the absolute path {member.linkname!r}")
        # A symlink's target is relative to its own folder, a hard link's to the archive root.
        base = os.path.join(root, os.path.dirname(name)) if member.issym() else root
        if not _inside(os.path.realpath(os.path.join(base, member.linkname)), root):
            raise _UnsafeMember(f"{name!r}: link to {member.linkname!r} points outside the destination")
    safe = copy.copy(member)
    mode = member.mode & 0o755
    if member.isdir():
        mode |= 0o700  # directories stay writable and searchable by their owner, as the data filter leaves them
    elif not member.issym():
        if not mode & 0o100:
            mode &= ~0o111
        mode |= 0o600
    safe.mode = mode
    # tarfile chowns when running as root; extracted files belong to whoever extracts them.
    safe.uid, safe.gid, safe.uname, safe.gname = os.getuid(), os.getgid(), "", ""
    return safe


def safe_extract(archive: Path, destination: Path) -> None:
    """Extract a tar(.gz) refusing absolute names, ``..``, links leaving ``destination`` and device files.

    The one way stepfn unpacks archives (model artifacts, ``sourcedir.tar.gz``): each member is checked just
    before it is written, so a link extracted earlier cannot carry a later member outside.
    """
    destination.mkdir(parents=True, exist_ok=True)
    root = os.path.realpath(destination)
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar.getmembers():
                safe = _checked_member(member, root)
                if _TAR_HAS_FILTERS:
                    tar.extract(safe, root, filter="data")
                else:
                    tar.extract(safe, root)
    except (tarfile.TarError, OSError, _UnsafeMember) as exc:
        raise StoreError(f"unsafe or unreadable archive {archive.name}: {exc}") from exc


def remove_staged_inputs(job: JobDir) -> None:
    """Drop the copied channel data after the job (it can be large); configs, model and output stay."""
    with contextlib.suppress(OSError):
        shutil.rmtree(job.data)


__all__ = [
    "CONTAINER_VIEW",
    "OPT_ML",
    "ChannelError",
    "DirectorySync",
    "JobDir",
    "PipeFeeder",
    "build_input_data_config",
    "build_resource_config",
    "channel_objects",
    "host_names",
    "pack",
    "remove_staged_inputs",
    "safe_extract",
    "shard",
    "stage_channels",
]
