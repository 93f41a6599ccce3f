"""create_resources builds the table and state machine exactly as template.yaml declares them."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from local import cfn_yaml
from local.aws_resources import create_resources, resources_of_type
from local.lambda_dispatch import mock_aws_with_workflow

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"

pytestmark = pytest.mark.skipif(not TEMPLATE.exists(), reason="template.yaml not written yet")


def _table_props() -> dict:
    ((_, table),) = resources_of_type(cfn_yaml.load(TEMPLATE), "AWS::DynamoDB::Table")
    return dict(table["Properties"])


def test_table_matches_the_template() -> None:
    props = _table_props()
    with mock_aws_with_workflow():
        resources = create_resources(TEMPLATE, table_name="results-test", region=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        table = dynamodb.describe_table(TableName="results-test")["Table"]
        ttl = dynamodb.describe_time_to_live(TableName="results-test")["TimeToLiveDescription"]

    assert resources.table_name == "results-test"
    assert table["KeySchema"] == props["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        props["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    assert table["BillingModeSummary"]["BillingMode"] == props["BillingMode"]
    actual_gsis = {
        g["IndexName"]: (g["KeySchema"], g["Projection"]) for g in table.get("GlobalSecondaryIndexes", [])
    }
    expected_gsis = {
        g["IndexName"]: (g["KeySchema"], g["Projection"]) for g in props.get("GlobalSecondaryIndexes", [])
    }
    assert actual_gsis == expected_gsis
    ttl_spec = props.get("TimeToLiveSpecification")
    if ttl_spec and ttl_spec.get("Enabled"):
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": ttl_spec["AttributeName"]}


def test_functions_key_and_state_machine() -> None:
    template = cfn_yaml.load(TEMPLATE)
    function_ids = {lid for lid, _ in resources_of_type(template, "AWS::Serverless::Function")}
    with mock_aws_with_workflow():
        resources = create_resources(TEMPLATE, region=REGION)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.describe_state_machine(stateMachineArn=resources.state_machine_arn)
        key = boto3.client("kms", region_name=REGION).describe_key(KeyId=resources.kms_key_id)["KeyMetadata"]
        functions = {
            f["FunctionName"]
            for f in boto3.client("lambda", region_name=REGION).list_functions()["Functions"]
        }

    assert set(resources.function_names) == function_ids
    assert set(resources.function_names.values()) <= functions
    assert all((d / "app.py").parent == d for d in resources.function_dirs.values())
    assert key["KeyState"] == "Enabled"
    definition = machine["definition"]
    assert "${" not in definition
    json.loads(definition)
    if "WorkflowTasksFunction" in resources.function_arns:
        assert resources.function_arns["WorkflowTasksFunction"] in definition
    assert set(resources.dispatch_registry()) == set(resources.function_names.values())
