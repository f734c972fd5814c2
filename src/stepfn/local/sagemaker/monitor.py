"""The Model Monitor analyzer image (``sagemaker-model-monitor-analyzer``) as a local processing command.

A processing job on that image (DefaultModelMonitor's baseline job, a monitoring execution, or a ProcessingStep
a user builds from ``image_uris.retrieve("model-monitor", region)``) runs ``python -m
stepfn.local.sagemaker.monitor`` with the container's environment contract:

* ``dataset_source``: the directory whose files are the dataset; ``dataset_format``: the DatasetFormat JSON
  (``{"csv": {"header": true}}``, ``{"json": {"lines": true}}``, ``{"sagemakerCaptureJson": {...}}``, ``{"parquet": {}}``);
* ``output_path``: where ``statistics.json`` (always), ``constraints.json`` (baseline jobs) and
  ``constraint_violations.json`` (monitoring jobs) are written, in the documented schemas;
* ``baseline_constraints`` / ``baseline_statistics``: a monitoring job's baseline files. With
  ``baseline_constraints`` the job checks the dataset against them (data type, completeness, columns, categorical
  values, and baseline drift against ``baseline_statistics``) and ends with the analyzer's exit message,
  ``CompletedWithViolations: ...`` or ``Completed: ... no violations.``

The statistics are computed with pandas. Distributions are kept as the analyzer's KLL shape (buckets plus a
sketch holding the values, sampled down to 2,048), and drift is the L-infinity distance between the two
empirical CDFs, the analyzer's "Simple" comparison. ``/opt/ml`` paths in the environment are read relative to
``SAGEMAKER_BASE_DIR`` when the job runs outside its own ``/opt/ml``.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stepfn._extras import needs_extra

__all__ = ["analyze", "main", "read_dataset", "suggest_constraints", "violations"]

_PURPOSE = "The local Model Monitor analyzer"
_SKETCH_SIZE = 2048
_BUCKETS = 10
_DOMAIN_LIMIT = 20  # distinct values up to which a string column's values become its domain
MONITORING_CONFIG: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
    "distribution_constraints": {"perform_comparison": "Enabled", "comparison_threshold": 0.1,
                                 "comparison_method": "Robust"},
}


def _local(path: str) -> Path:
    base = os.environ.get("SAGEMAKER_BASE_DIR")
    if base and (path == "/opt/ml" or path.startswith("/opt/ml/")):
        return Path(base + path[len("/opt/ml"):])
    return Path(path)


# -- reading --------------------------------------------------------------------------------------------------


def _files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    return sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith("."))


def _csv_frame(text: str, header: bool) -> Any:
    with needs_extra(_PURPOSE):
        import pandas as pd

    frame = pd.read_csv(io.StringIO(text), header=0 if header else None, dtype=str, keep_default_na=False,
                        skipinitialspace=True)
    if not header:
        # Spark's names for headerless columns, which the analyzer's reports use.
        frame.columns = [f"_c{index}" for index in range(frame.shape[1])]
    return frame


def _captured_rows(captured: dict[str, Any]) -> list[list[str]]:
    """The CSV records of one captured body (CSV, BASE64 of CSV, or JSON lists such as ``[[1, 2], [3, 4]]``,
    ``[1, 2]`` or ``{"instances": [[1, 2]]}``)."""
    data = str(captured.get("data", ""))
    encoding = str(captured.get("encoding", "")).upper()
    if encoding == "BASE64":
        data = base64.b64decode(data).decode("utf-8")
    if encoding == "JSON":
        value = json.loads(data)
        if isinstance(value, dict):  # the first list member: {"instances": ...}, {"inputs": ...}, {"predictions": ...}
            value = next((v for v in value.values() if isinstance(v, list)), [value])
        if not isinstance(value, list):
            value = [value]
        if not any(isinstance(item, list) for item in value):
            value = [value]
        return [[str(cell) for cell in (row if isinstance(row, list) else [row])] for row in value]
    return [next(csv.reader([line])) for line in data.splitlines() if line.strip()]


def _in_window(event: dict[str, Any], window: tuple[datetime, datetime] | None) -> bool:
    if window is None:
        return True
    stamp = (event.get("eventMetadata") or {}).get("inferenceTime")
    if not stamp:
        return True
    when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    if when.tzinfo is None:
        # SageMaker writes UTC with a Z; a record written without a zone (by hand, or another tool) is UTC too,
        # and comparing it with the window's aware times would raise.
        when = when.replace(tzinfo=UTC)
    return window[0] <= when < window[1]


def _capture_rows(text: str, indexes: list[str], window: tuple[datetime, datetime] | None = None) -> str:
    """The records of SageMaker data-capture JSON lines as CSV, one per line: the request's columns, preceded by
    the response's when ``indexes`` holds ``endpointOutput`` (the analyzer's default place for model output
    columns, START), keeping the calls captured inside ``window``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for line in text.splitlines():
        if not line.strip():
            continue
        event = json.loads(line)
        if not _in_window(event, window):
            continue
        data = event["captureData"]
        inputs = _captured_rows(data["endpointInput"]) if "endpointInput" in data else []
        outputs = _captured_rows(data["endpointOutput"]) if "endpointOutput" in indexes and "endpointOutput" in data \
            else []
        if len(outputs) == 1 and len(inputs) > 1 and len(outputs[0]) == len(inputs):
            outputs = [[value] for value in outputs[0]]  # one score per record, written on one line
        if outputs and len(outputs) != len(inputs):
            outputs = []  # a response that does not answer record by record cannot be lined up with the request
        for index, row in enumerate(inputs):
            writer.writerow((outputs[index] if outputs else []) + row)
    return buffer.getvalue()


