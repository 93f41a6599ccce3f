"""The CLI's arguments: what each command takes, and a usage error (exit 2, one explanation on
stderr, nothing done) for anything else."""

from __future__ import annotations

import pytest

from exttests.admin import commands
from exttests.admin.cli import build_parser, main

SHOW = ["attempt", "show", "--student", "student-ada", "--lesson", "lesson-1"]


def parse(*argv: str) -> dict[str, object]:
    return vars(build_parser().parse_args(list(argv)))


def test_each_command_reaches_its_use_case_with_its_arguments() -> None:
    show = parse(*SHOW, "--attempt", "2")
    assert show["run"] is commands.attempt_show
    assert (show["student"], show["lesson"], show["attempt"], show["result"]) == (
        "student-ada",
        "lesson-1",
        2,
        None,
    )
    assert parse("attempt", "show", "--result", "ear-1")["result"] == "ear-1"
    assert parse("attempt", "redrive", "--student", "s", "--lesson", "l")["run"] is commands.attempt_redrive
    retry = parse("enrollment", "retry", "--student", "s", "--lesson", "l")
    assert retry["run"] is commands.enrollment_retry and retry["attempt"] is None
    load = parse("roster", "load", "roster.json", "--dry-run")
    assert load["run"] is commands.roster_load and load["file"] == "roster.json" and load["dry_run"] is True


@pytest.mark.parametrize(
    ("flag", "view"),
    [("--stuck", "stuck"), ("--failed-enrollment", "failed-enrollment"), ("--expired", "expired")],
)
def test_attempts_list_takes_one_view_and_lists_100_by_default(flag: str, view: str) -> None:
    listed = parse("attempts", "list", flag)
    assert (listed["view"], listed["limit"], listed["since"]) == (view, 100, None)


def test_target_and_output_options_go_before_or_after_the_command() -> None:
    before = parse("--json", "--stack-name", "prod", "--region", "eu-west-1", "attempts", "list", "--stuck")
    after = parse("attempts", "list", "--stuck", "--json", "--stack-name", "prod", "--region", "eu-west-1")
    for args in (before, after):
        assert (args["json"], args["stack_name"], args["region"], args["profile"]) == (
            True,
            "prod",
            "eu-west-1",
            None,
        )
    plain = parse(*SHOW)
    assert (plain["json"], plain["local"], plain["stack_name"], plain["verbose"]) == (
        False,
        False,
        None,
        False,
    )


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["attempt"],
        ["attempt", "show", "--student", "s"],  # no lesson
        ["attempt", "show", "--result", "r", "--student", "s", "--lesson", "l"],  # both ways at once
        ["attempt", "show", "--result", "r", "--attempt", "2"],
        [*SHOW, "--attempt", "0"],
        [*SHOW, "--attempt", "two"],
        ["attempt", "show", "--student", "", "--lesson", "l"],
        ["attempt", "show", "--student", "s\x1b[2J", "--lesson", "l"],  # a control character
        ["attempt", "show", "--student", "s" * 256, "--lesson", "l"],
        ["attempt", "redrive", "--student", "s"],
        ["attempts", "list"],  # no view
        ["attempts", "list", "--stuck", "--expired"],
        ["attempts", "list", "--stuck", "--limit", "0"],
        ["attempts", "list", "--stuck", "--limit", "1001"],
        ["attempts", "list", "--stuck", "--since", "last week"],
        ["enrollment", "retry", "--lesson", "l"],
        ["roster", "load"],
        ["roster", "delete", "f.json"],
        ["--local", "--stack-name", "prod", *SHOW],
        ["--profile", "ops", *SHOW],  # --profile without a stack
        [*SHOW, "--region", "eu-west-1"],
    ],
)
def test_a_usage_error_exits_2_with_an_explanation_and_does_nothing(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error:" in captured.err and "Traceback" not in captured.err


def test_help_documents_the_commands_the_targets_and_every_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("attempt show", "attempts list", "attempt redrive", "enrollment retry", "roster load"):
        assert command in text
    for needle in ("--stack-name", "LOCAL_STACK_FILE", ".local-state/stack.json", "--json"):
        assert needle in text
    for code in range(5):
        assert f"\n  {code}  " in text


def test_roster_load_help_says_removed_objects_are_deleted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["roster", "load", "--help"]) == 0
    text = capsys.readouterr().out
    assert "DELETED" in text and "--dry-run" in text
