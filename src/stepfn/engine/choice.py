"""The Choice state and its rules (states-language.net "Choice State"; JSONata ``Condition``).

JSONPath rules compile into predicates over the effective input: a ``Variable`` plus one comparison
operator (``StringEquals``, ``NumericLessThanPath``, ``IsPresent``...), or ``And``/``Or``/``Not``.
A comparison whose variable has the wrong type is simply false, as on AWS; a missing variable is a
``States.Runtime`` error except for ``IsPresent``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stepfn.asl.definition import StateSite
from stepfn.asl.jsonata import JsonataExpression, JsonataTemplate, compile_jsonata, compile_jsonata_template
from stepfn.asl.paths import CompiledPath, PathNotFound, PathSyntaxError, Sources, Template, compile_path
from stepfn.engine.definition import Compiler, StateNode, common_fields, evaluate_assign, template
from stepfn.engine.runtime import Frame
from stepfn.engine.states import parse_timestamp
from stepfn.errors import DefinitionError, StatesError

__all__ = ["ChoiceNode", "ChoiceRule"]

RUNTIME = "States.Runtime"
_Predicate = Callable[[Sources], bool]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _wildcard(pattern: str) -> re.Pattern[str]:
    """StringMatches: ``*`` matches anything, ``\\*`` is a literal star, ``\\\\`` a backslash."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


def _typed(kind: str) -> Callable[[Any], Any]:
    """Converts a value for a ``<kind>*`` comparison, or returns a sentinel when the type is wrong."""
    if kind == "String":
        return lambda v: v if isinstance(v, str) else _WRONG
    if kind == "Numeric":
        return lambda v: v if _is_number(v) else _WRONG
    if kind == "Boolean":
        return lambda v: v if isinstance(v, bool) else _WRONG
    return lambda v: parse_timestamp(v) or _WRONG


_WRONG = object()
_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": lambda v: isinstance(v, str),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsTimestamp": lambda v: parse_timestamp(v) is not None,
}
_OPERATOR = re.compile(r"^(String|Numeric|Timestamp|Boolean)(Equals|LessThan|GreaterThan|LessThanEquals|"
                       r"GreaterThanEquals)(Path)?$")


def _read(path: CompiledPath, sources: Sources) -> Any:
    try:
        return path.resolve(sources)
    except PathNotFound as exc:
        raise StatesError(RUNTIME, f"Invalid path '{path.text}' : {exc.message}", field="Variable",
                          path=path.text) from None


def compile_rule(rule: dict[str, Any], where: str) -> _Predicate:
    """Compile one JSONPath Choice rule (top-level or nested) into a predicate."""
    if "And" in rule or "Or" in rule:
        key = "And" if "And" in rule else "Or"
        parts = [compile_rule(sub, f"{where}.{key}[{i}]") for i, sub in enumerate(rule[key])]
        if key == "And":
            return lambda sources: all(part(sources) for part in parts)
        return lambda sources: any(part(sources) for part in parts)
    if "Not" in rule:
        inner = compile_rule(rule["Not"], f"{where}.Not")
        return lambda sources: not inner(sources)
    try:
        variable = compile_path(rule["Variable"])
    except PathSyntaxError as exc:
        raise DefinitionError(f"{where}.Variable: {exc.reason}") from exc
    for key, operand in rule.items():
        if key in ("Variable", "Next", "Assign", "Comment"):
            continue
        if key == "IsPresent":
            expected = bool(operand)

            def is_present(sources: Sources, expected: bool = expected) -> bool:
                try:
                    variable.resolve(sources)
                except PathNotFound:
                    return not expected
                return expected

            return is_present
        if key in _TYPE_TESTS:
            test, expected = _TYPE_TESTS[key], bool(operand)

            def type_test(sources: Sources, test: Callable[[Any], bool] = test, expected: bool = expected) -> bool:
                try:
                    value = variable.resolve(sources)
                except PathNotFound:
                    return False
                return test(value) == expected

            return type_test
        if key in ("StringMatches",):
            pattern = _wildcard(operand)
            return lambda sources: (isinstance(value := _read(variable, sources), str)
                                    and pattern.fullmatch(value) is not None)
        match = _OPERATOR.match(key)
        if not match:
            raise DefinitionError(f"{where}: unknown Choice operator {key!r}")
        kind, relation, by_path = match.groups()
        if kind == "Boolean" and relation != "Equals":
            raise DefinitionError(f"{where}: unknown Choice operator {key!r}")
        convert, compare = _typed(kind), _ORDER[relation]
        if by_path:
            other = compile_path(operand)

            def path_comparison(sources: Sources, other: CompiledPath = other,
                                convert: Callable[[Any], Any] = convert,
                                compare: Callable[[Any, Any], bool] = compare) -> bool:
                left = convert(_read(variable, sources))
                right = convert(_read(other, sources))
                return left is not _WRONG and right is not _WRONG and compare(left, right)

            return path_comparison
        constant = convert(operand)
        if constant is _WRONG:
            raise DefinitionError(f"{where}.{key}: {operand!r} is not a valid {kind.lower()} operand")

        def comparison(sources: Sources, constant: Any = constant, convert: Callable[[Any], Any] = convert,
                       compare: Callable[[Any, Any], bool] = compare) -> bool:
            left = convert(_read(variable, sources))
            return left is not _WRONG and compare(left, constant)

        return comparison
    raise DefinitionError(f"{where}: a Choice rule needs a comparison operator")


