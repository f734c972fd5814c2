from __future__ import annotations

import os
from pathlib import Path

import fsspec
import pytest

from stepfn.errors import StoreError
from stepfn.local.objectstore import ObjectNotFoundError, ObjectStore


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "s3")


def test_default_root_is_under_stepfn_home(stepfn_home: Path) -> None:
    store = ObjectStore()
    store.put_bytes("s3://bucket/a/b.txt", b"hi")
    assert (stepfn_home / "s3" / "bucket" / "a" / "b.txt").read_bytes() == b"hi"


def test_put_get_exists_delete(store: ObjectStore) -> None:
    store.put_bytes("s3://b/k/x.bin", b"\x00\x01")
    assert store.exists("s3://b/k/x.bin")
    assert not store.exists("s3://b/k")
    assert store.get_bytes("s3://b/k/x.bin") == b"\x00\x01"
    assert store.size("s3://b/k/x.bin") == 2
    store.delete("s3://b/k/x.bin")
    store.delete("s3://b/k/x.bin")  # S3 deletes are idempotent
    assert not store.exists("s3://b/k/x.bin")
    assert not (store.root / "b" / "k").exists()
    with pytest.raises(ObjectNotFoundError):
        store.get_bytes("s3://b/k/x.bin")


def test_list_is_a_string_prefix_match_sorted(store: ObjectStore) -> None:
    for key in ["data/train.csv", "data/train/b.csv", "data/train/a.csv", "data/test.csv", "other/x"]:
        store.put_bytes(f"s3://b/{key}", key.encode())
    assert store.list("s3://b/data/tr") == [
        "s3://b/data/train.csv", "s3://b/data/train/a.csv", "s3://b/data/train/b.csv",
    ]
    assert store.list("s3://b/data/train/") == ["s3://b/data/train/a.csv", "s3://b/data/train/b.csv"]
    assert len(store.list("s3://b")) == 5
    assert store.list("s3://nothing/here") == []


@pytest.mark.parametrize(
    "uri",
    ["s3://b/../x", "s3://b/a/../../x", "s3://b//etc/passwd", "s3://../x", "s3://b/./x", "s3://b/a//c", "s3:///x",
     "s3://.hidden/x"],
)
def test_keys_cannot_escape_the_root(store: ObjectStore, uri: str) -> None:
    with pytest.raises(StoreError):
        store.put_bytes(uri, b"x")
    with pytest.raises(StoreError):
        store.local_path(uri)


