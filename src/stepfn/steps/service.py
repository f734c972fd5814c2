"""Service-integration steps (``stepfunctions.steps.service``, docs/design/compat.md §4, §9).

The original's steps (DynamoDB, SNS, SQS, EventBridge, EMR, EKS, Glue DataBrew, nested Step Functions)
and the R port's extras (Athena, CodeBuild, API Gateway, EMR on EKS, and its spellings
``DataBrewStartJobRunStep`` / ``StepfunctionsStartExecutionStep``). Every step injects only
``Resource``; the request goes in ``parameters``, where placeholders become ``"Key.$"`` entries.
"""

from __future__ import annotations

from typing import Any

from stepfn.steps._integration import CallbackStep, CallStep, CompletionStep, PatternStep
from stepfn.steps.integration_resources import IntegrationPattern

# -- DynamoDB ------------------------------------------------------------------------------------------


class DynamoDBGetItemStep(CallStep):
    """Read an item (``dynamodb:getItem``)."""

    service, api = "dynamodb", "getItem"


class DynamoDBPutItemStep(CallStep):
    """Write an item (``dynamodb:putItem``)."""

    service, api = "dynamodb", "putItem"


class DynamoDBDeleteItemStep(CallStep):
    """Delete an item (``dynamodb:deleteItem``)."""

    service, api = "dynamodb", "deleteItem"


class DynamoDBUpdateItemStep(CallStep):
    """Update an item (``dynamodb:updateItem``)."""

    service, api = "dynamodb", "updateItem"


# -- Messaging -----------------------------------------------------------------------------------------


class SnsPublishStep(CallbackStep):
    """Publish to an SNS topic (``sns:publish``); ``wait_for_callback=True`` waits for a task token."""

    service, api = "sns", "publish"


class SqsSendMessageStep(CallbackStep):
    """Send an SQS message (``sqs:sendMessage``); ``wait_for_callback=True`` waits for a task token."""

    service, api = "sqs", "sendMessage"


class EventBridgePutEventsStep(CallbackStep):
    """Put events on an EventBridge bus (``events:putEvents``); ``wait_for_callback`` as above."""

    service, api = "events", "putEvents"


# -- EMR -----------------------------------------------------------------------------------------------


class EmrCreateClusterStep(CompletionStep):
    """Create an EMR cluster (``elasticmapreduce:createCluster``)."""

    service, api = "elasticmapreduce", "createCluster"


class EmrTerminateClusterStep(CompletionStep):
    """Terminate an EMR cluster (``elasticmapreduce:terminateCluster``)."""

    service, api = "elasticmapreduce", "terminateCluster"


class EmrAddStepStep(CompletionStep):
    """Add a step to an EMR cluster (``elasticmapreduce:addStep``)."""

    service, api = "elasticmapreduce", "addStep"


class EmrCancelStepStep(CallStep):
    """Cancel a pending EMR step (``elasticmapreduce:cancelStep``)."""

    service, api = "elasticmapreduce", "cancelStep"


class EmrSetClusterTerminationProtectionStep(CallStep):
    """Lock or unlock an EMR cluster (``elasticmapreduce:setClusterTerminationProtection``)."""

    service, api = "elasticmapreduce", "setClusterTerminationProtection"


class EmrModifyInstanceFleetByNameStep(CallStep):
    """Resize an instance fleet (``elasticmapreduce:modifyInstanceFleetByName``)."""

    service, api = "elasticmapreduce", "modifyInstanceFleetByName"


class EmrModifyInstanceGroupByNameStep(CallStep):
    """Resize an instance group (``elasticmapreduce:modifyInstanceGroupByName``)."""

    service, api = "elasticmapreduce", "modifyInstanceGroupByName"


# -- EKS -----------------------------------------------------------------------------------------------


class EksCreateClusterStep(PatternStep):
    """Create an EKS cluster (``eks:createCluster``); WaitForCompletion (default) or CallAndContinue."""

    service, api = "eks", "createCluster"


class EksDeleteClusterStep(PatternStep):
    """Delete an EKS cluster (``eks:deleteCluster``)."""

    service, api = "eks", "deleteCluster"


class EksCreateFargateProfileStep(PatternStep):
    """Create a Fargate profile (``eks:createFargateProfile``)."""

    service, api = "eks", "createFargateProfile"


class EksDeleteFargateProfileStep(PatternStep):
    """Delete a Fargate profile (``eks:deleteFargateProfile``)."""

    service, api = "eks", "deleteFargateProfile"


class EksCreateNodegroupStep(PatternStep):
    """Create a node group (``eks:createNodegroup``)."""

    service, api = "eks", "createNodegroup"


class EksDeleteNodegroupStep(PatternStep):
    """Delete a node group (``eks:deleteNodegroup``)."""

    service, api = "eks", "deleteNodegroup"


class EksRunJobStep(PatternStep):
    """Run a Kubernetes job on a cluster (``eks:runJob``)."""

    service, api = "eks", "runJob"


class EksCallStep(PatternStep):
    """Call the Kubernetes API of a cluster (``eks:call``); only CallAndContinue."""

    service, api = "eks", "call"
    supported_patterns = (IntegrationPattern.CallAndContinue,)
    default_pattern = IntegrationPattern.CallAndContinue


