"""The tests' cheap table snapshot (read from moto's backend) reads what a scan through the API reads."""

from __future__ import annotations

from typing import Any


def test_the_snapshot_reads_every_item_a_scan_reads(service: Any) -> None:
    for lesson in ("lesson-edu-testout-math-g5", "lesson-mt-testout-math-g5"):
        status, body = service.assign("student-ada", lesson)
        assert status == 200, body
    service.wait_for_callback("student-ada", "lesson-mt-testout-math-g5")
    snapshot = service.snapshot()
    assert len(snapshot) > 50  # the roster and the two attempts with their records
    assert snapshot == service.scanned()
