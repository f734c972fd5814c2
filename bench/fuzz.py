"""Fuzzing: every input ends in success or a named error, never an unhandled exception or a hang.

Each target below pairs a hypothesis strategy with a check that feeds one drawn input to stepfn and classifies
the outcome: a result, or a named error (a ``stepfn.errors.StepfnError``, a botocore ``ClientError`` /
``ParamValidationError``, an execution that ends FAILED as ASL says it should). Anything else (a ``KeyError``
from deep inside, an execution failing with "Internal engine error", a call still running after its time limit)
makes the check raise :class:`Finding`, which hypothesis then shrinks to a minimal input.

Targets: ASL definitions (validator, then engine), JSONPath and reference paths, intrinsic function calls,
JSONata expressions, placeholder names (authoring API to ASL to engine), Choice rules (as ASL and through the
authoring API's ChoiceRule builders), execution inputs
(through ``LocalStepFunctionsClient``) and SageMaker request arguments (``stepfn.sagemaker`` builders).

``tests/reliability/test_fuzz.py`` runs every target with a few hundred examples; this script runs them longer
and reports how many inputs each one tried:

    python bench/fuzz.py --examples 5000            # every target
    python bench/fuzz.py --examples 20000 --target jsonata
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CALL_SECONDS = 10.0  # a single parse/evaluate/build taking longer than this is a hang
EXECUTION_SECONDS = 20.0
ARN = "arn:aws:states:us-east-1:123456789012"
ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"


class Finding(AssertionError):
    """An input that ended in an unhandled exception, an internal error or a hang."""


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()`` on a helper thread; Finding if it is still running after ``seconds``."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed back to the caller as is
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise Finding(f"still running after {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _named(exc: BaseException) -> str | None:
    """The error's name if it is one stepfn raises on purpose, else None."""
    from botocore.exceptions import ClientError, ParamValidationError

    from stepfn.errors import StatesError, StepfnError

    if isinstance(exc, StatesError):
        return exc.error
    if isinstance(exc, ClientError):
        return str(exc.response["Error"]["Code"])
    if isinstance(exc, (StepfnError, ParamValidationError)):
        return type(exc).__name__
    return None


def classify(call: Callable[[], Any], seconds: float = CALL_SECONDS, *, allowed: tuple[type, ...] = ()) -> str:
    """"ok" or the name of the named error ``call`` raised; Finding for anything else."""
    try:
        within(seconds, call)
    except Finding:
        raise
    except Exception as exc:
        name = _named(exc)
        if name is None and isinstance(exc, allowed):
            name = type(exc).__name__
        if name is None:
            raise Finding(f"unhandled {type(exc).__name__}: {exc}") from exc
        return name
    return "ok"


# -- shared strategies ----------------------------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers(-(2**64), 2**64)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=15,
)
object_inputs = st.dictionaries(st.sampled_from(["a", "b", "c", "x", "items", "n", "s"]), json_values, max_size=5)

_engine_lock = threading.Lock()
_engines: dict[str, Any] = {}


def engine() -> Any:
    """One engine per process, with an instant clock so that Wait states and retries take no time."""
    from stepfn.engine import Engine, ScaledClock

    with _engine_lock:
        if "engine" not in _engines:
            _engines["engine"] = Engine(handlers={}, clock=ScaledClock(float("inf")))
        return _engines["engine"]


def run_execution(definition: dict[str, Any] | str, execution_input: Any) -> str:
    """Run on the engine; the outcome label, or Finding for an internal error or an execution that hangs."""
    name = uuid.uuid4().hex
    try:
        handle = engine().start(
            definition, execution_input, execution_arn=f"{ARN}:execution:fuzz:{name}",
            state_machine_arn=f"{ARN}:stateMachine:fuzz", name=name,
        )
    except Exception as exc:
        label = _named(exc)
        if label is None:
            raise Finding(f"Engine.start raised {type(exc).__name__}: {exc}") from exc
        return label
    result = handle.wait(EXECUTION_SECONDS)
    if result is None:
        handle.stop()
        raise Finding(f"execution still running after {EXECUTION_SECONDS:g} s")
    # A Fail state without Error ends FAILED with no error name, as on AWS; an engine bug names itself.
    if "Internal engine error" in (result.cause or ""):
        raise Finding(f"execution failed inside the engine: {result.error}: {result.cause}")
    return result.status if result.status != "FAILED" else str(result.error)


