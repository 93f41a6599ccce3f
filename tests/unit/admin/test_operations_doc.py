"""docs/operations.md covers every alarm of the stack, and its CLI examples are valid commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from exttests.admin.cli import build_parser
from local import cfn_yaml

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
ALARMS = dict(cfn_yaml.resources_of_type(cfn_yaml.load(ROOT / "template.yaml"), "AWS::CloudWatch::Alarm"))


def _short_name(alarm: dict[str, object]) -> str:
    name = alarm["Properties"]["AlarmName"]  # type: ignore[index]
    return str(name["Fn::Sub"]).removeprefix("${AWS::StackName}-")


@pytest.mark.parametrize("logical_id", sorted(ALARMS))
def test_every_alarm_has_its_entry(logical_id: str) -> None:
    assert f"`{_short_name(ALARMS[logical_id])}`" in DOC, "the alarm's name"
    assert logical_id in DOC, "the alarm's logical id"


def test_the_guide_counts_the_alarms_right() -> None:
    assert f"There are {len(ALARMS)} of them" in DOC


EXAMPLES = re.findall(r"python -m exttests\.admin ([^\n`#|]+)", DOC)


@pytest.mark.parametrize("example", [e.strip() for e in EXAMPLES if "--help" not in e])
def test_every_cli_example_is_a_valid_command(example: str) -> None:
    build_parser().parse_args(shlex.split(example))
