"""The release's metadata from one place: the version, the license files, the extras and their error messages."""

from __future__ import annotations

import ast
import pickle
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import stepfn
from stepfn._extras import EXTRAS, needs_extra, require_extra
from stepfn.aws import user_agent_suffix
from stepfn.errors import MissingExtraError, StepfnError

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src" / "stepfn"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_version_is_written_once_and_the_cli_and_user_agent_use_it() -> None:
    project = PYPROJECT["project"]
    assert "version" not in project and project["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "stepfn.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", stepfn.__version__)
    shown = subprocess.run([sys.executable, "-m", "stepfn", "--version"], capture_output=True, text=True,
                           timeout=60, check=True).stdout
    assert shown == f"stepfn {stepfn.__version__}\n"
    assert user_agent_suffix() == f"stepfn/{stepfn.__version__}"
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert f"## {stepfn.__version__} " in changelog, "CHANGELOG.md has a section for the version being released"


def test_license_files_and_metadata() -> None:
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert set(PYPROJECT["project"]["license-files"]) == {"LICENSE", "NOTICE"}
    license_text = (REPO / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    notice = (REPO / "NOTICE").read_text()
    for credited in ("LocalStack", "aws-recorded.jsonl", "stepfunctions 2.3.0", "sagemaker-python-sdk"):
        assert credited in notice
    for path in re.findall(r"(?:tests/data|src/stepfn)/[\w./-]*\w", notice):
        assert (REPO / path).exists(), f"NOTICE credits {path}, which is not in the repository"


def test_core_dependencies_cover_the_console_and_serve() -> None:
    core = {re.split(r"[<>=\[]", d)[0].lower() for d in PYPROJECT["project"]["dependencies"]}
    assert {"starlette", "uvicorn", "boto3", "click", "rich"} <= core
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(extras) == {"ml", "notebook", "s3", "dev"}
    assert set(EXTRAS) == {"ml", "notebook", "s3"}


def test_missing_extra_error_names_the_pip_command_and_pickles() -> None:
    error = MissingExtraError("The local built-in xgboost algorithm", "xgboost", "ml")
    assert str(error) == ("The local built-in xgboost algorithm needs xgboost, which stepfn installs with its "
                          "'ml' extra: pip install 'stepfn[ml]'")
    assert isinstance(error, StepfnError) and isinstance(error, ModuleNotFoundError)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.name, copy.extra) == (str(error), "xgboost", "ml")


def test_needs_extra_translates_only_the_extras_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the next import of that name fail as if it were not installed.
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(MissingExtraError, match=r"Tuning needs optuna, .*pip install 'stepfn\[ml\]'"), \
            needs_extra("Tuning"):
        import optuna  # noqa: F401
    with pytest.raises(ModuleNotFoundError) as raised, needs_extra("Something"):
        import stepfn_no_such_module  # type: ignore[import-not-found]  # noqa: F401
    assert not isinstance(raised.value, MissingExtraError)


def test_require_extra_checks_without_importing() -> None:
    require_extra("ml", "x", "json")  # a module that exists: nothing raised
    with pytest.raises(MissingExtraError, match=r"pip install 'stepfn\[notebook\]'"):
        require_extra("notebook", "Rich notebook output", "stepfn_not_installed_module")


# Files whose imports of the extras' modules run only after a guard elsewhere: (guard file, text of the guard).
_GUARDED_ELSEWHERE = {
    "local/sagemaker/builtins/": [("local/sagemaker/training.py", 'require_extra("ml", f"The local built-in'),
                                  ("local/sagemaker/inference.py", 'require_extra("ml", f"Serving a')],
    "local/sagemaker/recordio.py": [("local/sagemaker/inference.py", 'require_extra("ml", f"Serving a')],
    "local/sagemaker/inference.py": [("local/sagemaker/inference.py", 'require_extra("ml", f"Serving a')],
    "local/sagemaker/tuning.py": [("local/sagemaker/tuning.py", 'require_extra("ml", "A local hyperparameter')],
}
# Optional on purpose: without IPython, html=True returns the HTML document itself, and a live notebook view
# is not shown (render_progress(live=True) returns the final view instead).
_FALLS_BACK = {"workflow/_html.py", "workflow/execution.py"}
# Catch the ImportError and raise their own error, which names the extra (test_objectstore checks the message).
_OWN_ERROR = {"local/objectstore.py"}
# Run by a framework environment's own Python (the model's image), never by stepfn's: its imports are that
# environment's packages.
_RUNS_IN_A_FRAMEWORK_ENVIRONMENT = {"local/sagemaker/handlerhost.py", "local/sagemaker/tfserving.py"}
# The images' toolkit packages (sagemaker_containers...): put on a job's path, imported by the user's script only.
_TOOLKITS = "local/sagemaker/toolkits/"


def _extra_imports(tree: ast.AST) -> list[tuple[ast.stmt, list[ast.AST]]]:
    """Each import of an extra's module with the chain of nodes that encloses it."""
    modules = {m for group in EXTRAS.values() for m in group}
    found: list[tuple[ast.stmt, list[ast.AST]]] = []

    def visit(node: ast.AST, parents: list[ast.AST]) -> None:
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        if any(name.partition(".")[0] in modules for name in names):
            found.append((node, parents))  # type: ignore[arg-type]
        for child in ast.iter_child_nodes(node):
            visit(child, [*parents, node])

    visit(tree, [])
    return found


def _inside_needs_extra(parents: list[ast.AST]) -> bool:
    return any(isinstance(p, ast.With) and any(isinstance(i.context_expr, ast.Call)
               and getattr(i.context_expr.func, "id", "") == "needs_extra" for i in p.items) for p in parents)


def _type_checking_only(parents: list[ast.AST]) -> bool:
    return any(isinstance(p, ast.If) and ast.unparse(p.test) == "TYPE_CHECKING" for p in parents)


def test_every_import_of_an_extras_module_is_guarded() -> None:
    """A plain install must never meet a bare ModuleNotFoundError: each import of numpy, xgboost, optuna, ...
    sits in ``with needs_extra(...)``, or in a module that runs only after a ``require_extra`` check."""
    unguarded = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        for node, parents in _extra_imports(ast.parse(path.read_text())):
            if (_inside_needs_extra(parents) or _type_checking_only(parents) or relative in _FALLS_BACK or relative in _OWN_ERROR
                    or relative in _RUNS_IN_A_FRAMEWORK_ENVIRONMENT or relative.startswith(_TOOLKITS)):
                continue
            guards = next((g for prefix, g in _GUARDED_ELSEWHERE.items() if relative.startswith(prefix)), None)
            if guards is not None and all(text in (SRC / file).read_text() for file, text in guards):
                continue
            unguarded.append(f"{relative}:{node.lineno}: {ast.unparse(node)}")
    assert not unguarded, "imports of optional modules without a needs_extra/require_extra guard:\n" + "\n".join(
        unguarded)
