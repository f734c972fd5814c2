"""stepfn.aws.parity: the local engine against a Step Functions endpoint (moto, execute_state_machine on)
on the service-free workflows of the AWS-recorded conformance corpus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from stepfn.aws.parity import BackendRun, ParityReport, compare_backends
from stepfn.workflow.local_client import LocalStepFunctionsClient

# Service-free cases on which AWS, moto and the local engine all agree; together they touch Pass, Fail,
# Choice, Map (inline, catch, tolerated failures), Parallel, Wait timestamps, context paths and intrinsics.
AGREED = (
    "test_state_fail",
    "test_state_pass_result_jsonpaths",
    "test_error_cause_path",
    "test_output_to_state[JSONPATH_OUTPUT_TO_JSONATA]",
    "test_map_state",
    "test_map_state_catch",
    "test_map_state_tolerated_failure_percentage_path[1.1]",
    "test_parallel_state_catch",
    "test_parallel_state_fail",
    "test_choice_aws_docs_scenario[CHOICE_STATE_AWS_SCENARIO]",
    "test_escape_sequence_parsing[ESCAPE_SEQUENCES_JSONPATH]",
    "test_wait_timestamp_path[INVALID_DATE]",
    "test_array_get_item",
    "test_hash",
    "test_json_to_string",
    "test_format_1",
)


def _service_free_cases(conformance_dir: Path) -> list[dict[str, Any]]:
    cases = []
    for line in (conformance_dir / "aws-recorded.jsonl").read_text().splitlines():
        case = json.loads(line)
        text = json.dumps(case["definition"])
        # Task states call services; an ItemReader reads S3 objects the recording's test had uploaded; "_tbd_"
    # marks a value the recording's test filled in at run time.
        if '"Task"' not in text and "ItemReader" not in text and "_tbd_" not in text:
            cases.append(case)
    return cases


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """moto in server mode: an endpoint crash becomes an HTTP 500 the parity check reports, as a real one would."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    httpx.post(f"{url}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}).raise_for_status()
    yield url
    server.stop()


@pytest.fixture
def clients(stepfn_home: Path, moto_url: str) -> Iterator[tuple[Any, Any]]:
    local = LocalStepFunctionsClient(stepfn_home)
    remote = boto3.client("stepfunctions", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="moto",
                          aws_secret_access_key="moto", config=Config(retries={"max_attempts": 1}))
    yield local, remote
    httpx.post(f"{moto_url}/moto-api/reset").raise_for_status()
    local.close()


def test_agreed_cases_are_reported_the_same(clients: tuple[Any, Any], conformance_dir: Path) -> None:
    local, remote = clients
    first: dict[str, dict[str, Any]] = {}
    for case in _service_free_cases(conformance_dir):
        first.setdefault(case["test_id"].split("::")[-1], case)
    cases = [first[name] for name in AGREED]
    for index, case in enumerate(cases):
        report = compare_backends(case["definition"], case["input"], local_client=local, remote_client=remote,
                                  name=f"agreed-{index}")
        assert report.same, f"{case['test_id']}: {report}"
        assert report.local.status == case["expected"]["status"], case["test_id"]
        assert list(report.local.event_types) == case["event_types"], case["test_id"]
    assert remote.list_state_machines()["stateMachines"] == [], "compare_backends cleans up"


def test_a_real_difference_is_reported(clients: tuple[Any, Any]) -> None:
    """moto 5.2 does not implement ASL variables (Assign): the parity check must say so, not hide it."""
    local, remote = clients
    definition = {
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"greeting": "hello"}, "Next": "Use"},
            "Use": {"Type": "Pass", "Parameters": {"value.$": "$greeting"}, "End": True},
        },
    }
    report = compare_backends(definition, {}, local_client=local, remote_client=remote, name="assign")
    assert report.local.status == "SUCCEEDED" and report.local.output == {"value": "hello"}
    assert not report.same
    assert any(line.startswith("status: local SUCCEEDED, remote FAILED") for line in report.differences)
    assert "local and remote differ" in str(report)


def test_rejected_definition_is_reported_not_raised(clients: tuple[Any, Any]) -> None:
    local, remote = clients
    definition = {"StartAt": "Missing", "States": {"P": {"Type": "Pass", "End": True}}}
    report = compare_backends(definition, {}, local_client=local, remote_client=remote, name="rejected")
    assert (report.local.status, report.local.error) == ("REJECTED", "InvalidDefinition")
    assert report.local.event_types == ()
    # moto 5.2 accepts a StartAt naming no state and fails when it runs: a difference, reported as one.
    assert report.remote.status in ("REJECTED", "FAILED")
    if report.remote.status == "FAILED":
        assert report.differences[0] == "status: local REJECTED, remote FAILED"


def _run(status: str, output: Any, events: tuple[str, ...], error: str | None = None) -> BackendRun:
    return BackendRun(status, output, error, None, events, "arn")


def test_report_wording() -> None:
    same = ParityReport(_run("SUCCEEDED", {"a": 1}, ("A", "B")), _run("SUCCEEDED", {"a": 1}, ("A", "B")))
    assert same.same and str(same) == "local and remote agree: SUCCEEDED, 2 events"
    from stepfn.aws.parity import _differences

    lines = _differences(_run("FAILED", None, ("A", "B", "C"), "E"), _run("SUCCEEDED", [1], ("A", "X")),
                         ordered_events=True)
    assert lines == [
        "status: local FAILED, remote SUCCEEDED",
        "output: local null, remote [1]",
        "error: local 'E', remote None",
        "event types differ at event 2: local B, remote X",
    ]
    longer = _differences(_run("S", 1, ("A", "B", "C")), _run("S", 1, ("A",)), ordered_events=True)
    assert longer == ["event types: local has 2 more event(s) at the end: B, C"]
    unordered = _differences(_run("S", 1, ("A", "B")), _run("S", 1, ("B", "A")), ordered_events=False)
    assert unordered == []


@pytest.mark.slow
def test_sweep_local_is_never_the_odd_one_out(clients: tuple[Any, Any], conformance_dir: Path) -> None:
    """A third of the quick service-free cases (moto parses each definition for about half a second): where the
    local engine and moto disagree, the local engine must not be the one that departs from the AWS recording
    (status and event types) while moto matches it."""
    local, remote = clients
    local_wrong = []
    agreed = 0
    for index, case in enumerate(_service_free_cases(conformance_dir)[::3]):
        text = json.dumps(case["definition"])
        if '"IntervalSeconds"' in text or '"Seconds"' in text or '"SecondsPath"' in text:
            continue  # real waits and retry back-off: seconds each, on both engines
        report = compare_backends(case["definition"], case["input"], local_client=local, remote_client=remote,
                                  name=f"sweep-{index}", timeout=30)
        if report.same:
            agreed += 1
            continue
        expected = (case["expected"]["status"], case["event_types"])
        if (report.remote.status, list(report.remote.event_types)) == expected and (
            (report.local.status, list(report.local.event_types)) != expected
        ):
            local_wrong.append(f"{case['test_id']}: {report}")
    assert not local_wrong, "\n".join(local_wrong)
    assert agreed > 50
