"""What a state machine definition may contain: loading it from JSON, and the field tables per state type.

Spec: docs/design/asl-engines.md §5.1-§5.2 (states-language.net plus the AWS developer guide). The tables are data so
that the validator (:mod:`stepfn.asl.validate`) stays a walk over them; each ASL key is spelled once here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

from stepfn.errors import DefinitionError

JSONPATH = "JSONPath"
JSONATA = "JSONata"
QUERY_LANGUAGES = (JSONPATH, JSONATA)

MAX_DEFINITION_BYTES = 1024 * 1024
MAX_STATE_NAME = 80
MAX_RESOURCE_NAME = 80
MAX_LABEL = 40
MAX_TIMEOUT_SECONDS = 99_999_999
MAX_DELAY_SECONDS = 31_622_400
MAX_INPUT_BYTES_PER_BATCH = 256 * 1024

DIAGNOSTIC_CODES: dict[str, str] = {
    # AWS's own codes where it has one (ValidateStateMachineDefinition / InvalidDefinition messages).
    "INVALID_JSON_DESCRIPTION": "not JSON, not an object, or larger than 1 MiB",
    "SCHEMA_VALIDATION_FAILED": "a field is missing, unknown for the state type, of the wrong type or out of range",
    "MISSING_TRANSITION_TARGET": "StartAt, Next or Default names no state of the same (sub)machine",
    "UNREACHABLE_STATE": "no transition leads to the state",
    "DUPLICATE_STATE_NAME": "a state name is used twice anywhere in the definition (branches included)",
    "NO_TERMINAL_STATE": "a (sub)machine has no reachable End, Succeed or Fail state",
    "INVALID_STATE_NAME": "a state name is empty, longer than 80 characters or has control characters",
    "QUERY_LANGUAGE_MISMATCH": "a JSONPath-only field in a JSONata state or the reverse, or a JSONata->JSONPath downgrade",
    "INVALID_PATH": "a path or reference path does not parse, or points where it may not",
    "INVALID_INTRINSIC": "an intrinsic function call does not parse, or stands where intrinsics are not allowed",
    "INVALID_JSONATA": "a {% %} expression does not parse",
    "INVALID_CHOICE_RULE": "a Choice rule has no comparison, several, or the wrong fields",
    "INVALID_ERROR_NAME": "States.ALL not alone or not last, or an unknown States.* error name",
    "INVALID_VARIABLE_NAME": "an Assign target is not a valid variable name",
    "INVALID_RESOURCE": "a Task, ItemReader or ResultWriter Resource is not an ARN (e.g. a __tbd__ stand-in)",
}

STATE_TYPES = ("Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
TERMINAL_TYPES = ("Succeed", "Fail")

TOP_LEVEL_FIELDS = frozenset({"Comment", "StartAt", "States", "TimeoutSeconds", "Version", "QueryLanguage"})
BRANCH_FIELDS = frozenset({"Comment", "StartAt", "States"})
PROCESSOR_FIELDS = frozenset({"Comment", "StartAt", "States", "ProcessorConfig"})

_COMMON = frozenset({"Type", "Comment", "QueryLanguage"})
_FLOW = frozenset({"Next", "End"})
_IO_JSONPATH = frozenset({"InputPath", "OutputPath"})
_RESULT_JSONPATH = frozenset({"Parameters", "ResultSelector", "ResultPath"})

# Every field a state type accepts in either query language; the language split is below.
STATE_FIELDS: dict[str, frozenset[str]] = {
    "Pass": _COMMON | _FLOW | _IO_JSONPATH | {"Parameters", "ResultPath", "Result", "Output", "Assign"},
    "Task": _COMMON | _FLOW | _IO_JSONPATH | _RESULT_JSONPATH | {
        "Resource", "Arguments", "Output", "Assign", "Retry", "Catch", "TimeoutSeconds", "TimeoutSecondsPath",
        "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials",
    },
    "Choice": _COMMON | _IO_JSONPATH | {"Choices", "Default", "Output", "Assign"},
    "Wait": _COMMON | _FLOW | _IO_JSONPATH | {"Seconds", "Timestamp", "SecondsPath", "TimestampPath", "Output", "Assign"},
    "Succeed": _COMMON | _IO_JSONPATH | {"Output"},
    "Fail": _COMMON | {"Error", "Cause", "ErrorPath", "CausePath"},
    "Parallel": _COMMON | _FLOW | _IO_JSONPATH | _RESULT_JSONPATH | {"Branches", "Arguments", "Output", "Assign",
                                                                      "Retry", "Catch"},
    "Map": _COMMON | _FLOW | _IO_JSONPATH | _RESULT_JSONPATH | {
        "Iterator", "ItemProcessor", "ItemsPath", "Items", "ItemSelector", "MaxConcurrency", "MaxConcurrencyPath",
        "ItemReader", "ItemBatcher", "ResultWriter", "ToleratedFailureCount", "ToleratedFailureCountPath",
        "ToleratedFailurePercentage", "ToleratedFailurePercentagePath", "Label", "Output", "Assign", "Retry",
        "Catch",
    },
}
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "Task": ("Resource",),
    "Choice": ("Choices",),
    "Parallel": ("Branches",),
}

# Fields that exist in only one query language (AWS rejects them in the other).
JSONPATH_ONLY = frozenset({
    "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "ItemsPath", "TimeoutSecondsPath",
    "HeartbeatSecondsPath", "SecondsPath", "TimestampPath", "MaxConcurrencyPath", "ToleratedFailureCountPath",
    "ToleratedFailurePercentagePath", "ErrorPath", "CausePath", "MaxItemsPath", "MaxItemsPerBatchPath",
    "MaxInputBytesPerBatchPath",
})
JSONATA_ONLY = frozenset({"Arguments", "Output", "Items", "Condition"})

COMPARISON_OPERATORS: dict[str, str] = {
    # operator -> the kind of value it takes
    **{f"String{op}": "string" for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")},
    **{f"Numeric{op}": "number" for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")},
    **{f"Timestamp{op}": "timestamp"
       for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")},
    "BooleanEquals": "boolean",
    "StringMatches": "string",
    **{name: "boolean" for name in ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")},
}
COMPARISON_OPERATORS.update({
    f"{name}Path": "path"
    for name in list(COMPARISON_OPERATORS)
    if name.startswith(("String", "Numeric", "Timestamp", "Boolean")) and name != "StringMatches"
})
BOOLEAN_OPERATORS = ("And", "Or", "Not")

RESERVED_ERRORS = frozenset({
    "States.ALL", "States.DataLimitExceeded", "States.HeartbeatTimeout", "States.Timeout", "States.TaskFailed",
    "States.Permissions", "States.ResultPathMatchFailure", "States.ParameterPathFailure", "States.BranchFailed",
    "States.NoChoiceMatched", "States.IntrinsicFailure", "States.ExceedToleratedFailureThreshold",
    "States.ItemReaderFailed", "States.ResultWriterFailed", "States.QueryEvaluationError", "States.Runtime",
    "States.Http.Socket",
})

# A Fail state's ErrorPath/CausePath may call only the intrinsics that yield a string (AWS developer guide, Fail).
FAIL_PATH_INTRINSICS = frozenset({"Format", "JsonToString", "ArrayGetItem", "Base64Encode", "Base64Decode", "Hash",
                                  "UUID"})

RETRIER_FIELDS = frozenset({
    "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment",
})
CATCHER_FIELDS = frozenset({"ErrorEquals", "Next", "ResultPath", "Output", "Assign", "Comment"})
JITTER_STRATEGIES = ("FULL", "NONE")

PROCESSOR_MODES = ("INLINE", "DISTRIBUTED")
EXECUTION_TYPES = ("STANDARD", "EXPRESS")
DISTRIBUTED_ONLY = ("ItemReader", "ItemBatcher", "ResultWriter", "ToleratedFailureCount", "ToleratedFailureCountPath",
                    "ToleratedFailurePercentage", "ToleratedFailurePercentagePath", "Label")
ITEM_READER_FIELDS = frozenset({"Resource", "ReaderConfig", "Parameters", "Arguments"})
READER_CONFIG_FIELDS = frozenset({
    "InputType", "CSVHeaderLocation", "CSVHeaders", "CSVDelimiter", "MaxItems", "MaxItemsPath", "ManifestType",
})
READER_INPUT_TYPES = ("CSV", "JSON", "JSONL", "PARQUET", "MANIFEST")
CSV_HEADER_LOCATIONS = ("FIRST_ROW", "GIVEN")
CSV_DELIMITERS = ("COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB")
ITEM_BATCHER_FIELDS = frozenset({
    "MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath", "BatchInput",
})
RESULT_WRITER_FIELDS = frozenset({"Resource", "Parameters", "Arguments", "WriterConfig"})
WRITER_CONFIG_FIELDS = frozenset({"OutputType", "Transformation"})
WRITER_OUTPUT_TYPES = ("JSON", "JSONL")
WRITER_TRANSFORMATIONS = ("NONE", "COMPACT", "FLATTEN")

# Placeholders the recorded conformance definitions use for a Lambda the original test created.
PLACEHOLDER_RESOURCES = re.compile(r"^(?:__tbd__|_tbd_|%[A-Z_]*PLACEHOLDER%)$", re.IGNORECASE)
_TASK_RESOURCES = (
    # A service integration, optionally with an integration pattern suffix.
    re.compile(r"^arn:[a-z-]+:states:::[A-Za-z0-9-]+(?::[A-Za-z0-9-]+)*:[A-Za-z0-9]+"
               r"(?:\.sync(?::2)?|\.waitForTaskToken)?$"),
    re.compile(r"^arn:[a-z-]+:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(?::[A-Za-z0-9$_-]+)?$"),
    re.compile(r"^arn:[a-z-]+:states:[a-z0-9-]+:\d{12}:activity:[A-Za-z0-9_.-]+$"),
)
ITEM_READER_RESOURCES = ("s3:getObject", "s3:listObjectsV2")
RESULT_WRITER_RESOURCES = ("s3:putObject",)
MAX_VARIABLE_NAME = 80
RESERVED_VARIABLES = frozenset({"states"})

# State machine, execution, alias and version names (docs/design/asl-engines.md §5.1).
_FORBIDDEN_NAME_CHARS = frozenset(" \t\n\r<>{}[]?*\"#%\\^|~`$&,;:/")


def name_problem(name: object, *, limit: int = MAX_RESOURCE_NAME) -> str | None:
    """Why ``name`` is not a valid state machine or execution name, or ``None`` when it is."""
    if not isinstance(name, str) or not name:
        return "a name must be a non-empty string"
    if len(name) > limit:
        return f"a name must be at most {limit} characters long"
    bad = sorted({c for c in name if c in _FORBIDDEN_NAME_CHARS or _is_control(c)})
    if bad:
        return f"a name must not contain {', '.join(repr(c) for c in bad)}"
    return None


def state_name_problem(name: str) -> str | None:
    """Why a state name is invalid, or ``None``. AWS allows spaces and punctuation in state names."""
    if not name:
        return "a state name must not be empty"
    if len(name) > MAX_STATE_NAME:
        return f"a state name must be at most {MAX_STATE_NAME} characters long (this one has {len(name)})"
    if any(_is_control(c) for c in name):
        return "a state name must not contain control characters"
    return None


def variable_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a variable, or ``None``. AWS: a Unicode identifier (UAX #31: an ID_Start
    character then ID_Continue characters), at most 80 characters, and not the reserved ``states``."""
    if not name.isidentifier():
        return "must be an identifier: a letter or '_' first, then letters, digits or '_'"
    if len(name) > MAX_VARIABLE_NAME:
        return f"must be at most {MAX_VARIABLE_NAME} characters long"
    if name in RESERVED_VARIABLES:
        return "is reserved"
    return None


