"""The console's handlers run off the event loop: a slow listing never holds up other requests."""

from __future__ import annotations

import http.client
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from stepfn.server import start_background


class _Paginator:
    def __init__(self, gate: threading.Event, entered: threading.Event) -> None:
        self.gate, self.entered = gate, entered

    def paginate(self, **params: Any) -> list[dict[str, Any]]:
        self.entered.set()
        assert self.gate.wait(60), "never released"
        return [{"stateMachines": [], "executions": []}]


class _SlowClient:
    """A Step Functions client whose listings wait until the test releases them (a store scanning 4,000
    executions, without the wait being a guess)."""

    def __init__(self) -> None:
        self.gate, self.entered = threading.Event(), threading.Event()

    def get_paginator(self, operation: str) -> _Paginator:
        return _Paginator(self.gate, self.entered)


def _get(url: str, path: str, token: str, timeout: float) -> tuple[int, bytes]:
    address = urlparse(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"X-Stepfn-Token": token})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_ping_answers_while_a_listing_is_in_progress(stepfn_home: Path) -> None:
    client = _SlowClient()
    server = start_background(stepfn_home, "secret", stepfunctions_client=client, ui=True)
    listing: list[tuple[int, bytes]] = []
    try:
        worker = threading.Thread(target=lambda: listing.append(_get(server.url, "/ui/api/executions", "secret", 60)))
        worker.start()
        assert client.entered.wait(30), "the listing never started"
        # The listing is parked inside its handler; the loop must still answer.
        assert _get(server.url, "/ping", "secret", 10)[0] == 200
        assert _get(server.url, "/ui/api/endpoints", "secret", 10)[0] == 200
        assert listing == []
        client.gate.set()
        worker.join(30)
        assert listing and listing[0] == (200, b"[]")
    finally:
        client.gate.set()
        server.stop()
