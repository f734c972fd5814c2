"""Run every AWS-recorded case in tests/data/conformance/aws-recorded.jsonl on the local engine.

For each case: status, output, error, cause and the event-type sequence must equal what AWS recorded
(placeholders such as ``<uuid:1>`` or ``arn:<partition>:...`` match any text of that shape). The report
goes to ``build/conformance-report.txt`` (passed / failed with the first difference / skipped with the
reason, and the pass rates); the test then holds the pass rates at or above the levels reached (ratchet).

Service cases run against local stand-ins (``conformance_standins.py``): Lambda functions matching what
the original test's function did where the recorded output shows it, mocked S3 objects, and the
template values the original tests filled in at run time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conformance_standins import fixup, handlers_for, skip_reason

from stepfn.engine import Engine, ScaledClock

REPORT = Path(__file__).resolve().parents[2] / "build" / "conformance-report.txt"

# Ratchet: the pass rates reached so far; raise them as the engine improves, never lower them.
MIN_SERVICE_FREE_RATE = 0.997
MIN_ALL_RATE = 0.985

_PLACEHOLDER = re.compile(r"<[A-Za-z_][\w:.\-]*>")
# Values LocalStack's snapshot transformers wrote in place of per-run values.
_NORMALISED = {"date", "start-time", "entered-time", "snf_role_arn", "timestamp", "RandomNumberGenerated",
               "X-Amzn-Trace-Id", "x-amzn-RequestId", "RequestId", "Server", "x-amz-crc32"}


def _pattern(text: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(text)
    return re.compile(".+?".join(re.escape(p) for p in parts), re.DOTALL)


def same(expected: Any, actual: Any, where: str = "$") -> str | None:
    """None when ``actual`` matches ``expected`` (placeholders as wildcards), else the first difference."""
    if isinstance(expected, str):
        if expected in _NORMALISED:
            return None
        if not isinstance(actual, str):
            if _PLACEHOLDER.fullmatch(expected):
                return None
            return f"{where}: expected {expected!r}, got {actual!r}"
        if expected == actual:
            return None
        if _PLACEHOLDER.search(expected) and _pattern(expected).fullmatch(actual):
            return None
        return f"{where}: expected {expected!r}, got {actual!r}"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {actual!r}"
        if set(expected) != set(actual):
            return f"{where}: keys differ: expected {sorted(expected)}, got {sorted(actual)}"
        for key in expected:
            diff = same(expected[key], actual[key], f"{where}.{key}")
            if diff:
                return diff
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(expected) != len(actual):
            return f"{where}: expected {json.dumps(expected)[:200]}, got {json.dumps(actual)[:200]}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            diff = same(e, a, f"{where}[{i}]")
            if diff:
                return diff
        return None
    if expected != actual or isinstance(expected, bool) != isinstance(actual, bool):
        return f"{where}: expected {expected!r}, got {actual!r}"
    return None


def _expected_output(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def uses_service(definition: Any) -> bool:
    text = json.dumps(definition)
    return '"Resource"' in text


def run_case(engine: Engine, case: dict[str, Any], index: int) -> str | None:
    """None when the case passes, else the first difference."""
    definition, value = fixup(case)
    result = engine.run(
        definition,
        value,
        execution_arn=f"arn:aws:states:us-east-1:111111111111:execution:ConformanceMachine:case-{index}",
        state_machine_arn="arn:aws:states:us-east-1:111111111111:stateMachine:ConformanceMachine",
        name=f"case-{index}",
        role_arn="snf_role_arn",
    )
    expected = case["expected"]
    if result.status != expected["status"]:
        return f"status: expected {expected['status']}, got {result.status} ({result.error}: {result.cause})"
    if result.status == "SUCCEEDED":
        diff = same(_expected_output(expected.get("output")), result.output_value, "output")
        if diff:
            return diff
    else:
        for key in ("error", "cause"):
            actual = getattr(result, key)
            if isinstance(expected.get(key), dict) and isinstance(actual, str):
                actual = _expected_output(actual)
            diff = same(expected.get(key), actual, key)
            if diff:
                return diff
    types = [event["type"] for event in result.events]
    if types != case["event_types"]:
        for i, (e, a) in enumerate(zip(case["event_types"], types, strict=False)):
            if e != a:
                return f"events[{i}]: expected {e}, got {a} (expected {len(case['event_types'])} events, got {len(types)})"
        return f"events: expected {len(case['event_types'])} events, got {len(types)}"
    return None


def test_conformance(conformance_dir: Path) -> None:
    cases = [json.loads(line) for line in (conformance_dir / "aws-recorded.jsonl").read_text().splitlines()
             if line.strip()]
    assert len(cases) == 400
    lines: list[str] = []
    passed = {"free": 0, "service": 0}
    totals = {"free": 0, "service": 0}
    skipped = 0
    for index, case in enumerate(cases):
        kind = "service" if uses_service(case["definition"]) else "free"
        totals[kind] += 1
        test_id = case["test_id"].split("::", 1)[-1]
        reason = skip_reason(case)
        if reason is not None:
            skipped += 1
            lines.append(f"SKIPPED {test_id}: {reason}")
            continue
        engine = Engine(handlers_for(case), clock=ScaledClock(float("inf")))
        try:
            diff = run_case(engine, case, index)
        except Exception as exc:  # a crash is a failure of this case, reported like the others
            diff = f"raised {exc!r}"
        if diff is None:
            passed[kind] += 1
            lines.append(f"PASSED  {test_id}")
        else:
            lines.append(f"FAILED  {test_id}: {diff}")
    free_rate = passed["free"] / totals["free"]
    all_rate = (passed["free"] + passed["service"]) / len(cases)
    summary = (f"service-free: {passed['free']}/{totals['free']} passed ({free_rate:.1%}); "
               f"all: {passed['free'] + passed['service']}/{len(cases)} passed ({all_rate:.1%}); "
               f"skipped: {skipped}")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join([summary, "", *lines, ""]))
    print(summary)
    assert free_rate >= MIN_SERVICE_FREE_RATE, summary
    assert all_rate >= MIN_ALL_RATE, summary


@pytest.mark.parametrize(
    ("expected", "actual", "ok"),
    [
        ("arn:<partition>:states:<region>:111111111111:execution:<ArnPart_0idx>:<ExecArnPart_0idx>",
         "arn:aws:states:us-east-1:111111111111:execution:sm:run-1", True),
        ("<uuid:1>", "0f8e0c2a-5b0e-4f1a-9a57-1f0d2a3b4c5d", True),
        ("exact", "other", False),
        ({"a": [1, "<timestamp>"]}, {"a": [1, "2024-01-01T00:00:00Z"]}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        (1, True, False),
    ],
)
def test_placeholders_match_as_wildcards(expected: Any, actual: Any, ok: bool) -> None:
    assert (same(expected, actual) is None) == ok
