"""Choice rules (``stepfunctions.steps.choice_rule``, docs/design/compat.md §2.4).

``ChoiceRule.<Operator>(variable, value)`` builds a :class:`Rule` that serializes as
``{"Variable": …, "<Operator>": value}``; ``And``/``Or``/``Not`` compose rules. The variable is a
``$…`` string or any Placeholder (§11 #11: the original only took a StepInput). A Placeholder given as
the value of a comparison switches it to the ``…Path`` operator (§10). ``ChoiceRule.Condition`` is the
JSONata form (``{"Condition": "{% … %}"}``).
"""

from __future__ import annotations

from typing import Any

from stepfn.inputs.placeholders import Expression, Placeholder
from stepfn.steps._render import JSONATA, JSONPATH, jsonata_expression
from stepfn.steps.intrinsics import JsonPath

#: The value type each operator family accepts; ``bool`` passes for Numeric as in the original.
_VALUE_TYPES: dict[str, tuple[type, ...]] = {
    "String": (str,),
    "Numeric": (int, float),
    "Boolean": (bool,),
    "Timestamp": (str,),
    "Is": (bool,),
}
#: Operators without a ``…Path`` twin, so a Placeholder value cannot be moved there.
_NO_PATH_FORM = ("Is", "StringMatches")


def _is_path(value: Any) -> bool:
    if isinstance(value, Placeholder | JsonPath):
        return True
    return isinstance(value, str) and value.startswith("$")


def _as_path(value: Any) -> Any:
    return value.to_jsonpath() if isinstance(value, Expression) else value


