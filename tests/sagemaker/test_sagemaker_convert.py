"""``from_sagemaker()``: sagemaker v2 objects become stepfn's with the same requests.

With sagemaker v2 installed the real classes are converted (skipped when it is absent, as in CI). The
stand-ins below carry exactly the public attributes sagemaker v2 objects have, so the conversion logic is
exercised either way.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from typing import Any

import pytest

from stepfn.sagemaker import (
    PCA,
    Estimator,
    HyperparameterTuner,
    IntegerParameter,
    Model,
    Session,
    SKLearn,
    Transformer,
    from_sagemaker,
    training_request,
    tuning_request,
)
from stepfn.sagemaker.processing import ScriptProcessor

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SESSION = Session(region_name="us-east-1", default_bucket="my-bucket")


def v2_like(cls_name: str, bases: tuple[type, ...] = (), **attributes: Any) -> Any:
    """An object whose class name and attributes are those of a sagemaker v2 object."""
    cls = type(cls_name, bases, {})
    obj = cls()
    obj.__dict__.update(attributes)
    return obj


EstimatorBase = type("EstimatorBase", (), {})
Framework = type("Framework", (EstimatorBase,), {})
COMMON = dict(role=ROLE, instance_count=1, instance_type="ml.m5.large", sagemaker_session=SESSION, volume_size=30,
              volume_kms_key=None, max_run=86400, input_mode="File", output_path="s3://my-bucket/out",
              output_kms_key=None, base_job_name=None, tags=None, subnets=None, security_group_ids=None,
              model_uri=None, model_channel_name="model", metric_definitions=None,
              encrypt_inter_container_traffic=False, use_spot_instances=False, max_wait=None,
              checkpoint_s3_uri=None, checkpoint_local_path=None, rules=None, debugger_hook_config=None,
              environment=None, max_retry_attempts=None)


def test_generic_estimator() -> None:
    v2 = v2_like("Estimator", (EstimatorBase,), image_uri="img:1", **COMMON)
    v2.hyperparameters = lambda: {"epochs": 3}
    v2.enable_network_isolation = lambda: False
    converted = from_sagemaker(v2)
    assert isinstance(converted, Estimator)
    native = Estimator("img:1", hyperparameters={"epochs": 3}, **{k: v for k, v in COMMON.items()
                                                                  if k not in ("role",)}, role=ROLE)
    assert json.dumps(training_request(converted, "s3://b/t", "j")) == json.dumps(
        training_request(native, "s3://b/t", "j"))


def test_framework_and_builtin_and_tuner() -> None:
    sklearn = v2_like("SKLearn", (Framework,), entry_point="train.py", source_dir="s3://b/code.tar.gz",
                      _hyperparameters={"alpha": 1, "sagemaker_program": '"x"'}, image_uri=None,
                      container_log_level=20, code_location=None, framework_version="1.2-1", py_version="py3",
                      **COMMON)
    sklearn.enable_network_isolation = lambda: False
    converted = from_sagemaker(sklearn)
    assert isinstance(converted, SKLearn)
    assert converted.hyperparameters() == {"alpha": "1"}

    pca = v2_like("PCA", (EstimatorBase,), num_components=3, algorithm_mode="regular", subtract_mean=None,
                  extra_components=None, **COMMON)
    pca.enable_network_isolation = lambda: False
    converted_pca = from_sagemaker(pca)
    assert isinstance(converted_pca, PCA)
    assert converted_pca.hyperparameters() == {"num_components": "3", "algorithm_mode": "regular"}

    tuner_cls = type("HyperparameterTuner", (), {})
    tuner = tuner_cls()
    tuner.__dict__.update(estimator=sklearn, objective_metric_name="loss", metric_definitions=None,
                          strategy="Random", objective_type="Minimize", max_jobs=3, max_parallel_jobs=1,
                          tags=None, base_tuning_job_name="tune", early_stopping_type="Off")
    tuner.hyperparameter_ranges = lambda: {
        "ContinuousParameterRanges": [], "CategoricalParameterRanges": [],
        "IntegerParameterRanges": [{"Name": "depth", "MinValue": "1", "MaxValue": "4", "ScalingType": "Auto"}]}
    converted_tuner = from_sagemaker(tuner)
    assert isinstance(converted_tuner, HyperparameterTuner)
    native = HyperparameterTuner(converted, "loss", {"depth": IntegerParameter("1", "4")}, strategy="Random",
                                 objective_type="Minimize", max_jobs=3)
    assert tuning_request(converted_tuner, "s3://b/t", "t-1")["HyperParameterTuningJobConfig"] == tuning_request(
        native, "s3://b/t", "t-1")["HyperParameterTuningJobConfig"]


def test_model_transformer_processor() -> None:
    model = v2_like("Model", (), image_uri="img:1", model_data="s3://b/m.tar.gz", role=ROLE, env=None, name="m",
                    vpc_config=None, sagemaker_session=SESSION)
    converted = from_sagemaker(model)
    assert type(converted) is Model and converted.env == {}
    transformer = v2_like("Transformer", (), model_name="m", instance_count=1, instance_type="ml.m5.large",
                          strategy=None, assemble_with="Line", output_path="s3://b/o", output_kms_key=None,
                          accept=None, max_concurrent_transforms=None, max_payload=None, tags=None, env=None,
                          base_transform_job_name=None, sagemaker_session=SESSION, volume_kms_key=None)
    assert isinstance(from_sagemaker(transformer), Transformer)
    processor = v2_like("ScriptProcessor", (type("Processor", (), {}),), role=ROLE, image_uri="img:1",
                        command=["python3"], instance_count=1, instance_type="ml.m5.large", volume_size_in_gb=30,
                        volume_kms_key=None, output_kms_key=None, max_runtime_in_seconds=None, base_job_name=None,
                        sagemaker_session=SESSION, env=None, tags=None, network_config=None)
    assert isinstance(from_sagemaker(processor), ScriptProcessor)
    with pytest.raises(TypeError, match="does not know how to convert"):
        from_sagemaker(object())


def test_real_sagemaker_v2_objects() -> None:
    # tests/sagemaker itself is importable as a namespace package named "sagemaker": look for a real one.
    spec = importlib.util.find_spec("sagemaker")
    if spec is None or spec.origin in (None, "namespace"):
        pytest.skip("sagemaker v2 is not installed (an optional test dependency)")
    sagemaker = importlib.import_module("sagemaker")
    if not hasattr(sagemaker, "estimator"):
        pytest.skip("sagemaker v3 removed sagemaker.estimator; from_sagemaker targets v2")
    v2 = sagemaker.estimator.Estimator("img:1", role=ROLE, instance_count=1, instance_type="ml.m5.large",
                                       output_path="s3://my-bucket/out", sagemaker_session=SESSION)
    v2.set_hyperparameters(epochs=3)
    converted = from_sagemaker(v2)
    assert training_request(converted, "s3://b/t", "j")["HyperParameters"] == {"epochs": "3"}
