"""Every sample event in events/ goes through its handler (as `sam local invoke` would feed it),
on moto with the demo roster: the samples stay true to what the handlers accept."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.support import ROOT

SAMPLES = sorted(p.name for p in (ROOT / "events").glob("*.json"))
HANDLER_OF = {
    "assign.json": "assign",
    "import.json": "import_results",
    "progress.json": "progress",
    "writeback_put.json": "writeback",
    "workflow_poll.json": "workflow_tasks",
    "sweeper.json": "sweeper",
    "event_publisher_stream.json": "event_publisher",
}


def test_every_sample_names_its_handler() -> None:
    assert set(SAMPLES) == set(HANDLER_OF)


@pytest.mark.parametrize("sample", SAMPLES)
def test_a_sample_event_is_accepted_by_its_handler(service: Any, sample: str) -> None:
    event = json.loads((ROOT / "events" / sample).read_text(encoding="utf-8"))
    if sample in ("import.json", "workflow_poll.json"):
        assert service.assign("student-ada", "lesson-edu-testout-math-g5")[0] == 200
    if sample == "writeback_put.json":
        # The sample's sourcedId is a placeholder: write back to a real MasteryTrack result.
        assert service.assign("student-alan", "lesson-mt-testout-math-g5")[0] == 200
        sourced_id = service.wait_for_callback("student-alan", "lesson-mt-testout-math-g5").sourced_id
        placeholder = event["pathParameters"]["sourcedId"]
        event = json.loads(json.dumps(event).replace(placeholder, sourced_id))
    if sample == "event_publisher_stream.json":
        boto3.client("events").create_event_bus(Name="samples")
        service_env = {"EVENT_BUS_NAME": "samples"}
        with pytest.MonkeyPatch.context() as env:
            for name, value in service_env.items():
                env.setenv(name, value)
            from exttests import wiring

            wiring.reset()
            answer = service.invoke(HANDLER_OF[sample], event)
        assert answer == {"batchItemFailures": []}
        return
    answer = service.invoke(HANDLER_OF[sample], event)
    if "statusCode" in answer:
        assert answer["statusCode"] == 200, answer
    else:
        assert "errorType" not in answer, answer
