"""Placeholders: values known only when a workflow runs (docs/design/compat.md §3, §10, §11 #1, #2, #11).

A Placeholder is a tree of named children. Each node renders as a path into the data it stands for:
``ExecutionInput()['a'][0]`` is ``$$.Execution.Input['a'][0]``; ``StepInput()['b']`` (what
``state.output()`` returns) is ``$['b']``. In a JSONata state the same node renders as an expression
(``$states.input.b``) that the step layer wraps in ``{% %}``.

Children are created lazily (``p['x']``) or typed (``p.get('x', int)``). A schema builds the tree and
freezes it, after which only names in the schema are accepted. ``validate`` checks an input document
against the schema (flattened with ``.`` keys).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from stepfn.inputs.utils import flatten, replace_type_with_str

_NOT_IN_SCHEMA = "Placeholder variable does not conform to schema set for the placeholder collection."
_JSONATA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Expression:
    """A value evaluated at run time: a Placeholder, or an intrinsic function call (stepfn.steps.intrinsics).

    The step layer renders an Expression as ``"Key.$": <to_jsonpath()>`` in JSONPath states and as
    ``"{% <to_jsonata()> %}"`` in JSONata states.
    """

    def to_jsonpath(self) -> str:
        raise NotImplementedError

    def to_jsonata(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} has no JSONata form")


def _jsonpath_segment(name: str | int) -> str:
    if isinstance(name, int):
        return f"[{name}]"
    # §11 #11: a quote or backslash in a name would otherwise end the bracket string early.
    escaped = name.replace("\\", "\\\\").replace("'", "\\'")
    return f"['{escaped}']"


def _jsonata_segment(name: str | int) -> str:
    if isinstance(name, int):
        return f"[{name}]"
    if _JSONATA_NAME.match(name):
        return f".{name}"
    return ".`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class ValidationResult:
    """The outcome of ``Placeholder.validate``: missing keys and ``(key, expected, actual)`` type mismatches."""

    valid: bool
    keys_missing: list[str] = field(default_factory=list)
    keys_type_mismatch: list[tuple[str, Any, Any]] = field(default_factory=list)


class Placeholder(Expression):
    """A node of a placeholder tree. Subclasses fix the root path (``jsonpath_root`` / ``jsonata_root``)."""

    jsonpath_root = "$"
    jsonata_root = "$states.input"

    def __init__(self, schema: dict[Any, Any] | None = None, **kwargs: Any) -> None:
        self.store: dict[str | int, Placeholder] = {}
        self.immutable = False
        self.schema = schema
        self.name: str | int | None = kwargs.get("name")
        self.type: type | None = kwargs.get("type")
        self.parent: Placeholder | None = kwargs.get("parent")
        if schema:
            self._set_schema(schema)
            self._make_immutable()

    # -- tree building -----------------------------------------------------------------------------

    def _create_variable(self, name: str | int, parent: Placeholder, type: type | None = None) -> Placeholder:
        if self.immutable:
            raise ValueError(_NOT_IN_SCHEMA)
        return self._new_child(name=name, parent=parent, type=type)

    def _new_child(self, **kwargs: Any) -> Placeholder:
        child = type(self).__new__(type(self))
        Placeholder.__init__(child, **kwargs)
        child._copy_root_from(self)
        return child

    def _copy_root_from(self, other: Placeholder) -> None:
        """Hook for roots that carry data of their own (a Variable's name, a context path)."""

    @staticmethod
    def _check_name(name: Any) -> None:
        if not isinstance(name, str | int):
            raise ValueError("Key name can only be string or integer")

    def __getitem__(self, name: str | int) -> Placeholder:
        self._check_name(name)
        if name not in self.store:
            self.store[name] = self._create_variable(name, parent=self)
        return self.store[name]

    def get(self, name: str | int, type: type | None = None) -> Placeholder:
        """The child ``name``, created with ``type`` if absent; an existing child must have the same type."""
        self._check_name(name)
        if name in self.store:
            existing = self.store[name]
            if existing.type != type:
                raise ValueError(f"Key already exists with a different value type: {existing.type}")
            return existing
        self.store[name] = self._create_variable(name, parent=self, type=type)
        return self.store[name]

    def _set_schema(self, schema: dict[Any, Any]) -> None:
        for name, value in schema.items():
            if isinstance(value, dict):
                self.get(name)._set_schema(value)
            else:
                self.get(name, value)

    def _make_immutable(self) -> None:
        self.immutable = True
        for child in self.store.values():
            child._make_immutable()

    def _is_empty(self) -> bool:
        return not self.store

    def contains(self, placeholder: Placeholder) -> bool:
        """True when ``placeholder`` (by identity) is a descendant of this node."""
        return any(child is placeholder or child.contains(placeholder) for child in self.store.values())

    def __contains__(self, placeholder: object) -> bool:
        return isinstance(placeholder, Placeholder) and self.contains(placeholder)

    def _get_path(self) -> list[str | int]:
        path: list[str | int] = []
        node: Placeholder | None = self
        while node is not None and node.parent is not None:
            assert node.name is not None
            path.append(node.name)
            node = node.parent
        path.reverse()
        return path

    # -- schema --------------------------------------------------------------------------------------

    def get_schema_as_dict(self) -> dict[str | int, Any]:
        schema: dict[str | int, Any] = {}
        for name, child in self.store.items():
            schema[name] = (child.type or str) if child._is_empty() else child.get_schema_as_dict()
        return schema

    def get_schema_as_json(self, pretty: bool = False) -> str:
        schema = replace_type_with_str(self.get_schema_as_dict())
        return json.dumps(schema, indent=4) if pretty else json.dumps(schema)

    def validate(self, input: Any) -> ValidationResult:
        """Check ``input`` against the schema; extra keys are ignored, types use ``isinstance``.

        ``None`` (no input at all) reports every schema key missing instead of crashing (§11 #1).
        """
        expected = flatten(self.get_schema_as_dict())
        if input is None:
            return ValidationResult(False, list(expected), [])
        actual = flatten(input) if isinstance(input, dict) else {}
        missing = [key for key in expected if key not in actual]
        mismatched = [
            (key, expected[key], type(value))
            for key, value in actual.items()
            if key in expected and not isinstance(value, expected[key])
        ]
        return ValidationResult(not missing and not mismatched, missing, mismatched)

    # -- rendering -----------------------------------------------------------------------------------

    def to_jsonpath(self) -> str:
        return self.jsonpath_root + "".join(_jsonpath_segment(name) for name in self._get_path())

    def to_jsonata(self) -> str:
        return self.jsonata_root + "".join(_jsonata_segment(name) for name in self._get_path())

    # -- copies --------------------------------------------------------------------------------------

    def clone(self, deep: bool = False) -> Placeholder:
        """A copy of this node (R port ``$clone()``): shallow shares the children, deep copies the subtree."""
        copy = type(self).__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.store = dict(self.store)
        if deep:
            for name, child in self.store.items():
                child_copy = child.clone(deep=True)
                child_copy.parent = copy
                copy.store[name] = child_copy
        return copy

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_jsonpath()!r})"


