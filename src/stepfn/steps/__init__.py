"""The authoring API (``stepfunctions.steps``): states, choice rules, compute/service/SageMaker steps.

Importing it needs no AWS region, credentials, network or boto3 session (compat.md §12.4).
"""

from __future__ import annotations

from stepfn.steps.choice_rule import ChoiceRule
from stepfn.steps.compute import BatchSubmitJobStep, EcsRunTaskStep, GlueStartJobRunStep, LambdaStep
from stepfn.steps.fields import Field
from stepfn.steps.integration_resources import IntegrationPattern
from stepfn.steps.service import (
    ApiGatewayStep,
    AthenaGetQueryExecutionStep,
    AthenaGetQueryResultsStep,
    AthenaStartQueryExecutionStep,
    AthenaStopQueryExecutionStep,
    CodeBuildBatchDeleteBuildsStep,
    CodeBuildBatchGetReportsStep,
    CodeBuildStartBuildStep,
    CodeBuildStopBuildStep,
    DataBrewStartJobRunStep,
    DynamoDBDeleteItemStep,
    DynamoDBGetItemStep,
    DynamoDBPutItemStep,
    DynamoDBUpdateItemStep,
    EksCallStep,
    EksCreateClusterStep,
    EksCreateFargateProfileStep,
    EksCreateNodegroupStep,
    EksDeleteClusterStep,
    EksDeleteFargateProfileStep,
    EksDeleteNodegroupStep,
    EksRunJobStep,
    EmrAddStepStep,
    EmrCancelStepStep,
    EmrCreateClusterStep,
    EmrModifyInstanceFleetByNameStep,
    EmrModifyInstanceGroupByNameStep,
    EmrOnEksCreateVirtualClusterStep,
    EmrOnEksDeleteVirtualClusterStep,
    EmrOnEksStartJobRunStep,
    EmrSetClusterTerminationProtectionStep,
    EmrTerminateClusterStep,
    EventBridgePutEventsStep,
    GlueDataBrewStartJobRunStep,
    SnsPublishStep,
    SqsSendMessageStep,
    StepFunctionsStartExecutionStep,
    StepfunctionsStartExecutionStep,
)
from stepfn.steps.states import (
    Catch,
    Chain,
    Choice,
    Fail,
    FrozenGraph,
    Graph,
    ItemProcessor,
    Map,
    Parallel,
    Pass,
    Retry,
    State,
    Succeed,
    Task,
    Wait,
)

# --- SageMaker steps (owner: helper E, stepfn/steps/sagemaker.py) -------------------------------------
# TEMPORARY: tolerate the module's absence only until E commits it; then this becomes a plain import.
try:
    from stepfn.steps.sagemaker import (
        EndpointConfigStep,  # noqa: F401 (re-exported through __all__)
        EndpointStep,  # noqa: F401 (re-exported through __all__)
        ModelStep,  # noqa: F401 (re-exported through __all__)
        ProcessingStep,  # noqa: F401 (re-exported through __all__)
        TrainingStep,  # noqa: F401 (re-exported through __all__)
        TransformStep,  # noqa: F401 (re-exported through __all__)
        TuningStep,  # noqa: F401 (re-exported through __all__)
    )
except ModuleNotFoundError as exc:  # pragma: no cover - goes away when sagemaker.py lands
    if exc.name != "stepfn.steps.sagemaker":
        raise
    _SAGEMAKER_STEPS: list[str] = []
else:
    _SAGEMAKER_STEPS = [
        "EndpointConfigStep",
        "EndpointStep",
        "ModelStep",
        "ProcessingStep",
        "TrainingStep",
        "TransformStep",
        "TuningStep",
    ]
# --- end of SageMaker steps ----------------------------------------------------------------------------

__all__ = [
    "ApiGatewayStep",
    "AthenaGetQueryExecutionStep",
    "AthenaGetQueryResultsStep",
    "AthenaStartQueryExecutionStep",
    "AthenaStopQueryExecutionStep",
    "BatchSubmitJobStep",
    "Catch",
    "Chain",
    "Choice",
    "ChoiceRule",
    "CodeBuildBatchDeleteBuildsStep",
    "CodeBuildBatchGetReportsStep",
    "CodeBuildStartBuildStep",
    "CodeBuildStopBuildStep",
    "DataBrewStartJobRunStep",
    "DynamoDBDeleteItemStep",
    "DynamoDBGetItemStep",
    "DynamoDBPutItemStep",
    "DynamoDBUpdateItemStep",
    "EcsRunTaskStep",
    "EksCallStep",
    "EksCreateClusterStep",
    "EksCreateFargateProfileStep",
    "EksCreateNodegroupStep",
    "EksDeleteClusterStep",
    "EksDeleteFargateProfileStep",
    "EksDeleteNodegroupStep",
    "EksRunJobStep",
    "EmrAddStepStep",
    "EmrCancelStepStep",
    "EmrCreateClusterStep",
    "EmrModifyInstanceFleetByNameStep",
    "EmrModifyInstanceGroupByNameStep",
    "EmrOnEksCreateVirtualClusterStep",
    "EmrOnEksDeleteVirtualClusterStep",
    "EmrOnEksStartJobRunStep",
    "EmrSetClusterTerminationProtectionStep",
    "EmrTerminateClusterStep",
    "EventBridgePutEventsStep",
    "Fail",
    "Field",
    "FrozenGraph",
    "GlueDataBrewStartJobRunStep",
    "GlueStartJobRunStep",
    "Graph",
    "IntegrationPattern",
    "ItemProcessor",
    "LambdaStep",
    "Map",
    "Parallel",
    "Pass",
    "Retry",
    "SnsPublishStep",
    "SqsSendMessageStep",
    "State",
    "StepFunctionsStartExecutionStep",
    "StepfunctionsStartExecutionStep",
    "Succeed",
    "Task",
    "Wait",
    *_SAGEMAKER_STEPS,
]
