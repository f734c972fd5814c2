"""SageMaker's inference contract inside a model server: the handler chain and the routes
(docs/design/sagemaker-contract.md §4.1).

The spec names one or more production variants; each variant is a list of containers (more than one for a
serial inference pipeline) with its extracted model directory, code directory, entry program, framework and
environment. :meth:`Models.respond` answers:

* ``GET /ping``: 200 (the server listens only once every model is loaded);
* ``POST /invocations``: the handler chain ``input_fn`` -> ``predict_fn`` -> ``output_fn`` (or
  ``transform_fn``) from the entry program, each missing function falling back to the framework's
  default, as the sagemaker-inference toolkit and the framework containers do;
* ``GET /execution-parameters``: the batch parameters of a transform job.

Models load eagerly at start (the toolkit loads lazily) so a broken model fails the endpoint at creation
with the loader's traceback, which is where SageMaker reports a failed health check. The HTTP transport,
the worker processes and the readiness handshake are :mod:`stepfn.local.sagemaker.modelserver`'s.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import io
import json
import os
import pickle
import random
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, Protocol
from urllib.parse import urlsplit

from stepfn._extras import needs_extra, require_extra
from stepfn.local.sagemaker import handlerhost
from stepfn.local.sagemaker.handlerhost import FLASK, attempt, predict_together
from stepfn.local.sagemaker.toolkits import paths_for

JSON = "application/json"
JSONLINES = "application/jsonlines"
CSV = "text/csv"
NPY = "application/x-npy"
LIBSVM = "text/libsvm"
RECORDIO = "application/x-recordio-protobuf"
_UTF8_TYPES = (JSON, CSV, JSONLINES)
Request = tuple[bytes, str | None, str | None, str | None]
"""One invocation: body, ContentType, Accept and CustomAttributes (None where the request has none)."""


class InferenceError(Exception):
    """A failure the server answers with ``status`` (415 unsupported type, 400 bad payload, 500 model error)."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


@functools.lru_cache(maxsize=256)
def media_type(header: str | None) -> str | None:
    """``text/csv; charset=utf-8`` -> ``text/csv``; empty -> None. Cached: each request asks several times, of
    the few values its clients send."""
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower() or None


# -- codecs of the sagemaker-inference toolkit (decoder.py / encoder.py) ------------------------------


@functools.cache
def _numpy(purpose: str) -> ModuleType:
    """numpy, imported once per purpose: the codecs run for every request, and entering ``needs_extra`` and an
    import statement each time cost more than decoding a one-row request."""
    with needs_extra(purpose):
        import numpy

    return numpy


def decode(body: bytes, content_type: str | None) -> Any:
    np = _numpy("Decoding a request with the default input_fn")
    kind = media_type(content_type)
    try:
        if kind == JSON:
            return np.array(json.loads(body.decode("utf-8")))
        if kind == CSV:
            return decode_csv(body)
        if kind == NPY:
            # allow_pickle stays off: a request body must never run code in the server.
            return np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InferenceError(f"Unable to decode {kind} payload: {exc}", 400) from exc
    raise InferenceError(f"Content type {content_type} is not supported by this format.", 415)


# Below this size a request is parsed in Python (a few rows: pandas' per-call cost would dominate); above it,
# by pandas' C parser, 15x faster per row than splitting lines in Python.
_SMALL_CSV = 16 * 1024


def decode_csv(body: bytes) -> Any:
    """CSV rows as a float array (blank lines skipped); ValueError on a non-numeric or ragged row."""
    import numpy as np

    if len(body) > _SMALL_CSV:
        try:
            import pandas as pd
        except ImportError:
            pass
        else:
            try:
                frame = pd.read_csv(io.BytesIO(body), header=None, dtype=np.float64, skip_blank_lines=True)
            except pd.errors.EmptyDataError:
                return np.empty((0,))
            except pd.errors.ParserError as exc:
                raise ValueError(str(exc)) from exc
            return frame.to_numpy()
    text = body.decode("utf-8").strip()
    rows = [line.split(",") for line in text.splitlines() if line.strip()]
    # Straight to floats: numpy converts each string with Python's own float(), as a cast of a string array
    # does, in a quarter of the time (no intermediate array of strings).
    return np.array(rows, dtype=float)


