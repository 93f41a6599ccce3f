"""A link a write-back sends is checked before any client gets it (moto, the real handlers)."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.test_results import ADA, MT_TESTOUT, writeback_body

QUESTIONS = [
    {"id": "m1", "score": 1, "url": "javascript:alert(1)"},
    {"id": "m2", "score": 1, "url": "https://mastery.example/questions/m2"},
    {"id": "m3", "score": 0, "maxScore": 1, "url": "https://ada:hunter2@mastery.example/questions/m3"},
]


def test_a_javascript_question_link_written_back_never_comes_back_from_progress(service: Any) -> None:
    status, assigned = service.assign(ADA, MT_TESTOUT)
    assert status == 200
    test_url = assigned["testUrl"]
    assert test_url.startswith("http://127.0.0.1:")  # the simulator: http allowed to its host only
    sourced_id = service.head(ADA, MT_TESTOUT).sourced_id
    written = writeback_body(score=None, metadata={"masteryTrackProcessed": True, "questions": QUESTIONS})
    assert service.write_back(sourced_id, written)[0] == 200

    status, progress = service.progress(ADA, MT_TESTOUT)
    assert status == 200 and progress["finalized"] is True
    assert [q["url"] for q in progress["questions"]] == [
        test_url,
        "https://mastery.example/questions/m2",
        test_url,
    ]
    answered = json.dumps(progress)
    assert "javascript" not in answered and "hunter2" not in answered
