"""The discovery file a running local stack (`make run`) leaves for the operator CLI.

The stack writes it once it has started and removes it at a clean stop (`local/discovery.py`);
the CLI reads it when no AWS stack is named. It holds how to reach the stack and the settings
its handlers run with — never a secret (no client secret, no provider credentials).

Location: $LOCAL_STACK_FILE, else `.local-state/stack.json` at the repository root (the CLI
looks in the working directory and its parents).
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FILE_VARIABLE = "LOCAL_STACK_FILE"
RELATIVE_PATH = Path(".local-state") / "stack.json"
FORMAT = 1

# The handlers' settings the file carries: the service's own, none of them secret. Provider and
# platform settings are left out (the operator's commands never call a provider).
SETTINGS_VARIABLES = (
    "MASTERY_THRESHOLD",
    "WORKFLOW_WAIT_SECONDS",
    "CALLBACK_TIMEOUT_SECONDS",
    "EDULASTIC_DEADLINE_DAYS",
    "MASTERY_TRACK_DEADLINE_DAYS",
    "ASSIGN_LEASE_SECONDS",
    "SWEEPER_GRACE_SECONDS",
    "SWEEPER_BATCH_SIZE",
    "DUE_INDEX_SHARDS",
    "ENROLLMENT_DEADLINE_SECONDS",
    "ROSTER_SOURCE",
    "ROSTER_CACHE_SECONDS",
    "EVENT_SOURCE",
    "EVENT_BUS_NAME",
)


class LocalStackUnavailable(Exception):
    """No local stack to talk to: no discovery file, a malformed one, or its stack has exited."""


@dataclass(frozen=True, kw_only=True)
class LocalStackFacts:
    pid: int  # the stack's process
    started_at: str  # ISO 8601
    region: str
    aws_endpoint: str  # moto's server: DynamoDB, KMS, Step Functions
    api_url: str
    token_url: str
    table_name: str
    state_machine_arn: str
    kms_key_id: str
    settings: dict[str, str] = field(default_factory=dict)  # SETTINGS_VARIABLES the handlers have

    def to_json(self) -> str:
        document = {"format": FORMAT, **{_camel(name): value for name, value in asdict(self).items()}}
        return json.dumps(document, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> LocalStackFacts:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise LocalStackUnavailable(f"{where} is not valid JSON ({error.msg})") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise LocalStackUnavailable(f"{where} is not a discovery file of format {FORMAT}")
        values: dict[str, Any] = {}
        for name, kind in (("pid", int), *((n, str) for n in _TEXT_FIELDS)):
            value = document.get(_camel(name))
            if not isinstance(value, kind) or isinstance(value, bool) or value == "":
                raise LocalStackUnavailable(f"{where}: {_camel(name)} is missing or malformed")
            values[name] = value
        if values["pid"] <= 0:
            raise LocalStackUnavailable(f"{where}: pid is malformed")
        settings = document.get("settings") or {}
        if not isinstance(settings, dict) or not all(
            name in SETTINGS_VARIABLES and isinstance(value, str) for name, value in settings.items()
        ):
            raise LocalStackUnavailable(f"{where}: settings must map known setting names to strings")
        return cls(**values, settings=dict(settings))

    def environment(self) -> dict[str, str]:
        """The settings as the handlers read them (for `Settings.from_env`)."""
        return {
            **self.settings,
            "TABLE_NAME": self.table_name,
            "STATE_MACHINE_ARN": self.state_machine_arn,
            "CREDENTIALS_KMS_KEY_ID": self.kms_key_id,
        }


_TEXT_FIELDS = (
    "started_at",
    "region",
    "aws_endpoint",
    "api_url",
    "token_url",
    "table_name",
    "state_machine_arn",
    "kms_key_id",
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def settings_of(environ: Mapping[str, str]) -> dict[str, str]:
    return {name: environ[name] for name in SETTINGS_VARIABLES if environ.get(name)}


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except OSError as error:
        return error.errno != errno.ESRCH
    return True


def find_file(environ: Mapping[str, str], cwd: Path) -> Path:
    """Where the discovery file is (or would be): $LOCAL_STACK_FILE, else the nearest
    `.local-state/stack.json` in `cwd` or a parent (`cwd`'s own when there is none)."""
    if environ.get(FILE_VARIABLE):
        return Path(environ[FILE_VARIABLE])
    for directory in (cwd, *cwd.parents):
        candidate = directory / RELATIVE_PATH
        if candidate.is_file():
            return candidate
    return cwd / RELATIVE_PATH


def read_running(path: Path) -> LocalStackFacts:
    """The facts of the local stack that wrote `path`, if it is still running."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LocalStackUnavailable(
            f"no local stack is running (no discovery file at {path}); start one with `make run`, "
            f"or name a deployed stack with --stack-name"
        ) from None
    except OSError as error:
        raise LocalStackUnavailable(f"cannot read {path}: {error.strerror or error}") from None
    facts = LocalStackFacts.from_json(text, str(path))
    if not process_alive(facts.pid):
        raise LocalStackUnavailable(
            f"the local stack that wrote {path} (pid {facts.pid}) is no longer running; "
            f"start it again with `make run`"
        )
    return facts