def resource_problem(resource: str, *, services: tuple[str, ...] = ()) -> str | None:
    """Why ``resource`` is not a Task resource AWS accepts (a service integration, a Lambda function or an
    activity ARN), or ``None``. ``services`` narrows it to given integrations (``s3:getObject``)."""
    if PLACEHOLDER_RESOURCES.match(resource):
        return f"'{resource}' is a placeholder, not a resource ARN"
    if services:
        prefix = resource.split(":::", 1)
        if len(prefix) != 2 or not prefix[0].startswith("arn:") or prefix[1] not in services:
            return f"'{resource}' must be one of " + ", ".join(f"arn:aws:states:::{s}" for s in services)
        return None
    if not any(pattern.match(resource) for pattern in _TASK_RESOURCES):
        return (f"'{resource}' is not a valid resource ARN (a service integration such as "
                "arn:aws:states:::lambda:invoke, a Lambda function ARN or an activity ARN)")
    return None


def is_int(value: Any) -> TypeGuard[int]:
    """A JSON integer (``true`` is not one, though Python says ``bool`` is an ``int``)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def type_name(value: Any) -> str:
    """The JSON type name of a decoded value, for messages."""
    names = {dict: "object", JsonObject: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number" if is_number(value) else type(value).__name__)


_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")


def is_timestamp(value: Any) -> bool:
    """An RFC 3339 date-time as AWS accepts it: ``T`` separator and an explicit offset (``Z`` or ``+hh:mm``)."""
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def transitions(state: dict[str, Any]) -> list[str]:
    """The state names a state can move to: Next, Default, and each Choice rule's and catcher's Next."""
    found = [state[key] for key in ("Next", "Default") if isinstance(state.get(key), str)]
    for list_key in ("Choices", "Catch"):
        items = state.get(list_key)
        if isinstance(items, list):
            found.extend(item["Next"] for item in items if isinstance(item, dict) and isinstance(item.get("Next"), str))
    return found


# ------------------------------------------------------------------------------------------------ the walk
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def join_path(path: str, key: str | int) -> str:
    """``path`` extended by an object key or an array index, as AWS writes locations: ``$.States.Train``,
    ``$.States['a b']``, ``...Branches[0]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"


