"""States, Retry/Catch and Chain/Graph: the authoring vocabulary (``stepfunctions.steps.states``, docs/design/compat.md §2).

Serialization keeps the original's bytes: the keyword arguments are emitted in call order, then
``Type``, ``Next``/``End``, ``Retry``, ``Catch`` and the class extras (Choices/Default, Branches, an
attached Iterator or ItemProcessor). The §10 additions are ordinary keyword arguments, so a workflow
that does not use them serializes exactly as before.

Graph rebuilds ``States`` on every ``to_dict()`` (§11 #4): later edits to the states reach the
definition. Chain keeps the original's mutating ``append`` (§11 #5); use ``clone()`` to reuse a state
in a second chain without re-pointing it.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from stepfn.exceptions import DuplicateStatesInChain
from stepfn.inputs.placeholders import Expression, Placeholder, StepInput
from stepfn.steps._render import JSONATA, JSONPATH, render_field
from stepfn.steps.caching import CacheConfig
from stepfn.steps.fields import Field

logger = logging.getLogger(__name__)

#: Explicitly passed ``None`` for these fields is emitted as ``null`` (ResultPath: null discards the result).
_NULLABLE = frozenset({Field.ResultPath.value, Field.InputPath.value, Field.OutputPath.value})
_ASL_KEY = {member.value: member.name for member in Field}

_IO = [Field.Comment, Field.InputPath, Field.OutputPath]
_MODERN = [Field.Assign, Field.QueryLanguage, Field.Output]
_EXECUTING = [*_IO, Field.Parameters, Field.ResultPath, Field.ResultSelector, Field.Retry, Field.Catch, *_MODERN, Field.Arguments]


def to_pascalcase(text: str) -> str:
    """``items_path`` -> ``ItemsPath``: each ``_`` part title-cased, then joined."""
    return "".join(part.title() for part in text.split("_"))


def _asl_key(kwarg: str) -> str:
    return _ASL_KEY.get(kwarg) or to_pascalcase(kwarg)


def _deep_copy_value(value: Any) -> Any:
    """A deep copy that keeps Placeholders shared (their identity defines paths) and deep-clones states."""
    if isinstance(value, Expression):
        return value
    if isinstance(value, State | Chain):
        return _clone_branch(value)
    if isinstance(value, ItemProcessor):
        return value.clone(deep=True)
    if isinstance(value, dict):
        return {key: _deep_copy_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_deep_copy_value(item) for item in value]
    return copy.deepcopy(value)


class Block:
    """Anything with ASL fields: stores the keyword arguments in call order and serializes them."""

    def __init__(self, **kwargs: Any) -> None:
        for name in kwargs:
            if not self.is_field_allowed(name):
                raise TypeError(f"Field '{name}' is not supported.")
        self.fields: dict[str, Any] = kwargs

    def allowed_fields(self) -> list[Field]:
        return []

    def is_field_allowed(self, field_name: str) -> bool:
        return field_name in {field.value for field in self.allowed_fields()}

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: read a stored field, or None for an allowed one.
        fields = self.__dict__.get("fields")
        if fields is None or name.startswith("__"):
            raise AttributeError(name)
        if name in fields:
            return fields[name]
        if self.is_field_allowed(name):
            return None
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def _state_id_for_errors(self) -> str | None:
        return None

    def _render_fields(self, language: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in self.fields.items():
            if value is None and name not in _NULLABLE:
                continue
            key, rendered = self._render_one(name, value, language)
            result[key] = rendered
        return result

    def _render_one(self, name: str, value: Any, language: str) -> tuple[str, Any]:
        return render_field(_asl_key(name), value, language, self._state_id_for_errors())

    def _to_dict(self, language: str) -> dict[str, Any]:
        return self._render_fields(language)

    def _own_language(self) -> str | None:
        return self.fields.get(Field.QueryLanguage.value)

    def to_dict(self) -> dict[str, Any]:
        return self._to_dict(self._own_language() or JSONPATH)

    def to_json(self, pretty: bool = False) -> str:
        """``json.dumps`` of ``to_dict()``; ``pretty`` indents by 4 as the original did."""
        if pretty:
            return json.dumps(self.to_dict(), indent=4)
        return json.dumps(self.to_dict())

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.fields.items())
        return f"{type(self).__name__}({args})"

    def __str__(self) -> str:
        return self.to_json(pretty=True)

    def clone(self, deep: bool = False) -> Block:
        """A copy with its own containers (R port ``$clone()``); ``deep`` also copies the field values."""
        duplicate = copy.copy(self)
        duplicate.fields = _deep_copy_value(self.fields) if deep else dict(self.fields)
        return duplicate


class Retry(Block):
    """A retrier: ``Retry(error_equals=[...], interval_seconds=, max_attempts=, backoff_rate=)``.

    Beyond the original: ``max_delay_seconds`` and ``jitter_strategy`` (``"FULL"`` / ``"NONE"``).
    """

    def allowed_fields(self) -> list[Field]:
        return [
            Field.ErrorEquals,
            Field.IntervalSeconds,
            Field.MaxAttempts,
            Field.BackoffRate,
            Field.MaxDelaySeconds,
            Field.JitterStrategy,
        ]


class Catch(Block):
    """A catcher: ``Catch(next_step, error_equals=[...], result_path=)``; ``Next`` is the target's id.

    Beyond the original: ``assign`` (variables) and ``output`` (JSONata).
    """

    def __init__(self, next_step: State | Chain, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.next_step = next_step

    def allowed_fields(self) -> list[Field]:
        return [Field.ErrorEquals, Field.ResultPath, Field.Assign, Field.Output]

    def _to_dict(self, language: str) -> dict[str, Any]:
        result = self._render_fields(language)
        if language == JSONATA and Field.ResultPath.value in self.fields:
            raise ValueError("field 'ResultPath' of a Catch is not supported when QueryLanguage is JSONata")
        result[Field.Next.name] = self.next_step.state_id
        return result


class State(Block):
    """A state of any type: ``State(state_id, state_type, output_schema=None, **kwargs)``.

    ``output()`` returns the StepInput placeholder that the next state uses to refer to this state's
    output; ``output_schema`` freezes it.
    """

    def __init__(self, state_id: str, state_type: str | None = None, output_schema: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fields["type"] = state_type
        self.state_type = state_type
        self.state_id = state_id
        self.output_schema = output_schema
        self.step_output = StepInput(schema=output_schema)
        self.retries: list[Retry] = []
        self.catches: list[Catch] = []
        self.next_step: State | Chain | None = None

    def allowed_fields(self) -> list[Field]:
        return [*_IO, Field.Parameters, Field.ResultPath, *_MODERN]

    def _state_id_for_errors(self) -> str | None:
        return self.state_id

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.fields.items())
        return f"{type(self).__name__}(id={self.state_id!r}, {args})"

    # -- composition ---------------------------------------------------------------------------------

    def update_parameters(self, params: dict[str, Any]) -> None:
        """Replace ``Parameters`` in place (a new key lands after ``Type``)."""
        if Field.Parameters in self.allowed_fields():
            self.fields[Field.Parameters.value] = params

    def next(self, next_step: State | Chain) -> State | Chain:
        """Make ``next_step`` this state's successor and return it."""
        if self.state_type in ("Succeed", "Fail"):
            raise ValueError(
                f"Unexpected State instance `{next_step}`, State type `{self.state_type}` does not support method `next`."
            )
        self.next_step = next_step
        return self.next_step

    def add_retry(self, retry: Retry | list[Retry]) -> None:
        if Field.Retry not in self.allowed_fields():
            raise ValueError(f"{type(self).__name__} state does not support retry field. ")
        if isinstance(retry, list):
            self.retries.extend(retry)
        else:
            self.retries.append(retry)

    def add_catch(self, catch: Catch | list[Catch]) -> None:
        if Field.Catch not in self.allowed_fields():
            raise ValueError(f"{type(self).__name__} state does not support catch field. ")
        if isinstance(catch, list):
            self.catches.extend(catch)
        else:
            self.catches.append(catch)

    def output(self) -> StepInput:
        return self.step_output

    def _add_handlers(self, retry: Retry | list[Retry] | None, catch: Catch | list[Catch] | None) -> None:
        """The ``retry=``/``catch=`` constructor arguments of Parallel, Map and Task."""
        if retry:
            self.add_retry(retry)
        if catch:
            self.add_catch(catch)

    # -- serialization -------------------------------------------------------------------------------

    def _to_dict(self, language: str) -> dict[str, Any]:
        result = self._render_fields(language)
        if self.next_step is not None:
            result[Field.Next.name] = self.next_step.state_id
        elif self.state_type not in ("Succeed", "Fail", "Choice"):
            result[Field.End.name] = True
        if self.retries and Field.Retry in self.allowed_fields():
            result[Field.Retry.name] = [retry._to_dict(language) for retry in self.retries]
        if self.catches and Field.Catch in self.allowed_fields():
            result[Field.Catch.name] = [catch._to_dict(language) for catch in self.catches]
        return result

    def _transitions(self) -> list[State | Chain]:
        """Successors in the order the graph walk visits them: Next, then each Catch target."""
        targets: list[State | Chain] = []
        if self.next_step is not None:
            targets.append(self.next_step)
        targets.extend(catch.next_step for catch in self.catches)
        return targets

    # -- copies --------------------------------------------------------------------------------------

    def clone(self, deep: bool = False) -> State:
        """A copy usable in another chain (R port ``$clone()``, docs/design/compat.md §9).

        Shallow: new containers (fields, retries, catches, branches, choices); transitions stay shared;
        a fresh ``output()``. Deep: also copies field values, Retry/Catch objects, rules, branches and
        the iterator. Placeholders are always shared. The clone keeps ``state_id``.
        """
        duplicate = copy.copy(self)
        duplicate.fields = _deep_copy_value(self.fields) if deep else dict(self.fields)
        duplicate.step_output = StepInput(schema=self.output_schema)
        if deep:
            duplicate.retries = [retry.clone(deep=True) for retry in self.retries]  # type: ignore[misc]
            duplicate.catches = [catch.clone(deep=True) for catch in self.catches]  # type: ignore[misc]
        else:
            duplicate.retries = list(self.retries)
            duplicate.catches = list(self.catches)
        self._clone_extras(duplicate, deep)
        return duplicate

    def _clone_extras(self, duplicate: State, deep: bool) -> None:
        """Subclasses copy their own containers here."""


