"""sagemaker v2 ``sagemaker.predictor.Predictor`` and the framework predictors: invoke an endpoint by name.

``predict(data)`` serializes ``data`` with the predictor's serializer, calls InvokeEndpoint with the serializer's
content type and the deserializer's accept types, and deserializes the response, as v2 does. The call goes to
a local endpoint (stepfn's model server on 127.0.0.1) directly for a local session, unless the user assigned its
``sagemaker_runtime_client``; to the session's ``sagemaker_runtime_client`` otherwise (SageMaker's runtime through
boto3 for a session built on one) (:func:`~stepfn.sagemaker.session.invocation_client`).

The framework predictors differ only in their default serializer and deserializer (v2's defaults):
scikit-learn and PyTorch send and receive NPY, XGBoost sends LibSVM text and reads CSV, TensorFlow and
Hugging Face send and receive JSON.
"""

from __future__ import annotations

import warnings
from typing import Any

from .deserializers import BaseDeserializer, BytesDeserializer, CSVDeserializer, JSONDeserializer, NumpyDeserializer
from .serializers import (
    BaseSerializer,
    CSVSerializer,
    IdentitySerializer,
    JSONSerializer,
    LibSVMSerializer,
    NumpySerializer,
)
from .session import Session, invocation_client

__all__ = [
    "HuggingFacePredictor",
    "Predictor",
    "PyTorchPredictor",
    "RealTimePredictor",
    "SKLearnPredictor",
    "TensorFlowPredictor",
    "XGBoostPredictor",
    "csv_deserializer",
    "csv_serializer",
    "json_deserializer",
    "json_serializer",
    "npy_serializer",
    "numpy_deserializer",
]


class Predictor:
    """Real-time inference against the endpoint ``endpoint_name``."""

    def __init__(self, endpoint_name: str | None = None, sagemaker_session: Session | None = None,
                 serializer: BaseSerializer | None = None, deserializer: BaseDeserializer | None = None,
                 component_name: str | None = None, **kwargs: Any) -> None:
        for removed in ("content_type", "accept"):
            if removed in kwargs:
                raise TypeError(f"{removed} has been removed from the Predictor in sagemaker>=2: set it on the "
                                "serializer / deserializer instead.")
        if "endpoint" in kwargs:
            warnings.warn("endpoint has been renamed in sagemaker>=2: use endpoint_name", DeprecationWarning,
                          stacklevel=2)
            endpoint_name = kwargs.pop("endpoint")
        if kwargs:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {next(iter(kwargs))!r}")
        if not endpoint_name:
            raise TypeError(f"{type(self).__name__}() needs endpoint_name")
        self.endpoint_name = endpoint_name
        self.component_name = component_name
        self.sagemaker_session = sagemaker_session or Session()
        self.serializer = serializer if serializer is not None else IdentitySerializer()
        self.deserializer = deserializer if deserializer is not None else BytesDeserializer()
        self._content_type: str | None = None
        self._accept: Any = None

    @property
    def content_type(self) -> str:
        return self._content_type or self.serializer.CONTENT_TYPE

    @content_type.setter
    def content_type(self, value: str) -> None:
        self._content_type = value

    @property
    def accept(self) -> Any:
        return self._accept or self.deserializer.ACCEPT

    @accept.setter
    def accept(self, value: Any) -> None:
        self._accept = value

    @property
    def endpoint(self) -> str:
        warnings.warn("The endpoint attribute has been renamed in sagemaker>=2: use endpoint_name",
                      DeprecationWarning, stacklevel=2)
        return self.endpoint_name

    def _request(self, data: Any, initial_args: dict[str, Any] | None, target_model: str | None,
                 target_variant: str | None, inference_id: str | None,
                 custom_attributes: str | None) -> dict[str, Any]:
        args = dict(initial_args) if initial_args else {}
        args.setdefault("EndpointName", self.endpoint_name)
        content_type = self.content_type
        args.setdefault("ContentType", content_type if isinstance(content_type, str) else ", ".join(content_type))
        accept = self.accept
        args.setdefault("Accept", accept if isinstance(accept, str) else ", ".join(accept))
        for key, value in (("TargetModel", target_model), ("TargetVariant", target_variant),
                           ("InferenceId", inference_id), ("CustomAttributes", custom_attributes)):
            if value:
                args[key] = value
        args["Body"] = self.serializer.serialize(data)
        return args

    def predict(self, data: Any, initial_args: dict[str, Any] | None = None, target_model: str | None = None,
                target_variant: str | None = None, inference_id: str | None = None,
                custom_attributes: str | None = None, component_name: str | None = None) -> Any:
        """Serialize ``data``, invoke the endpoint and deserialize its response."""
        request = self._request(data, initial_args, target_model, target_variant, inference_id, custom_attributes)
        component = component_name or self.component_name
        if component:
            request["InferenceComponentName"] = component
        response = invocation_client(self.sagemaker_session).invoke_endpoint(**request)
        return self.deserializer.deserialize(response["Body"],
                                             response.get("ContentType", "application/octet-stream"))

    def delete_endpoint(self, delete_endpoint_config: bool = True) -> None:
        """Delete the endpoint (stops the local model server) and, by default, its endpoint config."""
        self.sagemaker_session.delete_endpoint(self.endpoint_name, delete_endpoint_config=delete_endpoint_config)

    def delete_model(self) -> None:
        """Delete the models the endpoint's config serves."""
        self.sagemaker_session.delete_models_of_endpoint(self.endpoint_name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint_name={self.endpoint_name!r})"


