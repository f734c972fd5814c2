"""A model's handler chain in its framework environment: the model server's side of the handler host.

A container spec with a ``Python`` (set by ``models.prepare_container`` when the image's framework environment
is not stepfn's own Python, by the rule jobs use: ``envs.environment_for_image``) is served by a
:class:`HostedContainer`: the model server keeps the HTTP transport and starts
:mod:`stepfn.local.sagemaker.handlerhost` (a standalone file) with that interpreter, which loads the model
once and answers invocations over its stdin/stdout. Each model-server worker loads its models itself, so
each has its own host. A host that dies is started again on the next request; the request it died on gets a
500, as a crashing handler's request does in the container.

The requests a worker reads in one round go to its host in one frame (``invoke_batch``): one pipe round trip
for the round instead of one per request (each a write and a wake-up of the host and of the worker). The host
answers each as alone, sharing one ``predict`` only where stepfn's own server would (the framework's
``predict_fn`` and a scikit-learn classifier: ``handlerhost.Chain.invoke_many``); a user's ``predict_fn`` still
sees each request as sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

from stepfn.local.sagemaker import handlerhost
from stepfn.local.sagemaker.inference import InferenceError, Request
from stepfn.local.sagemaker.toolkits import paths_for

HOST_FILE = Path(handlerhost.__file__).resolve()


class HandlerHostError(InferenceError):
    """A failure inside the handler host; ``remote_traceback`` is its traceback there."""

    def __init__(self, message: str, status: int, remote_traceback: str) -> None:
        super().__init__(message, status)
        self.remote_traceback = remote_traceback
        if remote_traceback:
            # traceback.print_exception (the server's log of a failed request) shows where it failed in the host.
            self.add_note(f"In the handler host:\n{remote_traceback.rstrip()}")


def _error(fields: list[bytes]) -> HandlerHostError:
    status = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 500
    message = fields[2].decode("utf-8", "replace") if len(fields) > 2 else "the handler host failed"
    remote = fields[3].decode("utf-8", "replace") if len(fields) > 3 else ""
    return HandlerHostError(message, status, remote)


def host_environment(spec: dict[str, Any]) -> dict[str, str]:
    """The host's environment: the server's (the containers' Environment is in it), without stepfn's Python
    path, which would shadow the image's packages; the requirements layer, if any, on the path instead."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    if spec.get("PythonPath"):
        env["PYTHONPATH"] = str(spec["PythonPath"])
    env["PYTHONUNBUFFERED"] = "1"
    return env


class HostedContainer:
    """The handler chain of one container, run by a handler host subprocess (the in-process one is
    ``inference.Container``; the model server calls both through ``invoke``/``invoke_batch``)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self.spec_file = Path(spec["ModelDir"]).parent / f"handler-host-{os.getpid()}.json"

    @classmethod
    def load(cls, spec: dict[str, Any]) -> HostedContainer:
        container = cls(spec)
        container.start()
        return container

    def start(self) -> None:
        """Start the host and wait until it has loaded the model; its load error (with its traceback) raises."""
        host_spec = {key: self.spec.get(key) for key in ("ModelDir", "CodeDir", "Program", "Framework")}
        host_spec["Toolkits"] = paths_for(self.spec.get("Framework"))  # the image's toolkit packages, if it ships any
        self.spec_file.write_text(json.dumps(host_spec))
        try:
            # Same process group as the server: stopping the endpoint stops its hosts too.
            self.process = subprocess.Popen([str(self.spec["Python"]), str(HOST_FILE), str(self.spec_file)],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            env=host_environment(self.spec), cwd=str(self.spec["ModelDir"]))
        except OSError as exc:
            raise InferenceError(f"cannot start the handler host with {self.spec['Python']}: {exc}") from exc
        fields = self._read()
        if fields is None or fields[0] != b"ready":
            error = _error(fields) if fields is not None else None
            self.close()
            if error is None:
                raise InferenceError("the handler host exited while loading the model (its output is in this log)")
            raise InferenceError(f"{error} (while loading the model in {self.spec['Python']})\n"
                                 f"{error.remote_traceback}", error.status)

    def _read(self) -> list[bytes] | None:
        assert self.process is not None and self.process.stdout is not None
        try:
            return handlerhost.read_frame(self.process.stdout)
        except EOFError:
            return None

    def close(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the host exits at the end of its requests
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def _exchange(self, frame: list[bytes]) -> list[bytes]:
        """Send ``frame`` to the host (started first if it is not running) and read its answer; a host that
        dies meanwhile raises :class:`_HostExited`, and the next exchange starts a new one."""
        if self.process is None or self.process.poll() is not None:
            self.close()
            self.start()
        assert self.process is not None and self.process.stdin is not None
        try:
            handlerhost.write_frame(self.process.stdin, frame)
            fields = self._read()
        except OSError:  # the host is gone: broken pipe
            fields = None
        if fields is None:
            try:  # its end of the pipe closes just before it exits: wait to learn how it ended
                code: int | None = self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            self.close()
            raise _HostExited(f"the handler host exited (code {code}) while answering this request; "
                              "it starts again for the next one")
        return fields

    def invoke(self, body: bytes, content_type: str | None, accept: str | None,
               custom_attributes: str | None = None) -> tuple[bytes, str]:
        with self.lock:
            return _answer(self._exchange([b"invoke", *_request_fields((body, content_type, accept,
                                                                        custom_attributes))]))

    def invoke_batch(self, requests: list[Request]) -> list[tuple[bytes, str] | BaseException]:
        """Each request's answer or error, as :meth:`invoke` gives it alone, from one exchange with the host.

        If the host dies on the batch, each of its requests is sent again alone: the one that killed it fails
        (taking that host with it, as it would have alone), the others are answered by the host started after."""
        if len(requests) == 1:
            return [handlerhost.attempt(self.invoke, *requests[0])]
        frame = [b"batch"]
        for request in requests:
            frame.extend(_request_fields(request))
        with self.lock:
            try:
                fields: list[bytes] | None = self._exchange(frame)
            except _HostExited:
                fields = None
        if fields is None:  # (outside the lock: invoke takes it)
            return [handlerhost.attempt(self.invoke, *request) for request in requests]
        if not fields or fields[0] != b"answers" or len(fields) != 1 + 4 * len(requests):
            error = _error(fields) if fields and fields[0] == b"error" else InferenceError(
                "the handler host answered a batch with a malformed frame")
            return [error] * len(requests)
        return [handlerhost.attempt(_answer, fields[index:index + 4]) for index in range(1, len(fields), 4)]


class _HostExited(InferenceError):
    """The host died while it had the request."""


def _request_fields(request: Request) -> list[bytes]:
    body, content_type, accept, custom_attributes = request
    return [(content_type or "").encode("latin-1"), (accept or "").encode("latin-1"), body,
            (custom_attributes or "").encode("latin-1")]


def _answer(fields: list[bytes]) -> tuple[bytes, str]:
    """An ``ok`` answer's body and content type (a batch's answers carry a fourth, empty field); an error
    answer raises it."""
    if fields and fields[0] == b"ok" and len(fields) in (3, 4):
        return fields[2], fields[1].decode("latin-1")
    raise _error(fields)


__all__ = ["HOST_FILE", "HandlerHostError", "HostedContainer", "host_environment"]
