"""Archive safety and packing, RecordIO-protobuf decoding and the metric collector."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from stepfn.errors import StoreError
from stepfn.local.sagemaker.jobdir import JobDir, pack, safe_extract
from stepfn.local.sagemaker.jobprocess import MetricCollector, clean_environment
from stepfn.local.sagemaker.recordio import RecordIOError, read_records, read_records_as_arrays


def _tar(path: Path, members: list[tarfile.TarInfo], payload: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if member.isfile():
                member.size = len(payload)
                tar.addfile(member, io.BytesIO(payload))
            else:
                tar.addfile(member)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize("members", [
    [_member("../escape.txt")],
    [_member("/tmp/absolute-escape.txt")],
    [_member("link", tarfile.SYMTYPE, "/etc"), _member("link/passwd")],
    [_member("up", tarfile.SYMTYPE, "../../..")],
    [_member("hard", tarfile.LNKTYPE, "/etc/passwd")],
    [_member("dev", tarfile.CHRTYPE)],
])
def test_safe_extract_refuses_escaping_members(tmp_path: Path, members: list[tarfile.TarInfo]) -> None:
    archive = _tar(tmp_path / "evil.tar.gz", members)
    destination = tmp_path / "out" / "code"
    with pytest.raises(StoreError, match="unsafe or unreadable archive"):
        safe_extract(archive, destination)
    assert not (tmp_path / "out" / "escape.txt").exists()
    assert not Path("/tmp/absolute-escape.txt").exists()


def test_pack_puts_files_at_the_archive_root(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "a.bin").write_bytes(b"a")
    (model / "sub" / "b.bin").write_bytes(b"b")
    archive = pack(model, tmp_path / "model.tar.gz")
    with tarfile.open(archive) as tar:
        assert sorted(m.name for m in tar.getmembers()) == ["a.bin", "sub", "sub/b.bin"]
    safe_extract(archive, tmp_path / "back")
    assert (tmp_path / "back" / "sub" / "b.bin").read_bytes() == b"b"
    empty = pack(tmp_path / "missing", tmp_path / "empty.tar.gz")
    with tarfile.open(empty) as tar:
        assert tar.getmembers() == []


def test_relocate_keeps_container_paths_inside_the_job(tmp_path: Path) -> None:
    job = JobDir(tmp_path / "job")
    assert job.relocate("/opt/ml/checkpoints") == job.base / "checkpoints"
    assert job.relocate("/data/../../etc") == job.root / "data" / "etc"


def test_recordio_reads_the_toolkits_dense_and_sparse_writers() -> None:
    from sagemaker_training import recordio as toolkit

    dense = io.BytesIO()
    toolkit._write_numpy_to_dense_tensor(dense, np.array([[1.5, -2.0], [3.0, 4.0]], dtype=np.float32),
                                         np.array([1, 0]))  # int labels: Int32Tensor
    features, labels = read_records_as_arrays(dense.getvalue())
    assert features.tolist() == [[1.5, -2.0], [3.0, 4.0]] and labels is not None and labels.tolist() == [1, 0]
    sparse = io.BytesIO()
    toolkit._write_spmatrix_to_sparse_tensor(sparse, csr_matrix(np.array([[0.0, 2.0, 0.0], [5.0, 0.0, 0.0]])))
    features, labels = read_records_as_arrays(sparse.getvalue())
    assert features.tolist() == [[0.0, 2.0, 0.0], [5.0, 0.0, 0.0]] and labels is None
    assert read_records(sparse.getvalue())[0].features["values"].shape == [3]
    float64 = io.BytesIO()
    toolkit._write_numpy_to_dense_tensor(float64, np.array([[0.1]], dtype=np.float64), np.array([-7.0]))
    assert read_records(float64.getvalue())[0].features["values"].dtype == "float64"
    assert read_records_as_arrays(float64.getvalue())[1].tolist() == [-7.0]  # type: ignore[union-attr]


def test_recordio_rejects_garbage() -> None:
    with pytest.raises(RecordIOError, match="magic"):
        read_records(b"not recordio at all")
    with pytest.raises(RecordIOError, match="truncated"):
        read_records(b"\x0a\x23\xd7\xce\x10\x00\x00\x00abc")


def test_metric_collector_matches_raw_and_syslog_escaped_lines() -> None:
    collector = MetricCollector([
        {"Name": "validation:auc", "Regex": r".*\[[0-9]+\].*#011validation-auc:([-+]?[0-9]*\.?[0-9]+)"},
        {"Name": "loss", "Regex": r"loss: (\S+)"},
        {"Name": "broken", "Regex": "(unclosed"},
    ])
    collector.feed("[0]\ttrain-auc:0.7\tvalidation-auc:0.65")
    collector.feed("[1]\ttrain-auc:0.8\tvalidation-auc:0.75")
    collector.feed("loss: 1e-3")
    collector.feed("loss: nan-ish")
    data = collector.final_metric_data()
    assert [(d["MetricName"], d["Value"]) for d in data] == [("validation:auc", 0.75), ("loss", 0.001)]


def test_clean_environment_keeps_essentials_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA-secret")
    monkeypatch.setenv("GITHUB_TOKEN", "secret")
    env = clean_environment({"X": "1"})
    assert env["X"] == "1" and "PATH" in env
    assert "AWS_ACCESS_KEY_ID" not in env and "GITHUB_TOKEN" not in env