class RealTimePredictor(Predictor):
    """sagemaker v1's name for :class:`Predictor` (v2 kept it with a deprecation warning)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn("The class RealTimePredictor has been renamed in sagemaker>=2: use Predictor",
                      DeprecationWarning, stacklevel=2)
        super().__init__(*args, **kwargs)


def _framework_predictor(name: str, serializer: type[BaseSerializer], deserializer: type[BaseDeserializer],
                         doc: str, module: str = __name__) -> type[Predictor]:
    def __init__(self: Predictor, endpoint_name: str, sagemaker_session: Session | None = None,
                 serializer: BaseSerializer | None = None, deserializer: BaseDeserializer | None = None,
                 component_name: str | None = None, **kwargs: Any) -> None:
        Predictor.__init__(self, endpoint_name, sagemaker_session,
                           serializer if serializer is not None else default_serializer(),
                           deserializer if deserializer is not None else default_deserializer(),
                           component_name, **kwargs)

    default_serializer, default_deserializer = serializer, deserializer
    return type(name, (Predictor,), {"__init__": __init__, "__doc__": doc, "__module__": module})


SKLearnPredictor = _framework_predictor("SKLearnPredictor", NumpySerializer, NumpyDeserializer,
                                        "A scikit-learn endpoint: NPY in, NPY out.")
PyTorchPredictor = _framework_predictor("PyTorchPredictor", NumpySerializer, NumpyDeserializer,
                                        "A PyTorch endpoint: NPY in, NPY out.")
XGBoostPredictor = _framework_predictor("XGBoostPredictor", LibSVMSerializer, CSVDeserializer,
                                        "An XGBoost endpoint: LibSVM text in, CSV rows out.")
HuggingFacePredictor = _framework_predictor("HuggingFacePredictor", JSONSerializer, JSONDeserializer,
                                            "A Hugging Face endpoint: JSON in, JSON out.")


class TensorFlowPredictor(Predictor):
    """A TensorFlow Serving endpoint: JSON in, JSON out; ``classify``/``regress`` use TF Serving's other APIs."""

    def __init__(self, endpoint_name: str, sagemaker_session: Session | None = None,
                 serializer: BaseSerializer | None = None, deserializer: BaseDeserializer | None = None,
                 model_name: str | None = None, model_version: str | None = None,
                 component_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(endpoint_name, sagemaker_session, serializer or JSONSerializer(),
                         deserializer or JSONDeserializer(), component_name, **kwargs)
        attributes = []
        if model_name:
            attributes.append(f"tfs-model-name={model_name}")
        if model_version:
            attributes.append(f"tfs-model-version={model_version}")
        self._model_attributes = ",".join(attributes) or None

    def classify(self, data: Any) -> Any:
        return self._classify_or_regress(data, "classify")

    def regress(self, data: Any) -> Any:
        return self._classify_or_regress(data, "regress")

    def _classify_or_regress(self, data: Any, method: str) -> Any:
        if method not in ("classify", "regress"):
            raise ValueError(f"invalid TensorFlow Serving method: {method}")
        attributes = f"tfs-method={method}"
        if self._model_attributes:
            attributes = f"{self._model_attributes},{attributes}"
        return self.predict(data, {"CustomAttributes": attributes})

    def predict(self, data: Any, initial_args: dict[str, Any] | None = None, target_model: str | None = None,
                target_variant: str | None = None, inference_id: str | None = None,
                custom_attributes: str | None = None, component_name: str | None = None) -> Any:
        args = dict(initial_args) if initial_args else {}
        if self._model_attributes:
            if "CustomAttributes" in args:
                args["CustomAttributes"] += "," + self._model_attributes
            else:
                args["CustomAttributes"] = self._model_attributes
        return super().predict(data, args, target_model, target_variant, inference_id, custom_attributes,
                               component_name)


# sagemaker v1's serializer and deserializer objects, which v2 keeps under their old names with a DeprecationWarning
# on use (``from sagemaker.predictor import csv_serializer, json_deserializer``; ``predictor.serializer =
# csv_serializer``): v2's classes, each instance's method warning first.


def _renamed_on_use(instance: Any, method: str, name: str) -> Any:
    original = getattr(instance, method)

    def warn_then(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(f"The {name} has been renamed in sagemaker>=2: use the sagemaker.serializers / "
                      "sagemaker.deserializers classes", DeprecationWarning, stacklevel=2)
        return original(*args, **kwargs)

    setattr(instance, method, warn_then)
    return instance


csv_serializer = _renamed_on_use(CSVSerializer(), "serialize", "csv_serializer")
json_serializer = _renamed_on_use(JSONSerializer(), "serialize", "json_serializer")
npy_serializer = _renamed_on_use(NumpySerializer(), "serialize", "npy_serializer")
csv_deserializer = _renamed_on_use(CSVDeserializer(), "deserialize", "csv_deserializer")
json_deserializer = _renamed_on_use(JSONDeserializer(), "deserialize", "json_deserializer")
numpy_deserializer = _renamed_on_use(NumpyDeserializer(), "deserialize", "numpy_deserializer")
