"""sagemaker v2 behaviour that ported code (and the original SDK's unit suite) relies on: module paths, SKLearn's
one-instance rule."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stepfn.inputs import ExecutionInput
from stepfn.sagemaker import Estimator, Session, build_training_job_request
from stepfn.sagemaker.sklearn import SKLearn
from stepfn.template.pipeline import InferencePipeline

ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
SESSION = Session(region_name="us-east-1", default_bucket="sagemaker-us-east-1")


def test_v2_module_paths_import_in_a_fresh_interpreter() -> None:
    # The imports as the original SDK's tests and user notebooks write them, after 'sagemaker' -> 'stepfn.sagemaker'.
    code = (
        "from stepfn.sagemaker.pipeline import PipelineModel\n"
        "from stepfn.sagemaker.parameter import IntegerParameter, ContinuousParameter, CategoricalParameter\n"
        "from stepfn.sagemaker.tuner import IntegerParameter as Tuned\n"
        "assert IntegerParameter is Tuned\n"
        "print(PipelineModel.__name__, IntegerParameter(1, 5).as_tuning_range('n'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == (
        "PipelineModel {'Name': 'n', 'MinValue': '1', 'MaxValue': '5', 'ScalingType': 'Auto'}")


def test_names_v2s_estimator_module_imports_reach_the_package() -> None:
    # sagemaker v2's estimator.py imports the package and image_uris / s3 by name, and scripts reach them through it
    # (cdk-entest/sagemaker-pca: "from sagemaker.estimator import sagemaker", then
    # "sagemaker.estimator.image_uris.retrieve(framework='pca', version='0.23-1', ...)"; PCA has one version, so
    # v2 ignores the one given). A fresh interpreter: the names exist while the package is still initialising.
    code = (
        "from stepfn.sagemaker.estimator import sagemaker\n"
        "import stepfn.sagemaker\n"
        "assert sagemaker is stepfn.sagemaker and sagemaker.estimator.s3 is stepfn.sagemaker.s3\n"
        "print(sagemaker.estimator.image_uris.retrieve(framework='pca', region='us-east-1', version='0.23-1',\n"
        "                                              instance_type='ml.m4.xlarge'))\n"
        "print(type(sagemaker.TrainingInput('s3://b/p', content_type='text/csv;label_size=0')).__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["382416733822.dkr.ecr.us-east-1.amazonaws.com/pca:1", "TrainingInput"]


def test_a_bare_import_reaches_the_modules_v2s_package_loads() -> None:
    # sagemaker v2's __init__ imports parameter and pipeline, and modules that import utils, so notebooks call
    # sagemaker.utils.name_from_base(...) after "import sagemaker"; its session module keeps the request helpers
    # and v1's s3_input, which it also exports at the top.
    code = (
        "import stepfn.sagemaker as sagemaker\n"
        "print(sagemaker.utils.name_from_base('job')[:4], sagemaker.parameter.IntegerParameter.__name__,\n"
        "      sagemaker.pipeline.PipelineModel.__name__)\n"
        "from stepfn.sagemaker.session import container_def, pipeline_container_def, production_variant, s3_input\n"
        "assert sagemaker.production_variant is production_variant and sagemaker.container_def is container_def\n"
        "assert sagemaker.pipeline_container_def is pipeline_container_def and s3_input is sagemaker.s3_input\n"
        "print(sorted(container_def('img', 's3://b/m.tar.gz')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["job- IntegerParameter PipelineModel",
                                          "['Environment', 'Image', 'ModelDataUrl']"]


def test_the_stepfunctions_package_reaches_its_subpackages_after_a_bare_import() -> None:
    # The original's package imports steps, workflow and template, so "import stepfunctions" then
    # "stepfunctions.workflow.Workflow" or "stepfunctions.steps.TrainingStep" works; after the import rewrite it is
    # "import stepfn as stepfunctions". They load on first use, so importing the package alone loads none of them.
    code = (
        "import sys\n"
        "import stepfn as stepfunctions\n"
        "print(sorted(m for m in ('stepfn.steps', 'stepfn.workflow', 'stepfn.template') if m in sys.modules))\n"
        "print(stepfunctions.workflow.Workflow.__name__, stepfunctions.steps.states.Retry.__name__,\n"
        "      stepfunctions.steps.TrainingStep.__name__, stepfunctions.template.TrainingPipeline.__name__,\n"
        "      stepfunctions.inputs.ExecutionInput.__name__)\n"
        "try:\n"
        "    stepfunctions.no_such_module\n"
        "except AttributeError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == [
        "[]", "Workflow Retry TrainingStep TrainingPipeline ExecutionInput",
        "module 'stepfn' has no attribute 'no_such_module'"]


def sklearn(**kwargs: object) -> SKLearn:
    return SKLearn(entry_point="train.py", framework_version="0.20.0", py_version="py3", role=ROLE,
                   sagemaker_session=SESSION, **kwargs)


def test_sklearn_without_instance_count_trains_on_one_instance() -> None:
    request = build_training_job_request(sklearn(instance_type="ml.c4.xlarge"), "s3://b/train", job_name="j")
    assert request["ResourceConfig"]["InstanceCount"] == 1


def test_sklearn_refuses_what_sagemaker_v2_refuses() -> None:
    with pytest.raises(AttributeError, match="does not support distributed training"):
        sklearn(instance_type="ml.c4.xlarge", instance_count=2)
    with pytest.raises(AttributeError, match="does not support distributed training"):
        sklearn(train_instance_type="ml.c4.xlarge", train_instance_count=3)
    with pytest.raises(TypeError, match="Invalid type of instance_count"):
        sklearn(instance_type="ml.c4.xlarge", instance_count=ExecutionInput()["count"])
    with pytest.raises(ValueError, match="GPU training is not supported for Scikit-Learn"):
        sklearn(instance_type="ml.p3.xlarge")
    with pytest.raises(AttributeError, match="only supports Python 3"):
        SKLearn(entry_point="train.py", framework_version="0.20.0", py_version="py2", role=ROLE,
                instance_type="ml.c4.xlarge", sagemaker_session=SESSION)
    assert sklearn(instance_type="ml.c4.xlarge", instance_count=1).instance_count == 1


def test_inference_pipeline_transform_resources_from_an_sklearn_without_instance_count() -> None:
    learner = Estimator("382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1", ROLE, instance_count=1,
                        instance_type="ml.c4.xlarge", output_path="s3://sagemaker/models", sagemaker_session=SESSION)
    pipeline = InferencePipeline(preprocessor=sklearn(instance_type="ml.c4.xlarge"), estimator=learner,
                                 inputs={"train": "s3://sagemaker-us-east-1/inference/train"},
                                 s3_bucket="sagemaker-us-east-1", role="StepFunctionsExecutionRole",
                                 pipeline_name="inference")
    calls: list[dict[str, object]] = []

    class Recorder:
        """Records the execution input instead of starting a run (the template's own tests do the same)."""

        name = "inference"

        def execute(self, name: str | None = None, inputs: dict[str, object] | None = None) -> str:
            calls.append(inputs or {})
            return "execution"

    pipeline.workflow = Recorder()
    pipeline.execute(job_name="j")
    assert calls[0]["Transform Input"]["TransformResources"] == {  # type: ignore[index]
        "InstanceCount": 1, "InstanceType": "ml.c4.xlarge"}


def test_v1_arguments_sagemaker_v2_still_took_warn() -> None:
    from stepfn.sagemaker.tensorflow import TensorFlow

    with pytest.warns(DeprecationWarning, match=r"script_mode has been removed in sagemaker>=2") as caught:
        estimator = TensorFlow(entry_point="train.py", role=ROLE, instance_count=1, instance_type="ml.m5.large",
                               framework_version="2.11", py_version="py39", script_mode=True,
                               sagemaker_session=SESSION)
    assert caught[0].filename == __file__
    request = build_training_job_request(estimator, "s3://b/train", job_name="tf")
    assert request["AlgorithmSpecification"]["TrainingImage"].endswith("/tensorflow-training:2.11-cpu-py39")
    with pytest.warns(DeprecationWarning, match="image_name has been renamed in sagemaker>=2: use image_uri"):
        old = Estimator(image_name="123.dkr.ecr.us-east-1.amazonaws.com/mine:1", role=ROLE, instance_count=1,
                        instance_type="ml.m5.large", sagemaker_session=SESSION)
    assert old.image_uri == "123.dkr.ecr.us-east-1.amazonaws.com/mine:1"
    with pytest.raises(NotImplementedError, match="distribution"), \
            pytest.warns(DeprecationWarning, match="distributions has been renamed"):
        TensorFlow(entry_point="train.py", role=ROLE, framework_version="2.11", py_version="py39",
                   distributions={"parameter_server": {"enabled": True}})
    # v1-era notebooks pass script_mode=True to the other frameworks too; v2's estimators take it and ignore it.
    from stepfn.sagemaker.xgboost import XGBoost

    for framework, version in ((SKLearn, "1.2-1"), (XGBoost, "1.7-1")):
        with pytest.warns(DeprecationWarning, match=r"script_mode has been removed in sagemaker>=2") as caught:
            legacy = framework(entry_point="train.py", role=ROLE, instance_count=1, instance_type="ml.m5.large",
                               framework_version=version, script_mode=True, sagemaker_session=SESSION)
        assert caught[0].filename == __file__
        request = build_training_job_request(legacy, "s3://b/train", job_name="legacy")
        assert "script_mode" not in json.dumps(request)
        assert request["HyperParameters"]["sagemaker_program"] == '"train.py"'
    with pytest.raises(TypeError, match="unexpected keyword argument 'script_mod'"):
        TensorFlow(entry_point="train.py", role=ROLE, framework_version="2.11", py_version="py39", script_mod=True)


def test_get_image_uri_is_sagemaker_v2s_deprecated_alias() -> None:
    from stepfn.sagemaker.amazon.amazon_estimator import get_image_uri

    with pytest.warns(DeprecationWarning, match="get_image_uri has been renamed"):
        assert get_image_uri("us-east-1", "xgboost") == "811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"
    with pytest.warns(DeprecationWarning):
        assert get_image_uri("eu-west-1", "xgboost", "1.2-1") == (
            "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.2-1")


def test_workflow_airflow_builders_import_by_their_v2_path() -> None:
    code = (
        "from stepfn.sagemaker.workflow.airflow import model_config, training_config, transform_config\n"
        "import stepfn.steps.sagemaker as steps\n"
        "assert steps.training_config is training_config and steps.model_config is model_config\n"
        "print(transform_config.__module__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "stepfn.sagemaker.workflow"


def test_airflow_training_config_leaves_the_debugger_hook_on_the_estimator() -> None:
    from stepfn.sagemaker.debugger import DebuggerHookConfig
    from stepfn.sagemaker.workflow.airflow import training_config

    estimator = sklearn(instance_type="ml.m5.xlarge", output_path="s3://b/models")
    assert estimator.debugger_hook_config is None
    request = training_config(estimator, job_name="j")
    # As sagemaker 2.72.3: no debugger keys in the request, TrainingJobName right after the hyperparameters ...
    assert list(request) == ["AlgorithmSpecification", "OutputDataConfig", "StoppingCondition", "ResourceConfig",
                             "RoleArn", "HyperParameters", "TrainingJobName"]
    # ... and the estimator keeps the default hook, which a user's own step then adds itself.
    hook = estimator.debugger_hook_config
    assert isinstance(hook, DebuggerHookConfig) and hook._to_request_dict() == {"S3OutputPath": "s3://b/models"}

    disabled = sklearn(instance_type="ml.m5.xlarge", debugger_hook_config=False)
    assert "DebugHookConfig" not in training_config(disabled, job_name="j")
    assert disabled.debugger_hook_config is False
    # The builder of the steps' own requests still carries the hook, where TrainingStep puts it.
    assert list(build_training_job_request(sklearn(instance_type="ml.m5.xlarge"), job_name="j"))[-1] == (
        "DebugHookConfig")