# -- ASL definitions ------------------------------------------------------------------------------------------

_PATHS = ["$", "$.a", "$.b", "$.a[0]", "$.items", "$.x.y", "$$.Execution.Id", "$$.State.Name", "$.missing",
          "$.items[*]", "$..a", "$.n"]


@st.composite
def _state(draw: st.DrawFn, depth: int, names: list[str], index: int) -> dict[str, Any]:
    last = index == len(names) - 1
    kinds = ["Pass", "Pass", "Wait", "Task"] + (["Map", "Parallel"] if depth < 2 else [])
    kinds += ["Succeed", "Fail"] if last else ["Choice"]  # so that every state can be reached
    kind = draw(st.sampled_from(kinds))
    state: dict[str, Any] = {"Type": kind}
    optional = {
        "InputPath": st.sampled_from([*_PATHS, None]), "OutputPath": st.sampled_from([*_PATHS, None]),
        "ResultPath": st.sampled_from([*_PATHS, None, "$.r"]),
        "Parameters": st.dictionaries(st.sampled_from(["k", "v", "w"]), json_values, max_size=2)
        | st.dictionaries(st.sampled_from(["k.$", "v.$"]),
                          st.sampled_from([*_PATHS, "States.Array($.a)", "States.Format('{}', $.a)"]), max_size=2),
        "Result": json_values, "Comment": st.text(max_size=5),
    }
    allowed = {"Pass": set(optional), "Task": set(optional) - {"Result"}, "Map": set(optional) - {"Result"},
               "Parallel": set(optional) - {"Result"}, "Choice": {"InputPath", "OutputPath", "Comment"},
               "Wait": {"InputPath", "OutputPath", "Comment"}, "Succeed": {"InputPath", "OutputPath", "Comment"},
               "Fail": {"Comment"}}[kind]
    for field in sorted(allowed):
        if draw(st.integers(0, 3)) == 0:
            state[field] = draw(optional[field])
    later = names[index + 1:]
    if kind == "Choice":
        state["Choices"] = draw(st.lists(choice_rules(), min_size=1, max_size=2))
        for rule in state["Choices"]:
            rule["Next"] = draw(st.sampled_from(names))
        state["Default"] = draw(st.sampled_from(later))
    elif kind == "Wait":
        field = draw(st.sampled_from(["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]))
        state[field] = draw({"Seconds": st.integers(0, 3), "SecondsPath": st.sampled_from(_PATHS),
                             "Timestamp": st.sampled_from(["2026-01-01T00:00:00Z", "2016-03-14T01:59:00.123Z"]),
                             "TimestampPath": st.sampled_from(_PATHS)}[field])
    elif kind == "Fail":
        for field in ("Error", "Cause"):
            if draw(st.booleans()):
                state[field] = draw(st.text(max_size=8))
    elif kind == "Map":
        state["ItemsPath"] = draw(st.sampled_from(["$.items", "$.a", "$"]))
        state["ItemProcessor"] = draw(_graph(depth + 1, f"{names[index]}m"))
        if draw(st.booleans()):
            state["MaxConcurrency"] = draw(st.integers(0, 3))
    elif kind == "Parallel":
        state["Branches"] = [draw(_graph(depth + 1, f"{names[index]}p{i}")) for i in range(draw(st.integers(1, 2)))]
    elif kind == "Task":
        # No handler is registered: the task fails with a named error, which Retry/Catch may handle.
        state["Resource"] = draw(st.sampled_from(["arn:aws:states:::lambda:invoke",
                                                  "arn:aws:lambda:us-east-1:123456789012:function:f"]))
        if draw(st.booleans()):
            state["Retry"] = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": draw(st.integers(0, 2)),
                               "IntervalSeconds": draw(st.integers(1, 3)),
                               "BackoffRate": draw(st.sampled_from([1.0, 2.0]))}]
        if draw(st.booleans()):
            state["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": draw(st.sampled_from(names))}]
    if kind not in ("Choice", "Succeed", "Fail"):
        if last:
            state["End"] = True
        else:  # mostly onwards, so that most definitions are valid; now and then back (a loop)
            state["Next"] = names[index + 1] if draw(st.integers(0, 5)) else draw(st.sampled_from(names))
    return state


