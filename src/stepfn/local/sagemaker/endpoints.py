"""Local endpoints: CreateEndpoint / UpdateEndpoint / DeleteEndpoint, model server processes, InvokeEndpoint.

An endpoint is a model server process (``inference.py``) on 127.0.0.1, started in its own session so it
outlives the Task that created it and the Python process that ran the workflow. The DescribeEndpoint record
lives in the record store; the process (pid, port) in ``<home>/sagemaker/servers/<endpoint>.json``, so any
later process can invoke, list or stop it. UpdateEndpoint starts a server for the new config, then retires
the old one (a blue/green swap, as SageMaker does); if the new one fails, the old one keeps serving and the
record keeps the failure reason, as after SageMaker's rollback.

Python API (the sagemaker-runtime shapes): :func:`invoke_endpoint`, :func:`list_endpoints`,
:func:`stop_endpoint`, :func:`delete_endpoint`.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from stepfn.errors import ServiceError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker import forkserver
from stepfn.local.sagemaker.jobprocess import append_log
from stepfn.local.sagemaker.models import prepare_variant
from stepfn.local.sagemaker.records import RecordStore, arn, check_name, now_millis, sagemaker_error
from stepfn.store import Owner

STARTUP_TIMEOUT = float(os.environ.get("STEPFN_MODEL_SERVER_STARTUP_TIMEOUT", "120"))
_SERVER_MODULE = "stepfn.local.sagemaker.modelserver"
# Popen objects of servers this process started, so stopping one also reaps it (no zombie left behind).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ModelServer:
    """A running model server process; ``start`` (its start time in clock ticks) tells it from a recycled pid."""

    pid: int
    port: int
    start: str | None = None
    pipelining: bool = False
    """Whether it is stepfn's own server, which answers pipelined requests in order (a registered image's
    command may not)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "port": self.port, "url": self.url, "start": self.start}


class ModelServerError(Exception):
    """The model server did not come up; ``reason`` is what SageMaker would show as FailureReason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _ping(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/ping")
            return connection.getresponse().status == 200
        finally:
            connection.close()
    except OSError:
        return False


def start_model_server(
    variants: list[dict[str, Any]],
    workdir: Path,
    log_path: Path,
    *,
    environment: dict[str, str] | None = None,
    batch: dict[str, Any] | None = None,
    workers: int = 1,
) -> ModelServer:
    """Start a model server for ``variants`` and wait until it answers; raises ModelServerError otherwise.

    ``variants`` is ``[{"VariantName", "Weight", "Containers": [prepare_container() spec, ...]}]``. The server is
    ``inference.py``, or, for an image registered with a local command, that command with ``serve`` appended
    (as ``docker run <image> serve``), ``SAGEMAKER_BIND_TO_PORT`` set and the model at
    ``$SAGEMAKER_BASE_DIR/model``. The process environment is this one's, plus every container's Environment
    (the first container wins on conflicts, the container reads its own), plus ``environment``.
    ``workers`` processes serve (``SAGEMAKER_MODEL_SERVER_WORKERS`` in that environment overrides it, as in
    the framework containers).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for variant in reversed(variants):
        for container in reversed(variant["Containers"]):
            env.update(container.get("Environment") or {})
    env.update(environment or {})
    env.setdefault("PYTHONUNBUFFERED", "1")
    commands = [c for v in variants for c in v["Containers"] if c.get("Command")]
    ready = workdir / f"ready-{uuid.uuid4().hex}.json"
    if commands:
        if len(variants) != 1 or len(variants[0]["Containers"]) != 1:
            raise ModelServerError("An image registered with a local command serves only a single-container, "
                                   "single-variant model.")
        port = _free_port()
        model_dir = commands[0]["ModelDir"]
        env.update({"SAGEMAKER_BIND_TO_PORT": str(port), "SM_MODEL_DIR": model_dir,
                    "SAGEMAKER_BASE_DIR": str(Path(model_dir).parent)})
        argv = list(commands[0]["Command"])
    else:
        try:
            workers = int(env.get("SAGEMAKER_MODEL_SERVER_WORKERS") or workers)
        except ValueError as exc:
            raise ModelServerError(f"SAGEMAKER_MODEL_SERVER_WORKERS must be a number: {exc}") from exc
        spec = {"variants": variants, "ready_file": str(ready), "port": 0, "batch": batch or {}, "workers": workers}
        spec_path = workdir / "server.json"
        spec_path.write_text(json.dumps(spec, indent=1))
        # The child must import this very stepfn, even when it runs from a source tree that is not installed.
        package_root = str(Path(__file__).resolve().parents[3])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        argv = [sys.executable, "-m", _SERVER_MODULE, str(spec_path)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # stepfn's own server is forked from a warm interpreter where one can be (forkserver.py); a registered
    # image's command, or a fork server that cannot start, gets a process of its own.
    pid = None if commands else forkserver.spawn(workdir / "server.json", env, workdir, log_path)
    if pid is None:
        try:
            with log_path.open("ab") as log:
                # Its own session: a detached endpoint outlives this process, and the group stops as one.
                process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                           env=env, cwd=str(workdir), start_new_session=True)
        except OSError as exc:
            raise ModelServerError(f"cannot start the model server {argv[0]}: {exc}") from exc
        pid = process.pid
        _CHILDREN[pid] = process
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if commands and _ping(port):
            return ModelServer(pid, port, _started(pid))
        if ready.exists():
            answer = json.loads(ready.read_text())
            ready.unlink(missing_ok=True)
            if "error" in answer:
                _wait_gone(pid, 30)
                raise ModelServerError(_failure_reason(answer["error"], log_path))
            return ModelServer(pid, int(answer["port"]), _started(pid), pipelining=True)
        if not _alive(pid):
            child = _CHILDREN.pop(pid, None)
            code = child.returncode if child is not None else "unknown"
            raise ModelServerError(_failure_reason(f"model server exited with code {code}", log_path))
        time.sleep(0.005)
    stop_server(pid)
    raise ModelServerError(f"The model server did not pass the ping health check within {STARTUP_TIMEOUT:.0f} seconds.")


