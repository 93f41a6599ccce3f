"""Static checks of template.yaml that cfn-lint / sam validate do not make."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from local import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = cfn_yaml.load(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
GLOBAL_FUNCTION: dict[str, Any] = (TEMPLATE.get("Globals") or {}).get("Function") or {}
FUNCTIONS = dict(cfn_yaml.resources_of_type(TEMPLATE, "AWS::Serverless::Function"))
ROUTES = cfn_yaml.http_routes(TEMPLATE)

POWERPATH_SCOPE = {"Ref": "PowerPathScope"}
WRITEBACK_SCOPE = {"Ref": "WriteBackScope"}
SHARED_ENV = {
    "TABLE_NAME",
    "STATE_MACHINE_ARN",
    "CREDENTIALS_KMS_KEY_ID",
    "EDULASTIC_SECRET_ID",
    "MASTERY_TRACK_SECRET_ID",
    "MASTERY_THRESHOLD",
    "WORKFLOW_WAIT_SECONDS",
    "CALLBACK_TIMEOUT_SECONDS",
    "EDULASTIC_DEADLINE_DAYS",
    "MASTERY_TRACK_DEADLINE_DAYS",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}


def _prop(logical_id: str, name: str) -> Any:
    """A function property, falling back to Globals.Function like SAM does."""
    own = FUNCTIONS[logical_id].get("Properties") or {}
    return own.get(name, GLOBAL_FUNCTION.get(name))


def _defines_handler(source: str, name: str) -> bool:
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return True
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return True
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names):
            return True
    return False


def test_the_service_has_its_seven_functions() -> None:
    assert set(FUNCTIONS) == {
        "AssignFunction",
        "ImportResultsFunction",
        "ProgressFunction",
        "WriteBackFunction",
        "WorkflowTasksFunction",
        "SweeperFunction",
        "EventPublisherFunction",
    }


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_code_has_its_handler(logical_id: str) -> None:
    code_dir = ROOT / _prop(logical_id, "CodeUri")
    module, _, attribute = _prop(logical_id, "Handler").rpartition(".")
    assert module and attribute, "Handler must be <module>.<function>"
    if not code_dir.is_dir():
        pytest.skip(f"{code_dir.relative_to(ROOT)} does not exist yet (written separately)")
    app = code_dir / f"{module.replace('.', '/')}.py"
    assert app.is_file(), f"{app.relative_to(ROOT)} missing"
    assert _defines_handler(app.read_text(encoding="utf-8"), attribute), f"no `{attribute}` in {app}"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_has_no_own_requirements(logical_id: str) -> None:
    # Dependencies live in the shared layer; a requirements.txt would make sam build need python3.13.
    assert not (ROOT / _prop(logical_id, "CodeUri") / "requirements.txt").exists()


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_runtime_layer_and_environment(logical_id: str) -> None:
    assert _prop(logical_id, "Runtime") == "python3.13"
    assert _prop(logical_id, "Architectures") == [{"Ref": "Architecture"}]
    assert {"Ref": "SharedLayer"} in _prop(logical_id, "Layers")
    env = cfn_yaml.function_environment(TEMPLATE, logical_id)
    assert set(env) >= SHARED_ENV, f"missing env: {sorted(SHARED_ENV - set(env))}"
    assert env["TABLE_NAME"] == {"Ref": "ResultsTable"}
    assert env["CREDENTIALS_KMS_KEY_ID"] == {"Ref": "CredentialsKey"}
    timeout = _prop(logical_id, "Timeout")
    if any(r.function == logical_id for r in ROUTES):
        assert timeout <= 29, "API Gateway gives up after 30 s"


def test_state_machine_arn_matches_the_state_machine_name() -> None:
    """STATE_MACHINE_ARN is built from the fixed name (no circular reference)."""
    name = RESOURCES["FinalizationStateMachine"]["Properties"]["Name"]["Fn::Sub"]
    arn = GLOBAL_FUNCTION["Environment"]["Variables"]["STATE_MACHINE_ARN"]["Fn::Sub"]
    assert arn.endswith(f":stateMachine:{name}")


def test_layer_is_built_by_its_makefile() -> None:
    layer = RESOURCES["SharedLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    makefile = ROOT / layer["Properties"]["ContentUri"] / "Makefile"
    text = makefile.read_text(encoding="utf-8")
    assert re.search(r"^build-SharedLayer:", text, re.MULTILINE)
    assert "--python-version 3.13" in text and "--only-binary=:all:" in text


def test_routes_are_the_contract_routes() -> None:
    assert {(r.method, r.path) for r in ROUTES} == {
        ("POST", "/powerpath/makeExternalTestAssignment"),
        ("GET", "/powerpath/importExternalTestAssignmentResults"),
        ("GET", "/powerpath/getAssessmentProgress"),
        ("PUT", "/ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId}"),
        ("GET", "/ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId}"),
    }


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_every_route_has_the_jwt_authorizer_and_its_scope(route: cfn_yaml.HttpRoute) -> None:
    assert route.api_id == {"Ref": "HttpApi"}
    assert route.authorizer == "OAuth2Authorizer"
    assert route.scopes, "a route without scopes accepts every token of the issuer"
    if route.path.startswith("/ims/oneroster/"):
        assert list(route.scopes) == [WRITEBACK_SCOPE]
    else:
        assert route.path.startswith("/powerpath/")
        assert list(route.scopes) == [POWERPATH_SCOPE]


def test_http_api_authorizer_is_jwt() -> None:
    auth = RESOURCES["HttpApi"]["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "OAuth2Authorizer"
    jwt = auth["Authorizers"]["OAuth2Authorizer"]
    assert jwt["IdentitySource"] == "$request.header.Authorization"
    # Without CreateAuth the issuer and audience are the deployer's (the other branch: test_template_ops).
    config = jwt["JwtConfiguration"]
    assert config["issuer"]["Fn::If"][2] == {"Ref": "JwtIssuer"}
    assert config["audience"]["Fn::If"][2] == {"Ref": "JwtAudience"}


def test_table_is_protected_and_has_a_keys_only_gsi() -> None:
    table = RESOURCES["ResultsTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    keys = {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]}
    assert keys == {"PK": "HASH", "SK": "RANGE"}
    gsis = {g["IndexName"]: g for g in props["GlobalSecondaryIndexes"]}
    assert set(gsis) == {"GSI1"}
    assert {k["AttributeName"]: k["KeyType"] for k in gsis["GSI1"]["KeySchema"]} == {
        "GSI1PK": "HASH",
        "GSI1SK": "RANGE",
    }
    assert gsis["GSI1"]["Projection"]["ProjectionType"] == "KEYS_ONLY"
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        "PK": "S",
        "SK": "S",
        "GSI1PK": "S",
        "GSI1SK": "S",
    }


def _policy_names(logical_id: str) -> set[str]:
    names: set[str] = set()
    for policy in FUNCTIONS[logical_id]["Properties"].get("Policies", []):
        if isinstance(policy, dict):
            names |= set(policy)
    return names


def _table_actions(logical_id: str) -> set[str]:
    actions: set[str] = set()
    for policy in FUNCTIONS[logical_id]["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            found = statement["Action"]
            named = [found] if isinstance(found, str) else found
            actions |= {a for a in named if a.startswith("dynamodb:")}
    return actions


def test_progress_reads_and_writes_only_the_roster_cache_and_holds_no_provider_secret() -> None:
    assert _table_actions("ProgressFunction") == {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",  # the live roster's cache entries
    }
    assert not {"KMSDecryptPolicy", "KMSEncryptPolicy"} & _policy_names("ProgressFunction")


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_no_function_may_scan_or_delete_what_it_never_deletes(logical_id: str) -> None:
    actions = _table_actions(logical_id)
    assert "dynamodb:Scan" not in actions
    assert "DynamoDBCrudPolicy" not in _policy_names(logical_id)
    # Only abandoning an intent the provider refused deletes (assign, and the sweeper resuming one).
    assert ("dynamodb:DeleteItem" in actions) == (logical_id in {"AssignFunction", "SweeperFunction"})


def test_only_the_functions_that_create_passwords_may_encrypt() -> None:
    encrypting = {lid for lid in FUNCTIONS if "KMSEncryptPolicy" in _policy_names(lid)}
    assert encrypting == {"AssignFunction"}


# The sweeper calls providers too: it finishes assignments whose request died.
@pytest.mark.parametrize(
    "logical_id", ["AssignFunction", "ImportResultsFunction", "WorkflowTasksFunction", "SweeperFunction"]
)
def test_provider_callers_read_both_secrets(logical_id: str) -> None:
    secrets = [
        p["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]
        for p in FUNCTIONS[logical_id]["Properties"]["Policies"]
        if isinstance(p, dict) and "AWSSecretsManagerGetSecretValuePolicy" in p
    ]
    assert {"Ref": "EdulasticSecretArn"} in secrets and {"Ref": "MasteryTrackSecretArn"} in secrets


@pytest.mark.parametrize("logical_id", ["ProgressFunction", "WriteBackFunction"])
def test_non_provider_functions_cannot_read_secrets(logical_id: str) -> None:
    assert "AWSSecretsManagerGetSecretValuePolicy" not in _policy_names(logical_id)


def test_outputs() -> None:
    assert {"ApiUrl", "TableName", "StateMachineArn", "CredentialsKeyId"} <= set(TEMPLATE["Outputs"])