@st.composite
def _graph(draw: st.DrawFn, depth: int = 0, prefix: str = "") -> dict[str, Any]:
    # State names are unique across the whole definition, nested graphs included, as ASL requires.
    names = [f"{prefix}S{i}" for i in range(draw(st.integers(1, 4)))]
    start = names[0] if draw(st.integers(0, 19)) else "Nowhere"
    graph: dict[str, Any] = {"StartAt": start,
                             "States": {name: draw(_state(depth, names, i)) for i, name in enumerate(names)}}
    if depth == 0 and draw(st.integers(0, 3)) == 0:
        graph["TimeoutSeconds"] = draw(st.integers(1, 3))
    return graph


definitions = _graph()


def check_definition(case: tuple[dict[str, Any], Any]) -> str:
    """The validator answers with diagnostics; a definition it accepts runs to a named end on the engine."""
    from stepfn.asl.validate import validate_definition

    definition, execution_input = case
    diagnostics = within(CALL_SECONDS, lambda: validate_definition(definition))
    if diagnostics:
        return "invalid"
    return run_execution(definition, execution_input)


# -- paths ----------------------------------------------------------------------------------------------------

_PATH_TOKENS = ["$", "$$", "$var", ".", "..", "a", "b", "_", "[", "]", "0", "1", "-1", "*", "'", '"', "@", ":",
                ",", "?(", "@.a", " > ", "==", ")", "length", "(", " ", "['a']", "[0:2]", "\\", "é", "\x00", "{",
                "}", "States", "Execution.Id"]
_PATH_STEPS = [".a", ".b", ".items", "[0]", "[1]", "[-1]", "[*]", "..a", "['a b']", "[0:2]", "[::2]", "[?(@.a > 1)]",
               "[?(@.b == 'x')]", ".length()", "[0,1]", "['a','b']", ".*", "[", ".", "[x]", "[?(@.a >)]"]
path_texts = (
    st.tuples(st.sampled_from(["$", "$$", "$var", "$.", ""]), st.lists(st.sampled_from(_PATH_STEPS), max_size=5))
    .map(lambda parts: parts[0] + "".join(parts[1])).filter(lambda text: text != "$.")
    | st.lists(st.sampled_from(_PATH_TOKENS), max_size=12).map("".join)
    | st.text(max_size=16)
)


def check_path(case: tuple[str, Any, Any]) -> str:
    """compile_path / compile_reference_path, then find and assign on any JSON value."""
    from stepfn.asl.paths import PathNotFound, compile_path, compile_reference_path

    text, data, value = case

    def use() -> None:
        path = compile_path(text)
        with contextlib.suppress(PathNotFound):
            path.find(data)
        reference = compile_reference_path(text)
        with contextlib.suppress(PathNotFound):
            reference.assign(data, value)

    return classify(use)


# -- intrinsic functions ----------------------------------------------------------------------------------------


@st.composite
def intrinsic_texts(draw: st.DrawFn, depth: int = 0) -> str:
    from stepfn.asl.intrinsics import FUNCTION_NAMES

    name = draw(st.sampled_from([f"States.{name}" for name in sorted(FUNCTION_NAMES)]
                                + ["States.Nope", "States", "Format", "States.format"]))
    argument = st.sampled_from(["$.a", "$.b", "$.n", "$.s", "$$.Execution.Id", "$", "$.missing", "$v", "null", "true"]) \
        | st.integers(-(10**6), 10**6).map(str) | st.floats(allow_nan=False, allow_infinity=False).map(repr) \
        | st.text(max_size=8).map(lambda s: "'" + s.replace("'", "\\'") + "'") \
        | st.sampled_from(["'{}'", "'{} {}'", "'\\{'", "'unterminated", ",", "(", ")", "'SHA-256'", "'MD5'", "1e400"])
    if depth < 2:
        argument = argument | intrinsic_texts(depth + 1)
    arguments = draw(st.lists(argument, max_size=4))
    text = f"{name}({', '.join(arguments)})"
    if draw(st.integers(0, 9)) == 0:  # now and then, damage it
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from(["", "(", ")", "'", ",", " "])) + text[cut:]
    return text


