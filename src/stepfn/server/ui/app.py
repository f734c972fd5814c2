"""Routes of the web console. JSON endpoints read through a boto3-shaped Step Functions client."""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from stepfn.errors import StepfnError
from stepfn.local.sagemaker.records import RecordStore
from stepfn.workflow.compare import diff_facts, execution_facts, job_facts, sweeps, timeline
from stepfn.workflow.failure_card import build_failure_card, ended_badly
from stepfn.workflow.graph import render_svg
from stepfn.workflow.progress import (
    StateRun,
    execution_failure,
    read_executions,
    read_history,
    read_state_machines,
    state_progress,
)

STATIC = Path(__file__).parent / "static"
JOB_KINDS = ("training-job", "processing-job", "transform-job")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    raise TypeError(f"cannot encode {type(value).__name__}")


def _finite(data: Any) -> Any:
    """``data`` with each float that JSON cannot carry as a string: ``NaN``, ``Infinity``, ``-Infinity``. A diverging
    job's loss is nan, and Python's json writes a bare ``NaN`` that the browser's JSON.parse refuses (the whole
    page failed to load)."""
    if isinstance(data, float) and not math.isfinite(data):
        return "NaN" if math.isnan(data) else "Infinity" if data > 0 else "-Infinity"
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value) for value in data]
    return data


def _to_json(data: Any) -> str:
    return json.dumps(_finite(data), default=_json_default, allow_nan=False)