def encode(array: Any, accept: str) -> bytes:
    np = _numpy("Encoding a response with the default output_fn")
    kind = media_type(accept)
    if kind == JSON:
        return json.dumps(array, default=_to_list).encode("utf-8")
    if kind == CSV:
        rows = np.asarray(array)
        if rows.ndim <= 1:
            # One value per line: one join over the whole column (str is what a format field gives these values).
            values = rows.ravel().tolist()
            return ("\n".join(map(str, values)) + "\n").encode("utf-8") if values else b""
        return "".join(",".join(str(value) for value in row) + "\n" for row in rows.tolist()).encode("utf-8")
    if kind == NPY:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(array))
        return buffer.getvalue()
    raise InferenceError(f"Accept type {accept} is not supported by this format.", 406)


def _to_list(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# -- framework defaults ---------------------------------------------------------------------------


def _model_files(model_dir: Path) -> list[Path]:
    return sorted(p for p in model_dir.iterdir() if p.is_file() and not p.name.startswith("."))


class Defaults:
    """The handler chain a framework container uses when the entry program leaves a function out."""

    default_accept = JSON
    object_results = ""
    """How the container's server answers a handler result that is neither bytes nor str (``answer``)."""

    def bind(self, module: ModuleType | None) -> None:
        """The entry program, for defaults that call user functions other than the handler chain's."""

    def model_fn(self, model_dir: str) -> Any:
        raise InferenceError(
            "Please provide a model_fn implementation: this container has no default model loader. "
            "See https://sagemaker.readthedocs.io/en/stable/frameworks/sklearn/using_sklearn.html#load-a-model"
        )

    def input_fn(self, body: bytes, content_type: str | None) -> Any:
        return decode(body, content_type)

    def predict_fn(self, data: Any, model: Any) -> Any:
        predict = getattr(model, "predict", None)
        return predict(data) if callable(predict) else model(data)

    def output_fn(self, prediction: Any, accept: str) -> Any:
        return encode(prediction, accept), accept

    def serve(self, model: Any, body: bytes, content_type: str | None, accept: str,
              custom_attributes: str | None) -> tuple[bytes, str] | None:
        """The whole answer, for a container whose contract is not the handler chain (TF Serving's); None lets
        the chain answer."""
        return None


class SklearnDefaults(Defaults):
    """sagemaker-scikit-learn-container serving: decode -> float32 -> ``model.predict`` -> encode.

    The real container insists on a ``model_fn``; a ``model.joblib`` (or the one ``*.joblib``/``*.pkl``)
    at the model root is loaded here without one, which is what almost every ``model_fn`` does.
    """

    object_results = FLASK

    def model_fn(self, model_dir: str) -> Any:
        import joblib

        root = Path(model_dir)
        named = root / "model.joblib"
        candidates = [named] if named.is_file() else [p for p in _model_files(root) if p.suffix in (".joblib", ".pkl")]
        if len(candidates) != 1:
            return super().model_fn(model_dir)
        return joblib.load(candidates[0])

    def input_fn(self, body: bytes, content_type: str | None) -> Any:
        data = decode(body, content_type)
        if media_type(content_type) in _UTF8_TYPES:
            data = data.astype("float32")
        # One CSV or JSON row decodes to a vector; estimators want a matrix.
        return data.reshape(1, -1) if data.ndim == 1 else data


class XGBoostDefaults(Defaults):
    """sagemaker-xgboost-container algorithm-mode serving (serve.py / serve_utils.py, docs/design/sagemaker-contract.md §5.1)."""

    default_accept = CSV
    object_results = FLASK

    def model_fn(self, model_dir: str) -> Any:
        import xgboost as xgb

        files = _model_files(Path(model_dir))
        if not files:
            raise InferenceError(f"No model file found in {model_dir}")
        path = files[0]
        try:
            with path.open("rb") as handle:
                # The container itself tries pickle first: model artifacts are the account's own training output.
                return pickle.load(handle)
        except Exception:
            booster = xgb.Booster()
            # From bytes: by path, xgboost 3 warns about the extension-less name SageMaker gives the file.
            booster.load_model(bytearray(path.read_bytes()))
            return booster

    def input_fn(self, body: bytes, content_type: str | None) -> Any:
        import numpy as np
        import xgboost as xgb

        kind = media_type(content_type) or CSV
        try:
            if kind == CSV:
                text = body.decode("utf-8").strip()
                rows = [[float(v) if v.strip() else np.nan for v in line.split(",")] for line in text.splitlines()]
                return xgb.DMatrix(np.array(rows, dtype=float))
            if kind in (LIBSVM, "text/x-libsvm"):
                from sklearn.datasets import load_svmlight_file

                lines = [line if ":" not in line.split(" ", 1)[0] else f"0 {line}" for line in body.decode().splitlines()]
                features, _ = load_svmlight_file(io.BytesIO("\n".join(lines).encode()), zero_based=True)
                return xgb.DMatrix(features)
            if kind == RECORDIO:
                from stepfn.local.sagemaker.recordio import read_records_as_arrays

                features, _ = read_records_as_arrays(body)
                return xgb.DMatrix(features)
        except InferenceError:
            raise
        except Exception as exc:
            raise InferenceError(f"Unable to parse {kind} payload: {exc}", 415) from exc
        raise InferenceError(
            f"Content-type {content_type} not supported. Supported content-type is text/csv, text/libsvm, "
            "application/x-recordio-protobuf",
            415,
        )

    def predict_fn(self, data: Any, model: Any) -> Any:
        return model.predict(data)

    def output_fn(self, prediction: Any, accept: str) -> Any:
        values = [str(v) for v in prediction.tolist()]
        if os.environ.get("SAGEMAKER_BATCH"):
            return "\n".join(values) + "\n", CSV
        return ",".join(values), CSV


class BuiltinAlgorithmDefaults(Defaults):
    """KMeans / PCA / LinearLearner as stepfn emulates them (``builtins.load_model`` / ``predict_records``), with
    the algorithms' request formats (CSV rows, ``{"instances": [{"features": [...]}]}``, JSON Lines,
    RecordIO-protobuf) and response formats (``{"predictions": [...]}`` / ``{"projections": [...]}`` as JSON or
    JSON Lines, or one RecordIO-protobuf record per row)."""

    def model_fn(self, model_dir: str) -> Any:
        from stepfn.local.sagemaker.builtins import load_model

        return load_model(model_dir)

    def input_fn(self, body: bytes, content_type: str | None) -> Any:
        import numpy as np

        kind = media_type(content_type) or CSV
        try:
            if kind == RECORDIO:
                from stepfn.local.sagemaker.recordio import read_records_as_arrays

                return read_records_as_arrays(body)[0]
            text = body.decode("utf-8")
            if kind == CSV:
                return np.array([[float(v) for v in line.split(",")] for line in text.splitlines() if line.strip()])
            if kind in (JSON, JSONLINES):
                documents = [json.loads(line) for line in text.splitlines() if line.strip()] if kind == JSONLINES else [json.loads(text)]
                rows: list[Any] = []
                for document in documents:
                    instances = document.get("instances", [document]) if isinstance(document, dict) else document
                    rows.extend(item["features"] if isinstance(item, dict) else item for item in instances)
                return np.array(rows, dtype=float)
        except (ValueError, KeyError, TypeError) as exc:
            raise InferenceError(f"Unable to parse {kind} payload: {exc}", 400) from exc
        raise InferenceError(f"Content type {content_type} is not supported by this algorithm.", 415)

    def predict_fn(self, data: Any, model: Any) -> Any:
        from stepfn.local.sagemaker.builtins import RESPONSE_KEY, predict_records

        return RESPONSE_KEY[model["algorithm"]], predict_records(model, data)

    def output_fn(self, prediction: Any, accept: str) -> Any:
        key, records = prediction
        kind = media_type(accept)
        if kind == JSON:
            return json.dumps({key: records}), JSON
        if kind == JSONLINES:
            return "".join(json.dumps(record) + "\n" for record in records), JSONLINES
        if kind == RECORDIO:
            # The algorithms' predictors (PCAPredictor, KMeansPredictor, ...) ask for this by default: one record per
            # row, each response field a Float32 tensor in the record's label map, as the algorithms answer.
            from stepfn._recordio import encode_label_record, frame_record

            return b"".join(frame_record(encode_label_record(record)) for record in records), RECORDIO
        raise InferenceError(f"Accept type {accept} is not supported by this algorithm.", 406)


class BlazingTextDefaults(Defaults):
    """BlazingText's supervised models as stepfn emulates them: ``{"instances": [sentence, ...], "configuration":
    {"k": n}}`` in JSON, or JSON Lines of ``{"source": sentence}`` (batch transform), answered with each sentence's
    ``{"label": [...], "prob": [...]}`` (its ``k`` most likely labels, default 1) as a JSON list or JSON Lines."""

    def model_fn(self, model_dir: str) -> Any:
        from stepfn.local.sagemaker.builtins import load_model
        from stepfn.local.sagemaker.builtins.blazingtext import with_arrays

        return with_arrays(load_model(model_dir))

    def input_fn(self, body: bytes, content_type: str | None) -> Any:
        kind = media_type(content_type) or JSON
        try:
            text = body.decode("utf-8")
            if kind == JSON:
                document = json.loads(text)
                k = int((document.get("configuration") or {}).get("k", 1))
                return [str(sentence) for sentence in document["instances"]], k
            if kind == JSONLINES:
                lines = [json.loads(line) for line in text.splitlines() if line.strip()]
                return [str(line["source"]) for line in lines], int(lines[0].get("k", 1)) if lines else 1
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InferenceError(f"Unable to parse {kind} payload: {exc}", 400) from exc
        raise InferenceError(f"Content type {content_type} is not supported by this algorithm.", 415)

    def predict_fn(self, data: Any, model: Any) -> Any:
        from stepfn.local.sagemaker.builtins.blazingtext import predict

        sentences, k = data
        return predict(model, sentences, k)

    def output_fn(self, prediction: Any, accept: str) -> Any:
        kind = media_type(accept)
        if kind == JSONLINES:
            return "".join(json.dumps(answer) + "\n" for answer in prediction), JSONLINES
        if kind in (JSON, None, "*/*"):
            return json.dumps(prediction), JSON
        raise InferenceError(f"Accept type {accept} is not supported by this algorithm.", 406)


def _framework_handlers(name: str) -> Callable[[], Defaults]:
    """The defaults of a framework in :mod:`stepfn.local.sagemaker.handlers`, imported when a model needs them."""

    def make() -> Defaults:
        from stepfn.local.sagemaker import handlers

        defaults: Defaults = getattr(handlers, name)()
        return defaults

    return make


FRAMEWORK_DEFAULTS: dict[str, Callable[[], Defaults]] = {
    "generic": Defaults,
    "sklearn": SklearnDefaults,
    "xgboost": XGBoostDefaults,
    "kmeans": BuiltinAlgorithmDefaults,
    "pca": BuiltinAlgorithmDefaults,
    "linear-learner": BuiltinAlgorithmDefaults,
    "blazingtext": BlazingTextDefaults,
    "pytorch": _framework_handlers("PyTorchDefaults"),
    "tensorflow": _framework_handlers("TensorFlowServingDefaults"),
    "huggingface": _framework_handlers("HuggingFaceDefaults"),
}


# -- one container: the user's functions over the framework defaults ----------------------------


@functools.lru_cache(maxsize=256)
def _takes_context(function: Callable[..., Any], given: int) -> bool:
    """Whether ``function`` wants the toolkit's trailing ``context`` after ``given`` arguments. Cached: reading a
    signature costs more than a small model's prediction, and the handlers never change."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) > given or any(p.kind == p.VAR_POSITIONAL for p in parameters)


def _arity_call(function: Callable[..., Any], context: Any, *args: Any) -> Any:
    """Call a handler with or without the toolkit's trailing ``context`` argument, as its signature asks."""
    try:
        wants_context = _takes_context(function, len(args))
    except TypeError:  # an unhashable callable
        wants_context = _takes_context.__wrapped__(function, len(args))
    return function(*args, context) if wants_context else function(*args)


def _load_program(code_dir: Path, program: str) -> ModuleType:
    path = code_dir / program
    if not path.suffix:
        path = path.with_suffix(".py")
    # SAGEMAKER_PROGRAM comes from the CreateModel request: it may name only a file of the model's own code.
    if not path.resolve().is_relative_to(code_dir.resolve()):
        raise InferenceError(f"Entry point {program} is outside the model's code directory {code_dir}")
    if not path.is_file():
        raise InferenceError(f"Entry point {program} not found in {code_dir}")
    # The toolkit puts the code directory on sys.path so the program can import its sibling modules.
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise InferenceError(f"Cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Container:
    model_dir: Path
    defaults: Defaults
    module: ModuleType | None
    context: Any
    model: Any = None

    @classmethod
    def load(cls, spec: dict[str, Any]) -> Container:
        framework = spec.get("Framework") or "generic"
        if framework not in FRAMEWORK_DEFAULTS:
            raise InferenceError(f"No local serving defaults for framework {framework!r}")
        if framework != "generic":
            # The framework defaults load models and parse bodies with numpy, joblib, xgboost: say so up front.
            require_extra("ml", f"Serving a {framework} model locally")
        model_dir = Path(spec["ModelDir"])
        module = None
        for entry in paths_for(framework):
            # The image's toolkit packages (sagemaker_containers...) for its scripts; after the path: an installed one
            # wins.
            if entry not in sys.path:
                sys.path.append(entry)
        if spec.get("Program"):
            lib = Path(spec["CodeDir"]) / "lib"
            if framework == "tensorflow" and lib.is_dir() and str(lib) not in sys.path:
                # The TF Serving container puts code/lib on the path (after code/) before it imports inference.py.
                sys.path.insert(0, str(lib))
            module = _load_program(Path(spec["CodeDir"]), spec["Program"])
            chain = ("input_fn", "predict_fn", "output_fn")
            if hasattr(module, "transform_fn") and any(hasattr(module, name) for name in chain):
                raise InferenceError(
                    "Cannot use transform_fn implementation in conjunction with input_fn, predict_fn, "
                    "and/or output_fn implementation"
                )
        context = SimpleNamespace(system_properties={"model_dir": str(model_dir), "gpu_id": None})
        defaults = FRAMEWORK_DEFAULTS[framework]()
        # Defaults whose contract names other user functions (TF Serving's input_handler/output_handler) see
        # the program.
        defaults.bind(module)
        container = cls(model_dir, defaults, module, context)
        container.model = _arity_call(container._function("model_fn"), context, str(model_dir))
        return container

    def _function(self, name: str) -> Callable[..., Any]:
        user = getattr(self.module, name, None) if self.module is not None else None
        function: Callable[..., Any] = user if callable(user) else getattr(self.defaults, name)
        return function

    def _body_for(self, name: str, body: bytes, content_type: str | None) -> Any:
        """The body as the container's server hands it to the user's handler ``name`` (``handlerhost.user_body``:
        text for the Flask worker's JSON and CSV); the framework's own defaults parse the bytes."""
        user = getattr(self.module, name, None) if self.module is not None else None
        return handlerhost.user_body(body, content_type, self.defaults.object_results) if callable(user) else body

    def _accept(self, accept: str | None) -> str:
        if not accept or media_type(accept) == "*/*":
            return os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", self.defaults.default_accept)
        return accept

    def invoke(self, body: bytes, content_type: str | None, accept: str | None,
               custom_attributes: str | None = None) -> tuple[bytes, str]:
        accept = self._accept(accept)
        served = self.defaults.serve(self.model, body, content_type, accept, custom_attributes)
        if served is not None:
            return served
        transform = getattr(self.module, "transform_fn", None) if self.module is not None else None
        if callable(transform):
            result = _arity_call(transform, self.context, self.model, self._body_for("transform_fn", body, content_type),
                                 content_type, accept)
        else:
            data = _arity_call(self._function("input_fn"), self.context, self._body_for("input_fn", body, content_type),
                               content_type)
            prediction = _arity_call(self._function("predict_fn"), self.context, data, self.model)
            result = _arity_call(self._function("output_fn"), self.context, prediction, accept)
        return _payload(result, accept, self.defaults.object_results)

    @functools.cached_property
    def batches(self) -> bool:
        """Whether requests to this container may share one ``predict`` call (:meth:`invoke_batch`).

        Only the framework's own ``predict_fn`` (``Defaults``/``SklearnDefaults``: ``model.predict``) and only a
        scikit-learn classifier: a user's ``predict_fn`` or ``transform_fn`` may depend on the whole batch, and a
        regressor's floats are not batch independent (BLAS sums a one-row product in another order than a
        many-row one, so the last digit of a prediction can change with its neighbours). A classifier's answer
        is a label: it could change only for a row whose score lies within such a rounding of a decision
        boundary (none in the tests, nor in 2,000 random rows of a LogisticRegression tried one by one and in
        batches of 2 to 64). The user's ``input_fn`` and ``output_fn`` are fine: each still runs once per
        request, on that request alone, and only a request whose ``input_fn`` gives a numpy matrix joins the
        shared prediction."""
        user = ("predict_fn", "transform_fn")
        if self.module is not None and any(callable(getattr(self.module, name, None)) for name in user):
            return False
        if type(self.defaults) not in (Defaults, SklearnDefaults) or "sklearn" not in sys.modules:
            return False
        from sklearn.base import is_classifier

        try:
            return bool(is_classifier(self.model)) and callable(getattr(self.model, "predict", None))
        except Exception:  # a model that answers sklearn's tag protocol badly is simply not batched
            return False

    def invoke_batch(self, requests: list[Request]) -> list[tuple[bytes, str] | BaseException]:
        """Answer several requests with one ``predict`` over their stacked rows (only where :attr:`batches`):
        each request is decoded and encoded on its own, as :meth:`invoke` does, so its answer (or its error)
        is the same bytes it would be alone; only the prediction is shared."""
        if len(requests) == 1 or not self.batches:
            return [attempt(self.invoke, *request) for request in requests]
        input_fn, output_fn = self._function("input_fn"), self._function("output_fn")
        decoded: list[Any] = [attempt(_arity_call, input_fn, self.context, self._body_for("input_fn", body, content_type),
                                      content_type) for body, content_type, *_ in requests]
        predictions = predict_together(decoded, lambda rows: self.defaults.predict_fn(rows, self.model))
        answers: list[tuple[bytes, str] | BaseException] = []
        for index, ((_, _, accept, _), data) in enumerate(zip(requests, decoded, strict=True)):
            if isinstance(data, BaseException):
                answers.append(data)
                continue
            accept = self._accept(accept)
            prediction = predictions[index] if index in predictions else attempt(self.defaults.predict_fn, data, self.model)
            if isinstance(prediction, BaseException):
                answers.append(prediction)
                continue
            answers.append(attempt(lambda p=prediction, a=accept: _payload(_arity_call(output_fn, self.context, p, a), a, self.defaults.object_results)))
        return answers


def _payload(result: Any, accept: str, object_results: str) -> tuple[bytes, str]:
    """``handlerhost.answer`` (the one rule for both sides of the model server), its refusal as this module's error."""
    try:
        return handlerhost.answer(result, accept, object_results)
    except handlerhost.InferenceError as exc:
        raise InferenceError(str(exc), exc.status) from None


class _Pending:
    """A request waiting for the variant: whoever holds the variant's lock answers every request waiting."""

    __slots__ = ("answer", "done", "request")

    def __init__(self, request: Request) -> None:
        self.request = request
        self.answer: tuple[bytes, str] | BaseException | None = None
        self.done = False


class HandlerChain(Protocol):
    """What a variant calls: :class:`Container` in this process, or ``hosted.HostedContainer`` in the model's
    framework environment."""

    def invoke(self, body: bytes, content_type: str | None, accept: str | None,
               custom_attributes: str | None = None) -> tuple[bytes, str]: ...

    def invoke_batch(self, requests: list[Request]) -> list[tuple[bytes, str] | BaseException]: ...


def load_container(spec: dict[str, Any]) -> HandlerChain:
    """The container's handler chain: in its framework environment when its spec names that environment's
    ``Python`` (``models.prepare_container``), else in this process."""
    if spec.get("Python"):
        from stepfn.local.sagemaker.hosted import HostedContainer

        return HostedContainer.load(spec)
    return Container.load(spec)


@dataclass
class Variant:
    name: str
    weight: float
    containers: list[HandlerChain]
    lock: threading.Lock
    _waiting: list[_Pending] = field(default_factory=list)
    _waiting_lock: threading.Lock = field(default_factory=threading.Lock)

    def invoke(self, body: bytes, content_type: str | None, accept: str | None,
               custom_attributes: str | None = None) -> tuple[bytes, str]:
        answer = self.invoke_many([(body, content_type, accept, custom_attributes)])[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def invoke_many(self, requests: list[Request]) -> list[tuple[bytes, str] | BaseException]:
        """Each request's answer, or the exception that failed it.

        Most estimators (xgboost's Booster first of all) are not thread safe, so predictions take the variant's
        lock; the toolkit runs one worker per model. Requests that arrive while another thread predicts wait
        in ``_waiting``, and the next thread to take the lock answers them all at once, with one ``predict``
        where the model allows it (:attr:`Container.batches`): batching adapts to the load with no added wait,
        as a single request is answered the moment the lock is free."""
        pending = [_Pending(request) for request in requests]
        with self._waiting_lock:
            self._waiting.extend(pending)
        with self.lock:
            if not all(item.done for item in pending):
                with self._waiting_lock:
                    batch, self._waiting = self._waiting, []
                self._answer(batch)
        return [item.answer if item.answer is not None else InferenceError("no answer") for item in pending]

    def _answer(self, batch: list[_Pending]) -> None:
        if len(self.containers) == 1:
            answers = self.containers[0].invoke_batch([item.request for item in batch])
        else:
            answers = [attempt(self._through_pipeline, *item.request) for item in batch]
        for item, answer in zip(batch, answers, strict=True):
            item.answer = answer if isinstance(answer, BaseException) else (answer[0], answer[1] or CSV)
            item.done = True

    def _through_pipeline(self, body: bytes, content_type: str | None, accept: str | None,
                          custom_attributes: str | None) -> tuple[bytes, str]:
        for index, container in enumerate(self.containers):
            last = index == len(self.containers) - 1
            # A serial pipeline hands each container's response to the next as its request.
            body, content_type = container.invoke(body, content_type, accept if last else None, custom_attributes)
        return body, content_type or CSV


# -- the routes (the transport, workers and readiness are modelserver.py's) ----------------------------


def _from_this_machine(headers: dict[str, str]) -> bool:
    """Whether a request names this machine as its Host and comes from no web page (no Origin): a page that
    rebinds its DNS name to 127.0.0.1 or calls cross-origin gets 403, as from ``stepfn serve``
    (stepfn.server.auth)."""
    return "origin" not in headers and _names_this_machine(headers.get("host", ""))


@functools.lru_cache(maxsize=64)
def _names_this_machine(host_header: str) -> bool:
    # Cached: clients send the same Host on every request, and parsing it costs more than the rest of the check.
    try:
        host = urlsplit("//" + host_header).hostname
    except ValueError:
        return False
    return host in ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Reply:
    """What the model server writes back: status, content type, body and any extra headers."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    headers: tuple[tuple[str, str], ...] = ()


class Models:
    """The loaded variants of one endpoint (or transform job) and the routes of the inference contract."""

    def __init__(self, variants: list[Variant], batch: dict[str, Any]) -> None:
        self.variants = variants
        self.batch = batch

    @classmethod
    def load(cls, spec: dict[str, Any]) -> Models:
        variants = [
            Variant(v["VariantName"], float(v.get("Weight", 1.0)), [load_container(c) for c in v["Containers"]],
                    threading.Lock())
            for v in spec["variants"]
        ]
        return cls(variants, spec.get("batch") or {})

    def pick(self, target: str | None) -> Variant:
        if target:
            for variant in self.variants:
                if variant.name == target:
                    return variant
            raise InferenceError(f"Target variant {target} not found on this endpoint.", 400)
        if len(self.variants) == 1:
            return self.variants[0]
        weights = [max(v.weight, 0.0) for v in self.variants]
        if not any(weights):
            return self.variants[0]
        return random.choices(self.variants, weights=weights)[0]

    def respond(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one request; ``headers`` has lower-cased names. Never raises: a failure is a 4xx/5xx reply."""
        return self.respond_many([(method, path, headers, body)])[0]

    def respond_many(self, requests: list[tuple[str, str, dict[str, str], bytes]]) -> list[Reply]:
        """Answer requests that arrived together (pipelined on one connection), in order, as :meth:`respond`
        would one by one; the invocations of each variant go to it together, to share a prediction."""
        replies: list[Reply | None] = [None] * len(requests)
        invocations: dict[int, list[tuple[int, Request]]] = {}
        chosen: dict[int, Variant] = {}
        for index, (method, path, headers, body) in enumerate(requests):
            if not _from_this_machine(headers):
                replies[index] = Reply(403, b"request refused: only programs on this machine may call a local endpoint")
            elif method == "GET" and path == "/ping":
                replies[index] = Reply(200)
            elif method == "GET" and path == "/execution-parameters":
                replies[index] = Reply(200, json.dumps(self.batch).encode(), JSON)
            elif method != "POST" or path != "/invocations":
                replies[index] = Reply(404, b"not found")
            else:
                try:
                    variant = self.pick(headers.get("x-amzn-sagemaker-target-variant"))
                except InferenceError as exc:
                    replies[index] = _failure(exc)
                    continue
                if not body:
                    replies[index] = Reply(204, headers=(("X-Amzn-Invoked-Production-Variant", variant.name),))
                    continue
                chosen[id(variant)] = variant
                invocations.setdefault(id(variant), []).append(
                    (index, (body, headers.get("content-type"), headers.get("accept"),
                             headers.get("x-amzn-sagemaker-custom-attributes"))))
        for key, items in invocations.items():
            variant = chosen[key]
            invoked = (("X-Amzn-Invoked-Production-Variant", variant.name),)
            answers = variant.invoke_many([request for _, request in items])
            for (index, _), answer in zip(items, answers, strict=True):
                replies[index] = _failure(answer) if isinstance(answer, BaseException) else Reply(200, answer[0], answer[1], invoked)
        return [reply if reply is not None else Reply(500, b"no answer") for reply in replies]


def _failure(exc: BaseException) -> Reply:
    """The reply to a failed invocation (its traceback goes to the server's log)."""
    traceback.print_exception(exc)
    if isinstance(exc, InferenceError):
        return Reply(exc.status, str(exc).encode())
    return Reply(500, f"{type(exc).__name__}: {exc}".encode())
