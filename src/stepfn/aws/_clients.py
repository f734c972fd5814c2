"""boto3 clients, regions, roles and partition-aware ARNs for the AWS backend.

The AWS backend is boto3 itself: ``Workflow`` talks to a ``stepfunctions`` client whatever the
backend. What this module adds is the part boto3 leaves to its callers: a clear error naming the
fix when no region is configured or a role is missing or malformed, ARNs built for the right
partition (``aws``, ``aws-cn``, ``aws-us-gov``...), and the ``stepfn/<version>`` user agent suffix
appended exactly once to every client stepfn makes or is handed (the original SDK appended its
suffix on each call, so a client reused by two workflows carried it twice).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from stepfn._partitions import partition_for_region
from stepfn.errors import StepfnError

# Longest prefix first: ``us-isob-`` must win over ``us-iso-``.
_PARTITION_DOMAINS = {
    "aws": "amazonaws.com",
    "aws-cn": "amazonaws.com.cn",
    "aws-us-gov": "amazonaws.com",
    "aws-iso": "c2s.ic.gov",
    "aws-iso-b": "sc2s.sgov.gov",
}
_CONSOLE_HOSTS = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}
_ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
_USER_AGENT_HANDLER_ID = "stepfn-user-agent-suffix"


class AwsConfigurationError(StepfnError):
    """The AWS backend cannot start: no region, no role, or a role that is not an IAM role ARN."""


def build_arn(service: str, resource: str, *, region: str, account: str, partition: str | None = None) -> str:
    """``arn:<partition>:<service>:<region>:<account>:<resource>``; the partition follows the region unless given."""
    return f"arn:{partition or partition_for_region(region)}:{service}:{region}:{account}:{resource}"


def build_state_machine_arn(name: str, *, region: str, account: str, partition: str | None = None) -> str:
    return build_arn("states", f"stateMachine:{name}", region=region, account=account, partition=partition)


def build_execution_arn(
    state_machine_name: str, execution_name: str, *, region: str, account: str, partition: str | None = None
) -> str:
    return build_arn(
        "states", f"execution:{state_machine_name}:{execution_name}", region=region, account=account, partition=partition
    )


def build_console_url(arn: str, *, kind: str = "execution") -> str:
    """The Step Functions console page of a state machine (``kind='statemachine'``) or an execution ARN.

    The original SDK always linked ``console.aws.amazon.com``; China and GovCloud have their own consoles.
    """
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise AwsConfigurationError(f"not an ARN: {arn!r}")
    partition, region = parts[1], parts[3]
    host = _CONSOLE_HOSTS.get(partition, _CONSOLE_HOSTS["aws"])
    page = "executions/details" if kind == "execution" else "statemachines/view"
    return f"https://{host}/states/home?region={region}#/{page}/{arn}"


def service_domain(partition: str) -> str:
    """The DNS suffix of a partition's service endpoints (``amazonaws.com.cn`` for ``aws-cn``)."""
    return _PARTITION_DOMAINS.get(partition, "amazonaws.com")


def check_role_arn(role: str | None, *, what: str = "workflow") -> str:
    """Return ``role`` if it is an IAM role ARN; otherwise raise an error that says what to pass.

    Step Functions itself answers a malformed role with ``InvalidArn`` only when the call reaches it;
    failing before any upload or API call keeps a half-deployed workflow from being left behind.
    """
    if not role:
        raise AwsConfigurationError(
            f"the {what} needs an IAM role to run on AWS: pass role='arn:aws:iam::<account>:role/<name>' "
            "(a role Step Functions can assume, allowed to call the services the workflow uses)"
        )
    if not _ROLE_ARN.match(role):
        raise AwsConfigurationError(
            f"the {what} role {role!r} is not an IAM role ARN; expected 'arn:<partition>:iam::<12-digit account>:role/<name>'"
        )
    return role


def resolve_region(region_name: str | None = None, *, session: Any = None) -> str:
    """The region to use: the argument, then the boto3 session's (``AWS_REGION``/``AWS_DEFAULT_REGION``, config file)."""
    if region_name:
        return region_name
    if session is None:
        import boto3

        session = boto3.session.Session()
    region = session.region_name
    if not region:
        raise AwsConfigurationError(
            "no AWS region configured: pass region_name=..., set AWS_REGION (or AWS_DEFAULT_REGION), "
            "or add 'region = ...' to ~/.aws/config"
        )
    return str(region)


@lru_cache(maxsize=1)
def user_agent_suffix() -> str:
    """``stepfn/<version>``, the token appended to every AWS request stepfn sends."""
    from stepfn import __version__

    return f"stepfn/{__version__}"


def append_user_agent(client: Any) -> Any:
    """Append `` stepfn/<version>`` to the User-Agent of every request ``client`` sends, once.

    Done as a ``before-send`` hook rather than by editing the client config because botocore rebuilds
    the header from its config per request; User-Agent is not a signed header, so changing it after
    signing is safe. Registering under a fixed ``unique_id`` makes a second call a no-op.
    """
    suffix = user_agent_suffix()

    def add_suffix(request: Any, **_: Any) -> None:
        current = request.headers.get("User-Agent", "")
        if isinstance(current, bytes):
            current = current.decode()
        if suffix not in current.split():
            request.headers["User-Agent"] = f"{current} {suffix}".strip()

    client.meta.events.register_first("before-send.*", add_suffix, unique_id=_USER_AGENT_HANDLER_ID)
    return client


def create_client(
    service: str,
    *,
    region_name: str | None = None,
    session: Any = None,
    endpoint_url: str | None = None,
    config: Any = None,
) -> Any:
    """A boto3 client for ``service`` with a resolved region and stepfn's user agent suffix.

    ``session`` is a ``boto3.session.Session`` (profile, credentials); ``endpoint_url`` points the
    client at another endpoint speaking the same API (moto, ``stepfn serve``, a VPC endpoint).
    """
    import boto3

    session = session or boto3.session.Session()
    region = resolve_region(region_name, session=session)
    client = session.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
    return append_user_agent(client)


def client_region(client: Any) -> str:
    """The region a boto3 client was built for, with the clear error when it has none."""
    region = client.meta.region_name
    if not region:
        raise AwsConfigurationError(
            "the boto3 client has no region: build it with region_name=... or set AWS_REGION"
        )
    return str(region)


def client_partition(client: Any) -> str:
    """The partition of a client (botocore knows it from the endpoint resolver; fall back to the region)."""
    partition = getattr(client.meta, "partition", None)
    if partition:
        return str(partition)
    return partition_for_region(client_region(client))
