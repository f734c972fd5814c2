"""The local web console: workflows, executions with live status, the graph coloured as it runs, the event
history, each state's input and output, job logs with metric curves, endpoints.

A Starlette app meant to be mounted at ``/ui`` next to the Step Functions API (``stepfn ui``). Everything is
served from this package (no CDN): one HTML page, one script, one stylesheet, and a JSON API under
``/ui/api`` that reads through the same client the API uses.
"""

from __future__ import annotations

from stepfn.server.ui.app import create_ui_app

__all__ = ["create_ui_app"]
