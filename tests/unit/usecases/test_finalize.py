"""The transition to final: XP and its multiplier, fixed once, for first and later attempts."""

from __future__ import annotations

import pytest

from exttests.domain.attempt import Attempt, AttemptStatus
from exttests.usecases.results import import_results
from tests.fakes import FakeWorld, make_deps
from tests.fakes.deps import demo_roster
from tests.fakes.scenarios import ADA, EDU_TESTOUT, MT_UNIT, activity, assigned, pulled, written_back

UNIT_XP = 40  # the MasteryTrack unit test's Resource metadata.xp (a unit test enrolls nobody)


def final_attempt(world: FakeWorld, number: int, accuracy: float) -> Attempt:
    """Attempt `number` of the unit test, final with `accuracy`; the earlier ones final at 100."""
    for _ in range(number - 1):
        assigned(world, MT_UNIT)
        written_back(world, MT_UNIT, score=100)
    attempt = assigned(world, MT_UNIT)
    assert attempt.attempt == number
    return written_back(world, MT_UNIT, score=accuracy)


@pytest.mark.parametrize(
    ("attempt", "accuracy", "multiplier"),
    [
        (1, 100, 1.25),
        (1, 99.99, 1.0),
        (1, 80, 1.0),
        (1, 79.99, 0.0),
        (1, 0, 0.0),
        (2, 100, 1.0),
        (2, 99.99, 0.5),
        (2, 80, 0.5),
        (2, 79.99, 0.0),
        (3, 100, 1.0),
        (3, 85, 0.5),
    ],
)
def test_the_multiplier_depends_on_accuracy_and_whether_it_is_the_first_attempt(
    attempt: int, accuracy: float, multiplier: float
) -> None:
    final = final_attempt(make_deps(), attempt, accuracy)
    assert final.finalized and final.attempt == attempt
    assert final.multiplier == multiplier
    assert final.xp == UNIT_XP * multiplier


def test_a_resource_without_xp_gives_zero_xp() -> None:
    roster = demo_roster()
    for resource in roster["resources"]:
        if resource["sourcedId"] == "res-mt-unit-math-g6":
            del resource["metadata"]["xp"]
    final = final_attempt(make_deps(roster), 1, 100)
    assert final.multiplier == 1.25 and final.xp == 0


def test_xp_of_a_pulled_test_uses_its_accuracy() -> None:
    world = make_deps()
    assigned(world, EDU_TESTOUT)
    pulled(world, EDU_TESTOUT, [activity(0, 1), activity(1, 1), activity(2, 2, max_score=2), activity(3, 1)])
    final = import_results(world.deps, ADA, EDU_TESTOUT).attempt
    assert final.accuracy == 100 and final.multiplier == 1.25 and final.xp == 125


def test_a_final_attempt_keeps_the_xp_it_was_given() -> None:
    world = make_deps()
    final = final_attempt(world, 1, 100)
    written_back(world, MT_UNIT, score=10)
    again = import_results(world.deps, ADA, MT_UNIT).attempt
    assert (again.xp, again.multiplier, again.accuracy) == (final.xp, final.multiplier, 100)
    assert again.finalized_at == final.finalized_at


def test_until_final_there_is_no_xp_or_multiplier() -> None:
    world = make_deps()
    assigned(world, MT_UNIT)
    partial = written_back(world, MT_UNIT, score=100, status="partially graded")
    assert partial.status is AttemptStatus.ASSIGNED
    assert partial.xp is None and partial.multiplier is None and partial.finalized_at is None
