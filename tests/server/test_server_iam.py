"""boto3's IAM client against ``stepfn serve`` (HTTP on 127.0.0.1) and through a local Session's in-process boto3
session: the records a notebook makes before it deploys a function (Learn-Amazon-SageMaker, chapter 12, "Create
Lambda function"), IAM's error codes, and one set of records shared by both ways in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from botocore.exceptions import ClientError

from stepfn.local.iam import DB_FILENAME
from stepfn.sagemaker import Session
from stepfn.steps import Chain, LambdaStep
from stepfn.workflow import Workflow

# trust-policy.json and policy.json of PacktPublishing/Learn-Amazon-SageMaker sdkv1/ch12/step_functions, as the
# notebook reads them (f.read(): the file's own layout, which IAM keeps).
TRUST_POLICY = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Principal": {
        "Service": "lambda.amazonaws.com"
      },
      "Action": "sts:AssumeRole"
    }
  ]
}"""
POLICY = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "sagemaker:DescribeEndpoint",
            "Resource": "*"
        },
        {
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents"
            ],
            "Resource": "*"
        }
    ]
}"""
SAGEMAKER_FULL_ACCESS = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"
REPO = Path(__file__).resolve().parents[2]
# The notebook's lambda.py waits for the endpoint with boto3; this one reads its own role with boto3 (a function's
# clients reach the home's services, IAM included).
HANDLER = """import boto3

def lambda_handler(event, context):
    role = boto3.client("iam").get_role(RoleName="lambda-role-sagemaker-describe-endpoint")["Role"]
    return {"statusCode": 200, "body": event["EndpointArn"].split("/")[-1], "function": context.function_name,
            "role": role["Arn"]}