class Pass(State):
    """Passes its input to its output, optionally injecting ``result``."""

    def __init__(self, state_id: str, **kwargs: Any) -> None:
        super().__init__(state_id, "Pass", **kwargs)

    def allowed_fields(self) -> list[Field]:
        return [*_IO, Field.Parameters, Field.ResultPath, Field.Result, *_MODERN]


class Succeed(State):
    """Stops the execution successfully."""

    def __init__(self, state_id: str, **kwargs: Any) -> None:
        super().__init__(state_id, "Succeed", **kwargs)

    def allowed_fields(self) -> list[Field]:
        return [*_IO, Field.QueryLanguage, Field.Output]


class Fail(State):
    """Stops the execution with ``error`` and ``cause`` (a Placeholder gives ErrorPath/CausePath)."""

    def __init__(self, state_id: str, **kwargs: Any) -> None:
        super().__init__(state_id, "Fail", **kwargs)

    def allowed_fields(self) -> list[Field]:
        return [Field.Comment, Field.Error, Field.Cause, Field.ErrorPath, Field.CausePath, Field.QueryLanguage]


class Wait(State):
    """Waits ``seconds`` or until ``timestamp`` (or the ``…_path`` forms): exactly one of the four."""

    def __init__(self, state_id: str, **kwargs: Any) -> None:
        timing = [kwargs.get(name) for name in ("seconds", "timestamp", "seconds_path", "timestamp_path")]
        if sum(value is not None for value in timing) != 1:
            raise ValueError(
                "The Wait state MUST contain exactly one of 'seconds', 'seconds_path', 'timestamp' or 'timestamp_path'."
            )
        super().__init__(state_id, "Wait", **kwargs)

    def allowed_fields(self) -> list[Field]:
        return [*_IO, Field.Seconds, Field.Timestamp, Field.SecondsPath, Field.TimestampPath, *_MODERN]


