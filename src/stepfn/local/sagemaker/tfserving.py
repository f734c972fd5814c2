"""TF Serving's REST contract as SageMaker's TensorFlow Serving container answers it, over SavedModels in this
process (sagemaker-tensorflow-serving-container: ``tensorflowServing.js``, ``python_service.py``,
``tfs_utils.py``; TF Serving's ``api_rest.md`` and ``json_tensor.cc``).

Standalone, like :mod:`stepfn.local.sagemaker.handlerhost`: the handler host loads this file by path in a
TensorFlow framework environment's Python, and stepfn's own model server imports it when TensorFlow is importable
there (``handlers.TensorFlowServingDefaults``). So it imports nothing from stepfn and keeps to Python 3.7 syntax.

What the container does, and :class:`Service` does here:

* Models: every ``<name>/<version>/saved_model.pb`` under the model directory (``export/Servo/1`` is model
  ``Servo``; ``1/saved_model.pb`` at the top is model ``model``); the default model is
  ``SAGEMAKER_TFS_DEFAULT_MODEL_NAME``, else the first found; the newest version unless a request names one.
* The ``X-Amzn-SageMaker-Custom-Attributes`` header picks the model, version and method: ``tfs-model-name=``,
  ``tfs-model-version=``, ``tfs-method=predict|classify|regress``.
* Without ``code/inference.py`` the request goes to TF Serving as the container's nginx script rewrites it:
  a body that names ``instances``/``inputs``/``examples`` as is; JSON Lines rows and CSV rows become
  ``instances``; any other JSON becomes one instance (a list of lists: several). TF Serving's answer and status
  come back as they are.
* With ``code/inference.py``: its ``handler(data, context)``, else its ``input_handler(data, context)`` and
  ``output_handler(response, context)`` around a POST to ``context.rest_uri``; the script must define one of
  the two, as the container insists at start. ``data`` is a readable stream, ``response`` answers like the
  ``requests.Response`` the container passes, and the result is ``(body, content type)``. A handler's
  exception is a 500 with ``{"error": ...}``. ``context.rest_uri`` is served on 127.0.0.1 by this process;
  ``grpc_port`` and ``channel`` are None (no gRPC port locally).
* predict (``{"instances": ...}`` -> ``{"predictions": ...}``, ``{"inputs": ...}`` -> ``{"outputs": ...}``),
  classify and regress (``{"examples": [...], "context": {...}}`` -> ``{"results": ...}``) against the
  signature ``signature_name`` names (default ``serving_default``); classify and regress need a signature of
  that method (``tensorflow/serving/classify`` / ``regress``), as TF Serving checks.
"""

from __future__ import annotations

import base64
import collections
import io
import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

JSON = "application/json"
CSV = "text/csv"
JSON_TYPES = (JSON, "application/jsonlines", "application/jsons")
CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
DEFAULT_SIGNATURE = "serving_default"
METHOD_NAMES = {"predict": "tensorflow/serving/predict", "classify": "tensorflow/serving/classify",
                "regress": "tensorflow/serving/regress"}
_ATTRIBUTE = re.compile(r"(tfs-[a-z\-]+=[^,]+)")
_TFS_JSON = re.compile(r'"(instances|inputs|examples)"\s*:')
_JSON_LINES = re.compile(r"[}\]]\s*[\[{]")
_REST_PATH = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?(?::(\w+))?$")

# The container's Context (tfs_utils.py), field for field.
Context = collections.namedtuple(
    "Context",
    "model_name, model_version, method, rest_uri, grpc_port, channel, custom_attributes, request_content_type, "
    "accept_header, content_length",
)


class TFServingError(Exception):
    """A non-200 answer: ``status`` and the JSON body (``{"error": ...}``) TF Serving or the container sends."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(json.dumps({"error": message}))
        self.status = status


def media_type(header: str | None) -> str | None:
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower() or None


def parse_custom_attributes(header: str | None) -> dict[str, str]:
    """``tfs-method=classify,tfs-model-name=m`` -> ``{"tfs-method": "classify", ...}``; other attributes are
    ignored, as by the container's pattern."""
    if not header:
        return {}
    attributes = {}
    for match in _ATTRIBUTE.findall(header):
        key, value = match.split("=", 1)
        attributes[key] = value
    return attributes


