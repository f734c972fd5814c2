"""Local Python functions as Lambda: resolution, result shapes and error documents as AWS gives them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from stepfn.engine.protocol import TaskRequest
from stepfn.errors import StatesError
from stepfn.local import default_handlers
from stepfn.local.lambdas import (
    LambdaContext,
    handlers,
    invoke_lambda,
    parse_function_name,
    register_function,
    unregister_function,
)

OPTIMIZED = "arn:aws:states:::lambda:invoke"
BARE = "arn:aws:lambda:us-east-1:123456789012:function:{name}"


class Control:
    def cancelled(self) -> bool:
        return False

    def heartbeat(self) -> None: ...

    def sleep(self, seconds: float) -> bool:
        return True

    def log(self, message: str) -> None: ...


def request(function_name: str, payload: Any = None, *, resource: str = OPTIMIZED, **extra: Any) -> TaskRequest:
    parameters: dict[str, Any] = {"FunctionName": function_name}
    if payload is not None or resource != OPTIMIZED:
        parameters["Payload"] = payload
    return TaskRequest(
        resource=resource, service="lambda", action="invoke", pattern="request_response", parameters=parameters,
        state_name="Call", execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:e", **extra,
    )


@pytest.fixture(autouse=True)
def clean_registry() -> Any:
    yield
    for name in ("double", "fails", "ctx", "custom", "exits", "unserializable"):
        unregister_function(name)


def test_parse_function_name_forms() -> None:
    assert parse_function_name("f").name == "f"
    ref = parse_function_name("arn:aws:lambda:eu-west-1:123456789012:function:f:prod")
    assert (ref.name, ref.qualifier, ref.arn) == ("f", "prod", "arn:aws:lambda:eu-west-1:123456789012:function:f:prod")
    assert parse_function_name("123456789012:function:f").name == "f"
    assert parse_function_name("pkg.mod:fn").import_path == "pkg.mod:fn"
    with pytest.raises(StatesError) as info:
        parse_function_name("not a name!")
    assert info.value.error == "Lambda.InvalidParameterValueException"


def test_optimized_integration_wraps_the_payload() -> None:
    register_function("double", lambda event: {"x": event["x"] * 2})
    result = invoke_lambda(request("double", {"x": 21}), Control())
    assert list(result) == ["ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata", "StatusCode"]
    assert result["Payload"] == {"x": 42} and result["StatusCode"] == 200 and result["ExecutedVersion"] == "$LATEST"
    meta = result["SdkHttpMetadata"]
    assert meta["HttpStatusCode"] == 200
    assert meta["HttpHeaders"]["Content-Length"] == str(len(json.dumps({"x": 42})))
    assert meta["AllHttpHeaders"]["x-amzn-RequestId"] == [result["SdkResponseMetadata"]["RequestId"]]


def test_bare_arn_returns_the_result_and_resolves_arn_to_name() -> None:
    register_function("double", lambda event: event * 2)
    arn = BARE.format(name="double")
    assert invoke_lambda(request(arn, 4, resource=arn), Control()) == 8
    # A function registered under an ARN is found by its plain name too.
    register_function(arn, lambda event: event * 3)
    assert invoke_lambda(request("double", 2), Control())["Payload"] == 6


def test_decorator_and_context() -> None:
    seen: list[LambdaContext] = []

    @register_function("ctx")
    def handler(event: Any, context: LambdaContext) -> str:
        seen.append(context)
        return context.function_name

    result = invoke_lambda(request("ctx", {}, timeout_seconds=60), Control())
    assert result["Payload"] == "ctx"
    assert seen[0].invoked_function_arn == BARE.format(name="ctx")
    assert 0 < seen[0].get_remaining_time_in_millis() <= 60_000
    assert seen[0].aws_request_id == result["SdkResponseMetadata"]["RequestId"]


def test_payload_is_a_copy() -> None:
    payload = {"items": [1]}
    register_function("double", lambda event: event["items"].append(2))
    assert invoke_lambda(request("double", payload), Control())["Payload"] is None
    assert payload == {"items": [1]}


def _raise_custom(event: Any) -> None:
    class TrainingDiverged(RuntimeError):
        pass

    raise TrainingDiverged("loss is nan")


def test_function_error_optimized_has_compact_error_document() -> None:
    register_function("custom", _raise_custom)
    with pytest.raises(StatesError) as info:
        invoke_lambda(request("custom", {}), Control())
    assert info.value.error == "TrainingDiverged"
    cause = info.value.cause
    assert cause is not None and cause.startswith('{"errorMessage":"loss is nan","errorType":"TrainingDiverged"')
    document = json.loads(cause)
    assert list(document) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert len(document["stackTrace"]) == 1  # only the user's frame, not stepfn's
    assert 'in _raise_custom\n    raise TrainingDiverged("loss is nan")\n' in document["stackTrace"][0]


def test_function_error_bare_arn_uses_json_dumps_spacing() -> None:
    def fails(event: Any) -> None:
        raise Exception("Some exception was raised.")

    register_function("fails", fails)
    arn = BARE.format(name="fails")
    with pytest.raises(StatesError) as info:
        invoke_lambda(request(arn, {}, resource=arn), Control())
    assert info.value.error == "Exception"
    assert info.value.cause is not None
    assert info.value.cause.startswith('{"errorMessage": "Some exception was raised.", "errorType": "Exception", ')


def test_unknown_function_and_marshal_and_exit_errors() -> None:
    with pytest.raises(StatesError) as info:
        invoke_lambda(request("nope", {}), Control())
    assert info.value.error == "Lambda.ResourceNotFoundException"
    assert "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope" in str(info.value.cause)
    register_function("unserializable", lambda event: object())
    with pytest.raises(StatesError) as info:
        invoke_lambda(request("unserializable", {}), Control())
    assert info.value.error == "Runtime.MarshalError"
    register_function("exits", lambda event: sys.exit(3))
    with pytest.raises(StatesError) as info:
        invoke_lambda(request("exits", {}), Control())
    assert info.value.error == "Lambda.Unknown"


def test_module_function_strings_are_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_local_fns.py").write_text("def triple(event):\n    return event['n'] * 3\n")
    monkeypatch.setenv("STEPFN_LAMBDA_PATH", str(tmp_path))  # the user allows their own folder
    assert invoke_lambda(request("my_local_fns:triple", {"n": 5}), Control())["Payload"] == 15
    with pytest.raises(StatesError) as info:
        invoke_lambda(request("my_local_fns:missing", {}), Control())
    assert info.value.error == "Lambda.ResourceNotFoundException"


def test_missing_function_name_is_a_runtime_error() -> None:
    bad = TaskRequest(
        resource=OPTIMIZED, service="lambda", action="invoke", pattern="request_response", parameters={},
        state_name="Call", execution_arn="arn:x",
    )
    with pytest.raises(StatesError) as info:
        invoke_lambda(bad, Control())
    assert info.value.error == "States.Runtime" and info.value.state == "Call"


def test_handlers_and_default_handlers(tmp_path: Path) -> None:
    (handler,) = handlers(tmp_path).values()
    # invoke_lambda bound to the home, where functions created through the Lambda API live.
    assert (handler.func, handler.keywords) == (invoke_lambda, {"home": tmp_path})  # type: ignore[attr-defined]
    merged = default_handlers(tmp_path)
    # Through the step cache, which hands a Task that asked for no caching straight to the function.
    assert merged["lambda:invoke"].__wrapped__.func is invoke_lambda  # type: ignore[attr-defined]
    assert "s3:getObject" in merged  # the S3 backend is part of this tree


# -- what a FunctionName may pick ----------------------------------------------------------------------------------

MARKER_MODULE = "import pathlib, os\npathlib.Path(os.environ['ATTACK_MARKER']).write_text('ran')\n"


@pytest.mark.parametrize("function_name", [
    "cProfile:run", "os:system", "subprocess:run", "builtins:exec", "runpy:run_path", "code:interact",
    "json:loads",  # harmless, but the standard library is never a Lambda
    "boto3:client", "pytest:main",  # installed packages (site-packages), already imported or not
    "stepfn.cli:main", "stepfn.server.app:run",  # stepfn itself
    "my_allowed_fns:os.system", "my_allowed_fns:json.dumps", "my_allowed_fns:imported_run",  # what it imported
    "my_allowed_fns:__builtins__", "my_allowed_fns:Thing.__init__.__globals__",
    "my_allowed_fns:value",  # not a function
    "never_allowed_fns:handler",  # a module outside the allowed folders, even on sys.path
])
def test_a_function_name_never_reaches_code_outside_the_allowed_folders(
        function_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    allowed, elsewhere = tmp_path / "allowed", tmp_path / "elsewhere"
    allowed.mkdir()
    elsewhere.mkdir()
    (allowed / "my_allowed_fns.py").write_text(
        "import json, os\nfrom subprocess import run as imported_run\nvalue = 3\n"
        "class Thing:\n    def __init__(self):\n        pass\n")
    (elsewhere / "never_allowed_fns.py").write_text(MARKER_MODULE + "def handler(event):\n    return 1\n")
    (allowed / "json.py").write_text(MARKER_MODULE)  # a stdlib name in an allowed folder: still refused
    marker = tmp_path / "marker"
    monkeypatch.setenv("ATTACK_MARKER", str(marker))
    monkeypatch.setenv("STEPFN_LAMBDA_PATH", str(allowed))
    monkeypatch.syspath_prepend(str(elsewhere))
    payload = {"cmd": f"touch {marker}"} if "system" in function_name else f"open({str(marker)!r}, 'w')"
    with pytest.raises(StatesError) as info:
        invoke_lambda(request(function_name, payload), Control())
    assert info.value.error == "Lambda.ResourceNotFoundException"
    assert not marker.exists()
    assert "never_allowed_fns" not in sys.modules


def test_a_refused_name_says_how_to_allow_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEPFN_LAMBDA_PATH", raising=False)
    with pytest.raises(StatesError) as info:
        invoke_lambda(request("my_handlers:score", {}), Control())
    cause = info.value.cause or ""
    assert info.value.error == "Lambda.ResourceNotFoundException"
    assert "--lambda-path DIR" in cause and "STEPFN_LAMBDA_PATH" in cause and "register_function" in cause


def test_a_module_in_an_allowed_folder_runs_and_may_import_its_siblings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    (project / "pkg_fns").mkdir(parents=True)
    (project / "pkg_fns" / "__init__.py").write_text("")
    (project / "pkg_fns" / "score.py").write_text(
        "from pkg_fns import helper_fns\n\ndef handle(event, context):\n    return helper_fns.double(event['n'])\n")
    (project / "pkg_fns" / "helper_fns.py").write_text("def double(n):\n    return n * 2\n")
    from stepfn.local import lambdas

    monkeypatch.setattr(lambdas, "_allowed_paths", [])
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert lambdas.allow_lambda_path(project) == project.resolve()
    assert invoke_lambda(request("pkg_fns.score:handle", {"n": 21}), Control())["Payload"] == 42


def test_installation_folders_cannot_be_allowed() -> None:
    import json as stdlib_json

    from stepfn.local.lambdas import allow_lambda_path

    with pytest.raises(ValueError, match="installation"):
        allow_lambda_path(Path(stdlib_json.__file__).parent.parent)  # the standard library
    with pytest.raises(ValueError, match="installation"):
        allow_lambda_path(Path(pytest.__file__).parent.parent)  # site-packages
