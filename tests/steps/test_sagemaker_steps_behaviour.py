"""SageMaker step behaviour beyond the golden files: model wiring, fixes §11 #8/#9/#12, placeholders, clone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepfn.inputs import ExecutionInput
from stepfn.sagemaker import (
    DroppedSettingWarning,
    Estimator,
    HyperparameterTuner,
    IntegerParameter,
    KMeans,
    Model,
    PipelineModel,
    Processor,
    PyTorch,
    Session,
    SKLearnProcessor,
    TensorFlow,
    Transformer,
)
from stepfn.steps import (
    Chain,
    EndpointConfigStep,
    EndpointStep,
    Graph,
    ModelStep,
    ProcessingStep,
    TrainingStep,
    TransformStep,
    TuningStep,
)

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SESSION = Session(region_name="us-east-1", default_bucket="my-bucket")
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mine:1"


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PARTITION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)


def estimator(**kwargs: Any) -> Estimator:
    return Estimator(IMAGE, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                     output_path="s3://my-bucket/out", sagemaker_session=SESSION, **kwargs)


def test_expected_model_is_named_after_the_job_and_reads_the_training_output() -> None:
    training = TrainingStep("Train", estimator=estimator(), job_name="job-1")
    model_step = ModelStep("Save", model=training.get_expected_model())
    training.next(model_step)
    parameters = model_step.to_dict()["Parameters"]
    assert parameters["ModelName"] == "job-1"
    assert parameters["PrimaryContainer"]["ModelDataUrl.$"] == "$['ModelArtifacts']['S3ModelArtifacts']"
    assert "ModelDataUrl" not in parameters["PrimaryContainer"]


def test_expected_model_of_a_placeholder_job_and_of_a_framework() -> None:
    execution_input = ExecutionInput(schema={"Job": str})
    training = TrainingStep("Train", estimator=estimator(), job_name=execution_input["Job"])
    model_step = ModelStep("Save", model=training.get_expected_model())
    assert model_step.to_dict()["Parameters"]["ModelName.$"] == "$$.Execution.Input['Job']"
    assert training.to_dict()["Parameters"]["TrainingJobName.$"] == "$$.Execution.Input['Job']"

    pytorch = PyTorch(entry_point="train.py", framework_version="1.8.0", py_version="py3", role=ROLE,
                      instance_count=1, instance_type="ml.p3.2xlarge", output_path="s3://my-bucket/out",
                      sagemaker_session=SESSION)
    framework_step = TrainingStep("Train", estimator=pytorch, job_name="pt-job")
    framework_model = ModelStep("Save", model=framework_step.get_expected_model(), instance_type="ml.g4dn.xlarge")
    parameters = framework_model.to_dict()["Parameters"]
    assert parameters["ModelName"] == "pt-job"
    assert parameters["PrimaryContainer"]["Image"] == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:1.8.0-gpu-py3")
    assert parameters["PrimaryContainer"]["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == (
        "s3://my-bucket/pt-job/source/sourcedir.tar.gz")
    assert parameters["PrimaryContainer"]["Environment"]["SAGEMAKER_PROGRAM"] == "train.py"
    hyperparameters = framework_step.to_dict()["Parameters"]["HyperParameters"]
    assert hyperparameters["sagemaker_submit_directory"] == '"s3://my-bucket/pt-job/source/sourcedir.tar.gz"'


def test_tensorflow_model_dir_and_default_debugger_hook() -> None:
    tensorflow = TensorFlow(entry_point="train.py", framework_version="2.11", py_version="py39", role=ROLE,
                            instance_count=1, instance_type="ml.m5.large", output_path="s3://my-bucket/out",
                            sagemaker_session=SESSION)
    parameters = TrainingStep("Train", estimator=tensorflow, job_name="tf-1").to_dict()["Parameters"]
    assert parameters["HyperParameters"]["model_dir"] == '"s3://my-bucket/out/tf-1/model"'
    assert parameters["DebugHookConfig"] == {"S3OutputPath": "s3://my-bucket/out"}
    assert parameters["AlgorithmSpecification"]["TrainingImage"] == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:2.11-cpu-py39")


def test_endpoint_steps_merge_parameters_and_take_placeholder_tags() -> None:
    """§11 #8: the original dropped ``parameters`` and crashed on Placeholder tags."""
    execution_input = ExecutionInput(schema={"Tags": list, "Weight": float})
    config = EndpointConfigStep(
        "Config", endpoint_config_name="c", model_name="m", initial_instance_count=1, instance_type="ml.m5.large",
        tags=execution_input["Tags"], parameters={"KmsKeyId": "key", "ProductionVariants": [{"VariantName": "A"}]},
    )
    assert config.to_dict()["Parameters"] == {
        "EndpointConfigName": "c", "ProductionVariants": [{"VariantName": "A"}],
        "Tags.$": "$$.Execution.Input['Tags']", "KmsKeyId": "key",
    }
    endpoint = EndpointStep("Deploy", endpoint_name="e", endpoint_config_name="c", tags=execution_input["Tags"],
                            parameters={"DeploymentConfig": {"AutoRollbackConfiguration": {}}})
    assert list(endpoint.to_dict()["Parameters"]) == ["EndpointConfigName", "EndpointName", "Tags.$",
                                                      "DeploymentConfig"]


