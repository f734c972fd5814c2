"""The Parallel state (states-language.net "Parallel State") and the branch runner Map shares.

Branches/iterations whose graphs cannot block (no Task, Wait or blocking nested state) run inline on
the execution's thread, one after another: that is both faster and deterministic. Blocking ones run on
a bounded pool (no thread per item). The first failure wins and fails the state at once, as on AWS:
siblings still running stop, in-flight tasks included (their handlers see ``TaskControl.cancelled()``),
and their results are dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from stepfn.asl.definition import StateSite, nested_machines
from stepfn.engine.definition import (
    Compiler,
    Graph,
    common_fields,
    compile_graph,
)
from stepfn.engine.history import BufferedHistory, History
from stepfn.engine.retry import RetryingNode, retrying_fields
from stepfn.engine.runtime import Aborted, AbortScope, Frame, Variables
from stepfn.errors import StatesError

__all__ = ["ABORT_GRACE_SECONDS", "Aborted", "ParallelNode", "run_all", "run_branch_graph"]

ABORT_GRACE_SECONDS = 5.0
"""How long the running siblings of a failed iteration or branch get to unwind before the state fails
without them (AWS does not wait for them at all; a stopped local job needs a moment to record Stopped)."""


def run_all(count: int, work: Callable[[int, AbortScope], Any], *, blocking: bool, max_concurrency: int,
            history: Any, parent: AbortScope | None) -> list[Any]:
    """Run ``work(i, scope)`` for every i; results in order.

    The first StatesError aborts the group's scope (siblings in flight stop: their tasks see
    ``cancelled()``) and propagates once every sibling has unwound, so the history is complete when the
    state records its failure. ``work`` may also abort the scope itself (a Map Run over its tolerance); the
    siblings' results are then None. ``parent`` is the enclosing group: when it aborts, so does this one."""
    scope = AbortScope(parent, history)
    try:
        if not blocking or count <= 1 or max_concurrency == 1:
            results: list[Any] = [None] * count
            for i in range(count):
                try:
                    results[i] = work(i, scope)
                except Aborted:
                    if not scope.aborted() or (parent is not None and parent.aborted()):
                        raise
                    break  # this group was aborted by one of its own: the rest never start
        else:
            workers = min(count, max_concurrency if max_concurrency > 0 else count, 64)
            with history.concurrently():
                results = _run_pool(count, work, scope, workers)
    finally:
        scope.close()
    if parent is not None and parent.aborted():
        raise Aborted()  # an enclosing group failed meanwhile: this state does not succeed
    return results


def _run_pool(count: int, work: Callable[[int, AbortScope], Any], scope: AbortScope, workers: int) -> list[Any]:
    results: list[Any] = [None] * count
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stepfn-branch")
    try:
        futures = {pool.submit(work, i, scope): i for i in range(count)}
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        first_error = next((f.exception() for f in done if f.exception() is not None
                            and not isinstance(f.exception(), Aborted)), None)
        if first_error is not None:
            scope.abort()
        if pending and scope.aborted():
            # The stopped siblings get a moment to unwind (a stopped job, a cancelled wait); one that does not
            # (an in-process function) is left behind, so that the state fails now, as on AWS.
            _, pending = wait(pending, timeout=ABORT_GRACE_SECONDS)
            if pending:
                scope.abandon()
        for future, i in futures.items():
            if not future.done():
                continue
            try:
                results[i] = future.result()
            except Aborted:
                pass
            except BaseException as exc:
                if first_error is None:
                    first_error = exc
                    scope.abort()
        if first_error is not None:
            raise first_error
        return results
    finally:
        pool.shutdown(wait=not scope.gone, cancel_futures=True)


def run_branch_graph(frame: Frame, graph: Graph, value: Any) -> Any:
    """``run_graph`` that also stops when a sibling failed (``frame.scope`` was aborted)."""
    name: str | None = graph.start_at
    scope, states, run_state = frame.scope, graph.states, frame.run_state
    while name is not None:
        if scope is not None and scope.aborted():
            raise Aborted()
        value, name = run_state(states[name], value)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class ParallelNode(RetryingNode):
    type_name = "Parallel"
    failed_event = "ParallelStateFailed"
    branches: tuple[Graph, ...] = ()
    blocking: bool = False

    def work(self, frame: Frame, effective: Any, arguments: Any, states: dict[str, Any] | None,
             attempt: int) -> Any:
        frame.emit("ParallelStateStarted")
        return self._run_branches(frame, arguments)

    def _run_branches(self, frame: Frame, branch_input: Any) -> list[Any]:
        start_event = frame.last_event
        run = frame.run
        history = run.history
        target = history if isinstance(history, History) and not history.replaying else None
        buffered = not self.blocking and target is not None
        buffers = [BufferedHistory(run.clock) for _ in self.branches] if buffered else []

        def branch(i: int, scope: AbortScope) -> Any:
            branch_run = dataclasses.replace(run, history=buffers[i]) if buffered else run
            child = Frame(branch_run, Variables(frame.variables), start_event, scope)
            return run_branch_graph(child, self.branches[i], branch_input)

        try:
            return run_all(len(self.branches), branch, blocking=self.blocking, max_concurrency=0, history=history,
                           parent=frame.scope)
        except StatesError as exc:
            raise StatesError(exc.error, exc.cause, state=exc.state or self.name) from None
        finally:
            if buffered and target is not None:
                last = target.flush(buffers)
                frame.last_event = last or frame.last_event


@Compiler.register("Parallel")
def _build_parallel(site: StateSite) -> ParallelNode:
    fields = common_fields(site)
    branches = tuple(compile_graph(machine) for machine in nested_machines(site))
    return ParallelNode(branches=branches, blocking=any(b.has_blocking for b in branches),
                        **fields, **retrying_fields(site.spec, site.path, site.jsonata))
