"""Optional dependencies: which extra installs which module, and the one error that names the install command.

A plain ``pip install stepfn`` runs the engine, the CLI, the console, ``stepfn serve`` and script-mode jobs.
What needs numeric libraries (the built-in algorithms, model serving with the framework defaults, tuning,
``record_set``) imports them lazily and, when they are missing, says which extra brings them instead of
surfacing a bare ``ModuleNotFoundError``. ``tests/packaging/test_packaging_release.py`` checks that every import of these modules in
``src/stepfn`` sits behind one of the two guards below.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager

from stepfn.errors import MissingExtraError

EXTRAS: dict[str, tuple[str, ...]] = {
    # The extra's name -> the top-level modules it installs that stepfn itself imports.
    "ml": ("numpy", "scipy", "sklearn", "xgboost", "optuna", "joblib", "pyarrow", "pandas"),
    "notebook": ("IPython", "ipywidgets"),
    "s3": ("s3fs",),
}
_EXTRA_OF = {module: extra for extra, modules in EXTRAS.items() for module in modules}


def require_extra(extra: str, purpose: str, *modules: str) -> None:
    """Raise :class:`MissingExtraError` unless ``modules`` (default: all of ``extra``'s) can be imported.

    Looks the modules up without importing them, so a parent process can check before starting a job whose
    child process does the (slow) import."""
    for module in modules or EXTRAS[extra]:
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(purpose, module, extra)


@contextmanager
def needs_extra(purpose: str) -> Iterator[None]:
    """Around lazy imports: a module of an extra that is missing becomes :class:`MissingExtraError`."""
    try:
        yield
    except ModuleNotFoundError as error:
        module = (error.name or "").partition(".")[0]
        if isinstance(error, MissingExtraError) or module not in _EXTRA_OF:
            raise
        raise MissingExtraError(purpose, module, _EXTRA_OF[module]) from error


__all__ = ["EXTRAS", "needs_extra", "require_extra"]