@dataclass(frozen=True, slots=True)
class MachineSite:
    """Where the walk meets a state machine: the top level, a Parallel branch or a Map item processor."""

    spec: Any
    """The machine object (any value: a definition may be malformed)."""
    path: str
    language: str
    """The query language its states inherit."""
    owner: str | None = None
    """The Parallel or Map state holding it (None at the top level)."""

    @property
    def states(self) -> dict[str, Any]:
        states = self.spec.get("States") if isinstance(self.spec, dict) else None
        return states if isinstance(states, dict) else {}


@dataclass(frozen=True, slots=True)
class StateSite:
    """Where the walk meets a state: its machine, name, object (any value), JSON path and query language."""

    machine: MachineSite
    name: str
    spec: Any
    path: str
    language: str

    @property
    def jsonata(self) -> bool:
        return self.language == JSONATA


def root_machine(definition: dict[str, Any]) -> MachineSite:
    language = definition.get("QueryLanguage", JSONPATH)
    return MachineSite(definition, "$", language if language in QUERY_LANGUAGES else JSONPATH)


def state_sites(machine: MachineSite) -> Iterator[StateSite]:
    """The states of ``machine`` in definition order; a state's own valid QueryLanguage overrides the inherited."""
    states_path = join_path(machine.path, "States")
    for name, state in machine.states.items():
        language = machine.language
        if isinstance(state, dict) and state.get("QueryLanguage") in QUERY_LANGUAGES:
            language = state["QueryLanguage"]
        yield StateSite(machine, name, state, join_path(states_path, name), language)


