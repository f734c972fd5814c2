"""The handler host: one model's handler chain, run by a framework environment's Python for stepfn's model server.

A model trained in a framework environment (:mod:`stepfn.local.sagemaker.envs`) is served from that environment,
as SageMaker's container runs the user's code with the image's libraries: a scikit-learn 0.20.0 script's
``from sklearn.externals import joblib`` imports there and nowhere newer. The model server keeps the HTTP side
in stepfn's Python and starts this file, *by path*, with the environment's interpreter
(:mod:`stepfn.local.sagemaker.hosted` is the other end). So it imports nothing from stepfn and keeps to what
Python 3.7 (the oldest image's) can run: no walrus, no ``match``, no ``X | Y`` outside annotations.

Run as ``python handlerhost.py <container spec JSON>`` (``ModelDir``, ``CodeDir``, ``Program``, ``Framework``,
``Toolkits``: path entries for the image's toolkit packages).
It loads the model once, then answers on its stdin/stdout; user code's prints go to stderr (the server's log).

Frames: a 4-byte big-endian field count, then each field's length (4 bytes, big-endian), then the fields'
bytes one after another.

* host -> server, once: ``[b"ready"]`` or an error frame;
* server -> host: ``[b"invoke", content type, accept, body, custom attributes]`` (an empty type or attribute
  header means none given; a frame without the last field has none);
* host -> server: ``[b"ok", content type, body]``, or ``[b"error", status, message, traceback]`` (status as
  ASCII digits: 4xx for a request the handlers refuse, 500 for a failure);
* server -> host: ``[b"batch"]`` followed by four fields per request (content type, accept, body, custom
  attributes): the requests a model-server worker read in one round, in one pipe round trip;
* host -> server: ``[b"answers"]`` followed by four fields per request, in order: ``b"ok", content type, body,
  b""`` or an error's four fields. Each answer is what the request gets alone (:meth:`Chain.invoke_many`).

The framework defaults are those of SageMaker's scikit-learn, XGBoost and PyTorch containers, as
:mod:`stepfn.local.sagemaker.inference` and ``handlers`` implement them in the server's own Python. A TensorFlow
model is not a handler chain: the TF Serving container's contract (``tfserving.py``, beside this file and as
standalone, loaded by path) answers it, its ``tfs-*`` custom attributes included.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import io
import json
import os
import pickle
import struct
import sys
import traceback
from collections.abc import Callable
from typing import IO, Any

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
LIBSVM = "text/libsvm"
_UTF8_TYPES = (JSON, CSV, "application/jsonlines")
_LENGTH = struct.Struct(">I")
# How a container's server answers a handler result that is neither bytes nor str (:func:`answer`).
FLASK = "flask"
MODEL_SERVER = "model-server"
# The Content-Types whose body the Flask worker of sagemaker-containers hands a user's input_fn or transform_fn as
# text (its Request.content reads the body as text for exactly these), other bodies as bytes.
_FLASK_TEXT_TYPES = (JSON, CSV)


def user_body(body: bytes, content_type: str | None, object_results: str) -> Any:
    """The body as the container's server hands it to a user's ``input_fn`` or ``transform_fn``: for the Flask
    worker of the scikit-learn and XGBoost images (``object_results`` FLASK), a JSON or CSV body as ``str`` (UTF-8,
    undecodable bytes replaced, as Flask's ``get_data(as_text=True)``); otherwise the bytes."""
    if object_results == FLASK and (content_type or "").strip() in _FLASK_TEXT_TYPES:
        return body.decode("utf-8", "replace")
    return body


class InferenceError(Exception):
    """A failure answered with ``status`` (415 unsupported type, 400 bad payload, 500 model error)."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


# -- frames ---------------------------------------------------------------------------------------------


def write_frame(stream: IO[bytes], fields: list[bytes]) -> None:
    stream.write(struct.pack(f">{len(fields) + 1}I", len(fields), *[len(field) for field in fields]))
    stream.write(b"".join(fields))
    stream.flush()


def _exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError("the stream ended inside a frame")
    return data


def read_frame(stream: IO[bytes]) -> list[bytes] | None:
    """The next frame's fields, or None at the end of the stream. Three reads whatever the number of fields (the
    count, the lengths, the bytes): a worker's round of requests is one frame, and a read per field cost as much
    as the rest of the exchange."""
    head = stream.read(_LENGTH.size)
    if not head:
        return None
    if len(head) != _LENGTH.size:
        raise EOFError("the stream ended inside a frame")
    count = _LENGTH.unpack(head)[0]
    lengths = struct.unpack(f">{count}I", _exactly(stream, _LENGTH.size * count))
    data = _exactly(stream, sum(lengths))
    fields = []
    start = 0
    for length in lengths:
        fields.append(data[start:start + length])
        start += length
    return fields


def error_frame(exc: BaseException) -> list[bytes]:
    status = exc.status if isinstance(exc, InferenceError) else 500
    message = str(exc) if isinstance(exc, InferenceError) else f"{type(exc).__name__}: {exc}"
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return [b"error", str(status).encode(), message.encode("utf-8", "replace"), text.encode("utf-8", "replace")]


# -- codecs (the sagemaker-inference toolkit's decoder.py / encoder.py) ----------------------------------


@functools.lru_cache(maxsize=256)
def media_type(header: str | None) -> str | None:
    """``text/csv; charset=utf-8`` -> ``text/csv``; empty -> None. Cached: each request asks several times, of the
    few values its clients send."""
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
    text_types: tuple[str, ...] = ()
    """Content types whose body the handlers get as ``str`` (UTF-8 decoded), as the Hugging Face toolkit does."""
    error_status: int | None = None
    """The status every handler failure gets (the Hugging Face toolkit answers 400), None to keep each one's."""
    accept_from_environment = True
    """Whether SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT replaces a missing accept (else ``default_accept`` does)."""
    object_results = ""
    """How the container's server answers a handler result that is neither bytes nor str (:func:`answer`)."""

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

    object_results = FLASK

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
    object_results = FLASK

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

    object_results = MODEL_SERVER

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


