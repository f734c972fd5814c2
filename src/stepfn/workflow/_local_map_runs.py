"""Map Runs on the local client: recording the engine's distributed Map runs, and the Map Run APIs.

The journal the runner gives each execution (:class:`~stepfn.workflow._local_runs.MapRunJournal`) is also the engine's
:class:`~stepfn.engine.map.MapRunObserver`: a distributed Map's run becomes a ``map_runs`` row, each child
execution an ``executions`` row (with ``map_run_arn``) whose history goes to its own journal, so
DescribeExecution and GetExecutionHistory work on children as on AWS. Counts by status are read from
the children's rows. UpdateMapRun writes the row and, for a run of this process, changes the live
:class:`~stepfn.engine.map.MapRun` at once; a run of another process picks the change up from the store
(the runner's poller).
"""

from __future__ import annotations

from typing import Any

from stepfn.store import MapRunRecord
from stepfn.workflow import _local_api as api
from stepfn.workflow._local_base import LocalClientBase, build_page
from stepfn.workflow._local_runs import apply_settings

_COUNTED = (("running", "RUNNING"), ("succeeded", "SUCCEEDED"), ("failed", "FAILED"), ("timedOut", "TIMED_OUT"),
            ("aborted", "ABORTED"))


def _counts(record: MapRunRecord, by_status: dict[str, tuple[int, int]], which: int) -> dict[str, int]:
    """MapRunExecutionCounts (``which`` 0) or MapRunItemCounts (1) from the children's rows."""
    counts = {key: by_status.get(status, (0, 0))[which] for key, status in _COUNTED}
    total = record.execution_total if which == 0 else record.item_total
    started = sum(counts.values())
    written = counts["succeeded"] + counts["failed"] if record.results_written else 0
    return {"pending": max(0, total - started), **counts, "total": total, "resultsWritten": written,
            "failuresNotRedrivable": 0, "pendingRedrive": 0}


class MapRunOperations(LocalClientBase):
    def describe_map_run(self, **params: Any) -> dict[str, Any]:
        op = "describe_map_run"
        api.check_parameters(op, params)
        record = self._map_run(params["mapRunArn"], op)
        by_status = self.store.map_run_counts(record.arn)
        response: dict[str, Any] = {
            "mapRunArn": record.arn, "executionArn": record.execution_arn, "status": record.status,
            "startDate": record.start_date,
        }
        if record.stop_date is not None:
            response["stopDate"] = record.stop_date
        response.update({
            "maxConcurrency": record.max_concurrency,
            "toleratedFailurePercentage": float(record.tolerated_failure_percentage or 0.0),
            "toleratedFailureCount": int(record.tolerated_failure_count or 0),
            "itemCounts": _counts(record, by_status, 1),
            "executionCounts": _counts(record, by_status, 0),
            "redriveCount": record.redrive_count,
        })
        if record.redrive_date is not None:
            response["redriveDate"] = record.redrive_date
        return self._ok(response)

    def list_map_runs(self, **params: Any) -> dict[str, Any]:
        op = "list_map_runs"
        api.check_parameters(op, params)
        execution = self._execution(params["executionArn"], op)
        items = []
        for record in self.store.list_map_runs(execution.arn):
            item: dict[str, Any] = {"executionArn": record.execution_arn, "mapRunArn": record.arn,
                                    "stateMachineArn": record.state_machine_arn, "startDate": record.start_date}
            if record.stop_date is not None:
                item["stopDate"] = record.stop_date
            items.append(item)
        page, token = build_page(items, params, f"map_runs:{execution.arn}", op)
        response: dict[str, Any] = {"mapRuns": page}
        if token:
            response["nextToken"] = token
        return self._ok(response)

    def update_map_run(self, **params: Any) -> dict[str, Any]:
        op = "update_map_run"
        api.check_parameters(op, params)
        record = self._map_run(params["mapRunArn"], op)
        changes = {column: params[key] for key, column in (
            ("maxConcurrency", "max_concurrency"), ("toleratedFailureCount", "tolerated_failure_count"),
            ("toleratedFailurePercentage", "tolerated_failure_percentage")) if key in params}
        if not changes:
            raise self._error("ValidationException", "At least one of maxConcurrency, toleratedFailureCount or "
                              "toleratedFailurePercentage must be specified", op)
        percentage = changes.get("tolerated_failure_percentage")
        if percentage is not None and not 0 <= percentage <= 100:
            raise self._error("ValidationException", "1 validation error detected: Value at "
                              "'toleratedFailurePercentage' failed to satisfy constraint: Member must have value "
                              "less than or equal to 100", op)
        if record.status != "RUNNING":
            raise self._error("ValidationException", f"Map Run '{record.arn}' is {record.status}: only a "
                              "running Map Run can be updated", op)
        updated = self.store.update_map_run(record.arn, **changes)
        live = self._runner.map_runs.get(record.arn)
        if live is not None:
            apply_settings(live, updated)
        return self._ok({})


__all__ = ["MapRunOperations"]