class BaseRule:
    """The root of all rules; an empty rule serializes as ``{}``."""

    def to_dict(self) -> dict[str, Any]:
        return self._to_dict(JSONPATH)

    def _to_dict(self, language: str) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Rule(BaseRule):
    """A comparison ``{"Variable": variable, operator: value}``."""

    def __init__(self, variable: Any, operator: str, value: Any) -> None:
        if not _is_path(variable):
            raise ValueError(f"Expected variable must be a placeholder or must start with '$', but got '{variable}'")
        if operator.endswith("Path"):
            if not _is_path(value):
                raise ValueError(f"Expected value must be a placeholder or must start with '$', but got '{value}'")
        elif isinstance(value, Expression):
            if operator.startswith(_NO_PATH_FORM):
                raise ValueError(f"Operator '{operator}' has no Path form, so its value cannot be a placeholder")
            operator = f"{operator}Path"
        else:
            for prefix, types in _VALUE_TYPES.items():
                if operator.startswith(prefix) and not isinstance(value, types):
                    raise ValueError(f"Expected value to be a {prefix}, but got {value}")
        self.variable = variable
        self.operator = operator
        self.value = value

    def _to_dict(self, language: str) -> dict[str, Any]:
        if language == JSONATA:
            raise ValueError(
                f"Rule '{self}' uses 'Variable', which JSONata states do not support; use ChoiceRule.Condition"
            )
        return {"Variable": _as_path(self.variable), self.operator: _as_path(self.value)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(variable={self.variable!r}, operator={self.operator!r}, value={self.value!r})"


def _check_rule(rule: Any) -> BaseRule:
    if not isinstance(rule, BaseRule):
        raise ValueError(f"Rule '{rule}' is invalid")
    return rule


class CompoundRule(BaseRule):
    """``{"And"|"Or": [rules…]}``."""

    def __init__(self, operator: str, rules: list[BaseRule]) -> None:
        self.operator = operator
        self.rules = [_check_rule(rule) for rule in rules]

    def _to_dict(self, language: str) -> dict[str, Any]:
        return {self.operator: [rule._to_dict(language) for rule in self.rules]}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(operator={self.operator!r}, rules={self.rules!r})"


class NotRule(BaseRule):
    """``{"Not": rule}``."""

    def __init__(self, rule: BaseRule) -> None:
        self.rule = _check_rule(rule)

    def _to_dict(self, language: str) -> dict[str, Any]:
        return {"Not": self.rule._to_dict(language)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rule={self.rule!r})"


class ConditionRule(BaseRule):
    """A JSONata choice: ``{"Condition": "{% … %}"}`` (a Placeholder is wrapped in ``{% %}``)."""

    def __init__(self, condition: str | bool | Expression) -> None:
        self.condition = condition

    def _to_dict(self, language: str) -> dict[str, Any]:
        if language != JSONATA:
            raise ValueError("A Condition choice rule needs QueryLanguage JSONata")
        condition = self.condition
        return {"Condition": jsonata_expression(condition) if isinstance(condition, Expression) else condition}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(condition={self.condition!r})"


class ChoiceRule:
    """Factory of every ASL comparison operator, their ``…Path`` forms, ``Is*``, And/Or/Not and Condition."""

    @classmethod
    def StringEquals(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "StringEquals", value)

    @classmethod
    def StringEqualsPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "StringEqualsPath", value)

    @classmethod
    def StringLessThan(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "StringLessThan", value)

    @classmethod
    def StringLessThanPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "StringLessThanPath", value)

    @classmethod
    def StringGreaterThan(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "StringGreaterThan", value)

    @classmethod
    def StringGreaterThanPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "StringGreaterThanPath", value)

    @classmethod
    def StringLessThanEquals(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "StringLessThanEquals", value)

    @classmethod
    def StringLessThanEqualsPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "StringLessThanEqualsPath", value)

    @classmethod
    def StringGreaterThanEquals(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "StringGreaterThanEquals", value)

    @classmethod
    def StringGreaterThanEqualsPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "StringGreaterThanEqualsPath", value)

    @classmethod
    def StringMatches(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "StringMatches", value)

    @classmethod
    def NumericEquals(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "NumericEquals", value)

    @classmethod
    def NumericEqualsPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "NumericEqualsPath", value)

    @classmethod
    def NumericLessThan(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "NumericLessThan", value)

    @classmethod
    def NumericLessThanPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "NumericLessThanPath", value)

    @classmethod
    def NumericGreaterThan(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "NumericGreaterThan", value)

    @classmethod
    def NumericGreaterThanPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "NumericGreaterThanPath", value)

    @classmethod
    def NumericLessThanEquals(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "NumericLessThanEquals", value)

    @classmethod
    def NumericLessThanEqualsPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "NumericLessThanEqualsPath", value)

    @classmethod
    def NumericGreaterThanEquals(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "NumericGreaterThanEquals", value)

    @classmethod
    def NumericGreaterThanEqualsPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "NumericGreaterThanEqualsPath", value)

    @classmethod
    def BooleanEquals(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "BooleanEquals", value)

    @classmethod
    def BooleanEqualsPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "BooleanEqualsPath", value)

    @classmethod
    def TimestampEquals(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "TimestampEquals", value)

    @classmethod
    def TimestampEqualsPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "TimestampEqualsPath", value)

    @classmethod
    def TimestampLessThan(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "TimestampLessThan", value)

    @classmethod
    def TimestampLessThanPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "TimestampLessThanPath", value)

    @classmethod
    def TimestampGreaterThan(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "TimestampGreaterThan", value)

    @classmethod
    def TimestampGreaterThanPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "TimestampGreaterThanPath", value)

    @classmethod
    def TimestampLessThanEquals(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "TimestampLessThanEquals", value)

    @classmethod
    def TimestampLessThanEqualsPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "TimestampLessThanEqualsPath", value)

    @classmethod
    def TimestampGreaterThanEquals(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "TimestampGreaterThanEquals", value)

    @classmethod
    def TimestampGreaterThanEqualsPath(cls, variable: Any, value: Any) -> Rule:
        return Rule(variable, "TimestampGreaterThanEqualsPath", value)

    @classmethod
    def IsNull(cls, variable: Any, value: bool) -> Rule:
        return Rule(variable, "IsNull", value)

    @classmethod
    def IsPresent(cls, variable: Any, value: bool) -> Rule:
        return Rule(variable, "IsPresent", value)

    @classmethod
    def IsString(cls, variable: Any, value: bool) -> Rule:
        return Rule(variable, "IsString", value)

    @classmethod
    def IsNumeric(cls, variable: Any, value: bool) -> Rule:
        return Rule(variable, "IsNumeric", value)

    @classmethod
    def IsTimestamp(cls, variable: Any, value: bool) -> Rule:
        return Rule(variable, "IsTimestamp", value)

    @classmethod
    def IsBoolean(cls, variable: Any, value: bool) -> Rule:
        return Rule(variable, "IsBoolean", value)

    @classmethod
    def And(cls, rules: list[BaseRule]) -> CompoundRule:
        return CompoundRule("And", rules)

    @classmethod
    def Or(cls, rules: list[BaseRule]) -> CompoundRule:
        return CompoundRule("Or", rules)

    @classmethod
    def Not(cls, rule: BaseRule) -> NotRule:
        return NotRule(rule)

    @classmethod
    def Condition(cls, condition: str | bool | Expression) -> ConditionRule:
        """JSONata only: the branch is taken when ``condition`` (a ``{% … %}`` expression) is true."""
        return ConditionRule(condition)


__all__ = ["BaseRule", "ChoiceRule", "CompoundRule", "ConditionRule", "NotRule", "Rule"]
