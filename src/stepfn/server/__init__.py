"""``stepfn serve``: an HTTP endpoint speaking the Step Functions API (AWS JSON 1.0), the SageMaker API
(AWS JSON 1.1) and sagemaker-runtime InvokeEndpoint over the local engine and local SageMaker.

    stepfn.server.run("127.0.0.1", 8083, token=None)          # what the CLI's `stepfn serve` calls
    app = stepfn.server.create_app(home=None, token=None)     # the ASGI app, for uvicorn or tests

    sfn = stepfn.server.create_server_client("stepfunctions", "http://127.0.0.1:8083", token=None)
    # or any boto3 client: boto3.client("stepfunctions", endpoint_url=..., config=Config(inject_host_prefix=False)),
    # then stepfn.server.attach_token(sfn, token) when the server has a token.

    with stepfn.server.start_background(port=0) as server:    # a notebook or a test: serve on a thread
        ...server.url...
"""

from __future__ import annotations

from stepfn.server._protocol import TOKEN_HEADER, attach_token, create_server_client
from stepfn.server.app import DEFAULT_HOST, DEFAULT_PORT, BackgroundServer, create_app, run, start_background

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "TOKEN_HEADER",
    "BackgroundServer",
    "attach_token",
    "create_app",
    "create_server_client",
    "run",
    "start_background",
]
