"""Image URI tables (docs/design/compat.md §6.1, docs/design/sagemaker-contract.md §6)."""

from __future__ import annotations

import pytest

from stepfn.sagemaker import image_uris
from stepfn.sagemaker.session import base_name_from_image, name_from_base


@pytest.mark.parametrize(("args", "uri"), [
    (("sklearn", "us-east-1", "0.23-1", "py3", "ml.m5.xlarge"),
     "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:0.23-1-cpu-py3"),
    (("sklearn", "us-east-1", "1.2-1", "py3", "ml.m5.xlarge"),
     "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"),
    (("xgboost", "us-east-1", "1.2-1"), "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.2-1"),
    (("xgboost", "us-east-1", "1.7-1"), "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"),
    (("pytorch", "us-east-1", "1.8.0", "py3", "ml.p3.2xlarge", None, "training"),
     "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:1.8.0-gpu-py3"),
    # sagemaker v2 keeps the legacy XGBoost algorithm image under 'xgboost', tagged as the caller asked.
    (("xgboost", "us-east-1", "latest"), "811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:latest"),
    (("xgboost", "us-east-1", "1"), "811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"),
    (("model-monitor", "us-east-1"),
     "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"),
    (("sklearn", "cn-north-1", "1.2-1", "py3", "ml.m5.xlarge"),
     "450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-scikit-learn:1.2-1-cpu-py3"),
    (("pca", "us-east-1"), "382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1"),
    (("kmeans", "us-east-1"), "382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1"),
    (("linear-learner", "eu-west-1"), "438346466558.dkr.ecr.eu-west-1.amazonaws.com/linear-learner:1"),
    (("tensorflow", "us-east-1", "1.13", "py3", "ml.p2.xlarge", None, "training"),
     "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:1.13-gpu-py3"),
])
def test_known_uris(args: tuple[str, ...], uri: str) -> None:
    assert image_uris.retrieve(*args) == uri


def test_china_domain_and_processor() -> None:
    assert image_uris.processor_for_instance_type("ml.g4dn.xlarge") == "gpu"
    assert image_uris.processor_for_instance_type("ml.c5.xlarge") == "cpu"
    with pytest.raises(ValueError, match="Empty SageMaker instance type"):
        image_uris.processor_for_instance_type(None)


@pytest.mark.parametrize(("args", "message"), [
    (("sklearn", "us-east-1", "9.9"), "Unsupported sklearn version: 9.9"),
    (("pca", "mars-north-1"), "Unsupported region"),
    (("nosuch", "us-east-1"), "Unsupported framework"),
])
def test_unknown_values_are_clear_errors(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        image_uris.retrieve(*args)


def test_names() -> None:
    assert base_name_from_image("382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1") == "pca"
    assert base_name_from_image("repo@sha256:abc") == "repo"
    name = name_from_base("x" * 80)
    assert len(name) == 63 and name.startswith("x" * 39 + "-")
    assert len(name_from_base("base", max_length=32, short=True)) <= 32
