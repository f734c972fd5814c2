"""``Workflow`` (docs/design/compat.md §7): create, update, run and inspect a state machine, locally or on AWS.

A Workflow only ever talks to "a client" with boto3's ``stepfunctions`` interface:

* no ``client`` and no ``backend`` (or ``backend="local"``): the :class:`LocalStepFunctionsClient` of
  ``$STEPFN_HOME``, one per home and process, running executions on the local engine (the original
  defaulted to ``boto3.client("stepfunctions")``; see CHANGES-vs-stepfunctions.md);
* ``backend="aws"``: a boto3 client with a resolved region (a clear error when there is none) and
  stepfn's user agent; or pass any boto3 stepfunctions ``client`` (also accepted as ``backend=``).
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from pathlib import Path
from typing import Any

from stepfn.exceptions import MissingRequiredParameter, WorkflowNotFound
from stepfn.workflow._html import HtmlDocument, display, workflow_link
from stepfn.workflow.execution import Execution, ExecutionsList, ExecutionStatus, as_status
from stepfn.workflow.widgets import WorkflowGraphWidget, WorkflowsTableWidget

logger = logging.getLogger("stepfn")

_local_clients: dict[tuple[Path, bool], Any] = {}
_local_clients_lock = threading.Lock()


def local_client(home: Path | str | None = None) -> Any:
    """The process-wide local client for ``home`` (default ``$STEPFN_HOME``), one per home and process.

    A :class:`~stepfn.workflow.local_client.ControlPlaneClient`: executions run in the home's control plane
    and outlive this process. With ``STEPFN_IN_PROCESS=1`` (unit tests, the engine benchmark) a
    :class:`~stepfn.workflow.local_client.LocalStepFunctionsClient` that runs them in this process instead."""
    from stepfn.store import default_home
    from stepfn.workflow._control import in_process_requested
    from stepfn.workflow.local_client import ControlPlaneClient, LocalStepFunctionsClient

    key = Path(home if home is not None else default_home()).resolve()
    in_process = in_process_requested()
    with _local_clients_lock:
        client = _local_clients.get((key, in_process))
        if client is None:
            client = LocalStepFunctionsClient(key) if in_process else ControlPlaneClient(key)
            _local_clients[(key, in_process)] = client
        return client


def resolve_client(client: Any = None, backend: Any = None) -> Any:
    """The client a Workflow uses for ``client=`` / ``backend=`` (see the module docstring)."""
    if client is not None:
        return _with_user_agent(client)
    if backend is None or backend == "local":
        return local_client()
    if backend == "aws":
        from stepfn.aws import create_client

        return create_client("stepfunctions")
    if isinstance(backend, str):
        raise ValueError(f"backend must be 'local' or 'aws' (or a boto3 stepfunctions client), not {backend!r}")
    return _with_user_agent(backend)


def _is_botocore_client(client: Any) -> bool:
    """A real boto3/botocore client (AWS, moto or ``stepfn serve``), not the in-process local client or a
    stand-in: only those take a user-agent hook and get local code uploaded."""
    return hasattr(getattr(client, "meta", None), "events")


def _with_user_agent(client: Any) -> Any:
    if not _is_botocore_client(client):
        return client
    from stepfn.aws import append_user_agent

    return append_user_agent(client)


class WorkflowList(list):  # type: ignore[type-arg]
    """State machines as ``list_state_machines`` returns them; ``to_html()`` renders a table."""

    def to_html(self) -> HtmlDocument:
        return WorkflowsTableWidget(self).show()


class Workflow:
    """A state machine definition with the name and role to create it under, and the client to run it with."""

    @classmethod
    def list_workflows(cls, max_items: int = 100, client: Any = None, html: bool = False, *,
                       backend: Any = None) -> Any:
        """Every state machine of the account (or local store), up to ``max_items``."""
        client = resolve_client(client, backend)
        paginator = client.get_paginator("list_state_machines")
        pages = paginator.paginate(PaginationConfig={"MaxItems": max_items, "PageSize": 1000})
        workflows = WorkflowList(machine for page in pages for machine in page["stateMachines"])
        return display(workflows.to_html()) if html else workflows

    @classmethod
    def attach(cls, state_machine_arn: str, client: Any = None, *, backend: Any = None) -> Workflow:
        """A Workflow for an existing state machine, with its definition frozen as stored."""
        from stepfn.steps.states import FrozenGraph

        client = resolve_client(client, backend)
        response = client.describe_state_machine(stateMachineArn=state_machine_arn)
        return cls(
            name=response["name"],
            definition=FrozenGraph.from_json(response["definition"]),
            role=response["roleArn"],
            state_machine_arn=response["stateMachineArn"],
            client=client,
        )

    def __init__(
        self,
        name: str,
        definition: Any,
        role: str,
        tags: list[dict[str, str]] | None = None,
        execution_input: Any = None,
        timeout_seconds: int | None = None,
        comment: str | None = None,
        version: str | None = None,
        state_machine_arn: str | None = None,
        format_json: bool = True,
        client: Any = None,
        *,
        backend: Any = None,
        state_machine_type: str | None = None,
        logging_configuration: dict[str, Any] | None = None,
        tracing_configuration: dict[str, Any] | None = None,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.comment = comment
        self.version = version
        self.definition = self._as_graph(definition)
        self.name = name
        self.role = role
        # A copy: the original kept the caller's list (and a shared mutable default) (§11 #15).
        self.tags = list(tags) if tags is not None else []
        self.workflow_input = execution_input
        self.client = resolve_client(client, backend)
        self.format_json = format_json
        self.state_machine_arn = state_machine_arn
        self.state_machine_type = state_machine_type
        self.logging_configuration = logging_configuration
        self.tracing_configuration = tracing_configuration

    def _as_graph(self, definition: Any) -> Any:
        from stepfn.steps.states import Graph

        if isinstance(definition, Graph):
            return definition
        return Graph(definition, timeout_seconds=self.timeout_seconds, comment=self.comment, version=self.version)

    # -- lifecycle ------------------------------------------------------------------------------------------

    def create(self) -> str | None:
        """Create the state machine; returns its ARN (the existing one's, with an error logged, if the name is taken)."""
        if self.state_machine_arn is not None:
            logger.warning("The workflow already exists on AWS Step Functions. No action will be performed.")
            return self.state_machine_arn
        from stepfn.aws._deploy import already_exists_error

        try:
            self.state_machine_arn = self._create()
        except already_exists_error(self.client) as error:
            self.state_machine_arn = self._extract_state_machine_arn(error)
            logger.error(
                "A workflow with the same name already exists on AWS Step Functions. "
                "To update a workflow, use Workflow.update()."
            )
        return self.state_machine_arn

    def _create(self) -> str:
        return str(self._create_response()["stateMachineArn"])

    def _create_response(self) -> dict[str, Any]:
        response: dict[str, Any] = self.client.create_state_machine(**self._create_request(self._definition_text()))
        logger.info("Workflow created successfully on AWS Step Functions.")
        return response

    def _create_request(self, definition: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "name": self.name,
            "definition": definition,
            "roleArn": self.role,
            "tags": self.tags,
        }
        if self.state_machine_type is not None:
            params["type"] = self.state_machine_type
        if self.logging_configuration is not None:
            params["loggingConfiguration"] = self.logging_configuration
        if self.tracing_configuration is not None:
            params["tracingConfiguration"] = self.tracing_configuration
        return params

    def _definition_text(self) -> str:
        """The definition as sent. For AWS, code a framework estimator names locally (``file://`` source_dir)
        is packed into ``sourcedir.tar.gz`` and uploaded to S3 first, and the definition points at it; the local
        engine (the local clients, or ``stepfn serve`` through boto3) runs a local ``source_dir`` in place, and
        gets a lone local ``entry_point`` packed into its object store where the definition expects it (sagemaker
        v2 uploaded it there; ``_stage_code``)."""
        text: str = self.definition.to_json(pretty=self.format_json)
        if not _is_botocore_client(self.client):
            if getattr(self.client, "runs_locally", False):  # either local client: code goes to its home
                from stepfn.workflow._caching import record_machine_settings
                from stepfn.workflow._stage_code import stage_local_entry_points

                stage_local_entry_points(self.definition, self.client.home)
                record_machine_settings(self.definition, self.client.home, self.name)
            return text
        from stepfn.workflow._caching import step_cache_settings, warn_ignored_on_aws

        if any(setting["enable_caching"] for setting in step_cache_settings(self.definition).values()):
            warn_ignored_on_aws(f"workflow {self.name!r} has steps with CacheConfig(enable_caching=True)")
        from stepfn.aws import client_on_this_machine, prepare_definition_for_aws

        if client_on_this_machine(self.client):
            # stepfn serve runs the definition on this machine's object store: a lone local entry point goes
            # there, where sagemaker v2's session would have uploaded it, as for the local clients.
            from stepfn.local.objectstore import stepfn_home
            from stepfn.workflow._stage_code import stage_local_entry_points

            stage_local_entry_points(self.definition, stepfn_home())
        return prepare_definition_for_aws(text, client=self.client)

    @staticmethod
    def _extract_state_machine_arn(error: Any) -> str:
        # The API's message is "State Machine Already Exists: '<arn>'"; the original read the ARN from it.
        return str(error.response["Error"]["Message"].split("'")[1])

    def update(self, definition: Any = None, role: str | None = None) -> str:
        """Replace the definition and/or role of the existing state machine; returns its ARN."""
        if definition is None and role is None:
            raise MissingRequiredParameter("A new definition and/or role must be provided to update an existing workflow.")
        if self.state_machine_arn is None:
            raise WorkflowNotFound(
                "Local workflow instance does not point to an existing workflow on AWS StepFunctions. Please "
                "consider using Workflow.create(...) to create a new workflow, or Workflow.attach(...) to attach "
                "the instance to an existing workflow on AWS Step Functions."
            )
        if definition:
            self.definition = self._as_graph(definition)
        if role:
            self.role = role
        self.client.update_state_machine(
            stateMachineArn=self.state_machine_arn,
            definition=self._definition_text(),
            roleArn=self.role,
        )
        logger.info(
            "Workflow updated successfully on AWS Step Functions. All execute() calls will use the updated "
            "definition and role within a few seconds. "
        )
        return self.state_machine_arn

    def create_or_update(self) -> str:
        """Create the state machine, or update it to this definition and role if it already exists (the
        create-then-update path ``stepfn run`` and ``deploy_workflow`` share:
        ``stepfn.aws._deploy.create_or_update_state_machine``)."""
        if self.state_machine_arn is not None:
            return self.update(definition=self.definition, role=self.role)
        from stepfn.aws._deploy import create_or_update_state_machine

        self.state_machine_arn, _ = create_or_update_state_machine(
            self.client, self._create_request(self._definition_text()))
        logger.info("Workflow created or updated on AWS Step Functions.")
        return self.state_machine_arn

    def clone(self, deep: bool = False) -> Workflow:
        """A copy of this Workflow object, as the R port's ``$clone()`` (docs/design/compat.md §9).

        Name, role, ARN, client and settings are shared values; the tag list is new. With ``deep=True`` the
        definition is cloned too (``Graph.clone(deep=True)``), so editing one copy's states leaves the other's alone.
        """
        copied = copy.copy(self)
        copied.tags = [dict(tag) for tag in self.tags]
        if deep:
            copied.definition = self.definition.clone(deep=True)
        return copied

    def delete(self) -> None:
        """Delete the state machine, if it exists."""
        if self.state_machine_arn is not None:
            self.client.delete_state_machine(stateMachineArn=self.state_machine_arn)
            logger.info(
                "Workflow has been marked for deletion. If the workflow has running executions, it will be "
                "deleted when all executions are stopped."
            )

    # -- running --------------------------------------------------------------------------------------------

    def _validated_params(self, name: str | None, inputs: Any) -> dict[str, Any]:
        if self.workflow_input:
            # validate(None) reports every key missing instead of raising AttributeError (§11 #1).
            result = self.workflow_input.validate(inputs)
            if result.valid is False:
                raise ValueError(
                    f"Expected run input with the schema: {self.workflow_input.get_schema_as_json()}")
        if self.state_machine_arn is None:
            raise WorkflowNotFound(
                "Local workflow instance does not point to an existing workflow on AWS StepFunctions. Before "
                "executing a workflow, call Workflow.create(...) or Workflow.attach(...)."
            )
        params: dict[str, Any] = {"stateMachineArn": self.state_machine_arn}
        if name is not None:
            params["name"] = name
        if inputs is not None:
            params["input"] = json.dumps(inputs, indent=4) if self.format_json else json.dumps(inputs)
        return params

    def execute(self, name: str | None = None, inputs: Any = None, *, cache: bool = False) -> Execution:
        """Start an execution (StartExecution); returns it with status ``Running``.

        ``cache=True`` (local backend only; ignored with a warning on AWS) lets every training, processing,
        transform and tuning job and local Lambda of this run reuse an earlier identical result
        (:mod:`stepfn.local.cache`); a step's own ``CacheConfig(enable_caching=False)`` still opts it out."""
        params = self._validated_params(name, inputs)
        if cache:
            if getattr(self.client, "runs_locally", False):
                from stepfn.workflow._caching import record_run_settings

                name = params["name"] = record_run_settings(self.client.home, params["stateMachineArn"], name)
            else:
                from stepfn.workflow._caching import warn_ignored_on_aws

                warn_ignored_on_aws("execute(cache=True)")
        response = self.client.start_execution(**params)
        logger.info("Workflow execution started successfully on AWS Step Functions.")
        arn = response["executionArn"]
        return Execution(
            workflow=self, execution_arn=arn, start_date=response.get("startDate"), status=ExecutionStatus.Running,
            client=self.client, name=name if name is not None else arn.rsplit(":", 1)[-1],
        )

    def execute_sync(self, name: str | None = None, inputs: Any = None) -> dict[str, Any]:
        """Run an EXPRESS workflow to completion (StartSyncExecution) and return the response as boto3 does."""
        response: dict[str, Any] = self.client.start_sync_execution(**self._validated_params(name, inputs))
        return response

    def list_executions(self, max_items: int = 100, status_filter: ExecutionStatus | str | None = None,
                        html: bool = False) -> Any:
        """This workflow's executions, newest first; statuses are always :class:`ExecutionStatus` (§11 #6)."""
        if self.state_machine_arn is None:
            return ExecutionsList()
        paginator = self.client.get_paginator("list_executions")
        params: dict[str, Any] = {
            "stateMachineArn": self.state_machine_arn,
            "PaginationConfig": {"MaxItems": max_items, "PageSize": 1000},
        }
        status = as_status(status_filter)
        if status is not None:
            params["statusFilter"] = status.value
        runs = ExecutionsList(
            Execution(
                name=execution["name"], workflow=self, execution_arn=execution["executionArn"],
                start_date=execution["startDate"], stop_date=execution.get("stopDate"),
                status=execution["status"], client=self.client,
            )
            for page in paginator.paginate(**params) for execution in page["executions"]
        )
        return display(runs.to_html()) if html else runs

    # -- views ----------------------------------------------------------------------------------------------

    def render_graph(self, portrait: bool = False) -> HtmlDocument:
        """The workflow as a self-contained HTML/SVG graph (rendered inline by notebooks)."""
        return WorkflowGraphWidget(self.definition.to_dict(), title=self.name).show(portrait=portrait)

    def get_cloudformation_template(self, description: str | None = None) -> str:
        """A CloudFormation YAML template creating this state machine (byte-identical to the original's)."""
        from stepfn.workflow.cloudformation import build_cloudformation_template

        return build_cloudformation_template(
            self.definition.to_dict(), self.name, self.role, description,
            type=self.state_machine_type, logging_configuration=self.logging_configuration,
            tracing_configuration=self.tracing_configuration,
        )

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, role={self.role!r}, "
                f"state_machine_arn={self.state_machine_arn!r})")

    def _repr_html_(self) -> str:
        if self.state_machine_arn:
            return f"Workflow: {workflow_link(self.client, self.state_machine_arn)}"
        return "Workflow: Does Not Exist."


__all__ = ["Workflow", "WorkflowList", "local_client", "resolve_client"]
