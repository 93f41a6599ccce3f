"""State transitions and Lambda invocations of the finalization workflow (the real ASL on moto,
the real handlers as its Lambda tasks).

Measured: MasteryTrack (assign -> write-back -> finalized, callback), two Edulastic runs that
need a different number of polls, and an Edulastic attempt whose deadline passes before its first
poll (the path of a test nobody takes: Expired), from get_execution_history. Derived: the cost of
one poll iteration (the difference of the two Edulastic runs) and of the fixed part, applied to
an Edulastic test finished 45 minutes after assignment under the default backoff schedule and
under a naive fixed 30-second poll.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench import scenarios as sc
from bench.harness import EDU_LESSON, MT_LESSON, execution_arn, service, student_id
from tests.support import execution_history, states_entered, wait_for_end, wait_until
from tools.capacity import poll_times

DEFAULT_WAITS = [60, 120, 300, 600, 1800, 3600]
LAMBDA_EVENTS = ("TaskScheduled", "LambdaFunctionScheduled")


def counts(arn: str) -> dict[str, Any]:
    events = execution_history(arn)
    states = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    return {
        "state_transitions": len(states),
        "lambda_invocations": sum(1 for e in events if e["type"] in LAMBDA_EVENTS),
        "polls": states.count("Poll"),
        "states": states,
        "by_state": dict(Counter(states)),
    }


def polls_for(finished_after_s: float, waits: list[int]) -> int:
    """Polls until the first one at or after `finished_after_s` (first poll after waits[0])."""
    return len(poll_times(finished_after_s, waits))


def measure(simulators: tuple[Any, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    # Callback: the write-back wakes the workflow; waits are irrelevant.
    with service(simulators, waits="3600") as svc:
        sc.load_bench_data(svc, 3, ())
        student = student_id(0)
        assert svc.assign(student, MT_LESSON)[0] == 200
        head = svc.wait_for_callback(student, MT_LESSON)
        arn = execution_arn(svc, student, MT_LESSON)
        assert svc.write_back(head.sourced_id, sc.writeback_body())[0] == 200
        assert wait_for_end(arn) == "SUCCEEDED"
        result["mastery_track"] = {"measured": True, **counts(arn)}

    # Polling: 1-second waits; run A finishes before the first poll, run B after two polls.
    with service(simulators, waits="1") as svc:
        sc.load_bench_data(svc, 3, ())
        runs = {}
        for key, student, after_polls in (
            ("edulastic_a", student_id(0), 0),
            ("edulastic_b", student_id(1), 2),
        ):
            assert svc.assign(student, EDU_LESSON)[0] == 200
            arn = execution_arn(svc, student, EDU_LESSON)
            if after_polls:
                wait_until(lambda arn=arn, n=after_polls: states_entered(arn).count("Poll") >= n)
            sc.finish_edulastic(svc, student, sc.email(int(student.rsplit("-", 1)[1])), EDU_LESSON, 4)
            assert wait_for_end(arn) == "SUCCEEDED"
            runs[key] = {"measured": True, **counts(arn)}
        result.update(runs)

    # Never taken: the deadline (half a second) has passed at the first poll, which expires it.
    with service(simulators, waits="1", env={"EDULASTIC_DEADLINE_DAYS": str(0.5 / 86400)}) as svc:
        sc.load_bench_data(svc, 3, ())
        student = student_id(2)
        assert svc.assign(student, EDU_LESSON)[0] == 200
        arn = execution_arn(svc, student, EDU_LESSON)
        assert wait_for_end(arn) == "SUCCEEDED"
        result["edulastic_expired"] = {"measured": True, **counts(arn)}

    a, b = result["edulastic_a"], result["edulastic_b"]
    extra_polls = b["polls"] - a["polls"]
    per_poll_transitions = (b["state_transitions"] - a["state_transitions"]) / extra_polls
    per_poll_lambdas = (b["lambda_invocations"] - a["lambda_invocations"]) / extra_polls
    fixed_transitions = a["state_transitions"] - per_poll_transitions * a["polls"]
    fixed_lambdas = a["lambda_invocations"] - per_poll_lambdas * a["polls"]
    finished_after = 45 * 60

    def derive(polls: int, schedule: str) -> dict[str, Any]:
        return {
            "measured": False,
            "schedule": schedule,
            "polls": polls,
            "state_transitions": int(fixed_transitions + per_poll_transitions * polls),
            "lambda_invocations": int(fixed_lambdas + per_poll_lambdas * polls),
        }

    result["per_poll_iteration"] = {
        "measured": True,
        "state_transitions": per_poll_transitions,
        "lambda_invocations": per_poll_lambdas,
        "fixed_state_transitions": fixed_transitions,
        "fixed_lambda_invocations": fixed_lambdas,
        "how": "difference of the two measured Edulastic runs divided by their difference in polls",
    }
    result["edulastic_45min_backoff"] = derive(
        polls_for(finished_after, DEFAULT_WAITS), "default backoff 60,120,300,600,1800,3600 s"
    )
    result["edulastic_45min_fixed_30s"] = derive(polls_for(finished_after, [30]), "naive fixed 30 s poll")
    return result
