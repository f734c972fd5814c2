"""``stepfn serve``: an HTTP endpoint speaking the Step Functions API (AWS JSON 1.0), the SageMaker API
(AWS JSON 1.1) and sagemaker-runtime InvokeEndpoint over the local engine and local SageMaker.

    stepfn.server.run("127.0.0.1", 8083, token=None)          # what the CLI's `stepfn serve` calls
    app = stepfn.server.create_app(home=None, token=None)     # the ASGI app, for uvicorn or tests

    sfn = boto3.client("stepfunctions", endpoint_url="http://127.0.0.1:8083", region_name="us-east-1")
    stepfn.server.attach_token(sfn, token)                    # only when the server has a token
"""

from __future__ import annotations

from stepfn.server._protocol import TOKEN_HEADER, attach_token
from stepfn.server.app import DEFAULT_HOST, DEFAULT_PORT, create_app, run

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "TOKEN_HEADER", "attach_token", "create_app", "run"]