# -- Glue DataBrew ---------------------------------------------------------------------------------------


class GlueDataBrewStartJobRunStep(PatternStep):
    """Start a Glue DataBrew job run (``databrew:startJobRun``); WaitForCompletion (default) or CallAndContinue."""

    service, api = "databrew", "startJobRun"


class DataBrewStartJobRunStep(CompletionStep):
    """The R port's spelling of a DataBrew job run: ``wait_for_completion=True`` -> ``.sync``."""

    service, api = "databrew", "startJobRun"


# -- Step Functions ------------------------------------------------------------------------------------


class StepFunctionsStartExecutionStep(PatternStep):
    """Start a nested state machine (``states:startExecution``).

    WaitForCompletion (default, ``.sync:2``: the output is parsed JSON), WaitForTaskToken or CallAndContinue.
    """

    service, api = "states", "startExecution"
    supported_patterns = (
        IntegrationPattern.WaitForCompletion,
        IntegrationPattern.WaitForTaskToken,
        IntegrationPattern.CallAndContinue,
    )
    sync_version = 2


class StepfunctionsStartExecutionStep(CompletionStep):
    """The R port's spelling: ``wait_for_completion=True`` (``.sync:2``) or ``wait_for_callback=True``.

    The R port emitted ``.sync``; stepfn emits the Python SDK's ``.sync:2`` (documented in the fix log).
    """

    service, api = "states", "startExecution"
    sync_version = 2

    def __init__(self, state_id: str, wait_for_completion: bool = True, wait_for_callback: bool = False,
                 **kwargs: Any) -> None:
        if wait_for_completion and wait_for_callback:
            raise ValueError("Both `wait_for_completion` and `wait_for_callback` are set to `True`")
        if wait_for_callback:
            self._init_with_pattern(state_id, IntegrationPattern.WaitForTaskToken, None, kwargs)
        else:
            super().__init__(state_id, wait_for_completion=wait_for_completion, **kwargs)


# -- R port extras: Athena, CodeBuild, API Gateway, EMR on EKS --------------------------------------------


class AthenaStartQueryExecutionStep(CompletionStep):
    """Start an Athena query (``athena:startQueryExecution``); ``wait_for_completion`` waits for the result."""

    service, api = "athena", "startQueryExecution"


class AthenaStopQueryExecutionStep(CallStep):
    """Stop an Athena query (``athena:stopQueryExecution``)."""

    service, api = "athena", "stopQueryExecution"


class AthenaGetQueryExecutionStep(CallStep):
    """Describe an Athena query (``athena:getQueryExecution``)."""

    service, api = "athena", "getQueryExecution"


class AthenaGetQueryResultsStep(CallStep):
    """Fetch an Athena query's results (``athena:getQueryResults``)."""

    service, api = "athena", "getQueryResults"


class CodeBuildStartBuildStep(CompletionStep):
    """Start a CodeBuild build (``codebuild:startBuild``); ``wait_for_completion`` waits for it."""

    service, api = "codebuild", "startBuild"


class CodeBuildStopBuildStep(CallStep):
    """Stop a CodeBuild build (``codebuild:stopBuild``)."""

    service, api = "codebuild", "stopBuild"


class CodeBuildBatchDeleteBuildsStep(CallStep):
    """Delete CodeBuild builds (``codebuild:batchDeleteBuilds``)."""

    service, api = "codebuild", "batchDeleteBuilds"


class CodeBuildBatchGetReportsStep(CallStep):
    """Fetch CodeBuild reports (``codebuild:batchGetReports``)."""

    service, api = "codebuild", "batchGetReports"


class ApiGatewayStep(CallbackStep):
    """Call an API Gateway endpoint (``apigateway:invoke``); ``wait_for_callback`` waits for a task token."""

    service, api = "apigateway", "invoke"


class EmrOnEksCreateVirtualClusterStep(CallStep):
    """Create an EMR on EKS virtual cluster (``emr-containers:createVirtualCluster``)."""

    service, api = "emr-containers", "createVirtualCluster"


class EmrOnEksDeleteVirtualClusterStep(CompletionStep):
    """Delete an EMR on EKS virtual cluster (``emr-containers:deleteVirtualCluster``)."""

    service, api = "emr-containers", "deleteVirtualCluster"


class EmrOnEksStartJobRunStep(CompletionStep):
    """Start an EMR on EKS job run (``emr-containers:startJobRun``)."""

    service, api = "emr-containers", "startJobRun"


__all__ = [
    "ApiGatewayStep",
    "AthenaGetQueryExecutionStep",
    "AthenaGetQueryResultsStep",
    "AthenaStartQueryExecutionStep",
    "AthenaStopQueryExecutionStep",
    "CodeBuildBatchDeleteBuildsStep",
    "CodeBuildBatchGetReportsStep",
    "CodeBuildStartBuildStep",
    "CodeBuildStopBuildStep",
    "DataBrewStartJobRunStep",
    "DynamoDBDeleteItemStep",
    "DynamoDBGetItemStep",
    "DynamoDBPutItemStep",
    "DynamoDBUpdateItemStep",
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
    "GlueDataBrewStartJobRunStep",
    "SnsPublishStep",
    "SqsSendMessageStep",
    "StepFunctionsStartExecutionStep",
    "StepfunctionsStartExecutionStep",
]
