"""``get_dmatrix``: a channel (a file, or a folder: its first folder without subfolders) as a DMatrix, the label in
the first column (CSV) or the LIBSVM label, as the container reads file-mode channels. CSV and LIBSVM only."""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import warnings
from typing import Any

CSV = "csv"
LIBSVM = "libsvm"
_NAMES = {"csv": CSV, "text/csv": CSV, "libsvm": LIBSVM, "text/libsvm": LIBSVM, "text/x-libsvm": LIBSVM}


def _files(path: str) -> list[str]:
    if os.path.isfile(path):
        return [path]
    return sorted(os.path.join(path, name) for name in os.listdir(path)
                  if os.path.isfile(os.path.join(path, name)) and not name.startswith("."))


def _csv_delimiter(line: str) -> str:
    try:
        delimiter = csv.Sniffer().sniff(line[:512]).delimiter
    except csv.Error:
        return ","
    return "," if delimiter.isalnum() else delimiter


def _dmatrix(uri: str) -> Any:
    """``xgb.DMatrix`` of a text file URI, as the image's XGBoost 1.x reads one. XGBoost 3.1 on warns that text input
    is deprecated: the script did not choose it (this module did), so the warning is not passed on."""
    import xgboost as xgb

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Text file input has been deprecated")
        return xgb.DMatrix(uri)


def get_dmatrix(data_path: str, content_type: str, csv_weights: int = 0, is_pipe: bool = False) -> Any:
    """The DMatrix of the data under ``data_path``; None when the path does not exist (no such channel)."""
    if is_pipe:
        raise ValueError("stepfn's sagemaker_xgboost_container reads file-mode channels only (is_pipe=True)")
    kind = _NAMES.get(content_type.lower())
    if kind is None:
        raise ValueError(f"Content type {content_type} is not supported by stepfn's get_dmatrix: csv or libsvm")
    if not os.path.exists(data_path):
        return None
    files_path = data_path
    if os.path.isdir(data_path):
        for root, dirs, _ in os.walk(data_path):
            if not dirs:
                files_path = root
                break
    files = _files(files_path)
    if not files:
        raise RuntimeError(f"no data files in {files_path}")
    # XGBoost reads one file per URI: the folder's files are read as the container reads them, one after another.
    with tempfile.TemporaryDirectory() as scratch:
        joined = os.path.join(scratch, "data")
        with open(joined, "wb") as out:
            for name in files:
                with open(name, "rb") as part:
                    shutil.copyfileobj(part, out)
                out.write(b"\n")
        try:
            if kind == CSV:
                with open(files[0]) as first:
                    delimiter = _csv_delimiter(first.readline())
                weights = "&weight_column=1" if csv_weights == 1 else ""
                dmatrix = _dmatrix(f"{joined}?format=csv&label_column=0&delimiter={delimiter}{weights}")
            else:
                dmatrix = _dmatrix(f"{joined}?format=libsvm")
        except Exception as exc:
            raise RuntimeError(f"Failed to load {kind} data with exception:\n{exc}") from exc
    if dmatrix.get_label().size == 0:
        raise RuntimeError("Got input data without labels. Please check the input data set.")
    return dmatrix