# -- Hugging Face (sagemaker-huggingface-inference-toolkit: handler_service.py, decoder_encoder.py,
# transformers_utils.py) ----------------------------------------------------------------------------------------

_IMAGE_TYPES = ("image/jpeg", "image/png", "image/tiff", "image/bmp", "image/gif", "image/webp", "image/x-image")
_AUDIO_TYPES = ("audio/x-flac", "audio/mpeg", "audio/wave", "audio/ogg", "audio/x-audio")
# The toolkit's table, in its order: the first suffix the architecture ends with, searched to the end.
_ARCHITECTURE_TASKS = (
    ("TapasForQuestionAnswering", "table-question-answering"),
    ("ForQuestionAnswering", "question-answering"),
    ("ForTokenClassification", "token-classification"),
    ("ForSequenceClassification", "text-classification"),
    ("ForMultipleChoice", "multiple-choice"),
    ("ForMaskedLM", "fill-mask"),
    ("ForCausalLM", "text-generation"),
    ("ForConditionalGeneration", "text2text-generation"),
    ("MTModel", "text2text-generation"),
    ("EncoderDecoderModel", "text2text-generation"),
    ("GPT2LMHeadModel", "text-generation"),
    ("T5WithLMHeadModel", "text2text-generation"),
)
_FEATURE_EXTRACTOR_TASKS = ("automatic-speech-recognition", "image-segmentation", "image-classification",
                            "audio-classification", "object-detection", "zero-shot-image-classification")
# Weight files of the frameworks other than PyTorch, left out of an HF_MODEL_ID download as the toolkit does.
_OTHER_FRAMEWORK_FILES = ["tf*", "flax*", "rust*", "*onnx*", "*mlmodel", "*tflite", "*tar.gz", "*openvino*",
                          "*ckpt", "*neuron"]


