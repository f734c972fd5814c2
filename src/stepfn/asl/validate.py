"""Static validation of a whole state machine definition, as Step Functions does before creating it.

:func:`validate_definition` returns every problem as a :class:`~stepfn.errors.Diagnostic` (JSON path such as
``$.States.Train.Next``, a code, a message, the state and the field); :func:`check_definition` raises one
:class:`~stepfn.errors.ValidationError` listing them all, as botocore's ParamValidationError does.

Codes are listed, with what each means, in :data:`stepfn.asl.definition.DIAGNOSTIC_CODES`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stepfn.asl import definition as asl
from stepfn.asl.definition import MachineSite, StateSite, join_path
from stepfn.asl.intrinsics import FUNCTION_NAMES, IntrinsicSyntaxError, is_intrinsic, parse_intrinsic
from stepfn.asl.jsonata import JsonataSyntaxError, compile_jsonata, is_jsonata
from stepfn.asl.paths import PathSyntaxError, compile_path, compile_reference_path
from stepfn.errors import DefinitionError, Diagnostic, ValidationError


def validate_definition(definition: dict[str, Any] | str | bytes) -> list[Diagnostic]:
    """Every problem in ``definition`` (a dict or its JSON text); an empty list means it is valid."""
    if isinstance(definition, str | bytes):
        size = len(definition.encode("utf-8") if isinstance(definition, str) else definition)
        if size > asl.MAX_DEFINITION_BYTES:
            return [_invalid_json(f"the definition is {size} bytes, more than the 1 MiB limit")]
        try:
            definition = asl.decode_definition(definition)
        except DefinitionError as exc:
            return [_invalid_json(str(exc))]
    if not isinstance(definition, dict):
        return [_invalid_json("a state machine definition must be a JSON object")]
    validator = _Validator()
    validator.machine(definition)
    return validator.diagnostics


# What an interpreter cannot run past: the engine refuses a definition with one of these when it compiles it
# (``unrunnable_problems``), so its builders need not check the structure again. The other diagnostics (limits,
# names, what AWS refuses at CreateStateMachine without changing how the states run, such as IntervalSeconds 0
# or a state with neither Next nor End) are for creating a state machine; the engine runs such a definition.
_UNRUNNABLE_CODES = frozenset({"INVALID_JSON_DESCRIPTION", "MISSING_TRANSITION_TARGET", "INVALID_CHOICE_RULE"})
_UNRUNNABLE_FIELDS = frozenset({"States", "StartAt", "Type", "Branches", "ItemProcessor", "Iterator", "Resource",
                                "Choices", "ErrorEquals", "BackoffRate"})


def unrunnable_problems(definition: dict[str, Any], *, transitions: bool = True) -> list[Diagnostic]:
    """The diagnostics of ``definition`` that no interpreter can run past: its structure (StartAt, States, each
    state an object of a known Type, Branches, ItemProcessor, Resource, Choice rules, ErrorEquals, BackoffRate,
    a catcher's Next) and, with ``transitions``, every transition to a state that does not exist."""
    found = []
    for diagnostic in validate_definition(definition):
        if diagnostic.code == "MISSING_TRANSITION_TARGET" and not transitions:
            continue
        if diagnostic.code in _UNRUNNABLE_CODES or (diagnostic.code == "SCHEMA_VALIDATION_FAILED" and (
                diagnostic.field in _UNRUNNABLE_FIELDS
                or diagnostic.field is None  # a state that is not an object
                or diagnostic.field.startswith("Branches[")  # a branch that is not an object
                or (diagnostic.field == "Next" and diagnostic.path.endswith(".Next")))):  # a catcher without Next
            found.append(diagnostic)
    return found


def check_definition(definition: dict[str, Any] | str | bytes) -> dict[str, Any]:
    """Validate and return the definition as a dict; raise :class:`ValidationError` with every problem."""
    diagnostics = validate_definition(definition)
    if diagnostics:
        raise ValidationError(diagnostics)
    return asl.load_definition(definition)


def _invalid_json(message: str) -> Diagnostic:
    return Diagnostic(path="$", code="INVALID_JSON_DESCRIPTION", message=message)


class _Scope:
    """One state machine, Parallel branch or Map processor: its states and where it sits."""

    def __init__(self, states: dict[str, Any], path: str, owner: str | None) -> None:
        self.states = states
        self.path = path
        self.owner = owner


class _Validator:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.seen_names: dict[str, str] = {}
        self.default_language = asl.JSONPATH

    # ------------------------------------------------------------------------------------- reporting
    def report(self, path: str, code: str, message: str, state: str | None = None, field: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(path=path, code=code, message=message, state=state, field=field))

    def schema(self, path: str, message: str, state: str | None, field: str | None) -> None:
        self.report(path, "SCHEMA_VALIDATION_FAILED", message, state, field)

    def unknown_fields(self, obj: dict[str, Any], allowed: Iterable[str], path: str, state: str | None,
                       what: str) -> None:
        allowed = frozenset(allowed)
        for key in obj:
            if key not in allowed:
                self.schema(join_path(path, key), f"Field '{key}' is not supported {what}; supported fields: "
                            f"{', '.join(sorted(allowed))}", state, key)
        for key in getattr(obj, "duplicates", ()):
            self.schema(join_path(path, key), f"Field '{key}' appears more than once", state, key)

    # -------------------------------------------------------------------------------- state machines
    def machine(self, root: dict[str, Any]) -> None:
        language = root.get("QueryLanguage", asl.JSONPATH)
        if language not in asl.QUERY_LANGUAGES:
            self.schema("$.QueryLanguage", f"QueryLanguage must be one of {', '.join(asl.QUERY_LANGUAGES)}",
                        None, "QueryLanguage")
            language = asl.JSONPATH
        self.default_language = language
        self.unknown_fields(root, asl.TOP_LEVEL_FIELDS, "$", None, "at the top level of a state machine")
        if "TimeoutSeconds" in root:
            self.positive_int(root["TimeoutSeconds"], "$.TimeoutSeconds", None, "TimeoutSeconds",
                              maximum=asl.MAX_TIMEOUT_SECONDS)
        if "Version" in root and root["Version"] != "1.0":
            self.schema("$.Version", "Version must be \"1.0\"", None, "Version")
        self.string_field(root, "Comment", "$", None)
        self.sub_machine(asl.root_machine(root))

    def sub_machine(self, site: MachineSite) -> None:
        """A state machine, Parallel branch or Map processor (the walk of :mod:`stepfn.asl.definition`, which
        the engine's compiler shares)."""
        machine, path, owner = site.spec, site.path, site.owner
        states = machine.get("States")
        start = machine.get("StartAt")
        if not isinstance(states, dict):
            self.schema(join_path(path, "States"), "'States' must be an object of states" if "States" in machine
                        else "These fields are required: [States]", owner, "States")
            states = {}
        if not isinstance(start, str):
            self.schema(join_path(path, "StartAt"), "'StartAt' must be a state name" if "StartAt" in machine
                        else "These fields are required: [StartAt]", owner, "StartAt")
        elif start not in states:
            self.report(join_path(path, "StartAt"), "MISSING_TRANSITION_TARGET",
                        f"StartAt names state '{start}', which does not exist", owner, "StartAt")
        scope = _Scope(states, join_path(path, "States"), owner)
        for key in getattr(states, "duplicates", ()):
            self.report(join_path(scope.path, key), "DUPLICATE_STATE_NAME", f"Duplicate State name: '{key}'", key)
        for state_site in asl.state_sites(site):
            self.state(scope, state_site)
        if isinstance(start, str) and start in states:
            self.reachability(scope, start)

    def reachability(self, scope: _Scope, start: str) -> None:
        reached: set[str] = set()
        pending = [start]
        terminal = False
        while pending:
            name = pending.pop()
            if name in reached or name not in scope.states:
                continue
            reached.add(name)
            state = scope.states[name]
            if not isinstance(state, dict):
                continue
            if state.get("Type") in asl.TERMINAL_TYPES or state.get("End") is True:
                terminal = True
            pending.extend(asl.transitions(state))
        for name in scope.states:
            if name not in reached:
                self.report(join_path(scope.path, name), "UNREACHABLE_STATE", f"State '{name}' is not reachable", name)
        if not terminal:
            self.report(scope.path, "NO_TERMINAL_STATE",
                        "No reachable state ends the execution (End: true, Succeed or Fail)", scope.owner)

    # ----------------------------------------------------------------------------------------- states
    def state(self, scope: _Scope, site: StateSite) -> None:
        name, state, path = site.name, site.spec, site.path
        problem = asl.state_name_problem(name)
        if problem:
            self.report(path, "INVALID_STATE_NAME", problem, name)
        if name in self.seen_names:
            self.report(path, "DUPLICATE_STATE_NAME",
                        f"Duplicate State name: '{name}' (also at {self.seen_names[name]})", name)
        else:
            self.seen_names[name] = path
        if not isinstance(state, dict):
            self.schema(path, f"A state must be an object, not {asl.type_name(state)}", name, None)
            return
        kind = state.get("Type")
        if kind not in asl.STATE_TYPES:
            self.schema(join_path(path, "Type"), f"Type must be one of {', '.join(asl.STATE_TYPES)}"
                        if "Type" in state else "These fields are required: [Type]", name, "Type")
            return
        language = self.language(site)
        check = _State(self, scope, site, language)
        self.unknown_fields(state, asl.STATE_FIELDS[kind], path, name, f"for a {kind} state")
        for field in asl.REQUIRED_FIELDS.get(kind, ()):
            if field not in state:
                self.schema(join_path(path, field), f"These fields are required: [{field}]", name, field)
        check.query_language_fields(state, path)
        check.common()
        getattr(check, f"check_{kind.lower()}")()

    def language(self, site: StateSite) -> str:
        """The state's query language (the walk's: its own, or the one its machine inherits); reports a bad one."""
        language = site.spec.get("QueryLanguage", site.language)
        if language not in asl.QUERY_LANGUAGES:
            self.schema(join_path(site.path, "QueryLanguage"),
                        f"QueryLanguage must be one of {', '.join(asl.QUERY_LANGUAGES)}", site.name, "QueryLanguage")
        elif self.default_language == asl.JSONATA and language == asl.JSONPATH:
            self.report(join_path(site.path, "QueryLanguage"), "QUERY_LANGUAGE_MISMATCH",
                        "A state cannot use JSONPath when the state machine's QueryLanguage is JSONata", site.name,
                        "QueryLanguage")
        return site.language

    # ------------------------------------------------------------------------------------ value kinds
    def string_field(self, obj: dict[str, Any], key: str, path: str, state: str | None) -> None:
        if key in obj and not isinstance(obj[key], str):
            self.schema(join_path(path, key), f"'{key}' must be a string, not {asl.type_name(obj[key])}", state, key)

    def positive_int(self, value: Any, path: str, state: str | None, field: str, *, minimum: int = 1,
                     maximum: int | None = None) -> bool:
        if not asl.is_int(value) or value < minimum or (maximum is not None and value > maximum):
            bound = f" and at most {maximum}" if maximum is not None else ""
            self.schema(path, f"'{field}' must be an integer of at least {minimum}{bound}, not {value!r}", state,
                        field)
            return False
        return True

    def path_value(self, value: Any, path: str, state: str | None, field: str, *, reference: bool = False,
                   nullable: bool = False, input_only: bool = False) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, str):
            self.schema(path, f"'{field}' must be a path string, not {asl.type_name(value)}", state, field)
            return
        try:
            compiled = compile_reference_path(value) if reference else compile_path(value)
        except PathSyntaxError as exc:
            kind = "reference path" if reference else "JSONPath"
            self.report(path, "INVALID_PATH", f"The value for the field '{field}' must be a valid {kind}: "
                        f"{exc.reason}", state, field)
            return
        if input_only and compiled.root != "$":
            self.report(path, "INVALID_PATH", f"'{field}' must start with '$.' (not a context or variable path)",
                        state, field)

    def path_or_intrinsic(self, value: Any, path: str, state: str | None, field: str, *,
                          intrinsics: frozenset[str] = FUNCTION_NAMES) -> None:
        """A ``.$`` value: a path, or a call to one of ``intrinsics``."""
        if isinstance(value, str) and is_intrinsic(value):
            try:
                call = parse_intrinsic(value)
            except IntrinsicSyntaxError as exc:
                self.report(path, "INVALID_INTRINSIC", f"Invalid intrinsic function in '{field}': {exc.reason} "
                            f"(at character {exc.position})", state, field)
                return
            if call.name not in intrinsics:
                allowed = ", ".join(f"States.{name}" for name in sorted(intrinsics))
                self.report(path, "INVALID_INTRINSIC", f"'{field}' cannot use {call.function}; allowed: {allowed}",
                            state, field)
                return
            for argument in call.paths():
                self.path_value(argument, path, state, field)
            return
        self.path_value(value, path, state, field)

    def jsonata(self, value: Any, path: str, state: str | None, field: str) -> bool:
        """Check a ``{% %}`` string; returns whether ``value`` was one."""
        if not is_jsonata(value):
            return False
        try:
            compile_jsonata(value)
        except JsonataSyntaxError as exc:
            self.report(path, "INVALID_JSONATA", f"Invalid JSONata expression in '{field}': {exc}", state, field)
        return True

    def template(self, value: Any, path: str, state: str | None, field: str, language: str) -> None:
        """A payload template (JSONPath: ``key.$`` entries) or a JSONata value (``{% %}`` anywhere)."""
        if language == asl.JSONATA:
            self.jsonata_value(value, path, state, field)
            return
        if isinstance(value, dict):
            for key, item in value.items():
                item_path = join_path(path, key)
                if isinstance(key, str) and key.endswith(".$"):
                    if not isinstance(item, str):
                        self.schema(item_path, f"The value of '{key}' must be a path or an intrinsic function, "
                                    f"not {asl.type_name(item)}", state, field)
                    else:
                        self.path_or_intrinsic(item, item_path, state, field)
                else:
                    self.template(item, item_path, state, field, language)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.template(item, join_path(path, index), state, field, language)

    def jsonata_value(self, value: Any, path: str, state: str | None, field: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self.jsonata_value(item, join_path(path, key), state, field)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.jsonata_value(item, join_path(path, index), state, field)
        else:
            self.jsonata(value, path, state, field)

    def assign(self, value: Any, path: str, state: str | None, language: str) -> None:
        if not isinstance(value, dict):
            self.schema(path, f"'Assign' must be an object, not {asl.type_name(value)}", state, "Assign")
            return
        for key in value:
            name = key[:-2] if language == asl.JSONPATH and key.endswith(".$") else key
            problem = asl.variable_name_problem(name)
            if problem:
                self.report(join_path(path, key), "INVALID_VARIABLE_NAME", f"Variable name '{name}' {problem}", state,
                            "Assign")
        self.template(value, path, state, "Assign", language)

    def resource(self, value: Any, path: str, state: str | None, *, services: tuple[str, ...] = ()) -> None:
        if not isinstance(value, str):
            self.schema(path, f"'Resource' must be an ARN string, not {asl.type_name(value)}", state, "Resource")
            return
        problem = asl.resource_problem(value, services=services)
        if problem:
            self.report(path, "INVALID_RESOURCE", problem, state, "Resource")

    def error_names(self, retrier: dict[str, Any], path: str, state: str, is_last: bool, what: str) -> None:
        names = retrier.get("ErrorEquals")
        names_path = join_path(path, "ErrorEquals")
        if names is None:
            self.schema(names_path, "These fields are required: [ErrorEquals]", state, "ErrorEquals")
            return
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            self.schema(names_path, "'ErrorEquals' must be a non-empty array of error names", state, "ErrorEquals")
            return
        for index, name in enumerate(names):
            if name.startswith("States.") and name not in asl.RESERVED_ERRORS:
                self.report(join_path(names_path, index), "INVALID_ERROR_NAME",
                            f"'{name}' is not a States error name; custom names must not start with 'States.'",
                            state, "ErrorEquals")
        if "States.ALL" in names:
            if len(names) != 1:
                self.report(names_path, "INVALID_ERROR_NAME", "States.ALL must appear alone in ErrorEquals", state,
                            "ErrorEquals")
            if not is_last:
                self.report(names_path, "INVALID_ERROR_NAME", f"A {what} with States.ALL must be the last one",
                            state, "ErrorEquals")


_RULE_JSONPATH = frozenset({"Variable", *asl.COMPARISON_OPERATORS, *asl.BOOLEAN_OPERATORS})
_RULE_JSONATA = frozenset({"Condition", "Output"})


class _State:
    """The checks of one state; ``check_<type>`` holds what is specific to each state type."""

    def __init__(self, validator: _Validator, scope: _Scope, site: StateSite, language: str) -> None:
        self.v = validator
        self.scope = scope
        self.site = site
        self.name = site.name
        self.state: dict[str, Any] = site.spec
        self.path = site.path
        self.language = language
        self.jsonata_mode = language == asl.JSONATA

    def at(self, *keys: str | int) -> str:
        path = self.path
        for key in keys:
            path = join_path(path, key)
        return path

    def schema(self, path: str, message: str, field: str) -> None:
        self.v.schema(path, message, self.name, field)

    def query_language_fields(self, obj: dict[str, Any], path: str) -> None:
        wrong = asl.JSONPATH_ONLY if self.jsonata_mode else asl.JSONATA_ONLY
        for key in obj:
            if key in wrong:
                self.v.report(join_path(path, key), "QUERY_LANGUAGE_MISMATCH",
                              f"The field '{key}' is not supported when the query language is {self.language}",
                              self.name, key)

    def exclusive(self, obj: dict[str, Any], path: str, *keys: str) -> None:
        present = [key for key in keys if key in obj]
        if len(present) > 1:
            self.schema(join_path(path, present[1]), f"Only one of {', '.join(keys)} may be given", present[1])

    def target(self, value: Any, path: str, field: str) -> None:
        if not isinstance(value, str):
            self.schema(path, f"'{field}' must be a state name, not {asl.type_name(value)}", field)
        elif value not in self.scope.states:
            self.v.report(path, "MISSING_TRANSITION_TARGET", f"Missing '{field}' target: '{value}'", self.name,
                          field)

    def integer(self, obj: dict[str, Any], key: str, path: str, *, minimum: int, maximum: int | None = None,
                expression: bool = True) -> None:
        """An integer field, or in JSONata mode (where ``expression`` says the field takes one) a ``{% %}``
        expression producing one."""
        if key not in obj:
            return
        value = obj[key]
        if expression and self.jsonata_mode and self.v.jsonata(value, join_path(path, key), self.name, key):
            return
        self.v.positive_int(value, join_path(path, key), self.name, key, minimum=minimum, maximum=maximum)

    def reference(self, obj: dict[str, Any], key: str, path: str) -> None:
        if key in obj:
            self.v.path_value(obj[key], join_path(path, key), self.name, key, reference=True)

    def enum(self, obj: dict[str, Any], key: str, path: str, choices: tuple[str, ...]) -> None:
        if key in obj and obj[key] not in choices:
            self.schema(join_path(path, key), f"'{key}' must be one of {', '.join(choices)}, not {obj[key]!r}", key)

    def template(self, obj: dict[str, Any], key: str, path: str, *, must_be_object: bool = True) -> None:
        if key not in obj:
            return
        value = obj[key]
        if must_be_object and not isinstance(value, dict) and not (self.jsonata_mode and is_jsonata(value)):
            self.schema(join_path(path, key), f"'{key}' must be an object, not {asl.type_name(value)}", key)
            return
        self.v.template(value, join_path(path, key), self.name, key, self.language)

    # ------------------------------------------------------------------------------------------ common
    def common(self) -> None:
        state, kind = self.state, self.state["Type"]
        self.v.string_field(state, "Comment", self.path, self.name)
        if "Next" in asl.STATE_FIELDS[kind]:
            self.flow()
        for key in ("InputPath", "OutputPath"):
            if key in state:
                self.v.path_value(state[key], self.at(key), self.name, key, nullable=True)
        if "ResultPath" in state:
            self.v.path_value(state["ResultPath"], self.at("ResultPath"), self.name, "ResultPath", reference=True,
                              nullable=True, input_only=True)
        self.template(state, "Parameters", self.path, must_be_object=kind != "Pass")
        self.template(state, "ResultSelector", self.path)
        self.template(state, "Arguments", self.path)
        if "Output" in state:
            self.v.jsonata_value(state["Output"], self.at("Output"), self.name, "Output")
        if "Assign" in state:
            self.v.assign(state["Assign"], self.at("Assign"), self.name, self.language)

    def flow(self) -> None:
        state = self.state
        end = state.get("End")
        if "End" in state and not isinstance(end, bool):
            self.schema(self.at("End"), f"'End' must be a boolean, not {asl.type_name(end)}", "End")
        if "Next" in state:
            if end is True:
                self.schema(self.at("End"), "A state cannot have both 'Next' and 'End': true", "End")
            self.target(state["Next"], self.at("Next"), "Next")
        elif end is not True:
            self.schema(self.path, "These fields are required: [Next] or [End]", "Next")

    def retry_and_catch(self) -> None:
        for key, allowed, what in (("Retry", asl.RETRIER_FIELDS, "retrier"), ("Catch", asl.CATCHER_FIELDS, "catcher")):
            if key not in self.state:
                continue
            items = self.state[key]
            if not isinstance(items, list):
                self.schema(self.at(key), f"'{key}' must be an array of {what}s", key)
                continue
            for index, item in enumerate(items):
                path = self.at(key, index)
                if not isinstance(item, dict):
                    self.schema(path, f"A {what} must be an object", key)
                    continue
                self.v.unknown_fields(item, allowed, path, self.name, f"in a {what}")
                self.v.error_names(item, path, self.name, index == len(items) - 1, what)
                if key == "Retry":
                    self.retrier(item, path)
                else:
                    self.catcher(item, path)

    def retrier(self, retrier: dict[str, Any], path: str) -> None:
        # Retriers are static in both query languages: AWS evaluates no JSONata in them.
        self.integer(retrier, "IntervalSeconds", path, minimum=1, maximum=asl.MAX_TIMEOUT_SECONDS, expression=False)
        self.integer(retrier, "MaxAttempts", path, minimum=0, maximum=asl.MAX_TIMEOUT_SECONDS, expression=False)
        self.integer(retrier, "MaxDelaySeconds", path, minimum=1, maximum=asl.MAX_DELAY_SECONDS - 1, expression=False)
        rate = retrier.get("BackoffRate", 2.0)
        if not asl.is_number(rate) or rate < 1.0:
            self.schema(join_path(path, "BackoffRate"), f"'BackoffRate' must be a number of at least 1.0, not {rate!r}",
                        "BackoffRate")
        self.enum(retrier, "JitterStrategy", path, asl.JITTER_STRATEGIES)

    def catcher(self, catcher: dict[str, Any], path: str) -> None:
        self.query_language_fields(catcher, path)
        if "Next" not in catcher:
            self.schema(join_path(path, "Next"), "These fields are required: [Next]", "Next")
        else:
            self.target(catcher["Next"], join_path(path, "Next"), "Next")
        if "ResultPath" in catcher:
            self.v.path_value(catcher["ResultPath"], join_path(path, "ResultPath"), self.name, "ResultPath",
                              reference=True, nullable=True, input_only=True)
        if "Output" in catcher:
            self.v.jsonata_value(catcher["Output"], join_path(path, "Output"), self.name, "Output")
        if "Assign" in catcher:
            self.v.assign(catcher["Assign"], join_path(path, "Assign"), self.name, self.language)

    # ----------------------------------------------------------------------------------- state types
    def check_pass(self) -> None:
        """Pass: ``Result`` is any JSON value; the common fields cover the rest."""

    def check_succeed(self) -> None:
        """Succeed: only the common fields."""

    def check_task(self) -> None:
        state = self.state
        if "Resource" in state:
            self.v.resource(state["Resource"], self.at("Resource"), self.name)
        self.exclusive(state, self.path, "TimeoutSeconds", "TimeoutSecondsPath")
        self.exclusive(state, self.path, "HeartbeatSeconds", "HeartbeatSecondsPath")
        self.integer(state, "TimeoutSeconds", self.path, minimum=1, maximum=asl.MAX_TIMEOUT_SECONDS)
        self.integer(state, "HeartbeatSeconds", self.path, minimum=1, maximum=asl.MAX_TIMEOUT_SECONDS)
        self.reference(state, "TimeoutSecondsPath", self.path)
        self.reference(state, "HeartbeatSecondsPath", self.path)
        timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
        if asl.is_int(timeout) and asl.is_int(heartbeat) and heartbeat >= timeout:
            self.schema(self.at("HeartbeatSeconds"), "'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'",
                        "HeartbeatSeconds")
        if "Credentials" in state:
            credentials = state["Credentials"]
            if not isinstance(credentials, dict):
                self.schema(self.at("Credentials"), "'Credentials' must be an object", "Credentials")
            else:
                allowed = {"RoleArn"} if self.jsonata_mode else {"RoleArn", "RoleArn.$"}
                self.v.unknown_fields(credentials, allowed, self.at("Credentials"), self.name, "in Credentials")
                if len(set(credentials) & allowed) != 1:
                    self.schema(self.at("Credentials"), "'Credentials' needs exactly one of RoleArn, RoleArn.$",
                                "Credentials")
                self.template(state, "Credentials", self.path)
        self.retry_and_catch()

    def check_choice(self) -> None:
        state = self.state
        choices = state.get("Choices")
        if "Choices" in state:
            if not isinstance(choices, list) or not choices:
                self.v.report(self.at("Choices"), "INVALID_CHOICE_RULE",
                              "'Choices' must be a non-empty array of rules", self.name, "Choices")
            else:
                for index, rule in enumerate(choices):
                    self.rule(rule, self.at("Choices", index), top=True)
        if "Default" in state:
            self.target(state["Default"], self.at("Default"), "Default")

    def rule(self, rule: Any, path: str, *, top: bool) -> None:
        if not isinstance(rule, dict):
            self.v.report(path, "INVALID_CHOICE_RULE", "A Choice rule must be an object", self.name, "Choices")
            return
        if top:
            if "Next" not in rule:
                self.v.report(join_path(path, "Next"), "INVALID_CHOICE_RULE", "A top-level Choice rule needs 'Next'",
                              self.name, "Next")
            else:
                self.target(rule["Next"], join_path(path, "Next"), "Next")
            if "Assign" in rule:
                self.v.assign(rule["Assign"], join_path(path, "Assign"), self.name, self.language)
            if "Output" in rule:
                self.v.jsonata_value(rule["Output"], join_path(path, "Output"), self.name, "Output")
        wrong = _RULE_JSONPATH if self.jsonata_mode else _RULE_JSONATA
        for key in rule:
            if key in wrong:
                self.v.report(join_path(path, key), "QUERY_LANGUAGE_MISMATCH",
                              f"'{key}' is not supported in a Choice rule when the query language is {self.language}",
                              self.name, key)
        if self.jsonata_mode:
            self.jsonata_rule(rule, path, top)
        else:
            self.jsonpath_rule(rule, path, top)

    def jsonata_rule(self, rule: dict[str, Any], path: str, top: bool) -> None:
        allowed = {"Condition", "Next", "Assign", "Output", "Comment"} if top else {"Condition", "Comment"}
        self.v.unknown_fields(rule, allowed | _RULE_JSONPATH, path, self.name, "in a JSONata Choice rule")
        if "Condition" not in rule:
            self.v.report(join_path(path, "Condition"), "INVALID_CHOICE_RULE",
                          "A JSONata Choice rule needs 'Condition'", self.name, "Condition")
            return
        condition = rule["Condition"]
        if not isinstance(condition, bool) and not self.v.jsonata(condition, join_path(path, "Condition"), self.name,
                                                                  "Condition"):
            self.v.report(join_path(path, "Condition"), "INVALID_CHOICE_RULE",
                          "'Condition' must be a boolean or a {% %} expression", self.name, "Condition")

    def jsonpath_rule(self, rule: dict[str, Any], path: str, top: bool) -> None:
        allowed = {"Variable", "Comment", *asl.COMPARISON_OPERATORS, *asl.BOOLEAN_OPERATORS}
        if top:
            allowed |= {"Next", "Assign"}
        self.v.unknown_fields(rule, allowed | _RULE_JSONATA, path, self.name,
                              "in a Choice rule" if top else "in a nested Choice rule")
        operators = [key for key in rule if key in asl.COMPARISON_OPERATORS or key in asl.BOOLEAN_OPERATORS]
        if len(operators) != 1:
            found = ", ".join(operators) if operators else "none"
            self.v.report(path, "INVALID_CHOICE_RULE",
                          f"A Choice rule needs exactly one comparison operator or And/Or/Not (found: {found})",
                          self.name, "Choices")
            return
        (operator,) = operators
        value, value_path = rule[operator], join_path(path, operator)
        if operator in asl.BOOLEAN_OPERATORS:
            if "Variable" in rule:
                self.v.report(join_path(path, "Variable"), "INVALID_CHOICE_RULE",
                              f"'Variable' is not allowed beside '{operator}'", self.name, "Variable")
            if operator == "Not":
                self.rule(value, value_path, top=False)
            elif not isinstance(value, list) or not value:
                self.v.report(value_path, "INVALID_CHOICE_RULE", f"'{operator}' must be a non-empty array of rules",
                              self.name, operator)
            else:
                for index, sub_rule in enumerate(value):
                    self.rule(sub_rule, join_path(value_path, index), top=False)
            return
        if "Variable" not in rule:
            self.v.report(join_path(path, "Variable"), "INVALID_CHOICE_RULE",
                          f"A '{operator}' comparison needs 'Variable'", self.name, "Variable")
        else:
            self.v.path_value(rule["Variable"], join_path(path, "Variable"), self.name, "Variable")
        self.comparison_value(operator, value, value_path)

    def comparison_value(self, operator: str, value: Any, path: str) -> None:
        kind = asl.COMPARISON_OPERATORS[operator]
        if kind == "path":
            self.v.path_value(value, path, self.name, operator)
            return
        valid = {
            "string": isinstance(value, str),
            "number": asl.is_number(value),
            "boolean": isinstance(value, bool),
            "timestamp": asl.is_timestamp(value),
        }[kind]
        if not valid:
            expected = "an RFC 3339 timestamp" if kind == "timestamp" else f"a {kind}"
            self.v.report(path, "INVALID_CHOICE_RULE", f"'{operator}' must be {expected}, not {value!r}", self.name,
                          operator)

    def check_wait(self) -> None:
        state = self.state
        keys = [key for key in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if key in state]
        if len(keys) != 1:
            self.schema(self.path, "A Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath"
                        f" (found: {', '.join(keys) or 'none'})", keys[1] if len(keys) > 1 else "Seconds")
        self.integer(state, "Seconds", self.path, minimum=0, maximum=asl.MAX_TIMEOUT_SECONDS)
        if "Timestamp" in state:
            value = state["Timestamp"]
            if not (self.jsonata_mode and self.v.jsonata(value, self.at("Timestamp"), self.name, "Timestamp")) \
                    and not asl.is_timestamp(value):
                self.schema(self.at("Timestamp"), f"'Timestamp' must be an RFC 3339 timestamp, not {value!r}",
                            "Timestamp")
        self.reference(state, "SecondsPath", self.path)
        self.reference(state, "TimestampPath", self.path)

    def check_fail(self) -> None:
        state = self.state
        self.exclusive(state, self.path, "Error", "ErrorPath")
        self.exclusive(state, self.path, "Cause", "CausePath")
        for key in ("Error", "Cause"):
            if key in state and not (self.jsonata_mode and self.v.jsonata(state[key], self.at(key), self.name, key)):
                self.v.string_field(state, key, self.path, self.name)
        for key in ("ErrorPath", "CausePath"):
            if key in state:
                self.v.path_or_intrinsic(state[key], self.at(key), self.name, key,
                                         intrinsics=asl.FAIL_PATH_INTRINSICS)

    def check_parallel(self) -> None:
        branches = self.state.get("Branches")
        if "Branches" in self.state:
            if not isinstance(branches, list) or not branches:
                self.schema(self.at("Branches"), "'Branches' must be a non-empty array of state machines", "Branches")
            else:
                for branch in asl.nested_machines(self.site):
                    self.nested(branch, asl.BRANCH_FIELDS, "in a Parallel branch")
        self.retry_and_catch()

    def nested(self, machine: MachineSite, allowed: frozenset[str], what: str) -> None:
        path = machine.path
        if not isinstance(machine.spec, dict):
            self.schema(path, f"Expected a state machine object, not {asl.type_name(machine.spec)}",
                        path.rsplit(".", 1)[-1])
            return
        self.v.unknown_fields(machine.spec, allowed, path, self.name, what)
        self.v.sub_machine(machine)

    def check_map(self) -> None:
        state = self.state
        processors = [key for key in ("ItemProcessor", "Iterator") if key in state]
        if len(processors) != 1:
            self.schema(self.at("ItemProcessor"), "A Map state needs exactly one of ItemProcessor, Iterator",
                        "ItemProcessor")
        mode: Any = "INLINE"
        for key, machine in zip(processors, asl.nested_machines(self.site), strict=True):
            processor = machine.spec
            self.nested(machine, asl.PROCESSOR_FIELDS, f"in {key}")
            config = processor.get("ProcessorConfig") if isinstance(processor, dict) else None
            if isinstance(config, dict):
                config_path = self.at(key, "ProcessorConfig")
                self.v.unknown_fields(config, {"Mode", "ExecutionType"}, config_path, self.name, "in ProcessorConfig")
                self.enum(config, "Mode", config_path, asl.PROCESSOR_MODES)
                self.enum(config, "ExecutionType", config_path, asl.EXECUTION_TYPES)
                mode = config.get("Mode", mode)
                if mode == "DISTRIBUTED" and "ExecutionType" not in config:
                    self.schema(join_path(config_path, "ExecutionType"),
                                "A DISTRIBUTED Map needs ProcessorConfig.ExecutionType", "ExecutionType")
            elif config is not None:
                self.schema(self.at(key, "ProcessorConfig"), "'ProcessorConfig' must be an object", "ProcessorConfig")
        if mode != "DISTRIBUTED":
            for field in asl.DISTRIBUTED_ONLY:
                if field in state:
                    self.schema(self.at(field), f"'{field}' is only supported by a DISTRIBUTED Map", field)
        if "ItemsPath" in state:
            self.v.path_value(state["ItemsPath"], self.at("ItemsPath"), self.name, "ItemsPath")
        if "Items" in state:
            items = state["Items"]
            if not isinstance(items, list) and not self.v.jsonata(items, self.at("Items"), self.name, "Items"):
                self.schema(self.at("Items"), "'Items' must be an array or a {% %} expression", "Items")
            elif isinstance(items, list):
                self.v.jsonata_value(items, self.at("Items"), self.name, "Items")
        self.exclusive(state, self.path, "ItemSelector", "Parameters")
        self.template(state, "ItemSelector", self.path)
        self.exclusive(state, self.path, "MaxConcurrency", "MaxConcurrencyPath")
        self.integer(state, "MaxConcurrency", self.path, minimum=0)
        self.reference(state, "MaxConcurrencyPath", self.path)
        self.tolerated_failures()
        if "Label" in state:
            problem = asl.name_problem(state["Label"], limit=asl.MAX_LABEL)
            if problem:
                self.schema(self.at("Label"), f"Invalid Label: {problem}", "Label")
        self.item_reader()
        self.item_batcher()
        self.result_writer()
        self.retry_and_catch()

    def tolerated_failures(self) -> None:
        state = self.state
        self.exclusive(state, self.path, "ToleratedFailureCount", "ToleratedFailureCountPath")
        self.exclusive(state, self.path, "ToleratedFailurePercentage", "ToleratedFailurePercentagePath")
        self.integer(state, "ToleratedFailureCount", self.path, minimum=0)
        if "ToleratedFailurePercentage" in state:
            value = state["ToleratedFailurePercentage"]
            path = self.at("ToleratedFailurePercentage")
            if not (self.jsonata_mode and self.v.jsonata(value, path, self.name, "ToleratedFailurePercentage")) and (
                    not asl.is_number(value) or not 0 <= value <= 100):
                self.schema(path, "ToleratedFailurePercentage must be between 0 and 100.", "ToleratedFailurePercentage")
        self.reference(state, "ToleratedFailureCountPath", self.path)
        self.reference(state, "ToleratedFailurePercentagePath", self.path)

    def sub_object(self, key: str, allowed: frozenset[str]) -> dict[str, Any] | None:
        if key not in self.state:
            return None
        value = self.state[key]
        if not isinstance(value, dict):
            self.schema(self.at(key), f"'{key}' must be an object", key)
            return None
        self.v.unknown_fields(value, allowed, self.at(key), self.name, f"in {key}")
        self.query_language_fields(value, self.at(key))
        self.template(value, "Parameters", self.at(key))
        self.template(value, "Arguments", self.at(key))
        return value

    def item_reader(self) -> None:
        reader = self.sub_object("ItemReader", asl.ITEM_READER_FIELDS)
        if reader is None:
            return
        path = self.at("ItemReader")
        if "Resource" not in reader:
            self.schema(join_path(path, "Resource"), "These fields are required: [Resource]", "Resource")
        else:
            self.v.resource(reader["Resource"], join_path(path, "Resource"), self.name,
                            services=asl.ITEM_READER_RESOURCES)
        config = reader.get("ReaderConfig")
        if config is None:
            return
        config_path = join_path(path, "ReaderConfig")
        if not isinstance(config, dict):
            self.schema(config_path, "'ReaderConfig' must be an object", "ReaderConfig")
            return
        self.v.unknown_fields(config, asl.READER_CONFIG_FIELDS, config_path, self.name, "in ReaderConfig")
        self.query_language_fields(config, config_path)
        self.enum(config, "InputType", config_path, asl.READER_INPUT_TYPES)
        self.enum(config, "CSVHeaderLocation", config_path, asl.CSV_HEADER_LOCATIONS)
        self.enum(config, "CSVDelimiter", config_path, asl.CSV_DELIMITERS)
        headers = config.get("CSVHeaders")
        if headers is not None and (not isinstance(headers, list) or not all(isinstance(h, str) for h in headers)):
            self.schema(join_path(config_path, "CSVHeaders"), "'CSVHeaders' must be an array of strings", "CSVHeaders")
        if config.get("CSVHeaderLocation") == "GIVEN" and headers is None:
            self.schema(join_path(config_path, "CSVHeaders"), "CSVHeaderLocation GIVEN needs CSVHeaders", "CSVHeaders")
        self.exclusive(config, config_path, "MaxItems", "MaxItemsPath")
        self.integer(config, "MaxItems", config_path, minimum=0, maximum=100_000_000)
        self.reference(config, "MaxItemsPath", config_path)

    def item_batcher(self) -> None:
        batcher = self.sub_object("ItemBatcher", asl.ITEM_BATCHER_FIELDS)
        if batcher is None:
            return
        path = self.at("ItemBatcher")
        if not set(batcher) & (asl.ITEM_BATCHER_FIELDS - {"BatchInput"}):
            self.schema(path, "ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch (or their Path forms)",
                        "ItemBatcher")
        self.exclusive(batcher, path, "MaxItemsPerBatch", "MaxItemsPerBatchPath")
        self.exclusive(batcher, path, "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath")
        self.integer(batcher, "MaxItemsPerBatch", path, minimum=1)
        self.integer(batcher, "MaxInputBytesPerBatch", path, minimum=1, maximum=asl.MAX_INPUT_BYTES_PER_BATCH)
        self.reference(batcher, "MaxItemsPerBatchPath", path)
        self.reference(batcher, "MaxInputBytesPerBatchPath", path)
        self.template(batcher, "BatchInput", path)

    def result_writer(self) -> None:
        writer = self.sub_object("ResultWriter", asl.RESULT_WRITER_FIELDS)
        if writer is None:
            return
        path = self.at("ResultWriter")
        if "Resource" in writer:
            self.v.resource(writer["Resource"], join_path(path, "Resource"), self.name,
                            services=asl.RESULT_WRITER_RESOURCES)
        elif "WriterConfig" not in writer:
            self.schema(join_path(path, "Resource"), "ResultWriter needs Resource or WriterConfig", "Resource")
        config = writer.get("WriterConfig")
        if config is not None:
            config_path = join_path(path, "WriterConfig")
            if not isinstance(config, dict):
                self.schema(config_path, "'WriterConfig' must be an object", "WriterConfig")
                return
            self.v.unknown_fields(config, asl.WRITER_CONFIG_FIELDS, config_path, self.name, "in WriterConfig")
            self.enum(config, "OutputType", config_path, asl.WRITER_OUTPUT_TYPES)
            self.enum(config, "Transformation", config_path, asl.WRITER_TRANSFORMATIONS)


__all__ = ["check_definition", "unrunnable_problems", "validate_definition"]