"""


def error_of(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def test_the_notebooks_role_deploys_its_function_and_a_lambda_step_runs_it(
        serve: Callable[..., str], make_client: Callable[..., Any], tmp_path: Path) -> None:
    url = serve()
    iam, lambda_client = make_client("iam", url), make_client("lambda", url)
    role_name = "lambda-role-sagemaker-describe-endpoint"
    created = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST_POLICY,
                              Description="Allow function to invoke all SageMaker APIs")["Role"]
    role_arn = created["Arn"]
    assert role_arn == f"arn:aws:iam::123456789012:role/{role_name}"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    assert created["AssumeRolePolicyDocument"] == json.loads(TRUST_POLICY)  # botocore decoded IAM's URL-encoding

    policy = iam.create_policy(PolicyName="Sagemaker-describe-endpoint", PolicyDocument=POLICY,
                               Description="Allow the DescribeEndpoint API")["Policy"]
    assert policy["Arn"] == "arn:aws:iam::123456789012:policy/Sagemaker-describe-endpoint"
    assert policy["PolicyId"].startswith("ANPA") and (policy["DefaultVersionId"], policy["AttachmentCount"]) == (
        "v1", 0)
    iam.attach_role_policy(RoleName=role_name, PolicyArn=policy["Arn"])
    iam.attach_role_policy(RoleName=role_name, PolicyArn=SAGEMAKER_FULL_ACCESS)  # AWS managed: exists everywhere
    iam.put_role_policy(RoleName=role_name, PolicyName="inline-logs", PolicyDocument=POLICY)
    assert iam.get_role(RoleName=role_name)["Role"]["Arn"] == role_arn
    assert {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]} == {
        policy["Arn"], SAGEMAKER_FULL_ACCESS}
    assert iam.get_policy(PolicyArn=policy["Arn"])["Policy"]["AttachmentCount"] == 1
    inline = iam.get_role_policy(RoleName=role_name, PolicyName="inline-logs")
    assert inline["PolicyDocument"] == json.loads(POLICY)
    assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == ["inline-logs"]

    # The notebook zips lambda.py (`zip -9 lambda.zip lambda.py`) and creates the function with the role's ARN.
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "lambda.py").write_text(HANDLER)
    archive = Path(shutil.make_archive(str(tmp_path / "lambda"), "zip", tmp_path / "code"))
    function = lambda_client.create_function(
        FunctionName="sagemaker-wait-for-endpoint", Role=role_arn, Runtime="python3.6",
        Handler="lambda.lambda_handler", Code={"ZipFile": archive.read_bytes()},
        Description="Wait for endpoint to be in service", Timeout=900, MemorySize=128)
    assert function["Role"] == role_arn
    step = LambdaStep("Wait for endpoint to be in service", parameters={
        "FunctionName": "sagemaker-wait-for-endpoint", "Payload": {"EndpointArn.$": "$.EndpointArn"}},
        timeout_seconds=900)
    workflow = Workflow("wait-for-endpoint", Chain([step]), role=role_arn)
    workflow.create()
    execution = workflow.execute(inputs={
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/sklearn-boston-housing"})
    assert execution.get_output(wait=True)["Payload"] == {
        "statusCode": 200, "body": "sklearn-boston-housing", "function": "sagemaker-wait-for-endpoint",
        "role": role_arn}

    # The notebook's clean-up, in its order; IAM refuses each step taken too early.
    lambda_client.delete_function(FunctionName="sagemaker-wait-for-endpoint")
    assert error_of(lambda: iam.delete_policy(PolicyArn=policy["Arn"]))[:2] == ("DeleteConflict", 409)
    assert error_of(lambda: iam.delete_role(RoleName=role_name))[:2] == ("DeleteConflict", 409)
    iam.detach_role_policy(RoleName=role_name, PolicyArn=policy["Arn"])
    iam.detach_role_policy(RoleName=role_name, PolicyArn=SAGEMAKER_FULL_ACCESS)
    iam.delete_policy(PolicyArn=policy["Arn"])
    assert error_of(lambda: iam.delete_role(RoleName=role_name))[:2] == ("DeleteConflict", 409)  # inline left
    iam.delete_role_policy(RoleName=role_name, PolicyName="inline-logs")
    iam.delete_role(RoleName=role_name)
    assert error_of(lambda: iam.get_role(RoleName=role_name)) == (
        "NoSuchEntity", 404, f"The role with name {role_name} cannot be found.")
    assert iam.list_roles()["Roles"] == [] and iam.list_policies(Scope="Local")["Policies"] == []


def test_a_server_and_a_notebooks_in_process_session_share_the_records(
        serve: Callable[..., str], make_client: Callable[..., Any], stepfn_home: Path) -> None:
    over_http = make_client("iam", serve())
    in_process = Session().boto_session.client("iam")
    over_http.create_role(RoleName="made-over-http", AssumeRolePolicyDocument=TRUST_POLICY)
    assert in_process.get_role(RoleName="made-over-http")["Role"]["Arn"].endswith(":role/made-over-http")
    in_process.put_role_policy(RoleName="made-over-http", PolicyName="in-process", PolicyDocument=POLICY)
    in_process.attach_role_policy(RoleName="made-over-http", PolicyArn=SAGEMAKER_FULL_ACCESS)
    assert over_http.list_role_policies(RoleName="made-over-http")["PolicyNames"] == ["in-process"]
    assert over_http.list_attached_role_policies(RoleName="made-over-http")["AttachedPolicies"] == [
        {"PolicyName": "AmazonSageMakerFullAccess", "PolicyArn": SAGEMAKER_FULL_ACCESS}]
    assert (stepfn_home / DB_FILENAME).is_file()
    # boto3's resource layer and waiters work on the same answers.
    in_process.get_waiter("role_exists").wait(RoleName="made-over-http")
    assert Session().boto_session.resource("iam").Role("made-over-http").arn == (
        "arn:aws:iam::123456789012:role/made-over-http")


def test_iam_refuses_what_iam_refuses_with_its_codes(serve: Callable[..., str],
                                                       make_client: Callable[..., Any]) -> None:
    iam = make_client("iam", serve())
    iam.create_role(RoleName="MyRole", AssumeRolePolicyDocument=TRUST_POLICY)
    # Names are unique without regard to case, and found without regard to case.
    assert error_of(lambda: iam.create_role(RoleName="myrole", AssumeRolePolicyDocument=TRUST_POLICY)) == (
        "EntityAlreadyExists", 409, "Role with name myrole already exists.")
    assert iam.get_role(RoleName="MYROLE")["Role"]["RoleName"] == "MyRole"
    no_principal = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]})
    malformed = [
        lambda: iam.create_role(RoleName="r", AssumeRolePolicyDocument="{not json"),
        lambda: iam.create_role(RoleName="r", AssumeRolePolicyDocument=no_principal),
        lambda: iam.update_assume_role_policy(RoleName="MyRole", PolicyDocument=POLICY),  # has Resource
        lambda: iam.put_role_policy(RoleName="MyRole", PolicyName="p", PolicyDocument=TRUST_POLICY),  # Principal
        lambda: iam.create_policy(PolicyName="p", PolicyDocument=json.dumps({"Statement": [{"Effect": "Maybe"}]})),
        lambda: iam.create_policy(PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17"})),
    ]
    for call in malformed:
        assert error_of(call)[:2] == ("MalformedPolicyDocument", 400)
    assert error_of(lambda: iam.get_role(RoleName="a" * 65)) == (
        "ValidationError", 400, f"1 validation error detected: Value '{'a' * 65}' at 'roleName' failed to satisfy "
        "constraint: Member must have length less than or equal to 64")
    assert error_of(lambda: iam.create_role(RoleName="has space", AssumeRolePolicyDocument=TRUST_POLICY))[:2] == (
        "ValidationError", 400)
    assert error_of(lambda: iam.create_role(RoleName="r", Path="no-slashes", AssumeRolePolicyDocument=TRUST_POLICY)
                    )[:2] == ("ValidationError", 400)
    missing = "arn:aws:iam::123456789012:policy/absent"
    assert error_of(lambda: iam.attach_role_policy(RoleName="MyRole", PolicyArn=missing)) == (
        "NoSuchEntity", 404, f"Policy {missing} does not exist or is not attachable.")
    assert error_of(lambda: iam.attach_role_policy(RoleName="absent", PolicyArn=SAGEMAKER_FULL_ACCESS))[:2] == (
        "NoSuchEntity", 404)
    assert error_of(lambda: iam.detach_role_policy(RoleName="MyRole", PolicyArn=SAGEMAKER_FULL_ACCESS))[:2] == (
        "NoSuchEntity", 404)
    assert error_of(lambda: iam.get_role_policy(RoleName="MyRole", PolicyName="absent"))[:2] == ("NoSuchEntity", 404)
    assert error_of(lambda: iam.get_policy(PolicyArn="arn:aws:s3:::some-bucket/key"))[:2] == ("InvalidInput", 400)
    # Quotas: ten managed policies a role, a role's inline policies 10,240 characters together.
    for index in range(10):
        iam.attach_role_policy(RoleName="MyRole", PolicyArn=f"arn:aws:iam::aws:policy/Managed{index}")
    assert error_of(lambda: iam.attach_role_policy(RoleName="MyRole", PolicyArn=SAGEMAKER_FULL_ACCESS)) == (
        "LimitExceeded", 409, "Cannot exceed quota for PoliciesPerRole: 10")
    iam.attach_role_policy(RoleName="MyRole", PolicyArn="arn:aws:iam::aws:policy/Managed0")  # attached already: no-op
    big = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": f"s3:GetObject{index}", "Resource": "*"} for index in range(120)]})
    iam.put_role_policy(RoleName="MyRole", PolicyName="big", PolicyDocument=big)
    assert error_of(lambda: iam.put_role_policy(RoleName="MyRole", PolicyName="big2", PolicyDocument=big)) == (
        "LimitExceeded", 409, "Maximum policy size of 10240 bytes exceeded for role MyRole")
    assert error_of(lambda: iam.create_user(UserName="someone"))[:2] == ("InvalidAction", 400)


def test_managed_policy_versions(serve: Callable[..., str], make_client: Callable[..., Any]) -> None:
    iam = make_client("iam", serve())
    arn = iam.create_policy(PolicyName="versioned", Path="/team/", PolicyDocument=POLICY)["Policy"]["Arn"]
    assert arn == "arn:aws:iam::123456789012:policy/team/versioned"
    assert error_of(lambda: iam.create_policy(PolicyName="VERSIONED", PolicyDocument=POLICY))[:2] == (
        "EntityAlreadyExists", 409)
    second = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
    assert iam.create_policy_version(PolicyArn=arn, PolicyDocument=second, SetAsDefault=True)["PolicyVersion"][
        "VersionId"] == "v2"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert (version["Document"], version["IsDefaultVersion"]) == (json.loads(POLICY), False)
    for _ in range(3):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=POLICY)
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]] == [
        "v5", "v4", "v3", "v2", "v1"]
    assert error_of(lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument=POLICY))[:2] == (
        "LimitExceeded", 409)
    assert error_of(lambda: iam.delete_policy_version(PolicyArn=arn, VersionId="v2"))[:2] == ("DeleteConflict", 409)
    assert error_of(lambda: iam.delete_policy(PolicyArn=arn))[:2] == ("DeleteConflict", 409)  # versions left
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    for version_id in ("v2", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version_id)
    # Version ids keep counting after deletions, as IAM's do.
    assert iam.create_policy_version(PolicyArn=arn, PolicyDocument=POLICY)["PolicyVersion"]["VersionId"] == "v6"
    assert error_of(lambda: iam.get_policy_version(PolicyArn=arn, VersionId="v2"))[:2] == ("NoSuchEntity", 404)
    iam.delete_policy_version(PolicyArn=arn, VersionId="v6")
    iam.delete_policy(PolicyArn=arn)
    assert error_of(lambda: iam.get_policy(PolicyArn=arn))[:2] == ("NoSuchEntity", 404)


def test_aws_managed_policies_exist_by_arn_and_their_documents_are_not_invented(
        serve: Callable[..., str], make_client: Callable[..., Any]) -> None:
    iam = make_client("iam", serve())
    service_role = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    policy = iam.get_policy(PolicyArn=service_role)["Policy"]
    assert (policy["PolicyName"], policy["Path"], policy["AttachmentCount"]) == (
        "AWSLambdaBasicExecutionRole", "/service-role/", 0)
    assert "DefaultVersionId" not in policy
    assert error_of(lambda: iam.get_policy_version(PolicyArn=service_role, VersionId="v1"))[:2] == (
        "NoSuchEntity", 404)
    assert error_of(lambda: iam.delete_policy(PolicyArn=service_role))[:2] == ("UnmodifiableEntity", 400)
    iam.create_role(RoleName="attaching", AssumeRolePolicyDocument=TRUST_POLICY)
    iam.attach_role_policy(RoleName="attaching", PolicyArn=service_role)
    iam.create_policy(PolicyName="local-one", PolicyDocument=POLICY)
    assert [p["Arn"] for p in iam.list_policies(Scope="AWS")["Policies"]] == [service_role]
    assert [p["PolicyName"] for p in iam.list_policies()["Policies"]] == ["AWSLambdaBasicExecutionRole", "local-one"]
    assert [p["PolicyName"] for p in iam.list_policies(OnlyAttached=True)["Policies"]] == [
        "AWSLambdaBasicExecutionRole"]
    boundary = iam.create_policy(PolicyName="boundary", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.create_role(RoleName="bounded", AssumeRolePolicyDocument=TRUST_POLICY, PermissionsBoundary=boundary)
    assert iam.get_policy(PolicyArn=boundary)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    assert [p["PolicyName"] for p in iam.list_policies(OnlyAttached=True, PolicyUsageFilter="PermissionsBoundary")[
        "Policies"]] == ["boundary"]
    assert error_of(lambda: iam.delete_policy(PolicyArn=boundary))[:2] == ("DeleteConflict", 409)
    assert [p["PolicyName"] for p in iam.list_attached_role_policies(
        RoleName="attaching", PathPrefix="/service-role/")["AttachedPolicies"]] == ["AWSLambdaBasicExecutionRole"]


def test_listings_page_and_filter_by_path_and_tags_change(serve: Callable[..., str],
                                                           make_client: Callable[..., Any]) -> None:
    iam = make_client("iam", serve())
    for index in range(5):
        iam.create_role(RoleName=f"role-{index}", AssumeRolePolicyDocument=TRUST_POLICY,
                        Path="/service-role/" if index % 2 else "/", Tags=[{"Key": "n", "Value": str(index)}])
    pages = list(iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 2}))
    assert [[role["RoleName"] for role in page["Roles"]] for page in pages] == [
        ["role-0", "role-1"], ["role-2", "role-3"], ["role-4"]]
    assert "Tags" not in pages[0]["Roles"][0]  # ListRoles leaves tags out, GetRole has them
    assert [r["Arn"] for r in iam.list_roles(PathPrefix="/service-role/")["Roles"]] == [
        "arn:aws:iam::123456789012:role/service-role/role-1", "arn:aws:iam::123456789012:role/service-role/role-3"]
    iam.tag_role(RoleName="role-0", Tags=[{"Key": "n", "Value": "changed"}, {"Key": "team", "Value": "ml"}])
    assert iam.get_role(RoleName="role-0")["Role"]["Tags"] == [{"Key": "n", "Value": "changed"},
                                                                {"Key": "team", "Value": "ml"}]
    iam.untag_role(RoleName="role-0", TagKeys=["n"])
    assert iam.list_role_tags(RoleName="role-0")["Tags"] == [{"Key": "team", "Value": "ml"}]
    # A description with XML's own characters comes back as written; a permissions boundary is recorded.
    iam.create_role(RoleName="bounded", AssumeRolePolicyDocument=TRUST_POLICY, Description="a <b> & 'c'",
                    PermissionsBoundary=SAGEMAKER_FULL_ACCESS)
    bounded = iam.get_role(RoleName="bounded")["Role"]
    assert (bounded["Description"], bounded["PermissionsBoundary"]) == (
        "a <b> & 'c'", {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": SAGEMAKER_FULL_ACCESS})
    iam.update_role(RoleName="bounded", Description="changed", MaxSessionDuration=7200)
    assert [iam.get_role(RoleName="bounded")["Role"][key] for key in ("Description", "MaxSessionDuration")] == [
        "changed", 7200]
    assert error_of(lambda: iam.update_role(RoleName="bounded", MaxSessionDuration=99_999))[:2] == (
        "ValidationError", 400)
    iam.update_assume_role_policy(RoleName="role-0", PolicyDocument=TRUST_POLICY.replace("lambda", "states"))
    assert iam.get_role(RoleName="role-0")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "states.amazonaws.com"}
    # Tag patterns' Unicode classes are checked too; a value XML cannot carry is refused before it is stored.
    iam.tag_role(RoleName="role-0", Tags=[{"Key": "équipe", "Value": "données 2"}])
    assert error_of(lambda: iam.tag_role(RoleName="role-0", Tags=[{"Key": "a!", "Value": ""}]))[:2] == (
        "ValidationError", 400)
    assert error_of(lambda: iam.create_policy(PolicyName="ctl", PolicyDocument=POLICY, Description="bell\x07")
                    )[:2] == ("ValidationError", 400)
    assert error_of(lambda: iam.tag_role(RoleName="role-0", Tags=[
        {"Key": f"k{index}", "Value": ""} for index in range(50)]))[:2] == ("LimitExceeded", 409)


def test_the_wire_answer_is_iams_xml_with_url_encoded_documents(serve: Callable[..., str],
                                                                  make_client: Callable[..., Any],
                                                                  stepfn_home: Path) -> None:
    """An unsigned form POST (curl, another SDK with the token header) reaches IAM by its Action; STS keeps its
    own."""
    url = serve()
    token = (stepfn_home / "server-token").read_text().strip()
    make_client("iam", url).create_role(RoleName="wired", AssumeRolePolicyDocument=TRUST_POLICY)
    headers = {"X-Stepfn-Token": token, "Content-Type": "application/x-www-form-urlencoded"}
    body = urllib.parse.urlencode({"Action": "PutRolePolicy", "Version": "2010-05-08", "RoleName": "wired",
                                   "PolicyName": "p", "PolicyDocument": POLICY})
    assert httpx.post(url, headers=headers, content=body).status_code == 200
    answer = httpx.post(url, headers=headers, content="Action=GetRolePolicy&Version=2010-05-08&RoleName=wired"
                                                      "&PolicyName=p")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml")
    assert answer.text.startswith('<GetRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
                                  "<GetRolePolicyResult><RoleName>wired</RoleName><PolicyName>p</PolicyName>"
                                  f"<PolicyDocument>{urllib.parse.quote(POLICY, safe='')}</PolicyDocument>")
    missing = httpx.post(url, headers=headers, content="Action=GetRole&Version=2010-05-08&RoleName=absent")
    assert missing.status_code == 404
    assert "<Code>NoSuchEntity</Code><Message>The role with name absent cannot be found.</Message>" in missing.text
    assert "<Account>123456789012</Account>" in httpx.post(
        url, headers=headers, content="Action=GetCallerIdentity&Version=2011-06-15").text
    refused = httpx.post(url, headers={"Content-Type": "application/x-www-form-urlencoded"},
                         content="Action=ListRoles&Version=2010-05-08")
    assert refused.status_code == 403  # the token guards IAM as every other route
    # An action neither API serves is echoed in STS's error: a character XML cannot carry is escaped, so the
    # answer still parses.
    odd = httpx.post(url, headers=headers, content="Action=Assume%01Role%26&Version=2011-06-15")
    assert odd.status_code == 400
    message = ElementTree.fromstring(odd.text).find(".//{*}Message")
    assert message is not None and message.text == "stepfn serve does not implement Assume\\x01Role&"


def test_concurrent_creates_of_one_name_make_one_role(serve: Callable[..., str],
                                                      make_client: Callable[..., Any]) -> None:
    url = serve()

    def create(index: int) -> str:
        try:
            make_client("iam", url).create_role(RoleName=f"same-{index % 3}", AssumeRolePolicyDocument=TRUST_POLICY)
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "created"

    def attach(index: int) -> None:
        make_client("iam", url).attach_role_policy(RoleName="shared", PolicyArn=f"arn:aws:iam::aws:policy/P{index}")

    make_client("iam", url).create_role(RoleName="shared", AssumeRolePolicyDocument=TRUST_POLICY)
    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(create, range(12)))
        list(pool.map(attach, range(8)))
    assert outcomes.count("created") == 3 and set(outcomes) == {"created", "EntityAlreadyExists"}
    # Each attach read and wrote the role inside one transaction: none was lost to another's write.
    attached = make_client("iam", url).list_attached_role_policies(RoleName="shared")["AttachedPolicies"]
    assert sorted(p["PolicyName"] for p in attached) == [f"P{index}" for index in range(8)]


def test_a_notebook_in_another_process_and_the_server_see_each_others_roles(
        serve: Callable[..., str], make_client: Callable[..., Any], stepfn_home: Path) -> None:
    """The notebook's own process (its local Session's in-process IAM) and ``stepfn serve`` share the home's
    records, both ways."""
    iam = make_client("iam", serve())
    iam.create_role(RoleName="from-the-server", AssumeRolePolicyDocument=TRUST_POLICY)
    notebook = """
import json, sys
from stepfn.sagemaker import Session
iam = Session().boto_session.client("iam")
print(iam.get_role(RoleName="from-the-server")["Role"]["Arn"])
iam.create_role(RoleName="from-the-notebook", AssumeRolePolicyDocument=sys.argv[1])
iam.attach_role_policy(RoleName="from-the-notebook", PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
"""
    done = subprocess.run([sys.executable, "-c", notebook, TRUST_POLICY], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "STEPFN_HOME": str(stepfn_home), "PYTHONPATH": str(REPO / "src")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "arn:aws:iam::123456789012:role/from-the-server"
    assert iam.list_attached_role_policies(RoleName="from-the-notebook")["AttachedPolicies"] == [
        {"PolicyName": "AmazonSageMakerFullAccess", "PolicyArn": SAGEMAKER_FULL_ACCESS}]