def unsupported_format(content_type: str | None) -> InferenceError:
    """sagemaker-inference's UnsupportedFormatError, which the toolkit raises for a type it has no codec for."""
    return InferenceError(f"Content type {content_type} is not supported by this framework. Please implement "
                          "input_fn to deserialize the request data or an output_fn to serialize the response.", 400)


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("y", "yes", "t", "true", "on", "1")


def task_from_architecture(config_path: str) -> str:
    """The pipeline task a fine-tuned model's ``config.json`` architecture implies (the toolkit's inference)."""
    with open(config_path) as handle:
        architecture = (json.load(handle).get("architectures") or [None])[0]
    task = None
    for suffix, candidate in _ARCHITECTURE_TASKS:
        if architecture and architecture.endswith(suffix):
            task = candidate
    if task is None:
        raise InferenceError(
            f"Task couldn't be inferenced from {architecture}. Inference Toolkit can only inference tasks from "
            f"architectures ending with {[suffix for suffix, _ in _ARCHITECTURE_TASKS]}. Use env `HF_TASK` to "
            "define your task.")
    return task


def hf_decode(content: Any, content_type: str | None) -> Any:
    """The toolkit's decoders: JSON, CSV with a header row, NPY, images and audio (``{"inputs": ...}``)."""
    kind = media_type(content_type) or JSON
    if kind == JSON:
        try:
            return json.loads(content)
        except ValueError as exc:
            raise InferenceError(f"Unable to decode {kind} payload: {exc}", 400) from exc
    if kind == CSV:
        import csv

        text = content if isinstance(content, str) else content.decode("utf-8")
        lines = text.splitlines()
        if not lines or not any(name in lines[0].lower() for name in ("question", "context", "inputs")):
            raise InferenceError("You need to provide the correct CSV with Header columns to use it with the "
                                 "inference toolkit default handler.", 400)
        rows = list(csv.DictReader(io.StringIO(text)))
        if rows and "inputs" in rows[0]:
            return {"inputs": [row["inputs"] for row in rows]}
        return {"inputs": rows}
    if kind == NPY:
        import numpy as np

        # allow_pickle stays off (the toolkit turns it on): a request body must never run code in the server.
        return np.load(io.BytesIO(content), allow_pickle=False)
    if kind in _IMAGE_TYPES:
        try:
            from PIL import Image
        except ImportError as exc:
            raise InferenceError(f"Decoding {kind} needs Pillow in the model's environment (a requirements.txt "
                                 "beside inference.py can add it)", 400) from exc
        return {"inputs": Image.open(io.BytesIO(content)).convert("RGB")}
    if kind in _AUDIO_TYPES:
        return {"inputs": bytes(content)}
    raise unsupported_format(content_type)


class _HFEncoder(json.JSONEncoder):
    """The toolkit's encoder: numpy scalars and arrays, datetimes, and images (base64 PNG)."""

    def default(self, o: Any) -> Any:
        import datetime

        if hasattr(o, "tolist"):  # numpy integers, floats and arrays, torch tensors
            return o.tolist()
        if isinstance(o, datetime.datetime):
            return str(o)
        if hasattr(o, "save") and hasattr(o, "mode"):  # a PIL image
            import base64

            buffer = io.BytesIO()
            o.save(buffer, format="PNG")
            return base64.b64encode(buffer.getvalue()).decode("utf-8")
        return json.JSONEncoder.default(self, o)


def hf_encode(content: Any, accept: str) -> Any:
    """The toolkit's encoders: JSON (compact, non-ASCII kept), CSV of a list of dicts, NPY and images."""
    kind = media_type(accept)
    if kind == JSON:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, cls=_HFEncoder, separators=(",", ":"))
    if kind == CSV:
        import csv

        rows = content if isinstance(content, list) else list(content)
        stream = io.StringIO()
        writer = csv.DictWriter(stream, list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)
        return stream.getvalue()
    if kind == NPY:
        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, content)
        return buffer.getvalue()
    if kind in _IMAGE_TYPES:
        buffer = io.BytesIO()
        content.save(buffer, format="PNG" if kind == "image/x-image" else kind.split("/")[-1].upper())
        return buffer.getvalue()
    raise unsupported_format(accept)


