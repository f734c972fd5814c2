"""The handler host: one model's handler chain, run by a framework environment's Python for stepfn's model server.

A model trained in a framework environment (:mod:`stepfn.local.sagemaker.envs`) is served from that environment,
as SageMaker's container runs the user's code with the image's libraries: a scikit-learn 0.20.0 script's
``from sklearn.externals import joblib`` imports there and nowhere newer. The model server keeps the HTTP side
in stepfn's Python and starts this file, *by path*, with the environment's interpreter
(:mod:`stepfn.local.sagemaker.hosted` is the other end). So it imports nothing from stepfn and keeps to what
Python 3.7 (the oldest image's) can run: no walrus, no ``match``, no ``X | Y`` outside annotations.

Run as ``python handlerhost.py <container spec JSON>`` (``ModelDir``, ``CodeDir``, ``Program``, ``Framework``).
It loads the model once, then answers on its stdin/stdout; user code's prints go to stderr (the server's log).

Frames: a 4-byte big-endian field count, then per field a 4-byte big-endian length and the bytes.

* host -> server, once: ``[b"ready"]`` or an error frame;
* server -> host: ``[b"invoke", content type, accept, body]`` (an empty type means none given);
* host -> server: ``[b"ok", content type, body]``, or ``[b"error", status, message, traceback]`` (status as
  ASCII digits: 4xx for a request the handlers refuse, 500 for a failure).

The framework defaults are those of SageMaker's scikit-learn, XGBoost and PyTorch containers, as
:mod:`stepfn.local.sagemaker.inference` and ``handlers`` implement them in the server's own Python.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import json
import os
import pickle
import struct
import sys
import traceback
from typing import IO, Any

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
LIBSVM = "text/libsvm"
_UTF8_TYPES = (JSON, CSV, "application/jsonlines")
_LENGTH = struct.Struct(">I")


class InferenceError(Exception):
    """A failure answered with ``status`` (415 unsupported type, 400 bad payload, 500 model error)."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


# -- frames ---------------------------------------------------------------------------------------------


def write_frame(stream: IO[bytes], fields: list[bytes]) -> None:
    parts = [_LENGTH.pack(len(fields))]
    for field in fields:
        parts.append(_LENGTH.pack(len(field)))
        parts.append(field)
    stream.write(b"".join(parts))
    stream.flush()


def _exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError("the stream ended inside a frame")
    return data


def read_frame(stream: IO[bytes]) -> list[bytes] | None:
    """The next frame's fields, or None at the end of the stream."""
    head = stream.read(_LENGTH.size)
    if not head:
        return None
    if len(head) != _LENGTH.size:
        raise EOFError("the stream ended inside a frame")
    count = _LENGTH.unpack(head)[0]
    return [_exactly(stream, _LENGTH.unpack(_exactly(stream, _LENGTH.size))[0]) for _ in range(count)]


def error_frame(exc: BaseException) -> list[bytes]:
    status = exc.status if isinstance(exc, InferenceError) else 500
    message = str(exc) if isinstance(exc, InferenceError) else f"{type(exc).__name__}: {exc}"
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return [b"error", str(status).encode(), message.encode("utf-8", "replace"), text.encode("utf-8", "replace")]


# -- codecs (the sagemaker-inference toolkit's decoder.py / encoder.py) ----------------------------------


def media_type(header: str | None) -> str | None:
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower() or None


def decode(body: bytes, content_type: str | None) -> Any:
    import numpy as np

    kind = media_type(content_type)
    try:
        if kind == JSON:
            return np.array(json.loads(body.decode("utf-8")))
        if kind == CSV:
            rows = [line.split(",") for line in body.decode("utf-8").strip().splitlines() if line.strip()]
            array = np.array(rows)
            return array.astype(float) if array.size else array
        if kind == NPY:
            # allow_pickle stays off: a request body must never run code in the server.
            return np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InferenceError(f"Unable to decode {kind} payload: {exc}", 400) from exc
    raise InferenceError(f"Content type {content_type} is not supported by this format.", 415)


def _to_list(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode(array: Any, accept: str) -> bytes:
    import numpy as np

    kind = media_type(accept)
    if kind == JSON:
        return json.dumps(array, default=_to_list).encode("utf-8")
    if kind == CSV:
        rows = np.asarray(array)
        if rows.ndim <= 1:
            return "".join(f"{value}\n" for value in rows.ravel().tolist()).encode("utf-8")
        return "".join(",".join(str(value) for value in row) + "\n" for row in rows.tolist()).encode("utf-8")
    if kind == NPY:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(array))
        return buffer.getvalue()
    raise InferenceError(f"Accept type {accept} is not supported by this format.", 406)


