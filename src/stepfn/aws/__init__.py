"""The AWS backend: what running a stepfn workflow on AWS Step Functions needs beyond boto3.

``Workflow(..., backend="aws")`` (or ``client=<boto3 stepfunctions client>``) sends the same calls
as the local backend, to AWS. This package supplies the rest:

* clients with a resolved region and the ``stepfn/<version>`` user agent, clear errors for a
  missing region or role, partition-aware ARNs and console links (``_clients``);
* local ``source_dir``/``entry_point`` code packed into ``sourcedir.tar.gz`` and uploaded to S3,
  local data uploaded on request, and the definition rewritten to point at them (``_code``);
* state machine type (STANDARD/EXPRESS), logging, tracing, tags, versions and aliases,
  ``StartSyncExecution`` for EXPRESS workflows, and :func:`deploy_workflow`, which does all of it for a
  ``Workflow`` with its local code uploaded (``_deploy``);
* :mod:`stepfn.aws.parity`: run one definition locally and on an endpoint, report differences.

Nothing here is imported by ``import stepfn``; boto3 loads only when a client is built.
"""

from __future__ import annotations

from stepfn._partitions import partition_for_region
from stepfn.aws._clients import (
    AwsConfigurationError,
    append_user_agent,
    build_arn,
    build_console_url,
    build_execution_arn,
    build_state_machine_arn,
    check_role_arn,
    client_partition,
    client_region,
    create_client,
    resolve_region,
    user_agent_suffix,
)
from stepfn.aws._code import (
    Upload,
    UploadError,
    UploadPlan,
    build_sourcedir_archive,
    client_on_this_machine,
    default_code_bucket,
    deploy_definition_code,
    ensure_bucket,
    iter_task_states,
    plan_uploads,
    prepare_definition_for_aws,
    run_uploads,
)
from stepfn.aws._deploy import (
    DeploymentConfigError,
    build_alias_routing,
    build_create_state_machine_request,
    build_logging_configuration,
    build_tags,
    build_tracing_configuration,
    build_update_state_machine_request,
    deploy_alias,
    deploy_workflow,
    publish_version,
    start_sync_execution,
)

__all__ = [
    "AwsConfigurationError",
    "DeploymentConfigError",
    "Upload",
    "UploadError",
    "UploadPlan",
    "append_user_agent",
    "build_alias_routing",
    "build_arn",
    "build_console_url",
    "build_create_state_machine_request",
    "build_execution_arn",
    "build_logging_configuration",
    "build_sourcedir_archive",
    "build_state_machine_arn",
    "build_tags",
    "build_tracing_configuration",
    "build_update_state_machine_request",
    "check_role_arn",
    "client_on_this_machine",
    "client_partition",
    "client_region",
    "create_client",
    "default_code_bucket",
    "deploy_alias",
    "deploy_definition_code",
    "deploy_workflow",
    "ensure_bucket",
    "iter_task_states",
    "partition_for_region",
    "plan_uploads",
    "prepare_definition_for_aws",
    "publish_version",
    "resolve_region",
    "run_uploads",
    "start_sync_execution",
    "user_agent_suffix",
]
