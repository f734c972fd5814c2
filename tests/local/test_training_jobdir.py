"""Archive safety and packing, RecordIO-protobuf decoding and the metric collector."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from stepfn._recordio import RecordIOError, read_records
from stepfn.errors import StoreError
from stepfn.local.sagemaker import jobdir
from stepfn.local.sagemaker.jobdir import JobDir, pack, safe_extract
from stepfn.local.sagemaker.jobprocess import MetricCollector, clean_environment
from stepfn.local.sagemaker.recordio import read_records_as_arrays


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


@pytest.fixture(params=["stdlib-filter", "no-filter"])
def tar_filters(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Both ways safe_extract runs: with the stdlib's data filter (3.11.4+) and without it (Debian's 3.11.2)."""
    available = hasattr(tarfile, "data_filter")
    if request.param == "stdlib-filter" and not available:
        pytest.skip("this Python has no tarfile extraction filters")
    monkeypatch.setattr(jobdir, "_TAR_HAS_FILTERS", request.param == "stdlib-filter")
    return bool(request.param == "stdlib-filter")


@pytest.mark.parametrize(("members", "reason"), [
    ([_member("../escape.txt")], "'..'"),
    ([_member("ok/../../escape.txt")], "'..'"),
    ([_member("/tmp/absolute-escape.txt")], "absolute path"),
    ([_member("link", tarfile.SYMTYPE, "/etc"), _member("link/passwd")], "absolute path '/etc'"),
    ([_member("up", tarfile.SYMTYPE, "../../..")], "points outside"),
    ([_member("in", tarfile.SYMTYPE, "sub/../.."), _member("in/escape.txt")], "points outside"),
    ([_member("hard", tarfile.LNKTYPE, "/etc/passwd")], "absolute path '/etc/passwd'"),
    ([_member("dev", tarfile.CHRTYPE)], "special file"),
    ([_member("fifo", tarfile.FIFOTYPE)], "special file"),
], ids=["dotdot", "nested-dotdot", "absolute", "symlink-abs", "symlink-up", "symlink-via-dotdot", "hardlink",
        "device", "fifo"])
def test_safe_extract_refuses_escaping_members(tmp_path: Path, members: list[tarfile.TarInfo], reason: str,
                                               tar_filters: bool) -> None:
    archive = _tar(tmp_path / "evil.tar.gz", members)
    destination = tmp_path / "out" / "code"
    with pytest.raises(StoreError, match="unsafe or unreadable archive") as raised:
        safe_extract(archive, destination)
    assert reason in str(raised.value)
    assert not (tmp_path / "out" / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()
    assert not Path("/tmp/absolute-escape.txt").exists()
    assert not (destination / "dev").exists() and not (destination / "fifo").exists()


def test_safe_extract_refuses_a_member_through_a_link_already_on_disk(tmp_path: Path, tar_filters: bool) -> None:
    destination = tmp_path / "out"
    destination.mkdir()
    (destination / "elsewhere").symlink_to(tmp_path)
    archive = _tar(tmp_path / "evil.tar.gz", [_member("elsewhere/escape.txt")])
    with pytest.raises(StoreError, match="resolves outside the destination"):
        safe_extract(archive, destination)
    assert not (tmp_path / "escape.txt").exists()


def test_safe_extract_keeps_links_inside_and_drops_dangerous_modes(tmp_path: Path, tar_filters: bool) -> None:
    script = _member("bin/run.sh")
    script.mode = 0o4777  # setuid, world-writable: extracted as 0755
    data = _member("data/values.csv")
    data.mode = 0o666
    members = [_member("bin", tarfile.DIRTYPE), script, _member("data", tarfile.DIRTYPE), data,
               _member("bin/values.csv", tarfile.SYMTYPE, "../data/values.csv"),
               _member("copy.csv", tarfile.LNKTYPE, "data/values.csv")]
    for member in members:
        member.uid, member.gid = 4242, 4242
    destination = tmp_path / "out"
    safe_extract(_tar(tmp_path / "ok.tar.gz", members, payload=b"1,2\n"), destination)
    assert (destination / "bin" / "values.csv").read_bytes() == b"1,2\n"
    assert (destination / "copy.csv").read_bytes() == b"1,2\n"
    assert (destination / "bin" / "run.sh").stat().st_mode & 0o7777 == 0o755
    assert (destination / "data" / "values.csv").stat().st_mode & 0o7777 == 0o644
    assert (destination / "bin" / "run.sh").stat().st_uid != 4242


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
