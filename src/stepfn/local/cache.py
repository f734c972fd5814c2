"""The local step cache: reuse the result of an earlier identical job instead of running it again.

Opt-in, per step (``cache_config=CacheConfig(enable_caching=True, expire_after="P30D")`` on a Task step) or per
run (``workflow.execute(..., cache=True)``, ``stepfn run --cache``), for training, processing, transform and
tuning jobs started with ``.sync`` (a request-response Task takes hits but stores nothing: its job ends after
the Task) and for local Lambda functions. The settings never enter the ASL: the
authoring side writes them beside the state machine and the execution in the home (:func:`write_machine_settings`,
:func:`write_run_settings`), and the wrapped Task handlers (:func:`cached_handlers`) read them.

Layout under ``$STEPFN_HOME/cache``::

    settings/machines/<hash>.json   {"steps": {"Train": {"enable_caching": true, "expire_after": "P30D"}}}
    settings/runs/<hash>.json       {"cache": true}
    entries/<key>/entry.json        the cached job's record (or a Lambda's result), its output listing, when
    entries/<key>/objects/<i>/...   the outputs, hard links to the object store's files (copies across devices);
                                    entry.json keeps each one's size and mtime, so a file rewritten in place
                                    (not through the store, which replaces objects by rename) voids the entry
    entries/<key>/hits              one line per hit
    locks/<key>.lock                flock'd while a job with that key is looked up or runs
    digests.sqlite                  object digests by (path, inode, size, mtime) (stepfn.local.cachekeys)

An entry is written in a temporary directory and renamed into place once complete, and only for a job that
Completed: a failed or crashed job leaves none. Two executions that miss on the same key at once serialize on the
key's lock: the first runs the job, the second finds its entry and takes it over.

A hit records a new job under the name this execution asked for, Completed, its outputs copied to the new job's
output locations (the ``ModelArtifacts`` the next step reads exist), the cached job's metrics kept, and marks it:
a ``SecondaryStatusTransitions`` entry "Cache hit" (training jobs; DescribeTrainingJob and the Task output show
it), and a line in the job's log and the execution's progress lines (every kind). No job process runs.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepfn._durations import parse_duration
from stepfn.engine.protocol import TaskControl, TaskHandler, TaskRequest
from stepfn.errors import ServiceError, StepfnError
from stepfn.local.cachekeys import CACHEABLE, DigestMemo, KeyBuilder, NotCacheable, output_prefixes
from stepfn.local.objectstore import ObjectStore, as_s3_uri
from stepfn.local.sagemaker.lifecycle import JOB_KINDS

__all__ = [
    "CacheEntry",
    "StepCache",
    "cached_handlers",
    "read_settings",
    "write_machine_settings",
    "write_run_settings",
]

logger = logging.getLogger(__name__)

CACHE_DIR = "cache"
_ABANDONED_SECONDS = 3600
_TIME_KEYS = ("CreationTime", "LastModifiedTime", "TrainingStartTime", "TrainingEndTime", "ProcessingStartTime",
              "ProcessingEndTime", "TransformStartTime", "TransformEndTime", "HyperParameterTuningEndTime")


# -- settings: what the authoring side asked for, kept beside the machine and the run -----------------------------


def _hashed(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as handle:
        json.dump(document, handle)
    os.replace(tmp, path)


def write_machine_settings(home: Path, machine_name: str, steps: dict[str, dict[str, Any]]) -> None:
    """Record the per-step cache settings (``{state name: {"enable_caching", "expire_after"}}``) of a state machine;
    an empty mapping removes them."""
    path = Path(home) / CACHE_DIR / "settings" / "machines" / f"{_hashed(machine_name)}.json"
    if steps:
        _write_json(path, {"machine": machine_name, "steps": steps})
    else:
        path.unlink(missing_ok=True)


def write_run_settings(home: Path, machine_name: str, execution_name: str, *, cache: bool) -> None:
    """Record the run-wide cache flag of one execution (before it starts)."""
    path = Path(home) / CACHE_DIR / "settings" / "runs" / f"{_hashed(machine_name, execution_name)}.json"
    _write_json(path, {"machine": machine_name, "execution": execution_name, "cache": cache})


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def read_settings(home: Path, execution_arn: str, state_name: str) -> float | None:
    """Whether the Task ``state_name`` of the execution caches: None for no; else the entry age (seconds) it
    accepts (``inf`` without ``expire_after``). A step's own ``enable_caching=False`` wins over a run's flag."""
    parts = execution_arn.split(":")
    if len(parts) < 8:
        return None
    # A distributed Map's child executions are "<machine>/<map run label>:<uuid>": the machine's step settings
    # apply to them; the run-wide flag is kept under the parent's name, which their ARN does not carry.
    machine, execution = parts[6].split("/")[0], parts[7]
    settings = Path(home) / CACHE_DIR / "settings"
    step = _read_json(settings / "machines" / f"{_hashed(machine)}.json").get("steps", {}).get(state_name)
    run = _read_json(settings / "runs" / f"{_hashed(machine, execution)}.json").get("cache") is True
    enabled = step.get("enable_caching") if isinstance(step, dict) else None
    if enabled is False or (enabled is None and not run):
        return None
    expire = step.get("expire_after") if isinstance(step, dict) else None
    return parse_duration(expire) if isinstance(expire, str) else float("inf")


# -- entries ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CacheEntry:
    """One cached result, as ``stepfn cache ls`` lists it."""

    key: str
    path: Path
    action: str
    kind: str | None
    source: str
    """The job (or Lambda function) whose result this is."""
    created: float
    size: int
    hits: int
    document: dict[str, Any]


class StepCache:
    """The step cache of one stepfn home."""

    def __init__(self, home: Path | str, *, store: ObjectStore | None = None) -> None:
        self.home = Path(home).absolute()
        self.root = self.home / CACHE_DIR
        self.entries_dir = self.root / "entries"
        self.store = store or ObjectStore(self.home / "s3")
        self.memo = DigestMemo(self.root / "digests.sqlite")
        self.keys = KeyBuilder(self.home, self.store, self.memo)

    # -- reading ----------------------------------------------------------------------------------------------

    def get(self, key: str) -> CacheEntry | None:
        path = self.entries_dir / key
        document = _read_json(path / "entry.json")
        if not document:
            return None
        try:
            hits = len((path / "hits").read_text().splitlines())
        except OSError:
            hits = 0
        return CacheEntry(key, path, str(document.get("action")), document.get("kind"), str(document.get("source")),
                          float(document.get("created", 0)), int(document.get("size", 0)), hits, document)

    def entries(self) -> list[CacheEntry]:
        """Every complete entry, newest first."""
        if not self.entries_dir.is_dir():
            return []
        found = [entry for path in self.entries_dir.iterdir() if not path.name.startswith(".")
                 if (entry := self.get(path.name)) is not None]
        return sorted(found, key=lambda entry: entry.created, reverse=True)

    def disk_usage(self) -> int:
        """Bytes under the cache folder (entries, digests, settings), each file counted once however linked."""
        seen: set[int] = set()
        total = 0
        for directory, _, files in os.walk(self.root):
            for name in files:
                with contextlib.suppress(OSError):
                    stat = os.lstat(os.path.join(directory, name))
                    if stat.st_ino not in seen:
                        seen.add(stat.st_ino)
                        total += stat.st_size
        return total

    def remove(self, key: str) -> None:
        path = self.entries_dir / key
        if path.is_dir():
            # Rename first: a reader never sees an entry whose objects are half gone.
            doomed = self.entries_dir / f".removing-{key}-{os.getpid()}-{time.monotonic_ns()}"
            with contextlib.suppress(FileNotFoundError):
                path.rename(doomed)
                shutil.rmtree(doomed, ignore_errors=True)

    def prune(self, older_than: float) -> list[str]:
        """Remove the entries created more than ``older_than`` seconds ago; returns their keys."""
        cutoff = time.time() - older_than
        removed = [entry.key for entry in self.entries() if entry.created < cutoff]
        for key in removed:
            self.remove(key)
        # An entry being written or removed lives in a dot folder for well under a minute; one an hour old was
        # left by a process that died meanwhile (never visible as an entry, but it takes space).
        abandoned = time.time() - _ABANDONED_SECONDS
        for path in self.entries_dir.glob(".*") if self.entries_dir.is_dir() else []:
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < abandoned:
                    shutil.rmtree(path, ignore_errors=True)
        return removed

    # -- the lock ---------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, key: str, control: TaskControl | None = None) -> Iterator[bool]:
        """Hold the key's lock (an flock, so threads and processes exclude each other) while a job with that key
        is looked up and run; yields False when the task was cancelled while waiting for it."""
        path = self.root / "locks" / f"{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            polls = 0
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if control is not None and control.cancelled():
                        yield False
                        return
                    polls += 1
                    if control is not None and polls % 20 == 0:
                        control.heartbeat()  # waiting for the same job to finish elsewhere is progress
                    time.sleep(0.05)
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- writing ----------------------------------------------------------------------------------------------

    def save(self, key: str, action: str, document: dict[str, Any], *, record: dict[str, Any] | None = None,
             params: dict[str, Any] | None = None, result: Any = None) -> CacheEntry | None:
        """Store a Completed job's record and outputs (or a Lambda's result) under ``key``: built in a temporary
        directory, renamed into place whole (replacing an expired or damaged entry of the key)."""
        kind = CACHEABLE[action]
        self.entries_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.entries_dir, prefix=".tmp-"))
        try:
            outputs = []
            size = 0
            if kind is not None and record is not None and params is not None:
                created = float(record.get("CreationTime") or 0) / 1000 - 1  # ms; a second's slack for clocks
                for index, prefix in enumerate(output_prefixes(kind, params)):
                    files = []
                    for uri, _ in self.store.iter_objects(prefix.uri):
                        source = self.store.local_path(uri)
                        if prefix.since_creation and source.stat().st_mtime < created:
                            continue  # there before the job: not its output
                        relative = uri[len(prefix.uri):]
                        target = tmp / "objects" / str(index) / relative
                        target.parent.mkdir(parents=True, exist_ok=True)
                        try:
                            os.link(source, target)  # the store replaces objects by rename: this inode stays as is
                        except OSError:
                            shutil.copyfile(source, target)
                        stat = target.stat()
                        size += stat.st_size
                        # Size and mtime as linked, the mtime set one nanosecond back first: a file rewritten in
                        # place later (not through the store) no longer matches them, and the entry is not used
                        # (lookup). The job wrote the file a moment ago, and a kernel with coarse file times
                        # (Debian 12's stamps with a clock that ticks every 4 ms) gives a rewrite in that same
                        # tick the same mtime; a rewrite's mtime is never earlier than the job's write. (A file
                        # this user may not stamp, in a shared home, is kept as it is.)
                        with contextlib.suppress(OSError):
                            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns - 1))
                            stat = target.stat()
                        files.append([relative, stat.st_size, stat.st_mtime_ns])
                    outputs.append({"prefix": prefix.uri, "files": sorted(files)})
            source_name = (record or {}).get(JOB_KINDS[kind].name_key, "") if kind else \
                (params or {}).get("FunctionName", "")
            entry = {"key": key, "action": action, "kind": kind, "source": source_name, "created": time.time(),
                     "record": record, "result": result, "outputs": outputs, "inputs": document}
            entry["size"] = size
            (tmp / "entry.json").write_text(json.dumps(entry, default=str))
            try:
                tmp.rename(self.entries_dir / key)
            except OSError:  # an expired or incomplete entry of the key is there: the new one replaces it
                self.remove(key)
                tmp.rename(self.entries_dir / key)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return self.get(key)

    def take_over(self, entry: CacheEntry, params: dict[str, Any]) -> dict[str, Any]:
        """Record the job ``params`` asks for as a Completed copy of the cached one: outputs copied to the new job's
        output locations, the cache hit marked. Returns the new record (a ServiceError if the name is taken)."""
        from stepfn.local.sagemaker.records import RecordStore, arn, now_millis

        kind = str(entry.kind)
        job = JOB_KINDS[kind]
        cached = entry.document["record"]
        name = params[job.name_key]
        records = RecordStore(self.home)
        old_prefixes = [output["prefix"] for output in entry.document["outputs"]]
        new_prefixes = [prefix.uri for prefix in output_prefixes(kind, params)]
        if len(old_prefixes) != len(new_prefixes):
            raise NotCacheable("the cached job wrote to a different number of output locations")
        record = copy.deepcopy(cached)
        for member, value in params.items():
            if member in record and member != "Tags":
                record[member] = copy.deepcopy(value)  # Describe* echoes the request: this job's request
        record = dict(_moved(record, old_prefixes, new_prefixes))
        now = now_millis()
        for member in _TIME_KEYS:
            if member in record:
                record[member] = now
        record[job.name_key] = name
        record[job.arn_key] = arn(kind, name)
        message = f"Cache hit: results of {cached.get(job.name_key)} (stepfn cache entry {entry.key[:12]})"
        if kind == "training-job":
            record["SecondaryStatus"] = "Completed"
            record["SecondaryStatusTransitions"] = [
                {"Status": "Completed", "StartTime": now, "EndTime": now, "StatusMessage": message}]
        # The outputs first, then the record: a next step that sees the record finds the artifacts.
        for index, (output, prefix) in enumerate(zip(entry.document["outputs"], new_prefixes, strict=True)):
            for relative, _, _ in output["files"]:
                self.store.upload(entry.path / "objects" / str(index) / relative, prefix + relative)
        records.create(kind, name, record, operation=job.action[0].upper() + job.action[1:])
        with records.log_path(kind, name).open("a", encoding="utf-8") as log:
            log.write(f"stepfn: {message}; no job ran\n")
        self._count_hit(entry)
        return record

    def _count_hit(self, entry: CacheEntry) -> None:
        with contextlib.suppress(OSError), (entry.path / "hits").open("a") as hits:
            hits.write(f"{time.time()}\n")

    # -- the Task handler wrapper -----------------------------------------------------------------------------

    def lookup(self, key: str, max_age: float) -> CacheEntry | None:
        """The entry for ``key`` if it is younger than ``max_age`` seconds and its outputs are all there, as kept."""
        entry = self.get(key)
        if entry is None:
            return None
        if time.time() - entry.created > max_age:
            return None
        for index, output in enumerate(entry.document.get("outputs") or []):
            for relative, size, mtime_ns in output["files"]:
                try:
                    stat = (entry.path / "objects" / str(index) / relative).stat()
                except OSError:
                    return None
                if (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns):
                    return None  # changed in place since it was kept: not the job's output any more
        return entry

    def handle(self, inner: TaskHandler, request: TaskRequest, control: TaskControl) -> Any:
        """Run one Task through the cache (see the module docstring); anything not cacheable goes to ``inner``."""
        max_age = read_settings(self.home, request.execution_arn, request.state_name)
        params = request.parameters
        kind = CACHEABLE.get(request.action, "")
        if max_age is None or request.resumed or not isinstance(params, dict) or kind == "" \
                or (kind is not None and request.pattern not in ("sync", "request_response")):
            return inner(request, control)
        try:
            key, document = self.keys.key(request.action, params)
        except (NotCacheable, StepfnError, OSError, KeyError, TypeError, ValueError) as exc:
            logger.debug("step cache: %s not cached: %s", request.state_name, exc)
            return inner(request, control)
        with self.locked(key, control) as held:
            if not held:
                return inner(request, control)  # cancelled while waiting: let the handler report it
            entry = self.lookup(key, max_age)
            if entry is not None:
                return self._hit(entry, request, params, control)
            if kind is not None and request.pattern != "sync":
                return inner(request, control)  # the job ends after the Task: nothing to store when it does
            result = inner(request, control)  # a failed job raises: nothing is stored
            self._store(key, document, request, params, result)
            return result

    def _hit(self, entry: CacheEntry, request: TaskRequest, params: dict[str, Any], control: TaskControl) -> Any:
        control.log(f"{request.state_name}: cache hit ({entry.source}, entry {entry.key[:12]}): no job ran")
        if entry.kind is None:
            self._count_hit(entry)
            result = copy.deepcopy(entry.document["result"])
            if ":states:::" in request.resource and isinstance(result, dict) and "Payload" in result:
                from stepfn.local.lambdas import optimized_response

                # This invocation's own request id and date around the cached payload, not the earlier call's.
                return optimized_response(result["Payload"])
            return result
        from stepfn.local.sagemaker.records import as_states_error, optimized_result

        try:
            record = self.take_over(entry, params)
        except ServiceError as exc:
            raise as_states_error(exc) from exc
        if request.pattern == "request_response":
            arn_key = JOB_KINDS[entry.kind].arn_key
            return optimized_result(request, {arn_key: record[arn_key]})  # as the job's own handler answers
        return record

    def _store(self, key: str, document: dict[str, Any], request: TaskRequest, params: dict[str, Any],
               result: Any) -> None:
        kind = CACHEABLE[request.action]
        try:
            if kind is None:
                self.save(key, request.action, document, params=params, result=result)
                return
            from stepfn.local.sagemaker.records import RecordStore

            record = RecordStore(self.home).get(kind, params[JOB_KINDS[kind].name_key])
            if record is not None and record.get(JOB_KINDS[kind].status_key) == "Completed":
                self.save(key, request.action, document, record=record, params=params)
        except (OSError, ValueError, StepfnError) as exc:
            # The job succeeded; a cache that cannot be written must not fail it.
            logger.warning("step cache: could not store %s: %s", request.state_name, exc)


def _moved(value: Any, old: list[str], new: list[str]) -> Any:
    """``value`` with URIs under a cached job's output prefixes moved under the new job's."""
    if isinstance(value, str):
        text = as_s3_uri(value) if value.startswith("https://") else value
        for before, after in zip(old, new, strict=True):
            if text.startswith(before) or text == before.rstrip("/"):
                return after + text[len(before):] if text.startswith(before) else after.rstrip("/")
        return value
    if isinstance(value, list):
        return [_moved(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _moved(item, old, new) for key, item in value.items()}
    return value


def cached_handlers(home: Path | str, handlers: dict[str, TaskHandler]) -> dict[str, TaskHandler]:
    """``handlers`` with the cacheable ones (training, processing, transform, tuning jobs; Lambda invoke) going
    through the home's step cache. A Task whose execution and step did not ask for caching costs two small
    file reads."""
    cache = StepCache(home)
    wrapped = dict(handlers)
    for resource, inner in handlers.items():
        service, _, action = resource.partition(":")
        if service in ("sagemaker", "lambda") and action in CACHEABLE and (service == "lambda") == (action == "invoke"):
            wrapped[resource] = _wrap(cache, inner)
    return wrapped


def _wrap(cache: StepCache, inner: TaskHandler) -> TaskHandler:
    @functools.wraps(inner)
    def handler(request: TaskRequest, control: TaskControl) -> Any:
        return cache.handle(inner, request, control)

    return handler

