"""The small workflow the CLI tests run."""

from __future__ import annotations

import textwrap

WORKFLOW_PY = textwrap.dedent(
    """
    from stepfn.steps import Chain, Choice, ChoiceRule, Fail, Pass, Succeed, Wait

    start = Pass("Start", parameters={"n.$": "$.n", "doubled.$": "States.MathAdd($.n, $.n)"})
    pause = Wait("Pause", seconds=1)
    check = Choice("Big enough?")
    check.add_choice(ChoiceRule.NumericGreaterThanEquals("$.doubled", 10), Succeed("Done"))
    check.default_choice(Fail("Too small", error="Demo.TooSmall", cause="doubled is below 10"))
    pipeline = Chain([start, pause, check])
    """
)
