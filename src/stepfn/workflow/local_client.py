"""``LocalStepFunctionsClient``: boto3's ``stepfunctions`` client, answered on this machine.

Same method names, keyword arguments (validated by botocore's own validator), response shapes and error
classes (``client.exceptions.StateMachineDoesNotExist`` ... are the ClientError subclasses boto3 builds
from the same service model), so code written for AWS runs unchanged against it and the other way round.
State machines, executions and history live in the SQLite store under ``$STEPFN_HOME``; executions run
on the local engine on background threads of this process, and those a dead process left behind resume
when the next client opens the store (see :mod:`stepfn.workflow._local_runs`). This is the in-process mode
(unit tests, the engine benchmark, ``STEPFN_IN_PROCESS=1``) and what the control plane itself runs on;
``Workflow`` defaults to :class:`ControlPlaneClient`, whose executions run in the home's control plane and
outlive the process that started them (see :mod:`stepfn.workflow._control`).

Differences from the service, by design: no IAM (a role must look like a role ARN but is not assumed),
no activities. A task token held by another process is relayed through the store.
"""

from __future__ import annotations

from stepfn.workflow._control import ControlPlaneClient
from stepfn.workflow._local_base import CALLBACK_RELAY_SECONDS, DEFAULT_ACCOUNT, MAX_PAYLOAD_BYTES
from stepfn.workflow._local_executions import ExecutionOperations
from stepfn.workflow._local_machines import MachineOperations
from stepfn.workflow._local_map_runs import MapRunOperations


class LocalStepFunctionsClient(MachineOperations, ExecutionOperations, MapRunOperations):
    """A boto3-compatible Step Functions client over the local store and engine.

    ``LocalStepFunctionsClient(home=None, *, region=None, account="123456789012", handlers=None, clock=None,
    resume=True, lease_seconds=30.0, mock_config=None)``; see :class:`~stepfn.workflow._local_base.LocalClientBase`.
    """


__all__ = ["CALLBACK_RELAY_SECONDS", "DEFAULT_ACCOUNT", "MAX_PAYLOAD_BYTES", "ControlPlaneClient",
           "LocalStepFunctionsClient"]
