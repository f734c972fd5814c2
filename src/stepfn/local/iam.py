"""IAM roles and customer managed policies of the local account, kept in the stepfn home: the records a notebook
makes with ``boto3.client("iam")`` before it deploys a Lambda function or a state machine with the role's ARN.

Locally IAM is a record keeper only: nothing is enforced. A role's trust policy and permissions, inline or
attached, are stored and answered back as IAM answers them, but no local call is ever allowed or refused by them
(Lambda's ``create_function``, SageMaker's jobs and Step Functions' ``create_state_machine`` take any role ARN,
whether or not a role of that name exists here). What IAM refuses on its own terms is refused here too, with its
error codes: a name taken (``EntityAlreadyExists``, names compared without case as IAM compares them), an entity
missing (``NoSuchEntity``), a document that is not a policy (``MalformedPolicyDocument``), the quotas that are
cheap to count (``LimitExceeded``: policy sizes, five versions, attached policies and tags per role), deleting
what is still in use (``DeleteConflict``).

AWS managed policies (``arn:aws:iam::aws:policy/AmazonSageMakerFullAccess``, ...) exist in every account, so any
ARN of that form attaches as an existing policy. Their documents are AWS's and are not copied here:
``GetPolicy`` answers what the ARN says (name, path) and the local attachment count, and ``GetPolicyVersion``
answers ``NoSuchEntity`` for them rather than invent a document.

Storage: one SQLite file, ``$STEPFN_HOME/iam.db``, one JSON record a role or policy. Each operation is one
transaction (writes take the write lock first), so ``stepfn serve`` and the in-process boto3 session of a
notebook on the same home see and change the same records, one at a time. Methods are named and called as
boto3's (``create_role(RoleName=..., AssumeRolePolicyDocument=...)``) and return the API's result members;
documents are kept as given, and answered URL-encoded as IAM sends them (botocore decodes them to dicts).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from stepfn._partitions import LOCAL_ACCOUNT

DB_FILENAME = "iam.db"
BUSY_TIMEOUT_SECONDS = 30.0
#: IAM's default quotas that are cheap to count (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
TRUST_POLICY_SIZE = 2048
ROLE_INLINE_POLICIES_SIZE = 10_240
MANAGED_POLICY_SIZE = 6144
POLICIES_PER_ROLE = 10
VERSIONS_PER_POLICY = 5
TAGS_PER_ENTITY = 50
DEFAULT_MAX_ITEMS = 100
_AWS_MANAGED = re.compile(r"arn:aws[\w-]*:iam::aws:policy(?P<path>/(?:[^/]+/)*)(?P<name>[^/]+)")
_POLICY_ARN = re.compile(r"arn:aws[\w-]*:iam::(?P<account>[^:]*):policy(?P<path>/(?:[^/]+/)*)(?P<name>[^/]+)")
_ID_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # IAM's unique ids: a prefix, then 17 of these
_WHITESPACE = re.compile(r"\s+")


class IamError(Exception):
    """An IAM API error: its code (``NoSuchEntity``, ...), message and HTTP status, as IAM answers them."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, self.message, self.status))


def _no_such_role(name: str) -> IamError:
    return IamError("NoSuchEntity", f"The role with name {name} cannot be found.", 404)


def _not_attachable(arn: str) -> IamError:
    return IamError("NoSuchEntity", f"Policy {arn} does not exist or is not attachable.", 404)


def _limit(message: str) -> IamError:
    return IamError("LimitExceeded", message, 409)


def _malformed(message: str) -> IamError:
    return IamError("MalformedPolicyDocument", message, 400)


def _now() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unique_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ID_CHARACTERS) for _ in range(17))


def encoded(document: str) -> str:
    """A policy document as IAM answers it: URL-encoded (botocore's ``json_decode_policies`` undoes it)."""
    return quote(document, safe="")


def _size(document: str) -> int:
    # IAM does not count white space towards a policy's size.
    return len(_WHITESPACE.sub("", document))


