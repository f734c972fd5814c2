"""What the workflow templates share: step ids and the template base class (docs/design/compat.md §8)."""

from __future__ import annotations

import copy
from datetime import datetime
from enum import Enum
from typing import Any

from stepfn.steps.states import Chain, Task
from stepfn.template.utils import replace_parameters_with_context_object

__all__ = ["StepId", "WorkflowTemplate", "build_execute_hyperparameters"]


class StepId(Enum):
    Train = "Training"
    CreateModel = "Create Model"
    ConfigureEndpoint = "Configure Endpoint"
    Deploy = "Deploy"

    TrainPreprocessor = "Train Preprocessor"
    CreatePreprocessorModel = "Create Preprocessor Model"
    TransformInput = "Transform Input"
    CreatePipelineModel = "Create Pipeline Model"


class WorkflowTemplate:
    """A ready-made workflow whose Task parameters come from the execution input (``$$.Execution.Input``).

    At construction each Task's Parameters are moved into ``input_template`` (keyed by state id) and replaced
    by references into the execution input; ``execute()`` fills a fresh deep copy of the template (§11 #13).
    """

    pipeline_name: str
    definition: Chain
    input_template: dict[str, Any]

    def __init__(self, s3_bucket: str, workflow: Any, role: str, client: Any = None, **kwargs: Any) -> None:
        self.workflow = workflow
        self.role = role
        self.s3_bucket = s3_bucket
        self.client = client

    def render_graph(self, portrait: bool = False) -> Any:
        return self.workflow.render_graph(portrait=portrait)

    def get_workflow(self) -> Any:
        return self.workflow

    def _generate_timestamp(self) -> str:
        return datetime.now().strftime("%Y-%m-%d-%H-%M-%S")

    def _extract_input_template(self, definition: Chain) -> dict[str, Any]:
        template: dict[str, Any] = {}
        for step in definition.steps:
            if isinstance(step, Task):
                template[step.state_id] = copy.copy(step.parameters)
                step.update_parameters(replace_parameters_with_context_object(step))
        return template

    def _new_inputs(self, hyperparameters: dict[str, Any] | None = None) -> dict[str, Any]:
        """The execution input for one ``execute()``, with the Training step's ``hyperparameters`` when given
        (stringified; see :func:`build_execute_hyperparameters`)."""
        # A deep copy per execute: the original's shallow copy let one execute's edits leak into the next.
        inputs: dict[str, Any] = copy.deepcopy(self.input_template)
        if hyperparameters is not None:
            training = inputs[StepId.Train.value]
            training["HyperParameters"] = build_execute_hyperparameters(training, hyperparameters)
        return inputs

    def _set_up(self, pipeline_name: str | None, default_prefix: str, s3_bucket: str, role: str,
                client: Any) -> None:
        """Name the pipeline, build its definition, move the parameters into ``input_template``, make the
        Workflow."""
        # Imported here: the templates need the workflow layer only once a template is built.
        from stepfn.workflow import Workflow

        self.pipeline_name = pipeline_name or f"{default_prefix}-{self._generate_timestamp()}"
        self.definition = self.build_workflow_definition()
        self.input_template = self._extract_input_template(self.definition)
        workflow = Workflow(name=self.pipeline_name, definition=self.definition, role=role, format_json=True,
                            client=client)
        WorkflowTemplate.__init__(self, s3_bucket=s3_bucket, workflow=workflow, role=role, client=client)

    @staticmethod
    def _name_endpoint(inputs: dict[str, Any], job_name: str) -> None:
        """The endpoint config, every variant's model and the endpoint are all named ``job_name``."""
        endpoint_config = inputs[StepId.ConfigureEndpoint.value]
        endpoint_config["EndpointConfigName"] = job_name
        for variant in endpoint_config["ProductionVariants"]:
            variant["ModelName"] = job_name
        inputs[StepId.Deploy.value]["EndpointConfigName"] = job_name
        inputs[StepId.Deploy.value]["EndpointName"] = job_name

    def build_workflow_definition(self) -> Chain:
        raise NotImplementedError

    def create(self) -> Any:
        return self.workflow.create()

    def execute(self, job_name: str | None = None, hyperparameters: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(s3_bucket={self.s3_bucket!r}, workflow={self.workflow!r}, role={self.role!r})"

def build_execute_hyperparameters(training: dict[str, Any], given: dict[str, Any]) -> dict[str, str]:
    """The Training step's HyperParameters for ``execute(hyperparameters=given)``.

    The original replaced the whole set, which for a framework estimator dropped ``sagemaker_program`` and
    ``sagemaker_submit_directory`` and made the job fail to start; the framework's ``sagemaker_*`` entries
    the caller did not give are kept, after the caller's values (all stringified).
    """
    merged = {str(k): str(v) for k, v in given.items()}
    for key, value in (training.get("HyperParameters") or {}).items():
        if key.startswith("sagemaker_") and key not in merged:
            merged[key] = value
    return merged
