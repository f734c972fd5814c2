"""The local session's in-process transport (stepfn.server._inprocess): the guard stays on, its token opens
nothing else, nothing leaves the process, and concurrent callers share one app.

What the clients do for a notebook is tested in tests/sagemaker/test_sagemaker_session_clients.py.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import multiprocessing
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from starlette.types import Receive, Scope, Send

from stepfn.errors import StepfnError
from stepfn.local.objectstore import ObjectStore
from stepfn.sagemaker import Session
from stepfn.server._inprocess import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY, _app_of, _call, _run
from stepfn.server.auth import TOKEN_FILE, TOKEN_HEADER


def _ping(home: Path, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/x-amz-json-1.1"),
                         (b"x-amz-target", b"SageMaker.ListEndpoints"), *headers],
             "client": ("127.0.0.1", 0), "server": ("localhost", None)}
    status, _, body = _run(_call(_app_of(home).app, scope, b"{}"))
    return status, body


def test_the_in_process_app_keeps_every_check_of_the_guard(stepfn_home: Path) -> None:
    Session().sagemaker_client.list_endpoints()  # the app of this home exists now
    token = _app_of(stepfn_home.resolve()).token.encode()
    home = stepfn_home.resolve()
    assert _ping(home, [(b"host", b"localhost"), (TOKEN_HEADER.lower().encode(), token)]) == \
        (200, b'{"Endpoints":[]}')
    status, body = _ping(home, [(b"host", b"localhost")])
    assert status == 403 and json.loads(body)["__type"] == "UnrecognizedClientException"
    status, _ = _ping(home, [(b"host", b"localhost"), (TOKEN_HEADER.lower().encode(), b"0" * 32)])
    assert status == 403
    status, body = _ping(home, [(b"host", b"attacker.example"), (TOKEN_HEADER.lower().encode(), token)])
    assert status == 403 and b"DNS rebinding" in body
    status, _ = _ping(home, [(b"host", b"localhost"), (b"origin", b"http://attacker.example"),
                             (TOKEN_HEADER.lower().encode(), token)])
    assert status == 403


def test_a_served_port_refuses_what_a_local_session_holds(stepfn_home: Path, serve: Callable[..., str]) -> None:
    session = Session()
    session.s3_client.put_object(Bucket="bkt", Key="k", Body=b"x")
    # The in-process token is this process's own: it is not the home's (which no local session writes) ...
    assert not (stepfn_home / TOKEN_FILE).exists()
    url = serve()
    assert _app_of(stepfn_home.resolve()).token != (stepfn_home / TOKEN_FILE).read_text().strip()
    # ... and the session's credentials are placeholders that open no server.
    credentials = session.boto_session.get_credentials()
    assert (credentials.access_key, credentials.secret_key) == (LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY)
    outsider = boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1",
                            aws_access_key_id=credentials.access_key, aws_secret_access_key=credentials.secret_key,
                            config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as refused:
        outsider.list_endpoints()
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_services_the_app_does_not_speak_fail_before_anything_is_sent() -> None:
    boto_session = Session().boto_session
    for service, call in (("dynamodb", lambda client: client.list_tables()),
                          ("glue", lambda client: client.get_jobs())):
        with pytest.raises(StepfnError, match=f"{service} is not served locally"):
            call(boto_session.client(service))


def test_a_notebooks_session_deploys_and_invokes_a_lambda_function(stepfn_home: Path) -> None:
    """A notebook that deploys its function with ``sagemaker.Session().boto_session.client("lambda")`` reaches the
    home's Lambda API in-process, as it reaches ``stepfn serve``'s: the function runs in its own process with its
    environment, and a LambdaStep of that home would call it."""
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", "import os\n\ndef handler(event, context):\n"
                                   "    return {'got': event, 'setting': os.environ['SETTING']}\n")
    functions = Session().boto_session.client("lambda")
    functions.create_function(FunctionName="deployed", Runtime="python3.11", Handler="app.handler",
                              Role="arn:aws:iam::123456789012:role/r", Code={"ZipFile": package.getvalue()},
                              Environment={"Variables": {"SETTING": "from the notebook"}})
    answer = functions.invoke(FunctionName="deployed", Payload=json.dumps({"a": 1}))
    assert answer["StatusCode"] == 200
    assert json.loads(answer["Payload"].read()) == {"got": {"a": 1}, "setting": "from the notebook"}
    assert [f["FunctionName"] for f in functions.list_functions()["Functions"]] == ["deployed"]
    assert (stepfn_home / "lambda" / "functions" / "deployed").is_dir()


def test_concurrent_callers_share_one_app(stepfn_home: Path) -> None:
    s3 = Session().s3_client

    def put(index: int) -> str:
        s3.put_object(Bucket="many", Key=f"k{index}", Body=str(index).encode())
        return s3.get_object(Bucket="many", Key=f"k{index}")["Body"].read().decode()

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(put, range(32))) == [str(index) for index in range(32)]
    assert len(ObjectStore().list("s3://many/")) == 32
    keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="many",
                                                                                   PaginationConfig={"PageSize": 5})
            for item in page["Contents"]]
    assert sorted(keys) == sorted(f"k{index}" for index in range(32))


def test_clients_work_from_code_running_inside_an_event_loop() -> None:
    # A notebook cell runs on the kernel's asyncio loop thread: a synchronous boto3 call there must not need it.
    s3 = Session().s3_client

    async def cell() -> bytes:
        s3.put_object(Bucket="cells", Key="k", Body=b"from a cell")
        body: bytes = s3.get_object(Bucket="cells", Key="k")["Body"].read()
        return body

    assert asyncio.run(cell()) == b"from a cell"


def test_a_forked_child_gets_its_own_app_and_loop() -> None:
    # multiprocessing's fork start method copies the parent's state, but not its loop thread.
    session = Session()
    session.s3_client.put_object(Bucket="forks", Key="parent", Body=b"p")
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)

    def child() -> None:
        session.s3_client.put_object(Bucket="forks", Key="child", Body=b"c")
        writer.send(session.s3_client.get_object(Bucket="forks", Key="parent")["Body"].read())

    process = context.Process(target=child)
    process.start()
    try:
        assert reader.poll(60) and reader.recv() == b"p"
        process.join(60)
        assert process.exitcode == 0
    finally:
        if process.is_alive():  # a child stuck on the parent's loop would otherwise outlive the test
            process.kill()
    assert ObjectStore().get_bytes("s3://forks/child") == b"c"


def test_an_app_failure_after_its_500_is_logged_not_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b"Internal Server Error"})
        raise RuntimeError("the cause a user needs")

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    with caplog.at_level(logging.ERROR, logger="stepfn.server"):
        status, _, body = _run(_call(failing, scope, b""))
    assert (status, body) == (500, b"Internal Server Error")
    assert "the cause a user needs" in caplog.text and "POST /" in caplog.text