def check_intrinsic(case: tuple[str, dict[str, Any]]) -> str:
    """parse_intrinsic, then evaluate_intrinsic against an input (paths resolve in it)."""
    from stepfn.asl.intrinsics import evaluate_intrinsic, parse_intrinsic
    from stepfn.asl.paths import PathNotFound, compile_path
    from stepfn.errors import StatesError

    text, data = case

    def resolve(path: str) -> Any:
        try:
            return compile_path(path).find({"$": data}.get(path[:1], data))
        except PathNotFound as exc:
            raise StatesError("States.Runtime", str(exc)) from None

    return classify(lambda: evaluate_intrinsic(parse_intrinsic(text), resolve, new_uuid=lambda: str(uuid.uuid4())))


# -- JSONata ------------------------------------------------------------------------------------------------------

_JSONATA_TOKENS = [
    "$states.input", "$states.input.a", "$states.input.items", "$states.context.Execution.Id", "$", "$v", "1",
    "2.5", "0", "-3", "1e308", "'s'", '"t"', "+", "-", "*", "/", "%", "&", "=", "!=", "<", ">=", "and", "or", "in",
    "(", ")", "[", "]", "{", "}", ":", ",", ".", "?", "..", ":=", ";", "true", "false", "null", "~>", "$count(",
    "$sum(", "$string(", "$number(", "$split(", "$join(", "$uuid()", "$partition(", "$range(", "$hash(",
    "$random()", "$parse(", "$map(", "$filter(", "$keys(", "$lookup(", "$substring(", "$length(", "$x",
    "function($a){$a}", "$sort(", "$reverse(", "$append(", "$exists(", "$boolean(", "$not(", "[1..5]", "$eval(",
]
jsonata_texts = st.lists(st.sampled_from(_JSONATA_TOKENS), min_size=1, max_size=10).map(" ".join) \
    | st.text(max_size=16)


def check_jsonata(case: tuple[str, Any]) -> str:
    """compile_jsonata, then evaluate with ``$states.input`` bound to any JSON value."""
    from stepfn.asl.jsonata import compile_jsonata

    text, data = case
    states = {"input": data, "context": {"Execution": {"Id": f"{ARN}:execution:fuzz:1"}}}
    return classify(lambda: compile_jsonata(text).evaluate(states, {"v": [1, 2]}, field="Output",
                                                           new_uuid=lambda: str(uuid.uuid4())))


def check_jsonata_state(case: tuple[str, Any]) -> str:
    """The same expressions as a JSONata Pass state's Output, run by the engine."""
    text, data = case
    definition = {"QueryLanguage": "JSONata", "StartAt": "P",
                  "States": {"P": {"Type": "Pass", "Output": "{% " + text + " %}", "End": True}}}
    return run_execution(definition, data)


# -- placeholders ---------------------------------------------------------------------------------------------

placeholder_names = st.lists(st.text(max_size=8) | st.integers(-3, 3), min_size=1, max_size=3)


