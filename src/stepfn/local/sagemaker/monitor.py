"""The Model Monitor analyzer image (``sagemaker-model-monitor-analyzer``) as a local processing command.

A processing job on that image (DefaultModelMonitor's baseline job, a monitoring execution, or a ProcessingStep
a user builds from ``image_uris.retrieve("model-monitor", region)``) runs ``python -m
stepfn.local.sagemaker.monitor`` with the container's environment contract:

* ``dataset_source``: the directory whose files are the dataset; ``dataset_format``: the DatasetFormat JSON
  (``{"csv": {"header": true}}``, ``{"json": {"lines": true}}``, ``{"sagemakerCaptureJson": {...}}``, ``{"parquet": {}}``);
* ``output_path``: where ``statistics.json`` and ``constraints.json`` (the constraints this data suggests) are
  written by every job, and ``constraint_violations.json`` by a monitoring job that found violations, in the
  documented schemas. The analyzer writes no violations file when nothing is violated: the SageMaker Python SDK's
  ``MonitoringExecution.constraint_violations()`` answers None for a completed job without one, and a report folder
  with violations holds all three files (the "Introduction to Model Monitor" notebook's published listing);
* ``baseline_constraints`` / ``baseline_statistics``: a monitoring job's baseline files. With
  ``baseline_constraints`` the job checks the dataset against them (data type, completeness, columns, categorical
  values, and baseline drift against ``baseline_statistics``) and ends with the analyzer's exit message,
  ``CompletedWithViolations: ...`` or ``Completed: ... no violations.``;
* ``record_preprocessor_script``: a Python file whose ``preprocess_handler(inference_record[, logger])`` turns each
  captured record into a flat dict (a row), a list of them, or ``[]`` to leave the record out; it runs here, in
  the job's own process, as the analyzer container runs it. The analyzer applies it to captured data only;
* ``post_analytics_processor_script``: a Python file whose ``postprocess_handler()`` runs once the reports are
  written; an exception there fails the job;
* ``categorical_drift_method``: the suggested constraints' ``categorical_drift_method`` (``LInfinity`` or
  ``ChiSquared``), as sagemaker v2's ``monitoring_config_override`` sets it.

The statistics are computed with pandas. Distributions are kept as the analyzer's KLL shape (buckets plus a
sketch holding the values, sampled down to 2,048), and drift is the L-infinity distance between the two
empirical CDFs, the analyzer's "Simple" comparison (for strings, between the two category frequencies:
``categorical_drift_method`` ``LInfinity``; ``ChiSquared`` is not computed). ``/opt/ml`` paths in the environment
are read relative to ``SAGEMAKER_BASE_DIR`` when the job runs outside its own ``/opt/ml``.
"""

from __future__ import annotations

import base64
import csv
import importlib.util
import inspect
import io
import json
import logging
import math
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from stepfn._extras import needs_extra

__all__ = ["analyze", "load_preprocessor", "main", "read_dataset", "suggest_constraints", "violations"]

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
                                 "comparison_method": "Robust", "categorical_comparison_threshold": 0.1,
                                 "categorical_drift_method": "LInfinity"},
}
_DRIFT_METHODS = ("LInfinity", "ChiSquared")


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
    for event in _captured_events(text, window):
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


def _captured_events(text: str, window: tuple[datetime, datetime] | None) -> list[dict[str, Any]]:
    events = (json.loads(line) for line in text.splitlines() if line.strip())
    return [event for event in events if _in_window(event, window)]


Preprocessor = Callable[[dict[str, Any]], list[dict[str, Any]]]
"""A record preprocessor as the analyzer calls it: one captured event in, the rows it becomes out."""


def _inference_record(event: dict[str, Any]) -> SimpleNamespace:
    """The ``inference_record`` a ``preprocess_handler`` receives: the captured event with the attribute names
    the analyzer's record carries (``event_data.endpointInput.data``, ``endpoint_input``, ``endpoint_output``,
    ``event_metadata.custom_attribute``, ``event_version``)."""
    data = event.get("captureData") or {}
    parts = {key: SimpleNamespace(**value) if isinstance(value, dict) else None
             for key, value in (("endpointInput", data.get("endpointInput")),
                                ("endpointOutput", data.get("endpointOutput")))}
    metadata = dict(event.get("eventMetadata") or {})
    return SimpleNamespace(
        event_data=SimpleNamespace(**parts), endpoint_input=parts["endpointInput"],
        endpoint_output=parts["endpointOutput"],
        event_metadata=SimpleNamespace(event_id=metadata.get("eventId"), inference_time=metadata.get("inferenceTime"),
                                       custom_attribute=metadata.get("customAttributes"), **metadata),
        event_version=event.get("eventVersion"))


