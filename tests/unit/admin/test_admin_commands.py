"""Each command on the in-memory fakes: what it prints (text and --json), its exit code, and one
error line on stderr for every expected failure."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from exttests.admin import cli
from exttests.admin.targets import Target
from exttests.errors import Busy
from exttests.usecases.assign import AssignCommand, assign
from exttests.usecases.results import import_results
from tests.fakes import make_deps
from tests.fakes.deps import FakeWorld
from tests.fakes.scenarios import ADA, EDU_TESTOUT, assigned

ADA_ON_TESTOUT = ["--student", ADA, "--lesson", EDU_TESTOUT]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> FakeWorld:
    found = make_deps()

    @contextmanager
    def on_fakes(*_: Any) -> Iterator[Target]:
        yield Target("the fakes", found.deps.settings, found.deps)

    monkeypatch.setattr(cli, "connect", on_fakes)
    return found


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def fail_the_enrollment(world: FakeWorld) -> None:
    """A mastered test-out whose track course is missing from the roster."""
    world.store.remove_roster_item({"PK": {"S": "COURSE#course-math-g6"}, "SK": {"S": "COURSE"}})
    attempt = assigned(world, EDU_TESTOUT)
    assert attempt.assignment_id is not None
    world.edulastic.answer(attempt.assignment_id, [1.0] * 5)
    import_results(world.deps, ADA, EDU_TESTOUT)


def test_show_tells_state_workflow_history_and_never_the_password(
    world: FakeWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = assign(world.deps, AssignCommand(ADA, EDU_TESTOUT))
    assert outcome.credentials is not None
    code, out, err = run(capsys, "attempt", "show", *ADA_ON_TESTOUT)
    assert (code, err) == (0, "")
    assert "attempt 1 (current)" in out and "assigned" in out and "RUNNING" in out
    assert outcome.attempt.sourced_id in out
    code, out, _ = run(capsys, "attempt", "show", "--result", outcome.attempt.sourced_id, "--json")
    document = json.loads(out)
    assert code == 0 and outcome.credentials.password not in out
    assert sorted(document) == ["attempt", "current", "enrollmentRecord", "history", "workflow"]
    assert document["attempt"]["status"] == "assigned" and document["current"] is True
    assert document["workflow"]["status"] == "RUNNING" and document["workflow"]["name"].endswith("-g0")
    assert [a["attempt"] for a in document["history"]] == [1]


def test_what_does_not_exist_is_exit_3_with_one_line_on_stderr(
    world: FakeWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["attempt", "show", *ADA_ON_TESTOUT], ["attempt", "show", "--result", "ear-none"]):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (3, "")
        assert err.startswith("error: no attempt") and err.count("\n") == 1


def test_a_failed_enrollment_is_listed_retried_and_refused_once_made(
    world: FakeWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    fail_the_enrollment(world)
    code, out, _ = run(capsys, "attempts", "list", "--failed-enrollment", "--json")
    listed = json.loads(out)["attempts"]
    assert code == 0 and [(a["student"], a["lesson"], a["attempt"]) for a in listed] == [
        (ADA, EDU_TESTOUT, None)
    ]

    code, out, err = run(capsys, "enrollment", "retry", *ADA_ON_TESTOUT)  # the course is still missing
    assert code == 1 and "failed" in out
    assert err == "error: the enrollment was not made: course 'course-math-g6' does not exist\n"

    world.store.load_roster({"courses": [{"sourcedId": "course-math-g6", "title": "Math 6"}]})
    code, out, err = run(capsys, "enrollment", "retry", *ADA_ON_TESTOUT, "--json")
    assert (code, err) == (0, "")
    assert (
        json.loads(out)["enrollment"] == "enrolled"
        and json.loads(out)["enrolledCourseId"] == "course-math-g6"
    )

    code, out, err = run(capsys, "enrollment", "retry", *ADA_ON_TESTOUT)
    assert (code, out) == (4, "") and "not failed" in err
    assert list(world.store.enrollments) == [(ADA, "course-math-g6")]


def test_redrive_restarts_a_workflow_and_refuses_one_that_is_done(
    world: FakeWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    attempt = assigned(world, EDU_TESTOUT)
    code, out, _ = run(capsys, "attempt", "redrive", *ADA_ON_TESTOUT, "--json")
    assert (
        code == 0
        and json.loads(out)["workflowGeneration"] == 1
        and json.loads(out)["stoppedPrevious"] is True
    )
    assert attempt.assignment_id is not None
    world.edulastic.answer(attempt.assignment_id, [0.0] * 5)  # not mastered: nothing left to do
    import_results(world.deps, ADA, EDU_TESTOUT)
    code, out, err = run(capsys, "attempt", "redrive", *ADA_ON_TESTOUT)
    assert (code, out) == (4, "") and "needs no workflow" in err


def test_the_stuck_view_shows_only_overdue_workflows(
    world: FakeWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    assigned(world, EDU_TESTOUT)
    assert run(capsys, "attempts", "list", "--stuck")[1] == "no stuck attempts (workflow overdue)\n"
    world.clock.advance(10 * 3600)
    code, out, _ = run(capsys, "attempts", "list", "--stuck", "--since", "2025-01-01")
    assert code == 0 and out.startswith("1 stuck attempts") and f"{ADA}  {EDU_TESTOUT}" in out


def test_a_busy_attempt_fails_with_exit_1_and_a_bug_is_not_hidden(
    world: FakeWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    assigned(world, EDU_TESTOUT)
    world.store.fail_next("get_head", Busy("the attempt is being changed, retry"))
    code, _, err = run(capsys, "attempt", "redrive", *ADA_ON_TESTOUT)
    assert (code, err) == (1, "error: the attempt is being changed, retry\n")
    world.store.fail_next("get_head", RuntimeError("a bug"))
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["attempt", "show", *ADA_ON_TESTOUT])


def test_an_interrupted_command_ends_with_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    @contextmanager
    def interrupted(*_: Any) -> Iterator[Target]:
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(cli, "connect", interrupted)
    code, out, err = run(capsys, "roster", "load", "roster.json")
    assert (code, out) == (1, "") and err.startswith("error: interrupted")