def _hub_snapshot(model_id: str, model_dir: str) -> str:
    """``HF_MODEL_ID``: the Hub repository downloaded under the model directory, as the toolkit does at start."""
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise InferenceError("HF_MODEL_ID needs huggingface_hub in the model's environment") from exc
    revision = os.environ.get("HF_MODEL_REVISION") or None
    folder = os.path.join(model_dir, model_id.replace("/", "__") + ("." + revision if revision else ""))
    os.makedirs(folder, exist_ok=True)
    try:
        snapshot_download(model_id, revision=revision, local_dir=folder, token=os.environ.get("HF_API_TOKEN"),
                          ignore_patterns=_OTHER_FRAMEWORK_FILES)
    except Exception as exc:
        raise InferenceError(f"Cannot download HF_MODEL_ID {model_id} from the Hugging Face Hub: {exc}. Without "
                             "a network, pack the model into model.tar.gz (model_data=) instead.") from exc
    return folder


class HuggingFaceDefaults(Defaults):
    """sagemaker-huggingface-inference-toolkit's handler service: a ``transformers`` pipeline over the model
    directory (or the ``HF_MODEL_ID`` repository), task from ``HF_TASK`` or the model's ``config.json``;
    ``{"inputs": ..., "parameters": {...}}`` in, the pipeline's output encoded for the accept type out."""

    text_types = (JSON, CSV)
    error_status = 400
    accept_from_environment = False
    object_results = MODEL_SERVER

    def model_fn(self, model_dir: str) -> Any:
        try:
            from transformers import pipeline
        except ImportError as exc:
            raise InferenceError(
                f"Serving a Hugging Face model needs the 'transformers' package, and it is not importable in "
                f"{sys.executable} ({exc}): serve it in the huggingface framework environment stepfn builds for "
                "the image, or pip install transformers torch there") from exc
        if os.environ.get("HF_MODEL_ID"):
            model_dir = _hub_snapshot(os.environ["HF_MODEL_ID"], model_dir)
        task = os.environ.get("HF_TASK")
        files = os.listdir(model_dir)
        if not task and "config.json" in files:
            task = task_from_architecture(os.path.join(model_dir, "config.json"))
        elif not task and "model_index.json" in files:
            task = "text-to-image"
        elif not task:
            from transformers.pipelines import SUPPORTED_TASKS

            raise InferenceError(f"You need to define one of the following {list(SUPPORTED_TASKS.keys())} or "
                                 "text-to-image as env 'HF_TASK'.", 403)
        os.environ["HF_TASK"] = task  # input_fn reads it, as the toolkit's preprocess does
        if task == "text-to-image":
            raise InferenceError("text-to-image models need the diffusers pipeline, which stepfn does not serve "
                                 "locally; write a model_fn in inference.py that loads it")
        kwargs: dict[str, Any] = {"feature_extractor" if task in _FEATURE_EXTRACTOR_TASKS else "tokenizer": model_dir}
        if _truthy(os.environ.get("HF_TRUST_REMOTE_CODE", "false")):
            kwargs["trust_remote_code"] = True
        return pipeline(task=task, model=model_dir, device=-1, **kwargs)

    def input_fn(self, body: Any, content_type: str | None) -> Any:
        task = os.environ.get("HF_TASK")
        if task in ("zero-shot-classification", "table-question-answering") and media_type(content_type) == CSV:
            raise InferenceError(f"content type {content_type} not support with {task}, use different "
                                 "content_type", 400)
        return hf_decode(body, content_type)

    def predict_fn(self, data: Any, model: Any) -> Any:
        if not isinstance(data, dict):
            raise InferenceError('The request must be a JSON object: {"inputs": ..., "parameters": {...}}', 400)
        inputs = data.pop("inputs", data)
        parameters = data.pop("parameters", None)
        return model(inputs, **parameters) if parameters is not None else model(inputs)

    def output_fn(self, prediction: Any, accept: str) -> Any:
        return hf_encode(prediction, accept)