# -- requests as the container's nginx script rewrites them (tensorflowServing.js) ------------------------------


def to_tfs_request(body: bytes, content_type: str | None) -> bytes:
    """The TF Serving request body for an invocation without ``inference.py``; 415 for other content types."""
    kind = media_type(content_type)
    if kind not in JSON_TYPES and kind != CSV:
        raise TFServingError(415, "Unsupported Media Type: " + (content_type or "Unknown"))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TFServingError(400, f"The request body is not UTF-8 text: {exc}") from exc
    if kind in JSON_TYPES:
        if _TFS_JSON.search(text):
            return body
        if _JSON_LINES.search(text):
            lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
            joined = ",".join(lines)
            return ('{"instances":' + (joined if len(lines) == 1 else "[" + joined + "]") + "}").encode("utf-8")
        # Anything but a list of lists is one instance.
        if not re.match(r"^\s*\[\s*\[", text):
            text = "[" + text + "]"
        return ('{"instances":' + text + "}").encode("utf-8")
    return _csv_request(text).encode("utf-8")


def _csv_request(data: str) -> str:
    # Values are JSON numbers unless the first field of the body is neither numeric nor quoted: then every value
    # is a string. A row of one column is a scalar instance, of several a list. (The container's script quotes
    # only the first comma of a row, a slip of JavaScript's String.replace; every comma is meant and done here.)
    quoted = re.match(r'^\s*("|[\d.Ee+\-]+.*)', data) is None
    rows = []
    for line in data.strip().splitlines():
        line = line.strip()
        if not line:
            continue
        if quoted:
            line = '"' + line.replace('"', '\\"').replace(",", '","') + '"'
        rows.append("[" + line + "]" if "," in line else line)
    return '{"instances":[' + ",".join(rows) + "]}"


def tfs_response_type(accept: str | None) -> str:
    """The content type of TF Serving's JSON answer: the first Accept type when it asks for JSON or JSON Lines."""
    types = [media_type(part) or "" for part in (accept or "").split(",")]
    if JSON in types or "application/jsonlines" in types:
        return types[0]
    return JSON


# -- TF Serving's JSON <-> tensors (json_tensor.cc) -------------------------------------------------------------


def _from_json(value: Any) -> Any:
    """Request values with ``{"b64": ...}`` objects decoded to bytes."""
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    return value


def _is_named(value: Any) -> bool:
    return isinstance(value, dict) and set(value) != {"b64"}


def _to_json(name: str, array: Any) -> Any:
    """A result tensor as TF Serving writes it: float32 at its shortest decimal, strings as text (``{"b64"}``
    for outputs named ``*_bytes`` and bytes that are not UTF-8)."""
    import numpy as np

    if array.dtype == np.float32:
        flat = [float(str(value)) for value in array.ravel()]
        return np.array(flat, dtype=object).reshape(array.shape).tolist()
    if array.dtype == object:
        def text(value: Any) -> Any:
            if isinstance(value, bytes):
                if name.endswith("_bytes"):
                    return {"b64": base64.b64encode(value).decode("ascii")}
                try:
                    return value.decode("utf-8")
                except UnicodeDecodeError:
                    return {"b64": base64.b64encode(value).decode("ascii")}
            return value
        flat = [text(value) for value in array.ravel()]
        return np.array(flat, dtype=object).reshape(array.shape).tolist()
    return array.tolist()


