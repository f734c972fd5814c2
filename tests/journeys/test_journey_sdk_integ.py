"""The Step Functions Data Science SDK's own integration tests (``tests/integ``, v2.3.0), run on stepfn.

The tests are not committed here. ``port-sources.toml`` (section ``sdk_integ``) names them: each run copies them,
with the SDK's ``tests/data``, out of a fetched checkout (``$STEPFN_PORT_SOURCES``, see
``scripts/ported-suites.sh``) into a temporary folder outside this repository, rewrites their imports
(``sagemaker`` -> ``stepfn.sagemaker``, ``stepfunctions`` -> ``stepfn``) and the one line the table patches, and
adds our two files in place of the SDK's: ``sdk_integ/integ_conftest.py`` as ``tests/integ/conftest.py`` (the same
fixtures answered by ``stepfn serve`` instead of an AWS account, stand-ins for the data files a snapshot lacks
and for the public census CSV) and ``sdk_integ/integ_timeout.py`` as ``tests/integ/timeout.py``. Then pytest runs
each test file there, in its own process, and this test checks the outcome: every test passed but those
``integ_conftest.SKIPPED`` names, which were skipped.

What they cover: state machines built with the SDK (Pass, Wait, Parallel, Map, Choice, Task with Catch and
Retry) created and run through ``boto3.client('stepfunctions')``; every SageMaker step (training, model,
transform, endpoint config, endpoint, tuning, processing in scikit-learn 0.20.0's environment); the
TrainingPipeline template with PCA and with an SKLearn 0.20.0 script; the InferencePipeline template. Jobs of the
``sagemaker-scikit-learn:0.20.0`` image run in that image's environment (stepfn's own scikit-learn being another
release), built once under ``$STEPFN_TEST_ENV_DIR`` when given.

The gaps they found are fixed in stepfn and tested on their own: a local ``Session``'s ``boto_session``
(tests/sagemaker/test_sagemaker_s3.py, test_sagemaker_session_clients.py); staging a lone entry point for a
client of ``stepfn serve`` (tests/workflow/test_workflow_stage_code.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from port_sources import materialize, needs
from sdk_integ.integ_conftest import SKIPPED

HERE = Path(__file__).parent
SRC = HERE.parent.parent / "src"

pytestmark = [pytest.mark.slow, needs("sdk_integ"), pytest.mark.timeout(3600)]


@pytest.mark.parametrize("suite", [
    "test_state_machine_definition.py",
    "test_training_pipeline_estimators.py",
    "test_training_pipeline_framework_estimator.py",
    "test_inference_pipeline.py",
    "test_sagemaker_steps.py",
])
def test_the_sdk_integration_suite_passes_on_stepfn(suite: str, tmp_path: Path) -> None:
    root = materialize("sdk_integ", tmp_path / "sdk")
    shutil.copy(HERE / "sdk_integ" / "integ_conftest.py", root / "tests" / "integ" / "conftest.py")
    shutil.copy(HERE / "sdk_integ" / "integ_timeout.py", root / "tests" / "integ" / "timeout.py")
    (root / "tests" / "__init__.py").write_text("")
    # This suite's own settings (its STEPFN_HOME, host job environments) are not the user's: the copied conftest
    # sets what the run needs.
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("STEPFN_", "AWS_")) or key == "STEPFN_TEST_ENV_DIR"}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE), str(root)])
    report = tmp_path / "report.xml"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", f"tests/integ/{suite}", "-q", "-rs", "-p", "no:cacheprovider",
         "-o", "addopts=", "--timeout=3000", f"--junitxml={report}"],
        cwd=root, env=env, capture_output=True, text=True, timeout=3500)
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        kinds = {child.tag for child in case} & {"failure", "error", "skipped"}
        outcomes[case.get("name", "").split("[")[0]] = kinds.pop() if kinds else "passed"
    assert outcomes, result.stdout[-4000:] + result.stderr[-4000:]
    print(f"{suite}: " + ", ".join(f"{name} {outcome}" for name, outcome in outcomes.items()))  # shown by -rP
    expected = {name: "skipped" if name in SKIPPED else "passed" for name in outcomes}
    assert outcomes == expected, result.stdout[-8000:] + result.stderr[-2000:]
    assert result.returncode == 0, result.stdout[-4000:]