def read_dataset(source: Path, dataset_format: dict[str, Any],
                 window: tuple[datetime, datetime] | None = None) -> Any:
    """Every file under ``source`` as one DataFrame of strings (values are typed while analysing); for capture
    data, the calls captured inside ``window`` (the monitoring job's ``start_time``/``end_time``) only."""
    with needs_extra(_PURPOSE):
        import pandas as pd

    files = _files(source)
    if not files:
        raise ValueError(f"No data found under {source}")
    if "csv" in dataset_format:
        header = bool(dataset_format["csv"].get("header", True))
        return pd.concat([_csv_frame(f.read_text(), header) for f in files], ignore_index=True)
    if "sagemakerCaptureJson" in dataset_format:
        indexes = list((dataset_format["sagemakerCaptureJson"] or {}).get("captureIndexNames") or ["endpointInput"])
        text = "".join(_capture_rows(f.read_text(), indexes, window) for f in files)
        if not text.strip():
            raise ValueError(f"No captured records under {source} in the analysis window")
        return _csv_frame(text, header=False)
    if "json" in dataset_format:
        lines = bool(dataset_format["json"].get("lines", True))
        frames = [pd.read_json(io.StringIO(f.read_text()), lines=lines, dtype=False) for f in files]
        return pd.json_normalize(pd.concat(frames, ignore_index=True).to_dict("records")).astype(str)
    if "parquet" in dataset_format:
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True).astype(str)
    raise ValueError(f"Unsupported dataset_format {json.dumps(dataset_format)}")


# -- statistics -----------------------------------------------------------------------------------------------


def _present(column: Any) -> Any:
    return column[(column != "") & (column.str.lower() != "nan") & column.notna()]


def _numbers(values: Any) -> Any:
    with needs_extra(_PURPOSE):
        import pandas as pd

    return pd.to_numeric(values, errors="coerce")


def _kind_fractions(values: Any) -> tuple[float, float]:
    """(fraction integral, fraction numeric) of the present values."""
    if len(values) == 0:
        return 0.0, 0.0
    numbers = _numbers(values)
    numeric = numbers.notna()
    integral = numeric & values.str.fullmatch(r"[+-]?\d+")
    return float(integral.mean()), float(numeric.mean())


def _inferred_type(values: Any) -> str:
    if len(values) == 0:
        return "Unknown"
    integral, numeric = _kind_fractions(values)
    if integral == 1.0:
        return "Integral"
    if numeric == 1.0:
        return "Fractional"
    return "String"


def _kll(numbers: Any) -> dict[str, Any]:
    low, high = float(numbers.min()), float(numbers.max())
    width = (high - low) / _BUCKETS or 1.0
    counts = [0] * _BUCKETS
    for value in numbers:
        counts[min(int((value - low) / width), _BUCKETS - 1)] += 1
    buckets = [{"lower_bound": low + i * width, "upper_bound": low + (i + 1) * width, "count": float(counts[i])}
               for i in range(_BUCKETS)]
    ordered = sorted(float(v) for v in numbers)
    if len(ordered) > _SKETCH_SIZE:
        step = len(ordered) / _SKETCH_SIZE
        ordered = [ordered[int(i * step)] for i in range(_SKETCH_SIZE)]
    return {"buckets": buckets, "sketch": {"parameters": {"c": 0.64, "k": float(_SKETCH_SIZE)}, "data": [ordered]}}


