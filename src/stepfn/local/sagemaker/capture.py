"""Endpoint data capture (an EndpointConfig's ``DataCaptureConfig``) as SageMaker writes it.

SageMaker's endpoint front end, not the model container, captures: each sampled InvokeEndpoint becomes one JSON
line ::

    {"captureData": {"endpointInput": {"observedContentType", "mode": "INPUT", "data", "encoding"},
                     "endpointOutput": {... "mode": "OUTPUT" ...}},
     "eventMetadata": {"eventId", "inferenceTime", "inferenceId"?}, "eventVersion": "0"}

and lines are gathered into files ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl``
(the hour folder and the file's first minute, second and millisecond in UTC). ``encoding`` is ``CSV`` for a
content type listed in ``CaptureContentTypeHeader.CsvContentTypes``, ``JSON`` for one in ``JsonContentTypes``,
and ``BASE64`` otherwise (also when no header is configured, or the body is not UTF-8).

Here :meth:`stepfn.local.sagemaker.endpoints.Endpoints.invoke` hands each sampled call to the process's
:class:`CaptureWriter`, which only appends the line to a buffer: a background thread writes the buffered lines
of each hour folder as one file a moment later (:data:`FLUSH_SECONDS`), so neither the object store nor the
disk is on the request path, and an invocation without capture pays nothing. The buffer is written when the
process exits, and :func:`flush_captures` writes it at once (a monitoring execution started in this process
calls it, so the calls just made are in the data it reads).
"""

from __future__ import annotations

import atexit
import base64
import json
import logging
import random
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stepfn.errors import StoreError
from stepfn.local.objectstore import ObjectStore

__all__ = ["FLUSH_SECONDS", "CaptureWriter", "capture_event", "capture_file_uri", "capture_writer", "encode_payload",
           "flush_captures", "sampled"]

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5
"""How long captured lines wait in memory before a file is written: calls within it share one file."""
_MAX_BUFFERED = 5000  # lines; past this the writer is woken at once instead of waiting out FLUSH_SECONDS


def capture_file_uri(destination: str, endpoint: str, variant: str, when: datetime, unique: str) -> str:
    """``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<unique>.jsonl`` for a file whose first
    record was captured at ``when`` (UTC)."""
    when = when.astimezone(UTC)
    return (f"{destination.rstrip('/')}/{endpoint}/{variant}/{when:%Y/%m/%d/%H}/"
            f"{when:%M-%S}-{when.microsecond // 1000:03d}-{unique}.jsonl")


def encode_payload(content: bytes, content_type: str | None, headers: dict[str, Any]) -> dict[str, str]:
    """``data`` and ``encoding`` of one captured body, as SageMaker picks the encoding."""
    kind = (content_type or "").split(";")[0].strip().lower()
    for encoding, key in (("CSV", "CsvContentTypes"), ("JSON", "JsonContentTypes")):
        if kind and kind in [str(t).lower() for t in headers.get(key) or []]:
            try:
                return {"data": content.decode("utf-8"), "encoding": encoding}
            except UnicodeDecodeError:
                break
    return {"data": base64.b64encode(content).decode("ascii"), "encoding": "BASE64"}


def sampled(config: dict[str, Any]) -> bool:
    """Whether this call is captured: capture enabled and the call falls inside InitialSamplingPercentage."""
    if not config.get("EnableCapture", True):
        return False
    return random.uniform(0, 100) < float(config.get("InitialSamplingPercentage", 0))


def capture_event(config: dict[str, Any], request: bytes, request_type: str | None, response: bytes,
                  response_type: str | None, when: datetime, inference_id: str | None = None) -> dict[str, Any]:
    """One capture line of a call, holding what ``CaptureOptions`` asks for."""
    modes = {option.get("CaptureMode") for option in config.get("CaptureOptions") or []}
    headers = config.get("CaptureContentTypeHeader") or {}
    data: dict[str, Any] = {}
    for mode, key, content, content_type in (("Input", "endpointInput", request, request_type),
                                             ("Output", "endpointOutput", response, response_type)):
        if mode in modes or "InputAndOutput" in modes:
            data[key] = {"observedContentType": content_type or "", "mode": mode.upper(),
                         **encode_payload(content, content_type, headers)}
    metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if inference_id:
        metadata["inferenceId"] = inference_id
    return {"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}


class CaptureWriter:
    """Capture lines buffered per hour folder and written as files by one background thread."""

    def __init__(self, flush_seconds: float = FLUSH_SECONDS, clock: Callable[[], datetime] | None = None) -> None:
        self.flush_seconds = flush_seconds
        self._clock = clock or (lambda: datetime.now(UTC))
        self._cond = threading.Condition()
        # (store root, destination, endpoint, variant, hour) -> (the store, first capture time, lines)
        self._pending: dict[tuple[str, str, str, str, str], tuple[ObjectStore, datetime, list[bytes]]] = {}
        self._count = 0
        self._thread: threading.Thread | None = None
        self._write_lock = threading.Lock()  # one writer at a time: flush() and the thread never split a batch

    def add(self, store: ObjectStore, destination: str, endpoint: str, variant: str, event: dict[str, Any],
            when: datetime) -> None:
        """Buffer one capture line; returns at once."""
        line = json.dumps(event, separators=(",", ":")).encode() + b"\n"
        key = (str(store.root), destination, endpoint, variant, f"{when.astimezone(UTC):%Y%m%d%H}")
        with self._cond:
            entry = self._pending.get(key)
            if entry is None:
                self._pending[key] = (store, when, [line])
            else:
                entry[2].append(line)
            self._count += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="stepfn-data-capture", daemon=True)
                self._thread.start()
            if self._count == 1 or self._count >= _MAX_BUFFERED:
                self._cond.notify()

    def flush(self) -> None:
        """Write every buffered line now."""
        with self._write_lock:
            with self._cond:
                batch, self._pending, self._count = self._pending, {}, 0
            for (_, destination, endpoint, variant, _), (store, first, lines) in batch.items():
                uri = capture_file_uri(destination, endpoint, variant, first, str(uuid.uuid4()))
                # As on SageMaker, capture is best effort: a store that cannot be written loses these lines and
                # never fails the calls that made them; the log says so, else a bad destination looks like no traffic.
                try:
                    store.put_bytes(uri, b"".join(lines))
                except (StoreError, OSError) as error:
                    logger.warning("data capture of endpoint %s lost %d records: %s", endpoint, len(lines), error)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._count > 0)
                if self._count < _MAX_BUFFERED:
                    # Gather the calls of the next moment into the same file.
                    self._cond.wait_for(lambda: self._count >= _MAX_BUFFERED, timeout=self.flush_seconds)
            self.flush()


_WRITER = CaptureWriter()
atexit.register(_WRITER.flush)


def capture_writer() -> CaptureWriter:
    """This process's writer."""
    return _WRITER


def flush_captures() -> None:
    """Write the calls this process captured and still holds in memory (they are otherwise written within
    :data:`FLUSH_SECONDS`, and at exit)."""
    _WRITER.flush()
