"""Framework serving defaults for PyTorch, TensorFlow Serving and Hugging Face (the containers' handler chains).

:mod:`stepfn.local.sagemaker.inference` calls these through its ``FRAMEWORK_DEFAULTS`` table when a model's
image is one of these frameworks' inference images; a user's ``inference.py`` overrides any function, as in the
framework containers.

* PyTorch (sagemaker-pytorch-inference-toolkit): ``model.pt`` as TorchScript; the body decoded to an array and
  turned into a float tensor; ``model(tensor)`` under ``no_grad``; tensors back to lists and encoded. Without
  torch, a user's ``model_fn`` still serves with the arrays as they are.
* TensorFlow Serving (sagemaker-tensorflow-serving-container): :mod:`stepfn.local.sagemaker.tfserving`, the
  same code the handler host runs in a TensorFlow framework environment: the SavedModels under
  ``<name>/<version>/`` (``export/Servo/<version>/``, ``<version>/``) answered with TF Serving's REST predict,
  classify and regress, picked by the ``tfs-method`` custom attribute, around inference.py's
  ``input_handler``/``output_handler`` or ``handler``.
* Hugging Face (sagemaker-huggingface-inference-toolkit): the handler host's implementation of the toolkit
  (``transformers.pipeline`` over the model directory or ``HF_MODEL_ID``, task from ``HF_TASK`` or the model's
  config, ``{"inputs": ..., "parameters": {...}}``, its codecs), here in the server's own Python.

These frameworks' packages are not stepfn dependencies: a model whose framework is missing from the model
server's Python fails to load with an error that names what to install.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from stepfn.local.sagemaker import handlerhost, tfserving
from stepfn.local.sagemaker.inference import CSV, JSON, Defaults, InferenceError, decode, encode, media_type

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

    object_results = handlerhost.MODEL_SERVER

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


class TensorFlowServingDefaults(Defaults):
    """The TF Serving container in this process: :class:`tfserving.Service` (shared with the handler host, which
    runs it in a TensorFlow framework environment) answers the whole request, ``tfs-*`` custom attributes
    included; the handler chain is not used."""

    def __init__(self) -> None:
        self.module: ModuleType | None = None

    def bind(self, module: ModuleType | None) -> None:
        self.module = module

    def model_fn(self, model_dir: str) -> Any:
        try:
            import tensorflow  # noqa: F401
        except ImportError as exc:
            raise missing_framework("TensorFlow", "tensorflow", exc) from exc
        try:
            return tfserving.Service(model_dir, self.module)
        except tfserving.TFServingError as exc:
            raise InferenceError(str(exc), exc.status) from exc

    def serve(self, model: Any, body: bytes, content_type: str | None, accept: str,
              custom_attributes: str | None) -> tuple[bytes, str]:
        try:
            answer: tuple[bytes, str] = model.invoke(body, content_type, accept, custom_attributes)
        except tfserving.TFServingError as exc:
            raise InferenceError(str(exc), exc.status) from exc
        return answer


# -- Hugging Face -----------------------------------------------------------------------------------------------


class HuggingFaceDefaults(Defaults):
    """sagemaker-huggingface-inference-toolkit's defaults in the model server's own Python: the handler host's
    implementation (:class:`handlerhost.HuggingFaceDefaults`, which serves the model in its image's environment),
    so both places answer alike. As in the toolkit, the default ``input_fn`` reads JSON and CSV bodies as text
    and every failure of a request is a 400."""

    object_results = handlerhost.MODEL_SERVER

    def __init__(self) -> None:
        self.toolkit = handlerhost.HuggingFaceDefaults()

    def model_fn(self, model_dir: str) -> Any:
        try:
            import transformers  # noqa: F401  (the toolkit imports it when the model loads)
        except ImportError as exc:
            raise missing_framework("Hugging Face", "transformers", exc) from exc
        return _toolkit_call(self.toolkit.model_fn, model_dir)

    def input_fn(self, body: bytes, content_type: str | None) -> Any:
        def decode() -> Any:
            text = media_type(content_type) in self.toolkit.text_types
            return self.toolkit.input_fn(body.decode("utf-8") if text else body, content_type)

        return _toolkit_call(decode, status=400)

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
