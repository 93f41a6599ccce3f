"""Where the commands act: the local stack (its discovery file) or a deployed stack (CloudFormation).

Either way the result is the service's own `Settings`, from which `wiring.build_deps` builds
the same adapters the functions use; the AWS SDK is pointed at the target for the duration of
a command (boto3's default session, and moto's endpoint for the local stack) and put back after.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ..config import RosterSource, Settings
from ..errors import ConfigError
from ..usecases.deps import Deps
from .local_stack import LocalStackUnavailable, find_file, read_running
from .metrics import LoggedMetrics

# The deployed stack's outputs and parameters → the functions' environment variables (as
# template.yaml's Globals set them; tests/unit/admin checks the two agree).
OUTPUT_VARIABLES = {
    "TableName": "TABLE_NAME",
    "StateMachineArn": "STATE_MACHINE_ARN",
    "CredentialsKeyId": "CREDENTIALS_KMS_KEY_ID",
    "EventBusName": "EVENT_BUS_NAME",
}
PARAMETER_VARIABLES = {
    "EdulasticSecretArn": "EDULASTIC_SECRET_ID",
    "MasteryTrackSecretArn": "MASTERY_TRACK_SECRET_ID",
    "MasteryThreshold": "MASTERY_THRESHOLD",
    "WorkflowWaitSeconds": "WORKFLOW_WAIT_SECONDS",
    "CallbackTimeoutSeconds": "CALLBACK_TIMEOUT_SECONDS",
    "EdulasticDeadlineDays": "EDULASTIC_DEADLINE_DAYS",
    "MasteryTrackDeadlineDays": "MASTERY_TRACK_DEADLINE_DAYS",
    "RosterSource": "ROSTER_SOURCE",
    "RosterCacheSeconds": "ROSTER_CACHE_SECONDS",
    "TimebackSecretArn": "TIMEBACK_SECRET_ID",
    "EnrollmentDeadlineSeconds": "ENROLLMENT_DEADLINE_SECONDS",
    "EventSource": "EVENT_SOURCE",
}
REQUIRED_OUTPUTS = ("TableName", "StateMachineArn")
# Never sent anywhere from an operator's machine: the local stack's moto takes any key.
_LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class TargetError(Exception):
    """The target cannot be used; `not_found` when the named stack does not exist."""

    def __init__(self, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.not_found = not_found


@dataclass
class Target:
    label: str  # for messages: which stack
    settings: Settings
    built: Deps | None = field(default=None, repr=False)  # the dependencies, once built

    def deps(self) -> Deps:
        """The service's adapters on this target (built on first use: `roster load` needs none)."""
        if self.built is None:
            from ..wiring import build_deps

            self.built = replace(build_deps(self.settings), metrics=LoggedMetrics())
        return self.built

    @property
    def table_holds_roster(self) -> bool:
        return self.settings.roster_source is RosterSource.TABLE


@dataclass(frozen=True)
class TargetChoice:
    """A deployed stack when `stack_name` is given; else the local stack."""

    stack_name: str | None = None
    profile: str | None = None
    region: str | None = None


@contextmanager
def connect(
    choice: TargetChoice, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Iterator[Target]:
    """The chosen target, with the AWS SDK pointed at it until the block ends."""
    environ = os.environ if environ is None else environ
    if choice.stack_name:
        with _sdk(session={"profile_name": choice.profile, "region_name": choice.region}, env={}):
            yield _deployed(choice.stack_name)
        return
    try:
        facts = read_running(find_file(environ, cwd or Path.cwd()))
    except LocalStackUnavailable as error:
        raise TargetError(str(error)) from None
    settings = _settings(facts.environment(), f"the local stack's settings ({facts.api_url})")
    session = {"region_name": facts.region, **_LOCAL_CREDENTIALS}
    with _sdk(session=session, env={"AWS_ENDPOINT_URL": facts.aws_endpoint}, drop=("AWS_PROFILE",)):
        yield Target(f"the local stack at {facts.api_url}", settings)


def _deployed(stack_name: str) -> Target:
    client = boto3.client("cloudformation")
    try:
        stack = client.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationError":
            raise TargetError(
                f"no stack named '{stack_name}' in {client.meta.region_name}", not_found=True
            ) from None
        raise
    region = client.meta.region_name
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs") or []}
    missing = [name for name in REQUIRED_OUTPUTS if not outputs.get(name)]
    if missing:
        raise TargetError(
            f"stack '{stack_name}' ({stack.get('StackStatus')}) has no {', '.join(missing)} output: "
            "is it this service's stack, and fully deployed?"
        )
    parameters = {
        p["ParameterKey"]: p.get("ResolvedValue") or p.get("ParameterValue", "")
        for p in stack.get("Parameters") or []
    }
    environment = stack_environment(outputs, parameters)
    return Target(f"stack '{stack_name}' ({region})", _settings(environment, f"stack '{stack_name}'"))


def stack_environment(outputs: Mapping[str, str], parameters: Mapping[str, str]) -> dict[str, str]:
    """The functions' environment, rebuilt from the stack's outputs and parameters."""
    found = {var: outputs[key] for key, var in OUTPUT_VARIABLES.items() if outputs.get(key)}
    found |= {var: parameters[key] for key, var in PARAMETER_VARIABLES.items() if parameters.get(key)}
    return found


def _settings(environment: Mapping[str, str], whose: str) -> Settings:
    try:
        return Settings.from_env(environment)
    except ConfigError as error:
        raise TargetError(f"{whose} are not usable: {error}") from None


@contextmanager
def _sdk(*, session: Mapping[str, Any], env: Mapping[str, str], drop: tuple[str, ...] = ()) -> Iterator[None]:
    """boto3's default session and the SDK's environment variables for the block, then the old ones."""
    saved_env = {name: os.environ.get(name) for name in (*env, *drop)}
    saved_session = boto3.DEFAULT_SESSION
    try:
        for name in drop:
            os.environ.pop(name, None)
        os.environ.update(env)
        boto3.setup_default_session(**{k: v for k, v in session.items() if v is not None})
        yield
    finally:
        boto3.DEFAULT_SESSION = saved_session
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