def check_placeholder(case: tuple[str, list[str | int], Any, bool]) -> str:
    """A placeholder with any names, through Pass(parameters=...) to ASL, the validator and the engine."""
    from stepfn.asl.validate import validate_definition
    from stepfn.inputs import ExecutionInput, StepInput
    from stepfn.steps import Graph, Pass

    kind, names, leaf, shaped = case
    execution_input: Any = leaf
    if shaped:  # an input where the placeholder's path exists, so the engine gets past the lookup
        for name in reversed(names):
            execution_input = {name: execution_input} if isinstance(name, str) else [execution_input] * (abs(name) + 1)

    def build() -> dict[str, Any]:
        placeholder: Any = ExecutionInput() if kind == "execution" else StepInput()
        for name in names:
            placeholder = placeholder[name]
        return dict(json.loads(Graph(Pass("P", parameters={"value": placeholder})).to_json()))

    outcome: dict[str, Any] = {}
    label = classify(lambda: outcome.setdefault("definition", build()), allowed=(ValueError,))
    if label != "ok":
        return label
    definition = outcome["definition"]
    if within(CALL_SECONDS, lambda: validate_definition(definition)):
        return "invalid"
    return run_execution(definition, execution_input)


# -- Choice rules -------------------------------------------------------------------------------------------------


@st.composite
def choice_rules(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    from stepfn.asl.definition import COMPARISON_OPERATORS

    if depth < 2 and draw(st.integers(0, 3)) == 0:
        operator = draw(st.sampled_from(["And", "Or", "Not"]))
        inner = draw(st.lists(choice_rules(depth + 1), min_size=1, max_size=2))
        rule: dict[str, Any] = {operator: inner[0] if operator == "Not" else inner}
    else:
        operator = draw(st.sampled_from(sorted(COMPARISON_OPERATORS)))
        value = draw(st.sampled_from(_PATHS) if operator.endswith("Path") else
                     json_values | st.sampled_from(["2026-01-01T00:00:00Z", "a*", "*", "\\*", True, 3]))
        rule = {"Variable": draw(st.sampled_from(_PATHS)), operator: value}
    if depth == 0:
        rule["Next"] = "Yes"
    return rule


def check_choice(case: tuple[dict[str, Any], Any]) -> str:
    from stepfn.asl.validate import validate_definition

    rule, execution_input = case
    definition = {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [rule], "Default": "No"},
        "Yes": {"Type": "Pass", "Result": "yes", "End": True},
        "No": {"Type": "Pass", "Result": "no", "End": True},
    }}
    if within(CALL_SECONDS, lambda: validate_definition(definition)):
        return "invalid"
    return run_execution(definition, execution_input)


@st.composite
def authored_rules(draw: st.DrawFn, depth: int = 0) -> tuple[Any, ...]:
    """A ChoiceRule call tree as data: ("And"|"Or", [..]), ("Not", rule) or (operator, variable, value)."""
    from stepfn.asl.definition import COMPARISON_OPERATORS

    if depth < 2 and draw(st.integers(0, 3)) == 0:
        operator = draw(st.sampled_from(["And", "Or", "Not"]))
        if operator == "Not":
            return (operator, draw(authored_rules(depth + 1)))
        return (operator, draw(st.lists(authored_rules(depth + 1), max_size=2)))
    operator = draw(st.sampled_from(sorted(COMPARISON_OPERATORS)))
    variable = draw(st.sampled_from(_PATHS) | path_texts | st.none() | st.integers())
    value = draw(st.sampled_from(_PATHS) | json_values)
    return (operator, variable, value)


def _build_rule(spec: tuple[Any, ...]) -> Any:
    from stepfn.steps import ChoiceRule

    if spec[0] in ("And", "Or"):
        return getattr(ChoiceRule, spec[0])([_build_rule(inner) for inner in spec[1]])
    if spec[0] == "Not":
        return ChoiceRule.Not(_build_rule(spec[1]))
    return getattr(ChoiceRule, spec[0])(spec[1], spec[2])


def check_authored_choice(case: tuple[tuple[Any, ...], Any]) -> str:
    """ChoiceRule builders of the authoring API with any arguments, then the validator and the engine.

    ``ValueError``/``TypeError`` count as named: the original SDK's builders raise them for bad arguments."""
    from stepfn.steps import Choice, Graph, Pass

    spec, execution_input = case

    def build() -> dict[str, Any]:
        choice = Choice("C")
        choice.add_choice(_build_rule(spec), Pass("Yes"))
        choice.default_choice(Pass("No"))
        return dict(json.loads(Graph(choice).to_json()))

    outcome: dict[str, Any] = {}
    label = classify(lambda: outcome.setdefault("definition", build()), allowed=(ValueError, TypeError))
    if label != "ok":
        return label
    return check_definition((outcome["definition"], execution_input))


