"""``serve``: a real uvicorn server on 127.0.0.1 (random port) running ``stepfn serve`` in a thread."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stepfn.server import BackgroundServer, create_server_client, start_background


@pytest.fixture
def serve(stepfn_home: Path) -> Iterator[Callable[..., str]]:
    """``serve(token=None, **options)`` starts the app for this test's ``$STEPFN_HOME`` and returns its URL.

    As ``stepfn serve`` does, it requires the home's token unless given another (or ``no_token=True``)."""
    servers: list[BackgroundServer] = []

    def start(token: str | None = None, **options: Any) -> str:
        servers.append(start_background(stepfn_home, token, **options))
        return servers[-1].url

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def make_client() -> Callable[..., Any]:
    """``make_client(service, url, token=None)``: a boto3 client for the server, with the home's token
    unless given another, as stepfn's own clients do."""

    def build(service: str, url: str, token: str | None = None) -> Any:
        return create_server_client(service, url, token=token)

    return build
