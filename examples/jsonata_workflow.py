"""A JSONata-mode workflow: ``Arguments``/``Output``/``Assign`` and ``Condition`` instead of JSONPath fields.

A sensor-readings pipeline with ``QueryLanguage: JSONata`` set once on the whole state machine:

1. ``Normalize`` (Pass) converts every reading to Celsius with a JSONata expression and stores the unit
   and threshold in workflow variables (``Assign``);
2. ``Score each sensor`` (Map over ``Items``) calls a Python function per sensor (a Lambda locally), passing
   ``Arguments`` built from the item and a variable; each iteration's ``Output`` keeps only the payload;
3. ``Any alerts?`` (Choice) branches on a JSONata ``Condition`` over the Map's result and the variable;
4. ``Report`` builds the final output with ``$count``, ``$sum`` and a filter.

Run: ``python examples/jsonata_workflow.py`` (prints the ASL it produced and the execution's output).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("STEPFN_HOME", str(Path(__file__).resolve().parent.parent / ".stepfn"))

from stepfn.inputs import ExecutionInput, MapItemValue, StepInput, Variable
from stepfn.local.lambdas import register_function
from stepfn.steps import Chain, Choice, ChoiceRule, Graph, LambdaStep, Map, Pass
from stepfn.workflow import Workflow

ROLE = "arn:aws:iam::123456789012:role/stepfn-examples"
READINGS = {
    "Threshold": 30,
    "Sensors": [
        {"id": "greenhouse", "unit": "F", "values": [88.0, 91.4, 95.0]},
        {"id": "cellar", "unit": "C", "values": [11.5, 12.0, 11.8]},
        {"id": "attic", "unit": "C", "values": [24.0, 29.5, 33.1]},
    ],
}


@register_function("score-sensor")
def score_sensor(event: dict[str, Any]) -> dict[str, Any]:
    peak = max(event["celsius"])
    return {"id": event["id"], "peak": round(peak, 1), "alert": peak > event["threshold"]}


def build_workflow() -> Workflow:
    source = StepInput()
    normalize = Pass(
        "Normalize",
        output={"sensors": (
            "{% $states.input.Sensors.{'id': id, 'celsius': unit = 'F' ? [values.(($ - 32) * 5 / 9)] : [values]} %}"
        )},
        assign={"threshold": source["Threshold"], "unit": "C"},
    )
    score = LambdaStep(
        "Score sensor",
        arguments={"FunctionName": "score-sensor", "Payload": {
            "id": "{% $states.input.id %}", "celsius": "{% $states.input.celsius %}", "threshold": Variable("threshold"),
        }},
        output="{% $states.result.Payload %}",
    )
    each_sensor = Map("Score each sensor", items="{% $states.input.sensors %}", max_concurrency=3,
                      item_selector={"id": MapItemValue()["id"], "celsius": MapItemValue()["celsius"]})
    each_sensor.attach_item_processor(score)
    report = Pass("Report", output={
        "alerts": "{% [$states.input[alert].id] %}",
        "checked": "{% $count($states.input) %}",
        "hottest": "{% $states.input[peak = $max($states.input.peak)].id %}",
        "threshold": "{% $threshold & ' ' & $unit %}",
    })
    all_clear = Pass("All clear", output={"alerts": [], "checked": "{% $count($states.input) %}"})
    any_alerts = Choice("Any alerts?")
    any_alerts.add_choice(ChoiceRule.Condition("{% $count($states.input[alert]) > 0 %}"), report)
    any_alerts.default_choice(all_clear)
    definition = Graph(Chain([normalize, each_sensor, any_alerts]), query_language="JSONata",
                       comment="Sensor report in JSONata mode")
    execution_input = ExecutionInput(schema={"Threshold": int, "Sensors": list})
    return Workflow("stepfn-example-jsonata", definition, ROLE, execution_input=execution_input)


def main() -> int:
    workflow = build_workflow()
    print(workflow.definition.to_json(pretty=True))
    workflow.create_or_update()
    execution = workflow.execute(inputs=READINGS)
    output = execution.get_output(wait=True)
    status = execution.describe()["status"]
    print(f"status: {status}")
    print(f"output: {json.dumps(output, sort_keys=True)}")
    return 0 if status == "SUCCEEDED" else 1


if __name__ == "__main__":
    sys.exit(main())
