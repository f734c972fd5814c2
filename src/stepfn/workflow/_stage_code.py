"""Put a framework estimator's lone local entry point where its definition expects it (local backend).

With sagemaker v2, building a TrainingStep for ``SKLearn(entry_point="train.py")`` (no ``source_dir``) uploaded the
script as ``sourcedir.tar.gz`` to ``s3://<bucket>/<job>/source/`` (``Framework._prepare_for_training``), and the
definition's ``sagemaker_submit_directory`` points there. stepfn's steps do no I/O, so the local backend packs
the script into its object store when the workflow is created or updated, where that hyperparameter points.
A ``source_dir`` needs nothing: a local one is read in place (``file://``), an ``s3://`` one is used as is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stepfn.local.objectstore import ObjectStore
from stepfn.steps.states import Graph, State

__all__ = ["local_entry_points", "stage_local_entry_points"]


def _states(definition: Graph) -> Iterator[State]:
    for state in definition.iter_states():
        yield state
        nested: list[Any] = list(getattr(state, "branches", None) or [])
        iterator = getattr(state, "iterator", None)
        if iterator is not None:
            nested.append(iterator)
        for branch in nested:
            yield from _states(Graph(branch))


def _estimators(state: State) -> Iterator[Any]:
    estimator = getattr(state, "estimator", None)
    if estimator is not None:
        yield estimator
    tuner = getattr(state, "tuner", None)
    if tuner is not None and getattr(tuner, "estimator", None) is not None:
        yield tuner.estimator


def local_entry_points(definition: Graph) -> list[tuple[Path, str]]:
    """``(script, s3 URI of its sourcedir.tar.gz)`` for each framework estimator given a local entry point and no
    ``source_dir``, in definition order."""
    found: list[tuple[Path, str]] = []
    for state in _states(definition):
        for estimator in _estimators(state):
            entry_point = getattr(estimator, "entry_point", None)
            submit = getattr(estimator, "_submit_directory", None)
            if getattr(estimator, "source_dir", None) or not isinstance(entry_point, str):
                continue
            if isinstance(submit, str) and submit.startswith("s3://") and Path(entry_point).is_file():
                found.append((Path(entry_point).resolve(), submit))
    return found


def stage_local_entry_points(definition: Graph, home: Path) -> list[str]:
    """Pack each lone local entry point into the local object store of ``home``; returns the URIs written."""
    store = ObjectStore(home / "s3")
    return [store.upload_code(script, uri) for script, uri in local_entry_points(definition)]
