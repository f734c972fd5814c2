"""Bounded fuzzing (bench/fuzz.py's targets, a few hundred inputs each, the same inputs on every run):
each input ends in a result or a named error, never an unhandled exception, an internal error or a hang.

``STEPFN_FUZZ_SCALE=10`` runs ten times as many; ``python bench/fuzz.py`` runs them longer, at random."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

import stepfn.asl.jsonata  # noqa: F401  # jsonata-python raises the recursion limit on import; do it before hypothesis runs

BENCH = Path(__file__).resolve().parents[2] / "bench" / "fuzz.py"
SCALE = float(os.environ.get("STEPFN_FUZZ_SCALE", "1"))


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stepfn_bench_fuzz", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fuzz = _load()

EXAMPLES = {
    "definitions": 120, "paths": 300, "intrinsics": 200, "jsonata": 300, "jsonata_states": 150,
    "placeholders": 150, "choice_rules": 200, "authored_choice_rules": 150, "execution_inputs": 120,
    "sagemaker_requests": 150,
}


def test_every_target_has_a_budget() -> None:
    assert set(EXAMPLES) == set(fuzz.TARGETS)


@pytest.mark.parametrize("target", sorted(EXAMPLES))
def test_fuzz_target(target: str) -> None:
    outcomes = fuzz.fuzz(target, int(EXAMPLES[target] * SCALE), derandomize=True)
    assert sum(outcomes.values()) >= EXAMPLES[target] * SCALE * 0.9
    # The inputs reach past the first check: some succeed and some fail, for every target.
    assert len(outcomes) >= 2, outcomes


def test_a_hang_is_a_finding() -> None:
    with pytest.raises(fuzz.Finding, match="still running"):
        fuzz.within(0.2, lambda: __import__("time").sleep(5))


def test_an_unnamed_exception_is_a_finding() -> None:
    with pytest.raises(fuzz.Finding, match="unhandled KeyError"):
        fuzz.classify(lambda: {}["missing"])
    assert fuzz.classify(lambda: fuzz.run_execution({"StartAt": "F", "States": {"F": {"Type": "Fail"}}}, {})) == "ok"
