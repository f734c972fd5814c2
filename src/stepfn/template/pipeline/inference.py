"""``InferencePipeline``: preprocess, transform, train, and deploy both models as one pipeline model (§8)."""

from __future__ import annotations

from typing import Any

from stepfn.sagemaker.model import PipelineModel
from stepfn.steps.sagemaker import EndpointConfigStep, EndpointStep, ModelStep, TrainingStep, TransformStep
from stepfn.steps.states import Chain
from stepfn.template.pipeline.common import StepId, WorkflowTemplate

__all__ = ["InferencePipeline"]


class InferencePipeline(WorkflowTemplate):
    """Train Preprocessor -> Create Preprocessor Model -> Transform Input -> Training -> Create Pipeline Model
    -> Configure Endpoint -> Deploy."""

    def __init__(self, preprocessor: Any, estimator: Any, inputs: Any = None, s3_bucket: str | None = None,
                 role: str | None = None, client: Any = None, compression_type: str | None = None,
                 content_type: str | None = None, pipeline_name: str | None = None, *, data: Any = None) -> None:
        if s3_bucket is None or role is None:
            raise TypeError("InferencePipeline needs s3_bucket and role")
        self.preprocessor = preprocessor
        self.estimator = estimator
        # ``data=`` is the argument name of the original's early releases.
        self.inputs = inputs if inputs is not None else data
        self.compression_type = compression_type
        self.content_type = content_type
        self._set_up(pipeline_name, "inference-pipeline", s3_bucket, role, client)

    def build_workflow_definition(self) -> Chain:
        name = self.pipeline_name
        instance_type = self.preprocessor.instance_type
        instance_count = self.preprocessor.instance_count
        train_preprocessor = TrainingStep(StepId.TrainPreprocessor.value, estimator=self.preprocessor,
                                          job_name=f"{name}/preprocessor-source", data=self.inputs)
        preprocessor_model = self.preprocessor.create_model()
        create_preprocessor_model = ModelStep(StepId.CreatePreprocessorModel.value, instance_type=instance_type,
                                              model=preprocessor_model, model_name=name)
        transformer = self.preprocessor.transformer(instance_count=instance_count, instance_type=instance_type,
                                                    max_payload=20)
        transform = TransformStep(StepId.TransformInput.value, transformer=transformer, job_name=name,
                                  model_name=name, data=self.inputs["train"],
                                  compression_type=self.compression_type, content_type=self.content_type)

        instance_type = self.estimator.instance_type
        instance_count = self.estimator.instance_count
        training = TrainingStep(StepId.Train.value, estimator=self.estimator, job_name=f"{name}/estimator-source",
                                data=self.inputs)
        pipeline_model = PipelineModel(name="PipelineModel", role=self.estimator.role,
                                       models=[self.preprocessor.create_model(), self.estimator.create_model()])
        create_pipeline_model = ModelStep(StepId.CreatePipelineModel.value, instance_type=instance_type,
                                          model=preprocessor_model, model_name=name)
        create_pipeline_model.update_parameters(self.pipeline_model_config(instance_type, pipeline_model))
        endpoint_config = EndpointConfigStep(StepId.ConfigureEndpoint.value, endpoint_config_name=name,
                                             model_name=name, initial_instance_count=instance_count,
                                             instance_type=instance_type)
        deploy = EndpointStep(StepId.Deploy.value, endpoint_name=name, endpoint_config_name=name)
        return Chain([train_preprocessor, create_preprocessor_model, transform, training, create_pipeline_model,
                      endpoint_config, deploy])

    def pipeline_model_config(self, instance_type: Any, pipeline_model: PipelineModel) -> dict[str, Any]:
        return {
            "ModelName": "pipeline-model",
            "Containers": pipeline_model.pipeline_container_def(instance_type),
            "ExecutionRoleArn": pipeline_model.role,
        }

    @staticmethod
    def replace_sagemaker_job_name(config: dict[str, Any], job_name: str) -> None:
        hyperparameters = config.get("HyperParameters")
        if isinstance(hyperparameters, dict) and "sagemaker_job_name" in hyperparameters:
            hyperparameters["sagemaker_job_name"] = f'"{job_name}"'

    def _point_at_outputs(self, training: dict[str, Any]) -> None:
        models = f"s3://{self.s3_bucket}/{self.workflow.name}/models"
        training["OutputDataConfig"]["S3OutputPath"] = models
        # The original raised KeyError when the estimator had no debugger hook (§11 #13).
        if "DebugHookConfig" in training:
            training["DebugHookConfig"]["S3OutputPath"] = f"{models}/debug"

    def execute(self, job_name: str | None = None, hyperparameters: dict[str, Any] | None = None) -> Any:
        """Start an execution; jobs are ``preprocessor-<job_name>`` / ``estimator-<job_name>``, the endpoint
        ``job_name``."""
        # Hyperparameters stringified as TrainingPipeline does; the original passed them raw (§11 #13).
        inputs = self._new_inputs(hyperparameters)
        if job_name is None:
            job_name = f"inference-pipeline-{self._generate_timestamp()}"

        preprocessor = inputs[StepId.TrainPreprocessor.value]
        preprocessor["TrainingJobName"] = "preprocessor-" + job_name
        self._point_at_outputs(preprocessor)
        preprocessor_model = inputs[StepId.CreatePreprocessorModel.value]
        preprocessor_model["PrimaryContainer"]["ModelDataUrl"] = (
            f"{preprocessor['OutputDataConfig']['S3OutputPath']}/{preprocessor['TrainingJobName']}"
            "/output/model.tar.gz"
        )
        preprocessor_model["ModelName"] = preprocessor["TrainingJobName"]
        transform = inputs[StepId.TransformInput.value]
        transform["ModelName"] = preprocessor_model["ModelName"]
        transform["TransformJobName"] = preprocessor_model["ModelName"]
        transform["TransformOutput"]["S3OutputPath"] = (
            f"s3://{self.s3_bucket}/{self.workflow.name}/preprocessor-transform-{job_name}/transform"
        )
        self.replace_sagemaker_job_name(preprocessor, preprocessor["TrainingJobName"])

        training = inputs[StepId.Train.value]
        training["TrainingJobName"] = "estimator-" + job_name
        training["InputDataConfig"] = [{
            "ChannelName": "train",
            "DataSource": {
                "S3DataSource": {
                    "S3DataDistributionType": "FullyReplicated",
                    "S3DataType": "S3Prefix",
                    "S3Uri": transform["TransformOutput"]["S3OutputPath"],
                }
            },
        }]
        self._point_at_outputs(training)
        pipeline_model = inputs[StepId.CreatePipelineModel.value]
        pipeline_model["ModelName"] = job_name
        self.replace_sagemaker_job_name(training, training["TrainingJobName"])
        pipeline_model["Containers"][0]["ModelDataUrl"] = preprocessor_model["PrimaryContainer"]["ModelDataUrl"]
        pipeline_model["Containers"][1]["ModelDataUrl"] = (
            f"{training['OutputDataConfig']['S3OutputPath']}/{training['TrainingJobName']}/output/model.tar.gz"
        )

        self._name_endpoint(inputs, job_name)
        return self.workflow.execute(inputs=inputs, name=job_name)