def _wait_gone(pid: int, timeout: float) -> None:
    """Until the process has exited (reaped, when this process started it)."""
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait(timeout=timeout)
        return
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.005)


def _failure_reason(error: str, log_path: Path) -> str:
    tail = log_path.read_text(errors="replace").strip().splitlines()[-8:] if log_path.exists() else []
    reason = error if not tail else f"{error}\n" + "\n".join(tail)
    return reason[:1024]


def _started(pid: int) -> str | None:
    """The start time that tells process ``pid`` from a later one given the same pid (None where unknown)."""
    return Owner.of_pid(pid).started or None


def _alive(pid: int, start: str | None = None) -> bool:
    """Whether the server process lives: as the store tells a live owner (the pid, its start time when known,
    not a zombie: a server stopped by another process but not reaped by the one that started it)."""
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    return Owner(socket.gethostname(), pid, start or "").seems_alive() is True


def stop_server(pid: int, start: str | None = None, *, grace: float = 5.0) -> None:
    """SIGTERM the server's process group, SIGKILL after ``grace`` seconds; reaps it when this process started it."""
    if not _alive(pid, start):
        _CHILDREN.pop(pid, None)
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _alive(pid, start):
        time.sleep(0.005)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)  # whatever the server left in its group (workers of a registered command)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait(timeout=grace)


class _OneWriteConnection(http.client.HTTPConnection):
    """An HTTPConnection that sends a request's head and a bytes body in one write. http.client writes them
    apart, so the server wakes twice per request (once for the head, once for the body); on a busy machine
    each wake-up waits its turn for a CPU, which cost more than the prediction."""

    def _send_output(self, message_body: Any = None, encode_chunked: bool = False) -> None:
        if isinstance(message_body, bytes | bytearray) and not encode_chunked:
            self._buffer.extend((b"", b""))  # type: ignore[attr-defined]
            head = b"\r\n".join(self._buffer)  # type: ignore[attr-defined]
            del self._buffer[:]  # type: ignore[attr-defined]
            self.send(head + message_body)
            return
        super()._send_output(message_body, encode_chunked)  # type: ignore[misc]


