"""``image_uris.retrieve`` against what sagemaker v2's own ``retrieve`` returned for every framework, version,
scope, Python version, processor and base framework in its image tables (``tests/data/image_uris_v2.json.gz``,
recorded by ``tools/image_uri_golden.py`` with the sagemaker release the shipped tables come from)."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

from stepfn.sagemaker import image_uris

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "image_uris_v2.json.gz"


def load_cases() -> tuple[str, list[dict[str, Any]]]:
    document = json.loads(gzip.decompress(GOLDEN.read_bytes()))
    return document["sagemaker"], [dict(zip(document["fields"], row, strict=True)) for row in document["cases"]]


def test_every_recorded_case_matches_sagemaker_v2() -> None:
    version, cases = load_cases()
    assert version.startswith("2.")
    # The golden covers every config the package ships, so a table added without cases fails here.
    # sagemaker-base-python is no retrieve() table in v2 (get_base_python_image_uri reads it).
    assert {case["framework"] for case in cases} >= set(image_uris.frameworks()) - {"sagemaker-base-python"}
    mismatches = []
    for case in cases:
        expected = case.pop("uri")
        try:
            got: str | None = image_uris.retrieve(**case)
        except ValueError:
            got = None
        if got != expected:
            mismatches.append(f"{case}: v2 {expected}, stepfn {got}")
    assert mismatches == [], f"{len(mismatches)} of {len(cases)} differ, e.g.\n" + "\n".join(mismatches[:15])


def test_golden_spans_the_frameworks_notebooks_use() -> None:
    _, cases = load_cases()
    counts = Counter(case["framework"] for case in cases if case["uri"])
    for framework in ("sklearn", "xgboost", "pytorch", "tensorflow", "huggingface", "mxnet", "model-monitor",
                      "debugger", "kmeans", "linear-learner", "clarify", "spark"):
        assert counts[framework] > 0, framework
