"""A PyTorch script (CPU) with checkpoints: the second training job resumes where the first stopped.

``pytorch_code/train.py`` fits a small linear model and saves ``checkpoint.pt`` after every epoch. Both
executions of this workflow give the training job the same ``CheckpointConfig.S3Uri``:

* the first run trains epochs 1-3; its checkpoints are synced to the object store;
* the second run asks for 6 epochs, finds the checkpoint restored into its checkpoint directory, prints
  ``resumed from epoch 3`` and trains only epochs 4-6.

The estimator's ``checkpoint_s3_uri`` is one of the settings the original SDK's TrainingStep never sent (stepfn
warns about it, see the migration guide), so the step passes ``CheckpointConfig`` through ``parameters=``,
which works identically on AWS.

Needs PyTorch (``pip install torch``, CPU build is enough); without it the example says so and exits with 2.
Run: ``python examples/pytorch_checkpoints.py``.
"""

from __future__ import annotations

import importlib.util
import io
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("STEPFN_HOME", str(HERE.parent / ".stepfn"))

from stepfn.inputs import ExecutionInput  # noqa: E402
from stepfn.local.objectstore import ObjectStore  # noqa: E402
from stepfn.sagemaker import PyTorch, Session  # noqa: E402
from stepfn.steps import TrainingStep  # noqa: E402
from stepfn.workflow import Workflow  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/stepfn-examples"
BUCKET = "stepfn-examples"
PREFIX = f"s3://{BUCKET}/pytorch"


def prepare_data(store: ObjectStore) -> str:
    """y = 3*x1 - 2*x2 + 0.5 + noise, label first, as CSV in the object store."""
    import numpy as np

    rng = np.random.default_rng(5)
    features = rng.normal(size=(512, 2))
    targets = features @ np.array([3.0, -2.0]) + 0.5 + rng.normal(scale=0.05, size=512)
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([targets, features]), delimiter=",", fmt="%.6g")
    store.put_bytes(f"{PREFIX}/train/train.csv", buffer.getvalue().encode())
    return f"{PREFIX}/train/"


def build_workflow(train_uri: str, checkpoint_uri: str) -> Workflow:
    session = Session(region_name="us-east-1", default_bucket=BUCKET)
    estimator = PyTorch(
        entry_point="train.py",
        source_dir=str(HERE / "pytorch_code"),
        framework_version="2.1",
        py_version="py310",
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"{PREFIX}/models",
        hyperparameters={"learning-rate": 0.1},
        metric_definitions=[{"Name": "train:loss", "Regex": r"train:loss=([0-9.e-]+)"}],
        sagemaker_session=session,
    )
    execution_input = ExecutionInput(schema={"JobName": str, "Epochs": str})
    train = TrainingStep(
        "Train with checkpoints",
        estimator=estimator,
        job_name=execution_input["JobName"],
        data={"train": train_uri},
        hyperparameters={"epochs": execution_input["Epochs"]},
        parameters={"CheckpointConfig": {"S3Uri": checkpoint_uri}},
    )
    return Workflow("stepfn-example-pytorch-checkpoints", train, ROLE, execution_input=execution_input)


def main() -> int:
    if importlib.util.find_spec("torch") is None:
        print("this example needs PyTorch: pip install torch (the CPU build is enough)", file=sys.stderr)
        return 2
    store = ObjectStore()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workflow = build_workflow(prepare_data(store), f"{PREFIX}/checkpoints/{stamp}")
    workflow.create_or_update()
    from stepfn.local.sagemaker.records import RecordStore

    for job, epochs in ((f"torch-first-{stamp}", "3"), (f"torch-resumed-{stamp}", "6")):
        execution = workflow.execute(name=job, inputs={"JobName": job, "Epochs": epochs})
        result = execution.get_output(wait=True)
        status = execution.describe()["status"]
        print(f"{job}: {status}")
        if status != "SUCCEEDED":
            print(execution.describe().get("cause"))
            return 1
        log = store_root_log(job)
        for line in log.splitlines():
            if "resumed from epoch" in line or "epoch=" in line or "learned weights" in line:
                print(f"  {line}")
        print(f"  model: {result['ModelArtifacts']['S3ModelArtifacts']}")
        print(f"  final metrics: {RecordStore().get('training-job', job)['FinalMetricDataList']}")
    print(f"checkpoints: {store.list(f'{PREFIX}/checkpoints/{stamp}/')}")
    return 0


def store_root_log(job: str) -> str:
    """The training job's log, as ``stepfn logs`` shows it."""
    home = Path(os.environ["STEPFN_HOME"])
    return (home / "sagemaker" / "logs" / "training-job" / f"{job}.log").read_text()


if __name__ == "__main__":
    sys.exit(main())
