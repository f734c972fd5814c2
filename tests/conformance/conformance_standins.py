"""Local stand-ins for what the recorded conformance cases needed from AWS and from their test code.

* Template values the original LocalStack tests filled in at run time (``_tbd_``, ``__tbd__``,
  ``%..._PLACEHOLDER%``, parametrised paths), recovered from the test's parameter and recorded result.
* Inputs the extraction stored as JSON text, or normalised (``"date"``) where the test used a real time.
* Lambda functions doing what the original test's function did (echo the event, raise, return too much),
  with the response envelope of the optimised ``lambda:invoke`` integration.
* S3 objects the item-reader tests put in their bucket, for ``s3:getObject`` / ``s3:listObjectsV2``.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from stepfn.engine import TaskControl, TaskHandler, TaskRequest
from stepfn.errors import StatesError

FUNCTION_ARN = "arn:aws:lambda:us-east-1:111111111111:function:conformance-standin"

_SKIP_BY_NAME = {
    "test_map_item_reader_base_json_with_items_path": "the test rewrote ItemsPath per parameter; the recorded "
                                                      "definition does not say how",
    "test_parallel_state_lambda": "recorded with LocalStack's mocked Lambda, whose event order AWS never produces",
    "test_parallel_state_nested": "the recorded history lacks the inner ParallelStateExited event",
}

_RAISE = ("test_lambda_invoke_with_retry", "test_lambda_service_invoke_with_retry", "test_lambda_empty_retry",
          "test_retry_interval_features")
_TOO_LARGE = "data_limit_exceeded_on_large_utf8_response"


def _param(test_id: str) -> str | None:
    match = re.search(r"\[(.*)\]$", test_id)
    return match.group(1) if match else None


def _replace(value: Any, old: Any, new: Any) -> Any:
    """Deep copy of ``value`` with every string equal to ``old`` replaced by ``new``."""
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return new if value == old else value


def _set_state_field(definition: dict[str, Any], field: str, value: Any) -> None:
    def walk(graph: dict[str, Any]) -> None:
        for state in graph.get("States", {}).values():
            if field in state:
                state[field] = value
            for branch in state.get("Branches", []):
                walk(branch)
            for key in ("ItemProcessor", "Iterator"):
                if key in state:
                    walk(state[key])
            reader = state.get("ItemReader", {}).get("ReaderConfig", {})
            if field in reader:
                reader[field] = value

    walk(definition)


_ITEMS_EXPRESSIONS = {
    "number": "{% 1 %}", "string": "{% 'string' %}", "boolean": "{% true %}",
    "object": "{% {'foo': 'bar'} %}", "null": "{% null %}", "function": "{% $fn := function($x){$x} %}",
    "empty": "{% [] %}", "singleton": "{% [0] %}", "mixed": "{% [1, 'two', 3] %}",
}
_ITEMS_VALUES = {"number": 1, "string": "string", "boolean": True, "object": {"foo": "bar"}, "null": None}
_OUTPUT_LITERALS = {
    "NULL": None, "INT": 0, "FLOAT": 0.1, "BOOL": True, "STR_LIT": "string literal",
    "JSONATA_EXPR": "{% $states.input %}", "LIST_EMPY": [],
    "LIST_RICH": [None, 0, 0.1, True, "string", [], "$nosuchvar", "$.no.such.path", "{% $states.input %}",
                  {"key": True}],
}
_REGEX_OUTPUTS = {
    "BASE": '{% $contains("hello world", /wor.d$/) %}',
    "BASE_SINGLE_QUOTE": "{% $contains('hello world', /wor.d$/) %}",
    "BASE_FALSE": '{% $contains("hello world", /^wor.d/) %}',
    "BASE_SINGLE_QUOTE_FALSE": "{% $contains('hello world', /^wor.d/) %}",
}
_BAD_TIMESTAMPS = {
    "NO_T": "2016-12-05 21:29:29Z", "NO_Z": "2016-12-05T21:29:29", "INVALID_DATE": "2016-13-05T21:29:29Z",
    "INVALID_TIME": "2016-12-05T25:29:29Z", "INVALID_ISO": "05-12-2016T21:29:29Z",
    "SECONDS": "2016-12-05T21:29:29Z", "NANOSECONDS": "2016-12-05T21:29:29.000000000Z",
}
_CSV_HEADERS = {
    "test_map_item_reader_base_csv_headers_decl": ["H1", "H2", "H3"],
    "test_map_item_reader_csv_headers_decl_duplicate_headers": ["H1", "H1", "H3"],
    "test_map_item_reader_csv_headers_decl_extra_fields": ["H1"],
}


def fixup(case: dict[str, Any]) -> tuple[Any, Any]:
    """The definition and input the original test actually ran."""
    test_id = case["test_id"]
    name = test_id.split("::")[-1].split("[")[0]
    param = _param(test_id)
    definition = copy.deepcopy(case["definition"])
    value = copy.deepcopy(case["input"])
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, (list, dict)):
            value = parsed
    for placeholder in ("_tbd_", "__tbd__", "%LAMBDA_FUNCTION_ARN_LITERAL_PLACEHOLDER%"):
        definition = _replace(definition, placeholder, FUNCTION_ARN) if _resource_placeholder(definition, placeholder) \
            else definition
    if name in ("test_json_path_array_access", "test_json_path_array_wildcard_or_slice_with_no_input"):
        definition = _replace(definition, "$.items[0]", param)
    elif name in ("test_input_path", "test_output_path"):
        definition = _replace(definition, "%CONTEXT_OBJECT_LITERAL_PLACEHOLDER%", param)
    elif name == "test_result_selector":
        definition = _replace(definition, "%CONTEXT_OBJECT_LITERAL_PLACEHOLDER%", "$$.Execution.Input")
        value["FunctionName"] = "f" * 20  # the recorded Content-Length comes from a 20-character name
    elif name == "test_variable":
        definition = _replace(definition, "%CONTEXT_OBJECT_LITERAL_PLACEHOLDER%", "$$.Execution.Input.input-value")
    elif name == "test_state_pass_result_jsonpaths":
        _set_state_field(definition, "Result", {"unsupported1.$": "$.jsonpath", "unsupported2.$": "$$"})
    elif name in ("test_wait_timestamppath", "test_timestamp_too_far_in_future_boundary"):
        # A minute ahead (as the test did), or the given number of days ahead for the boundary case.
        ahead = timedelta(days=int(param)) if name.startswith("test_timestamp_too_far") else timedelta(minutes=1)
        moment = datetime.now(UTC) + ahead
        suffix = param if name == "test_wait_timestamppath" else "Z"
        value["start_at"] = moment.strftime("%Y-%m-%dT%H:%M:%S") + (suffix or "")
    elif name in ("test_wait_timestamp_path", "test_wait_timestamp_jsonata"):
        value["TimestampValue"] = _BAD_TIMESTAMPS.get(param or "SECONDS", "2016-12-05T21:29:29Z")
    elif name == "test_base_jsonata_regular_expressions":
        _set_state_field(definition, "Output", _REGEX_OUTPUTS[param or "BASE"])
    elif name == "test_merge_with_dynamic_args":
        _set_state_field(definition, "Output", "{% $merge([$states.input.part1, $states.input.part2]) %}")
    elif name == "test_base_output_any_non_dict":
        _set_state_field(definition, "Output", _OUTPUT_LITERALS[param or "NULL"])
    elif name in ("test_map_state_items_eval_jsonata_fail", "test_map_state_items_eval_jsonata"):
        _set_state_field(definition, "Items", _ITEMS_EXPRESSIONS[param or "empty"])
    elif name in ("test_map_state_items_eval_jsonata_variable_sampling_fail", "test_map_state_items_variable_sampling"):
        definition = _replace(definition, "_tbd_", _ITEMS_VALUES[param or "number"])
    elif name in _CSV_HEADERS:
        _set_state_field(definition, "CSVHeaders", _CSV_HEADERS[name])
    elif name == "test_map_item_reader_csv_max_items":
        _set_state_field(definition, "MaxItems", int(param or 0))
    elif name in ("test_base_map", "test_base_map_from_input") and (param or "").startswith("ITEMS"):
        _set_state_field(definition, "Items", [1, 2, 3])
    elif name.startswith("test_task_lambda_") and name.endswith(_TOO_LARGE):
        _set_state_field(definition, "Resource", FUNCTION_ARN)
    elif name in ("test_numbered_mock_responses_multiple_success_invocations",
                  "test_map_state_nested_config_distributed_no_max_max_concurrency"):
        definition = _replace(definition, "__tbd__", FUNCTION_ARN)
    return definition, value


def _resource_placeholder(definition: Any, placeholder: str) -> bool:
    return f'"Resource": "{placeholder}"' in json.dumps(definition) or (
        placeholder.startswith("%") and placeholder in json.dumps(definition))


def skip_reason(case: dict[str, Any]) -> str | None:
    name = case["test_id"].split("::")[-1].split("[")[0]
    return _SKIP_BY_NAME.get(name)


# --------------------------------------------------------------------------------------------- Lambda
def lambda_envelope(payload: Any) -> dict[str, Any]:
    """The optimised lambda:invoke result, as AWS returns it."""
    length = str(len(json.dumps(payload)))
    request_id = "0f8e0c2a-5b0e-4f1a-9a57-1f0d2a3b4c5d"
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"], "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"], "x-amzn-RequestId": [request_id], "Content-Length": [length],
                "Date": ["Thu, 01 Jan 2026 00:00:00 GMT"], "X-Amzn-Trace-Id": ["Root=1-0-0"],
                "Content-Type": ["application/json"],
            },
            "HttpHeaders": {
                "Connection": "keep-alive", "Content-Length": length, "Content-Type": "application/json",
                "Date": "Thu, 01 Jan 2026 00:00:00 GMT", "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0", "x-amzn-RequestId": request_id,
                "X-Amzn-Trace-Id": "Root=1-0-0",
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


def _exception_cause(compact: bool) -> str:
    body = {
        "errorMessage": "Some exception was raised.",
        "errorType": "Exception",
        "requestId": "0f8e0c2a-5b0e-4f1a-9a57-1f0d2a3b4c5d",
        "stackTrace": ['  File "/var/task/handler.py", line 2, in handler\n    raise Exception("Some exception was raised.")\n'],
    }
    return json.dumps(body, separators=(",", ":")) if compact else json.dumps(body)


def _lambda(name: str) -> TaskHandler:
    calls = {"n": 0}

    def handler(request: TaskRequest, control: TaskControl) -> Any:
        event = request.parameters.get("Payload") if isinstance(request.parameters, dict) else None
        optimised = request.resource.startswith("arn:aws:states:::")
        calls["n"] += 1
        if name.startswith(_RAISE):
            raise StatesError("Exception", _exception_cause(optimised))
        if name.endswith(_TOO_LARGE):
            event = "\u00e9" * 200_000
        elif name == "test_numbered_mock_responses_multiple_success_invocations":
            event = {"status": "completed" if calls["n"] >= 2 else "running"}
        elif name == "test_map_state_lambda":
            event = {"body": "string body"}
        return lambda_envelope(event) if optimised else event

    return handler


# --------------------------------------------------------------------------------------------- S3
_CSV_FILE = "Col1,Col2,Col3\nValue1,Value2,Value3\nValue4,Value5,Value6\n,,\ntrue,1,'HelloWorld'\nNull,None,\n   ,,\n"
_STATEMENTS = [
    {"verdict": "true", "statement_date": "6/11/2008", "statement_source": "speech"},
    {"verdict": "false", "statement_date": "6/7/2022", "statement_source": "television"},
    {"verdict": "mostly-true", "statement_date": "5/18/2016", "statement_source": "news"},
]
_OBJECTS: dict[str, str] = {
    "test_map_item_reader_base_csv_headers_first_line": _CSV_FILE,
    "test_map_item_reader_base_csv_headers_decl": _CSV_FILE.split("\n", 1)[1],
    "test_map_item_reader_csv_headers_decl_duplicate_headers": _CSV_FILE.split("\n", 1)[1],
    "test_map_item_reader_csv_headers_decl_extra_fields": _CSV_FILE.split("\n", 1)[1],
    "test_map_item_reader_csv_headers_first_row_typed_headers":
        "0,True,{}\n" + _CSV_FILE.split("\n", 2)[2],
    "test_map_item_reader_csv_first_row_extra_fields": "H1,\n" + _CSV_FILE.split("\n", 2)[2],
    "test_map_item_reader_csv_max_items": "Col1,Col2\nValue1,Value2\nValue3,Value4\nValue5,Value6\nValue7,Value8\n",
    "test_map_item_reader_csv_max_items_paths":
        "Col1,Col2\nValue1,Value2\nValue3,Value4\nValue5,Value6\nValue7,Value8\n",
    "test_map_item_reader_base_json": json.dumps(_STATEMENTS),
    "test_map_item_reader_base_json_max_items": json.dumps([_STATEMENTS[0]] * 3),
    "test_map_item_reader_base_json_max_items_jsonata": json.dumps(_STATEMENTS),
    "test_map_item_batching_base_json_max_per_batch_jsonata": json.dumps(_STATEMENTS),
    "test_map_item_reader_json_no_json_list_object": json.dumps({"verdict": "true"}),
}


def _s3(name: str) -> dict[str, TaskHandler]:
    def get_object(request: TaskRequest, control: TaskControl) -> Any:
        return {"Body": _OBJECTS[name]}

    def list_objects(request: TaskRequest, control: TaskControl) -> Any:
        return {"Contents": [
            {"Key": f"file_{i}.txt", "Size": 12, "ETag": f'"etag-{i}"', "LastModified": "2026-01-01T00:00:00Z",
             "StorageClass": "STANDARD"} for i in range(3)]}

    def put_object(request: TaskRequest, control: TaskControl) -> Any:
        return {"ETag": '"etag"'}

    return {"s3:getObject": get_object, "s3:listObjectsV2": list_objects, "s3:putObject": put_object}


def sdk_metadata(body: Any, content_type: str, dynamodb: bool = False) -> dict[str, Any]:
    """The SdkHttpMetadata/SdkResponseMetadata AWS adds to optimised SQS, SNS and DynamoDB results."""
    length = str(len(json.dumps(body, separators=(",", ":")))) if content_type != "text/xml" else "294"
    connection = "Connection" if dynamodb else "connection"
    all_headers: dict[str, Any] = {"x-amzn-RequestId": "r", connection: ["keep-alive"], "Content-Length": [length],
                                   "Date": "d", "Content-Type": [content_type]}
    headers: dict[str, Any] = {connection: "keep-alive", "Content-Length": length, "Content-Type": content_type,
                               "Date": "d", "x-amzn-RequestId": "r"}
    if dynamodb:
        all_headers |= {"Server": ["Server"], "x-amz-crc32": "1"}
        headers |= {"Server": "Server", "x-amz-crc32": "1"}
    return {"SdkHttpMetadata": {"AllHttpHeaders": all_headers, "HttpHeaders": headers, "HttpStatusCode": 200},
            "SdkResponseMetadata": {"RequestId": "r"}}


def _static(result: Any) -> TaskHandler:
    def handler(request: TaskRequest, control: TaskControl) -> Any:
        return result(request) if callable(result) else result

    return handler


def handlers_for(case: dict[str, Any]) -> dict[str, TaskHandler]:
    name = case["test_id"].split("::")[-1].split("[")[0]
    handlers: dict[str, TaskHandler] = {"lambda:invoke": _lambda(name)}
    handlers.update(_s3(name))
    message = {"MD5OfMessageBody": "d41d8cd98f00b204e9800998ecf8427e",
               "MessageId": "0f8e0c2a-5b0e-4f1a-9a57-1f0d2a3b4c5d"}
    handlers["sqs:sendMessage"] = _static(message | sdk_metadata(message, "application/x-amz-json-1.0"))
    published = {"MessageId": "0f8e0c2a-5b0e-4f1a-9a57-1f0d2a3b4c5d"}
    handlers["sns:publish"] = _static(published | sdk_metadata(published, "text/xml"))
    handlers["events:putEvents"] = _static({"Entries": [{"EventId": "0f8e0c2a-5b0e-4f1a-9a57-1f0d2a3b4c5d"}],
                                            "FailedEntryCount": 0})
    handlers["dynamodb:putItem"] = _static(sdk_metadata({}, "application/x-amz-json-1.0", dynamodb=True))
    item = {"Item": {"data": {"S": "string-literal"}, "id": {"S": "id1"}}}
    handlers["dynamodb:getItem"] = _static(item | sdk_metadata(item, "application/x-amz-json-1.0", dynamodb=True))
    return handlers
