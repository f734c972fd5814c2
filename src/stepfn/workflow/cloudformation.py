"""CloudFormation export of a state machine (docs/design/compat.md §7; golden ``01_hello_world.cloudformation*.yaml``).

The original registered a ``str`` representer on the global ``yaml.SafeDumper`` at import time
(§11 #7). stepfn gets the same bytes from a private SafeDumper subclass, so importing stepfn changes
nothing in PyYAML for anyone else.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import yaml

logger = logging.getLogger(__name__)

DEFAULT_DESCRIPTION = "CloudFormation template for AWS Step Functions - State Machine"


class _TemplateDumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings (the definition) in literal block style."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_TemplateDumper.add_representer(str, _represent_str)


def _pascal_keys(value: Any) -> Any:
    """boto3's camelCase request members -> CloudFormation's PascalCase properties (``level`` -> ``Level``)."""
    if isinstance(value, dict):
        return {(key[:1].upper() + key[1:]): _pascal_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_pascal_keys(item) for item in value]
    return value


def build_cloudformation_template(
    definition: dict[str, Any],
    name: str,
    role: str,
    description: str | None = None,
    *,
    type: str | None = None,
    logging_configuration: dict[str, Any] | None = None,
    tracing_configuration: dict[str, Any] | None = None,
) -> str:
    """A YAML CloudFormation template with one ``AWS::StepFunctions::StateMachine`` resource.

    ``DefinitionString`` is ``json.dumps(definition, indent=2)``. ``type`` (STANDARD/EXPRESS) and the
    logging/tracing configurations (boto3 ``create_state_machine`` shapes) are added after ``RoleArn``
    only when given, so a plain workflow gives the original's bytes.
    """
    logger.warning(
        "To reuse the CloudFormation template in different regions, please make sure to update the region "
        "specific AWS resources in the StateMachine definition."
    )
    properties: dict[str, Any] = {
        "StateMachineName": name,
        "DefinitionString": json.dumps(definition, indent=2),
        "RoleArn": role,
    }
    if type is not None:
        properties["StateMachineType"] = type
    if logging_configuration is not None:
        properties["LoggingConfiguration"] = _pascal_keys(logging_configuration)
    if tracing_configuration is not None:
        properties["TracingConfiguration"] = _pascal_keys(tracing_configuration)
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": description or DEFAULT_DESCRIPTION,
        "Resources": {
            "StateMachineComponent": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": properties,
            }
        },
    }
    return yaml.dump(template, Dumper=_TemplateDumper, default_flow_style=False, sort_keys=False)


__all__ = ["DEFAULT_DESCRIPTION", "build_cloudformation_template"]
