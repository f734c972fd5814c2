"""Session data helpers and ``stepfn.sagemaker.s3`` as a notebook uses them: local object store, or S3 via boto3."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from stepfn.local.objectstore import ObjectStore
from stepfn.sagemaker import Session, get_execution_role
from stepfn.sagemaker.s3 import S3Downloader, S3Uploader, parse_s3_url, s3_path_join

SESSION = Session(region_name="us-east-1", default_bucket="my-bucket")


def make_tree(root: Path) -> Path:
    (root / "data" / "nested").mkdir(parents=True)
    (root / "data" / "train.csv").write_text("1,2\n")
    (root / "data" / "nested" / "more.csv").write_text("3,4\n")
    return root / "data"


def test_upload_data_lands_where_local_jobs_read(tmp_path: Path, stepfn_home: Path) -> None:
    data = make_tree(tmp_path)
    assert SESSION.upload_data(str(data / "train.csv"), key_prefix="abalone") == "s3://my-bucket/abalone/train.csv"
    assert SESSION.upload_data(str(data), bucket="other", key_prefix="dir/in") == "s3://other/dir/in"
    store = ObjectStore()
    assert store.root == (stepfn_home / "s3").absolute()
    assert store.get_bytes("s3://my-bucket/abalone/train.csv") == b"1,2\n"
    assert store.list("s3://other/dir/in") == ["s3://other/dir/in/nested/more.csv", "s3://other/dir/in/train.csv"]
    assert SESSION.list_s3_files("other", "dir/in/") == ["dir/in/nested/more.csv", "dir/in/train.csv"]
    assert SESSION.read_s3_file("other", "dir/in/nested/more.csv") == "3,4\n"
    with pytest.raises(FileNotFoundError, match="no such file"):
        SESSION.upload_data(str(tmp_path / "missing.csv"))


def test_download_data_keeps_relative_paths_and_refuses_escapes(tmp_path: Path) -> None:
    SESSION.upload_data(str(make_tree(tmp_path)), key_prefix="in")
    out = tmp_path / "out"
    written = SESSION.download_data(str(out), "my-bucket", "in")
    assert sorted(Path(p).relative_to(out).as_posix() for p in written) == ["nested/more.csv", "train.csv"]
    assert (out / "nested" / "more.csv").read_text() == "3,4\n"
    # A prefix with an extension names one object, saved under its base name (as sagemaker v2).
    assert SESSION.download_data(str(tmp_path / "one"), "my-bucket", "in/nested/more.csv") == [
        str(tmp_path / "one" / "more.csv")]
    assert SESSION.download_data(str(tmp_path / "none"), "my-bucket", "nothing-here/") == []


def test_uploader_and_downloader_round_trip(tmp_path: Path) -> None:
    target = "s3://my-bucket/notebook/run-1"
    assert S3Uploader.upload_string_as_file_body("hello", f"{target}/a.txt", sagemaker_session=SESSION) == (
        f"{target}/a.txt")
    assert S3Uploader.upload_bytes(b"\x00\x01", f"{target}/b.bin", sagemaker_session=SESSION) == f"{target}/b.bin"
    file = tmp_path / "c.csv"
    file.write_text("c")
    assert S3Uploader.upload(str(file), target, sagemaker_session=SESSION) == f"{target}/c.csv"
    assert S3Downloader.list(target, sagemaker_session=SESSION) == [f"{target}/a.txt", f"{target}/b.bin",
                                                                    f"{target}/c.csv"]
    assert S3Downloader.read_file(f"{target}/a.txt", sagemaker_session=SESSION) == "hello"
    assert S3Downloader.read_bytes(f"{target}/b.bin", sagemaker_session=SESSION) == b"\x00\x01"
    paths = S3Downloader.download(target, str(tmp_path / "back"), sagemaker_session=SESSION)
    assert sorted(os.path.basename(p) for p in paths) == ["a.txt", "b.bin", "c.csv"]
    # Without a session argument a default Session is made, on the same local store.
    assert S3Downloader.read_file(f"{target}/a.txt") == "hello"


def test_uri_helpers_follow_sagemaker_v2() -> None:
    assert parse_s3_url("s3://bucket/a/b.csv") == ("bucket", "a/b.csv")
    with pytest.raises(ValueError, match="Expecting 's3' scheme, got: https"):
        parse_s3_url("https://bucket/a")
    assert s3_path_join("s3://", "bucket", "prefix", "key") == "s3://bucket/prefix/key"
    assert s3_path_join("s3://", "bucket//", "/prefix/", "", None, "key/") == "s3://bucket/prefix/key"
    assert s3_path_join("/a", "b", with_end_slash=True) == "a/b/"
    assert s3_path_join("s3://") == "s3://"


def test_session_built_on_boto3_talks_to_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        boto_session = boto3.Session(region_name="us-east-1")
        boto_session.client("s3").create_bucket(Bucket="real")
        session = Session(default_bucket="real", boto_session=boto_session)
        uri = session.upload_data(str(make_tree(tmp_path)), key_prefix="in")
        assert uri == "s3://real/in"
        assert S3Downloader.list(uri, sagemaker_session=session) == ["s3://real/in/nested/more.csv",
                                                                     "s3://real/in/train.csv"]
        assert session.read_s3_file("real", "in/train.csv") == "1,2\n"
        assert not ObjectStore().exists("s3://real/in/train.csv")
        written = session.download_data(str(tmp_path / "out"), "real", "in")
        assert len(written) == 2 and (tmp_path / "out" / "nested" / "more.csv").read_text() == "3,4\n"
        # S3 keys may hold "..": such a key must not write outside the download folder.
        session.upload_string_as_file_body("x", "real", "evil/../../escape.txt")
        with pytest.raises(ValueError, match="outside"):
            session.download_data(str(tmp_path / "jail"), "real", "evil")
        assert not (tmp_path / "escape.txt").exists()
        role = boto_session.client("iam").create_role(RoleName="Runner", AssumeRolePolicyDocument="{}")["Role"]
        assumed = boto_session.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="nb")
        as_role = boto3.Session(aws_access_key_id=assumed["Credentials"]["AccessKeyId"],
                                aws_secret_access_key=assumed["Credentials"]["SecretAccessKey"],
                                aws_session_token=assumed["Credentials"]["SessionToken"], region_name="us-east-1")
        assert get_execution_role(Session(boto_session=as_role)) == role["Arn"]


def test_get_execution_role_locally_needs_no_sts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    assert get_execution_role() == "arn:aws:iam::123456789012:role/stepfn-local-execution-role"
    assert get_execution_role(Session(region_name="cn-north-1")).startswith("arn:aws-cn:iam::")


def test_local_session_boto_session_names_its_region_and_stays_local(stepfn_home: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK's own integration tests read sagemaker_session.boto_session.region_name; sagemaker v2 always has one.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    session = Session()
    assert session.boto_session.region_name == "eu-west-1"
    assert Session(region_name="ap-south-1").boto_session.region_name == "ap-south-1"
    # Reading it does not turn the session into an AWS one: data still goes to the local object store.
    uri = session.upload_string_as_file_body("x", "local-bucket", "k.txt")
    assert uri == "s3://local-bucket/k.txt" and ObjectStore().get_bytes(uri) == b"x"
    # Its clients are the local backends' too (tests/sagemaker/test_sagemaker_session_clients.py).
    assert session.boto_session.client("s3").get_object(Bucket="local-bucket", Key="k.txt")["Body"].read() == b"x"


def test_aws_session_boto_session_is_the_boto3_session() -> None:
    boto_session = boto3.Session(region_name="us-west-2")
    session = Session(boto_session=boto_session)
    assert session.boto_session is boto_session and session.boto_region_name == "us-west-2"


def test_s3_data_config_names_the_data_bucket_of_the_region() -> None:
    """``sagemaker.utils.S3DataConfig``, as the example notebooks find their data sets' bucket."""
    from stepfn.sagemaker.utils import S3DataConfig

    SESSION.upload_string_as_file_body('{"us-east-1": "data-use1", "default": "data-elsewhere"}',
                                       "example-notebooks-data-config", "config/data_config.json")
    config = S3DataConfig(SESSION, "example-notebooks-data-config", "config/data_config.json")
    assert config.get_data_bucket() == "data-use1"  # the session's region
    assert config.get_data_bucket("eu-west-1") == "data-elsewhere"
    with pytest.raises(ValueError, match="Bucket Name and S3 file Prefix are required"):
        S3DataConfig(SESSION, "example-notebooks-data-config", None)
