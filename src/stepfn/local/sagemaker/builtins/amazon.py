"""Local emulators of the Amazon built-ins KMeans, PCA and LinearLearner (docs/design/sagemaker-contract.md §5.2) on scikit-learn.

They read the same channels, formats (RecordIO-protobuf by default, CSV) and hyperparameters as the real
algorithms, print ``#quality_metric`` lines as they do, and write ``model_algo-1``: a small JSON document
(``{"algorithm", "format": "stepfn-local-1", ...parameters}``), not the MXNet artifact the real containers
write, so these models serve locally (:mod:`stepfn.local.sagemaker.builtins` ``load_model``) but not on AWS.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from stepfn.local.sagemaker.builtins.data import (
    RECORDIO,
    AlgorithmError,
    Environment,
    float_hyperparameter,
    int_hyperparameter,
    load_table,
    quality_metric,
)

MODEL_FILE = "model_algo-1"
MODEL_FORMAT = "stepfn-local-1"


def _dense(matrix: Any) -> np.ndarray:
    return np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix, dtype=np.float64)


def _features(env: Environment, channel: str, feature_dim: int | None, *, labelled: bool) -> tuple[np.ndarray, Any]:
    features, labels = load_table(env, channel, default=RECORDIO, labelled=labelled, feature_dim=feature_dim)
    features = _dense(features)
    if feature_dim is not None and features.shape[1] != feature_dim:
        raise AlgorithmError(
            f"ClientError: channel {channel!r} has {features.shape[1]} features but feature_dim is {feature_dim}"
        )
    return features, labels


def save_model(env: Environment, model: dict[str, Any]) -> None:
    env.model_dir.mkdir(parents=True, exist_ok=True)
    (env.model_dir / MODEL_FILE).write_text(json.dumps({"format": MODEL_FORMAT, **model}))


def _seed(env: Environment) -> int:
    return int_hyperparameter(env, "_seed", 0, minimum=0) if "_seed" in env.hyperparameters else 0


# -- KMeans ------------------------------------------------------------------------------------------------------


def train_kmeans(env: Environment) -> None:
    from sklearn.cluster import KMeans

    k = int_hyperparameter(env, "k")
    feature_dim = int_hyperparameter(env, "feature_dim")
    features, _ = _features(env, "train", feature_dim, labelled=False)
    if len(features) < k:
        raise AlgorithmError(f"ClientError: k={k} is larger than the {len(features)} training records")
    init = env.hyperparameters.get("init_method", "random")
    model = KMeans(
        n_clusters=k, init="k-means++" if init == "kmeans++" else "random", n_init=1,
        max_iter=int_hyperparameter(env, "epochs", 1) * 100, tol=float_hyperparameter(env, "tol", 1e-4),
        random_state=_seed(env),
    ).fit(features)
    centers = model.cluster_centers_
    _report_kmeans(env, "train", features, centers)
    if env.has_channel("test"):
        _report_kmeans(env, "test", _features(env, "test", feature_dim, labelled=False)[0], centers)
    save_model(env, {"algorithm": "kmeans", "centers": centers.tolist()})


def _report_kmeans(env: Environment, split: str, features: np.ndarray, centers: np.ndarray) -> None:
    distances = ((features[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2).min(axis=1)
    metrics = json.loads(env.hyperparameters.get("eval_metrics", '["msd"]').replace("'", '"'))
    if "msd" in metrics:
        quality_metric(split, "msd", float(distances.mean()))
    if "ssd" in metrics:
        quality_metric(split, "ssd", float(distances.sum()))


# -- PCA ---------------------------------------------------------------------------------------------------------


def train_pca(env: Environment) -> None:
    from sklearn.decomposition import PCA

    components = int_hyperparameter(env, "num_components")
    feature_dim = int_hyperparameter(env, "feature_dim")
    features, _ = _features(env, "train", feature_dim, labelled=False)
    if components > min(features.shape):
        raise AlgorithmError(f"ClientError: num_components={components} exceeds the data's rank bound "
                             f"{min(features.shape)}")
    subtract_mean = env.hyperparameters.get("subtract_mean", "true").lower() != "false"
    solver = "randomized" if env.hyperparameters.get("algorithm_mode") == "randomized" else "full"
    data = features if subtract_mean else np.vstack([features, -features])  # symmetric: mean 0, same axes
    model = PCA(n_components=components, svd_solver=solver, random_state=_seed(env)).fit(data)
    mean = model.mean_ if subtract_mean else np.zeros(feature_dim)
    print(f"stepfn: PCA explained variance ratio {model.explained_variance_ratio_.round(6).tolist()}", flush=True)
    save_model(env, {"algorithm": "pca", "components": model.components_.tolist(), "mean": mean.tolist()})


# -- LinearLearner ---------------------------------------------------------------------------------------------


def train_linear_learner(env: Environment) -> None:
    predictor = env.hyperparameters.get("predictor_type")
    if predictor not in ("binary_classifier", "multiclass_classifier", "regressor"):
        raise AlgorithmError("ClientError: predictor_type must be binary_classifier, multiclass_classifier or "
                             f"regressor (got {predictor!r})")
    feature_dim = int_hyperparameter(env, "feature_dim") if "feature_dim" in env.hyperparameters else None
    features, labels = _features(env, "train", feature_dim, labelled=True)
    if labels is None:
        raise AlgorithmError("ClientError: LinearLearner needs labels in the train channel")
    wd = float_hyperparameter(env, "wd", 0.0)
    if predictor == "regressor":
        from sklearn.linear_model import Ridge

        regressor = Ridge(alpha=max(wd * len(features), 1e-8)).fit(features, labels)
        model: dict[str, Any] = {"coef": [regressor.coef_.tolist()], "intercept": [float(regressor.intercept_)]}
    else:
        from sklearn.linear_model import LogisticRegression

        if predictor == "binary_classifier" and not set(np.unique(labels)) <= {0.0, 1.0}:
            raise AlgorithmError("ClientError: binary_classifier labels must be 0 or 1")
        if predictor == "multiclass_classifier":
            num_classes = int_hyperparameter(env, "num_classes", minimum=3)
            if labels.max() >= num_classes or labels.min() < 0:
                raise AlgorithmError(f"ClientError: labels must be in [0, {num_classes - 1}]")
        c = 1.0 / (wd * len(features)) if wd > 0 else 1e4
        classifier = LogisticRegression(C=c, max_iter=1000).fit(features, labels.astype(int))
        model = {"coef": classifier.coef_.tolist(), "intercept": classifier.intercept_.tolist(),
                 "classes": classifier.classes_.astype(int).tolist()}
    model.update({"algorithm": "linear-learner", "predictor_type": predictor})
    for split in ("train", "validation", "test"):
        if split == "train" or env.has_channel(split):
            split_features, split_labels = (features, labels) if split == "train" else _features(
                env, split, feature_dim, labelled=True)
            _report_linear(split, model, split_features, split_labels)
    save_model(env, model)


def _report_linear(split: str, model: dict[str, Any], features: np.ndarray, labels: np.ndarray) -> None:
    predictions = predict(model, features)
    if model["predictor_type"] == "regressor":
        scores = np.array([p["score"] for p in predictions])
        mse = float(((scores - labels) ** 2).mean())
        quality_metric(split, "objective_loss", mse)
        quality_metric(split, "mse", mse)
        quality_metric(split, "rmse", float(np.sqrt(mse)))
        quality_metric(split, "absolute_loss", float(np.abs(scores - labels).mean()))
        return
    predicted = np.array([p["predicted_label"] for p in predictions])
    accuracy = float((predicted == labels).mean())
    if model["predictor_type"] == "binary_classifier":
        scores = np.clip(np.array([p["score"] for p in predictions]), 1e-12, 1 - 1e-12)
        loss = float(-(labels * np.log(scores) + (1 - labels) * np.log(1 - scores)).mean())
        quality_metric(split, "objective_loss", loss)
        quality_metric(split, "binary_classification_accuracy", accuracy)
        quality_metric(split, "binary_f_beta", _f1(predicted, labels))
    else:
        probabilities = np.array([p["score"] for p in predictions])
        index = {c: i for i, c in enumerate(model["classes"])}
        picked = probabilities[np.arange(len(labels)), [index.get(int(y), 0) for y in labels]]
        quality_metric(split, "objective_loss", float(-np.log(np.clip(picked, 1e-12, 1)).mean()))
        quality_metric(split, "multiclass_accuracy", accuracy)


def _f1(predicted: np.ndarray, labels: np.ndarray) -> float:
    true_positive = float(((predicted == 1) & (labels == 1)).sum())
    denominator = float((predicted == 1).sum() + (labels == 1).sum())
    return 2 * true_positive / denominator if denominator else 0.0


# -- inference (shared with local endpoints and batch transform) ------------------------------------------------


def predict(model: dict[str, Any], features: Any) -> list[dict[str, Any]]:
    """One response record per row, in the built-in's JSON response format
    (``{"predictions": [...]}`` / ``{"projections": [...]}`` hold these records)."""
    rows = _dense(features)
    if rows.ndim == 1:
        rows = rows.reshape(1, -1)
    algorithm = model["algorithm"]
    if algorithm == "kmeans":
        centers = np.asarray(model["centers"])
        squared = ((rows[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
        closest = squared.argmin(axis=1)
        return [{"closest_cluster": float(c), "distance_to_cluster": float(np.sqrt(squared[i, c]))}
                for i, c in enumerate(closest)]
    if algorithm == "pca":
        projected = (rows - np.asarray(model["mean"])) @ np.asarray(model["components"]).T
        return [{"projection": row.tolist()} for row in projected]
    if algorithm == "linear-learner":
        raw = rows @ np.asarray(model["coef"]).T + np.asarray(model["intercept"])
        if model["predictor_type"] == "regressor":
            return [{"score": float(v)} for v in raw[:, 0]]
        if model["predictor_type"] == "binary_classifier":
            scores = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return [{"score": float(s), "predicted_label": float(s > 0.5)} for s in scores]
        shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        classes = model["classes"]
        return [{"score": p.tolist(), "predicted_label": float(classes[int(p.argmax())])} for p in probabilities]
    raise ValueError(f"unknown local built-in model {algorithm!r}")


TRAINERS = {"kmeans": train_kmeans, "pca": train_pca, "linear-learner": train_linear_learner}

__all__ = ["MODEL_FILE", "MODEL_FORMAT", "TRAINERS", "predict"]
