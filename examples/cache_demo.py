"""The step cache on the demo's model: train (script mode) and batch-transform, run twice; the second run reuses.

The demo's scikit-learn script (examples/demo_code/train.py) and data, in a Chain of TrainingStep -> ModelStep ->
TransformStep whose jobs opt into the local step cache with ``CacheConfig``. The first run trains and
transforms; a second run with the same code and data takes both results over from the cache (no job process
runs), and a changed byte of data or code makes exactly the steps that read it run again. ``bench/cache.py``
times the two runs; ``tests/local/test_cache.py`` checks them.

Run: ``python examples/cache_demo.py`` (artifacts under ``$STEPFN_HOME``, default ``./.stepfn``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from demo import BUCKET, REGION, ROLE, package_code, prepare_data  # noqa: E402

from stepfn.inputs import ExecutionInput  # noqa: E402
from stepfn.local.objectstore import ObjectStore  # noqa: E402
from stepfn.sagemaker import Session, SKLearn, Transformer  # noqa: E402
from stepfn.steps import CacheConfig, Chain, ModelStep, TrainingStep, TransformStep  # noqa: E402
from stepfn.workflow import Workflow  # noqa: E402

TRANSFORM_OUTPUT = f"s3://{BUCKET}/cached-transform"


def build_workflow(data: dict[str, str], code_uri: str, *, name: str = "stepfn-cache-demo") -> Workflow:
    """Train -> save model -> batch transform, both jobs cached for 30 days."""
    session = Session(region_name=REGION, default_bucket=BUCKET)
    inputs = ExecutionInput(schema={"TrainingJobName": str, "ModelName": str, "TransformJobName": str})
    cache = CacheConfig(enable_caching=True, expire_after="P30D")
    sklearn = SKLearn(
        entry_point="train.py", source_dir=code_uri, framework_version="1.2-1", py_version="py3", role=ROLE,
        instance_count=1, instance_type="ml.m5.large", output_path=f"s3://{BUCKET}/cached-models",
        hyperparameters={"n-estimators": 20, "max-depth": 4},
        metric_definitions=[{"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9.]+)"}],
        sagemaker_session=session,
    )
    train = TrainingStep("Train", estimator=sklearn, job_name=inputs["TrainingJobName"],
                         data={"train": data["train"], "validation": data["validation"]}, cache_config=cache)
    model = ModelStep("Save model", model=train.get_expected_model(), model_name=inputs["ModelName"])
    transformer = Transformer(model_name="placeholder", instance_count=1, instance_type="ml.m5.large",
                              output_path=TRANSFORM_OUTPUT, accept="text/csv", assemble_with="Line",
                              sagemaker_session=session)
    transform = TransformStep("Batch transform", transformer=transformer, job_name=inputs["TransformJobName"],
                              model_name=inputs["ModelName"], data=data["test"], content_type="text/csv",
                              split_type="Line", cache_config=cache)
    return Workflow(name=name, definition=Chain([train, model, transform]), role=ROLE, execution_input=inputs)


def prepare(store: ObjectStore) -> Workflow:
    """Upload the demo's data and code and create the workflow."""
    workflow = build_workflow(prepare_data(store), package_code(store))
    workflow.create_or_update()
    return workflow


def run_once(workflow: Workflow, run_id: str, *, cache: bool = False) -> dict[str, Any]:
    """One execution to its end; its output (the transform job's record)."""
    inputs = {"TrainingJobName": f"cache-train-{run_id}", "ModelName": f"cache-model-{run_id}",
              "TransformJobName": f"cache-transform-{run_id}"}
    execution = workflow.execute(name=f"cache-{run_id}", inputs=inputs, cache=cache)
    output: dict[str, Any] = execution.get_output(wait=True)
    if execution.describe()["status"] != "SUCCEEDED":
        raise RuntimeError(f"execution {execution.execution_arn} did not succeed: {execution.describe()}")
    return output


def main() -> int:
    import time

    from stepfn.local.sagemaker.records import RecordStore

    workflow = prepare(ObjectStore())
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in ("a", "b"):
        started = time.perf_counter()
        output = run_once(workflow, f"{stamp}-{attempt}")
        took = time.perf_counter() - started
        # Each job's log says whether a job process ran or the cache answered.
        for kind, name in (("training-job", f"cache-train-{stamp}-{attempt}"), ("transform-job", output["TransformJobName"])):
            first_line = RecordStore().log_file(kind, name).read_text().partition("\n")[0]
            print(f"run {attempt}: {kind} {name}: {first_line}")
        print(f"run {attempt}: {took:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