def _load_handler(path: Path, name: str) -> Callable[..., Any]:
    """``name`` from the user's script at ``path``, imported in this (the job's) process as the analyzer
    container imports it."""
    spec = importlib.util.spec_from_file_location(f"stepfn_monitor_{name}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path} is not a Python script")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler = getattr(module, name, None)
    if not callable(handler):
        raise ValueError(f"{path} defines no {name}() function")
    return handler  # type: ignore[no-any-return]


def load_preprocessor(path: Path) -> Preprocessor:
    """The ``preprocess_handler`` of the script at ``path`` as a :data:`Preprocessor`: a dict it returns is one row,
    a list is its rows, ``[]`` or None leaves the record out (custom sampling); a handler with a second
    parameter gets a logger."""
    handler = _load_handler(path, "preprocess_handler")
    logger = logging.getLogger("preprocessor")
    if not logger.handlers:
        stream = logging.StreamHandler(sys.stdout)
        stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(stream)
        logger.setLevel(logging.INFO)
    with_logger = len(inspect.signature(handler).parameters) >= 2

    def preprocess(event: dict[str, Any]) -> list[dict[str, Any]]:
        record = _inference_record(event)
        result = handler(record, logger) if with_logger else handler(record)
        rows = result if isinstance(result, list) else [] if result is None else [result]
        for row in rows:
            if not isinstance(row, dict):
                raise ValueError(f"preprocess_handler returned {type(row).__name__}, not a dict (a flat JSON record)")
        return rows

    return preprocess


def _preprocessed_frame(texts: list[str], preprocess: Preprocessor, window: tuple[datetime, datetime] | None) -> Any:
    """The rows ``preprocess`` makes of the captured events, as a frame of strings. Its columns are the rows'
    keys in sorted order, as reading the records as JSON gives them: the documented example pads positional keys
    (``str(i).zfill(20)``) so that the sorted order is the record's."""
    with needs_extra(_PURPOSE):
        import pandas as pd

    rows = [row for text in texts for event in _captured_events(text, window) for row in preprocess(event)]
    if not rows:
        raise ValueError("No records left after the record preprocessor in the analysis window")
    columns = sorted({str(key) for row in rows for key in row})
    cells = [["" if row.get(column) is None else str(row.get(column)) for column in columns] for row in rows]
    return pd.DataFrame(cells, columns=columns, dtype=str)


def read_dataset(source: Path, dataset_format: dict[str, Any], window: tuple[datetime, datetime] | None = None,
                 preprocess: Preprocessor | None = None) -> Any:
    """Every file under ``source`` as one DataFrame of strings (values are typed while analysing); for capture
    data, the calls captured inside ``window`` (the monitoring job's ``start_time``/``end_time``) only, each
    turned into rows by ``preprocess`` when given."""
    with needs_extra(_PURPOSE):
        import pandas as pd

    files = _files(source)
    if not files:
        raise ValueError(f"No data found under {source}")
    if "csv" in dataset_format:
        header = bool(dataset_format["csv"].get("header", True))
        return pd.concat([_csv_frame(f.read_text(), header) for f in files], ignore_index=True)
    if "sagemakerCaptureJson" in dataset_format and preprocess is not None:
        return _preprocessed_frame([f.read_text() for f in files], preprocess, window)
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


def suggest_constraints(statistics: dict[str, Any], categorical_drift_method: str | None = None) -> dict[str, Any]:
    """constraints.json suggested from a baseline's statistics; ``categorical_drift_method`` overrides the default
    (LInfinity) in its ``monitoring_config``."""
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
    config = json.loads(json.dumps(MONITORING_CONFIG))
    if categorical_drift_method:
        if categorical_drift_method not in _DRIFT_METHODS:
            raise ValueError(f"categorical_drift_method must be one of {', '.join(_DRIFT_METHODS)}, "
                             f"not {categorical_drift_method!r}")
        config["distribution_constraints"]["categorical_drift_method"] = categorical_drift_method
    return {"version": 0.0, "features": features, "monitoring_config": config}


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
    # Unrounded, as the analyzer prints it ("Observed: Only 99.64592817400101% of data is Integral.").
    return f"{value * 100}%"