class Choice(State):
    """Branches on rules: ``add_choice(rule, next_step)``, ``default_choice(next_step)``.

    ``next()`` sets the default (the original's chaining behaviour, §11 #10).
    """

    def __init__(self, state_id: str, **kwargs: Any) -> None:
        super().__init__(state_id, "Choice", **kwargs)
        self.choices: list[tuple[Any, State | Chain]] = []
        self.default: State | Chain | None = None

    def allowed_fields(self) -> list[Field]:
        return [*_IO, *_MODERN]

    def add_choice(self, rule: Any, next_step: State | Chain) -> None:
        from stepfn.steps.choice_rule import BaseRule

        if not isinstance(rule, BaseRule):
            raise ValueError(f"Rule '{rule}' is invalid")
        self.choices.append((rule, next_step))

    def default_choice(self, next_step: State | Chain) -> None:
        self.default = next_step

    def next(self, next_step: State | Chain) -> State | Chain:
        if self.default is not None:
            logger.warning(
                "Chaining Choice state: Overwriting %s's current default_choice (%s) with %s",
                self.state_id, self.default.state_id, next_step.state_id,
            )
        self.default_choice(next_step)
        return next_step

    def _to_dict(self, language: str) -> dict[str, Any]:
        result = super()._to_dict(language)
        result[Field.Choices.name] = [
            {**rule._to_dict(language), Field.Next.name: next_step.state_id} for rule, next_step in self.choices
        ]
        if self.default is not None:
            result[Field.Default.name] = self.default.state_id
        return result

    def _transitions(self) -> list[State | Chain]:
        targets: list[State | Chain] = []
        if self.default is not None:
            targets.append(self.default)
        targets.extend(next_step for _, next_step in self.choices)
        return targets

    def _clone_extras(self, duplicate: State, deep: bool) -> None:
        assert isinstance(duplicate, Choice)
        duplicate.choices = [(copy.deepcopy(rule, _placeholder_memo(rule)) if deep else rule, target)
                             for rule, target in self.choices]