class ExecutionInput(Placeholder):
    """The execution's input document: ``$$.Execution.Input``."""

    jsonpath_root = "$$.Execution.Input"
    jsonata_root = "$states.context.Execution.Input"


class StepInput(Placeholder):
    """A state's effective input (the previous state's output): ``$``."""

    jsonpath_root = "$"
    jsonata_root = "$states.input"


class MapItemValue(Placeholder):
    """The current Map item: ``$$.Map.Item.Value``."""

    jsonpath_root = "$$.Map.Item.Value"
    jsonata_root = "$states.context.Map.Item.Value"


class MapItemIndex(Placeholder):
    """The current Map item's index: ``$$.Map.Item.Index`` (a number, so it has no children)."""

    jsonpath_root = "$$.Map.Item.Index"
    jsonata_root = "$states.context.Map.Item.Index"

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("schema"):
            raise AttributeError("MapItemIndex has no schema: it is a number")
        super().__init__(**kwargs)

    def __getitem__(self, name: str | int) -> Placeholder:
        raise AttributeError("MapItemIndex has no children: it is a number")

    def get(self, name: str | int, type: type | None = None) -> Placeholder:
        raise AttributeError("MapItemIndex has no children: it is a number")


class ContextObject(Placeholder):
    """A field of the context object, e.g. ``ContextObject('Task.Token')`` is ``$$.Task.Token``."""

    def __init__(self, path: str = "", schema: dict[Any, Any] | None = None, **kwargs: Any) -> None:
        self.context_path = path
        super().__init__(schema, **kwargs)

    def _copy_root_from(self, other: Placeholder) -> None:
        self.context_path = getattr(other, "context_path", "")

    @property
    def jsonpath_root(self) -> str:  # type: ignore[override]
        return f"$$.{self.context_path}" if self.context_path else "$$"

    @property
    def jsonata_root(self) -> str:  # type: ignore[override]
        return f"$states.context.{self.context_path}" if self.context_path else "$states.context"


class Variable(Placeholder):
    """A workflow variable set by ``Assign``: ``Variable('x')`` is ``$x`` (in both query languages)."""

    def __init__(self, variable_name: str = "", schema: dict[Any, Any] | None = None, **kwargs: Any) -> None:
        if kwargs.get("parent") is None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", variable_name):
            raise ValueError(f"Invalid variable name '{variable_name}': use letters, digits and '_'")
        self.variable_name = variable_name
        super().__init__(schema, **kwargs)

    def _copy_root_from(self, other: Placeholder) -> None:
        self.variable_name = getattr(other, "variable_name", "")

    @property
    def jsonpath_root(self) -> str:  # type: ignore[override]
        return f"${self.variable_name}"

    @property
    def jsonata_root(self) -> str:  # type: ignore[override]
        return f"${self.variable_name}"


__all__ = [
    "ContextObject",
    "ExecutionInput",
    "Expression",
    "MapItemIndex",
    "MapItemValue",
    "Placeholder",
    "StepInput",
    "ValidationResult",
    "Variable",
]