def _categorical_distance(baseline: dict[str, Any], present: Any) -> float:
    """L-infinity distance between the baseline's category frequencies and the current ones."""
    counts = {str(bucket["value"]): float(bucket["count"])
              for bucket in baseline.get("distribution", {}).get("categorical", {}).get("buckets", [])}
    total = sum(counts.values())
    if not total or not len(present):
        return 0.0
    current = {str(value): float(share) for value, share in present.value_counts(normalize=True).items()}
    return max(abs(counts.get(value, 0.0) / total - current.get(value, 0.0)) for value in set(counts) | set(current))


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
        base_strings = baseline_features.get(name, {}).get("string_statistics")
        if kind == "String" and base_strings is not None and len(present) \
                and distribution.get("perform_comparison") == "Enabled" \
                and distribution.get("categorical_drift_method", "LInfinity") == "LInfinity":
            # ChiSquared, the other method, is not computed here: such a baseline gets no categorical drift check.
            drift = _categorical_distance(base_strings, present)
            limit = float(distribution.get("categorical_comparison_threshold", 0.1))
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


def _script(env: dict[str, str], key: str) -> Path | None:
    return _local(env[key]) if env.get(key) else None


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
    preprocessor = _script(env, "record_preprocessor_script")
    postprocessor = _script(env, "post_analytics_processor_script")
    try:
        preprocess = None
        if preprocessor is not None and "sagemakerCaptureJson" in dataset_format:
            preprocess = load_preprocessor(preprocessor)
        elif preprocessor is not None:
            print(f"analyzer: the record preprocessor applies to captured data only; {preprocessor.name} is not run "
                  f"on a {next(iter(dataset_format), 'csv')} dataset")
        frame = read_dataset(source, dataset_format, window, preprocess)
        constraints = json.loads(_local(env["baseline_constraints"]).read_text()) \
            if env.get("baseline_constraints") else None
        headerless = "sagemakerCaptureJson" in dataset_format or not (dataset_format.get("csv") or {"header": True}).get(
            "header", True)
        if constraints is not None and headerless and preprocess is None:
            # Captured records (and a headerless CSV, such as batch transform input) carry no header: their
            # columns are the baseline's features, in order.
            names = [feature["name"] for feature in constraints.get("features", [])]
            frame.columns = [names[i] if i < len(names) else f"_c{i}" for i in range(frame.shape[1])]
        statistics = _clean(analyze(frame))
        suggested = _clean(suggest_constraints(statistics, env.get("categorical_drift_method")))
    except (ValueError, OSError) as exc:  # no data, data the format does not describe, a broken script
        print(f"analyzer: {exc}", file=sys.stderr)
        return 1
    _write(output / "statistics.json", statistics)
    _write(output / "constraints.json", suggested)
    print(f"analyzer: {len(frame)} records, {frame.shape[1]} features; statistics.json and constraints.json "
          f"written to {output}")
    found: list[dict[str, Any]] = []
    if constraints is not None and constraints.get("monitoring_config", {}).get("evaluate_constraints",
                                                                                "Enabled") == "Enabled":
        baseline = json.loads(_local(env["baseline_statistics"]).read_text()) if env.get("baseline_statistics") \
            else None
        found = violations(frame, constraints, baseline)
    if found:
        # Only a job that found violations writes the file: its presence is what readers test.
        _write(output / "constraint_violations.json", {"violations": found})
        message = f"CompletedWithViolations: Job completed successfully with {len(found)} violations."
    else:
        message = "Completed: Job completed successfully with no violations."
    if postprocessor is not None:
        try:
            _load_handler(postprocessor, "postprocess_handler")()
        except Exception as exc:  # the user's code: whatever it raises fails the job, with its reason
            print(f"analyzer: post_analytics_processor_script {postprocessor.name} failed: {type(exc).__name__}: "
                  f"{exc}", file=sys.stderr)
            return 1
    # The job's ExitMessage, which a Choice after the ProcessingStep can test (baseline jobs write it too).
    message_file = Path(env.get("SAGEMAKER_BASE_DIR") or "/opt/ml") / "output" / "message"
    message_file.parent.mkdir(parents=True, exist_ok=True)
    message_file.write_text(message)
    print(f"analyzer: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