DEFAULTS = {"generic": Defaults, "sklearn": SklearnDefaults, "xgboost": XGBoostDefaults, "pytorch": PyTorchDefaults,
            "huggingface": HuggingFaceDefaults}


def _load_tfserving() -> Any:
    """tfserving.py from beside this file, by path: the host runs outside stepfn's package."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tfserving.py")
    spec = importlib.util.spec_from_file_location("stepfn_tfserving", path)
    if spec is None or spec.loader is None:
        raise InferenceError(f"Cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
        if framework not in DEFAULTS and framework != "tensorflow":
            raise InferenceError(f"No serving defaults in a framework environment for {framework!r}")
        self.defaults = DEFAULTS.get(framework, Defaults)()
        self.model_dir = str(spec["ModelDir"])
        self.context = Context(self.model_dir)
        code_dir = str(spec.get("CodeDir") or self.model_dir)
        lib = os.path.join(code_dir, "lib")
        if framework == "tensorflow" and os.path.isdir(lib) and lib not in sys.path:
            # The TF Serving container puts code/lib on the path (after code/) before it imports inference.py.
            sys.path.insert(0, lib)
        for entry in spec.get("Toolkits") or ():
            # The image's toolkit packages (sagemaker_containers...), after the environment's own: an installed one wins.
            if entry not in sys.path:
                sys.path.append(entry)
        self.module = self._program(code_dir, spec.get("Program"))
        self.tf_serving: Any = None
        if framework == "tensorflow":
            tfserving = _load_tfserving()
            self.tf_serving = tfserving.Service(self.model_dir, self.module)
            self.tf_serving_error = tfserving.TFServingError
            self.batching = False
            return
        self._calls: dict[str, tuple[Any, bool]] = {}
        chain = ("input_fn", "predict_fn", "output_fn")
        if self._user("transform_fn") is not None and any(self._user(name) is not None for name in chain):
            raise InferenceError("Cannot use transform_fn implementation in conjunction with input_fn, predict_fn, "
                                 "and/or output_fn implementation")
        self.model = self._call("model_fn", self.model_dir)
        self.batching = self._batches()

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

    def _batches(self) -> bool:
        """Whether requests may share one ``predict`` (:meth:`invoke_many`): the rule of stepfn's own server
        (``inference.Container.batches``, which says why): only the framework's own ``predict_fn`` of the generic or
        scikit-learn defaults, and only a scikit-learn classifier, whose answer is a label. A user's ``predict_fn``
        or ``transform_fn`` may depend on the whole batch, and a regressor's floats can change in the last digit
        with the rows computed beside them."""
        if self.tf_serving is not None or self._user("predict_fn") is not None or self._user("transform_fn") is not None:
            return False
        if type(self.defaults) not in (Defaults, SklearnDefaults) or "sklearn" not in sys.modules:
            return False
        try:
            from sklearn.base import is_classifier

            return bool(is_classifier(self.model)) and callable(getattr(self.model, "predict", None))
        except Exception:  # a model that answers scikit-learn's tag protocol badly is simply not batched
            return False

    def _accept(self, accept: str | None) -> str:
        if not accept or media_type(accept) == "*/*":
            accept = self.defaults.default_accept
            if self.defaults.accept_from_environment:
                accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", accept)
        return accept

    def invoke(self, body: bytes, content_type: str | None, accept: str | None,
               custom_attributes: str | None = None) -> tuple[bytes, str]:
        if self.tf_serving is not None:
            try:
                answer: tuple[bytes, str] = self.tf_serving.invoke(body, content_type, accept, custom_attributes)
            except self.tf_serving_error as exc:
                raise InferenceError(str(exc), exc.status) from exc
            return answer
        accept = self._accept(accept)
        try:
            result = self._handle(body, content_type, accept)
        except Exception as exc:
            if self.defaults.error_status is None:
                raise
            raise InferenceError(str(exc), self.defaults.error_status) from exc
        return self._payload(result, accept)

    def _body_for(self, name: str, body: bytes, content_type: str | None) -> Any:
        """What the handler ``name`` gets as the request body: text for the defaults' ``text_types``, else as the
        container's server hands a user's handler the body (:func:`user_body`)."""
        if media_type(content_type) in self.defaults.text_types:
            return body.decode("utf-8")
        if self._user(name) is not None:
            return user_body(body, content_type, self.defaults.object_results)
        return body

    def _handle(self, body: bytes, content_type: str | None, accept: str) -> Any:
        if self._user("transform_fn") is not None:
            return self._call("transform_fn", self.model, self._body_for("transform_fn", body, content_type),
                              content_type, accept)
        decoded = self._call("input_fn", self._body_for("input_fn", body, content_type), content_type)
        prediction = self._call("predict_fn", decoded, self.model)
        return self._call("output_fn", prediction, accept)

    def invoke_many(self, requests: list[tuple[bytes, str | None, str | None, str | None]]) -> list[Any]:
        """Each request's ``(body, content type)`` or the exception that failed it, in order. Where
        :meth:`_batches` allows, the requests whose ``input_fn`` gives a numpy matrix (same columns and dtype as
        the first such) share one ``predict`` over their stacked rows; each is still decoded and encoded on its
        own, so its answer (or its error) is the same bytes as alone. A failed joint predict falls back to one
        predict per request, so each gets its own answer or error."""
        if len(requests) < 2 or not self.batching:
            return [attempt(self.invoke, *request) for request in requests]
        decoded = [attempt(self._call, "input_fn", self._body_for("input_fn", body, content_type), content_type)
                   for body, content_type, _, _ in requests]
        predictions = predict_together(decoded, lambda rows: self._call("predict_fn", rows, self.model))
        answers: list[Any] = []
        for index, data in enumerate(decoded):  # (zip's strict= is newer than the oldest image's Python)
            if isinstance(data, BaseException):
                answers.append(data)
                continue
            prediction = predictions[index] if index in predictions else attempt(self._call, "predict_fn", data,
                                                                                  self.model)
            if isinstance(prediction, BaseException):
                answers.append(prediction)
                continue
            resolved = self._accept(requests[index][2])
            answers.append(attempt(lambda p=prediction, a=resolved: self._payload(self._call("output_fn", p, a), a)))
        return answers

    def _payload(self, result: Any, accept: str) -> tuple[bytes, str]:
        return answer(result, accept, self.defaults.object_results)


def answer(result: Any, accept: str, object_results: str = "") -> tuple[bytes, str]:
    """The body and content type for what ``output_fn`` (or ``transform_fn``) returned: bytes or str under
    ``accept``, or a ``(body, content type)`` pair. Anything else is answered as the container's server answers it
    (``object_results``): ``FLASK``, the Flask worker of sagemaker-containers that the scikit-learn and XGBoost
    images serve with (Flask 1.1), turns a dict into JSON as its ``jsonify`` writes it (compact, keys sorted, a
    newline, ``application/json``); ``MODEL_SERVER``, MMS / TorchServe of the PyTorch and Hugging Face images,
    writes any JSON value with ``json.dumps(value, indent=2)`` under the accept type; otherwise it is refused. A Flask
