"""XGBoost algorithm mode (sagemaker-xgboost-container ``algorithm_mode/train.py``, docs/design/sagemaker-contract.md §5.1).

Channels ``train`` (required) and ``validation`` (optional); content type from the channel, default
``text/libsvm``; CSV has no header and the label first (with ``csv_weights=1`` the weight second). Every
hyperparameter but the container's own (``num_round``, ``early_stopping_rounds``, ``csv_weights``...) goes to
``xgb.train``; evaluation lines are printed as ``[i]\\ttrain-rmse:...\\tvalidation-rmse:...`` and the booster
is saved as ``$SM_MODEL_DIR/xgboost-model``.
"""

from __future__ import annotations

import json

from stepfn.local.sagemaker.builtins.data import (
    CSV,
    LIBSVM,
    PARQUET,
    AlgorithmError,
    Environment,
    int_hyperparameter,
    load_table,
)

_CONTAINER_ONLY = {
    "num_round", "early_stopping_rounds", "csv_weights", "_kfold", "_num_cv_round", "_tuning_objective_metric",
    "save_model_on_termination", "use_dask_gpu_training", "sagemaker_program", "sagemaker_submit_directory",
    "sagemaker_region", "sagemaker_container_log_level", "sagemaker_job_name", "sagemaker_enable_cloudwatch_metrics",
}
_INTEGER_PARAMETERS = {
    "max_depth", "max_leaves", "max_bin", "num_class", "seed", "num_parallel_tree", "nthread", "verbosity",
    "max_cat_to_onehot", "num_feature",
}


def _parameter(name: str, raw: str) -> object:
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(value, float) and name in _INTEGER_PARAMETERS and value.is_integer():
        return int(value)
    return value


def _dmatrix(env: Environment, channel: str, weighted: bool) -> object:
    import xgboost as xgb

    features, labels = load_table(env, channel, default=LIBSVM, labelled=True)
    weights = None
    kind = env.content_type(channel, LIBSVM)
    if weighted and kind in (CSV, PARQUET):
        weights, features = features[:, 0], features[:, 1:]
    return xgb.DMatrix(features, label=labels, weight=weights)


def train(env: Environment) -> None:
    import xgboost as xgb

    hyperparameters = env.hyperparameters
    num_round = int_hyperparameter(env, "num_round")
    weighted = hyperparameters.get("csv_weights", "0") == "1"
    params: dict[str, object] = {
        name: _parameter(name, raw) for name, raw in hyperparameters.items() if name not in _CONTAINER_ONLY
    }
    if isinstance(params.get("eval_metric"), str) and "," in str(params["eval_metric"]):
        params["eval_metric"] = str(params["eval_metric"]).split(",")
    params.setdefault("verbosity", 1)
    dtrain = _dmatrix(env, "train", weighted)
    evals = [(dtrain, "train")]
    if env.has_channel("validation"):
        evals.append((_dmatrix(env, "validation", weighted), "validation"))
    early = hyperparameters.get("early_stopping_rounds")
    if early is not None and len(evals) < 2:
        raise AlgorithmError("ClientError: early_stopping_rounds needs a validation channel")
    try:
        booster = xgb.train(
            params, dtrain, num_boost_round=num_round, evals=evals,
            early_stopping_rounds=int(early) if early is not None else None, verbose_eval=True,
        )
    except xgb.core.XGBoostError as exc:
        raise AlgorithmError(f"ClientError: XGBoost could not train with these hyperparameters: {exc}") from exc
    env.model_dir.mkdir(parents=True, exist_ok=True)
    # UBJSON, what save_model picks for a name without extension, written directly to skip its warning.
    (env.model_dir / "xgboost-model").write_bytes(bytes(booster.save_raw("ubj")))
    print(f"stepfn: saved {env.model_dir / 'xgboost-model'} ({booster.num_boosted_rounds()} rounds)", flush=True)


__all__ = ["train"]