def test_plain_model_keeps_vpc_and_image_config() -> None:
    """§11 #9: the original dropped both for a plain Model."""
    model = Model(IMAGE, "s3://my-bucket/m.tar.gz", ROLE, name="m",
                  vpc_config={"Subnets": ["s"], "SecurityGroupIds": ["g"]},
                  image_config={"RepositoryAccessMode": "Vpc"})
    parameters = ModelStep("Save", model=model).to_dict()["Parameters"]
    assert list(parameters) == ["ExecutionRoleArn", "ModelName", "PrimaryContainer", "VpcConfig"]
    assert list(parameters["PrimaryContainer"]) == ["Environment", "Image", "ModelDataUrl", "ImageConfig"]
    unchanged = ModelStep("Save", model=Model(IMAGE, "s3://my-bucket/m.tar.gz", ROLE, name="m"))
    assert list(unchanged.to_dict()["Parameters"]) == ["ExecutionRoleArn", "ModelName", "PrimaryContainer"]


def test_model_step_types() -> None:
    with pytest.raises(ValueError, match=r"^Expected 'model' parameter to be of type 'sagemaker.model.Model', "
                                         r"but received type 'str'$"):
        ModelStep("Save", model="not a model")  # type: ignore[arg-type]
    pipeline = PipelineModel([Model(IMAGE, "s3://my-bucket/a.tar.gz"), Model(IMAGE, "s3://my-bucket/b.tar.gz")],
                             role=ROLE, name="pipe")
    parameters = ModelStep("Save", model=pipeline).to_dict()["Parameters"]
    assert parameters["ModelName"] == "pipe"
    assert [c["ModelDataUrl"] for c in parameters["Containers"]] == ["s3://my-bucket/a.tar.gz",
                                                                     "s3://my-bucket/b.tar.gz"]


def test_dropped_settings_warn_once_per_step() -> None:
    """§11 #12: output kept, but the user learns what was left out and how to send it."""
    with pytest.warns(DroppedSettingWarning) as caught:
        step = TrainingStep("Train", estimator=estimator(checkpoint_s3_uri="s3://my-bucket/ckpt",
                                                         enable_network_isolation=True), job_name="j")
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "checkpoint_s3_uri" in message and "enable_network_isolation" in message and "parameters=" in message
    assert "CheckpointConfig" not in step.to_dict()["Parameters"]
    with pytest.warns(DroppedSettingWarning, match="command"):
        ProcessingStep("Process", SKLearnProcessor("1.2-1", ROLE, "ml.m5.large", 1, command=["python3", "-u"],
                                                   sagemaker_session=SESSION), "p")
    with pytest.warns(DroppedSettingWarning, match="entrypoint"):
        ProcessingStep("Process", Processor(ROLE, IMAGE, 1, "ml.m5.large", entrypoint=["run"]), "p")


def test_resources_follow_wait_for_completion_and_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    transformer = Transformer("m", 1, "ml.m5.large", output_path="s3://my-bucket/t")
    assert TransformStep("T", transformer, "t", "m", "s3://my-bucket/in").to_dict()["Resource"] == (
        "arn:aws:states:::sagemaker:createTransformJob.sync")
    assert TransformStep("T", transformer, "t", "m", "s3://my-bucket/in",
                         wait_for_completion=False).to_dict()["Resource"] == (
        "arn:aws:states:::sagemaker:createTransformJob")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "cn-north-1")
    step = EndpointStep("Deploy", endpoint_name="e", endpoint_config_name="c")
    assert step.to_dict()["Resource"] == "arn:aws-cn:states:::sagemaker:createEndpoint"


def test_placeholders_in_estimator_arguments_and_lists() -> None:
    execution_input = ExecutionInput(schema={"Role": str, "Count": int, "Type": str, "Arg": str, "Lr": float})
    placeholder_estimator = Estimator(IMAGE, role=execution_input["Role"], instance_count=execution_input["Count"],
                                      instance_type=execution_input["Type"], output_path="s3://my-bucket/out",
                                      sagemaker_session=SESSION, hyperparameters={"lr": execution_input["Lr"]})
    parameters = TrainingStep("Train", estimator=placeholder_estimator, job_name="j").to_dict()["Parameters"]
    assert parameters["RoleArn.$"] == "$$.Execution.Input['Role']"
    assert parameters["ResourceConfig"] == {"InstanceCount.$": "$$.Execution.Input['Count']",
                                            "InstanceType.$": "$$.Execution.Input['Type']", "VolumeSizeInGB": 30}
    assert parameters["HyperParameters"] == {"lr.$": "$$.Execution.Input['Lr']"}
    process = ProcessingStep("Process", Processor(ROLE, IMAGE, 1, "ml.m5.large"), "p",
                             container_arguments=["--flag", execution_input["Arg"], 3])
    assert process.to_dict()["Parameters"]["AppSpecification"]["ContainerArguments.$"] == (
        "States.Array('--flag', $$.Execution.Input['Arg'], 3)")


