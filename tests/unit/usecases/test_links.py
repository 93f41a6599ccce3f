"""Links from providers and write-backs are checked before they are stored: a refused question
link falls back to the test link, a refused test link fails the assignment as a provider error."""

from __future__ import annotations

import logging

import pytest

from exttests.domain.attempt import AttemptStatus
from exttests.domain.links import LinkPolicy
from exttests.errors import ProviderUnavailable
from exttests.usecases.assign import AssignCommand, assign
from exttests.usecases.results import import_results, write_back
from tests.fakes import make_deps
from tests.fakes.providers import ProviderAssignment
from tests.fakes.scenarios import ADA, ADA_EMAIL, EDU_TESTOUT, MT_TESTOUT, activity, assigned, pulled, record

EVIL = "javascript:alert(document.cookie)"


def test_a_refused_write_back_question_link_falls_back_to_the_test_link_and_is_logged_without_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    world = make_deps()
    attempt = assigned(world, MT_TESTOUT)
    questions = [
        {"id": "m1", "score": 1, "url": EVIL},
        {"id": "m2", "score": 1, "url": "https://mt.example/questions/m2"},
        {"id": "m3", "score": 1, "url": "data:text/html,<script>alert(1)</script>"},
        {"id": "m4", "score": 1},
    ]
    written = record(score=None, metadata={"masteryTrackProcessed": True, "questions": questions})
    stored = write_back(world.deps, attempt.sourced_id, written).attempt
    assert [q.url for q in stored.questions] == [
        attempt.test_url,
        "https://mt.example/questions/m2",
        attempt.test_url,
        attempt.test_url,
    ]
    refused = [r for r in caplog.records if r.getMessage() == "a link was refused"]
    assert [getattr(r, "reason", None) for r in refused] == [
        "scheme 'javascript' is not allowed",
        "scheme 'data' is not allowed",
    ]
    assert not any("alert" in str(r.__dict__) for r in refused)


def test_a_refused_provider_question_link_falls_back_to_the_test_link() -> None:
    world = make_deps()
    attempt = assigned(world, EDU_TESTOUT)
    pulled(
        world,
        EDU_TESTOUT,
        [
            activity(0, 1, url="https://app.edulastic.com/q/1"),
            activity(1, 1, url=EVIL),
            activity(2, 1, url="http://127.0.0.1:4000/q/3"),
            activity(3, 1, url=""),
        ],
    )
    stored = import_results(world.deps, ADA, EDU_TESTOUT).attempt
    assert [q.url for q in stored.questions] == [
        "https://app.edulastic.com/q/1",
        attempt.test_url,
        attempt.test_url,  # http to a host that is not a configured provider's
        attempt.test_url,
    ]


def test_http_question_links_to_a_configured_http_provider_are_kept() -> None:
    world = make_deps().with_settings(links=LinkPolicy(frozenset({"127.0.0.1"})))
    assigned(world, EDU_TESTOUT)
    pulled(world, EDU_TESTOUT, [activity(0, 1, url="http://127.0.0.1:4000/q/1")])
    [question] = import_results(world.deps, ADA, EDU_TESTOUT).attempt.questions
    assert question.url == "http://127.0.0.1:4000/q/1"


def test_a_refused_test_link_fails_the_assignment_as_a_provider_error_and_keeps_the_intent() -> None:
    world = make_deps()
    # The provider already holds an assignment of this test for Ada, whose link is a script.
    world.mastery_track.assignments.append(ProviderAssignment("mt-asg-evil", ADA_EMAIL, "mt-evil", EVIL))
    with pytest.raises(ProviderUnavailable) as raised:
        assign(world.deps, AssignCommand(ADA, MT_TESTOUT, test_id="mt-evil"))
    assert raised.value.status == 502
    assert "javascript" in raised.value.message and "alert" not in raised.value.message
    # As after any unusable answer: nothing handed out, the intent (and its sourcedId, which the
    # provider may write back to) kept with its lease released for the client's retry.
    head = world.store.head(ADA, MT_TESTOUT)
    assert head is not None and head.status is AttemptStatus.ASSIGNING and head.test_url is None
    assert head.lease_until is not None and head.lease_until <= world.clock.now().timestamp()
    assert world.workflow.started == {}
