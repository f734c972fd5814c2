"""What the local step cache keys a job on, and where a job's outputs live (:mod:`stepfn.local.cache`).

A key is the SHA-256 of one canonical JSON document holding what determines a job's result:

* the request without its job name (every occurrence of the name in the request's strings is replaced, so a
  URI that embeds it does not matter), the SDK's ``sagemaker_job_name`` hyperparameter and timestamps in
  names, its tags and its output locations (those say where the result goes, not what it is; a hit copies
  the outputs there);
* instead of each input URI, the digest of the objects under it: training and tuning channels, processing
  inputs, the transform input, and the model a transform job runs (image, environment and model data);
* the code as unpacked source (``sagemaker_submit_directory``, a ``.tar.gz`` processing input, ``model.tar.gz``):
  a digest of member names and contents, not of the tarball, whose bytes change with every packing (mtimes);
* the image (part of the request), the environment variables given to the job (part of the request), the
  framework environment choice (``STEPFN_JOB_ENV``) and stepfn's version (the built-in algorithm emulators and
  the job runtime come with it);
* for local Lambda functions, the payload and the source file of the function's module; for a function created
  through the Lambda API, the payload and its package (``CodeSha256``), handler, runtime and environment.

Object digests are memoized per file by (path, inode, size, mtime): the object store writes every object
through a temporary file and a rename, so a changed object is a new inode and a large channel that did not
change is not read again. A file written in the last two seconds is read and not memoized (see
:func:`stepfn.local.objectstore.settled`): a file rewritten in place (a script edited in the project) within one
tick of a coarse file clock keeps its mtime.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import inspect
import json
import os
import re
import sqlite3
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepfn.local.objectstore import ObjectStore, as_s3_uri, settled
from stepfn.local.sagemaker.lifecycle import JOB_KINDS

__all__ = ["CACHEABLE", "DigestMemo", "KeyBuilder", "NotCacheable", "OutputPrefix", "output_prefixes"]

CACHEABLE = {
    # Step Functions action -> the record kind it creates (None: no record, a Lambda's result is the value).
    "createTrainingJob": "training-job",
    "createProcessingJob": "processing-job",
    "createTransformJob": "transform-job",
    "createHyperParameterTuningJob": "tuning-job",
    "invoke": None,
}
_TARBALL = (".tar.gz", ".tgz")
_JOB_NAME = "<job-name>"
_STAMP = "<timestamp>"
# sagemaker.utils.sagemaker_timestamp(): %Y-%m-%d-%H-%M-%S-<milliseconds>, as in base job names.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}(?:-\d{3})?")
_OUTPUT = "<output>"


class NotCacheable(Exception):
    """This request cannot be keyed (an input that does not exist yet, a remote object store, no such model): the
    job runs as if caching were off and reports its own error, if any."""


@dataclass(frozen=True)
class OutputPrefix:
    """One place a job writes its results: ``uri`` (a prefix ending in ``/``). ``since_creation``: only objects
    written during the job belong to it (a shared prefix, such as a transform's output path)."""

    uri: str
    since_creation: bool


def output_prefixes(kind: str | None, params: dict[str, Any]) -> list[OutputPrefix]:
    """Where a job of ``kind`` with this request writes its outputs, in a fixed order (a hit pairs the cached
    job's prefixes with the new job's by position)."""
    def prefix(uri: str) -> str:
        return as_s3_uri(uri).rstrip("/") + "/"

    if kind == "training-job":
        base = params["OutputDataConfig"]["S3OutputPath"]
        return [OutputPrefix(f"{prefix(base)}{params['TrainingJobName']}/", False)]
    if kind == "processing-job":
        outputs = (params.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        return [OutputPrefix(prefix(output["S3Output"]["S3Uri"]), True)
                for output in sorted(outputs, key=lambda item: str(item.get("OutputName")))
                if isinstance(output.get("S3Output"), dict)]
    if kind == "transform-job":
        return [OutputPrefix(prefix(params["TransformOutput"]["S3OutputPath"]), True)]
    return []


class DigestMemo:
    """SHA-256 digests of files, memoized in ``<cache>/digests.sqlite`` by (path, inode, size, mtime)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("CREATE TABLE IF NOT EXISTS digest (path TEXT, mode TEXT, stamp TEXT, digest TEXT, "
                               "PRIMARY KEY (path, mode))")
            self._connection = connection
        return self._connection

    def file_digest(self, path: Path, *, unpacked: bool = False) -> str:
        """The digest of a file's bytes, or (``unpacked``) of a tarball's member names and contents."""
        stat = path.stat()
        mode = "unpacked" if unpacked else "bytes"
        digest_of = _unpacked_digest if unpacked else _bytes_digest
        if not settled(stat.st_mtime_ns):
            return digest_of(path)
        stamp = f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"
        try:
            with self._lock:
                row = self._db().execute("SELECT digest FROM digest WHERE path = ? AND mode = ? AND stamp = ?",
                                         (str(path), mode, stamp)).fetchone()
        except sqlite3.Error:
            row = None  # a memo that cannot be read (locked past its timeout, damaged) only costs a re-read
        if row is not None:
            return str(row[0])
        digest = digest_of(path)
        with contextlib.suppress(sqlite3.Error), self._lock:
            self._db().execute("INSERT OR REPLACE INTO digest VALUES (?, ?, ?, ?)", (str(path), mode, stamp, digest))
        return digest

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def _bytes_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _unpacked_digest(path: Path) -> str:
    """Member names, kinds and contents of a tarball, in name order; mtimes, owners and order are left out."""
    summary = hashlib.sha256()
    try:
        with tarfile.open(path, "r:*") as tar:
            members = sorted(tar.getmembers(), key=lambda member: member.name)
            for member in members:
                summary.update(f"{member.name.lstrip('./')}\0{member.type!r}\0{member.linkname}\0".encode())
                if member.isfile():
                    handle = tar.extractfile(member)
                    content = hashlib.sha256()
                    while handle is not None and (chunk := handle.read(1 << 20)):
                        content.update(chunk)
                    summary.update(content.digest())
    except tarfile.TarError:
        return _bytes_digest(path)  # named like a tarball, but not one: its bytes are what the job reads
    return "tar:" + summary.hexdigest()


class KeyBuilder:
    """Builds the cache key of one request against one home's object store and model records."""

    def __init__(self, home: Path, store: ObjectStore, memo: DigestMemo) -> None:
        self.home = home
        self.store = store
        self.memo = memo

    def key(self, action: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """``(key, the document hashed)`` for a cacheable action's request; NotCacheable when it cannot be keyed."""
        if self.store.remote:
            raise NotCacheable("the step cache keys on local objects; this home's s3:// store is remote")
        kind = CACHEABLE[action]
        document = self._lambda(params) if kind is None else self._job(kind, params)
        document = {"version": 1, "action": action, **document}
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest(), document

    # -- per kind ---------------------------------------------------------------------------------------------

    def _job(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get(JOB_KINDS[kind].name_key)
        if not isinstance(name, str) or not name:
            raise NotCacheable("no job name")
        request = copy.deepcopy({key: value for key, value in params.items() if key not in (JOB_KINDS[kind].name_key, "Tags")})
        if kind == "training-job":
            self._training(request)
        elif kind == "processing-job":
            for item in request.get("ProcessingInputs") or []:
                source = item.get("S3Input") if isinstance(item, dict) else None
                if isinstance(source, dict) and isinstance(source.get("S3Uri"), str):
                    source["S3Uri"] = self.uri_digest(source["S3Uri"])
            for output in (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
                if isinstance(output, dict) and isinstance(output.get("S3Output"), dict):
                    output["S3Output"]["S3Uri"] = _OUTPUT
        elif kind == "transform-job":
            source = ((request.get("TransformInput") or {}).get("DataSource") or {}).get("S3DataSource") or {}
            if isinstance(source.get("S3Uri"), str):
                source["S3Uri"] = self.uri_digest(source["S3Uri"])
            if isinstance(request.get("TransformOutput"), dict):
                request["TransformOutput"]["S3OutputPath"] = _OUTPUT
            request["ModelName"] = self._model(str(request.get("ModelName")))
        elif kind == "tuning-job":
            for definition in [request.get("TrainingJobDefinition"), *(request.get("TrainingJobDefinitions") or [])]:
                if isinstance(definition, dict):
                    self._training(definition)
        return {"request": _without(request, name), "environment": _environment()}

    def _training(self, request: dict[str, Any]) -> None:
        """Training channels and code as digests, the output location left out (in place)."""
        for channel in request.get("InputDataConfig") or []:
            source = (channel.get("DataSource") or {}).get("S3DataSource") if isinstance(channel, dict) else None
            if isinstance(source, dict) and isinstance(source.get("S3Uri"), str):
                source["S3Uri"] = self.uri_digest(source["S3Uri"])
        for member in ("HyperParameters", "StaticHyperParameters"):
            hyperparameters = request.get(member)
            submit = hyperparameters.get("sagemaker_submit_directory") if isinstance(hyperparameters, dict) else None
            if isinstance(submit, str):
                with contextlib.suppress(ValueError):
                    submit = json.loads(submit)  # the SDK JSON-encodes hyperparameter values
                if isinstance(submit, str) and submit:
                    hyperparameters["sagemaker_submit_directory"] = self.uri_digest(submit)  # type: ignore[index]
            if isinstance(hyperparameters, dict):
                # The SDK's own name for the job (a base name and the time it was built): not an input.
                hyperparameters.pop("sagemaker_job_name", None)
        if isinstance(request.get("OutputDataConfig"), dict):
            request["OutputDataConfig"] = {**request["OutputDataConfig"], "S3OutputPath": _OUTPUT}

    def _model(self, name: str) -> dict[str, Any]:
        """What a transform job's model is made of: its containers' images, environments and model data."""
        from stepfn.local.sagemaker.records import RecordStore

        record = RecordStore(self.home).get("model", name)
        if record is None:
            raise NotCacheable(f"no model named {name}")
        containers = record.get("Containers") or [record.get("PrimaryContainer") or {}]
        described = []
        for container in containers:
            container = copy.deepcopy(container)
            data = container.pop("ModelDataUrl", None)
            if isinstance(data, str):
                container["ModelData"] = self.uri_digest(data)
            environment = container.get("Environment")
            code = environment.get("SAGEMAKER_SUBMIT_DIRECTORY") if isinstance(environment, dict) else None
            if isinstance(code, str) and code.startswith(("s3://", "file://", "https://")):
                environment["SAGEMAKER_SUBMIT_DIRECTORY"] = self.uri_digest(code)  # the serving code, unpacked
            container.pop("ContainerHostname", None)
            described.append(container)
        return {"Containers": described, "InferenceExecutionConfig": record.get("InferenceExecutionConfig")}

    def _lambda(self, params: dict[str, Any]) -> dict[str, Any]:
        from stepfn.errors import StatesError
        from stepfn.local.lambda_functions import CreatedFunction
        from stepfn.local.lambdas import resolve_function

        function_name = params.get("FunctionName")
        if not isinstance(function_name, str):
            raise NotCacheable("no FunctionName")
        try:
            _, function = resolve_function(function_name)
            if isinstance(function, CreatedFunction):  # its package and what it runs with, as deployed
                configuration = function.configuration
                return {"request": params, "code": configuration["CodeSha256"],
                        "function": {key: configuration.get(key) for key in ("Handler", "Runtime", "Environment")},
                        "environment": _environment()}
            source = inspect.getsourcefile(inspect.unwrap(function))
        except (StatesError, TypeError) as exc:
            raise NotCacheable(str(exc)) from exc
        if source is None or not Path(source).is_file():
            raise NotCacheable(f"the source of {function_name} is not a file")
        return {"request": params, "code": self.memo.file_digest(Path(source).resolve()),
                "environment": _environment()}

    # -- digests ----------------------------------------------------------------------------------------------

    def uri_digest(self, uri: str) -> str:
        """The digest of the object at ``uri``, or of every object under it as a prefix (relative keys and
        contents; ``.tar.gz`` objects unpacked). No object at all is NotCacheable: the job reports that."""
        uri = as_s3_uri(uri)
        if not uri.endswith("/") and self.store.exists(uri):
            return self._object_digest(uri)
        summary = hashlib.sha256()
        found = False
        for object_uri in sorted(self._objects(uri)):
            summary.update(f"{object_uri[len(uri):]}\0{self._object_digest(object_uri)}\0".encode())
            found = True
        if not found:
            raise NotCacheable(f"no objects under {uri}")
        return "prefix:" + summary.hexdigest()

    def _objects(self, prefix: str) -> Iterator[str]:
        for uri, _ in self.store.iter_objects(prefix):
            yield uri

    def _object_digest(self, uri: str) -> str:
        path = self.store.local_path(uri)
        return self.memo.file_digest(path, unpacked=uri.endswith(_TARBALL))


def _without(value: Any, name: str) -> Any:
    """``value`` with every occurrence of the job name, and every timestamp the SageMaker SDK puts in names
    (``sagemaker-scikit-learn-2024-05-01-12-30-59-123``), in its strings replaced by placeholders."""
    return _replaced(value, re.compile(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])"))


def _replaced(value: Any, name: re.Pattern[str]) -> Any:
    # The name only where it stands alone: job "a" must not rewrite the a's of "data" (nor job-1 those of job-12).
    if isinstance(value, str):
        return _TIMESTAMP.sub(_STAMP, name.sub(_JOB_NAME, value))
    if isinstance(value, list):
        return [_replaced(item, name) for item in value]
    if isinstance(value, dict):
        return {key: _replaced(item, name) for key, item in value.items()}
    return value


def _environment() -> dict[str, Any]:
    import platform

    from stepfn import __version__

    return {"stepfn": __version__, "job_env": os.environ.get("STEPFN_JOB_ENV"),
            "python": platform.python_version()}
