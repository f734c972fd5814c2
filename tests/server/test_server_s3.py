"""boto3's S3 client and resource against ``stepfn serve``: the calls notebooks make on S3 themselves
(``download_file``, ``upload_fileobj``, listings), reading and writing the same objects local jobs use."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from stepfn.local.objectstore import ObjectStore
from stepfn.server import read_token
from stepfn.server._s3 import decode_aws_chunked


def test_download_file_reads_an_object_of_the_local_store(serve: Callable[..., str], make_client: Callable[..., Any],
                                                          stepfn_home: Path, tmp_path: Path) -> None:
    ObjectStore(stepfn_home / "s3").put_bytes("s3://public-data/datasets/abalone.libsvm", b"15 1:0.45\n7 1:0.35\n")
    s3 = make_client("s3", serve())
    target = tmp_path / "abalone"
    s3.download_file("public-data", "datasets/abalone.libsvm", str(target))
    assert target.read_bytes() == b"15 1:0.45\n7 1:0.35\n"
    head = s3.head_object(Bucket="public-data", Key="datasets/abalone.libsvm")
    assert head["ContentLength"] == 19
    assert head["ETag"] == '"' + hashlib.md5(b"15 1:0.45\n7 1:0.35\n").hexdigest() + '"'
    ranged = s3.get_object(Bucket="public-data", Key="datasets/abalone.libsvm", Range="bytes=3-8")
    assert ranged["Body"].read() == b"1:0.45"
    assert ranged["ContentRange"] == "bytes 3-8/19"
    assert s3.get_object(Bucket="public-data", Key="datasets/abalone.libsvm", Range="bytes=-5")["Body"].read() == b"0.35\n"


def test_missing_objects_and_buckets_are_s3_errors(serve: Callable[..., str], make_client: Callable[..., Any],
                                                   stepfn_home: Path, tmp_path: Path) -> None:
    ObjectStore(stepfn_home / "s3").put_bytes("s3://bucket/present", b"x")
    s3 = make_client("s3", serve())
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket="bucket", Key="absent")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as head:
        s3.head_object(Bucket="bucket", Key="absent")
    assert head.value.response["Error"]["Code"] == "404"
    # Keys are the store's paths as written: spaces, "+", "%" and non-ASCII letters survive the URL encoding.
    s3.put_object(Bucket="b", Key="dä ta/ü+1 %.csv", Body=b"y")
    assert ObjectStore(stepfn_home / "s3").get_bytes("s3://b/dä ta/ü+1 %.csv") == b"y"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="b", Prefix="dä ta/")["Contents"]] == ["dä ta/ü+1 %.csv"]
    # Locally every bucket exists (a job writes to any bucket it names): one nothing was put in lists empty.
    assert s3.list_objects_v2(Bucket="nobucket")["KeyCount"] == 0
    s3.head_bucket(Bucket="nobucket")
    with pytest.raises(ClientError) as invalid:
        s3.list_objects_v2(Bucket="..")
    assert invalid.value.response["Error"]["Code"] == "InvalidBucketName"
    with pytest.raises(ClientError) as escape:
        s3.put_object(Bucket="bucket", Key="a/../../outside", Body=b"x")
    assert escape.value.response["Error"]["Code"] == "InvalidArgument"
    assert not (stepfn_home / "outside").exists()


def test_uploads_land_where_jobs_read_them(serve: Callable[..., str], stepfn_home: Path, tmp_path: Path) -> None:
    """The notebook's own upload helper (the S3 resource's upload_fileobj), with the settings `stepfn serve`
    prints exported, as a user's boto3 reads them from the environment; then a multipart upload."""
    url = serve()
    environment = {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": read_token(stepfn_home) or "",
                   "AWS_SECRET_ACCESS_KEY": "stepfn", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        session = boto3.Session(region_name="us-east-1")
        session.resource("s3").Bucket("my-bucket").Object("prefix/train").upload_fileobj(io.BytesIO(b"1 1:2\n"))
        big = os.urandom(6 * 1024 * 1024)
        client = session.client("s3")
        client.upload_fileobj(io.BytesIO(big), "my-bucket", "big/blob",
                              Config=TransferConfig(multipart_threshold=5 * 1024 * 1024,
                                                    multipart_chunksize=5 * 1024 * 1024))
        copied = client.copy_object(Bucket="other", Key="copy", CopySource={"Bucket": "my-bucket", "Key": "prefix/train"})
        buckets = [b["Name"] for b in client.list_buckets()["Buckets"]]
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    store = ObjectStore(stepfn_home / "s3")
    assert store.get_bytes("s3://my-bucket/prefix/train") == b"1 1:2\n"
    assert store.get_bytes("s3://my-bucket/big/blob") == big
    assert store.get_bytes("s3://other/copy") == b"1 1:2\n"
    assert copied["CopyObjectResult"]["ETag"].startswith('"')
    assert buckets == ["my-bucket", "other"]
    assert not list((stepfn_home / "s3-uploads").iterdir())


def test_listings_page_and_group_by_delimiter(serve: Callable[..., str], make_client: Callable[..., Any],
                                              stepfn_home: Path) -> None:
    store = ObjectStore(stepfn_home / "s3")
    keys = ["data/a b.csv", "data/b.csv", "data/sub/c.csv", "data/sub/d.csv", "data/z+1.csv", "other.txt"]
    for key in keys:
        store.put_bytes(f"s3://bucket/{key}", key.encode())
    s3 = make_client("s3", serve())
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket="bucket", Prefix="data/",
                                                               PaginationConfig={"PageSize": 2}))
    assert [o["Key"] for page in pages for o in page.get("Contents", [])] == keys[:5]
    assert len(pages) == 3
    grouped = s3.list_objects_v2(Bucket="bucket", Prefix="data/", Delimiter="/")
    assert [o["Key"] for o in grouped["Contents"]] == ["data/a b.csv", "data/b.csv", "data/z+1.csv"]
    assert grouped["CommonPrefixes"] == [{"Prefix": "data/sub/"}]
    assert grouped["Contents"][1]["Size"] == len(b"data/b.csv")
    nothing = s3.list_objects_v2(Bucket="bucket", MaxKeys=0)
    assert nothing["KeyCount"] == 0 and nothing["IsTruncated"] is False
    with pytest.raises(ClientError) as bad_token:
        s3.list_objects_v2(Bucket="bucket", ContinuationToken="%%%")
    assert bad_token.value.response["Error"]["Code"] == "InvalidArgument"
    v1 = s3.list_objects(Bucket="bucket", Delimiter="/")
    assert [o["Key"] for o in v1["Contents"]] == ["other.txt"]
    assert v1["CommonPrefixes"] == [{"Prefix": "data/"}]
    deleted = s3.delete_objects(Bucket="bucket", Delete={"Objects": [{"Key": "data/b.csv"}, {"Key": "other.txt"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["data/b.csv", "other.txt"]
    s3.delete_object(Bucket="bucket", Key="data/a b.csv")
    assert store.list("s3://bucket/") == ["s3://bucket/data/sub/c.csv", "s3://bucket/data/sub/d.csv",
                                          "s3://bucket/data/z+1.csv"]


def test_s3_needs_the_token(serve: Callable[..., str], stepfn_home: Path) -> None:
    ObjectStore(stepfn_home / "s3").put_bytes("s3://bucket/secret", b"x")
    url = serve()
    stranger = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="not-the-token",
                            aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as refused:
        stranger.get_object(Bucket="bucket", Key="secret")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # An unsigned request is not S3's: it reaches the JSON API's routes, which refuse it as well.
    assert httpx.get(f"{url}/bucket/secret").status_code == 403
    # A page that rebinds its own name to 127.0.0.1 sends that name as Host: refused before any S3 handling.
    signed = {"Authorization": f"AWS4-HMAC-SHA256 Credential={read_token(stepfn_home)}/20260101/us-east-1/s3/"
                               "aws4_request, SignedHeaders=host, Signature=0"}
    assert httpx.get(f"{url}/bucket/secret", headers=signed).content == b"x"
    rebound = httpx.get(f"{url}/bucket/secret", headers={**signed, "Host": "attacker.example"})
    assert rebound.status_code == 403 and rebound.content != b"x"


def test_aws_chunked_bodies_are_decoded() -> None:
    body = b"5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n"
    assert decode_aws_chunked(body) == b"hello world"



def test_malformed_s3_requests_get_s3_error_documents_not_a_server_error(serve: Callable[..., str],
                                                                          stepfn_home: Path) -> None:
    url = serve()
    signed = {"Authorization": f"AWS4-HMAC-SHA256 Credential={read_token(stepfn_home)}/20260101/us-east-1/s3/"
                               "aws4_request, SignedHeaders=host, Signature=0"}
    chunked = httpx.put(f"{url}/bucket/key", headers={**signed, "Content-Encoding": "aws-chunked"},
                        content=b"zz\r\nhello\r\n0\r\n\r\n")
    assert (chunked.status_code, b"<Code>IncompleteBody</Code>" in chunked.content) == (400, True)
    created = httpx.post(f"{url}/bucket/big?uploads", headers=signed)
    upload_id = created.text.split("<UploadId>")[1].split("</UploadId>")[0]
    part = httpx.put(f"{url}/bucket/big?uploadId={upload_id}&partNumber=one", headers=signed, content=b"x")
    assert (part.status_code, b"<Code>InvalidArgument</Code>" in part.content) == (400, True)
    assert httpx.put(f"{url}/bucket/big?uploadId={upload_id}&partNumber=1", headers=signed,
                     content=b"x").status_code == 200
    completed = httpx.post(f"{url}/bucket/big?uploadId={upload_id}", headers=signed,
                           content=b"<CompleteMultipartUpload><Part><PartNumber>first</PartNumber></Part>"
                                   b"</CompleteMultipartUpload>")
    assert (completed.status_code, b"<Code>MalformedXML</Code>" in completed.content) == (400, True)


AWS_CLI = str(Path(sys.executable).with_name("aws")) if Path(sys.executable).with_name("aws").exists() \
    else shutil.which("aws")


@pytest.mark.skipif(AWS_CLI is None, reason="the AWS CLI is not installed (pip install awscli)")
def test_aws_s3_cp_from_a_notebook_shell_cell(serve: Callable[..., str], stepfn_home: Path, tmp_path: Path) -> None:
    """tf-2-workflow.ipynb's `!aws s3 cp {train_in_s3} ./data/train/x_train.npy` and
    `!aws s3 cp {estimator.model_data} ./model/model.tar.gz`, with the exports `stepfn serve` prints."""
    store = ObjectStore(stepfn_home / "s3")
    store.put_bytes("s3://sagemaker-us-east-1-123456789012/tf-2-workflow/data/train/x_train.npy", b"\x93NUMPY rows")
    url = serve()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID=read_token(stepfn_home) or "",
                       AWS_SECRET_ACCESS_KEY="stepfn", AWS_DEFAULT_REGION="us-east-1", HOME=str(tmp_path))
    assert AWS_CLI is not None

    def aws(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([AWS_CLI, "s3", *arguments], cwd=tmp_path, env=environment, capture_output=True,
                              text=True, timeout=120)

    down = aws("cp", "s3://sagemaker-us-east-1-123456789012/tf-2-workflow/data/train/x_train.npy",
               "./data/train/x_train.npy")
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "data/train/x_train.npy").read_bytes() == b"\x93NUMPY rows"
    (tmp_path / "data/test").mkdir()
    (tmp_path / "data/test/x_test.npy").write_bytes(b"test rows")
    synced = aws("sync", "./data", "s3://my-bucket/data/")
    assert synced.returncode == 0, synced.stderr
    assert store.list("s3://my-bucket/") == ["s3://my-bucket/data/test/x_test.npy", "s3://my-bucket/data/train/x_train.npy"]
    listed = aws("ls", "s3://my-bucket/data/")
    assert listed.stdout.split() == ["PRE", "test/", "PRE", "train/"]
    missing = aws("cp", "s3://my-bucket/absent", "./absent")
    assert missing.returncode != 0 and "404" in missing.stderr


def test_etags_follow_each_version_of_an_object(serve: Callable[..., str], make_client: Callable[..., Any],
                                                stepfn_home: Path) -> None:
    """The MD5 is remembered per file version (HEAD before every read must not hash the data set again), and a
    job rewriting the file in place gives the new content's ETag, even within the tick of the file clock of the
    first write (same size and mtime: the tie is forced with utime, as a coarse kernel clock gives it)."""
    store = ObjectStore(stepfn_home / "s3")
    store.put_bytes("s3://bucket/model.tar.gz", b"first")
    s3 = make_client("s3", serve())
    first = s3.head_object(Bucket="bucket", Key="model.tar.gz")["ETag"]
    assert first == s3.get_object(Bucket="bucket", Key="model.tar.gz")["ETag"] == f'"{hashlib.md5(b"first").hexdigest()}"'
    path = store.local_path("s3://bucket/model.tar.gz")
    written = path.stat().st_mtime_ns
    path.write_bytes(b"fifth")  # rewritten in place, as a job's output is
    os.utime(path, ns=(path.stat().st_atime_ns, written))
    assert s3.head_object(Bucket="bucket", Key="model.tar.gz")["ETag"] == f'"{hashlib.md5(b"fifth").hexdigest()}"'


def test_requests_signed_for_other_services_get_an_error_naming_them(serve: Callable[..., str],
                                                                     make_client: Callable[..., Any]) -> None:
    """The retraining notebook creates its Glue job with boto3: with the exports set, that call reaches stepfn
    serve, which says what it does not serve and what to do locally instead."""
    url = serve()
    with pytest.raises(ClientError) as glue_call:
        make_client("glue", url).create_job(Name="etl", Role="r", Command={"Name": "glueetl"})
    assert glue_call.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "does not serve the 'glue' API" in str(glue_call.value) and "handlers=" in str(glue_call.value)
    # The services it serves are unaffected, the runtime (signed as "sagemaker") included.
    assert make_client("sagemaker", url).list_endpoints()["Endpoints"] == []
    with pytest.raises(ClientError) as missing:
        make_client("sagemaker-runtime", url).invoke_endpoint(EndpointName="absent", Body=b"1")
    assert "does not serve" not in str(missing.value)


def test_an_aws_sagemaker_session_moves_data_through_the_s3_api(serve: Callable[..., str], stepfn_home: Path,
                                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A script written for AWS (``Session(boto_session=boto3.Session())``) run with the printed settings: its
    upload_data, S3Uploader and S3Downloader calls go through boto3 to the local store."""
    from stepfn.sagemaker import Session
    from stepfn.sagemaker.s3 import S3Downloader, S3Uploader

    url = serve()
    for name, value in {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": read_token(stepfn_home) or "",
                        "AWS_SECRET_ACCESS_KEY": "stepfn", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "train.py").write_text("print('train')\n")
    session = Session(boto_session=boto3.Session())
    uploaded = session.upload_data(str(tmp_path / "code"), key_prefix="scripts")
    assert uploaded == "s3://sagemaker-us-east-1-123456789012/scripts"  # the bucket named after STS's local account
    store = ObjectStore(stepfn_home / "s3")
    assert store.get_bytes("s3://sagemaker-us-east-1-123456789012/scripts/train.py") == b"print('train')\n"
    S3Uploader.upload_string_as_file_body("a,b\n", "s3://my-bucket/report.csv", sagemaker_session=session)
    assert S3Downloader.read_file("s3://my-bucket/report.csv", sagemaker_session=session) == "a,b\n"
    assert S3Downloader.list("s3://sagemaker-us-east-1-123456789012/scripts", sagemaker_session=session) == [
        "s3://sagemaker-us-east-1-123456789012/scripts/train.py"]


def test_a_page_holds_at_most_1000_keys_whatever_max_keys_asks(serve: Callable[..., str],
                                                              make_client: Callable[..., Any],
                                                              stepfn_home: Path) -> None:
    store = ObjectStore(stepfn_home / "s3")
    for index in range(1001):
        store.put_bytes(f"s3://many/{index:04d}", b"")
    s3 = make_client("s3", serve())
    first = s3.list_objects_v2(Bucket="many", MaxKeys=5000)
    assert (first["KeyCount"], first["MaxKeys"], first["IsTruncated"]) == (1000, 1000, True)
    rest = s3.list_objects_v2(Bucket="many", ContinuationToken=first["NextContinuationToken"])
    assert [o["Key"] for o in rest["Contents"]] == ["1000"] and rest["IsTruncated"] is False