def _feature(tf: Any, name: str, value: Any) -> Any:
    """One tf.train.Feature from a JSON value or list: the first element's type picks int64, float or bytes."""
    values = value if isinstance(value, list) else [value]
    kind = None
    converted: list[Any] = []
    for item in values:
        if isinstance(item, bool):
            item_kind, item = "int64", int(item)
        elif isinstance(item, int):
            item_kind = "int64"
        elif isinstance(item, float):
            item_kind = "float"
        elif isinstance(item, str):
            item_kind, item = "bytes", item.encode("utf-8")
        elif isinstance(item, dict) and set(item) == {"b64"}:
            item_kind, item = "bytes", base64.b64decode(item["b64"])
        else:
            raise TFServingError(400, f"Feature: {name} has element with unexpected JSON type: {type(item).__name__}")
        if kind is not None and item_kind != kind:
            raise TFServingError(400, f"Unexpected element type in feature: {name} expecting type: {kind}")
        kind = item_kind
        converted.append(item)
    if kind == "float":
        return tf.train.Feature(float_list=tf.train.FloatList(value=converted))
    if kind == "bytes":
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=converted))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=converted))


def serialized_examples(tf: Any, request: dict[str, Any], method: str) -> list[bytes]:
    """The request's ``examples`` (with its ``context`` features in each) as serialized tf.train.Examples."""
    if "examples" not in request:
        raise TFServingError(400, f"When method is {method}, key 'examples' is expected and was not found")
    examples = request["examples"]
    if not isinstance(examples, list):
        raise TFServingError(400, "Expecting 'examples' value to be an list/array")
    if not examples:
        raise TFServingError(400, "'examples' value is an empty array")
    context = request.get("context") or {}
    serialized = []
    for example in [context, *examples]:
        if not isinstance(example, dict):
            raise TFServingError(400, f"Example must be JSON object but got JSON {type(example).__name__}")
    for example in examples:
        features = {name: _feature(tf, name, value) for name, value in {**context, **example}.items()}
        serialized.append(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())
    return serialized


# -- the models -------------------------------------------------------------------------------------------------


def find_models(model_dir: str) -> dict[str, dict[int, str]]:
    """``{model name: {version: directory}}`` for every ``<name>/<version>/saved_model.pb`` under ``model_dir``."""
    found: dict[str, dict[int, str]] = {}
    for root, _, files in sorted(os.walk(model_dir)):
        version = os.path.basename(root)
        if "saved_model.pb" in files and version.isdigit():
            base = os.path.dirname(root)
            found.setdefault(os.path.basename(base), {})[int(version)] = root
    return found