class ModelClient:
    """One keep-alive connection to a model server, as a SageMaker predictor's or a load tester's: requests
    reuse it instead of paying a TCP handshake each. Not thread safe: one per thread."""

    def __init__(self, server_url: str, timeout: float = 60.0) -> None:
        host, _, port = server_url.removeprefix("http://").partition(":")
        self.url = server_url
        self._address = (host, int(port))
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None
        self._pipe: socket.socket | None = None
        self._pipe_reader: BinaryIO | None = None

    def post(self, path: str, body: bytes, headers: dict[str, str], *, timeout: float | None = None) -> tuple[int, dict[str, str], bytes]:
        """POST ``body``; returns (status, lower-cased headers, body). A reused connection the server closed
        meanwhile (it closed an idle connection, or restarted) is replaced and the request sent once more, as
        urllib3's pools do; any other failure is an OSError."""
        wait = self._timeout if timeout is None else timeout
        while True:
            reused = self._connection is not None
            if self._connection is None:
                self._connection = _OneWriteConnection(*self._address, timeout=wait)
            connection = self._connection
            if connection.sock is not None:
                connection.sock.settimeout(wait)
            connection.timeout = wait
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if reused:
                    continue
                raise ConnectionError(f"{self.url} closed the connection: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if isinstance(exc, OSError):
                    raise
                raise ConnectionError(f"{self.url} answered with a malformed response: {exc}") from exc
            if response.will_close:
                self.close()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, payload

    def post_many(self, path: str, bodies: list[bytes], headers: dict[str, str]) -> list[tuple[int, dict[str, str], bytes]]:
        """POST each of ``bodies`` in one write and read the answers in order (HTTP/1.1 pipelining): one
        round trip for the lot instead of one each. For servers that answer pipelined requests in order
        (:attr:`ModelServer.pipelining`). Keep the requests under :data:`PIPELINE_BYTES` together: the server
        must be able to buffer them all while its own answers wait to be read, or both sides would block
        writing. Any failure closes the connection and is a ConnectionError (nothing is retried here)."""
        try:
            if self._pipe is None:
                self._pipe = socket.create_connection(self._address, timeout=self._timeout)
                self._pipe.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._pipe_reader = self._pipe.makefile("rb")
            head = f"POST {path} HTTP/1.1\r\nHost: {self._address[0]}:{self._address[1]}\r\n" + "".join(
                f"{name}: {value}\r\n" for name, value in headers.items())
            prefix = head.encode("latin-1")
            self._pipe.sendall(b"".join(b"%sContent-Length: %d\r\n\r\n%s" % (prefix, len(body), body) for body in bodies))
            return [self._read_answer() for _ in bodies]
        except (OSError, ValueError) as exc:
            self._close_pipe()
            raise ConnectionError(f"{self.url}: pipelined requests failed: {exc}") from exc

    def _read_answer(self) -> tuple[int, dict[str, str], bytes]:
        assert self._pipe_reader is not None
        status_line = self._pipe_reader.readline(65537)
        if not status_line:
            raise ValueError("the server closed the connection")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = self._pipe_reader.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise ValueError("a pipelined answer without Content-Length")
        length = int(headers["content-length"])
        body = self._pipe_reader.read(length)
        if len(body) < length:
            raise ValueError("the server closed the connection inside an answer")
        return status, headers, body

    def _close_pipe(self) -> None:
        if self._pipe_reader is not None:
            self._pipe_reader.close()
            self._pipe_reader = None
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None

    def close(self) -> None:
        self._close_pipe()
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# The most request bytes sent down one pipelined connection before the answers are read: well under the
# receive buffer a loopback socket starts with (128 KiB), so the server can take them all in even while its
# own answers wait to be read.
PIPELINE_BYTES = 64 * 1024


class _ThreadClients(dict[str, ModelClient]):
    """A thread's clients, closed when the thread ends (an unclosed socket would only be reclaimed by the GC)."""

    LIMIT = 16

    def client(self, server_url: str) -> ModelClient:
        found = self.get(server_url)
        if found is None:
            if len(self) >= self.LIMIT:  # servers come and go (one per transform job): drop the oldest
                self.pop(next(iter(self))).close()
            found = self[server_url] = ModelClient(server_url)
        return found

    def __del__(self) -> None:
        for client in self.values():
            client.close()


_LOCAL = threading.local()


def post(server_url: str, path: str, body: bytes, headers: dict[str, str], *, timeout: float = 60.0) -> tuple[int, dict[str, str], bytes]:
    """One HTTP POST to a model server over this thread's keep-alive :class:`ModelClient`; returns (status,
    lower-cased headers, body)."""
    clients: _ThreadClients = _LOCAL.__dict__.setdefault("clients", _ThreadClients())
    return clients.client(server_url).post(path, body, headers, timeout=timeout)


# -- endpoints ----------------------------------------------------------------------------------------------


class Endpoints:
    """Endpoint operations against one ``$STEPFN_HOME``."""

    def __init__(self, home: Path | str | None = None, store: ObjectStore | None = None) -> None:
        self.records = RecordStore(home)
        self.store = store if store is not None else ObjectStore(self.records.home / "s3")
        self.servers = self.records.base / "servers"

    def _server_file(self, name: str) -> Path:
        self.records.path("endpoint", name)  # validates the name before it becomes a file name
        return self.servers / f"{name}.json"

    def server(self, name: str) -> ModelServer | None:
        """The live server of endpoint ``name``, or None."""
        try:
            info = json.loads(self._server_file(name).read_text())
        except (OSError, ValueError):
            return None
        server = ModelServer(int(info["pid"]), int(info["port"]), info.get("start"))
        return server if _alive(server.pid, server.start) else None

    def _save_server(self, name: str, server: ModelServer | None) -> None:
        path = self._server_file(name)
        if server is None:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(server.to_json()))
        partial.replace(path)

    def _deploy(self, name: str, config_name: str, generation: str, operation: str) -> tuple[ModelServer, list[dict[str, Any]]]:
        config = self.records.get("endpoint-config", config_name)
        if config is None:
            raise sagemaker_error(
                operation, "ValidationException",
                f'Could not find endpoint configuration "{arn("endpoint-config", config_name)}".',
            )
        workdir = self.records.base / "work" / "endpoint" / name / generation
        variants = []
        summaries = []
        for variant in config["ProductionVariants"]:
            containers = prepare_variant(
                self.records, self.store, variant["ModelName"], workdir / variant["VariantName"], operation=operation,
                progress=functools.partial(append_log, self.records.log_path("endpoint", name)),
            )
            weight = float(variant.get("InitialVariantWeight", 1.0))
            count = int(variant.get("InitialInstanceCount", 1))
            variants.append({"VariantName": variant["VariantName"], "Weight": weight, "Containers": containers})
            stamp = now_millis()
            summaries.append({
                "VariantName": variant["VariantName"],
                "DeployedImages": [
                    {"SpecifiedImage": c["Image"], "ResolvedImage": c["Image"], "ResolutionTime": stamp}
                    for c in containers if c.get("Image")
                ],
                "CurrentWeight": weight, "DesiredWeight": weight,
                "CurrentInstanceCount": count, "DesiredInstanceCount": count,
            })
        # One process serves every variant, so it has as many workers as the largest variant has instances.
        workers = max((s["CurrentInstanceCount"] for s in summaries), default=1)
        server = start_model_server(variants, workdir, self.records.log_path("endpoint", name), workers=workers)
        return server, summaries

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateEndpoint. Unlike SageMaker it returns once the endpoint is InService (or Failed), so the next
        state can invoke it at once; the response is still just ``{"EndpointArn"}``."""
        operation = "CreateEndpoint"
        name = check_name("endpoint", params.get("EndpointName"), operation, "EndpointName")
        config_name = params.get("EndpointConfigName")
        if not config_name:
            raise sagemaker_error(operation, "ValidationException",
                                  "1 validation error detected: Value null at 'endpointConfigName' failed to "
                                  "satisfy constraint: Member must not be null")
        if self.records.get("endpoint-config", config_name) is None:
            raise sagemaker_error(
                operation, "ValidationException",
                f'Could not find endpoint configuration "{arn("endpoint-config", config_name)}".',
            )
        endpoint_arn = arn("endpoint", name)
        stamp = now_millis()
        self.records.create("endpoint", name, {
            "EndpointName": name, "EndpointArn": endpoint_arn, "EndpointConfigName": config_name,
            "EndpointStatus": "Creating", "CreationTime": stamp, "LastModifiedTime": stamp,
        }, operation=operation)
        try:
            server, summaries = self._deploy(name, config_name, uuid.uuid4().hex[:8], operation)
        except (ModelServerError, ServiceError) as exc:
            self.records.update("endpoint", name, EndpointStatus="Failed", FailureReason=_reason(exc))
            return {"EndpointArn": endpoint_arn}
        self._in_service(name, server, ProductionVariants=summaries)
        return {"EndpointArn": endpoint_arn}

    def update(self, params: dict[str, Any]) -> dict[str, Any]:
        """UpdateEndpoint: serve the new config, then retire the old server (blue/green)."""
        operation = "UpdateEndpoint"
        name = check_name("endpoint", params.get("EndpointName"), operation, "EndpointName")
        record = self.records.require("endpoint", name, operation)
        if record["EndpointStatus"] not in ("InService", "Failed", "OutOfService"):
            raise sagemaker_error(
                operation, "ValidationException",
                f'Cannot update in-progress endpoint "{record["EndpointArn"]}".',
            )
        config_name = params.get("EndpointConfigName") or ""
        old = self.server(name)
        self.records.update("endpoint", name, EndpointStatus="Updating")
        try:
            server, summaries = self._deploy(name, config_name, uuid.uuid4().hex[:8], operation)
        except ServiceError:
            self.records.update("endpoint", name, EndpointStatus=record["EndpointStatus"])
            raise
        except ModelServerError as exc:
            # SageMaker rolls back: the old variants keep serving and the reason is kept.
            self.records.update("endpoint", name, EndpointStatus=record["EndpointStatus"], FailureReason=_reason(exc))
            return {"EndpointArn": record["EndpointArn"]}
        self._save_server(name, server)
        if old is not None:
            stop_server(old.pid, old.start)
        record = self._in_service(name, server, EndpointConfigName=config_name, ProductionVariants=summaries)
        return {"EndpointArn": record["EndpointArn"]}

    def delete(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteEndpoint: stop the server and drop the record (the response is empty, as SageMaker's)."""
        operation = "DeleteEndpoint"
        name = check_name("endpoint", params.get("EndpointName"), operation, "EndpointName")
        self.records.require("endpoint", name, operation)
        self.stop(name)
        self.records.delete("endpoint", name)
        return {}

    def stop(self, name: str) -> bool:
        """Stop the endpoint's server and mark it OutOfService; True if a server was running."""
        server = self.server(name)
        if server is not None:
            stop_server(server.pid, server.start)
        self._save_server(name, None)
        if self.records.get("endpoint", name) is not None:
            self.records.update("endpoint", name, EndpointStatus="OutOfService")
        return server is not None

    def start(self, name: str) -> dict[str, Any]:
        """Serve a stopped (OutOfService) or Failed endpoint again from its endpoint config; returns its record."""
        record = self.records.require("endpoint", name, "StartEndpoint")
        if self.server(name) is not None:
            return record
        try:
            server, summaries = self._deploy(name, record["EndpointConfigName"], uuid.uuid4().hex[:8], "StartEndpoint")
        except (ModelServerError, ServiceError) as exc:
            return self.records.update("endpoint", name, EndpointStatus="Failed", FailureReason=_reason(exc))
        return self._in_service(name, server, ProductionVariants=summaries)

    def _in_service(self, name: str, server: ModelServer, **changes: Any) -> dict[str, Any]:
        """Record the serving process and mark the endpoint InService (a past failure reason no longer applies)."""
        self._save_server(name, server)
        record = self.records.update("endpoint", name, EndpointStatus="InService", **changes)
        record.pop("FailureReason", None)
        config = self.records.get("endpoint-config", record["EndpointConfigName"]) or {}
        capture = config.get("DataCaptureConfig")
        record.pop("DataCaptureConfig", None)
        if capture:
            enabled = bool(capture.get("EnableCapture", True))
            record["DataCaptureConfig"] = {
                "EnableCapture": enabled, "CaptureStatus": "Started" if enabled else "Stopped",
                "CurrentSamplingPercentage": int(capture.get("InitialSamplingPercentage", 0)),
                "DestinationS3Uri": capture.get("DestinationS3Uri", ""), "KmsKeyId": capture.get("KmsKeyId", ""),
            }
        self.records.put("endpoint", name, record)
        return record

    def describe(self, name: str) -> dict[str, Any]:
        """DescribeEndpoint; an InService endpoint whose server died reads OutOfService."""
        record = self.records.require("endpoint", name, "DescribeEndpoint")
        if record["EndpointStatus"] == "InService" and self.server(name) is None:
            record = self.records.update("endpoint", name, EndpointStatus="OutOfService")
        return record

    def list(self) -> list[dict[str, Any]]:
        """ListEndpoints' EndpointSummary items, plus ``Url`` and ``Pid`` of the live server (None when down)."""
        summaries = []
        for record in self.records.list("endpoint"):
            record = self.describe(record["EndpointName"])
            server = self.server(record["EndpointName"])
            summaries.append({
                "EndpointName": record["EndpointName"], "EndpointArn": record["EndpointArn"],
                "CreationTime": record["CreationTime"], "LastModifiedTime": record["LastModifiedTime"],
                "EndpointStatus": record["EndpointStatus"],
                "Url": server.url if server else None, "Pid": server.pid if server else None,
            })
        return summaries

    def invoke(
        self,
        EndpointName: str,
        Body: bytes | str | io.IOBase,
        ContentType: str | None = None,
        Accept: str | None = None,
        CustomAttributes: str | None = None,
        TargetVariant: str | None = None,
        InferenceId: str | None = None,
    ) -> dict[str, Any]:
        """sagemaker-runtime InvokeEndpoint: ``{"Body": StreamingBody, "ContentType", "InvokedProductionVariant"}``."""
        operation = "InvokeEndpoint"
        record = self.records.get("endpoint", EndpointName) if isinstance(EndpointName, str) else None
        if record is None:
            raise _runtime_error(operation, "ValidationError",
                                 f"Endpoint {EndpointName} of account {arn('endpoint', 'x').split(':')[4]} not found.")
        server = self.server(EndpointName)
        if record["EndpointStatus"] not in ("InService", "Updating") or server is None:
            raise _runtime_error(operation, "ValidationError",
                                 f"Endpoint {EndpointName} is not in service (status {record['EndpointStatus']}).")
        payload = Body.encode() if isinstance(Body, str) else Body.read() if hasattr(Body, "read") else bytes(Body)
        headers = {}
        if ContentType:
            headers["Content-Type"] = ContentType
        if Accept:
            headers["Accept"] = Accept
        if CustomAttributes:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = CustomAttributes
        if TargetVariant:
            headers["X-Amzn-SageMaker-Target-Variant"] = TargetVariant
        try:
            status, response_headers, body = post(server.url, "/invocations", payload, headers)
        except OSError as exc:
            raise _runtime_error(operation, "ModelNotReadyException", f"Endpoint {EndpointName} did not answer: {exc}") from exc
        # A registered image's own server does not name the variant; the endpoint's first one answered.
        variant = response_headers.get("x-amzn-invoked-production-variant") or next(
            (v["VariantName"] for v in record.get("ProductionVariants") or []), "")
        if status >= 400:
            kind = "client" if status < 500 else "server"
            raise _runtime_error(
                operation, "ModelError",
                f'Received {kind} error ({status}) from primary with message "{body.decode(errors="replace")}". '
                f"See the endpoint log at {self.records.log_path('endpoint', EndpointName)} for more information.",
                status=424, original_status=status,
            )
        self._capture(record, variant, payload, ContentType, body, response_headers.get("content-type"), InferenceId)
        from botocore.response import StreamingBody

        result: dict[str, Any] = {
            "ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": str(uuid.uuid4())},
            "ContentType": response_headers.get("content-type", "application/json"),
            "InvokedProductionVariant": variant,
            "Body": StreamingBody(io.BytesIO(body), len(body)),
        }
        if "x-amzn-sagemaker-custom-attributes" in response_headers:
            result["CustomAttributes"] = response_headers["x-amzn-sagemaker-custom-attributes"]
        return result


    def _capture(self, record: dict[str, Any], variant: str, request: bytes, request_type: str | None,
                 response: bytes, response_type: str | None, inference_id: str | None) -> None:
        """Hand a sampled call to the capture writer (:mod:`stepfn.local.sagemaker.capture`), which writes it
        off the request path. The endpoint record says whether capture is on, so a call without it reads nothing."""
        if not (record.get("DataCaptureConfig") or {}).get("EnableCapture"):
            return
        from stepfn.local.sagemaker import capture

        key = (str(self.records.base), record["EndpointConfigName"], record.get("LastModifiedTime"))
        config = _CAPTURE_CONFIGS.get(key)
        if config is None:
            found = self.records.get("endpoint-config", record["EndpointConfigName"]) or {}
            config = _CAPTURE_CONFIGS[key] = found.get("DataCaptureConfig") or {}
        if not config or not capture.sampled(config):
            return
        now = datetime.now(UTC)
        event = capture.capture_event(config, request, request_type, response, response_type, now, inference_id)
        capture.capture_writer().add(self.store, config["DestinationS3Uri"], record["EndpointName"], variant, event, now)


