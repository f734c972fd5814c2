"""Lambda-style Python functions with Retry, Catch and a Map, run on the local engine.

Three plain Python functions stand in for AWS Lambda functions (``stepfn.local.lambdas.register_function``):

* ``validate-order`` raises ``ValueError`` for a bad order; the Map iterator's Catch turns that into a
  "rejected" result instead of failing the whole execution;
* ``price-order`` is flaky: it raises ``ThrottlingError`` the first two times it sees an order, and the
  Retry on that error name (as on AWS, the error name is the exception's class name) gets it through;
* ``summarize`` totals the accepted orders.

On AWS the same definition runs against real functions with these names; locally they are called in this
process with Lambda's ``(event, context)`` convention and results in Lambda's response shape.

Run: ``python examples/lambda_map.py`` (prints the summary and how many retries each order needed).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("STEPFN_HOME", str(Path(__file__).resolve().parent.parent / ".stepfn"))

from stepfn.inputs import ExecutionInput
from stepfn.local.lambdas import register_function
from stepfn.steps import Catch, Chain, LambdaStep, Map, Pass, Retry
from stepfn.workflow import Workflow

ROLE = "arn:aws:iam::123456789012:role/stepfn-examples"
ORDERS = [
    {"id": "A-1", "sku": "kettle", "quantity": 2, "unit_price": 25.0},
    {"id": "A-2", "sku": "teapot", "quantity": -1, "unit_price": 40.0},
    {"id": "A-3", "sku": "mug", "quantity": 6, "unit_price": 7.5},
    {"id": "A-4", "sku": "tray", "quantity": 1, "unit_price": 19.0},
]


class ThrottlingError(Exception):
    """What a rate-limited downstream service raises; Step Functions sees the error name ``ThrottlingError``."""


_calls: Counter[str] = Counter()
_calls_lock = threading.Lock()


@register_function("validate-order")
def validate_order(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event["quantity"] <= 0:
        raise ValueError(f"order {event['id']}: quantity must be positive, got {event['quantity']}")
    return event


@register_function("price-order")
def price_order(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with _calls_lock:
        _calls[event["id"]] += 1
        attempt = _calls[event["id"]]
    if attempt <= 2:
        raise ThrottlingError(f"rate exceeded (attempt {attempt})")
    return {"id": event["id"], "total": round(event["quantity"] * event["unit_price"], 2), "attempts": attempt}


@register_function("summarize")
def summarize(event: list[dict[str, Any]]) -> dict[str, Any]:
    accepted = [order for order in event if order["status"] == "accepted"]
    return {
        "accepted": [order["id"] for order in accepted],
        "rejected": [order["id"] for order in event if order["status"] == "rejected"],
        "revenue": round(sum(order["total"] for order in accepted), 2),
    }


def lambda_step(state_id: str, function_name: str, **kwargs: Any) -> LambdaStep:
    """A Lambda call whose state output is the function's return value (``Payload``), as most workflows want."""
    return LambdaStep(
        state_id,
        parameters={"FunctionName": function_name, "Payload.$": "$"},
        result_selector={"Result.$": "$.Payload"},
        output_path="$.Result",
        **kwargs,
    )


def build_workflow() -> Workflow:
    validate = lambda_step("Validate order", "validate-order")
    price = lambda_step(
        "Price order",
        "price-order",
        retry=Retry(error_equals=["ThrottlingError"], interval_seconds=1, backoff_rate=1.0, max_attempts=3),
    )
    accepted = Pass("Accepted", parameters={"id.$": "$.id", "total.$": "$.total", "status": "accepted"})
    rejected = Pass("Rejected", parameters={"id.$": "$.id", "status": "rejected", "error.$": "$.Error.Error"})
    # A Catch's ResultPath keeps the order next to the error, so the fallback state can name it.
    validate.add_catch(Catch(error_equals=["ValueError"], next_step=rejected, result_path="$.Error"))
    each_order = Map("Each order", items_path="$.Orders", max_concurrency=4)
    each_order.attach_iterator(Chain([validate, price, accepted]))
    summary = lambda_step("Summarize", "summarize")
    execution_input = ExecutionInput(schema={"Orders": list})
    return Workflow("stepfn-example-lambda-map", Chain([each_order, summary]), ROLE, execution_input=execution_input)


def main() -> int:
    workflow = build_workflow()
    workflow.create_or_update()
    execution = workflow.execute(inputs={"Orders": ORDERS})
    output = execution.get_output(wait=True)
    described = execution.describe()
    print(f"status: {described['status']}")
    if described["status"] != "SUCCEEDED":
        print(json.dumps(described, indent=2, default=str))
        return 1
    print(f"summary: {json.dumps(output, sort_keys=True)}")
    retried = Counter(
        event["taskFailedEventDetails"]["error"] for event in execution.list_events(max_items=1000)
        if event["type"] == "TaskFailed"
    )
    print(f"task failures seen by the engine: {json.dumps(dict(sorted(retried.items())))}")
    print(f"calls to price-order per order: {json.dumps(dict(sorted(_calls.items())))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
