"""Framework serving defaults for PyTorch, TensorFlow Serving and Hugging Face (the containers' handler chains).

:mod:`stepfn.local.sagemaker.inference` calls these through its ``FRAMEWORK_DEFAULTS`` table when a model's
image is one of these frameworks' inference images; a user's ``inference.py`` overrides any function, as in the
framework containers.

* PyTorch (sagemaker-pytorch-inference-toolkit): ``model.pt`` as TorchScript; the body decoded to an array and
  turned into a float tensor; ``model(tensor)`` under ``no_grad``; tensors back to lists and encoded. Without
  torch, a user's ``model_fn`` still serves with the arrays as they are.
* TensorFlow Serving (sagemaker-tensorflow-serving-container): the SavedModel under ``model/<version>/`` (also
  ``<name>/<version>/`` and ``export/Servo/<version>/``) is loaded with ``tf.saved_model.load`` and answered
  with TF Serving's REST predict API (``{"instances": ...}`` -> ``{"predictions": ...}``, ``{"inputs": ...}`` ->
  ``{"outputs": ...}``, ``signature_name``). Requests are made TF Serving requests as the container does
  (simplified JSON, JSON Lines and CSV become instances), or by the user's ``input_handler(data, context)``, and
  the response goes through ``output_handler(data, context)``; a ``handler(data, context)`` gets a
  ``context.rest_uri`` served on 127.0.0.1 by this process.
* Hugging Face (sagemaker-huggingface-inference-toolkit): the handler host's implementation of the toolkit
  (``transformers.pipeline`` over the model directory or ``HF_MODEL_ID``, task from ``HF_TASK`` or the model's
  config, ``{"inputs": ..., "parameters": {...}}``, its codecs), here in the server's own Python.

These frameworks' packages are not stepfn dependencies: a model whose framework is missing from the model
server's Python fails to load with an error that names what to install.
"""

from __future__ import annotations

import collections
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

from stepfn._extras import needs_extra
from stepfn.local.sagemaker import handlerhost
from stepfn.local.sagemaker.inference import CSV, JSON, JSONLINES, Defaults, InferenceError, decode, encode, media_type

__all__ = ["HuggingFaceDefaults", "PyTorchDefaults", "TensorFlowServingDefaults", "missing_framework"]


def missing_framework(framework: str, package: str, exc: ImportError) -> InferenceError:
    """The load error for a framework the model server's Python lacks: what to install, and where."""
    return InferenceError(
        f"Serving a {framework} model locally needs the '{package}' package in the model server's Python, and it "
        f"is not importable there ({exc}). Install it (pip install {package}), or run the endpoint in the "
        f"{framework} framework environment stepfn builds for the image.", 500)


# -- PyTorch ----------------------------------------------------------------------------------------------------


class PyTorchDefaults(Defaults):
    """sagemaker-pytorch-inference-toolkit's defaults."""

    def _torch(self) -> Any:
        try:
            import torch
        except ImportError as exc:
            raise missing_framework("PyTorch", "torch", exc) from exc
        return torch

    def model_fn(self, model_dir: str) -> Any:
        torch = self._torch()
        path = Path(model_dir) / "model.pt"
        if not path.is_file():
            raise InferenceError(
                "Please provide a model_fn implementation: the PyTorch container's default loads a TorchScript "
                f"model.pt, and {model_dir} has none. See https://sagemaker.readthedocs.io/en/stable/frameworks/"
                "pytorch/using_pytorch.html#load-a-model")
        model = torch.jit.load(str(path), map_location="cpu")
        model.eval()
        return model

    def input_fn(self, body: bytes, content_type: str | None) -> Any:
        torch = _optional_torch()
        if torch is None:
            # A user's model_fn that needs no torch (a numpy model behind the PyTorch contract) still serves:
            # the request stays the decoded array.
            return super().input_fn(body, content_type)
        array = decode(body, content_type)
        if media_type(content_type) in (JSON, CSV):
            return torch.FloatTensor(array)
        return torch.from_numpy(array)

    def predict_fn(self, data: Any, model: Any) -> Any:
        torch = _optional_torch()
        if torch is None:
            return super().predict_fn(data, model)
        with torch.no_grad():
            return model(data)

    def output_fn(self, prediction: Any, accept: str) -> Any:
        torch = _optional_torch()
        if torch is not None and isinstance(prediction, torch.Tensor):
            prediction = prediction.detach().cpu().numpy().tolist()
        return encode(prediction, accept), accept


def _optional_torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


# -- TensorFlow Serving -----------------------------------------------------------------------------------------