def nested_machines(site: StateSite) -> list[MachineSite]:
    """The machines a Parallel (``Branches``) or Map (``ItemProcessor``, or the older ``Iterator``) state holds;
    their states inherit the holding state's query language."""
    state = site.spec
    if not isinstance(state, dict):
        return []
    found: list[tuple[str, Any]] = []
    if state.get("Type") == "Parallel" and isinstance(state.get("Branches"), list):
        branches_path = join_path(site.path, "Branches")
        found = [(join_path(branches_path, index), branch) for index, branch in enumerate(state["Branches"])]
    elif state.get("Type") == "Map":
        found = [(join_path(site.path, key), state[key]) for key in ("ItemProcessor", "Iterator") if key in state]
    return [MachineSite(spec, path, site.language, site.name) for path, spec in found]


def _is_control(char: str) -> bool:
    return ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F


class JsonObject(dict[str, Any]):
    """A decoded JSON object that remembers keys the text repeated (``json.loads`` keeps only the last)."""

    duplicates: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, Any]]) -> JsonObject:
    obj = JsonObject(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        repeated: list[str] = []
        for key, _ in pairs:
            if key in seen and key not in repeated:
                repeated.append(key)
            seen.add(key)
        obj.duplicates = tuple(repeated)
    return obj


def decode_definition(text: str | bytes) -> Any:
    """Decode definition JSON, keeping track of repeated keys. Raises :class:`DefinitionError`."""
    try:
        return json.loads(text, object_pairs_hook=_object_pairs)
    except (ValueError, RecursionError) as exc:
        raise DefinitionError(f"the definition is not valid JSON: {exc}") from exc


def load_definition(definition: dict[str, Any] | str | bytes) -> dict[str, Any]:
    """The definition as a dict: a dict is returned as is, JSON text is decoded. Raises ``DefinitionError``."""
    value = decode_definition(definition) if isinstance(definition, str | bytes) else definition
    if not isinstance(value, dict):
        raise DefinitionError("a state machine definition must be a JSON object")
    return value


__all__ = [
    "DIAGNOSTIC_CODES",
    "JSONATA",
    "JSONPATH",
    "MAX_STATE_NAME",
    "QUERY_LANGUAGES",
    "STATE_FIELDS",
    "STATE_TYPES",
    "JsonObject",
    "MachineSite",
    "StateSite",
    "decode_definition",
    "is_int",
    "is_number",
    "is_timestamp",
    "join_path",
    "load_definition",
    "name_problem",
    "nested_machines",
    "resource_problem",
    "root_machine",
    "state_name_problem",
    "state_sites",
    "transitions",
    "type_name",
    "variable_name_problem",
]
