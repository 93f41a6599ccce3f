"""Operations in template.yaml: alarms (and what each watches), logs, tracing, dashboard, optional auth."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = cfn_yaml.load(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
GLOBAL_FUNCTION: dict[str, Any] = (TEMPLATE.get("Globals") or {}).get("Function") or {}
FUNCTIONS = dict(cfn_yaml.resources_of_type(TEMPLATE, "AWS::Serverless::Function"))
ALARM_RESOURCES = dict(cfn_yaml.resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm"))
LOG_GROUPS = dict(cfn_yaml.resources_of_type(TEMPLATE, "AWS::Logs::LogGroup"))
COGNITO = {
    logical_id: resource
    for logical_id, resource in RESOURCES.items()
    if str(resource.get("Type", "")).startswith("AWS::Cognito::")
}


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


@dataclass(frozen=True)
class Metric:
    """One CloudWatch metric and the statistic an alarm takes of it."""

    namespace: Any
    name: str
    dimensions: tuple[tuple[str, Any], ...]
    stat: str


@dataclass(frozen=True)
class MetricMath:
    expression: str
    metrics: tuple[tuple[str, Metric], ...]  # (id, metric), sorted by id


def metric(namespace: Any, name: str, stat: str = "Sum", **dimensions: Any) -> Metric:
    return Metric(namespace, name, tuple(sorted(dimensions.items())), stat)


def math(expression: str, **metrics: Metric) -> MetricMath:
    return MetricMath(expression, tuple(sorted(metrics.items())))


SERVICE = "external-tests"
NAMESPACE = ref("MetricsNamespace")


def service_metric(name: str, stat: str = "Sum", **dimensions: Any) -> Metric:
    return metric(NAMESPACE, name, stat, service=SERVICE, **dimensions)


def lambda_metric(name: str, function: str) -> Metric:
    return metric("AWS/Lambda", name, FunctionName=ref(function))


def provider_failure_rate(provider: str) -> MetricMath:
    return math(
        "100 * FILL(failed, 0) / calls",
        failed=service_metric("ProviderCallFailed", provider=provider),
        calls=service_metric("ProviderCalls", provider=provider),
    )


# Every alarm of the stack and what it watches. Adding or removing an alarm means updating this table.
ALARMS: dict[str, Metric | MetricMath] = {
    "Api5xxRateAlarm": math(
        "100 * FILL(errors, 0) / requests",
        errors=metric("AWS/ApiGateway", "5xx", ApiId=ref("HttpApi")),
        requests=metric("AWS/ApiGateway", "Count", ApiId=ref("HttpApi")),
    ),
    "AssignFunctionErrorsAlarm": lambda_metric("Errors", "AssignFunction"),
    "AssignFunctionThrottlesAlarm": lambda_metric("Throttles", "AssignFunction"),
    "ImportResultsFunctionErrorsAlarm": lambda_metric("Errors", "ImportResultsFunction"),
    "ImportResultsFunctionThrottlesAlarm": lambda_metric("Throttles", "ImportResultsFunction"),
    "ProgressFunctionErrorsAlarm": lambda_metric("Errors", "ProgressFunction"),
    "ProgressFunctionThrottlesAlarm": lambda_metric("Throttles", "ProgressFunction"),
    "WriteBackFunctionErrorsAlarm": lambda_metric("Errors", "WriteBackFunction"),
    "WriteBackFunctionThrottlesAlarm": lambda_metric("Throttles", "WriteBackFunction"),
    "WorkflowTasksFunctionErrorsAlarm": lambda_metric("Errors", "WorkflowTasksFunction"),
    "WorkflowTasksFunctionThrottlesAlarm": lambda_metric("Throttles", "WorkflowTasksFunction"),
    "SweeperFunctionErrorsAlarm": lambda_metric("Errors", "SweeperFunction"),
    "SweeperFunctionThrottlesAlarm": lambda_metric("Throttles", "SweeperFunction"),
    "EventPublisherFunctionErrorsAlarm": lambda_metric("Errors", "EventPublisherFunction"),
    "EventPublisherFunctionThrottlesAlarm": lambda_metric("Throttles", "EventPublisherFunction"),
    "EventPublisherBehindAlarm": metric(
        "AWS/Lambda", "IteratorAge", "Maximum", FunctionName=ref("EventPublisherFunction")
    ),
    "EventsUnpublishedAlarm": metric(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
        QueueName={"Fn::GetAtt": ["EventPublisherFailures", "QueueName"]},
    ),
    "EventsWebhookUndeliveredAlarm": metric(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
        QueueName={"Fn::GetAtt": ["EventsWebhookDeadLetters", "QueueName"]},
    ),
    "WorkflowFailedAlarm": metric(
        "AWS/States", "ExecutionsFailed", StateMachineArn=ref("FinalizationStateMachine")
    ),
    "WorkflowTimedOutAlarm": metric(
        "AWS/States", "ExecutionsTimedOut", StateMachineArn=ref("FinalizationStateMachine")
    ),
    "EnrollmentFailedAlarm": service_metric("EnrollmentFailed"),
    "EdulasticFailureRateAlarm": provider_failure_rate("edulastic"),
    "MasteryTrackFailureRateAlarm": provider_failure_rate("mastery-track"),
    "TimebackFailureRateAlarm": provider_failure_rate("timeback"),
    "EdulasticCircuitOpenedAlarm": service_metric("CircuitOpened", provider="edulastic"),
    "MasteryTrackCircuitOpenedAlarm": service_metric("CircuitOpened", provider="mastery-track"),
    "TimebackCircuitOpenedAlarm": service_metric("CircuitOpened", provider="timeback"),
    "SweeperErrorsAlarm": service_metric("SweeperErrors"),
    "OverdueAttemptAlarm": service_metric("OldestOverdueAttemptSeconds", stat="Maximum"),
}
# Gauges: silence is itself a failure (the sweeper reports the gauge every run).
GAUGE_ALARMS = {"OverdueAttemptAlarm"}

# The metrics contract the code emits (Powertools EMF, namespace POWERTOOLS_METRICS_NAMESPACE).
BUSINESS_METRICS = [
    "AssignmentCreated",
    "AssignmentReused",
    "ResultsImported",
    "TestFinalized",
    "StudentEnrolled",
    "EnrollmentFailed",
    "AttemptExpired",
    "WriteBackReceived",
    "SweeperRestarted",
    "SweeperErrors",
    "ProviderCalls",
    "ProviderCallFailed",
    "CircuitOpened",
]


def _dimensions(raw: list[dict[str, Any]]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((d["Name"], d["Value"]) for d in raw))


def watched(props: dict[str, Any]) -> Metric | MetricMath:
    """What an AWS::CloudWatch::Alarm watches, read from its properties."""
    if "Metrics" not in props:
        stat = props.get("Statistic") or props["ExtendedStatistic"]
        return Metric(props["Namespace"], props["MetricName"], _dimensions(props["Dimensions"]), stat)
    returned = [m for m in props["Metrics"] if m.get("ReturnData", True)]
    assert len(returned) == 1 and "Expression" in returned[0], "one expression must be the alarm's value"
    inputs = {}
    for query in props["Metrics"]:
        if "MetricStat" in query:
            stat = query["MetricStat"]
            raw = stat["Metric"]
            inputs[query["Id"]] = Metric(
                raw["Namespace"], raw["MetricName"], _dimensions(raw["Dimensions"]), stat["Stat"]
            )
    return math(returned[0]["Expression"], **inputs)


def _function_prop(logical_id: str, name: str) -> Any:
    own = FUNCTIONS[logical_id].get("Properties") or {}
    return own.get(name, GLOBAL_FUNCTION.get(name))


# --- alarms ----------------------------------------------------------------------------------


def test_the_alarm_table_lists_exactly_the_template_alarms() -> None:
    assert sorted(ALARM_RESOURCES) == sorted(ALARMS)


@pytest.mark.parametrize("logical_id", sorted(ALARMS))
def test_each_alarm_watches_the_metric_in_the_table(logical_id: str) -> None:
    props = RESOURCES[logical_id]["Properties"]
    assert watched(props) == ALARMS[logical_id]


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
@pytest.mark.parametrize("metric_name", ["Errors", "Throttles"])
def test_every_function_has_its_errors_and_throttles_alarm(logical_id: str, metric_name: str) -> None:
    expected = lambda_metric(metric_name, logical_id)
    assert any(watched(a["Properties"]) == expected for a in ALARM_RESOURCES.values()), (
        f"no {metric_name} alarm for {logical_id}"
    )


@pytest.mark.parametrize("logical_id", sorted(ALARM_RESOURCES))
def test_every_alarm_notifies_the_topic_when_raised_and_cleared(logical_id: str) -> None:
    props = ALARM_RESOURCES[logical_id]["Properties"]
    assert props["AlarmActions"] == [ref("AlarmTopic")]
    assert props["OKActions"] == [ref("AlarmTopic")]
    assert props.get("ActionsEnabled", True) is True


@pytest.mark.parametrize("logical_id", sorted(ALARM_RESOURCES))
def test_missing_data_is_not_breaching_for_counts_and_breaching_for_gauges(logical_id: str) -> None:
    expected = "breaching" if logical_id in GAUGE_ALARMS else "notBreaching"
    assert ALARM_RESOURCES[logical_id]["Properties"]["TreatMissingData"] == expected


@pytest.mark.parametrize("logical_id", sorted(ALARM_RESOURCES))
def test_alarm_names_are_prefixed_by_the_stack_and_unique(logical_id: str) -> None:
    name = ALARM_RESOURCES[logical_id]["Properties"]["AlarmName"]["Fn::Sub"]
    assert name.startswith("${AWS::StackName}-")
    others = [a["Properties"]["AlarmName"] for k, a in ALARM_RESOURCES.items() if k != logical_id]
    assert {"Fn::Sub": name} not in others


def test_alarm_thresholds_that_operators_tune_are_parameters() -> None:
    params = TEMPLATE["Parameters"]
    tuned = {
        "Api5xxRateAlarm": "ApiErrorRatePercent",
        "EdulasticFailureRateAlarm": "ProviderFailureRatePercent",
        "MasteryTrackFailureRateAlarm": "ProviderFailureRatePercent",
        "TimebackFailureRateAlarm": "ProviderFailureRatePercent",
        "OverdueAttemptAlarm": "OverdueAttemptAlarmSeconds",
    }
    for alarm, parameter in tuned.items():
        assert RESOURCES[alarm]["Properties"]["Threshold"] == ref(parameter)
        assert "Default" in params[parameter]
    assert params["OverdueAttemptAlarmSeconds"]["Default"] == 3600


def test_the_email_subscription_exists_only_when_an_address_is_given() -> None:
    subscriptions = dict(cfn_yaml.resources_of_type(TEMPLATE, "AWS::SNS::Subscription"))
    assert list(subscriptions) == ["AlarmEmailSubscription"]
    subscription = subscriptions["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": ref("AlarmTopic"),
        "Protocol": "email",
        "Endpoint": ref("AlarmEmail"),
    }
    assert TEMPLATE["Parameters"]["AlarmEmail"]["Default"] == ""
    assert TEMPLATE["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [ref("AlarmEmail"), ""]}]}


def test_the_functions_emit_metrics_in_the_namespace_the_alarms_watch() -> None:
    env = GLOBAL_FUNCTION["Environment"]["Variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == NAMESPACE
    assert env["POWERTOOLS_SERVICE_NAME"] == SERVICE
    assert TEMPLATE["Parameters"]["MetricsNamespace"]["Default"] == "ExternalTests"


# --- logs and tracing ------------------------------------------------------------------------


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_has_its_log_group_with_the_retention_parameter(logical_id: str) -> None:
    expected_name = {"Fn::Sub": f"/aws/lambda/${{{logical_id}}}"}
    groups = [
        g["Properties"] for g in LOG_GROUPS.values() if g["Properties"].get("LogGroupName") == expected_name
    ]
    assert len(groups) == 1, f"no log group /aws/lambda/<{logical_id}>"
    assert groups[0]["RetentionInDays"] == ref("LogRetentionDays")


@pytest.mark.parametrize("logical_id", sorted(LOG_GROUPS))
def test_every_log_group_keeps_logs_for_the_retention_parameter(logical_id: str) -> None:
    assert LOG_GROUPS[logical_id]["Properties"]["RetentionInDays"] == ref("LogRetentionDays")


def test_log_retention_defaults_to_30_days() -> None:
    parameter = TEMPLATE["Parameters"]["LogRetentionDays"]
    assert parameter["Default"] == 30
    assert 30 in parameter["AllowedValues"]


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_is_traced(logical_id: str) -> None:
    assert _function_prop(logical_id, "Tracing") == "Active"


def test_the_state_machine_is_traced_and_logs_errors_without_execution_data() -> None:
    props = RESOURCES["FinalizationStateMachine"]["Properties"]
    assert props["Tracing"] == {"Enabled": True}
    logging = props["Logging"]
    assert logging["Level"] == "ERROR"
    assert logging["IncludeExecutionData"] is False
    assert logging["Destinations"] == [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["FinalizationStateMachineLogs", "Arn"]}}}
    ]
    name = LOG_GROUPS["FinalizationStateMachineLogs"]["Properties"]["LogGroupName"]["Fn::Sub"]
    assert name.startswith("/aws/vendedlogs/states/")


def test_the_state_machine_role_may_deliver_its_logs() -> None:
    actions: set[str] = set()
    for policy in RESOURCES["FinalizationStateMachine"]["Properties"]["Policies"]:
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions |= set(statement["Action"])
    assert {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    } <= actions


def test_api_access_log_records_the_client_and_the_integration_latency() -> None:
    settings = RESOURCES["HttpApi"]["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogs", "Arn"]}
    fields = json.loads(settings["Format"])
    assert fields["clientId"] == "$context.authorizer.claims.client_id"
    assert fields["integrationLatency"] == "$context.integrationLatency"
    assert fields["status"] == "$context.status"


# --- dashboard -------------------------------------------------------------------------------

DASHBOARD_BODY = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
# ${...} placeholders sit inside JSON strings, so the body parses before substitution.
DASHBOARD = json.loads(DASHBOARD_BODY)


def _dashboard_rows(title: str) -> list[list[Any]]:
    widgets = [w for w in DASHBOARD["widgets"] if w["properties"].get("title") == title]
    assert len(widgets) == 1, f"no widget '{title}'"
    return list(widgets[0]["properties"]["metrics"])


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
@pytest.mark.parametrize(
    ("title", "metric_name"),
    [
        ("Function errors", "Errors"),
        ("Function throttles", "Throttles"),
        ("Function duration p99 (ms)", "Duration"),
    ],
)
def test_the_dashboard_shows_every_function(logical_id: str, title: str, metric_name: str) -> None:
    assert ["AWS/Lambda", metric_name, "FunctionName", f"${{{logical_id}}}"] in [
        row[:4] for row in _dashboard_rows(title)
    ]


@pytest.mark.parametrize("metric_name", BUSINESS_METRICS)
def test_the_dashboard_shows_every_business_metric(metric_name: str) -> None:
    assert f'MetricName=\\"{metric_name}\\"' in DASHBOARD_BODY or (
        f'"${{MetricsNamespace}}", "{metric_name}", "service", "{SERVICE}"' in DASHBOARD_BODY
    )


def test_the_dashboard_shows_the_api_the_workflow_and_the_table() -> None:
    api = [row[1] for row in _dashboard_rows("API requests, 4xx, 5xx")]
    assert api == ["Count", "4xx", "5xx"]
    assert {row[1] for row in _dashboard_rows("API latency (ms)")} == {"Latency", "IntegrationLatency"}
    executions = _dashboard_rows("Workflow executions")
    assert [row[1] for row in executions] == [
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
    ]
    assert all(row[2:4] == ["StateMachineArn", "${FinalizationStateMachine}"] for row in executions)
    assert "${ResultsTable}" in json.dumps(_dashboard_rows("DynamoDB throttles"))


# --- optional auth stack ---------------------------------------------------------------------


def test_the_auth_stack_is_created_only_with_create_auth() -> None:
    assert TEMPLATE["Parameters"]["CreateAuth"]["Default"] == "false"
    assert TEMPLATE["Conditions"]["CreatesAuth"] == {"Fn::Equals": [ref("CreateAuth"), "true"]}
    assert {r["Type"] for r in COGNITO.values()} == {
        "AWS::Cognito::UserPool",
        "AWS::Cognito::UserPoolDomain",
        "AWS::Cognito::UserPoolResourceServer",
        "AWS::Cognito::UserPoolClient",
    }
    assert all(r.get("Condition") == "CreatesAuth" for r in COGNITO.values())


def test_the_authorizer_trusts_the_created_pool_or_the_given_issuer() -> None:
    jwt = RESOURCES["HttpApi"]["Properties"]["Auth"]["Authorizers"]["OAuth2Authorizer"]["JwtConfiguration"]
    condition, created_issuer, given_issuer = jwt["issuer"]["Fn::If"]
    assert condition == "CreatesAuth" and given_issuer == ref("JwtIssuer")
    assert created_issuer == {
        "Fn::Sub": "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${AuthUserPool}"
    }
    condition, created_audience, given_audience = jwt["audience"]["Fn::If"]
    assert condition == "CreatesAuth" and given_audience == ref("JwtAudience")
    assert created_audience == [ref("PlatformClient"), ref("MasteryTrackClient")]


def test_issuer_and_audience_are_required_unless_the_stack_creates_the_auth() -> None:
    rule = TEMPLATE["Rules"]["ExternalAuthorizationServer"]
    assert rule["RuleCondition"] == {"Fn::Equals": [ref("CreateAuth"), "false"]}
    asserts = [a["Assert"] for a in rule["Assertions"]]
    assert {"Fn::Not": [{"Fn::Equals": [ref("JwtIssuer"), ""]}]} in asserts
    assert {"Fn::Not": [{"Fn::Contains": [ref("JwtAudience"), ""]}]} in asserts


def test_the_resource_server_holds_both_route_scopes() -> None:
    props = COGNITO["AuthResourceServer"]["Properties"]
    assert props["Identifier"] == {"Fn::Select": [0, {"Fn::Split": ["/", ref("PowerPathScope")]}]}
    assert [s["ScopeName"] for s in props["Scopes"]] == [
        {"Fn::Select": [1, {"Fn::Split": ["/", ref("PowerPathScope")]}]},
        {"Fn::Select": [1, {"Fn::Split": ["/", ref("WriteBackScope")]}]},
    ]


@pytest.mark.parametrize(
    ("logical_id", "scope"), [("PlatformClient", "PowerPathScope"), ("MasteryTrackClient", "WriteBackScope")]
)
def test_each_app_client_has_client_credentials_and_only_its_scope(logical_id: str, scope: str) -> None:
    client = COGNITO[logical_id]
    props = client["Properties"]
    assert props["GenerateSecret"] is True
    assert props["AllowedOAuthFlows"] == ["client_credentials"]
    assert props["AllowedOAuthFlowsUserPoolClient"] is True
    assert props["AllowedOAuthScopes"] == [ref(scope)]
    # The scopes must exist before a client may be granted them.
    assert client["DependsOn"] == "AuthResourceServer"


def test_the_created_auth_is_in_the_outputs_without_secrets() -> None:
    outputs = TEMPLATE["Outputs"]
    for name in ("TokenUrl", "PlatformClientId", "MasteryTrackClientId"):
        assert outputs[name]["Condition"] == "CreatesAuth"
    assert outputs["TokenUrl"]["Value"]["Fn::Sub"].endswith(".amazoncognito.com/oauth2/token")
    assert outputs["PlatformClientId"]["Value"] == ref("PlatformClient")
    assert outputs["MasteryTrackClientId"]["Value"] == ref("MasteryTrackClient")
    assert "ClientSecret" not in json.dumps(outputs)
    assert {"AlarmTopicArn", "DashboardUrl"} <= set(outputs)


# --- deployment environments (samconfig.toml) ------------------------------------------------

SAMCONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
ENVIRONMENTS = ["staging", "production"]


def _overrides(env: str) -> dict[str, str]:
    raw = SAMCONFIG[env]["deploy"]["parameters"].get("parameter_overrides", "")
    return dict(item.split("=", 1) for item in raw.split())


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_committed_overrides_are_allowed_parameter_values_without_account_details(env: str) -> None:
    parameters = TEMPLATE["Parameters"]
    for name, value in _overrides(env).items():
        assert name in parameters, f"{env}: {name} is not a template parameter"
        allowed = parameters[name].get("AllowedValues")
        assert allowed is None or value in [str(v) for v in allowed], f"{env}: {name}={value}"
        pattern = parameters[name].get("AllowedPattern")
        assert pattern is None or re.fullmatch(pattern, value), f"{env}: {name}={value}"
        # ARNs, account ids and addresses are given at deploy time, never committed.
        assert "arn:" not in value and not re.search(r"\d{12}", value) and "@" not in value


def test_each_environment_has_its_own_stack_and_metrics_namespace() -> None:
    stacks = [SAMCONFIG[env]["global"]["parameters"]["stack_name"] for env in ["default", *ENVIRONMENTS]]
    assert len(set(stacks)) == len(stacks)
    namespaces = [_overrides(env).get("MetricsNamespace") for env in ENVIRONMENTS]
    assert None not in namespaces and len(set(namespaces)) == len(namespaces)


def test_production_change_sets_are_confirmed_before_they_run() -> None:
    assert SAMCONFIG["production"]["deploy"]["parameters"]["confirm_changeset"] is True
