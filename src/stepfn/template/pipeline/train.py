"""``TrainingPipeline``: train, create a model, configure and deploy an endpoint (docs/design/compat.md §8)."""

from __future__ import annotations

from typing import Any

from stepfn.steps.sagemaker import EndpointConfigStep, EndpointStep, ModelStep, TrainingStep
from stepfn.steps.states import Chain
from stepfn.template.pipeline.common import StepId, WorkflowTemplate

__all__ = ["TrainingPipeline"]


class TrainingPipeline(WorkflowTemplate):
    """Training -> Create Model -> Configure Endpoint -> Deploy, each step fed from the execution input."""

    def __init__(self, estimator: Any, role: str, inputs: Any, s3_bucket: str, client: Any = None,
                 pipeline_name: str | None = None) -> None:
        self.estimator = estimator
        self.inputs = inputs
        self._set_up(pipeline_name, "training-pipeline", s3_bucket, role, client)

    def build_workflow_definition(self) -> Chain:
        name = self.pipeline_name
        instance_type = self.estimator.instance_type
        instance_count = self.estimator.instance_count
        training = TrainingStep(StepId.Train.value, estimator=self.estimator, job_name=f"{name}/estimator-source",
                                data=self.inputs)
        model = ModelStep(StepId.CreateModel.value, instance_type=instance_type,
                          model=self.estimator.create_model(), model_name=name)
        endpoint_config = EndpointConfigStep(StepId.ConfigureEndpoint.value, endpoint_config_name=name,
                                             model_name=name, initial_instance_count=instance_count,
                                             instance_type=instance_type)
        deploy = EndpointStep(StepId.Deploy.value, endpoint_name=name, endpoint_config_name=name)
        return Chain([training, model, endpoint_config, deploy])

    def execute(self, job_name: str | None = None, hyperparameters: dict[str, Any] | None = None) -> Any:
        """Start an execution whose input fills every step's parameters; the job and endpoint are ``job_name``."""
        inputs = self._new_inputs(hyperparameters)
        if job_name is None:
            job_name = f"training-pipeline-{self._generate_timestamp()}"
        training = inputs[StepId.Train.value]
        training["TrainingJobName"] = "estimator-" + job_name
        training["OutputDataConfig"]["S3OutputPath"] = f"s3://{self.s3_bucket}/{self.workflow.name}/models"
        model = inputs[StepId.CreateModel.value]
        model["ModelName"] = job_name
        model["PrimaryContainer"]["ModelDataUrl"] = (
            f"{training['OutputDataConfig']['S3OutputPath']}/{training['TrainingJobName']}/output/model.tar.gz"
        )
        self._name_endpoint(inputs, job_name)
        return self.workflow.execute(inputs=inputs, name=job_name)
