"""ASL field names and their snake_case keyword arguments (``stepfunctions.steps.fields``, docs/design/compat.md §2.1).

Each member is named after the ASL key and its value is the keyword argument that sets it, so
``Field.ItemsPath.value == "items_path"``. The members below "beyond the original" are the §10/§12
additions; they are only emitted when a caller sets them.
"""

from __future__ import annotations

from enum import Enum


class Field(Enum):
    # Common fields
    Comment = "comment"
    InputPath = "input_path"
    OutputPath = "output_path"
    Parameters = "parameters"
    ResultPath = "result_path"
    Next = "next"
    Retry = "retry"
    Catch = "catch"
    Branches = "branches"
    End = "end"
    Version = "version"

    # Pass state
    Result = "result"

    # Fail state
    Error = "error"
    Cause = "cause"

    # Wait state
    Seconds = "seconds"
    Timestamp = "timestamp"
    SecondsPath = "seconds_path"
    TimestampPath = "timestamp_path"

    # Choice state
    Choices = "choices"
    Default = "default"

    # Map state
    Iterator = "iterator"
    ItemsPath = "items_path"
    MaxConcurrency = "max_concurrency"

    # Task state
    Resource = "resource"
    TimeoutSeconds = "timeout_seconds"
    TimeoutSecondsPath = "timeout_seconds_path"
    HeartbeatSeconds = "heartbeat_seconds"
    HeartbeatSecondsPath = "heartbeat_seconds_path"

    # Retry and Catch
    ErrorEquals = "error_equals"
    IntervalSeconds = "interval_seconds"
    MaxAttempts = "max_attempts"
    BackoffRate = "backoff_rate"
    NextStep = "next_step"

    # Beyond the original (docs/design/compat.md §10)
    ResultSelector = "result_selector"
    Credentials = "credentials"
    MaxDelaySeconds = "max_delay_seconds"
    JitterStrategy = "jitter_strategy"
    ErrorPath = "error_path"
    CausePath = "cause_path"
    ItemSelector = "item_selector"
    ItemProcessor = "item_processor"
    ItemReader = "item_reader"
    ItemBatcher = "item_batcher"
    ResultWriter = "result_writer"
    ToleratedFailurePercentage = "tolerated_failure_percentage"
    ToleratedFailurePercentagePath = "tolerated_failure_percentage_path"
    ToleratedFailureCount = "tolerated_failure_count"
    ToleratedFailureCountPath = "tolerated_failure_count_path"
    Label = "label"
    MaxConcurrencyPath = "max_concurrency_path"
    Assign = "assign"
    QueryLanguage = "query_language"
    Arguments = "arguments"
    Output = "output"
    Items = "items"


__all__ = ["Field"]
