"""The public surface of stepfn.aws and stepfn.server, and what importing them loads."""

from __future__ import annotations

import subprocess
import sys

import stepfn.aws
import stepfn.aws.parity
import stepfn.server

AWS_EXPORTS = {
    "AwsConfigurationError", "DeploymentConfigError", "Upload", "UploadError", "UploadPlan", "append_user_agent",
    "build_alias_routing", "build_arn", "build_console_url", "build_create_state_machine_request",
    "build_execution_arn", "build_logging_configuration", "build_sourcedir_archive", "build_state_machine_arn",
    "build_tags", "build_tracing_configuration", "build_update_state_machine_request", "check_role_arn",
    "client_on_this_machine", "client_partition", "client_region", "create_client", "default_code_bucket", "deploy_alias",
    "deploy_definition_code", "deploy_workflow", "ensure_bucket", "iter_task_states", "partition_for_region",
    "plan_uploads", "prepare_definition_for_aws", "publish_version", "resolve_region", "run_uploads",
    "start_sync_execution", "user_agent_suffix",
}
SERVER_EXPORTS = {
    "DEFAULT_HOST", "DEFAULT_PORT", "TOKEN_HEADER", "BackgroundServer", "attach_token", "create_app",
    "create_server_client", "ensure_token", "read_token", "run", "start_background",
}


def test_exports_are_pinned() -> None:
    assert set(stepfn.aws.__all__) == AWS_EXPORTS
    assert set(stepfn.server.__all__) == SERVER_EXPORTS
    assert set(stepfn.aws.parity.__all__) == {"BackendRun", "ParityReport", "compare_backends"}
    for module in (stepfn.aws, stepfn.server, stepfn.aws.parity):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"


def test_importing_does_not_load_boto3() -> None:
    code = (
        "import sys, stepfn.aws, stepfn.aws.parity, stepfn.server\n"
        "loaded = sorted(m for m in ('boto3', 'botocore', 'uvicorn', 'stepfn.workflow.local_client') if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
