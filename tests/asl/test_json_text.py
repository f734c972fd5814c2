"""``compact_json`` and ``json_encoder`` write exactly what ``json.dumps`` writes with the same options (the
history, the journal and error causes depend on the text, not just the value), and fail where it fails."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from stepfn.asl.paths import compact_json, json_encoder

VALUES: list[Any] = [
    0, -7, 10**30, True, False, None, 1.5, 1e300, float("nan"), float("inf"), "", "plain", 'quote " \\ \n',
    "naïve ☃ \U0001f680", [], {}, [1, [2, [3]]], {"b": 1, "a": {"z": [None, "é"]}}, {"k": True},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_compact_json_is_json_dumps_compact_non_ascii(value: Any) -> None:
    assert compact_json(value) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("check_circular", [True, False])
@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_json_encoder_is_json_dumps_compact_ascii(value: Any, check_circular: bool) -> None:
    encode = json_encoder(check_circular=check_circular)
    assert encode(value) == json.dumps(value, separators=(",", ":"))


def test_json_encoder_calls_default_and_raises_type_error_without_one() -> None:
    when = datetime(2024, 5, 1, tzinfo=UTC)
    with pytest.raises(TypeError, match="datetime"):
        json_encoder()({"when": when})
    with pytest.raises(TypeError, match="datetime"):
        json_encoder(check_circular=False)([when])
    encode = json_encoder(default=lambda value: {"at": value.isoformat()})
    assert encode({"when": when}) == '{"when":{"at":"2024-05-01T00:00:00+00:00"}}'


def test_a_circular_value_is_refused_as_json_dumps_refuses_it() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        json_encoder()(loop)
    with pytest.raises(ValueError, match="Circular"):
        compact_json(loop)
