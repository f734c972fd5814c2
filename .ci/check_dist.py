"""Check built distributions as a package index user gets them: ``python .ci/check_dist.py dist/*``.

The wheel must hold every file of ``src/stepfn`` that is not bytecode (the console's static files and the data
tables included: new data files are covered without editing this list), nothing from ``tests/`` or anything else
outside the package, the license files, and core dependencies with no extra marker for what the README's first
screens use. Used by ``make dist`` (hence CI) and by tests/newcomer on the wheel it installs.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
CORE = {"boto3", "click", "rich", "starlette", "uvicorn"}


def wheel_problems(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        metadata = Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
    problems = []
    expected = {p.relative_to(SRC).as_posix() for p in (SRC / "stepfn").rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    problems += [f"missing from the wheel: {name}" for name in sorted(expected - names)]
    problems += [f"not part of the package: {name}" for name in sorted(names)
                 if not (name.startswith(("stepfn/", f"{dist_info}/")))]
    problems += [f"stale file (not in src/): {name}" for name in sorted(names)
                 if name.startswith("stepfn/") and name not in expected]
    for license_file in ("LICENSE", "NOTICE"):
        if f"{dist_info}/licenses/{license_file}" not in names:
            problems.append(f"{license_file} missing from {dist_info}/licenses/")
    if metadata.get("License-Expression") != "Apache-2.0":
        problems.append(f"License-Expression is {metadata.get('License-Expression')!r}, not 'Apache-2.0'")
    core = {r.split(";")[0].split(">")[0].split("=")[0].split("[")[0].strip().lower()
            for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r}
    problems += [f"{name} is not a core dependency" for name in sorted(CORE - core)]
    return problems


def sdist_problems(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as archive:
        names = {name.partition("/")[2] for name in archive.getnames()}
    return [f"{name} missing from the sdist" for name in ("LICENSE", "NOTICE", "README.md", "pyproject.toml")
            if name not in names]


def main(paths: list[str]) -> int:
    problems = []
    for path in map(Path, paths):
        if path.suffix == ".whl":
            problems += [f"{path.name}: {p}" for p in wheel_problems(path)]
        elif path.name.endswith(".tar.gz"):
            problems += [f"{path.name}: {p}" for p in sdist_problems(path)]
    print("\n".join(problems) or f"checked {', '.join(Path(p).name for p in paths)}: ok")
    return 1 if problems or not paths else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
