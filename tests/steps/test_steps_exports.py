"""The public surface of ``stepfn.steps`` / ``stepfn.inputs``: every name the original exported (docs/design/compat.md §1)."""

from __future__ import annotations

import importlib

import pytest

ORIGINAL_NAMES = {
    "stepfn.steps": [
        "Pass", "Succeed", "Fail", "Wait", "Choice", "Parallel", "Map", "Task", "Chain", "Retry", "Catch", "Graph",
        "FrozenGraph", "ChoiceRule", "LambdaStep", "BatchSubmitJobStep", "GlueStartJobRunStep", "EcsRunTaskStep",
        "DynamoDBGetItemStep", "DynamoDBPutItemStep", "DynamoDBDeleteItemStep", "DynamoDBUpdateItemStep",
        "EksCallStep", "EksCreateClusterStep", "EksCreateFargateProfileStep", "EksCreateNodegroupStep",
        "EksDeleteClusterStep", "EksDeleteFargateProfileStep", "EksDeleteNodegroupStep", "EksRunJobStep",
        "EmrCreateClusterStep", "EmrTerminateClusterStep", "EmrAddStepStep", "EmrCancelStepStep",
        "EmrSetClusterTerminationProtectionStep", "EmrModifyInstanceFleetByNameStep",
        "EmrModifyInstanceGroupByNameStep", "EventBridgePutEventsStep", "GlueDataBrewStartJobRunStep",
        "SnsPublishStep", "SqsSendMessageStep", "StepFunctionsStartExecutionStep", "TrainingStep", "TransformStep",
        "ModelStep", "EndpointConfigStep", "EndpointStep", "TuningStep", "ProcessingStep",
    ],
    "stepfn.steps.states": ["Block", "State", "Pass", "Succeed", "Fail", "Wait", "Choice", "Parallel", "Map", "Task",
                            "Chain", "Graph", "FrozenGraph", "Retry", "Catch", "to_pascalcase"],
    "stepfn.steps.choice_rule": ["BaseRule", "Rule", "CompoundRule", "NotRule", "ChoiceRule"],
    "stepfn.steps.fields": ["Field"],
    "stepfn.steps.integration_resources": ["IntegrationPattern", "get_service_integration_arn"],
    "stepfn.steps.utils": ["tags_dict_to_kv_list", "merge_dicts", "get_aws_partition"],
    "stepfn.inputs": ["Placeholder", "ExecutionInput", "StepInput", "MapItemValue", "MapItemIndex"],
    "stepfn.inputs.utils": ["flatten", "replace_type_with_str"],
    "stepfn.exceptions": ["WorkflowNotFound", "MissingRequiredParameter", "DuplicateStatesInChain"],
}


@pytest.mark.parametrize("module_name", sorted(ORIGINAL_NAMES))
def test_original_names_are_exported(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in ORIGINAL_NAMES[module_name] if not hasattr(module, name)]
    assert missing == []
    exported = getattr(module, "__all__", None)
    if exported is not None:
        assert [name for name in exported if not hasattr(module, name)] == []


def test_exceptions_are_plain_exceptions() -> None:
    from stepfn.exceptions import DuplicateStatesInChain, MissingRequiredParameter, WorkflowNotFound

    for cls in (DuplicateStatesInChain, MissingRequiredParameter, WorkflowNotFound):
        assert cls.__bases__ == (Exception,)
