"""Batch transform jobs (CreateTransformJob), run against a model server for the job's duration (docs/design/sagemaker-contract.md §4.2).

For each object under ``TransformInput.DataSource.S3DataSource`` (an S3 prefix or a manifest), the object is
split into records by ``SplitType`` (``None``: the whole object; ``Line``; ``RecordIO``; ``TFRecord``), the
records are batched by ``BatchStrategy`` (``SingleRecord``, or ``MultiRecord`` packing as many records as fit
in ``MaxPayloadInMB``), each batch is POSTed to ``/invocations`` with the input ContentType and the output
Accept, and the responses are written to ``<S3OutputPath>/<path relative to the input prefix>.out`` with
``AssembleWith`` (``Line`` ends each response record with a newline, ``None`` concatenates bytes).

``DataProcessing`` applies as SageMaker describes: ``InputFilter`` (a JSONPath over each CSV or JSON record)
before the request, ``JoinSource=Input`` joins each input record with its prediction (CSV columns appended, or
the prediction under ``SageMakerOutput`` of a JSON object, or appended to a JSON array), and ``OutputFilter``
selects from the joined record. Outputs are uploaded only when every object succeeded, as SageMaker does.

``DataCaptureConfig`` (sagemaker v2's ``BatchDataCaptureConfig``) makes the job write manifests of its input and
output objects (:func:`write_capture_manifests`), which a monitoring schedule's ``BatchTransformInput`` reads.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import io
import json
import os
import queue
import re
import shutil
import struct
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stepfn._recordio import MAGIC, RecordIOError, iter_frames
from stepfn.engine.protocol import TaskControl
from stepfn.errors import ServiceError, StoreError
from stepfn.local.objectstore import ObjectStore, as_s3_uri
from stepfn.local.sagemaker.endpoints import (
    PIPELINE_BYTES,
    ModelClient,
    ModelServerError,
    start_model_server,
    stop_server,
)
from stepfn.local.sagemaker.jobprocess import append_log
from stepfn.local.sagemaker.models import prepare_variant
from stepfn.local.sagemaker.records import RecordStore, arn, check_name, now_millis, sagemaker_error

OPERATION = "CreateTransformJob"
_MB = 1024 * 1024
_ECHOED = (
    "ModelName", "MaxConcurrentTransforms", "ModelClientConfig", "MaxPayloadInMB", "BatchStrategy", "Environment",
    "TransformInput", "TransformOutput", "DataCaptureConfig", "TransformResources",
)


class TransformError(Exception):
    """The job failed; the message is its FailureReason."""


# -- JSONPath subset of the DataProcessing filters ----------------------------------------------------------

_SEGMENT = re.compile(r"\.([A-Za-z_][\w-]*)|\[([^\]]*)\]")


def _select(value: Any, selector: str) -> tuple[Any, bool]:
    """Apply one bracket selector; returns (result, multi) where multi means several items were selected."""
    parts = [p.strip() for p in selector.split(",")]
    if parts == ["*"]:
        return (list(value.values()) if isinstance(value, dict) else list(value)), True
    if all(p[:1] in "'\"" and p[-1:] == p[:1] and len(p) >= 2 for p in parts):
        keys = [p[1:-1] for p in parts]
        if len(keys) == 1:
            return value[keys[0]], False
        return {key: value[key] for key in keys if key in value}, True
    picked: list[Any] = []
    for part in parts:
        if ":" in part:
            bounds = [int(b) if b.strip() else None for b in part.split(":")]
            picked.extend(value[slice(*bounds)])
        else:
            index = int(part)
            if len(parts) == 1:
                return value[index], False
            picked.append(value[index])
    return picked, True


def apply_filter(path: str, value: Any) -> Any:
    """Evaluate the JSONPath subset SageMaker's filters use: ``$``, ``.key``, ``['k']``, ``['a','b']``, ``[i]``,
    ``[i,j]``, ``[a:b]``, ``[*]``."""
    text = path.strip()
    if not text.startswith("$"):
        raise TransformError(f"Invalid JSONPath {path!r}: it must start with $")
    position = 1
    while position < len(text):
        match = _SEGMENT.match(text, position)
        if match is None:
            raise TransformError(f"Invalid JSONPath {path!r} at character {position}")
        try:
            value = value[match.group(1)] if match.group(1) is not None else _select(value, match.group(2))[0]
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise TransformError(f"JSONPath {path!r} does not match the record {json.dumps(value)[:200]}: {exc}") from exc
        position = match.end()
    return value


# -- splitting ----------------------------------------------------------------------------------------------


def split_records(data: bytes, split_type: str) -> list[bytes]:
    if split_type == "None":
        return [data] if data else []
    if split_type == "Line":
        return [line for line in data.splitlines(keepends=True) if line.strip()]
    if split_type == "RecordIO":
        try:
            # Each record is sent re-framed, so a batch is valid RecordIO for the container.
            return [struct.pack("<II", MAGIC, len(p)) + p + b"\0" * (-len(p) % 4) for p in iter_frames(data)]
        except RecordIOError as exc:
            raise TransformError(f"Unable to split RecordIO input: {exc}") from exc
    if split_type == "TFRecord":
        return list(_tfrecords(data))
    raise TransformError(f"SplitType {split_type!r} is not supported; use None, Line, RecordIO or TFRecord")


def _tfrecords(data: bytes) -> Iterator[bytes]:
    # uint64 length, uint32 masked CRC of the length, the data, uint32 masked CRC of the data.
    offset = 0
    while offset < len(data):
        if len(data) - offset < 12:
            raise TransformError(f"Truncated TFRecord header at byte {offset}")
        (length,) = struct.unpack_from("<Q", data, offset)
        end = offset + 12 + length + 4
        if end > len(data):
            raise TransformError(f"Truncated TFRecord at byte {offset}")
        yield data[offset:end]
        offset = end


# A whitespace-only line after the first ("(?:^|\n)" in one pattern made the search try every byte: a quarter
# of a second for 10 MB).
_BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*(?:\n|$)")
_BLANK_FIRST_LINE = re.compile(rb"[ \t\r\f\v]*(?:\n|$)")
_NEWLINE_THEN_SPACE = re.compile(rb"\n[\n \t\r\f\v]")


def _has_blank_line(data: bytes) -> bool:
    """Whether ``data`` has an empty or whitespace-only line (a final newline ends the last line, no more)."""
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    if _BLANK_FIRST_LINE.match(data, 0, end) is not None:
        return True
    # Such a line starts with a newline followed by a newline or whitespace; most input has no such pair, and
    # one pass looking for it is a third of the cost of the full pattern, which stops at every newline.
    if _NEWLINE_THEN_SPACE.search(data, 0, end) is None:
        return False
    return _BLANK_LINE.search(data, 0, end) is not None


def line_payloads(data: bytes, max_payload: int) -> list[bytes] | None:
    """MultiRecord requests of Line-split ``data`` cut straight from it: as many whole lines as fit in
    ``max_payload`` bytes each, without a bytes object per line (the same requests ``batches`` packs, 100,000
    rows in milliseconds). None when the input has blank lines, which ``split_records`` drops first."""
    if not data:
        return []
    if _has_blank_line(data):
        return None
    payloads: list[bytes] = []
    start = 0
    while start < len(data):
        end = start + max_payload if max_payload else len(data)
        if end >= len(data):
            end = len(data)
        else:
            cut = data.rfind(b"\n", start, end)
            if cut < 0:
                line_end = data.find(b"\n", start)
                length = (len(data) if line_end < 0 else line_end + 1) - start
                raise TransformError(
                    f"A record of {length} bytes exceeds MaxPayloadInMB ({max_payload // _MB} MB); "
                    "split the input (SplitType) or raise MaxPayloadInMB."
                )
            end = cut + 1
        payloads.append(data[start:end])
        start = end
    return payloads


def batches(records: list[bytes], strategy: str, max_payload: int) -> Iterator[list[bytes]]:
    """Records grouped per request: one each (SingleRecord) or as many as fit in ``max_payload`` bytes."""
    batch: list[bytes] = []
    size = 0
    for record in records:
        if max_payload and len(record) > max_payload:
            raise TransformError(
                f"A record of {len(record)} bytes exceeds MaxPayloadInMB ({max_payload // _MB} MB); "
                "split the input (SplitType) or raise MaxPayloadInMB."
            )
        if batch and (strategy == "SingleRecord" or (max_payload and size + len(record) > max_payload)):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += len(record)
    if batch:
        yield batch


# -- DataProcessing -----------------------------------------------------------------------------------------


def _is_csv(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "text/csv"


def _parse_record(record: bytes, content_type: str | None) -> Any:
    text = record.decode("utf-8").strip()
    if _is_csv(content_type):
        return next(csv.reader([text]))
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TransformError(f"Input record is neither CSV (ContentType {content_type}) nor JSON: {text[:200]}") from exc


def _render_record(value: Any, as_csv: bool) -> bytes:
    if as_csv:
        row = value if isinstance(value, list) else [value]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(row)
        return buffer.getvalue().encode()
    return json.dumps(value, separators=(",", ":")).encode()


def _split_response(body: bytes, count: int, content_type: str) -> list[bytes]:
    """A batch response cut back into one output per input record (needed to join or filter per record)."""
    if count == 1:
        return [body.rstrip(b"\n")]
    if (content_type or "").split(";")[0].strip().lower() == "application/json":
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and len(parsed) == 1:
            parsed = next(iter(parsed.values()))
        if isinstance(parsed, list) and len(parsed) == count:
            return [json.dumps(item, separators=(",", ":")).encode() for item in parsed]
    lines = [line for line in body.splitlines() if line.strip()]
    if len(lines) == 1 and count > 1 and b"," in lines[0]:
        lines = lines[0].split(b",")  # the XGBoost container answers one CSV line outside SAGEMAKER_BATCH
    if len(lines) != count:
        raise TransformError(
            f"The model returned {len(lines)} records for a batch of {count}; joining or filtering output needs one "
            "output record per input record (use BatchStrategy SingleRecord or a line-per-record Accept type)."
        )
    return lines


def _join(source: Any, output: bytes, input_csv: bool) -> Any:
    text = output.decode("utf-8").strip()
    if input_csv:
        return list(source) + next(csv.reader([text]))
    try:
        prediction: Any = json.loads(text)
    except ValueError:
        prediction = text
    if isinstance(source, dict):
        return {**source, "SageMakerOutput": prediction}
    if isinstance(source, list):
        return [*source, prediction]
    raise TransformError("JoinSource=Input needs JSON objects or arrays (or CSV rows) as input records")


# -- the job ------------------------------------------------------------------------------------------------


class _Job:
    def __init__(self, home: Path, params: dict[str, Any], store: ObjectStore, server_url: str, control: TaskControl | None,
                 *, pipelining: bool = False) -> None:
        self.params = params
        self.store = store
        self.url = server_url
        self.control = control
        source = params["TransformInput"]
        self.content_type: str | None = source.get("ContentType")
        self.split_type = source.get("SplitType") or "None"
        self.compressed = source.get("CompressionType") == "Gzip"
        output = params["TransformOutput"]
        self.accept: str | None = output.get("Accept")
        self.assemble_line = output.get("AssembleWith") == "Line"
        self.strategy = params.get("BatchStrategy") or "MultiRecord"
        self.max_payload = int(params.get("MaxPayloadInMB", 6)) * _MB
        processing = params.get("DataProcessing") or {}
        self.input_filter = processing.get("InputFilter") or "$"
        self.output_filter = processing.get("OutputFilter") or "$"
        self.join = processing.get("JoinSource") == "Input"
        client = params.get("ModelClientConfig") or {}
        self.timeout = float(client.get("InvocationsTimeoutInSeconds", 600))
        self.retries = int(client.get("InvocationsMaxRetries", 3))
        self.concurrency = max(1, int(params.get("MaxConcurrentTransforms") or 1))
        # One keep-alive connection per concurrent request, for the whole job (SageMaker's agent keeps its own).
        self._clients: queue.SimpleQueue[ModelClient] = queue.SimpleQueue()
        self._opened: list[ModelClient] = []
        self.pipelining = pipelining

    def close(self) -> None:
        for client in self._opened:
            client.close()

    def _client(self) -> ModelClient:
        try:
            return self._clients.get_nowait()
        except queue.Empty:
            client = ModelClient(self.url, self.timeout)
            self._opened.append(client)
            return client

    def _invoke(self, bodies: list[bytes]) -> list[tuple[bytes, str]]:
        """The answers to ``bodies``, sent on one of the job's connections: pipelined when the server answers
        pipelined requests (stepfn's own), one at a time otherwise. A pipelined request that failed, or was
        refused, is sent again on its own, where retries and the failure reason are handled."""
        if self.control is not None and self.control.cancelled():
            raise _Stopped
        client = self._client()
        try:
            answers: list[tuple[int, dict[str, str], bytes] | None] = [None] * len(bodies)
            if self.pipelining and len(bodies) > 1:
                with contextlib.suppress(ConnectionError):
                    answers = list(client.post_many("/invocations", bodies, self._headers()))
            results = [self._post(client, body) if answer is None or answer[0] >= 400
                       else (answer[2], answer[1].get("content-type", self.accept or ""))
                       for body, answer in zip(bodies, answers, strict=True)]
            # A stop asked for while a group was out ends the job now, not a group later.
            if len(bodies) > 1 and self.control is not None and self.control.cancelled():
                raise _Stopped
            return results
        finally:
            self._clients.put(client)

    def _invoke_all(self, payloads: list[bytes]) -> list[tuple[bytes, str]]:
        """Every request's answer, in order; ``MaxConcurrentTransforms`` connections at work at once.

        SingleRecord requests to stepfn's own server go in pipelined groups (up to ``PIPELINE_BYTES``): one
        round trip per group instead of per record, the difference between waiting on the scheduler for every
        row and not."""
        groups: list[list[bytes]] = []
        size = 0
        # At least one group per connection, so MaxConcurrentTransforms connections share the work.
        per_group = max(1, min(256, -(-len(payloads) // self.concurrency)))
        for payload in payloads:
            if (not groups or not self.pipelining or size + len(payload) > PIPELINE_BYTES
                    or len(groups[-1]) >= per_group):
                groups.append([])
                size = 0
            groups[-1].append(payload)
            size += len(payload)
        if self.concurrency == 1 or len(groups) <= 1:
            return [answer for group in groups for answer in self._invoke(group)]
        with ThreadPoolExecutor(min(self.concurrency, len(groups)), thread_name_prefix="stepfn-transform") as pool:
            futures = [pool.submit(self._invoke, group) for group in groups]
            try:
                return [answer for future in futures for answer in future.result()]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def _headers(self) -> dict[str, str]:
        headers = {}
        if self.content_type:
            headers["Content-Type"] = self.content_type
        if self.accept:
            headers["Accept"] = self.accept
        return headers

    def _post(self, client: ModelClient, body: bytes) -> tuple[bytes, str]:
        headers = self._headers()
        failure = ""
        for _ in range(self.retries + 1):
            try:
                status, response_headers, payload = client.post("/invocations", body, headers)
            except OSError as exc:
                failure = f"the model server did not answer: {exc}"
                continue
            if status < 400:
                return payload, response_headers.get("content-type", self.accept or "")
            failure = f"Bad HTTP status received from algorithm: {status}: {payload.decode(errors='replace')[:500]}"
            if status < 500:
                break
        raise TransformError(f"ClientError: {failure}")

    def transform(self, data: bytes) -> bytes:
        if self.compressed:
            data = gzip.decompress(data)
        per_record = self.join or self.output_filter != "$"
        filtering = self.input_filter != "$"
        input_csv = _is_csv(self.content_type)
        payloads = None
        sizes: list[int] = []
        parsed: list[Any] = []
        if not (per_record or filtering) and self.split_type == "Line" and self.strategy == "MultiRecord":
            payloads = line_payloads(data, self.max_payload)
        if payloads is None:
            records = split_records(data, self.split_type)
            parsed = [_parse_record(r, self.content_type) for r in records] if (per_record or filtering) else []
            if filtering:
                ending = b"\n" if self.split_type == "Line" else b""
                records = [_render_record(apply_filter(self.input_filter, p), input_csv) + ending for p in parsed]
            grouped = list(batches(records, self.strategy, self.max_payload))
            payloads = [b"".join(batch) for batch in grouped]
            sizes = [len(batch) for batch in grouped]
        out: list[bytes] = []
        done = 0
        for index, (payload, response_type) in enumerate(self._invoke_all(payloads)):
            if not per_record:
                out.append(payload)
                continue
            count = sizes[index]
            for offset, output in enumerate(_split_response(payload, count, response_type)):
                joined: Any = output
                if self.join:
                    joined = _join(parsed[done + offset], output, input_csv)
                elif self.output_filter != "$":
                    joined = _parse_record(output, response_type)
                if self.output_filter != "$":
                    joined = apply_filter(self.output_filter, joined)
                as_csv = input_csv if self.join else _is_csv(response_type)
                out.append(output if joined is output else _render_record(joined, as_csv))
            done += count
        if per_record or self.assemble_line:
            return b"".join(part if part.endswith(b"\n") or not self.assemble_line else part + b"\n" for part in out)
        return b"".join(out)


class _Stopped(Exception):
    pass


def _inputs(store: ObjectStore, source: dict[str, Any]) -> list[tuple[str, str]]:
    """``(uri, path relative to the input prefix)`` of every input object."""
    data_type = source.get("S3DataType", "S3Prefix")
    uri = as_s3_uri(source["S3Uri"])
    if data_type == "ManifestFile":
        manifest = json.loads(store.get_bytes(uri))
        prefix = manifest[0]["prefix"]
        return [(prefix + item, item) for item in manifest[1:]]
    if data_type != "S3Prefix":
        raise TransformError(f"S3DataType {data_type} is not supported locally; use S3Prefix or ManifestFile")
    objects = store.list(uri)
    base = uri if uri.endswith("/") else uri.rsplit("/", 1)[0] + "/"
    if any(o.startswith(uri + "/") for o in objects):
        base = uri + "/"
    return [(o, o[len(base):]) for o in objects]


def write_capture_manifests(store: ObjectStore, destination: str, inputs: list[tuple[str, str]],
                            output_path: str, when: datetime | None = None) -> tuple[str, str]:
    """A batch transform job's data capture, as SageMaker writes it: no copy of the data, but two manifests
    (``[{"prefix": ...}, "relative/key", ...]``) at ``<destination>/input/yyyy/mm/dd/hh/<uuid>.json`` (the input
    objects) and ``<destination>/output/yyyy/mm/dd/hh/<uuid>.json`` (the ``.out`` objects); returns their URIs."""
    moment = (when or datetime.now(UTC)).astimezone(UTC)
    name = f"{moment:%Y/%m/%d/%H}/{uuid.uuid4()}.json"
    prefix = inputs[0][0][: len(inputs[0][0]) - len(inputs[0][1])]
    written = []
    for folder, manifest in (("input", [{"prefix": prefix}, *(relative for _, relative in inputs)]),
                             ("output", [{"prefix": f"{output_path}/"}, *(f"{relative}.out" for _, relative in inputs)])):
        uri = f"{destination.rstrip('/')}/{folder}/{name}"
        store.put_bytes(uri, json.dumps(manifest).encode())
        written.append(uri)
    return written[0], written[1]


def _validate(records: RecordStore, params: dict[str, Any]) -> str:
    name = check_name("transform-job", params.get("TransformJobName"), OPERATION, "TransformJobName")
    for member in ("ModelName", "TransformInput", "TransformOutput", "TransformResources"):
        if not params.get(member):
            raise sagemaker_error(
                OPERATION, "ValidationException",
                f"1 validation error detected: Value null at '{member[0].lower() + member[1:]}' failed to satisfy "
                "constraint: Member must not be null",
            )
    source = (params["TransformInput"].get("DataSource") or {}).get("S3DataSource") or {}
    if not source.get("S3Uri") or not params["TransformOutput"].get("S3OutputPath"):
        raise sagemaker_error(OPERATION, "ValidationException",
                              "TransformInput.DataSource.S3DataSource.S3Uri and TransformOutput.S3OutputPath are required.")
    if records.get("model", params["ModelName"]) is None:
        raise sagemaker_error(OPERATION, "ValidationException", f"Could not find model \"{arn('model', params['ModelName'])}\".")
    if (params.get("DataCaptureConfig") or {}).get("GenerateInferenceId"):
        # SageMaker then adds an inference id and time to each output record; stepfn's transform does not.
        raise sagemaker_error(OPERATION, "ValidationException",
                              "DataCaptureConfig.GenerateInferenceId is not supported by the local batch transform.")
    if params.get("DataCaptureConfig") is not None and not params["DataCaptureConfig"].get("DestinationS3Uri"):
        raise sagemaker_error(OPERATION, "ValidationException", "DataCaptureConfig.DestinationS3Uri is required.")
    payload = params.get("MaxPayloadInMB", 6)
    concurrent = params.get("MaxConcurrentTransforms", 1) or 1
    if not 0 <= int(payload) <= 100 or int(payload) * int(concurrent) > 100:
        raise sagemaker_error(OPERATION, "ValidationException",
                              "MaxPayloadInMB must be at most 100 and MaxConcurrentTransforms * MaxPayloadInMB at most 100.")
    return name


def run_transform_job(
    home: Path | str, params: dict[str, Any], *, resumed: bool = False, control: TaskControl | None = None,
    background: bool = False,
) -> dict[str, Any]:
    """Run a transform job to its end; returns the DescribeTransformJob record (Completed, Failed or Stopped).

    ``background=True`` returns the InProgress record as soon as the job is accepted and runs it on a thread
    (CreateTransformJob without ``.sync``)."""
    from stepfn.local.sagemaker.lifecycle import begin_job, job_control, run_detached, run_guarded

    records = RecordStore(home)
    store = ObjectStore(records.home / "s3")
    name = _validate(records, params)
    stamp = now_millis()
    record: dict[str, Any] = {"TransformJobName": name, "TransformJobArn": arn("transform-job", name),
                              "TransformJobStatus": "InProgress"}
    record.update({key: params[key] for key in _ECHOED if key in params})
    record.update({"CreationTime": stamp, "TransformStartTime": stamp})
    for key in ("DataProcessing", "ExperimentConfig"):
        if key in params:
            record[key] = params[key]
    finished = begin_job(records, "transform-job", name, record, operation=OPERATION, resumed=resumed,
                         control=control, background=background)
    if finished is not None:
        return finished
    watched = job_control(records, "transform-job", name, None if background else control)
    if background:
        run_detached(f"transform-{name}", lambda: run_guarded(
            records, "transform-job", name, lambda: _execute(records, store, name, params, watched)))
        return record
    return run_guarded(records, "transform-job", name, lambda: _execute(records, store, name, params, watched))


def _execute(records: RecordStore, store: ObjectStore, name: str, params: dict[str, Any],
             control: TaskControl | None) -> dict[str, Any]:
    from stepfn.local.sagemaker.lifecycle import finish_job

    workdir = records.base / "work" / "transform-job" / name
    log_path = records.log_path("transform-job", name)
    server = None
    jobs: list[_Job] = []
    try:
        containers = prepare_variant(records, store, params["ModelName"], workdir / "model", operation=OPERATION,
                                     progress=functools.partial(append_log, log_path, control=control))
        environment = {str(k): str(v) for k, v in (params.get("Environment") or {}).items()}
        strategy = params.get("BatchStrategy") or "MultiRecord"
        concurrency = int(params.get("MaxConcurrentTransforms") or 1)
        environment.update({
            "SAGEMAKER_BATCH": "true",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(params.get("MaxPayloadInMB", 6)),
            "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD" if strategy == "SingleRecord" else "MULTI_RECORD",
            "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": str(concurrency),
        })
        server = start_model_server(
            [{"VariantName": "AllTraffic", "Weight": 1.0, "Containers": containers}], workdir, log_path,
            environment=environment,
            batch={"MaxConcurrentTransforms": concurrency, "BatchStrategy": environment["SAGEMAKER_BATCH_STRATEGY"],
                   "MaxPayloadInMB": int(params.get("MaxPayloadInMB", 6))},
            # A worker per concurrent request (SageMaker's containers run one per CPU), no more than this machine
            # has CPUs: past that they only compete.
            workers=min(concurrency, os.cpu_count() or 1),
        )
        job = _Job(records.home, params, store, server.url, control, pipelining=server.pipelining)
        jobs.append(job)
        staged = workdir / "output"
        output_path = params["TransformOutput"]["S3OutputPath"].rstrip("/")
        inputs = _inputs(store, params["TransformInput"]["DataSource"]["S3DataSource"])
        if not inputs:
            source_uri = params["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
            raise TransformError(f'No S3 objects found under S3 URL "{source_uri}" given in input data source.')
        for uri, relative in inputs:
            target = staged / f"{relative}.out"
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                target.write_bytes(job.transform(store.get_bytes(uri)))
            except TransformError as exc:
                raise TransformError(f"{exc} (input object {uri})") from exc
        for _uri, relative in inputs:
            store.upload(staged / f"{relative}.out", f"{output_path}/{relative}.out")
        capture = (params.get("DataCaptureConfig") or {}).get("DestinationS3Uri")
        if capture:
            write_capture_manifests(store, str(capture), inputs, output_path)
    except _Stopped:
        return finish_job(records, "transform-job", name, "Stopped")
    except ModelServerError as exc:
        return finish_job(records, "transform-job", name, "Failed",
                          failure=f"AlgorithmError: the model server failed to start: {exc.reason}")
    except (TransformError, StoreError, OSError) as exc:
        return finish_job(records, "transform-job", name, "Failed",
                          failure=str(exc))
    except ServiceError as exc:
        message = ((exc.response or {}).get("Error") or {}).get("Message") or str(exc)
        return finish_job(records, "transform-job", name, "Failed",
                          failure=f"ClientError: {message}")
    finally:
        for job in jobs:
            job.close()
        if server is not None:
            stop_server(server.pid)
        if os.environ.get("STEPFN_KEEP_JOB_DIRS") is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return finish_job(records, "transform-job", name, "Completed")


__all__ = ["apply_filter", "batches", "line_payloads", "run_transform_job", "split_records",
           "write_capture_manifests"]
