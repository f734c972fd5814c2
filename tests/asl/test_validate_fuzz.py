"""Property tests: on any input the intrinsic parser and the validator raise only named stepfn errors."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stepfn.asl.definition import STATE_FIELDS, STATE_TYPES
from stepfn.asl.intrinsics import FUNCTION_NAMES, IntrinsicSyntaxError, evaluate_intrinsic, parse_intrinsic
from stepfn.asl.validate import validate_definition
from stepfn.errors import Diagnostic, StatesError

FUZZ = settings(max_examples=int(os.environ.get("STEPFN_FUZZ_EXAMPLES", "200")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
# Values that look like what ASL fields hold, so the walk reaches the deeper checks.
asl_words = st.sampled_from([
    "$", "$.a", "$.a[0]", "$$.Execution.Id", "$var.x", "$.a[*]", "$..b", "States.ALL", "States.Array($.a)",
    "States.Format('{}', $.x", "{% $states.input %}", "{% ( %}", "arn:aws:lambda:us-east-1:1:function:f",
    "__tbd__", "A", "B", "JSONata", "JSONPath", "DISTRIBUTED", "INLINE", "2026-01-01T00:00:00Z", "FULL",
])
small_values = st.recursive(
    scalars, lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)
field_values = asl_words | small_values


@st.composite
def definitions(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(["A", "B", "C", "D"]), min_size=1, max_size=4, unique=True))
    states: dict[str, Any] = {}
    for name in names:
        kind = draw(st.sampled_from(STATE_TYPES))
        fields = draw(st.lists(st.sampled_from(sorted(STATE_FIELDS[kind])), max_size=6, unique=True))
        state: dict[str, Any] = {"Type": kind}
        for field in fields:
            if field == "Branches" and depth < 1:
                state[field] = draw(st.lists(definitions(depth + 1), max_size=2))
            elif field in ("Iterator", "ItemProcessor") and depth < 1:
                state[field] = draw(definitions(depth + 1))
            elif field in ("Next", "Default"):
                state[field] = draw(st.sampled_from(["A", "B", "C", "D", "Z"]))
            elif field in ("Choices", "Retry", "Catch"):
                state[field] = draw(st.lists(st.dictionaries(st.sampled_from([
                    "Variable", "StringEquals", "Next", "And", "Not", "Condition", "ErrorEquals", "MaxAttempts",
                    "BackoffRate", "ResultPath", "Output", "Assign"]), field_values, max_size=4), max_size=3))
            else:
                state[field] = draw(field_values)
        states[name] = state
    top: dict[str, Any] = {"StartAt": draw(st.sampled_from([*names, "Z"])), "States": states}
    if draw(st.booleans()):
        top["QueryLanguage"] = draw(st.sampled_from(["JSONata", "JSONPath", "Other"]))
    return top


def _only_diagnostics(result: Any) -> None:
    assert isinstance(result, list)
    assert all(isinstance(item, Diagnostic) for item in result)


@FUZZ
@given(json_values)
def test_validator_accepts_any_json(value: Any) -> None:
    _only_diagnostics(validate_definition(value))
    _only_diagnostics(validate_definition(json.dumps(value)))


@FUZZ
@given(definitions())
def test_validator_on_definition_shaped_input(definition: dict[str, Any]) -> None:
    _only_diagnostics(validate_definition(definition))


@FUZZ
@given(st.text(max_size=60))
def test_validator_on_any_text(text: str) -> None:
    _only_diagnostics(validate_definition(text))


intrinsic_text = st.builds(
    lambda name, body: f"States.{name}({body}",
    st.sampled_from([*sorted(FUNCTION_NAMES), "Nope"]),
    st.text(alphabet="$.'\\{}[](),- 0123456789abtrueflsnStaA", max_size=40),
)


@FUZZ
@given(intrinsic_text | st.text(max_size=40), json_values)
def test_intrinsics_raise_only_named_errors(text: str, data: Any) -> None:
    try:
        call = parse_intrinsic(text)
    except IntrinsicSyntaxError:
        return

    def resolve(path: str) -> Any:
        return data

    try:
        evaluate_intrinsic(call, resolve, new_uuid=lambda: "u")
    except StatesError as exc:
        assert exc.error == "States.Runtime"