TFSContext = collections.namedtuple(
    "TFSContext",
    ["model_name", "model_version", "method", "rest_uri", "grpc_uri", "custom_attributes", "request_content_type",
     "accept_header", "content_length"],
)


class TFSResponse:
    """What ``output_handler`` gets in place of the ``requests.Response`` from TF Serving."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content
        self.text = content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def _saved_model_dir(model_dir: Path) -> tuple[str, str, Path]:
    """(model name, version, directory) of the newest SavedModel version under ``model_dir``."""
    found = []
    for pb in model_dir.rglob("saved_model.pb"):
        version_dir = pb.parent
        if version_dir.name.isdigit():
            name_dir = version_dir.parent
            name = "model" if name_dir == model_dir else name_dir.name
            found.append((int(version_dir.name), name, version_dir))
    if not found:
        raise InferenceError(
            f"No SavedModel found under {model_dir}: TF Serving expects <model name>/<version>/saved_model.pb "
            "(for example model/1/saved_model.pb) in model.tar.gz.", 500)
    version, name, directory = max(found, key=lambda item: item[0])
    return name, str(version), directory


def _as_instances(body: bytes, content_type: str | None) -> Any:
    """The container's default request handling: a TF Serving request from JSON, JSON Lines or CSV."""
    kind = media_type(content_type) or JSON
    text = body.decode("utf-8")
    if kind == JSON:
        document = json.loads(text)
        if isinstance(document, dict) and ({"instances", "inputs", "examples"} & set(document)):
            return document
        # "python value, dict, or one-dimensional arrays" are one instance; deeper arrays are several.
        nested = isinstance(document, list) and document and isinstance(document[0], list)
        return {"instances": document if nested else [document]}
    if kind == JSONLINES:
        return {"instances": [json.loads(line) for line in text.splitlines() if line.strip()]}
    if kind == CSV:
        rows = [[json.loads(value) for value in line.split(",")] for line in text.splitlines() if line.strip()]
        return {"instances": rows}
    raise InferenceError(f'{{"error": "unsupported content type {content_type}"}}', 415)


class _SavedModel:
    """TF Serving's REST predict API over one SavedModel, in this process."""

    def __init__(self, directory: Path) -> None:
        try:
            import tensorflow as tf
        except ImportError as exc:
            raise missing_framework("TensorFlow", "tensorflow", exc) from exc
        self.tf = tf
        self.loaded = tf.saved_model.load(str(directory))
        self.lock = threading.Lock()

    def predict(self, request: dict[str, Any]) -> dict[str, Any]:
        with needs_extra("Serving a TensorFlow model"):
            import numpy as np

        signature_name = request.get("signature_name", "serving_default")
        try:
            signature = self.loaded.signatures[signature_name]
        except KeyError:
            raise InferenceError(json.dumps({"error": f"Serving signature name: \"{signature_name}\" not found in "
                                                      "signature def"}), 400) from None
        _, specs = signature.structured_input_signature
        names = sorted(specs)
        if "instances" in request:
            instances = request["instances"]
            if instances and isinstance(instances[0], dict):
                columns = {name: [item[name] for item in instances] for name in names}
            else:
                columns = {names[0]: instances}
        elif "inputs" in request:
            inputs = request["inputs"]
            columns = inputs if isinstance(inputs, dict) else {names[0]: inputs}
        else:
            raise InferenceError(json.dumps({"error": "Missing 'inputs' or 'instances' key"}), 400)
        tensors = {name: self.tf.constant(np.asarray(columns[name]), dtype=specs[name].dtype) for name in columns}
        with self.lock:
            outputs = {key: value.numpy().tolist() for key, value in signature(**tensors).items()}
        if "instances" in request:
            if len(outputs) == 1:
                return {"predictions": next(iter(outputs.values()))}
            count = len(next(iter(outputs.values())))
            return {"predictions": [{key: value[i] for key, value in outputs.items()} for i in range(count)]}
        return {"outputs": next(iter(outputs.values())) if len(outputs) == 1 else outputs}

    def respond(self, body: bytes) -> TFSResponse:
        try:
            request = json.loads(body)
            if not isinstance(request, dict):
                raise ValueError("the request must be a JSON object")
            return TFSResponse(200, json.dumps(self.predict(request)).encode())
        except InferenceError as exc:
            return TFSResponse(exc.status, str(exc).encode())
        except Exception as exc:
            return TFSResponse(400, json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())