def _placeholder_memo(rule: Any) -> dict[int, Any]:
    """A deepcopy memo that maps every Placeholder reachable from ``rule`` to itself, so it stays shared."""
    memo: dict[int, Any] = {}
    stack = [rule]
    while stack:
        item = stack.pop()
        if isinstance(item, Placeholder):
            memo[id(item)] = item
        elif hasattr(item, "__dict__"):
            stack.extend(vars(item).values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return memo


class Parallel(State):
    """Runs each branch (a State or Chain) on the same input: ``add_branch(branch)``."""

    def __init__(self, state_id: str, retry: Retry | list[Retry] | None = None,
                 catch: Catch | list[Catch] | None = None, **kwargs: Any) -> None:
        super().__init__(state_id, "Parallel", **kwargs)
        self.branches: list[State | Chain] = []
        self._add_handlers(retry, catch)

    def allowed_fields(self) -> list[Field]:
        return list(_EXECUTING)

    def add_branch(self, branch: State | Chain) -> None:
        self.branches.append(branch)

    def _to_dict(self, language: str) -> dict[str, Any]:
        result = super()._to_dict(language)
        result[Field.Branches.name] = [Graph._nested(branch)._branch_dict(language) for branch in self.branches]
        return result

    def _clone_extras(self, duplicate: State, deep: bool) -> None:
        assert isinstance(duplicate, Parallel)
        duplicate.branches = [_clone_branch(branch) for branch in self.branches] if deep else list(self.branches)


class ItemProcessor:
    """A Map's ``ItemProcessor``: ``{ProcessorConfig{Mode, ExecutionType}, StartAt, States}``.

    ``mode`` is ``"INLINE"`` or ``"DISTRIBUTED"``; ``execution_type`` (``"STANDARD"``/``"EXPRESS"``)
    is required by Step Functions for a distributed map.
    """

    def __init__(self, branch: State | Chain, mode: str | None = "INLINE", execution_type: str | None = None) -> None:
        if mode not in (None, "INLINE", "DISTRIBUTED"):
            raise ValueError(f"ItemProcessor mode must be 'INLINE' or 'DISTRIBUTED', but got '{mode}'")
        self.branch = branch
        self.mode = mode
        self.execution_type = execution_type

    def _to_dict(self, language: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        config: dict[str, Any] = {}
        if self.mode is not None:
            config["Mode"] = self.mode
        if self.execution_type is not None:
            config["ExecutionType"] = self.execution_type
        if config:
            result["ProcessorConfig"] = config
        result.update(Graph._nested(self.branch)._branch_dict(language))
        return result

    def clone(self, deep: bool = False) -> ItemProcessor:
        return ItemProcessor(_clone_branch(self.branch) if deep else self.branch, self.mode, self.execution_type)


class Map(State):
    """Runs ``iterator`` (or ``item_processor``) once per item of ``items_path``.

    ``attach_iterator(branch)`` / ``attach_item_processor(branch, mode, execution_type)`` append the
    nested graph after Retry/Catch, as the original did for the iterator. Beyond the original: the
    distributed-map fields (item_reader, item_batcher, result_writer, tolerated_failure_*, label, …).
    """

    # Set by attach_iterator / attach_item_processor; otherwise read from the keyword arguments.
    iterator: Any
    item_processor: Any

    def __init__(self, state_id: str, retry: Retry | list[Retry] | None = None,
                 catch: Catch | list[Catch] | None = None, **kwargs: Any) -> None:
        if kwargs.get("iterator") is not None and kwargs.get("item_processor") is not None:
            raise ValueError("A Map state takes either 'iterator' or 'item_processor', not both.")
        super().__init__(state_id, "Map", **kwargs)
        self._add_handlers(retry, catch)

    def allowed_fields(self) -> list[Field]:
        return [
            *_EXECUTING,
            Field.ItemsPath,
            Field.Iterator,
            Field.MaxConcurrency,
            Field.ItemSelector,
            Field.ItemProcessor,
            Field.ItemReader,
            Field.ItemBatcher,
            Field.ResultWriter,
            Field.ToleratedFailurePercentage,
            Field.ToleratedFailurePercentagePath,
            Field.ToleratedFailureCount,
            Field.ToleratedFailureCountPath,
            Field.Label,
            Field.MaxConcurrencyPath,
            Field.Items,
        ]

    def attach_iterator(self, iterator: State | Chain) -> None:
        if self.__dict__.get("item_processor") is not None or self.fields.get("item_processor") is not None:
            raise ValueError("A Map state takes either 'iterator' or 'item_processor', not both.")
        self.iterator = iterator

    def attach_item_processor(self, branch: State | Chain, mode: str | None = "INLINE",
                              execution_type: str | None = None) -> None:
        if self.iterator is not None:
            raise ValueError("A Map state takes either 'iterator' or 'item_processor', not both.")
        self.item_processor = ItemProcessor(branch, mode, execution_type)

    def _render_one(self, name: str, value: Any, language: str) -> tuple[str, Any]:
        # Iterator/ItemProcessor hold states; they are filled in by _to_dict at the kwarg's position.
        if name in (Field.Iterator.value, Field.ItemProcessor.value):
            return _asl_key(name), None
        return super()._render_one(name, value, language)

    def _to_dict(self, language: str) -> dict[str, Any]:
        result = super()._to_dict(language)
        processor = self.item_processor
        if processor is not None:
            if not isinstance(processor, ItemProcessor):
                processor = ItemProcessor(processor, mode=None)
            result[Field.ItemProcessor.name] = processor._to_dict(language)
        else:
            result[Field.Iterator.name] = Graph._nested(self.iterator)._branch_dict(language)
        return result

    def _clone_extras(self, duplicate: State, deep: bool) -> None:
        if not deep:
            return
        for name in (Field.Iterator.value, Field.ItemProcessor.value):
            if name in self.__dict__ and self.__dict__[name] is not None:
                attached = self.__dict__[name]
                duplicate.__dict__[name] = attached.clone(deep=True) if isinstance(attached, ItemProcessor) \
                    else _clone_branch(attached)


class Task(State):
    """Runs ``resource`` (a Lambda ARN or an ``arn:…:states:::service:api`` integration)."""

    def __init__(self, state_id: str, retry: Retry | list[Retry] | None = None,
                 catch: Catch | list[Catch] | None = None, cache_config: CacheConfig | None = None,
                 **kwargs: Any) -> None:
        if cache_config is not None and not isinstance(cache_config, CacheConfig):
            raise TypeError(f"cache_config must be a CacheConfig, not {type(cache_config).__name__}")
        # Kept beside the fields, never among them: the step cache is local-only and must not touch the ASL.
        self.cache_config = cache_config
        if kwargs.get("timeout_seconds") is not None and kwargs.get("timeout_seconds_path") is not None:
            raise ValueError("Only one of 'timeout_seconds' or 'timeout_seconds_path' can be provided.")
        if kwargs.get("heartbeat_seconds") is not None and kwargs.get("heartbeat_seconds_path") is not None:
            raise ValueError("Only one of 'heartbeat_seconds' or 'heartbeat_seconds_path' can be provided.")
        super().__init__(state_id, "Task", **kwargs)
        self._add_handlers(retry, catch)

    def allowed_fields(self) -> list[Field]:
        return [
            *_EXECUTING,
            Field.Resource,
            Field.TimeoutSeconds,
            Field.TimeoutSecondsPath,
            Field.HeartbeatSeconds,
            Field.HeartbeatSecondsPath,
            Field.Credentials,
        ]


# -- Chain and Graph -----------------------------------------------------------------------------------


class Chain:
    """An ordered list of states linked with ``next()``; nested Chains are flattened.

    ``append(step)`` calls ``next()`` on the current last state, which re-points that state wherever
    else it is used (kept from the original, §11 #5; ``clone()`` first to avoid it).
    """

    def __init__(self, steps: list[State | Chain] | None = None) -> None:
        if steps is None:
            steps = []
        if not isinstance(steps, list):
            raise TypeError("Chain takes a 'list' of steps. You provided an input that is not a list.")
        self.steps: list[State] = []
        expanded: list[State] = []
        for step in steps:
            if isinstance(step, Chain):
                expanded.extend(step.steps)
            else:
                expanded.append(step)
        if len({id(step) for step in expanded}) != len(expanded):
            raise DuplicateStatesInChain("Duplicate states in the chain.")
        for step in expanded:
            self.append(step)

    def append(self, step: State) -> None:
        if any(existing is step for existing in self.steps):
            raise DuplicateStatesInChain(
                f"State '{step.state_id}' is already inside this chain. A chain cannot have duplicate states."
            )
        if self.steps:
            self.steps[-1].next(step)
        self.steps.append(step)

    @property
    def state_id(self) -> str:
        if not self.steps:
            raise ValueError("The chain is empty")
        return self.steps[0].state_id

    def __iter__(self) -> Iterator[State]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        return f"Chain(steps={self.steps!r})"

    def clone(self, deep: bool = False) -> Chain:
        """A new Chain over the same states (shallow) or over deep clones re-linked to each other."""
        duplicate = Chain.__new__(Chain)
        duplicate.steps = _clone_subgraph(self.steps, {}, follow=False) if deep else list(self.steps)
        return duplicate


def _clone_branch(branch: State | Chain) -> State | Chain:
    """Deep-clone a branch or iterator: every state reachable from it, re-linked among the clones."""
    if isinstance(branch, Chain):
        duplicate = Chain.__new__(Chain)
        duplicate.steps = _clone_subgraph(branch.steps, {})
        return duplicate
    return _clone_subgraph([branch], {})[0]


def _clone_subgraph(roots: list[State], memo: dict[int, State], follow: bool = True) -> list[State]:
    """Deep clones of ``roots``; transitions that point inside the cloned set are re-pointed to clones.

    With ``follow`` the set is everything reachable from the roots (a self-contained branch); without,
    it is just the roots (a Chain's own states), and transitions leaving the set stay shared.
    """
    originals: list[State] = []
    pending = list(roots)
    while pending:
        state = pending.pop(0)
        if id(state) in memo:
            continue
        memo[id(state)] = state.clone(deep=True)
        originals.append(state)
        if follow:
            pending.extend(_flatten_targets(state._transitions()))

    def relink(target: State | Chain | None) -> Any:
        if isinstance(target, State):
            return memo.get(id(target), target)
        if isinstance(target, Chain) and target.steps and id(target.steps[0]) in memo:
            return memo[id(target.steps[0])]
        return target

    for state in originals:
        duplicate = memo[id(state)]
        duplicate.next_step = relink(state.next_step)
        for catch in duplicate.catches:
            catch.next_step = relink(catch.next_step)
        if isinstance(duplicate, Choice):
            duplicate.choices = [(rule, relink(target)) for rule, target in duplicate.choices]
            duplicate.default = relink(duplicate.default)
    return [memo[id(root)] for root in roots]


def _flatten_targets(targets: Iterable[State | Chain]) -> list[State]:
    flat: list[State] = []
    for target in targets:
        if isinstance(target, Chain):
            flat.extend(target.steps)
        else:
            flat.append(target)
    return flat


class Graph(Block):
    """A state machine (or a branch): ``Graph(branch, timeout_seconds=, comment=, version=)``.

    ``to_dict()`` is the keyword arguments in call order, then ``StartAt`` and ``States`` (depth-first
    visit order, docs/design/compat.md §2.3). ``States`` is rebuilt on every call, so edits made after the Graph
    was built are not lost (§11 #4). Beyond the original: ``query_language="JSONata"``.
    """

    def __init__(self, branch: State | Chain, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._set_branch(branch)
        # The original validated at construction; stepfn also re-validates at every serialization.
        self._states(self._own_language() or JSONPATH)

    def _set_branch(self, branch: State | Chain) -> None:
        if not isinstance(branch, State | Chain):
            raise ValueError(f"Expected branch to be a State or a Chain, but got `{branch}`")
        # An empty Chain is accepted here and refused when serialized (Chain.state_id: "The chain is empty"), as
        # in the original: ``Workflow(name, Chain([]), role).attach(arn)`` is a common way to reach a deployed
        # state machine.
        self.branch = branch

    @classmethod
    def _nested(cls, branch: State | Chain) -> Graph:
        """A branch or iterator graph; it is validated when serialized, in its parent's query language."""
        graph = cls.__new__(cls)
        Block.__init__(graph)
        graph._set_branch(branch)
        return graph

    def allowed_fields(self) -> list[Field]:
        return [Field.TimeoutSeconds, Field.Comment, Field.Version, Field.QueryLanguage]

    @property
    def start_at(self) -> str:
        return self.branch.state_id

    def _roots(self) -> list[State]:
        return list(self.branch.steps) if isinstance(self.branch, Chain) else [self.branch]

    def iter_states(self) -> list[State]:
        """The states of this graph (not of nested branches) in ``States`` order."""
        return [state for state, _ in self._walk(self._own_language() or JSONPATH)]

    def _walk(self, language: str) -> list[tuple[State, dict[str, Any]]]:
        seen_objects: dict[int, State] = {}
        by_id: dict[str, tuple[State, dict[str, Any]]] = {}
        order: list[tuple[State, dict[str, Any]]] = []
        # An explicit stack keeps long chains from hitting the recursion limit; pushing successors in
        # reverse gives the original's recursive depth-first order.
        stack: list[State] = list(reversed(self._roots()))
        while stack:
            state = stack.pop()
            if id(state) in seen_objects:
                continue
            state_language = state._own_language() or language
            rendered = state._to_dict(state_language)
            if state.state_id in by_id:
                if by_id[state.state_id][1] != rendered:
                    raise ValueError(
                        "Each state in a workflow must have a unique state id. "
                        f"Found duplicate state id '{state.state_id}' in workflow."
                    )
                seen_objects[id(state)] = state
                continue
            seen_objects[id(state)] = state
            by_id[state.state_id] = (state, rendered)
            order.append((state, rendered))
            self._check_placeholders(state)
            stack.extend(reversed(_flatten_targets(state._transitions())))
        return order

    @staticmethod
    def _check_placeholders(state: State) -> None:
        """The next state may only read this state's output through ``state.output()`` (docs/design/compat.md §2.3)."""
        next_step = state.next_step
        if isinstance(next_step, Chain):
            next_step = next_step.steps[0] if next_step.steps else None
        if next_step is None:
            return
        params = next_step.fields.get(Field.Parameters.value)
        if not isinstance(params, dict):
            return
        invalid = _illegal_step_input(params, state.step_output)
        if invalid is not None:
            raise ValueError(
                f"State '{next_step.state_id}' is using an illegal placeholder for the '{invalid}' parameter."
            )

    def _states(self, language: str) -> dict[str, Any]:
        return {state.state_id: rendered for state, rendered in self._walk(language)}

    def _branch_dict(self, language: str) -> dict[str, Any]:
        return {"StartAt": self.branch.state_id, "States": self._states(language)}

    def _to_dict(self, language: str) -> dict[str, Any]:
        result = self._render_fields(language)
        result.update(self._branch_dict(language))
        return result

    def validate(self) -> list[Any]:
        """Static validation of the whole definition (``stepfn.asl.validate``): the list of Diagnostics."""
        from stepfn.asl.validate import validate_definition

        return list(validate_definition(self.to_dict()))

    def clone(self, deep: bool = False) -> Graph:
        duplicate = copy.copy(self)
        duplicate.fields = _deep_copy_value(self.fields) if deep else dict(self.fields)
        if deep:
            duplicate.branch = _clone_branch(self.branch)
        return duplicate


def _illegal_step_input(params: dict[str, Any], step_output: StepInput) -> str | None:
    for key, value in params.items():
        if isinstance(value, StepInput):
            if value is not step_output and not step_output.contains(value):
                return key
        elif isinstance(value, dict):
            invalid = _illegal_step_input(value, step_output)
            if invalid is not None:
                return invalid
    return None


class FrozenGraph(Graph):
    """A definition given as a dict (e.g. one read back from Step Functions); ``to_dict()`` returns it as is."""

    def __init__(self, definition: dict[str, Any]) -> None:
        if not isinstance(definition, dict):
            raise ValueError(f"Expected definition to be a dict, but got `{type(definition)}`.")
        self.fields = {}
        self.definition = definition

    @classmethod
    def from_json(cls, json_definition: str) -> FrozenGraph:
        return cls(definition=json.loads(json_definition))

    def to_dict(self) -> dict[str, Any]:
        return self.definition

    def _to_dict(self, language: str) -> dict[str, Any]:
        return self.definition

    def iter_states(self) -> list[State]:
        return []

    def clone(self, deep: bool = False) -> FrozenGraph:
        return FrozenGraph(copy.deepcopy(self.definition) if deep else dict(self.definition))

    def __repr__(self) -> str:
        return f"FrozenGraph(definition={self.definition!r})"


__all__ = [
    "Block",
    "Catch",
    "Chain",
    "Choice",
    "Fail",
    "FrozenGraph",
    "Graph",
    "ItemProcessor",
    "Map",
    "Parallel",
    "Pass",
    "Retry",
    "State",
    "Succeed",
    "Task",
    "Wait",
    "to_pascalcase",
]