def test_symlink_out_of_the_root_is_refused(store: ObjectStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    (store.root / "b").mkdir(parents=True)
    os.symlink(outside, store.root / "b" / "link")
    with pytest.raises(StoreError, match="outside"):
        store.get_bytes("s3://b/link/secret")
    with pytest.raises(StoreError, match="outside"):
        store.put_bytes("s3://b/link/new", b"x")
    assert not (outside / "new").exists()
    assert store.list("s3://b/") == []


def test_upload_and_download_directories_keep_relative_keys(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "sub" / "b.txt").write_text("b")
    assert store.upload(src, "s3://b/code/") == "s3://b/code"
    assert store.list("s3://b/code") == ["s3://b/code/a.txt", "s3://b/code/sub/b.txt"]
    assert store.upload(src / "a.txt", "s3://b/single/") == "s3://b/single/a.txt"
    out = store.download("s3://b/code", tmp_path / "out")
    assert (out / "sub" / "b.txt").read_text() == "b"
    one = store.download("s3://b/single/a.txt", tmp_path / "one")
    assert one == tmp_path / "one" / "a.txt" and one.read_text() == "a"
    linked = store.download("s3://b/code/", tmp_path / "linked", link=True)
    assert (linked / "a.txt").is_symlink() and (linked / "a.txt").read_text() == "a"
    with pytest.raises(ObjectNotFoundError):
        store.download("s3://b/missing", tmp_path / "none")


def test_file_uris_and_plain_paths_pass_through(store: ObjectStore, tmp_path: Path) -> None:
    target = tmp_path / "plain" / "f.txt"
    store.put_bytes(str(target), b"p")
    assert store.get_bytes(f"file://{target}") == b"p"
    assert store.local_path(f"file://{target}") == target
    assert store.list(f"file://{tmp_path / 'plain'}") == [f"file://{target}"]
    store.upload(target, "s3://b/copied.txt")
    assert store.get_bytes("s3://b/copied.txt") == b"p"


def test_fsspec_filesystem_backend(tmp_path: Path) -> None:
    memory = fsspec.filesystem("memory")
    memory.store.clear()
    store = ObjectStore(tmp_path / "unused", filesystem=memory)
    assert store.remote
    store.put_bytes("s3://bkt/data/a.csv", b"1,2")
    store.put_bytes("s3://bkt/data/sub/b.csv", b"3,4")
    assert store.list("s3://bkt/data") == ["s3://bkt/data/a.csv", "s3://bkt/data/sub/b.csv"]
    assert store.get_bytes("s3://bkt/data/a.csv") == b"1,2"
    out = store.download("s3://bkt/data/", tmp_path / "dl")
    assert (out / "sub" / "b.csv").read_bytes() == b"3,4"
    with pytest.raises(StoreError, match="remote"):
        store.local_path("s3://bkt/data/a.csv")
    with pytest.raises(StoreError):
        store.put_bytes("s3://bkt/../x", b"")
    assert not (tmp_path / "unused").exists()


def test_s3_endpoint_without_s3fs_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("botocore")
    try:
        import s3fs  # noqa: F401
    except ImportError:
        monkeypatch.setenv("STEPFN_S3_ENDPOINT_URL", "http://127.0.0.1:1")
        with pytest.raises(StoreError, match=r"s3fs, .*pip install 'stepfn\[s3\]'"):
            ObjectStore(tmp_path)
    else:
        pytest.skip("s3fs installed")


def test_upload_code_packs_a_sourcedir(store: ObjectStore, tmp_path: Path) -> None:
    import tarfile

    code = tmp_path / "code"
    (code / "pkg" / "__pycache__").mkdir(parents=True)
    (code / "train.py").write_text("print(1)")
    (code / "pkg" / "util.py").write_text("X = 1")
    (code / "pkg" / "__pycache__" / "util.cpython-311.pyc").write_bytes(b"junk")
    uri = store.upload_code(code, "s3://b/jobs/code/")
    assert uri == "s3://b/jobs/code/sourcedir.tar.gz"
    with tarfile.open(store.local_path(uri)) as tar:
        assert sorted(tar.getnames()) == ["pkg/util.py", "train.py"]
    single = store.upload_code(code / "train.py", "s3://b/one.tar.gz")
    with tarfile.open(store.local_path(single)) as tar:
        assert tar.getnames() == ["train.py"]
    with pytest.raises(StoreError):
        store.upload_code(tmp_path / "missing", "s3://b/x.tar.gz")


def test_relative_local_prefixes_download_with_their_relative_paths(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "train" / "sub").mkdir(parents=True)
    (tmp_path / "data" / "train" / "a.csv").write_text("a")
    (tmp_path / "data" / "train" / "sub" / "b.csv").write_text("b")
    for prefix in ("data/train", "data/train/", "file://data/train"):
        assert store.list(prefix) == [f"{prefix.rstrip('/')}/a.csv", f"{prefix.rstrip('/')}/sub/b.csv"]
        out = store.download(prefix, tmp_path / "out" / str(abs(hash(prefix))))
        assert (out / "sub" / "b.csv").read_text() == "b" and (out / "a.csv").read_text() == "a"


def test_open_streams_an_object(store: ObjectStore) -> None:
    store.put_bytes("s3://b/big.bin", b"x" * 100_000)
    with store.open("s3://b/big.bin") as handle:
        assert handle.read(10) == b"x" * 10 and len(handle.read()) == 99_990
    with pytest.raises(ObjectNotFoundError):
        store.open("s3://b/absent")


@pytest.mark.parametrize(("url", "expected"), [
    ("https://s3-us-east-1.amazonaws.com/bucket/prefix/train", "s3://bucket/prefix/train"),
    ("https://s3.amazonaws.com/bucket/key", "s3://bucket/key"),
    ("https://s3.eu-west-1.amazonaws.com/bucket/", "s3://bucket/"),
    ("https://my.bucket.s3.us-west-2.amazonaws.com/a/b", "s3://my.bucket/a/b"),
    ("https://bucket.s3.amazonaws.com/key", "s3://bucket/key"),
    ("https://s3.cn-north-1.amazonaws.com.cn/bucket/key", "s3://bucket/key"),
    ("https://s3.amazonaws.com/", "https://s3.amazonaws.com/"),
    ("https://example.com/bucket/key", "https://example.com/bucket/key"),
    ("s3://bucket/key", "s3://bucket/key"),
])
def test_s3_https_urls_name_s3_objects(url: str, expected: str) -> None:
    from stepfn.local.objectstore import as_s3_uri

    assert as_s3_uri(url) == expected


def test_store_reads_and_writes_through_s3_https_urls(tmp_path: Path) -> None:
    # SageMaker takes S3's HTTPS form (the abalone notebook's bucket_path); it used to reach fsspec's HTTP.
    store = ObjectStore(tmp_path)
    base = "https://s3-us-east-1.amazonaws.com/bucket/data"
    store.put_bytes(f"{base}/a.csv", b"1,2\n")
    (tmp_path / "b.csv").write_bytes(b"3,4\n")
    store.upload(tmp_path / "b.csv", f"{base}/")
    assert store.get_bytes("s3://bucket/data/a.csv") == b"1,2\n"
    assert store.exists(f"{base}/b.csv") and store.size(f"{base}/b.csv") == 4
    assert store.list(base) == ["s3://bucket/data/a.csv", "s3://bucket/data/b.csv"]
    fetched = store.download(f"{base}/", tmp_path / "out")
    assert sorted(p.name for p in fetched.iterdir()) == ["a.csv", "b.csv"]
    assert store.local_path(f"{base}/a.csv") == (tmp_path / "bucket" / "data" / "a.csv").resolve()