def check_policy(document: str, *, trust: bool) -> None:
    """Refuse a document IAM would refuse as a policy, in IAM's words: not JSON, no statements, a statement
    without an effect, or (``trust``: a role's trust policy) a principal where one must or must not be."""
    try:
        policy = json.loads(document)
    except ValueError as error:
        raise _malformed("Syntax errors in policy.") from error
    if not isinstance(policy, dict):
        raise _malformed("Syntax errors in policy.")
    if "Version" in policy and policy["Version"] not in ("2012-10-17", "2008-10-17"):
        raise _malformed("The policy failed legacy parsing")
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise _malformed("Syntax errors in policy.")
    for statement in statements:
        if not isinstance(statement, dict):
            raise _malformed("Syntax errors in policy.")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise _malformed("Invalid effect: " + str(statement.get("Effect")) if "Effect" in statement
                             else "Missing required field Effect")
        if "Action" not in statement and "NotAction" not in statement:
            raise _malformed("Policy statement must contain actions.")
        has_principal = "Principal" in statement or "NotPrincipal" in statement
        if trust and not has_principal:
            raise _malformed("Missing required field Principal")
        if trust and ("Resource" in statement or "NotResource" in statement):
            raise _malformed("Has prohibited field Resource")
        if not trust and has_principal:
            raise _malformed("Policy document should not specify a principal.")
        if not trust and "Resource" not in statement and "NotResource" not in statement:
            raise _malformed("Policy statement must contain resources.")


def _page(items: list[dict[str, Any]], key: Callable[[dict[str, Any]], str], member: str,
          marker: str | None, max_items: int | None) -> dict[str, Any]:
    """One page of ``items`` (sorted by ``key``) as IAM's list operations answer: ``IsTruncated`` and, when it
    is, the ``Marker`` to pass for the next page (the key of its first item)."""
    items = sorted(items, key=lambda item: key(item).lower())
    if marker is not None:
        items = [item for item in items if key(item).lower() >= marker.lower()]
    limit = DEFAULT_MAX_ITEMS if max_items is None else max_items
    result: dict[str, Any] = {member: items[:limit], "IsTruncated": len(items) > limit}
    if len(items) > limit:
        result["Marker"] = key(items[limit])
    return result


def _path_filter(path_prefix: str | None) -> Callable[[dict[str, Any]], bool]:
    return lambda record: path_prefix is None or str(record["Path"]).startswith(path_prefix)


def _role_view(record: dict[str, Any], *, full: bool) -> dict[str, Any]:
    """A Role as GetRole (``full``: with its tags and last use) or ListRoles answers it."""
    role = {key: record[key] for key in ("Path", "RoleName", "RoleId", "Arn", "CreateDate")}
    role["AssumeRolePolicyDocument"] = encoded(record["AssumeRolePolicyDocument"])
    if record.get("Description"):
        role["Description"] = record["Description"]
    role["MaxSessionDuration"] = record["MaxSessionDuration"]
    if full:
        if record.get("PermissionsBoundary"):
            role["PermissionsBoundary"] = {"PermissionsBoundaryType": "Policy",
                                           "PermissionsBoundaryArn": record["PermissionsBoundary"]}
        if record["Tags"]:
            role["Tags"] = record["Tags"]
        role["RoleLastUsed"] = {}
    return role


