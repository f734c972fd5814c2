"""``stepfn serve``: an HTTP endpoint speaking the Step Functions API (AWS JSON 1.0), the SageMaker API
(AWS JSON 1.1) and sagemaker-runtime InvokeEndpoint over the local engine and local SageMaker.

    stepfn.server.run("127.0.0.1", 8083, token=None)          # what the CLI's `stepfn serve` calls
    app = stepfn.server.create_app(home=None, token=None)     # the ASGI app, for uvicorn or tests

    sfn = stepfn.server.create_server_client("stepfunctions", "http://127.0.0.1:8083")   # token read from the home
    # or any boto3 client: boto3.client("stepfunctions", endpoint_url=..., aws_access_key_id=read_token(),
    #                                   config=Config(inject_host_prefix=False))

    stepfn.server.read_token(home=None) / ensure_token(home=None)   # the home's server token (see .auth)

    with stepfn.server.start_background(port=0) as server:    # a notebook or a test: serve on a thread
        ...server.url...
"""

from __future__ import annotations

from stepfn.server._protocol import attach_token, create_server_client
from stepfn.server.app import DEFAULT_HOST, DEFAULT_PORT, BackgroundServer, create_app, run, start_background
from stepfn.server.auth import TOKEN_HEADER, ensure_token, read_token

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "TOKEN_HEADER",
    "BackgroundServer",
    "attach_token",
    "create_app",
    "create_server_client",
    "ensure_token",
    "read_token",
    "run",
    "start_background",
]