``Response`` (``sagemaker_containers.beta.framework.worker.Response``) is answered with its body, content type and
status (4xx/5xx as the request's error)."""
    if not isinstance(result, tuple) and callable(getattr(result, "get_data", None)) and \
            hasattr(result, "status_code") and hasattr(result, "mimetype"):
        # A Flask response (sagemaker_containers' worker.Response): its body, under its own content type and status.
        status = int(result.status_code)
        body = bytes(result.get_data())
        if status >= 400:
            raise InferenceError(body.decode("utf-8", "replace"), status)
        return body, str(getattr(result, "content_type", None) or result.mimetype)
    if isinstance(result, tuple):
        payload, response_type = result[0], str(result[1])
    else:
        payload, response_type = result, accept
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload), response_type
    if object_results == FLASK and isinstance(payload, dict) and not isinstance(result, tuple):
        return (json.dumps(payload, separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8"), JSON
    if object_results == MODEL_SERVER:
        return json.dumps(payload, indent=2).encode("utf-8"), response_type
    raise InferenceError(f"output_fn returned {type(payload).__name__}, expected bytes or str")


def attempt(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``, or the exception it raised (one request's failure in a batch is that request's)."""
    try:
        return function(*args)
    except Exception as exc:
        return exc


def _rows(data: Any, like: Any) -> Any:
    """``data`` when it is a non-empty matrix that stacks with ``like`` (same columns and dtype), else None."""
    import numpy as np

    if not isinstance(data, np.ndarray) or data.ndim != 2 or not len(data):
        return None
    if like is not None and (data.shape[1] != like.shape[1] or data.dtype != like.dtype):
        return None
    return data


def predict_together(decoded: list[Any], predict: Callable[[Any], Any]) -> dict[int, Any]:
    """Predictions of several decoded requests from one ``predict`` over their stacked rows, by request index.

    The requests that stack are those decoded to a non-empty numpy matrix with the columns and dtype of the first
    such. Where fewer than two stack, or the joint predict fails or answers another number of rows, nothing is
    returned and each request predicts alone, so each gets its own answer or error. Each prediction is a copy,
    not a view of the joint array: what an ``output_fn`` gets is then what it gets alone. (stepfn's own server
    uses this too: ``inference.Container.invoke_batch``.)"""
    import numpy as np

    first = next((data for data in decoded if _rows(data, None) is not None), None)
    stacked = [index for index, data in enumerate(decoded) if first is not None and _rows(data, first) is not None]
    if len(stacked) < 2:
        return {}
    try:
        joint = predict(np.concatenate([decoded[index] for index in stacked]))
    except Exception:
        return {}
    if not isinstance(joint, np.ndarray) or joint.ndim < 1 or len(joint) != sum(len(decoded[i]) for i in stacked):
        return {}
    predictions = {}
    start = 0
    for index in stacked:
        predictions[index] = joint[start:start + len(decoded[index])].copy()
        start += len(decoded[index])
    return predictions


def _text(field: bytes) -> str | None:
    """A header field of a frame: empty is a header not given."""
    return field.decode("latin-1") or None


def answer_fields(answer: Any) -> list[bytes]:
    """One answer of a batch as its four fields."""
    if isinstance(answer, BaseException):
        return error_frame(answer)
    body, response_type = answer
    return [b"ok", response_type.encode("latin-1", "replace"), body, b""]


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
        if fields and fields[0] == b"batch" and len(fields) % 4 == 1:
            batch = [(fields[i + 2], _text(fields[i]), _text(fields[i + 1]), _text(fields[i + 3]))
                     for i in range(1, len(fields), 4)]
            frame = [b"answers"]
            for answer in chain.invoke_many(batch):
                frame.extend(answer_fields(answer))
            write_frame(replies, frame)
            continue
        if len(fields) not in (4, 5) or fields[0] != b"invoke":
            write_frame(replies, error_frame(InferenceError("the handler host got a malformed frame")))
            continue
        try:
            content_type = fields[1].decode("latin-1") or None
            accept = fields[2].decode("latin-1") or None
            attributes = fields[4].decode("latin-1") or None if len(fields) == 5 else None
            body, response_type = chain.invoke(fields[3], content_type, accept, attributes)
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
    # Run by path, Python puts this file's directory (stepfn's own modules: records, models, transform...) first on
    # sys.path; a user's ``import transform`` must not find stepfn's file there, so take that directory off.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _here]
    sys.exit(main(sys.argv[1:]))