# -- execution inputs ---------------------------------------------------------------------------------------------

execution_input_texts = (
    json_values.map(json.dumps)
    | st.text(max_size=20)
    | st.sampled_from(["NaN", "[Infinity]", '{"a": 1e999}', '"\\ud800"', "{" * 50 + "}" * 50, "[" * 2000 + "]" * 2000])
    | st.integers(262_000, 263_000).map(lambda size: json.dumps({"pad": "x" * size}))
)

_clients: dict[str, Any] = {}


def _client() -> tuple[Any, str]:
    from stepfn.workflow.local_client import LocalStepFunctionsClient

    with _engine_lock:
        if "client" not in _clients:
            client = LocalStepFunctionsClient(Path(tempfile.mkdtemp(prefix="stepfn-fuzz-")), resume=False)
            definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"in.$": "$"},
                                                              "End": True}}}
            arn = client.create_state_machine(name="fuzz-inputs", definition=json.dumps(definition),
                                              roleArn=ROLE)["stateMachineArn"]
            _clients["client"], _clients["arn"] = client, arn
        return _clients["client"], _clients["arn"]


def check_execution_input(text: str) -> str:
    """StartExecution with any input text: refused with AWS's error, or run to a named end and recorded."""
    client, arn = _client()
    started: dict[str, Any] = {}
    label = classify(lambda: started.update(client.start_execution(stateMachineArn=arn, input=text)))
    if label != "ok":
        return label
    execution = started["executionArn"]
    if not client.wait_for_execution(execution, EXECUTION_SECONDS):
        raise Finding(f"execution still running after {EXECUTION_SECONDS:g} s")
    described = client.describe_execution(executionArn=execution)
    if "Internal engine error" in described.get("cause", ""):
        raise Finding(f"execution failed inside the engine: {described}")
    history = client.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    if [e["id"] for e in history] != list(range(1, len(history) + 1)):
        raise Finding("history ids are not 1..N")
    return str(described["status"] if described["status"] != "FAILED" else described["error"])


# -- SageMaker request arguments ----------------------------------------------------------------------------------

_IMAGES = ["123456789012.dkr.ecr.us-east-1.amazonaws.com/algo:1", "", "not an image", "algo:latest"]
_TYPES = ["ml.m5.large", "ml.p3.2xlarge", "local", "ml.m5.huge", "", "ml.m5.large "]
_URIS = ["s3://bucket/train", "s3://bucket", "s3://", "file:///tmp/x", "/tmp/x", "", "s3://b/k with space"]
loose = st.none() | st.booleans() | st.integers(-5, 10**6) | st.text(max_size=6)


@st.composite
def sagemaker_cases(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "kind": draw(st.sampled_from(["estimator", "sklearn", "processor"])),
        "image_uri": draw(st.sampled_from(_IMAGES) | st.text(max_size=10)),
        "instance_type": draw(st.sampled_from(_TYPES) | loose),
        "instance_count": draw(st.integers(-1, 3) | loose),
        "hyperparameters": draw(st.none() | st.dictionaries(st.text(max_size=6), json_values, max_size=3)),
        "max_run": draw(st.none() | st.integers(-1, 10**7) | loose),
        "volume_size": draw(st.integers(-1, 100) | loose),
        "output_path": draw(st.none() | st.sampled_from(_URIS)),
        "inputs": draw(st.none() | st.sampled_from(_URIS)
                       | st.dictionaries(st.sampled_from(["train", "test", "bad name", ""]), st.sampled_from(_URIS),
                                         max_size=2)),
        "job_name": draw(st.none() | st.sampled_from(["job-1", "job_1", "-x", "a" * 64, "a" * 63]) | st.text(max_size=8)),
        "entry_point": draw(st.sampled_from(["train.py", "", "dir/train.py"]) | st.text(max_size=6)),
    }