class SavedModel:
    """One loaded version: its signatures and their TF Serving method names (read from saved_model.pb, which
    tf.saved_model.load does not expose)."""

    def __init__(self, tf: Any, directory: str) -> None:
        from tensorflow.core.protobuf import saved_model_pb2

        self.tf = tf
        self.loaded = tf.saved_model.load(directory)
        proto = saved_model_pb2.SavedModel()
        with open(os.path.join(directory, "saved_model.pb"), "rb") as handle:
            proto.ParseFromString(handle.read())
        self.methods = {name: signature.method_name for graph in proto.meta_graphs
                        for name, signature in graph.signature_def.items()}
        self.lock = threading.Lock()

    def signature(self, request: dict[str, Any]) -> tuple[str, Any]:
        name = request.get("signature_name") or DEFAULT_SIGNATURE
        try:
            return name, self.loaded.signatures[name]
        except KeyError:
            raise TFServingError(400, f'Serving signature name: "{name}" not found in signature def') from None

    def call(self, signature: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            outputs = signature(**tensors)
        return {key: value.numpy() for key, value in outputs.items()}

    def predict(self, request: dict[str, Any]) -> dict[str, Any]:
        _, signature = self.signature(request)
        specs = signature.structured_input_signature[1]
        names = sorted(specs)
        if "instances" in request and "inputs" in request:
            raise TFServingError(400, "A request may contain 'instances' or 'inputs', not both")
        if "instances" in request:
            instances = _from_json(request["instances"])
            if isinstance(instances, list) and instances and all(_is_named(item) for item in instances):
                missing = [name for name in names if any(name not in item for item in instances)]
                if missing:
                    raise TFServingError(400, f"instances are missing the named input: {missing[0]}")
                columns = {name: [item[name] for item in instances] for name in names}
            elif len(names) == 1:
                columns = {names[0]: instances}
            else:
                raise TFServingError(400, f"instances must be objects naming the inputs {', '.join(names)}")
        elif "inputs" in request:
            inputs = request["inputs"]
            if _is_named(inputs):
                columns = {name: _from_json(value) for name, value in inputs.items()}
            elif len(names) == 1:
                columns = {names[0]: _from_json(inputs)}
            else:
                raise TFServingError(400, f"inputs must be an object naming the inputs {', '.join(names)}")
        else:
            raise TFServingError(400, "Missing 'inputs' or 'instances' key")
        unknown = sorted(set(columns) - set(specs))
        if unknown:
            expected = ",".join(names)
            raise TFServingError(400, f"input tensor alias not found in signature: {unknown[0]}. Inputs expected to "
                                 f"be in the set {{{expected}}}.")
        try:
            tensors = {name: self.tf.constant(value, dtype=specs[name].dtype) for name, value in columns.items()}
            outputs = self.call(signature, tensors)
        except Exception as exc:
            raise TFServingError(400, f"{type(exc).__name__}: {exc}") from exc
        if "inputs" in request:
            if len(outputs) == 1:
                return {"outputs": _to_json(*next(iter(outputs.items())))}
            return {"outputs": {key: _to_json(key, value) for key, value in sorted(outputs.items())}}
        batch = None
        for key, value in sorted(outputs.items()):
            if not value.shape:
                raise TFServingError(400, f"Tensor name: {key} has no shape information ")
            if batch is not None and value.shape[0] != batch:
                raise TFServingError(400, f"Tensor name: {key} has inconsistent batch size: {value.shape[0]} "
                                     f"expecting: {batch}")
            batch = value.shape[0]
        rows = {key: _to_json(key, value) for key, value in outputs.items()}
        if len(rows) == 1:
            return {"predictions": next(iter(rows.values()))}
        return {"predictions": [{key: rows[key][index] for key in sorted(rows)} for index in range(batch or 0)]}

    def _examples_call(self, request: dict[str, Any], method: str) -> dict[str, Any]:
        name, signature = self.signature(request)
        expected = METHOD_NAMES[method]
        if self.methods.get(name) != expected:
            kind = "classification" if method == "classify" else "regression"
            raise TFServingError(400, f"Expected {kind} signature method_name to be {expected}. Was: {self.methods.get(name, '')}")
        specs = signature.structured_input_signature[1]
        if len(specs) != 1:
            raise TFServingError(400, "Expected one input Tensor.")
        examples = serialized_examples(self.tf, request, method)
        try:
            return self.call(signature, {next(iter(specs)): self.tf.constant(examples, dtype=self.tf.string)})
        except Exception as exc:
            raise TFServingError(400, f"{type(exc).__name__}: {exc}") from exc

    def classify(self, request: dict[str, Any]) -> dict[str, Any]:
        outputs = self._examples_call(request, "classify")
        classes, scores = outputs.get("classes"), outputs.get("scores")
        first = classes if classes is not None else scores
        if first is None:
            raise TFServingError(400, "Expected classification signature outputs to contain classes or scores.")
        shape = first.shape
        if len(shape) != 2:
            raise TFServingError(400, f"Expected Tensor shape: [batch_size num_classes] but got {list(shape)}")
        labels = _to_json("classes", classes) if classes is not None else [[""] * shape[1]] * shape[0]
        values = _to_json("scores", scores) if scores is not None else [[0.0] * shape[1]] * shape[0]
        # Index loops, not zip: zip(strict=) is Python 3.10's, and the oldest TF environment's Python is 3.9.
        return {"results": [[[labels[row][column], values[row][column]] for column in range(shape[1])]
                            for row in range(shape[0])]}

    def regress(self, request: dict[str, Any]) -> dict[str, Any]:
        outputs = self._examples_call(request, "regress")
        if "outputs" not in outputs:
            raise TFServingError(400, "No regression outputs found in the signature's outputs.")
        values = outputs["outputs"]
        if len(values.shape) == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if len(values.shape) != 1:
            raise TFServingError(400, "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] "
                                 f"but got {list(values.shape)}")
        return {"results": _to_json("outputs", values)}


class Response:
    """What ``output_handler`` gets: the parts of ``requests.Response`` a handler reads."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content
        self.headers = {"Content-Type": JSON}
        self.ok = status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def raise_for_status(self) -> None:
        if not self.ok:
            raise OSError(f"{self.status_code} Error from TF Serving: {self.text}")


class Models:
    """The SavedModels of one model directory, loaded on first use (the default one at start)."""

    def __init__(self, tf: Any, model_dir: str) -> None:
        self.tf = tf
        self.found = find_models(model_dir)
        if not self.found:
            raise TFServingError(500, "no SavedModel bundles found! TF Serving expects <model name>/<version>/"
                                 f"saved_model.pb (for example model/1/saved_model.pb) in model.tar.gz, under {model_dir}")
        self.default_name = os.environ.get("SAGEMAKER_TFS_DEFAULT_MODEL_NAME") or sorted(self.found)[0]
        self.loaded: dict[tuple[str, int], SavedModel] = {}
        self.lock = threading.Lock()
        self.model(None, None)

    def model(self, name: str | None, version: str | None) -> SavedModel:
        name = name or self.default_name
        versions = self.found.get(name)
        if versions is None or (version is not None and (not version.isdigit() or int(version) not in versions)):
            servable = f"Latest({name})" if version is None else f"Specific({name}, {version})"
            raise TFServingError(404, f"Servable not found for request: {servable}")
        number = max(versions) if version is None else int(version)
        with self.lock:
            if (name, number) not in self.loaded:
                self.loaded[(name, number)] = SavedModel(self.tf, versions[number])
            return self.loaded[(name, number)]

    def respond(self, name: str | None, version: str | None, method: str, body: bytes) -> Response:
        """TF Serving's REST answer to ``POST /v1/models/<name>[/versions/<version>]:<method>``."""
        try:
            if method not in METHOD_NAMES:
                raise TFServingError(404, f"Malformed request: POST /v1/models/{name}:{method}")
            model = self.model(name, version)
            try:
                request = json.loads(body.decode("utf-8"))
            except ValueError as exc:
                raise TFServingError(400, f"JSON Parse error: {exc}") from exc
            if not isinstance(request, dict):
                raise TFServingError(400, f"JSON Value: {body[:80].decode('utf-8', 'replace')} Is not object")
            answer = getattr(model, method)(request)
            return Response(200, json.dumps(answer).encode("utf-8"))
        except TFServingError as exc:
            return Response(exc.status, str(exc).encode("utf-8"))

    def status(self, name: str | None, version: str | None) -> Response:
        versions = self.found.get(name or self.default_name, {})
        chosen = [int(version)] if version is not None and version.isdigit() else sorted(versions, reverse=True)
        if not versions or any(number not in versions for number in chosen):
            return Response(404, json.dumps({"error": f"Could not find any versions of model {name}"}).encode())
        return Response(200, json.dumps({"model_version_status": [
            {"version": str(number), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            for number in chosen]}).encode("utf-8"))


class RestServer:
    """``context.rest_uri``: TF Serving's REST API on 127.0.0.1 for the model's handlers to call; requests that
    name another host or come from a web page (an Origin header) are refused, as by the model server."""

    def __init__(self, models: Models) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self, response: Response) -> None:
                self.send_response(response.status_code)
                self.send_header("Content-Type", JSON)
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            def _route(self) -> tuple[str, str | None, str | None] | None:
                host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
                if host not in ("127.0.0.1", "localhost") or self.headers.get("Origin"):
                    self._answer(Response(403, b'{"error": "only programs on this machine may call it"}'))
                    return None
                match = _REST_PATH.match(self.path)
                if match is None:
                    self._answer(Response(404, json.dumps({"error": f"Malformed request: {self.path}"}).encode()))
                    return None
                return match.group(1), match.group(2), match.group(3)

            def do_POST(self) -> None:
                route = self._route()
                if route is not None:
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    self._answer(models.respond(route[0], route[1], route[2] or "", body))

            def do_GET(self) -> None:
                route = self._route()
                if route is not None:
                    self._answer(models.status(route[0], route[1]))

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True, name="tfs-rest").start()

    def uri(self, name: str, version: str | None, method: str) -> str:
        # As tfs_utils.make_tfs_uri builds it.
        uri = f"http://127.0.0.1:{self.port}/v1/models/{name}"
        if version:
            uri += "/versions/" + version
        return uri + ":" + method


