from __future__ import annotations

from pathlib import Path

import pytest

from stepfn.workflow.local_client import LocalStepFunctionsClient

ROLE = "arn:aws:iam::123456789012:role/x"


def test_definition_text_is_validated_as_sent(stepfn_home: Path) -> None:
    client = LocalStepFunctionsClient(home=stepfn_home)
    duplicate = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "A": {"Type": "Succeed"}}}'
    with pytest.raises(client.exceptions.InvalidDefinition, match="uplicate"):
        client.create_state_machine(name="dup", definition=duplicate, roleArn=ROLE)
    huge = '{"StartAt": "A", "Comment": "' + "x" * (1024 * 1024) + '", "States": {"A": {"Type": "Pass", "End": true}}}'
    with pytest.raises(client.exceptions.InvalidDefinition):
        client.create_state_machine(name="huge", definition=huge, roleArn=ROLE)
    assert client.list_state_machines()["stateMachines"] == []