def check_sagemaker(case: dict[str, Any]) -> str:
    """Build a CreateTrainingJob / CreateProcessingJob request from any arguments.

    ``ValueError`` and ``TypeError`` count as named here: the sagemaker SDK v2, whose API these builders keep,
    answers bad arguments with them (``RequestValidationError`` is a ``ValueError`` too)."""
    from stepfn.sagemaker import Estimator, Session, SKLearn, build_training_job_request
    from stepfn.sagemaker.processing import Processor, build_processing_job_request

    session = Session(region_name="us-east-1", default_bucket="bucket")
    role = "arn:aws:iam::123456789012:role/SageMakerRole"

    def build() -> dict[str, Any]:
        common = {"role": role, "instance_count": case["instance_count"], "instance_type": case["instance_type"],
                  "volume_size": case["volume_size"], "sagemaker_session": session}
        if case["kind"] == "processor":
            processor = Processor(role=role, image_uri=case["image_uri"], instance_count=case["instance_count"],
                                  instance_type=case["instance_type"], volume_size_in_gb=case["volume_size"],
                                  max_runtime_in_seconds=case["max_run"], sagemaker_session=session)
            return build_processing_job_request(processor, job_name=case["job_name"])
        if case["kind"] == "sklearn":
            estimator: Any = SKLearn(entry_point=case["entry_point"], framework_version="1.2-1",
                                     hyperparameters=case["hyperparameters"], output_path=case["output_path"],
                                     max_run=case["max_run"] or 86400, **common)
        else:
            estimator = Estimator(case["image_uri"], hyperparameters=case["hyperparameters"],
                                  output_path=case["output_path"], max_run=case["max_run"] or 86400, **common)
        return build_training_job_request(estimator, case["inputs"], case["job_name"])

    return classify(build, allowed=(ValueError, TypeError))


# -- the registry -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    strategy: Any
    check: Callable[[Any], str]


TARGETS: dict[str, Target] = {
    "definitions": Target(st.tuples(definitions, object_inputs), check_definition),
    "paths": Target(st.tuples(path_texts, json_values, json_values), check_path),
    "intrinsics": Target(st.tuples(intrinsic_texts(), object_inputs), check_intrinsic),
    "jsonata": Target(st.tuples(jsonata_texts, json_values), check_jsonata),
    "jsonata_states": Target(st.tuples(jsonata_texts, json_values), check_jsonata_state),
    "placeholders": Target(st.tuples(st.sampled_from(["execution", "step"]), placeholder_names, json_values,
                                     st.booleans()), check_placeholder),
    "choice_rules": Target(st.tuples(choice_rules(), object_inputs), check_choice),
    "authored_choice_rules": Target(st.tuples(authored_rules(), object_inputs), check_authored_choice),
    "execution_inputs": Target(execution_input_texts, check_execution_input),
    "sagemaker_requests": Target(sagemaker_cases(), check_sagemaker),
}


def fuzz(name: str, examples: int, *, derandomize: bool = False) -> collections.Counter[str]:
    """Run one target for ``examples`` inputs; the count of each outcome. Raises Finding (shrunk) on a finding.

    ``derandomize``: the same inputs on every run (the test suite's choice, so that it never flakes)."""
    target = TARGETS[name]
    outcomes: collections.Counter[str] = collections.Counter()

    @settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck))
    @given(target.strategy)
    def probe(case: Any) -> None:
        outcomes[target.check(case)] += 1

    probe()
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="inputs per target")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS), help="default: every target")
    args = parser.parse_args(argv)
    total, failed = 0, False
    for name in args.target or list(TARGETS):
        started = time.monotonic()
        try:
            outcomes = fuzz(name, args.examples)
        except Finding as finding:
            print(f"{name}: FINDING {finding}")
            failed = True
            continue
        tried = sum(outcomes.values())
        total += tried
        top = ", ".join(f"{label} {count}" for label, count in outcomes.most_common(6))
        print(f"{name}: {tried} inputs in {time.monotonic() - started:.1f} s, no finding ({top})")
    print(f"total: {total} inputs tried{'; findings above' if failed else ', no finding'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["TARGETS", "Finding", "classify", "fuzz", "within"]