def _reply(data: Any, status: int = 200) -> Response:
    return Response(_to_json(data), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return JSONResponse({"message": message}, status_code=status)


class ConsoleApi:
    """The handlers; ``client`` has boto3's stepfunctions interface, ``home`` is ``$STEPFN_HOME``.

    They read the store, files and the client, all blocking, so they are plain functions, which Starlette runs
    on its thread pool: as coroutines they would hold the event loop, and every other request (``/ping``
    included) would wait for the slowest listing."""

    def __init__(self, client: Any, home: Path, sagemaker: Any = None) -> None:
        self.client = client
        self.home = home
        self.sagemaker = sagemaker
        """boto3's ``sagemaker`` interface (the API's local SageMaker): the jobs' Stop and the endpoints' Delete."""

    def _machines(self) -> list[dict[str, Any]]:
        return read_state_machines(self.client)

    def workflows(self, request: Request) -> Response:
        rows = []
        for machine in self._machines():
            described = self.client.describe_state_machine(stateMachineArn=machine["stateMachineArn"])
            definition = json.loads(described["definition"])
            rows.append({**machine, "states": count_states(definition), "definition": definition})
        return _reply(rows)

    def workflow(self, request: Request) -> Response:
        """One workflow: its definition, its graph and its latest executions."""
        wanted = request.path_params["name"]
        machine = next((m for m in self._machines() if wanted in (m["name"], m["stateMachineArn"])), None)
        if machine is None:
            return _error(404, f"no workflow {wanted!r}")
        described = self.client.describe_state_machine(stateMachineArn=machine["stateMachineArn"])
        definition = json.loads(described["definition"])
        return _reply({**machine, "definition": definition, "states": count_states(definition),
                       "graph": render_svg(definition), "executions": read_executions(self.client, [machine], limit=50)})

    def executions(self, request: Request) -> Response:
        wanted = request.query_params.get("workflow")
        machines = [m for m in self._machines() if not wanted or wanted in (m["name"], m["stateMachineArn"])]
        try:
            limit = max(1, min(int(request.query_params.get("limit", 200)), 10_000))
        except ValueError:
            return _error(400, "limit must be a number")
        return _reply(read_executions(self.client, machines, limit=limit))

    async def start(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "body must be JSON")
        return await run_in_threadpool(self._start, body)

    def _start(self, body: Any) -> Response:
        machine = next((m for m in self._machines() if body.get("workflow") in (m["name"], m["stateMachineArn"])), None)
        if machine is None:
            return _error(404, f"no workflow {body.get('workflow')!r}")
        kwargs: dict[str, Any] = {"stateMachineArn": machine["stateMachineArn"],
                                  "input": json.dumps(body.get("input", {}))}
        if body.get("name"):
            kwargs["name"] = body["name"]
        return _reply(self.client.start_execution(**kwargs))

    def execution(self, request: Request) -> Response:
        try:
            return _reply(self._execution_view(request.path_params["arn"]))
        except LookupError as missing:
            return _error(404, str(missing))

    def _execution_view(self, arn: str) -> dict[str, Any]:
        try:
            described = self.client.describe_execution(executionArn=arn)
        except Exception as missing:  # ClientError from either backend: report, do not crash the page
            raise LookupError(str(missing)) from missing
        events = read_history(self.client, arn)
        machine = self.client.describe_state_machine(stateMachineArn=described["stateMachineArn"])
        definition = json.loads(machine["definition"])
        progress = state_progress(events)
        error, cause = execution_failure(events)
        now = datetime.now(UTC)
        ended = ended_badly(events)
        return {
            "execution": described,
            "definition": definition,
            "graph": render_svg(definition, {name: p.status for name, p in progress.items()}),
            "states": [
                {"name": p.name, "type": p.type, "status": p.status, "label": p.label(now), "runs": p.runs,
                 "retries": p.retries, "seconds": p.elapsed(now), "topLevel": p.name in definition.get("States", {}),
                 "itemsDone": p.items_done, "itemsTotal": p.items_total,
                 "history": [_run_view(run, now, self._job_exists) for run in p.history]}
                for p in progress.values()
            ],
            "error": error,
            "cause": cause,
            "failure": None if ended is None else build_failure_card(ended, events, self.home).to_dict(),
            "events": events,
            "sweeps": sweeps(events, self.home),
            "timeline": timeline(events, described["startDate"], described.get("stopDate") or now, self.home),
        }

    def diff(self, request: Request) -> Response:
        """``stepfn diff`` for the console: the facts of executions ``a`` and ``b`` that differ."""
        a, b = request.query_params.get("a"), request.query_params.get("b")
        if not a or not b:
            return _error(400, "name two executions: ?a=<arn>&b=<arn>")
        try:
            first, second = (execution_facts(self.client, arn, self.home) for arn in (a, b))
        except Exception as missing:  # ClientError from either backend: report, do not crash the page
            return _error(404, str(missing))
        rows = diff_facts(first, second, everything=request.query_params.get("all") == "1")
        return _reply({"a": a, "b": b, "rows": [{"key": key, "a": x, "b": y} for key, x, y in rows]})

    def _job_exists(self, kind: str, name: str) -> bool:
        records = RecordStore(self.home)
        try:
            return kind in JOB_KINDS and (records.get(kind, name) is not None or records.log_file(kind, name).is_file())
        except StepfnError:  # a name no job can have
            return False

    def _execution_mark(self, arn: str) -> tuple[str, int]:
        """What changes when an execution moves on: its status and its latest event id (one cheap read)."""
        status = self.client.describe_execution(executionArn=arn)["status"]
        latest = self.client.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=1)["events"]
        return str(status), int(latest[0]["id"]) if latest else 0

    async def execution_stream(self, request: Request) -> Response:
        """Server-sent events: the execution's whole view each time it changes (an event or its status), until
        it ends. The page draws what it is sent; nothing polls."""
        arn = request.path_params["arn"]

        async def changes() -> AsyncIterator[str]:
            # A reconnecting EventSource sends the mark of the last view it drew: no redraw if nothing moved.
            seen = request.headers.get("last-event-id")
            async for _ in _ticks(request):
                try:
                    status, last = await run_in_threadpool(self._execution_mark, arn)
                except Exception as missing:  # either backend's ClientError: the stream ends
                    yield _sse("gone", {"message": str(missing)})
                    return
                mark = f"{status}:{last}"
                if mark == seen:
                    continue
                seen = mark
                view = await run_in_threadpool(self._execution_view, arn)
                yield _sse("execution", view, event_id=mark)
                if view["execution"]["status"] != "RUNNING":
                    return

        return _stream(changes())

    async def job_stream(self, request: Request) -> Response:
        """Server-sent events of a job's log from byte ``offset`` on, as whole lines in the order written,
        then its status and metrics when it ends."""
        kind, name = request.path_params["kind"], request.path_params["name"]
        if kind not in JOB_KINDS or not re.fullmatch(r"[A-Za-z0-9-]{1,63}", name):
            return _error(404, "no such job")
        try:  # a reconnecting EventSource goes on from the last chunk it got (its id is the byte offset)
            offset = max(0, int(request.headers.get("last-event-id") or request.query_params.get("offset") or 0))
        except ValueError:
            return _error(400, "offset must be a number")
        records = RecordStore(self.home)

        def read_more(start: int) -> tuple[str, int, str | None]:
            record = records.get(kind, name) or {}
            status = next((record[key] for key in _STATUS_KEYS if key in record), None)
            path = records.log_file(kind, name)
            if not path.is_file():
                return "", start, status
            with path.open("rb") as handle:
                handle.seek(start)
                chunk = handle.read(1 << 20)
            whole = chunk[: chunk.rfind(b"\n") + 1]  # never half a line (or half a UTF-8 character)
            return whole.decode(errors="replace"), start + len(whole), status

        async def lines() -> AsyncIterator[str]:
            position = offset
            async for _ in _ticks(request):
                text, position, status = await run_in_threadpool(read_more, position)
                if text:
                    yield _sse("log", {"text": text, "offset": position}, event_id=str(position))
                elif status is not None and status not in ("InProgress", "Stopping"):
                    yield _sse("end", {"status": status})
                    return

        return _stream(lines())

    async def act(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "body must be JSON")
        if not isinstance(body, dict) or not isinstance(body.get("executionArn"), str):
            return _error(400, "body must name an executionArn")
        return await run_in_threadpool(self._act, request.path_params["action"], body)

    def _act(self, action: str, body: dict[str, Any]) -> Response:
        """Stop, Redrive and Rerun-from-here: the same calls as `stepfn stop`, `redrive` and `rerun --from`."""
        from botocore.exceptions import ClientError

        arn = body["executionArn"]
        try:
            if action == "stop":
                self.client.stop_execution(executionArn=arn, error="Stopped", cause="Stopped from the stepfn console")
                return _reply({"executionArn": arn})
            if action == "redrive":
                self.client.redrive_execution(executionArn=arn)
                return _reply({"executionArn": arn})
            if action == "rerun":
                params = {"executionArn": arn}
                if isinstance(body.get("fromState"), str):
                    params["fromState"] = body["fromState"]
                started = self.client.rerun_execution(**params)
                return _reply({"executionArn": started["executionArn"], "fromState": started["fromState"]})
        except ClientError as error:
            return _error(400, str(error.response["Error"]["Message"]))
        return _error(404, f"no action {action!r}")

    def job(self, request: Request) -> Response:
        kind, name = request.path_params["kind"], request.path_params["name"]
        if kind not in JOB_KINDS or not re.fullmatch(r"[A-Za-z0-9-]{1,63}", name):
            return _error(404, "no such job")
        records = RecordStore(self.home)
        record = records.get(kind, name)
        log_path = records.log_file(kind, name)
        raw = log_path.read_bytes() if log_path.is_file() else b""
        log = raw.decode(errors="replace")
        if record is None and not log:
            return _error(404, f"no {kind} {name!r}")
        definitions = metric_definitions(record or {}, self.home)
        # logBytes: where the page's log stream goes on from (whole lines only, as the stream sends them).
        whole = raw[: raw.rfind(b"\n") + 1]
        series = {name: values for name, values in metric_series(log, definitions).items() if values}
        return _reply({"record": record, "log": whole[-200_000:].decode(errors="replace"), "logBytes": len(whole),
                       "metrics": series, "finalMetrics": (record or {}).get("FinalMetricDataList", [])})

    def jobs(self, request: Request) -> Response:
        """Training, processing and transform jobs, newest first: name, status, duration, final metrics."""
        records = RecordStore(self.home)
        rows = []
        for kind in JOB_KINDS:
            for record in records.list(kind):
                name = next((record[key] for key in _NAME_KEYS if isinstance(record.get(key), str)), None)
                if name is None:
                    continue
                facts = job_facts(kind, name, self.home)
                rows.append({**facts.to_dict(), "created": record.get("CreationTime"),
                             "failureReason": record.get("FailureReason")})
        rows.sort(key=lambda row: row["created"] or 0, reverse=True)
        return _reply(rows)

    def endpoints(self, request: Request) -> Response:
        return _reply(RecordStore(self.home).list("endpoint"))

    async def job_action(self, request: Request) -> Response:
        """Stop a training, processing or transform job (``POST .../stop``), or delete an endpoint (``POST
        /api/endpoints/<name>/delete``): the SageMaker calls the API answers, with a JSON body as every action
        of the console (the request guard refuses any other content type)."""
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "body must be JSON")
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object")
        kind, name = request.path_params.get("kind", "endpoint"), request.path_params["name"]
        operation = _ACTIONS.get((kind, request.path_params["action"]))
        if operation is None or not re.fullmatch(r"[A-Za-z0-9-]{1,63}", name):
            return _error(404, "no such action")
        return await run_in_threadpool(self._sagemaker_call, *operation, name)

    def _sagemaker_call(self, method: str, key: str, name: str) -> Response:
        from stepfn.server._protocol import ApiError, translate_errors

        try:
            translate_errors(lambda: getattr(self.sagemaker, method)(**{key: name}))
        except ApiError as error:
            return _error(error.status, error.message)
        return _reply({"name": name})