# -- framework defaults -----------------------------------------------------------------------------------


class Defaults:
    default_accept = JSON

    def model_fn(self, model_dir: str) -> Any:
        raise InferenceError("Please provide a model_fn implementation: this container has no default model "
                             "loader. See https://sagemaker.readthedocs.io/en/stable/frameworks/sklearn/"
                             "using_sklearn.html#load-a-model")

    def input_fn(self, body: bytes, content_type: str | None) -> Any:
        return decode(body, content_type)

    def predict_fn(self, data: Any, model: Any) -> Any:
        predict = getattr(model, "predict", None)
        return predict(data) if callable(predict) else model(data)

    def output_fn(self, prediction: Any, accept: str) -> Any:
        return encode(prediction, accept), accept


def _model_files(model_dir: str) -> list[str]:
    return sorted(os.path.join(model_dir, name) for name in os.listdir(model_dir)
                  if not name.startswith(".") and os.path.isfile(os.path.join(model_dir, name)))


class SklearnDefaults(Defaults):
    """sagemaker-scikit-learn-container: a ``model.joblib`` (or the one ``*.joblib``/``*.pkl``) loaded without a
    ``model_fn``, as stepfn's own server does; float32 rows into ``model.predict``."""

    def model_fn(self, model_dir: str) -> Any:
        try:
            import joblib
        except ImportError:  # scikit-learn 0.20's images have it only inside scikit-learn
            from sklearn.externals import joblib  # type: ignore[no-redef, attr-defined, unused-ignore]
        named = os.path.join(model_dir, "model.joblib")
        candidates = [named] if os.path.isfile(named) else [
            path for path in _model_files(model_dir) if path.endswith((".joblib", ".pkl"))]
        if len(candidates) != 1:
            return Defaults.model_fn(self, model_dir)
        return joblib.load(candidates[0])

    def input_fn(self, body: bytes, content_type: str | None) -> Any:
        data = decode(body, content_type)
        if media_type(content_type) in _UTF8_TYPES:
            data = data.astype("float32")
        return data.reshape(1, -1) if data.ndim == 1 else data


class XGBoostDefaults(Defaults):
    """sagemaker-xgboost-container's serving defaults: a pickled model or a Booster file, CSV or LIBSVM rows."""

    default_accept = CSV

    def model_fn(self, model_dir: str) -> Any:
        import xgboost as xgb

        files = _model_files(model_dir)
        if not files:
            raise InferenceError(f"No model file found in {model_dir}")
        with open(files[0], "rb") as handle:
            data = handle.read()
        try:
            # The container itself tries pickle first: model artifacts are the account's own training output.
            return pickle.loads(data)
        except Exception:
            booster = xgb.Booster()
            booster.load_model(bytearray(data))
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

                lines = [line if ":" not in line.split(" ", 1)[0] else "0 " + line
                         for line in body.decode().splitlines()]
                features, _ = load_svmlight_file(io.BytesIO("\n".join(lines).encode()), zero_based=True)
                return xgb.DMatrix(features)
        except Exception as exc:
            raise InferenceError(f"Unable to parse {kind} payload: {exc}", 415) from exc
        raise InferenceError(f"Content-type {content_type} not supported by this model's environment: send text/csv or "
                             "text/libsvm", 415)

    def predict_fn(self, data: Any, model: Any) -> Any:
        return model.predict(data)

    def output_fn(self, prediction: Any, accept: str) -> Any:
        values = [str(v) for v in prediction.tolist()]
        if os.environ.get("SAGEMAKER_BATCH"):
            return "\n".join(values) + "\n", CSV
        return ",".join(values), CSV


class PyTorchDefaults(Defaults):
    """sagemaker-pytorch-inference-toolkit's defaults: a TorchScript ``model.pt``, tensors in and out."""

    def model_fn(self, model_dir: str) -> Any:
        import torch

        path = os.path.join(model_dir, "model.pt")
        if not os.path.isfile(path):
            raise InferenceError("Please provide a model_fn implementation: the PyTorch container's default loads "
                                 f"a TorchScript model.pt, and {model_dir} has none.")
        model = torch.jit.load(path, map_location="cpu")
        model.eval()
        return model

    def input_fn(self, body: bytes, content_type: str | None) -> Any:
        import torch

        array = decode(body, content_type)
        if media_type(content_type) in (JSON, CSV):
            return torch.FloatTensor(array)
        return torch.from_numpy(array)

    def predict_fn(self, data: Any, model: Any) -> Any:
        import torch

        with torch.no_grad():
            return model(data)

    def output_fn(self, prediction: Any, accept: str) -> Any:
        if hasattr(prediction, "detach"):
            prediction = prediction.detach().cpu().numpy().tolist()
        return encode(prediction, accept), accept