def _feature_statistics(name: str, column: Any) -> dict[str, Any]:
    present = _present(column.astype(str))
    kind = _inferred_type(present)
    common = {"num_present": len(present), "num_missing": int(len(column) - len(present))}
    feature: dict[str, Any] = {"name": str(name), "inferred_type": kind}
    if kind in ("Integral", "Fractional"):
        numbers = _numbers(present)
        feature["numerical_statistics"] = {
            "common": common,
            "mean": float(numbers.mean()),
            "sum": float(numbers.sum()),
            "std_dev": float(numbers.std(ddof=0)),
            "min": float(numbers.min()),
            "max": float(numbers.max()),
            "distribution": {"kll": _kll(numbers)},
        }
    else:
        counts = present.value_counts()
        feature["string_statistics"] = {
            "common": common,
            "distinct_count": float(len(counts)),
            "distribution": {"categorical": {"buckets": [{"value": str(value), "count": float(count)}
                                                        for value, count in counts.items()]}},
        }
    return feature


def analyze(frame: Any) -> dict[str, Any]:
    """statistics.json for ``frame``."""
    return {
        "version": 0.0,
        "dataset": {"item_count": len(frame)},
        "features": [_feature_statistics(name, frame[name]) for name in frame.columns],
    }


def suggest_constraints(statistics: dict[str, Any]) -> dict[str, Any]:
    """constraints.json suggested from a baseline's statistics."""
    features = []
    for feature in statistics["features"]:
        stats = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
        common = stats.get("common", {})
        total = common.get("num_present", 0) + common.get("num_missing", 0)
        suggested: dict[str, Any] = {
            "name": feature["name"],
            "inferred_type": feature["inferred_type"],
            "completeness": common.get("num_present", 0) / total if total else 0.0,
        }
        if "numerical_statistics" in feature:
            suggested["num_constraints"] = {"is_non_negative": stats["min"] >= 0}
        elif feature["inferred_type"] == "String" and stats.get("distinct_count", 0) <= _DOMAIN_LIMIT:
            buckets = stats["distribution"]["categorical"]["buckets"]
            suggested["string_constraints"] = {"domains": [bucket["value"] for bucket in buckets]}
        features.append(suggested)
    return {"version": 0.0, "features": features, "monitoring_config": json.loads(json.dumps(MONITORING_CONFIG))}


# -- checking -------------------------------------------------------------------------------------------------


def _cdf_distance(baseline: list[float], current: list[float]) -> float:
    """L-infinity distance between the empirical CDFs of two samples."""
    import bisect

    if not baseline or not current:
        return 0.0
    base_sorted, current_sorted = sorted(baseline), sorted(current)
    distance = 0.0
    for point in set(base_sorted) | set(current_sorted):
        left = bisect.bisect_right(base_sorted, point) / len(base_sorted)
        right = bisect.bisect_right(current_sorted, point) / len(current_sorted)
        distance = max(distance, abs(left - right))
    return distance


def _percent(value: float) -> str:
    return f"{round(value * 100, 2)}%"


def violations(frame: Any, constraints: dict[str, Any], statistics: dict[str, Any] | None) -> list[dict[str, Any]]:
    """constraint_violations.json's ``violations`` for ``frame`` against a baseline."""
    config = {**MONITORING_CONFIG, **constraints.get("monitoring_config", {})}
    distribution = {**MONITORING_CONFIG["distribution_constraints"], **config.get("distribution_constraints", {})}
    found: list[dict[str, Any]] = []
    expected = constraints.get("features", [])
    if frame.shape[1] < len(expected):
        found.append({"feature_name": "Missing columns", "constraint_check_type": "missing_column_check",
                      "description": f"There are missing columns in current dataset. Number of columns in current "
                                     f"dataset: {frame.shape[1]}, Number of columns in baseline constraints: "
                                     f"{len(expected)}"})
    elif frame.shape[1] > len(expected):
        found.append({"feature_name": "Extra columns", "constraint_check_type": "extra_column_check",
                      "description": f"There are extra columns in current dataset. Number of columns in current "
                                     f"dataset: {frame.shape[1]}, Number of columns in baseline constraints: "
                                     f"{len(expected)}"})
    baseline_features = {f["name"]: f for f in (statistics or {}).get("features", [])}
    for feature in expected:
        name = feature["name"]
        if name not in frame.columns:
            continue
        column = frame[name].astype(str)
        present = _present(column)
        completeness = len(present) / len(column) if len(column) else 0.0
        if completeness < float(feature.get("completeness", 0.0)):
            found.append({"feature_name": name, "constraint_check_type": "completeness_check",
                          "description": f"Data completeness requirement is not met. Expected completeness: "
                                         f"{_percent(float(feature['completeness']))}. Observed completeness: "
                                         f"{_percent(completeness)}"})
        kind = feature.get("inferred_type")
        if kind in ("Integral", "Fractional") and len(present):
            integral, numeric = _kind_fractions(present)
            observed = integral if kind == "Integral" else numeric
            threshold = float(config["datatype_check_threshold"])
            if observed < threshold:
                found.append({"feature_name": name, "constraint_check_type": "data_type_check",
                              "description": f"Data type match requirement is not met. Expected data type: {kind}, "
                                             f"Expected match: {_percent(threshold)}. Observed: Only "
                                             f"{_percent(observed)} of data is {kind}."})
            base = baseline_features.get(name, {}).get("numerical_statistics")
            if base is not None and distribution.get("perform_comparison") == "Enabled":
                baseline_values = base["distribution"]["kll"]["sketch"]["data"][0]
                current = [float(v) for v in _numbers(present).dropna()]
                drift = _cdf_distance(baseline_values, current)
                limit = float(distribution["comparison_threshold"])
                if drift > limit:
                    found.append({"feature_name": name, "constraint_check_type": "baseline_drift_check",
                                  "description": f"Baseline drift distance: {drift} exceeds threshold: {limit}"})
        domains = (feature.get("string_constraints") or {}).get("domains")
        if domains and len(present):
            inside = float(present.isin(domains).mean())
            threshold = float(config["domain_content_threshold"])
            if inside < threshold:
                found.append({"feature_name": name, "constraint_check_type": "categorical_values_check",
                              "description": f"Data content check failed. Expected: {_percent(threshold)} of the "
                                             f"values in the baseline domain, Observed: only {_percent(inside)}."})
    return found


