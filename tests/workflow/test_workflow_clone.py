from __future__ import annotations

from stepfn.steps import Chain, Pass
from stepfn.workflow import Workflow

ROLE = "arn:aws:iam::123456789012:role/x"


def test_clone_copies_the_workflow_and_deep_clone_its_definition() -> None:
    workflow = Workflow("w", Chain([Pass("A"), Pass("B")]), role=ROLE, tags=[{"key": "team", "value": "ml"}])
    shallow = workflow.clone()
    assert shallow is not workflow and shallow.definition is workflow.definition
    shallow.tags.append({"key": "x", "value": "y"})
    assert len(workflow.tags) == 1
    deep = workflow.clone(deep=True)
    assert deep.definition is not workflow.definition
    assert deep.definition.to_json() == workflow.definition.to_json()
    assert (deep.name, deep.role, deep.client) == (workflow.name, workflow.role, workflow.client)
