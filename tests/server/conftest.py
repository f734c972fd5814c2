"""A real uvicorn server on 127.0.0.1 (random port) running ``stepfn serve``'s app, in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from botocore.config import Config

from stepfn.server import attach_token, create_app


@contextmanager
def running_server(app: Any) -> Iterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="stepfn-serve-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture
def serve(stepfn_home: Path) -> Iterator[Callable[..., str]]:
    """``serve(token=None)`` starts the app for this test's ``$STEPFN_HOME`` and returns its URL."""
    stack: list[Any] = []

    def start(token: str | None = None, **options: Any) -> str:
        manager = running_server(create_app(stepfn_home, token, **options))
        stack.append(manager)
        return manager.__enter__()

    yield start
    for manager in reversed(stack):
        manager.__exit__(None, None, None)


@pytest.fixture
def make_client() -> Callable[..., Any]:
    """``make_client(service, url, token=None)``: a boto3 client for the server, no retries."""

    def build(service: str, url: str, token: str | None = None) -> Any:
        client = boto3.client(
            service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
            aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}, read_timeout=120),
        )
        return attach_token(client, token) if token else client

    return build