# -- the container's entry point ------------------------------------------------------------------------------


def _write(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=4, allow_nan=False, default=_finite), encoding="utf-8")


def _finite(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _clean(document: Any) -> Any:
    """NaN/inf (a one-row std, an empty column) as null: the files are JSON, which has neither."""
    if isinstance(document, float):
        return document if math.isfinite(document) else None
    if isinstance(document, dict):
        return {key: _clean(value) for key, value in document.items()}
    if isinstance(document, list):
        return [_clean(value) for value in document]
    return document


def main(environ: dict[str, str] | None = None) -> int:
    env = dict(os.environ if environ is None else environ)
    try:
        dataset_format = json.loads(env.get("dataset_format") or '{"csv": {"header": true}}')
        source = _local(env["dataset_source"])
        output = _local(env.get("output_path", "/opt/ml/processing/output"))
    except (KeyError, ValueError) as exc:
        print(f"analyzer: missing or invalid environment: {exc}", file=sys.stderr)
        return 2
    output.mkdir(parents=True, exist_ok=True)
    window = None
    if env.get("start_time") and env.get("end_time"):
        window = (datetime.fromisoformat(env["start_time"].replace("Z", "+00:00")),
                  datetime.fromisoformat(env["end_time"].replace("Z", "+00:00")))
    try:
        frame = read_dataset(source, dataset_format, window)
    except ValueError as exc:  # no data, or data the format does not describe: the job's failure reason
        print(f"analyzer: {exc}", file=sys.stderr)
        return 1
    constraints = json.loads(_local(env["baseline_constraints"]).read_text()) if env.get("baseline_constraints") else None
    if constraints is not None and "sagemakerCaptureJson" in dataset_format:
        # Captured records carry no header: their columns are the baseline's features, in order.
        names = [feature["name"] for feature in constraints.get("features", [])]
        frame.columns = [names[i] if i < len(names) else f"_c{i}" for i in range(frame.shape[1])]
    statistics = _clean(analyze(frame))
    _write(output / "statistics.json", statistics)
    print(f"analyzer: {len(frame)} records, {frame.shape[1]} features; statistics.json written to {output}")
    if constraints is None:
        _write(output / "constraints.json", _clean(suggest_constraints(statistics)))
        print("analyzer: suggested constraints.json written")
        return 0
    baseline = json.loads(_local(env["baseline_statistics"]).read_text()) if env.get("baseline_statistics") else None
    if constraints.get("monitoring_config", {}).get("evaluate_constraints", "Enabled") != "Enabled":
        return 0
    found = violations(frame, constraints, baseline)
    _write(output / "constraint_violations.json", {"violations": found})
    if found:
        message = f"CompletedWithViolations: Job completed successfully with {len(found)} violations."
    else:
        message = "Completed: Job completed successfully with no violations."
    # The job's ExitMessage, which a Choice after the ProcessingStep can test.
    message_file = Path(env.get("SAGEMAKER_BASE_DIR") or "/opt/ml") / "output" / "message"
    message_file.parent.mkdir(parents=True, exist_ok=True)
    message_file.write_text(message)
    print(f"analyzer: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
