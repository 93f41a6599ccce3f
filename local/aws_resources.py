"""Creates the stack's AWS resources from template.yaml on whatever endpoint boto3 points at.

Works under moto's in-process `mock_aws` and against a ThreadedMotoServer (via the
`AWS_ENDPOINT_URL` environment variable): every client is created inside the call.

What is created, and how faithfully:
- the DynamoDB table exactly from the template's properties (keys, GSIs/LSIs, billing,
  streams, SSE, TTL, point-in-time recovery);
- a KMS key (symmetric, from the template's description/spec) for the credentials, and its
  aliases (`AWS::KMS::Alias`);
- one IAM role that Lambda and Step Functions may assume (moto requires a role to exist);
- one moto Lambda function per `AWS::Serverless::Function` with a placeholder zip: the
  code that really runs is `functions/<dir>/app.py`, dispatched in-process by
  `local.lambda_dispatch` (use `Resources.dispatch_registry()`);
- the state machine from its DefinitionUri/Definition with every `${X}` of
  DefinitionSubstitutions replaced (a function's `.Arn`/`Ref` → the moto function).
IAM policies, log groups, the layer, the HTTP API and schedules are not created: the local
gateway and the caller play those parts.

Data survives in a table or a key that already exists (restored by `local.state` from
LOCAL_STATE_DIR): a table of the same name is kept as it is, and a key that an alias of the
template already points at is reused, so what was encrypted before a restart still decrypts.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml

from local import cfn_yaml
from local.lambda_dispatch import FunctionSpec

log = logging.getLogger("local.aws_resources")

DEFAULT_STACK_NAME = "exttests-local"
DEFAULT_ACCOUNT_ID = "123456789012"
ROLE_NAME = "exttests-local-execution-role"
FUNCTION = "AWS::Serverless::Function"
TABLE = "AWS::DynamoDB::Table"
KMS_KEY = "AWS::KMS::Key"
KMS_ALIAS = "AWS::KMS::Alias"
STATE_MACHINE = "AWS::Serverless::StateMachine"
EVENT_BUS = "AWS::Events::EventBus"


class Unresolvable(ValueError):
    """An intrinsic function the local resolver does not evaluate."""


# --- template reading ----------------------------------------------------------------------


def resources_of_type(template: Mapping[str, Any], resource_type: str) -> list[tuple[str, dict[str, Any]]]:
    return list(cfn_yaml.resources_of_type(dict(template), resource_type))


# --- intrinsic functions (the few the local stack needs) -------------------------------------


@dataclass
class Resolver:
    """Evaluates Ref / Fn::Sub / Fn::GetAtt / Fn::Join against known values.

    Parameters resolve to their Default; `refs` and `attributes` hold what the local stack
    created (`attributes[(logical_id, "Arn")]`).
    """

    template: Mapping[str, Any]
    region: str = "us-east-1"
    account_id: str = DEFAULT_ACCOUNT_ID
    stack_name: str = DEFAULT_STACK_NAME
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.refs:
            return self.refs[name]
        parameter = (self.template.get("Parameters") or {}).get(name)
        if isinstance(parameter, dict) and "Default" in parameter:
            default = parameter["Default"]
            return str(default) if not isinstance(default, list) else default
        raise Unresolvable(f"Ref {name}")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(str(arg))
            if key == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
                attribute = (str(parts[0]), str(parts[1]))
                if attribute not in self.attributes:
                    raise Unresolvable(f"GetAtt {'.'.join(attribute)}")
                return self.attributes[attribute]
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                separator, items = arg
                return str(separator).join(str(self.resolve(i)) for i in self.resolve(items))
            if key.startswith("Fn::") or key == "Condition":
                raise Unresolvable(key)
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                resource, attribute = name.split(".", 1)
                return str(self.resolve({"Fn::GetAtt": [resource, attribute]}))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, str(text))


# --- the resources ---------------------------------------------------------------------------


@dataclass
class Resources:
    table_name: str
    state_machine_arn: str
    kms_key_id: str
    function_names: dict[str, str]  # logical id → moto function name
    function_dirs: dict[str, Path] = field(default_factory=dict)  # logical id → functions/<dir>
    function_arns: dict[str, str] = field(default_factory=dict)
    role_arn: str = ""
    region: str = "us-east-1"
    functions: dict[str, FunctionSpec] = field(default_factory=dict)  # moto function name → spec
    event_bus_name: str = "default"
    table_stream_arn: str = ""

    def dispatch_registry(self) -> dict[str, Path]:
        """What `local.lambda_dispatch.install` needs: moto function name → handler directory."""
        return {self.function_names[lid]: d for lid, d in self.function_dirs.items()}


ClientFactory = Callable[[str, str], Any]  # (service, region) → a boto3 client
Client = Callable[[str], Any]  # service → a boto3 client in the stack's region


def new_client(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


def _placeholder_zip() -> bytes:
    # moto keeps the code but never runs it; the dispatch runs the real handler instead.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


_TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _ensure_role(client: Client) -> str:
    iam = client("iam")
    try:
        return str(iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        return str(iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=_TRUST_POLICY)["Role"]["Arn"])


def _create_table(props: Mapping[str, Any], table_name: str, client: Client) -> None:
    dynamodb = client("dynamodb")
    try:
        dynamodb.describe_table(TableName=table_name)
        log.info("table %s exists (restored state): kept as it is", table_name)
        return
    except dynamodb.exceptions.ResourceNotFoundException:
        pass
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    for key in (
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "ProvisionedThroughput",
    ):
        if props.get(key):
            kwargs[key] = props[key]
    stream = props.get("StreamSpecification")
    if stream:
        # CloudFormation implies StreamEnabled; the API wants it said.
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = props.get("SSESpecification")
    if sse:
        # CloudFormation spells it SSEEnabled like the API; only the API knows KMSMasterKeyId.
        kwargs["SSESpecification"] = {
            k: v for k, v in sse.items() if k in ("Enabled", "SSEEnabled", "SSEType")
        }
        if "SSEEnabled" in kwargs["SSESpecification"]:
            kwargs["SSESpecification"]["Enabled"] = kwargs["SSESpecification"].pop("SSEEnabled")
    dynamodb.create_table(**kwargs)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    pitr = props.get("PointInTimeRecoverySpecification")
    if pitr and pitr.get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(
            TableName=table_name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )


def _key_aliases(template: Mapping[str, Any], resolver: Resolver) -> dict[str, list[str]]:
    """Key logical id → the alias names the template gives it."""
    aliases: dict[str, list[str]] = {}
    for _, alias in resources_of_type(template, KMS_ALIAS):
        props = alias.get("Properties") or {}
        target = props.get("TargetKeyId")
        if isinstance(target, dict) and ("Ref" in target or "Fn::GetAtt" in target):
            ref = target.get("Ref") or target["Fn::GetAtt"][0]
            aliases.setdefault(str(ref), []).append(str(resolver.resolve(props.get("AliasName"))))
    return aliases


def _create_key(props: Mapping[str, Any], aliases: list[str], client: Client) -> tuple[str, str]:
    kms = client("kms")
    for alias in aliases:
        try:
            meta = kms.describe_key(KeyId=alias)["KeyMetadata"]
        except kms.exceptions.NotFoundException:
            continue
        log.info("key %s exists (restored state): reused", alias)
        return str(meta["KeyId"]), str(meta["Arn"])
    kwargs: dict[str, Any] = {"Description": str(props.get("Description") or "local credentials key")}
    for key in ("KeySpec", "KeyUsage"):
        if isinstance(props.get(key), str):
            kwargs[key] = props[key]
    meta = kms.create_key(**kwargs)["KeyMetadata"]
    for alias in aliases:
        kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    return str(meta["KeyId"]), str(meta["Arn"])


def _function_setting(template: Mapping[str, Any], props: Mapping[str, Any], name: str, default: Any) -> Any:
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    value = props.get(name, globals_fn.get(name, default))
    return value if isinstance(value, int | str) else default


def create_resources(
    template_path: str | Path = "template.yaml",
    *,
    table_name: str | None = None,
    region: str = "us-east-1",
    stack_name: str = DEFAULT_STACK_NAME,
    clients: ClientFactory = new_client,
) -> Resources:
    """Create the template's table, key, functions and state machine; return their names.

    `clients(service, region)` makes the boto3 clients it uses, one per service."""
    client: Client = functools.cache(lambda service: clients(service, region))
    template_path = Path(template_path).resolve()
    root = template_path.parent
    template = cfn_yaml.load(template_path)
    resolver = Resolver(template, region=region, stack_name=stack_name)

    # Table and key first: functions' Refs and the state machine substitutions may name them.
    tables = resources_of_type(template, TABLE)
    if len(tables) != 1:
        raise ValueError(f"expected one {TABLE} in {template_path}, found {len(tables)}")
    table_id, table = tables[0]
    name = table_name or f"{stack_name}-{table_id}"
    _create_table(resolver.resolve(dict(table.get("Properties") or {})), name, client)
    resolver.refs[table_id] = name
    resolver.attributes[(table_id, "Arn")] = f"arn:aws:dynamodb:{region}:{DEFAULT_ACCOUNT_ID}:table/{name}"

    event_bus_name = "default"
    events = client("events")
    for bus_id, bus in resources_of_type(template, EVENT_BUS):
        bus_name = str(resolver.resolve((bus.get("Properties") or {}).get("Name") or bus_id))
        if bus_name not in {b["Name"] for b in events.list_event_buses().get("EventBuses", [])}:
            events.create_event_bus(Name=bus_name)
        resolver.refs[bus_id] = bus_name
        event_bus_name = bus_name

    kms_key_id = ""
    aliases = _key_aliases(template, resolver)
    for key_id, key in resources_of_type(template, KMS_KEY):
        props = {k: v for k, v in (key.get("Properties") or {}).items() if k != "KeyPolicy"}
        kid, karn = _create_key(props, aliases.get(key_id, []), client)
        resolver.refs[key_id] = kid
        resolver.attributes[(key_id, "Arn")] = karn
        kms_key_id = kms_key_id or kid

    role_arn = _ensure_role(client)
    lambda_client = client("lambda")
    code = _placeholder_zip()
    function_names: dict[str, str] = {}
    function_dirs: dict[str, Path] = {}
    function_arns: dict[str, str] = {}
    functions: dict[str, FunctionSpec] = {}
    for logical_id, resource in resources_of_type(template, FUNCTION):
        props = resource.get("Properties") or {}
        code_uri = props.get("CodeUri")
        if not isinstance(code_uri, str):
            log.warning("function %s has no local CodeUri; not created", logical_id)
            continue
        fn_name = logical_id  # unique in the template, short enough for Lambda's 64 chars
        timeout = int(_function_setting(template, props, "Timeout", 3))
        memory = int(_function_setting(template, props, "MemorySize", 128))
        created = lambda_client.create_function(
            FunctionName=fn_name,
            Runtime="python3.11",
            Role=role_arn,
            Handler=str(props.get("Handler") or "app.handler"),
            Code={"ZipFile": code},
            Timeout=timeout,
            MemorySize=memory,
        )
        arn = str(created["FunctionArn"])
        function_names[logical_id] = fn_name
        function_dirs[logical_id] = (root / code_uri).resolve()
        function_arns[logical_id] = arn
        functions[fn_name] = FunctionSpec(fn_name, function_dirs[logical_id], timeout, memory, arn)
        resolver.refs[logical_id] = fn_name
        resolver.attributes[(logical_id, "Arn")] = arn

    machines = resources_of_type(template, STATE_MACHINE)
    state_machine_arn = ""
    if machines:
        machine_id, machine = machines[0]
        props = machine.get("Properties") or {}
        state_machine_arn = _create_state_machine(machine_id, props, resolver, root, role_arn, client)
        resolver.refs[machine_id] = state_machine_arn

    stream_arn = str(client("dynamodb").describe_table(TableName=name)["Table"].get("LatestStreamArn") or "")
    return Resources(
        event_bus_name=event_bus_name,
        table_stream_arn=stream_arn,
        table_name=name,
        state_machine_arn=state_machine_arn,
        kms_key_id=kms_key_id,
        function_names=function_names,
        function_dirs=function_dirs,
        function_arns=function_arns,
        role_arn=role_arn,
        region=region,
        functions=functions,
    )


def _create_state_machine(
    logical_id: str, props: Mapping[str, Any], resolver: Resolver, root: Path, role_arn: str, client: Client
) -> str:
    if "DefinitionUri" in props:
        uri = props["DefinitionUri"]
        if not isinstance(uri, str):
            raise Unresolvable("DefinitionUri must be a local path for the local stack")
        text = (root / uri).read_text(encoding="utf-8")
        if uri.endswith((".yaml", ".yml")):
            text = json.dumps(yaml.safe_load(text))
    else:
        text = json.dumps(props["Definition"])
    substitutions = {
        k: str(resolver.resolve(v)) for k, v in (props.get("DefinitionSubstitutions") or {}).items()
    }

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in substitutions:
            raise Unresolvable(f"state machine placeholder ${{{key}}} has no DefinitionSubstitution")
        return substitutions[key]

    definition = re.sub(r"\$\{([^}]+)\}", substitute, text)
    json.loads(definition)  # fail here, not at the first execution
    try:
        name = str(resolver.resolve(props.get("Name") or logical_id))
    except Unresolvable:
        name = logical_id
    sfn = client("stepfunctions")
    created = sfn.create_state_machine(
        name=name,
        definition=definition,
        roleArn=role_arn,
        type=str(props.get("Type") or "STANDARD"),
    )
    return str(created["stateMachineArn"])