def test_transform_with_placeholder_job_name_and_default_output() -> None:
    execution_input = ExecutionInput(schema={"Job": str})
    step = TransformStep("T", Transformer("m", 1, "ml.m5.large", sagemaker_session=SESSION),
                         execution_input["Job"], "m", "s3://my-bucket/in")
    parameters = step.to_dict()["Parameters"]
    assert parameters["TransformOutput"] == {
        "S3OutputPath.$": "States.Format('s3://my-bucket/{}', $$.Execution.Input['Job'])"}
    assert parameters["TransformJobName.$"] == "$$.Execution.Input['Job']"


def test_built_in_with_placeholder_data_needs_feature_dim() -> None:
    execution_input = ExecutionInput(schema={"Data": str})
    kmeans = KMeans(role=ROLE, instance_count=1, instance_type="ml.m5.large", k=3, sagemaker_session=SESSION)
    with pytest.raises(TypeError, match="RecordSet"):
        TrainingStep("Train", estimator=kmeans, job_name="j", data=execution_input["Data"])
    kmeans.feature_dim = 4
    parameters = TrainingStep("Train", estimator=kmeans, job_name="j", data=execution_input["Data"],
                              mini_batch_size=10).to_dict()["Parameters"]
    assert parameters["HyperParameters"]["feature_dim"] == "4"
    assert list(parameters["InputDataConfig"][0]["DataSource"]["S3DataSource"])[-1] == "S3Uri.$"


def test_tuning_step_rejects_multi_estimator_tuners() -> None:
    tuner = HyperparameterTuner(estimator(), "m", {"x": IntegerParameter(1, 2)}, estimator_name="one")
    with pytest.raises(NotImplementedError, match="estimator_name"):
        TuningStep("Tune", tuner, "t", "s3://my-bucket/train")


def test_clone_keeps_output_fresh_and_deep_clone_copies_estimator() -> None:
    training = TrainingStep("Train", estimator=estimator(), job_name="j")
    shallow = training.clone()
    assert isinstance(shallow, TrainingStep)
    assert shallow.output() is not training.output()
    assert shallow.estimator is training.estimator
    deep = training.clone(deep=True)
    assert deep.estimator is not training.estimator
    assert json.dumps(deep.to_dict()) == json.dumps(training.to_dict())
    deep.state_id = "Train again"
    definition = Graph(Chain([training, deep])).to_dict()
    assert list(definition["States"]) == ["Train", "Train again"]


def test_jsonata_steps_carry_the_request_in_arguments() -> None:
    execution_input = ExecutionInput(schema={"Job": str})
    step = TrainingStep("Train", estimator=estimator(), job_name=execution_input["Job"], query_language="JSONata",
                        arguments={"Environment": {"A": "1"}})
    state = step.to_dict()
    assert "Parameters" not in state
    assert state["QueryLanguage"] == "JSONata"
    assert state["Arguments"]["TrainingJobName"] == "{% $states.context.Execution.Input.Job %}"
    assert state["Arguments"]["Environment"] == {"A": "1"}
    assert state["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"


def test_v2_config_builders_are_importable_from_the_steps_module() -> None:
    from stepfn.steps.sagemaker import (
        model_config,
        processing_config,
        training_config,
        transform_config,
        tuning_config,
    )

    assert training_config(estimator(), "s3://my-bucket/train", "job-1")["TrainingJobName"] == "job-1"
    assert transform_config(Transformer("m", 1, "ml.m5.large", output_path="s3://my-bucket/o"), "s3://my-bucket/i",
                            job_name="t-1")["TransformJobName"] == "t-1"
    plain = model_config(Model(IMAGE, "s3://my-bucket/m.tar.gz", ROLE), role="arn:aws:iam::123456789012:role/Other")
    assert plain["ModelName"].startswith("mine-")
    assert plain["PrimaryContainer"] == {"Image": IMAGE, "Environment": {}, "ModelDataUrl": "s3://my-bucket/m.tar.gz"}
    assert plain["ExecutionRoleArn"] == "arn:aws:iam::123456789012:role/Other"
    tuned = tuning_config(HyperparameterTuner(estimator(), "m", {"x": IntegerParameter(1, 2)}), "s3://my-bucket/t",
                          "tune-1", include_cls_metadata=True)
    assert tuned["TrainingJobDefinition"]["StaticHyperParameters"]["sagemaker_estimator_class_name"] == '"Estimator"'
    processed = processing_config(Processor(ROLE, IMAGE, 1, "ml.m5.large"), job_name="p-1",
                                  experiment_config={"ExperimentName": "e"})
    assert list(processed)[-1] == "ExperimentConfig"
