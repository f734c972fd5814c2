"""Retry (IntervalSeconds, MaxAttempts, BackoffRate, MaxDelaySeconds, JitterStrategy) and Catch, on a fast clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine_helpers import machine, run, types

from stepfn.engine import ScaledClock, TaskControl, TaskRequest
from stepfn.engine.retry import Retrier, matches
from stepfn.errors import StatesError


class Flaky:
    """Fails ``failures`` times with ``error``, then returns the attempt's RetryCount; records when it ran."""

    def __init__(self, failures: int, error: str = "Service.Busy") -> None:
        self.failures = failures
        self.error = error
        self.calls: list[datetime] = []
        self.attempts: list[int] = []

    def __call__(self, request: TaskRequest, control: TaskControl) -> Any:
        self.calls.append(datetime.now())
        self.attempts.append(request.attempt)
        if len(self.calls) <= self.failures:
            raise StatesError(self.error, f"failure {len(self.calls)}")
        return {"retry_count": request.context["State"]["RetryCount"]}


TASK = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke"}


def test_retry_until_success_with_backoff_on_scaled_clock() -> None:
    flaky = Flaky(3)
    clock = ScaledClock(100)
    definition = machine(T=TASK | {"Retry": [{"ErrorEquals": ["Service.Busy"], "IntervalSeconds": 2,
                                               "BackoffRate": 2.0, "MaxAttempts": 3}]})
    start = clock.now()
    result = run(definition, handlers={"lambda:invoke": flaky}, clock=clock)
    elapsed = (clock.now() - start).total_seconds()
    assert result.status == "SUCCEEDED"
    assert result.output_value == {"retry_count": 3}
    assert flaky.attempts == [0, 1, 2, 3]
    # 2 + 4 + 8 clock seconds of backoff (0.14 s of real time); the upper bound only rules out a delay that
    # ignores BackoffRate's cap by a wide margin (or reads seconds as milliseconds), leaving room for a loaded
    # machine's scheduling: every real second the run spends elsewhere is 100 clock seconds (200 was 1.9 s).
    assert 13.5 <= elapsed < 1000
    assert types(result).count("TaskScheduled") == 4


def test_max_attempts_exhausted_then_catch() -> None:
    flaky = Flaky(10)
    definition = {"StartAt": "T", "States": {
        "T": TASK | {"Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                     "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "H"}], "End": True},
        "H": {"Type": "Pass", "End": True}}}
    result = run(definition, {"keep": 1}, handlers={"lambda:invoke": flaky}, clock=ScaledClock(1000))
    assert result.status == "SUCCEEDED"
    assert result.output_value == {"keep": 1, "error": {"Error": "Service.Busy", "Cause": "failure 3"}}
    assert len(flaky.calls) == 3
    assert types(result)[-4:] == ["TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]


def test_max_attempts_zero_never_retries_and_first_matching_retrier_wins() -> None:
    flaky = Flaky(1)
    definition = machine(T=TASK | {"Retry": [{"ErrorEquals": ["Service.Busy"], "MaxAttempts": 0},
                                              {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}]})
    result = run(definition, handlers={"lambda:invoke": flaky}, clock=ScaledClock(1000))
    assert (result.status, result.error) == ("FAILED", "Service.Busy")
    assert len(flaky.calls) == 1


def test_retriers_count_separately() -> None:
    errors = iter(["A", "B", "A", "B"])

    def alternating(request: TaskRequest, control: TaskControl) -> Any:
        error = next(errors, None)
        if error:
            raise StatesError(error, "x")
        return "ok"

    definition = machine(T=TASK | {"Retry": [{"ErrorEquals": ["A"], "MaxAttempts": 2, "IntervalSeconds": 1},
                                              {"ErrorEquals": ["B"], "MaxAttempts": 2, "IntervalSeconds": 1}]})
    result = run(definition, handlers={"lambda:invoke": alternating}, clock=ScaledClock(1000))
    assert (result.status, result.output_value) == ("SUCCEEDED", "ok")


def test_delays_cap_at_max_delay_and_full_jitter_stays_below() -> None:
    capped = Retrier(("States.ALL",), interval_seconds=3, backoff_rate=2, max_delay_seconds=5)
    assert [capped.delay(n) for n in range(4)] == [3, 5, 5, 5]
    jittered = Retrier(("States.ALL",), interval_seconds=3, backoff_rate=2, max_delay_seconds=5, jitter=True)
    delays = [jittered.delay(3) for _ in range(50)]
    assert all(0 <= d <= 5 for d in delays) and len(set(delays)) > 1


def test_error_matching_rules() -> None:
    assert matches(("States.ALL",), "Anything")
    assert not matches(("States.ALL",), "States.Runtime")
    assert matches(("States.TaskFailed",), "Lambda.Unknown")
    assert not matches(("States.TaskFailed",), "States.Timeout")
    assert matches(("States.Timeout",), "States.Timeout")
    assert not matches(("Other",), "Lambda.Unknown")


def test_map_retry_restarts_the_map_and_records_map_state_failed_once() -> None:
    definition = machine(M={
        "Type": "Map", "MaxConcurrency": 1,
        "ItemProcessor": {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "c"}}},
        "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 2, "IntervalSeconds": 1}]})
    result = run(definition, [1], clock=ScaledClock(1000))
    assert (result.status, result.error) == ("FAILED", "E")
    assert types(result).count("MapStateStarted") == 3
    assert types(result).count("MapStateFailed") == 1
