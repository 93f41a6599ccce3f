"""One configuration model, validated when a function starts: a bad or missing setting stops it
with a message naming the variable (and never showing a secret's value)."""

from __future__ import annotations

import pytest

from exttests.config import RosterSource, Settings
from exttests.domain.models import ToolProvider
from exttests.errors import ConfigError

BASE = {"TABLE_NAME": "results"}


def test_the_defaults_are_the_documented_ones() -> None:
    settings = Settings.from_env(BASE)
    assert settings.mastery_threshold == 90.0
    assert settings.waits == (60, 120, 300, 600, 1800, 3600)
    assert settings.deadline_for(ToolProvider.EDULASTIC) == 30.0
    assert settings.roster_source is RosterSource.TABLE and settings.roster_cache_seconds == 300
    assert settings.event_source == "exttests" and settings.due_index_shards == 8


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"MASTERY_THRESHOLD": "ninety"}, "MASTERY_THRESHOLD"),
        ({"MASTERY_THRESHOLD": "120"}, "MASTERY_THRESHOLD"),
        ({"WORKFLOW_WAIT_SECONDS": "60,soon"}, "WORKFLOW_WAIT_SECONDS"),
        ({"PROVIDER_MAX_ATTEMPTS": "0"}, "PROVIDER_MAX_ATTEMPTS"),
        ({"ROSTER_SOURCE": "ldap"}, "ROSTER_SOURCE"),
        # A provider pointed elsewhere without its credentials: today's 502 "login failed" later.
        ({"EDULASTIC_BASE_URL": "https://edu.example.com/api"}, "EDULASTIC_USERNAME"),
        ({"MASTERY_TRACK_BASE_URL": "https://mt.example.com/prod"}, "MASTERY_TRACK_API_KEY"),
        ({"ROSTER_SOURCE": "timeback"}, "TIMEBACK"),
        ({}, "TABLE_NAME"),
    ],
)
def test_a_malformed_or_missing_setting_is_refused_by_name(variables: dict[str, str], named: str) -> None:
    env = {**BASE, **variables} if named != "TABLE_NAME" else variables
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert named in str(refused.value)


def test_a_secret_value_is_never_part_of_the_message() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**BASE, "PROVIDER_READ_TIMEOUT": "s3cr3t-looking-value"})
    assert "PROVIDER_READ_TIMEOUT" in str(refused.value)
    env = {
        **BASE,
        "EDULASTIC_BASE_URL": "https://edu.example.com/api",
        "EDULASTIC_PASSWORD": "hunter2-not-shown",
    }
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert "hunter2" not in str(refused.value)
