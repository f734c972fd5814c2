"""CloudFormation properties for the settings the original SDK's template had no room for.

``stepfn.workflow.cloudformation.build_cloudformation_template`` produces the original's template
byte for byte (compat.md §7). When a workflow sets a type, logging, tracing or tags, the
``AWS::StepFunctions::StateMachine`` resource needs ``StateMachineType``, ``LoggingConfiguration``,
``TracingConfiguration`` and ``Tags``: CloudFormation spells them in PascalCase where the API uses
camelCase. :func:`extend_cloudformation_template` appends them after ``RoleArn`` and leaves every
existing byte alone, so a template without those settings is still the golden one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from stepfn.aws._deploy import (
    TagsArgument,
    build_logging_configuration,
    build_tags,
    build_tracing_configuration,
    check_state_machine_type,
)
from stepfn.errors import StepfnError

_PROPERTIES_INDENT = " " * 6


def build_cloudformation_properties(
    *,
    state_machine_type: str | None = None,
    logging: Mapping[str, Any] | str | None = None,
    log_group_arn: str | None = None,
    include_execution_data: bool = False,
    tracing: bool | Mapping[str, Any] | None = None,
    tags: TagsArgument = None,
) -> dict[str, Any]:
    """The extra ``Properties`` members, in CloudFormation's spelling, for the settings that are set."""
    properties: dict[str, Any] = {}
    if state_machine_type is not None:
        properties["StateMachineType"] = check_state_machine_type(state_machine_type)
    config = build_logging_configuration(logging, log_group_arn=log_group_arn, include_execution_data=include_execution_data)
    if config is not None:
        logging_properties: dict[str, Any] = {
            "Level": config.get("level", "OFF"),
            "IncludeExecutionData": bool(config.get("includeExecutionData", False)),
        }
        destinations = [
            {"CloudWatchLogsLogGroup": {"LogGroupArn": item["cloudWatchLogsLogGroup"]["logGroupArn"]}}
            for item in config.get("destinations") or []
        ]
        if destinations:
            logging_properties["Destinations"] = destinations
        properties["LoggingConfiguration"] = logging_properties
    tracing_config = build_tracing_configuration(tracing)
    if tracing_config is not None:
        properties["TracingConfiguration"] = {"Enabled": tracing_config["enabled"]}
    tag_list = build_tags(tags)
    if tag_list:
        properties["Tags"] = [{"Key": tag["key"], "Value": tag["value"]} for tag in tag_list]
    return properties


def extend_cloudformation_template(template: str, **settings: Any) -> str:
    """``template`` (the YAML text of the original-format template) with :func:`build_cloudformation_properties`
    of ``settings`` appended to the state machine's ``Properties``.

    The original template ends with the ``Properties`` mapping of its only resource, indented six
    spaces; the new members are dumped in the same style and appended there. The result is parsed
    back to make sure they landed under ``Resources.StateMachineComponent.Properties``.
    """
    extra = build_cloudformation_properties(**settings)
    if not extra:
        return template
    dumped = yaml.safe_dump(extra, default_flow_style=False, sort_keys=False)
    indented = "".join(f"{_PROPERTIES_INDENT}{line}" if line.strip() else line for line in dumped.splitlines(True))
    result = template if template.endswith("\n") else template + "\n"
    result += indented
    parsed = yaml.safe_load(result)
    properties = parsed.get("Resources", {}).get("StateMachineComponent", {}).get("Properties", {})
    if any(properties.get(key) != value for key, value in extra.items()):
        raise StepfnError("the CloudFormation template does not end with the state machine's Properties; cannot extend it")
    return result