DEFAULTS = {"generic": Defaults, "sklearn": SklearnDefaults, "xgboost": XGBoostDefaults, "pytorch": PyTorchDefaults}


# -- the chain --------------------------------------------------------------------------------------------


def _takes_context(function: Any, given: int) -> bool:
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) > given or any(p.kind == p.VAR_POSITIONAL for p in parameters)


class Context:
    """The toolkit's ``context`` argument, for handlers that take one."""

    def __init__(self, model_dir: str) -> None:
        self.system_properties = {"model_dir": model_dir, "gpu_id": None}


class Chain:
    """The user's functions over the framework's defaults, as the container's handler service calls them."""

    def __init__(self, spec: dict[str, Any]) -> None:
        framework = spec.get("Framework") or "generic"
        if framework not in DEFAULTS:
            raise InferenceError(f"No serving defaults in a framework environment for {framework!r}")
        self.defaults = DEFAULTS[framework]()
        self.model_dir = str(spec["ModelDir"])
        self.context = Context(self.model_dir)
        self.module = self._program(str(spec.get("CodeDir") or self.model_dir), spec.get("Program"))
        self._calls: dict[str, tuple[Any, bool]] = {}
        chain = ("input_fn", "predict_fn", "output_fn")
        if self._user("transform_fn") is not None and any(self._user(name) is not None for name in chain):
            raise InferenceError("Cannot use transform_fn implementation in conjunction with input_fn, predict_fn, "
                                 "and/or output_fn implementation")
        self.model = self._call("model_fn", self.model_dir)

    @staticmethod
    def _program(code_dir: str, program: str | None) -> Any:
        if not program:
            return None
        path = os.path.join(code_dir, program if os.path.splitext(program)[1] else program + ".py")
        # SAGEMAKER_PROGRAM comes from the CreateModel request: it may name only a file of the model's own code.
        if os.path.commonpath([os.path.realpath(path), os.path.realpath(code_dir)]) != os.path.realpath(code_dir):
            raise InferenceError(f"Entry point {program} is outside the model's code directory {code_dir}")
        if not os.path.isfile(path):
            raise InferenceError(f"Entry point {program} not found in {code_dir}")
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)  # the program imports its sibling modules, as in the container
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise InferenceError(f"Cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    def _user(self, name: str) -> Any:
        function = getattr(self.module, name, None) if self.module is not None else None
        return function if callable(function) else None

    def _call(self, name: str, *args: Any) -> Any:
        known = self._calls.get(name)
        if known is None:
            user = self._user(name)
            function = user if user is not None else getattr(self.defaults, name)
            known = (function, _takes_context(function, len(args)))
            self._calls[name] = known
        function, wants_context = known
        return function(*args, self.context) if wants_context else function(*args)

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        if not accept or media_type(accept) == "*/*":
            accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", self.defaults.default_accept)
        if self._user("transform_fn") is not None:
            result = self._call("transform_fn", self.model, body, content_type, accept)
        else:
            data = self._call("input_fn", body, content_type)
            prediction = self._call("predict_fn", data, self.model)
            result = self._call("output_fn", prediction, accept)
        if isinstance(result, tuple):
            payload, response_type = result[0], str(result[1])
        else:
            payload, response_type = result, accept
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        if not isinstance(payload, (bytes, bytearray)):
            raise InferenceError(f"output_fn returned {type(payload).__name__}, expected bytes or str")
        return bytes(payload), response_type


def serve(spec: dict[str, Any], requests: IO[bytes], replies: IO[bytes]) -> int:
    """Load the model, say so, then answer invocations until the server closes ``requests``."""
    try:
        chain = Chain(spec)
    except BaseException as exc:
        write_frame(replies, error_frame(exc))
        return 1
    write_frame(replies, [b"ready"])
    while True:
        fields = read_frame(requests)
        if fields is None:
            return 0
        if len(fields) != 4 or fields[0] != b"invoke":
            write_frame(replies, error_frame(InferenceError("the handler host got a malformed frame")))
            continue
        try:
            content_type = fields[1].decode("latin-1") or None
            accept = fields[2].decode("latin-1") or None
            body, response_type = chain.invoke(fields[3], content_type, accept)
        except Exception as exc:
            write_frame(replies, error_frame(exc))
        else:
            write_frame(replies, [b"ok", response_type.encode("latin-1", "replace"), body])


def main(argv: list[str]) -> int:
    # The frames get the real stdin/stdout; the user's code gets stderr for its prints and nothing to read.
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    with open(argv[0]) as handle:
        spec = json.load(handle)
    return serve(spec, requests, replies)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