def _merge_tags(existing: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    tags = {tag["Key"]: tag["Value"] for tag in existing}
    tags.update({tag["Key"]: tag.get("Value", "") for tag in new})
    if len(tags) > TAGS_PER_ENTITY:
        raise _limit(f"Cannot exceed quota for TagsPerEntity: {TAGS_PER_ENTITY}")
    return [{"Key": key, "Value": value} for key, value in tags.items()]


class IamStore:
    """The IAM records of one stepfn home (see the module docstring)."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / DB_FILENAME

    # -- storage ---------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            # The write lock first: a read-modify-write (attach, put, a new version) never interleaves another's.
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            connection.execute("CREATE TABLE IF NOT EXISTS roles "
                               "(name TEXT PRIMARY KEY COLLATE NOCASE, record TEXT NOT NULL)")
            connection.execute("CREATE TABLE IF NOT EXISTS policies "
                               "(name TEXT PRIMARY KEY COLLATE NOCASE, record TEXT NOT NULL)")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()

    @staticmethod
    def _all(connection: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
        return [json.loads(row[0]) for row in connection.execute(f"SELECT record FROM {table}")]

    @staticmethod
    def _role(connection: sqlite3.Connection, name: str) -> dict[str, Any]:
        row = connection.execute("SELECT record FROM roles WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise _no_such_role(name)
        record: dict[str, Any] = json.loads(row[0])
        return record

    @staticmethod
    def _save_role(connection: sqlite3.Connection, record: dict[str, Any]) -> None:
        connection.execute("UPDATE roles SET record = ? WHERE name = ?", (json.dumps(record), record["RoleName"]))

    @staticmethod
    def _policy(connection: sqlite3.Connection, arn: str) -> dict[str, Any]:
        """The customer managed policy ``arn`` names, or NoSuchEntity (also for an AWS managed one)."""
        match = _POLICY_ARN.fullmatch(arn)
        if match is None:
            raise IamError("InvalidInput", f"ARN {arn} is not valid.", 400)
        row = connection.execute("SELECT record FROM policies WHERE name = ?", (match["name"],)).fetchone()
        record: dict[str, Any] | None = json.loads(row[0]) if row else None
        if record is None or record["Arn"] != arn:
            raise IamError("NoSuchEntity", f"Policy {arn} was not found.", 404)
        return record

    @staticmethod
    def _save_policy(connection: sqlite3.Connection, record: dict[str, Any]) -> None:
        connection.execute("UPDATE policies SET record = ? WHERE name = ?",
                           (json.dumps(record), record["PolicyName"]))

    @staticmethod
    def _usage(connection: sqlite3.Connection, arn: str) -> dict[str, int]:
        """How many roles attach the policy ``arn`` and how many take it as their permissions boundary."""
        roles = IamStore._all(connection, "roles")
        return {"AttachmentCount": sum(arn in role["AttachedPolicies"] for role in roles),
                "PermissionsBoundaryUsageCount": sum(role.get("PermissionsBoundary") == arn for role in roles)}

    def _policy_view(self, connection: sqlite3.Connection, record: dict[str, Any]) -> dict[str, Any]:
        policy = {key: record[key] for key in ("PolicyName", "PolicyId", "Arn", "Path", "DefaultVersionId")}
        policy.update(self._usage(connection, record["Arn"]))
        policy["IsAttachable"] = True
        if record.get("Description"):
            policy["Description"] = record["Description"]
        policy["CreateDate"], policy["UpdateDate"] = record["CreateDate"], record["UpdateDate"]
        if record["Tags"]:
            policy["Tags"] = record["Tags"]
        return policy

    def _aws_managed_view(self, connection: sqlite3.Connection, arn: str) -> dict[str, Any]:
        """What the ARN of an AWS managed policy says of it, and how many local roles attach it."""
        match = _AWS_MANAGED.fullmatch(arn)
        assert match is not None
        return {"PolicyName": match["name"], "Arn": arn, "Path": match["path"],
                **self._usage(connection, arn), "IsAttachable": True}

    # -- roles -----------------------------------------------------------------------------------------------

    def create_role(self, *, RoleName: str, AssumeRolePolicyDocument: str, Path: str = "/",
                    Description: str | None = None, MaxSessionDuration: int = 3600,
                    PermissionsBoundary: str | None = None, Tags: list[dict[str, str]] | None = None,
                    ) -> dict[str, Any]:
        check_policy(AssumeRolePolicyDocument, trust=True)
        if _size(AssumeRolePolicyDocument) > TRUST_POLICY_SIZE:
            raise _limit(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_SIZE}")
        record: dict[str, Any] = {
            "Path": Path, "RoleName": RoleName, "RoleId": _unique_id("AROA"),
            "Arn": f"arn:aws:iam::{LOCAL_ACCOUNT}:role{Path}{RoleName}", "CreateDate": _now(),
            "AssumeRolePolicyDocument": AssumeRolePolicyDocument, "Description": Description,
            "MaxSessionDuration": MaxSessionDuration, "Tags": _merge_tags([], Tags or []),
            "InlinePolicies": {}, "AttachedPolicies": [],
            # Recorded and answered back; like every policy here it limits nothing.
            "PermissionsBoundary": PermissionsBoundary,
        }
        with self._transaction(write=True) as connection:
            try:
                connection.execute("INSERT INTO roles (name, record) VALUES (?, ?)", (RoleName, json.dumps(record)))
            except sqlite3.IntegrityError as error:
                raise IamError("EntityAlreadyExists", f"Role with name {RoleName} already exists.", 409) from error
        return {"Role": _role_view(record, full=True)}

    def get_role(self, *, RoleName: str) -> dict[str, Any]:
        with self._transaction() as connection:
            return {"Role": _role_view(self._role(connection, RoleName), full=True)}

    def list_roles(self, *, PathPrefix: str | None = None, Marker: str | None = None,
                   MaxItems: int | None = None) -> dict[str, Any]:
        with self._transaction() as connection:
            roles = [_role_view(r, full=False) for r in self._all(connection, "roles") if _path_filter(PathPrefix)(r)]
        return _page(roles, lambda role: str(role["RoleName"]), "Roles", Marker, MaxItems)

    def delete_role(self, *, RoleName: str) -> dict[str, Any]:
        with self._transaction(write=True) as connection:
            record = self._role(connection, RoleName)
            if record["AttachedPolicies"]:
                raise IamError("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409)
            if record["InlinePolicies"]:
                raise IamError("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
            connection.execute("DELETE FROM roles WHERE name = ?", (RoleName,))
        return {}

    def _update_role(self, name: str, change: Callable[[dict[str, Any]], None]) -> None:
        with self._transaction(write=True) as connection:
            record = self._role(connection, name)
            change(record)
            self._save_role(connection, record)

    def update_assume_role_policy(self, *, RoleName: str, PolicyDocument: str) -> dict[str, Any]:
        check_policy(PolicyDocument, trust=True)
        if _size(PolicyDocument) > TRUST_POLICY_SIZE:
            raise _limit(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_SIZE}")
        self._update_role(RoleName, lambda record: record.update(AssumeRolePolicyDocument=PolicyDocument))
        return {}

    def update_role(self, *, RoleName: str, Description: str | None = None,
                    MaxSessionDuration: int | None = None) -> dict[str, Any]:
        def change(record: dict[str, Any]) -> None:
            if Description is not None:
                record["Description"] = Description
            if MaxSessionDuration is not None:
                record["MaxSessionDuration"] = MaxSessionDuration

        self._update_role(RoleName, change)
        return {}

    def update_role_description(self, *, RoleName: str, Description: str) -> dict[str, Any]:
        self.update_role(RoleName=RoleName, Description=Description)
        return self.get_role(RoleName=RoleName)

    def tag_role(self, *, RoleName: str, Tags: list[dict[str, str]]) -> dict[str, Any]:
        self._update_role(RoleName, lambda record: record.update(Tags=_merge_tags(record["Tags"], Tags)))
        return {}

    def untag_role(self, *, RoleName: str, TagKeys: list[str]) -> dict[str, Any]:
        self._update_role(RoleName, lambda record: record.update(
            Tags=[tag for tag in record["Tags"] if tag["Key"] not in TagKeys]))
        return {}

    def list_role_tags(self, *, RoleName: str, Marker: str | None = None,
                       MaxItems: int | None = None) -> dict[str, Any]:
        with self._transaction() as connection:
            tags = list(self._role(connection, RoleName)["Tags"])
        return _page(tags, lambda tag: str(tag["Key"]), "Tags", Marker, MaxItems)

    # -- inline policies -------------------------------------------------------------------------------------

    def put_role_policy(self, *, RoleName: str, PolicyName: str, PolicyDocument: str) -> dict[str, Any]:
        check_policy(PolicyDocument, trust=False)

        def change(record: dict[str, Any]) -> None:
            policies = {**record["InlinePolicies"], PolicyName: PolicyDocument}
            if sum(_size(document) for document in policies.values()) > ROLE_INLINE_POLICIES_SIZE:
                raise _limit(f"Maximum policy size of {ROLE_INLINE_POLICIES_SIZE} bytes exceeded for role "
                             f"{record['RoleName']}")
            record["InlinePolicies"] = policies

        self._update_role(RoleName, change)
        return {}

    def get_role_policy(self, *, RoleName: str, PolicyName: str) -> dict[str, Any]:
        with self._transaction() as connection:
            record = self._role(connection, RoleName)
        document = record["InlinePolicies"].get(PolicyName)
        if document is None:
            raise IamError("NoSuchEntity", f"The role policy with name {PolicyName} cannot be found.", 404)
        return {"RoleName": record["RoleName"], "PolicyName": PolicyName, "PolicyDocument": encoded(document)}

    def delete_role_policy(self, *, RoleName: str, PolicyName: str) -> dict[str, Any]:
        def change(record: dict[str, Any]) -> None:
            if record["InlinePolicies"].pop(PolicyName, None) is None:
                raise IamError("NoSuchEntity", f"The role policy with name {PolicyName} cannot be found.", 404)

        self._update_role(RoleName, change)
        return {}

    def list_role_policies(self, *, RoleName: str, Marker: str | None = None,
                           MaxItems: int | None = None) -> dict[str, Any]:
        with self._transaction() as connection:
            names = [{"PolicyName": name} for name in self._role(connection, RoleName)["InlinePolicies"]]
        page = _page(names, lambda item: str(item["PolicyName"]), "PolicyNames", Marker, MaxItems)
        page["PolicyNames"] = [item["PolicyName"] for item in page["PolicyNames"]]
        return page

    # -- managed policies ------------------------------------------------------------------------------------

    def create_policy(self, *, PolicyName: str, PolicyDocument: str, Path: str = "/",
                      Description: str | None = None, Tags: list[dict[str, str]] | None = None) -> dict[str, Any]:
        check_policy(PolicyDocument, trust=False)
        if _size(PolicyDocument) > MANAGED_POLICY_SIZE:
            raise _limit(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}")
        now = _now()
        arn = f"arn:aws:iam::{LOCAL_ACCOUNT}:policy{Path}{PolicyName}"
        record: dict[str, Any] = {
            "PolicyName": PolicyName, "PolicyId": _unique_id("ANPA"), "Arn": arn, "Path": Path,
            "DefaultVersionId": "v1", "Description": Description, "CreateDate": now, "UpdateDate": now,
            "Tags": _merge_tags([], Tags or []), "Versions": {"v1": {"Document": PolicyDocument, "CreateDate": now}},
            "NextVersion": 2,
        }
        with self._transaction(write=True) as connection:
            try:
                connection.execute("INSERT INTO policies (name, record) VALUES (?, ?)",
                                   (PolicyName, json.dumps(record)))
            except sqlite3.IntegrityError as error:
                raise IamError("EntityAlreadyExists", f"A policy called {PolicyName} already exists. Duplicate "
                               "names are not allowed.", 409) from error
            policy = self._policy_view(connection, record)
        # CreatePolicy's answer leaves out the description, as IAM's does.
        policy.pop("Description", None)
        return {"Policy": policy}

    def get_policy(self, *, PolicyArn: str) -> dict[str, Any]:
        with self._transaction() as connection:
            if _AWS_MANAGED.fullmatch(PolicyArn):
                return {"Policy": self._aws_managed_view(connection, PolicyArn)}
            return {"Policy": self._policy_view(connection, self._policy(connection, PolicyArn))}

    def delete_policy(self, *, PolicyArn: str) -> dict[str, Any]:
        if _AWS_MANAGED.fullmatch(PolicyArn):
            raise IamError("UnmodifiableEntity", f"Policy {PolicyArn} is an AWS managed policy; it cannot be "
                           "deleted.", 400)
        with self._transaction(write=True) as connection:
            record = self._policy(connection, PolicyArn)
            if any(self._usage(connection, PolicyArn).values()):
                raise IamError("DeleteConflict", "Cannot delete a policy attached to entities.", 409)
            if len(record["Versions"]) > 1:
                raise IamError("DeleteConflict", "This policy has more than one version. Before you delete a "
                               "policy, you must delete the policy's versions. The default version is deleted "
                               "with the policy.", 409)
            connection.execute("DELETE FROM policies WHERE name = ?", (record["PolicyName"],))
        return {}

    def list_policies(self, *, Scope: str = "All", OnlyAttached: bool = False,
                      PathPrefix: str | None = None, PolicyUsageFilter: str | None = None,
                      Marker: str | None = None, MaxItems: int | None = None) -> dict[str, Any]:
        """Customer managed policies (``Scope`` Local or All) and the AWS managed ones some local role uses
        (AWS or All: the others are not known here). ``OnlyAttached``: those in use, as permissions
        (``PolicyUsageFilter`` PermissionsPolicy), as a boundary (PermissionsBoundary) or either (not given)."""
        with self._transaction() as connection:
            policies: list[dict[str, Any]] = []
            if Scope in ("All", "Local"):
                policies += [self._policy_view(connection, r) for r in self._all(connection, "policies")]
            if Scope in ("All", "AWS"):
                used = {arn for role in self._all(connection, "roles")
                        for arn in [*role["AttachedPolicies"], role.get("PermissionsBoundary")]}
                policies += [self._aws_managed_view(connection, arn) for arn in used
                             if arn and _AWS_MANAGED.fullmatch(arn)]
        counts = {"PermissionsPolicy": ("AttachmentCount",), "PermissionsBoundary": ("PermissionsBoundaryUsageCount",)
                  }.get(PolicyUsageFilter or "", ("AttachmentCount", "PermissionsBoundaryUsageCount"))
        policies = [p for p in policies if _path_filter(PathPrefix)(p)
                    and (not OnlyAttached or any(p[count] for count in counts))]
        for policy in policies:
            policy.pop("Tags", None)  # ListPolicies leaves tags out, as IAM's does
        return _page(policies, lambda policy: str(policy["PolicyName"]), "Policies", Marker, MaxItems)

    def create_policy_version(self, *, PolicyArn: str, PolicyDocument: str,
                              SetAsDefault: bool = False) -> dict[str, Any]:
        check_policy(PolicyDocument, trust=False)
        if _size(PolicyDocument) > MANAGED_POLICY_SIZE:
            raise _limit(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}")
        with self._transaction(write=True) as connection:
            record = self._policy(connection, PolicyArn)
            if len(record["Versions"]) >= VERSIONS_PER_POLICY:
                raise _limit(f"A managed policy can have up to {VERSIONS_PER_POLICY} versions. Before you create a "
                             "new version, you must delete an existing version.")
            version_id, now = f"v{record['NextVersion']}", _now()
            record["NextVersion"] += 1
            record["Versions"][version_id] = {"Document": PolicyDocument, "CreateDate": now}
            record["UpdateDate"] = now
            if SetAsDefault:
                record["DefaultVersionId"] = version_id
            self._save_policy(connection, record)
        return {"PolicyVersion": {"VersionId": version_id, "IsDefaultVersion": SetAsDefault, "CreateDate": now}}

    def _versioned(self, connection: sqlite3.Connection, arn: str) -> dict[str, Any]:
        """The customer managed policy ``arn``; NoSuchEntity for an AWS managed one, whose versions are AWS's."""
        if _AWS_MANAGED.fullmatch(arn):
            raise IamError("NoSuchEntity", f"stepfn does not keep the documents of AWS managed policies ({arn}): "
                           "locally they are attached by ARN, not evaluated.", 404)
        return self._policy(connection, arn)

    def _version(self, connection: sqlite3.Connection, arn: str, version_id: str) -> dict[str, Any]:
        record = self._versioned(connection, arn)
        if version_id not in record["Versions"]:
            raise IamError("NoSuchEntity", f"Policy {arn} version {version_id} does not exist or is not "
                           "attachable.", 404)
        return record

    def get_policy_version(self, *, PolicyArn: str, VersionId: str) -> dict[str, Any]:
        with self._transaction() as connection:
            record = self._version(connection, PolicyArn, VersionId)
        version = record["Versions"][VersionId]
        return {"PolicyVersion": {"Document": encoded(version["Document"]), "VersionId": VersionId,
                                  "IsDefaultVersion": VersionId == record["DefaultVersionId"],
                                  "CreateDate": version["CreateDate"]}}

    def list_policy_versions(self, *, PolicyArn: str, Marker: str | None = None,
                             MaxItems: int | None = None) -> dict[str, Any]:
        with self._transaction() as connection:
            record = self._versioned(connection, PolicyArn)
        versions = [{"VersionId": version_id, "IsDefaultVersion": version_id == record["DefaultVersionId"],
                     "CreateDate": version["CreateDate"]} for version_id, version in record["Versions"].items()]
        # Newest first, as IAM lists them; the marker is the version id of the next page's first entry.
        versions.sort(key=lambda version: int(version["VersionId"][1:]), reverse=True)
        ids = [version["VersionId"] for version in versions]
        if Marker is not None:
            versions = versions[ids.index(Marker):] if Marker in ids else []
        limit = DEFAULT_MAX_ITEMS if MaxItems is None else MaxItems
        page: dict[str, Any] = {"Versions": versions[:limit], "IsTruncated": len(versions) > limit}
        if len(versions) > limit:
            page["Marker"] = versions[limit]["VersionId"]
        return page

    def set_default_policy_version(self, *, PolicyArn: str, VersionId: str) -> dict[str, Any]:
        with self._transaction(write=True) as connection:
            record = self._version(connection, PolicyArn, VersionId)
            record["DefaultVersionId"] = VersionId
            self._save_policy(connection, record)
        return {}

    def delete_policy_version(self, *, PolicyArn: str, VersionId: str) -> dict[str, Any]:
        with self._transaction(write=True) as connection:
            record = self._version(connection, PolicyArn, VersionId)
            if VersionId == record["DefaultVersionId"]:
                raise IamError("DeleteConflict", "Cannot delete the default version of a policy.", 409)
            del record["Versions"][VersionId]
            self._save_policy(connection, record)
        return {}

    # -- attachments -----------------------------------------------------------------------------------------

    def attach_role_policy(self, *, RoleName: str, PolicyArn: str) -> dict[str, Any]:
        with self._transaction(write=True) as connection:
            record = self._role(connection, RoleName)
            if not _AWS_MANAGED.fullmatch(PolicyArn):
                try:
                    self._policy(connection, PolicyArn)
                except IamError as error:
                    raise (_not_attachable(PolicyArn) if error.code == "NoSuchEntity" else error) from error
            if PolicyArn not in record["AttachedPolicies"]:
                if len(record["AttachedPolicies"]) >= POLICIES_PER_ROLE:
                    raise _limit(f"Cannot exceed quota for PoliciesPerRole: {POLICIES_PER_ROLE}")
                record["AttachedPolicies"].append(PolicyArn)
                self._save_role(connection, record)
        return {}

    def detach_role_policy(self, *, RoleName: str, PolicyArn: str) -> dict[str, Any]:
        def change(record: dict[str, Any]) -> None:
            if PolicyArn not in record["AttachedPolicies"]:
                raise IamError("NoSuchEntity", f"Policy {PolicyArn} was not found.", 404)
            record["AttachedPolicies"].remove(PolicyArn)

        self._update_role(RoleName, change)
        return {}

    def list_attached_role_policies(self, *, RoleName: str, PathPrefix: str | None = None,
                                    Marker: str | None = None, MaxItems: int | None = None) -> dict[str, Any]:
        with self._transaction() as connection:
            arns = self._role(connection, RoleName)["AttachedPolicies"]
        attached = []
        for arn in arns:
            match = _POLICY_ARN.fullmatch(arn)
            assert match is not None  # attach_role_policy stores policy ARNs only
            if PathPrefix is None or match["path"].startswith(PathPrefix):
                attached.append({"PolicyName": match["name"], "PolicyArn": arn})
        return _page(attached, lambda policy: str(policy["PolicyName"]), "AttachedPolicies", Marker, MaxItems)


__all__ = ["DB_FILENAME", "IamError", "IamStore", "check_policy", "encoded"]
