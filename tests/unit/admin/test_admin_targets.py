"""A deployed stack's settings, rebuilt from its outputs and parameters, are the functions' own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exttests.admin.targets import OUTPUT_VARIABLES, PARAMETER_VARIABLES, stack_environment
from exttests.config import RosterSource, Settings
from local import cfn_yaml

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = cfn_yaml.load(ROOT / "template.yaml")
FUNCTION_ENV: dict[str, Any] = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
# The deployed settings the operator's commands never need: Powertools' own.
NOT_NEEDED = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}


def _referenced(value: Any) -> str | None:
    """The parameter or resource a variable's value refers to (through !Ref, maybe inside !If)."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::If" in value:
        return _referenced(value["Fn::If"][1])
    return None


def test_every_function_setting_is_read_from_the_stack() -> None:
    outputs = {str(_referenced(o["Value"]) or name): name for name, o in TEMPLATE["Outputs"].items()}
    outputs["FinalizationStateMachine"] = "StateMachineArn"  # the functions build its ARN by name
    for variable, value in FUNCTION_ENV.items():
        if variable in NOT_NEEDED:
            continue
        source = _referenced(value) or "FinalizationStateMachine"
        if source in TEMPLATE["Parameters"]:
            assert PARAMETER_VARIABLES.get(source) == variable, f"{variable} comes from parameter {source}"
        else:
            assert OUTPUT_VARIABLES.get(outputs[source]) == variable, (
                f"{variable} comes from output {outputs[source]}"
            )


def test_the_stack_settings_make_the_service_settings() -> None:
    environment = stack_environment(
        {
            "TableName": "prod-table",
            "StateMachineArn": "arn:sm",
            "CredentialsKeyId": "key-1",
            "ApiUrl": "https://x",
        },
        {
            "RosterSource": "table",
            "WorkflowWaitSeconds": "30,60",
            "TimebackSecretArn": "",
            "MasteryThreshold": "85",
        },
    )
    settings = Settings.from_env(environment)
    assert (settings.table_name, settings.state_machine_arn, settings.kms_key_id) == (
        "prod-table",
        "arn:sm",
        "key-1",
    )
    assert settings.waits == (30, 60) and settings.mastery_threshold == 85
    assert settings.roster_source is RosterSource.TABLE and not settings.timeback.configured  # type: ignore[union-attr]
