from __future__ import annotations

from typing import Any

from stepfn.engine import Engine
from stepfn.engine.protocol import TaskControl, TaskRequest

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:pages"
KEYS = [f"data/{i:04d}.csv" for i in range(7)]


def test_item_reader_reads_every_page_of_a_listing() -> None:
    calls: list[Any] = []

    def list_objects(request: TaskRequest, control: TaskControl) -> dict[str, Any]:
        calls.append(request.parameters)
        start = int(request.parameters.get("ContinuationToken", 0))
        page = KEYS[start:start + 3]
        more = start + 3 < len(KEYS)
        response: dict[str, Any] = {"Contents": [{"Key": k, "Size": 1, "ETag": "x"} for k in page],
                                    "IsTruncated": more}
        if more:
            response["NextContinuationToken"] = str(start + 3)
        return response

    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "End": True,
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b", "Prefix": "data/"}},
        "ItemSelector": {"key.$": "$$.Map.Item.Value.Key"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Key", "States": {"Key": {"Type": "Pass", "OutputPath": "$.key", "End": True}}}}}}
    result = Engine(handlers={"s3:listObjectsV2": list_objects}).run(
        definition, {}, execution_arn=ARN.replace("stateMachine", "execution") + ":one", state_machine_arn=ARN,
        name="one")
    assert result.status == "SUCCEEDED", result.cause
    assert result.output_value == KEYS
    assert [c.get("ContinuationToken") for c in calls] == [None, "3", "6"]