# An endpoint's DataCaptureConfig, by (records, endpoint config, endpoint's LastModifiedTime): read once per
# endpoint version instead of once per captured call.
_CAPTURE_CONFIGS: dict[tuple[str, str, Any], dict[str, Any]] = {}


def _reason(error: Exception) -> str:
    if isinstance(error, ModelServerError):
        return error.reason
    response = getattr(error, "response", None) or {}
    return str((response.get("Error") or {}).get("Message") or error)[:1024]


def _runtime_error(operation: str, code: str, message: str, *, status: int = 400, original_status: int | None = None) -> ServiceError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    if original_status is not None:
        response["OriginalStatusCode"] = original_status
    return ServiceError(
        f"An error occurred ({code}) when calling the {operation} operation: {message}",
        integration="sagemaker-runtime", operation=operation, error=code, response=response,
    )


def invoke_endpoint(
    EndpointName: str,
    Body: bytes | str | io.IOBase,
    ContentType: str | None = None,
    Accept: str | None = None,
    *,
    CustomAttributes: str | None = None,
    TargetVariant: str | None = None,
    InferenceId: str | None = None,
    home: Path | str | None = None,
) -> dict[str, Any]:
    """Invoke a local endpoint as ``boto3.client("sagemaker-runtime").invoke_endpoint`` would.

    Failures raise :class:`stepfn.errors.ServiceError` whose ``error`` is the runtime's code
    (``ValidationError`` for an unknown or stopped endpoint, ``ModelError`` when the model answers 4xx/5xx).
    """
    return Endpoints(home).invoke(EndpointName, Body, ContentType, Accept, CustomAttributes, TargetVariant, InferenceId)


def list_endpoints(home: Path | str | None = None) -> list[dict[str, Any]]:
    """Every local endpoint: ListEndpoints' summary members plus ``Url`` and ``Pid`` of its live server."""
    return Endpoints(home).list()


def stop_endpoint(name: str, home: Path | str | None = None) -> bool:
    """Stop the endpoint's server process (the record stays, OutOfService); True if one was running."""
    return Endpoints(home).stop(name)


def start_endpoint(name: str, home: Path | str | None = None) -> dict[str, Any]:
    """Serve a stopped endpoint again (after :func:`stop_endpoint` or a reboot); returns its DescribeEndpoint record."""
    return Endpoints(home).start(name)


def delete_endpoint(name: str, home: Path | str | None = None) -> None:
    """Stop the endpoint's server and forget the endpoint (DeleteEndpoint)."""
    Endpoints(home).delete({"EndpointName": name})


__all__ = [
    "Endpoints",
    "ModelClient",
    "ModelServer",
    "ModelServerError",
    "delete_endpoint",
    "invoke_endpoint",
    "list_endpoints",
    "post",
    "start_endpoint",
    "start_model_server",
    "stop_endpoint",
    "stop_server",
]
