"""Reading a built-in algorithm's channels in their real formats (docs/design/sagemaker-contract.md §5): CSV (no header, label first
when the algorithm trains on labels), LIBSVM, Parquet and RecordIO-protobuf, from File-mode directories
(files whose names start with ``.`` or ``_`` ignored, as the containers do) or Pipe-mode FIFOs.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CSV = "text/csv"
LIBSVM = "text/libsvm"
PARQUET = "application/x-parquet"
RECORDIO = "application/x-recordio-protobuf"
_ALIASES = {
    "csv": CSV, "text/csv": CSV,
    "libsvm": LIBSVM, "text/libsvm": LIBSVM, "text/x-libsvm": LIBSVM,
    "parquet": PARQUET, "application/x-parquet": PARQUET,
    "recordio-protobuf": RECORDIO, "application/x-recordio-protobuf": RECORDIO,
}


class AlgorithmError(Exception):
    """Ends the algorithm with ``output/failure`` = the message (``ClientError: ...`` for the caller's fault)."""


@dataclass(frozen=True)
class Environment:
    """The paths and configuration an algorithm container reads (toolkit env + the platform's config files)."""

    base: Path
    hyperparameters: dict[str, str]
    input_data_config: dict[str, dict[str, str]]

    @classmethod
    def load(cls) -> Environment:
        base = Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"))
        config = base / "input" / "config"
        return cls(
            base=base,
            hyperparameters=json.loads((config / "hyperparameters.json").read_text()),
            input_data_config=json.loads((config / "inputdataconfig.json").read_text()),
        )

    @property
    def model_dir(self) -> Path:
        return self.base / "model"

    def content_type(self, channel: str, default: str) -> str:
        raw = self.input_data_config.get(channel, {}).get("ContentType") or default
        kind = _ALIASES.get(raw.split(";")[0].strip().lower())
        if kind is None:
            raise AlgorithmError(f"ClientError: channel {channel!r}: content type {raw!r} is not supported; "
                                 f"use one of {', '.join(sorted(set(_ALIASES.values())))}")
        return kind

    def channel_bytes(self, channel: str) -> list[bytes]:
        """Each file of a File/FastFile channel, or the whole stream of a Pipe channel's first epoch."""
        mode = self.input_data_config.get(channel, {}).get("TrainingInputMode", "File")
        data = self.base / "input" / "data"
        if mode == "Pipe":
            with (data / f"{channel}_0").open("rb") as fifo:
                return [fifo.read()]
        directory = data / channel
        files = sorted(
            p for p in directory.rglob("*")
            if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(directory).parts)
        )
        if not files:
            raise AlgorithmError(f"ClientError: channel {channel!r} has no data files in {directory}")
        return [f.read_bytes() for f in files]

    def has_channel(self, channel: str) -> bool:
        return channel in self.input_data_config


def _sniff_delimiter(text: str) -> str:
    first = text.lstrip().split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(first, delimiters=",\t; |").delimiter
    except csv.Error:
        return ","


def _csv(blob: bytes) -> np.ndarray:
    text = blob.decode("utf-8")
    if not text.strip():
        return np.empty((0, 0))
    delimiter = _sniff_delimiter(text)
    try:
        return np.atleast_2d(np.loadtxt(io.StringIO(text), delimiter=delimiter, dtype=np.float64, ndmin=2))
    except ValueError as exc:
        raise AlgorithmError(f"ClientError: could not parse CSV data (no header allowed, numbers only): {exc}") from exc


def load_table(env: Environment, channel: str, *, default: str, labelled: bool,
               feature_dim: int | None = None) -> tuple[Any, np.ndarray | None]:
    """``(features, labels)`` of one channel; features are dense arrays, or a scipy sparse matrix for LIBSVM.

    ``labelled``: CSV/Parquet carry the label in column 0 (RecordIO carries it in the record's label map)."""
    kind = env.content_type(channel, default)
    blobs = env.channel_bytes(channel)
    if kind == LIBSVM:
        from scipy.sparse import vstack
        from sklearn.datasets import load_svmlight_files

        # XGBoost (dmlc's parser) reads indices as zero-based, so one-based files such as Abalone get an empty
        # column 0; guessing per file instead gave the model one column fewer than its endpoint's requests.
        zero_based: bool | str = True if feature_dim is None else "auto"
        try:
            loaded = load_svmlight_files([io.BytesIO(b) for b in blobs], n_features=feature_dim, zero_based=zero_based)
        except ValueError as exc:
            raise AlgorithmError(f"ClientError: could not parse LIBSVM data in channel {channel!r}: {exc}") from exc
        return vstack(loaded[0::2]).tocsr(), np.concatenate(loaded[1::2])
    if kind == RECORDIO:
        from stepfn._recordio import RecordIOError, read_records
        from stepfn.local.sagemaker.recordio import records_to_arrays

        try:
            records = [r for blob in blobs for r in read_records(blob)]
            features, labels = records_to_arrays(records, feature_dim)
        except RecordIOError as exc:
            raise AlgorithmError(f"ClientError: channel {channel!r}: {exc}") from exc
        return features, labels
    if kind == PARQUET:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = np.vstack([pq.read_table(pa.BufferReader(b)).to_pandas().to_numpy(dtype=np.float64) for b in blobs])
    else:
        arrays = [a for a in (_csv(b) for b in blobs) if a.size]
        if not arrays:
            raise AlgorithmError(f"ClientError: channel {channel!r} is empty")
        table = np.vstack(arrays)
    if not labelled:
        return table, None
    if table.shape[1] < 2:
        raise AlgorithmError(f"ClientError: channel {channel!r} needs a label column and at least one feature")
    return table[:, 1:], table[:, 0]


def int_hyperparameter(env: Environment, name: str, default: int | None = None, *, minimum: int = 1) -> int:
    raw = env.hyperparameters.get(name)
    if raw is None:
        if default is None:
            raise AlgorithmError(f"ClientError: Missing required hyperparameter: {name}")
        return default
    try:
        value = int(float(json.loads(raw) if raw.startswith('"') else raw))
    except ValueError:
        raise AlgorithmError(f"ClientError: Hyperparameter {name}: {raw!r} is not an integer") from None
    if value < minimum:
        raise AlgorithmError(f"ClientError: Hyperparameter {name}: {value} must be >= {minimum}")
    return value


def float_hyperparameter(env: Environment, name: str, default: float) -> float:
    raw = env.hyperparameters.get(name)
    if raw is None or raw == "auto":
        return default
    try:
        return float(raw)
    except ValueError:
        raise AlgorithmError(f"ClientError: Hyperparameter {name}: {raw!r} is not a number") from None


def quality_metric(split: str, name: str, value: float) -> None:
    """The log line the Amazon built-ins print for a metric (their metric regexes read it)."""
    print(f"#quality_metric: host=algo-1, {split} {name} <loss>={value}", flush=True)