class _RestServer:
    """``context.rest_uri`` for a ``handler`` that posts to TF Serving itself: 127.0.0.1, this process."""

    def __init__(self, model: _SavedModel, name: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                response = model.respond(self.rfile.read(length))
                self.send_response(response.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True, name="tfs-rest").start()
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/v1/models/{name}:predict"


class TensorFlowServingDefaults(Defaults):
    """The TF Serving container: the handler chain is the user's input_handler/output_handler (or handler)
    around TF Serving's REST predict."""

    def __init__(self) -> None:
        self.module: ModuleType | None = None
        self.name = "model"
        self.version = "1"
        self.rest: _RestServer | None = None

    def bind(self, module: ModuleType | None) -> None:
        self.module = module

    def _user(self, name: str) -> Any:
        function = getattr(self.module, name, None) if self.module is not None else None
        return function if callable(function) else None

    def model_fn(self, model_dir: str) -> Any:
        self.name, self.version, directory = _saved_model_dir(Path(model_dir))
        model = _SavedModel(directory)
        if self._user("handler") is not None:
            self.rest = _RestServer(model, self.name)
        return model

    def _context(self, content_type: str | None, accept: str | None) -> TFSContext:
        rest_uri = self.rest.uri if self.rest is not None else \
            f"http://127.0.0.1/v1/models/{self.name}:predict"
        return TFSContext(self.name, self.version, "predict", rest_uri, None, None,
                          content_type or JSON, accept or JSON, None)

    def input_fn(self, body: bytes, content_type: str | None) -> Any:
        # Kept as (body, content type): the context needs the accept header too, which output_fn brings.
        return body, content_type

    def predict_fn(self, data: Any, model: Any) -> Any:
        body, content_type = data
        if self._user("handler") is not None:
            # The user's handler does the whole request in output_fn, where the accept header is known.
            return "handler", content_type, body
        context = self._context(content_type, None)
        input_handler = self._user("input_handler")
        if input_handler is not None:
            request = input_handler(io.BytesIO(body), context)
            request = json.dumps(request) if isinstance(request, dict | list) else request
            payload = request.encode("utf-8") if isinstance(request, str) else bytes(request)
        else:
            payload = json.dumps(_as_instances(body, content_type)).encode("utf-8")
        return "response", content_type, model.respond(payload)

    def output_fn(self, prediction: Any, accept: str) -> Any:
        kind, content_type, value = prediction
        context = self._context(content_type, accept)
        if kind == "handler":
            return self._user("handler")(io.BytesIO(value), context)
        output_handler = self._user("output_handler")
        if output_handler is not None:
            return output_handler(value, context)
        if value.status_code != 200:
            raise InferenceError(value.text, value.status_code)
        return value.content, JSON


# -- Hugging Face -----------------------------------------------------------------------------------------------


class HuggingFaceDefaults(Defaults):
    """sagemaker-huggingface-inference-toolkit's defaults in the model server's own Python: the handler host's
    implementation (:class:`handlerhost.HuggingFaceDefaults`, which serves the model in its image's environment),
    so both places answer alike. As in the toolkit, the default ``input_fn`` reads JSON and CSV bodies as text
    and every failure of a request is a 400."""

    def __init__(self) -> None:
        self.toolkit = handlerhost.HuggingFaceDefaults()

    def model_fn(self, model_dir: str) -> Any:
        try:
            import transformers  # noqa: F401  (the toolkit imports it when the model loads)
        except ImportError as exc:
            raise missing_framework("Hugging Face", "transformers", exc) from exc
        return _toolkit_call(self.toolkit.model_fn, model_dir)

    def input_fn(self, body: bytes, content_type: str | None) -> Any:
        data: Any = body
        if media_type(content_type) in self.toolkit.text_types:
            data = body.decode("utf-8", errors="replace")
        return _toolkit_call(self.toolkit.input_fn, data, content_type, status=400)

    def predict_fn(self, data: Any, model: Any) -> Any:
        return _toolkit_call(self.toolkit.predict_fn, data, model, status=400)

    def output_fn(self, prediction: Any, accept: str) -> Any:
        return _toolkit_call(self.toolkit.output_fn, prediction, accept, status=400), accept


def _toolkit_call(function: Any, *args: Any, status: int | None = None) -> Any:
    """Call a handler-host function, its errors as the server's (a request's failures all 400 when ``status``)."""
    try:
        return function(*args)
    except handlerhost.InferenceError as exc:
        raise InferenceError(str(exc), status or exc.status) from exc
    except Exception as exc:
        if status is None:
            raise
        raise InferenceError(str(exc), status) from exc