# -- the container's invocation service ------------------------------------------------------------------------


class Service:
    """``/invocations`` of the TensorFlow Serving container over the SavedModels in ``model_dir``, with the
    handlers of ``module`` (the model's ``code/inference.py``, or None)."""

    def __init__(self, model_dir: str, module: Any) -> None:
        import tensorflow as tf

        self.models = Models(tf, model_dir)
        self.handler: Any = None
        self.input_handler: Any = None
        self.output_handler: Any = None
        self.rest: RestServer | None = None
        if module is not None:
            # python_service.py's _import_handlers: handler wins; else both halves, or the container stops.
            if hasattr(module, "handler"):
                self.handler = module.handler
            elif hasattr(module, "input_handler") and hasattr(module, "output_handler"):
                self.input_handler, self.output_handler = module.input_handler, module.output_handler
            else:
                raise NotImplementedError("Handlers are not implemented correctly in user script.")
            self.rest = RestServer(self.models)

    def context(self, body: bytes, content_type: str | None, accept: str | None,
                custom_attributes: str | None) -> tuple[Context, dict[str, str]]:
        attributes = parse_custom_attributes(custom_attributes)
        method = attributes.get("tfs-method", "predict")
        rest_uri = self.rest.uri(attributes.get("tfs-model-name", self.models.default_name),
                                 attributes.get("tfs-model-version"), method) if self.rest is not None else ""
        context = Context(attributes.get("tfs-model-name"), attributes.get("tfs-model-version"),
                          attributes.get("tfs-method"), rest_uri, None, None, custom_attributes or None,
                          content_type or JSON, accept or JSON, len(body))
        return context, attributes

    def invoke(self, body: bytes, content_type: str | None, accept: str | None,
               custom_attributes: str | None = None) -> tuple[bytes, str]:
        """``(body, content type)`` of a 200 answer; a TFServingError carries any other status."""
        context, attributes = self.context(body, content_type, accept, custom_attributes)
        name, version = attributes.get("tfs-model-name"), attributes.get("tfs-model-version")
        method = attributes.get("tfs-method", "predict")
        if self.rest is None:
            response = self.models.respond(name, version, method, to_tfs_request(body, content_type))
            if response.status_code != 200:
                raise TFServingError(response.status_code, response.json().get("error", response.text))
            return response.content, tfs_response_type(accept)
        try:
            if self.handler is not None:
                result = self.handler(io.BytesIO(body), context)
            else:
                request = self.input_handler(io.BytesIO(body), context)
                if isinstance(request, str):
                    request = request.encode("utf-8")
                if not isinstance(request, (bytes, bytearray)):
                    # requests.post(data=<dict>) would form-encode it, which TF Serving cannot parse.
                    raise TypeError(f"input_handler returned {type(request).__name__}: return the TF Serving request as a JSON string")
                response = self.models.respond(name, version, method, bytes(request))
                result = self.output_handler(response, context)
            payload, response_type = result
        except Exception as exc:
            # python_service.py answers any handler failure so; the traceback (chained) goes to the log.
            raise TFServingError(500, str(exc)) from exc
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        return bytes(payload), str(response_type)