@dataclass(frozen=True, slots=True)
class ChoiceRule:
    next: str
    predicate: _Predicate | None = None
    condition: JsonataExpression | None = None
    assign: Template | JsonataTemplate | None = None
    output: JsonataTemplate | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChoiceNode(StateNode):
    type_name = "Choice"
    rules: tuple[ChoiceRule, ...] = ()
    default: str | None = None

    def execute(self, frame: Frame, value: Any) -> tuple[Any, str | None]:
        if self.jsonata:
            states = frame.states_binding(value)
            variables = frame.variables.flat()
            for rule in self.rules:
                assert rule.condition is not None
                matched = rule.condition.evaluate(states, variables, field="Condition", new_uuid=frame.run.new_uuid)
                if not isinstance(matched, bool):
                    raise StatesError("States.QueryEvaluationError",
                                      f"The JSONata expression '{rule.condition.text}' specified for the field "
                                      f"'Condition' returned an unexpected result type. Expected 'boolean'",
                                      field="Condition")
                if matched:
                    return self._take(frame, value, rule.next, rule.assign, rule.output, states)
            return self._take(frame, value, self._default(), self.assign, self.output, states)
        effective = self.effective_input(frame, value)
        sources = frame.sources(effective)
        for rule in self.rules:
            assert rule.predicate is not None
            if rule.predicate(sources):
                return self._take(frame, effective, rule.next, rule.assign, None, None)
        return self._take(frame, effective, self._default(), self.assign, None, None)

    def _default(self) -> str:
        if self.default is None:
            raise StatesError("States.NoChoiceMatched",
                              f"No Choice rule matched and no Default is given in state '{self.name}'.",
                              state=self.name)
        return self.default

    def _take(self, frame: Frame, value: Any, target: str, assign: Template | JsonataTemplate | None,
              output: JsonataTemplate | None, states: dict[str, Any] | None) -> tuple[Any, str | None]:
        assigned = evaluate_assign(assign, frame, value, states) if assign is not None else None
        if states is not None:
            result = (output.evaluate(states, frame.variables.flat(), new_uuid=frame.run.new_uuid)
                      if output is not None else self.evaluate_output(frame, states, value))
        else:
            result = self.select_output(frame, value)
        return self.finish(frame, result, assigned, target)


@Compiler.register("Choice")
def _build_choice(site: StateSite) -> ChoiceNode:
    fields = common_fields(site)
    spec, where, jsonata = site.spec, site.path, site.jsonata
    rules = []
    for i, rule in enumerate(spec["Choices"]):
        at = f"{where}.Choices[{i}]"
        if jsonata:
            condition = rule["Condition"]
            rules.append(ChoiceRule(
                rule["Next"],
                condition=compile_jsonata(condition) if isinstance(condition, str) else _literal(condition),
                assign=compile_jsonata_template(rule["Assign"], field="Assign") if "Assign" in rule else None,
                output=compile_jsonata_template(rule["Output"], field="Output") if "Output" in rule else None,
            ))
        else:
            rules.append(ChoiceRule(
                rule["Next"],
                predicate=compile_rule(rule, at),
                assign=template(rule["Assign"], at, "Assign") if "Assign" in rule else None,
            ))
    fields["next"] = None
    return ChoiceNode(rules=tuple(rules), default=spec.get("Default"), **fields)


def _literal(value: Any) -> JsonataExpression:
    from stepfn.asl.paths import compact_json

    return compile_jsonata(compact_json(value))
