#!/usr/bin/env bash
# Runs the original SDK's unit suite (stepfunctions 2.3.0, tests/unit) on stepfn, with only its imports rewritten
# (stepfunctions -> stepfn, sagemaker -> stepfn.sagemaker, mock -> unittest.mock), outside this repository.
# Usage: scripts/original-unit-suite.sh /path/to/aws-step-functions-data-science-sdk-python [pytest args...]
# The expected failures (private internals, deliberate differences) are listed in CHANGES-vs-stepfunctions.md.
set -euo pipefail
original=$(cd "$1" && pwd); shift
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tests"
cp -r "$original/tests/unit" "$work/tests/unit"
touch "$work/tests/__init__.py"
find "$work/tests/unit" -name '*.py' -print0 | xargs -0 sed -i -E \
    -e 's/\bfrom stepfunctions/from stepfn/; s/\bimport stepfunctions/import stepfn/; s/\bstepfunctions\./stepfn./g' \
    -e 's/\bfrom sagemaker/from stepfn.sagemaker/; s/^import sagemaker$/import stepfn.sagemaker as sagemaker/' \
    -e 's/^from mock import/from unittest.mock import/; s/^import mock$/from unittest import mock/'
cd "$work"
# The original's CI ran with a region configured; its workflow fixtures build boto3 clients without one.
AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} PYTHONPATH="$repo/src" \
    "${PYTHON:-$repo/.venv/bin/python}" -m pytest tests/unit -q -p no:cacheprovider -W ignore -o addopts="" \
    --continue-on-collection-errors "$@"
