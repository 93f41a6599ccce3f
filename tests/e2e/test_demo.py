"""`make demo` (python -m local.demo) succeeds: both providers finalize and enroll through the
workflow with no client poll. Run as a subprocess, as `make demo` does."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.e2e


def test_demo_succeeds() -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "local.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "demo succeeded" in done.stdout
    # Edulastic polls on a schedule: how many Wait → Poll → Decide rounds depends on timing.
    enroll = "StartEnrollment → Enroll → EnrollmentDone → Finalized"
    assert "Route → Wait → Poll → Decide →" in done.stdout and f"Decide → {enroll}" in done.stdout
    assert f"Route → AwaitWriteBack → Poll → Decide → {enroll}" in done.stdout
    assert "password:          (hidden" in done.stdout
    # The live path: the platform simulator as roster, the enrollment on it, the webhook's events.
    assert "Part 2: the live platform" in done.stdout
    assert "enrollment:        course-math-g6 at org-school-1" in done.stdout
    for kind in ("External Test Assigned", "External Test Finalized", "Student Enrolled"):
        assert f"   {kind}:" in done.stdout
    # The console shows the workflow's polls and the events as they happen.
    assert "workflow poll   student-ada lesson-edu-testout-math-g5 #1 → finalized" in done.stdout
    assert "event  Student Enrolled: student=student-ada" in done.stdout
