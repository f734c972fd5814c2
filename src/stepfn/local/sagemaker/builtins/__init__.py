"""Built-in SageMaker algorithms emulated locally: XGBoost algorithm mode, KMeans, PCA, LinearLearner and
BlazingText's supervised mode.

A training job runs ``python -m stepfn.local.sagemaker.builtins <algorithm>`` in its relocated ``/opt/ml``
(``SAGEMAKER_BASE_DIR``), as the real container runs ``train``: it reads the config files and channels, writes
the model under ``model/`` and, on a failure, ``output/failure`` (``ClientError: ...`` when the input is at
fault) before exiting 1. numpy, scikit-learn and xgboost are imported only inside that process.

For serving (local endpoints, batch transform): :func:`load_model` reads ``model_algo-1`` of KMeans / PCA /
LinearLearner / BlazingText models and :func:`predict_records` answers rows in the algorithm's JSON response format,
``{RESPONSE_KEY[algorithm]: [...]}`` (BlazingText answers sentences: ``blazingtext.predict``). XGBoost models are
plain ``xgboost-model`` boosters.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ALGORITHMS = ("xgboost", "kmeans", "pca", "linear-learner", "blazingtext")
RESPONSE_KEY = {"kmeans": "predictions", "pca": "projections", "linear-learner": "predictions"}

_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
_XGBOOST_METRICS = (
    "rmse", "mae", "mse", "logloss", "error", "merror", "mlogloss", "auc", "aucpr", "ndcg", "map",
    "poisson-nloglik", "gamma-nloglik", "cox-nloglik", "gamma-deviance", "tweedie-nloglik", "mape", "rmsle",
    "mphe", "accuracy", "f1", "r2", "precision", "recall",
)


def _quality(split: str, name: str) -> dict[str, str]:
    return {"Name": f"{split}:{name}", "Regex": rf"#quality_metric: host=\S+, {split} {name} <loss>={_NUMBER}"}


METRIC_DEFINITIONS: dict[str, list[dict[str, str]]] = {
    # What SageMaker defines for the built-ins, so FinalMetricDataList fills without MetricDefinitions.
    "xgboost": [
        {"Name": f"{split}:{name}", "Regex": rf".*\[[0-9]+\].*#011{split}-{re.escape(name)}:{_NUMBER}.*"}
        for split in ("train", "validation") for name in _XGBOOST_METRICS
    ],
    "kmeans": [_quality(split, name) for split in ("train", "test") for name in ("msd", "ssd")],
    "pca": [],
    "blazingtext": [{"Name": f"{split}:accuracy", "Regex": rf"#{split}_accuracy: {_NUMBER}"}
                    for split in ("train", "validation")],
    "linear-learner": [
        _quality(split, name)
        for split in ("train", "validation", "test")
        for name in ("objective_loss", "mse", "rmse", "absolute_loss", "binary_classification_accuracy",
                     "binary_f_beta", "multiclass_accuracy")
    ],
}


def load_model(model_dir: str | Path) -> dict[str, Any]:
    """The ``model_algo-1`` document of a local KMeans / PCA / LinearLearner / BlazingText model."""
    from stepfn.local.sagemaker.builtins.amazon import MODEL_FILE, MODEL_FORMAT

    path = Path(model_dir) / MODEL_FILE
    model: dict[str, Any] = json.loads(path.read_text())
    if model.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path} is not a stepfn local built-in model (it may come from the real algorithm)")
    return model


def predict_records(model: dict[str, Any], features: Any) -> list[dict[str, Any]]:
    """One JSON response record per feature row (numpy array or scipy sparse matrix)."""
    from stepfn.local.sagemaker.builtins.amazon import predict

    return predict(model, features)


def main(argv: list[str]) -> int:
    """``python -m stepfn.local.sagemaker.builtins <algorithm>``: train as the algorithm's container would."""
    import traceback

    from stepfn.local.sagemaker.builtins.data import AlgorithmError, Environment

    if len(argv) != 1 or argv[0] not in ALGORITHMS:
        print(f"usage: python -m stepfn.local.sagemaker.builtins {{{','.join(ALGORITHMS)}}}")
        return 2
    env = Environment.load()
    try:
        if argv[0] == "xgboost":
            from stepfn.local.sagemaker.builtins.xgboost import train
        elif argv[0] == "blazingtext":
            from stepfn.local.sagemaker.builtins.blazingtext import train
        else:
            from stepfn.local.sagemaker.builtins.amazon import TRAINERS

            train = TRAINERS[argv[0]]
        train(env)
    except AlgorithmError as exc:
        message = str(exc)
    except Exception as exc:  # the container reports any crash as an AlgorithmError, never a traceback only
        traceback.print_exc()
        message = f"AlgorithmError: {type(exc).__name__}: {exc}"
    else:
        (env.base / "output" / "success").touch()
        return 0
    print(message, flush=True)
    (env.base / "output").mkdir(parents=True, exist_ok=True)
    (env.base / "output" / "failure").write_text(message)
    return 1


__all__ = ["ALGORITHMS", "METRIC_DEFINITIONS", "RESPONSE_KEY", "load_model", "main", "predict_records"]
