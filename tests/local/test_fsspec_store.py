"""pandas reading and writing ``s3://`` in a notebook with a local Session and no s3fs: the local object store."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from stepfn.local.objectstore import ObjectStore

pytestmark = pytest.mark.skipif(importlib.util.find_spec("s3fs") is not None,
                                reason="s3fs is installed: s3:// is s3fs's (AWS, or stepfn serve's S3 API)")


def test_pandas_reads_and_writes_the_local_store_after_a_local_session(stepfn_home: Path) -> None:
    import stepfn.sagemaker as sagemaker

    ObjectStore().put_bytes("s3://sagemaker-sample-data-us-east-1/processing/census/census-income.csv",
                            b"age,income\n26, - 50000.\n49, 50000+.\n")
    sagemaker.Session()
    frame = pd.read_csv("s3://sagemaker-sample-data-us-east-1/processing/census/census-income.csv", nrows=10)
    assert list(frame["age"]) == [26, 49]
    frame.to_csv("s3a://my-bucket/out/frame.csv", index=False)
    assert ObjectStore().get_bytes("s3://my-bucket/out/frame.csv").decode().splitlines()[0] == "age,income"
    with pytest.raises(Exception, match="escapes"):
        pd.read_csv("s3://my-bucket/../../../etc/passwd")


def test_the_store_followed_is_the_home_of_the_moment(stepfn_home: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import stepfn.sagemaker as sagemaker

    sagemaker.Session()
    monkeypatch.setenv("STEPFN_HOME", str(tmp_path / "other-home"))
    ObjectStore().put_bytes("s3://bucket/k.csv", b"a\n1\n")
    assert list(pd.read_csv("s3://bucket/k.csv")["a"]) == [1]


def test_nothing_is_registered_without_a_local_session_or_with_the_store_on_s3(tmp_path: Path) -> None:
    """In a fresh interpreter: importing stepfn.sagemaker leaves fsspec's s3 alone; so does a local Session when
    the store itself goes to S3 (STEPFN_S3_BACKEND=s3), where pandas must meet s3fs's own ImportError."""
    script = textwrap.dedent("""
        import os
        import fsspec
        from fsspec.registry import registry
        import stepfn.sagemaker as sagemaker
        assert "s3" not in registry
        os.environ["STEPFN_S3_BACKEND"] = "s3"
        sagemaker.Session()
        assert "s3" not in registry
        try:
            fsspec.filesystem("s3")
        except ImportError as error:
            print("ImportError:", error)
    """)
    environment = {"STEPFN_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    if os.environ.get("PYTHONPATH"):
        environment["PYTHONPATH"] = os.environ["PYTHONPATH"]
    ran = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "Install s3fs" in ran.stdout