_ACTIONS = {
    ("training-job", "stop"): ("stop_training_job", "TrainingJobName"),
    ("processing-job", "stop"): ("stop_processing_job", "ProcessingJobName"),
    ("transform-job", "stop"): ("stop_transform_job", "TransformJobName"),
    ("endpoint", "delete"): ("delete_endpoint", "EndpointName"),
}
"""(kind, action) of the console's buttons: the boto3 ``sagemaker`` method and its name argument."""
_STATUS_KEYS = ("TrainingJobStatus", "ProcessingJobStatus", "TransformJobStatus")
_NAME_KEYS = ("TrainingJobName", "ProcessingJobName", "TransformJobName")
STREAM_SECONDS = 3.0
"""How long one event stream lasts before the browser's EventSource reconnects (``retry``, resuming from the
last event id). Short, because a server that stops waits for open responses: an endless stream held
``stepfn ui``'s Ctrl-C (and a test server's stop) for 30 seconds."""
_TICK = 0.25
_RETRY_MS = 100


async def _ticks(request: Request) -> AsyncIterator[None]:
    """A beat for a stream's checks, until the reader leaves or the stream has lasted ``STREAM_SECONDS``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_SECONDS
    while loop.time() < deadline and not await request.is_disconnected():
        yield None
        await asyncio.sleep(_TICK)


def _sse(event: str, data: Any, *, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {_to_json(data)}\n\n"


def _stream(events: AsyncIterator[str]) -> Response:
    async def with_retry() -> AsyncIterator[str]:
        yield f"retry: {_RETRY_MS}\n\n"  # reconnect at once when this short stream ends
        async for message in events:
            yield message

    return StreamingResponse(with_retry(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def count_states(definition: dict[str, Any]) -> int:
    """Every state of a definition, those inside Map iterators and Parallel branches included."""
    total = 0
    for state in (definition.get("States") or {}).values():
        total += 1
        if not isinstance(state, dict):
            continue
        inner = [state.get("Iterator"), state.get("ItemProcessor"), *(state.get("Branches") or [])]
        total += sum(count_states(graph) for graph in inner if isinstance(graph, dict))
    return total


def _run_view(run: StateRun, now: datetime, exists: Callable[[str, str], bool]) -> dict[str, Any]:
    """One run of a state with its own input, output, error and jobs; a Map run lists its iterations. Only
    jobs that exist are listed (a request SageMaker refused names a job that was never created)."""

    def jobs(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
        return [{"kind": kind, "name": name} for kind, name in pairs if exists(kind, name)]

    return {
        "path": run.path, "iteration": run.iteration.index if run.iteration else None, "status": run.status,
        "retries": run.retries, "retriedErrors": run.retried_errors, "seconds": run.elapsed(now),
        "entered": run.entered, "input": run.input, "output": run.output, "error": run.error, "cause": run.cause,
        "jobs": jobs(run.jobs),
        "iterations": [
            {"index": it.index, "status": it.status, "seconds": it.elapsed(now), "retries": it.retries,
             "input": it.input, "output": it.output, "error": it.error, "cause": it.cause,
             "jobs": jobs(it.jobs)}
            for it in sorted(run.iterations.values(), key=lambda it: it.index)
        ],
    }


def metric_definitions(record: dict[str, Any], home: Path) -> list[dict[str, str]]:
    """The job's MetricDefinitions and, for a built-in algorithm, the algorithm's own (as SageMaker applies
    them: XGBoost's ``validation:auc`` from its ``[12]#011validation-auc:0.91`` lines)."""
    from stepfn.local.sagemaker.images import UnknownImageError, resolve_image

    specification = record.get("AlgorithmSpecification") or {}
    definitions = list(specification.get("MetricDefinitions") or [])
    image = specification.get("TrainingImage")
    if not isinstance(image, str):
        return definitions
    script_mode = "sagemaker_program" in (record.get("HyperParameters") or {})
    try:
        runtime = resolve_image(image, script_mode=script_mode, home=home)
    except (UnknownImageError, ValueError):
        return definitions
    if runtime.kind == "builtin":
        from stepfn.local.sagemaker.builtins import METRIC_DEFINITIONS

        known = {definition.get("Name") for definition in definitions}
        definitions += [d for d in METRIC_DEFINITIONS.get(runtime.algorithm or "", []) if d["Name"] not in known]
    return definitions


def metric_series(log: str, definitions: list[dict[str, str]]) -> dict[str, list[float]]:
    """Every value each MetricDefinition's regex matched in the log, line by line and in order: the points of
    its curve. As SageMaker (and the job's own MetricCollector) does, a line is also tried in its CloudWatch
    form, where a TAB reads ``#011`` (the built-in algorithms' regexes expect that form)."""
    compiled = []
    for definition in definitions:
        try:
            compiled.append((definition.get("Name", "?"), re.compile(definition["Regex"])))
        except (re.error, KeyError, TypeError):
            continue
    series: dict[str, list[float]] = {name: [] for name, _ in compiled}
    for line in log.splitlines():
        variants = (line, line.replace("\t", "#011")) if "\t" in line else (line,)
        for name, pattern in compiled:
            for text in variants:
                match = pattern.search(text)
                if match is None:
                    continue
                try:
                    series[name].append(float(match.group(1) if pattern.groups else match.group(0)))
                except (ValueError, IndexError, TypeError):
                    continue
                break
    return series


def create_ui_app(client: Any = None, home: Path | str | None = None, sagemaker: Any = None) -> Starlette:
    """The console as an ASGI app; mount it at ``/ui``. Defaults to the local engine's client and home, and
    to local SageMaker (``sagemaker``: boto3's interface) for the jobs' and endpoints' actions."""
    if client is None:
        from stepfn.workflow.workflow import local_client

        client = local_client(home)
    if home is None:
        from stepfn.local.objectstore import stepfn_home

        home = stepfn_home()
    if sagemaker is None:
        from stepfn.server._sagemaker import LocalSageMakerClient

        sagemaker = LocalSageMakerClient(home)
    api = ConsoleApi(client, Path(home), sagemaker)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    return Starlette(routes=[
        Route("/", index),
        Route("/api/workflows", api.workflows),
        Route("/api/workflow/{name:path}", api.workflow),
        Route("/api/executions", api.executions, methods=["GET"]),
        Route("/api/executions", api.start, methods=["POST"]),
        Route("/api/execution/{arn:path}", api.execution),
        Route("/api/stream/execution/{arn:path}", api.execution_stream),
        Route("/api/stream/job/{kind}/{name}", api.job_stream),
        Route("/api/actions/{action}", api.act, methods=["POST"]),
        Route("/api/diff", api.diff),
        Route("/api/jobs/{kind}/{name}/{action}", api.job_action, methods=["POST"]),
        Route("/api/endpoints/{name}/{action}", api.job_action, methods=["POST"]),
        Route("/api/jobs/{kind}/{name}", api.job),
        Route("/api/jobs", api.jobs),
        Route("/api/endpoints", api.endpoints),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ])
