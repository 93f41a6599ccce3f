from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
import responses
from requests import exceptions as rexc

from exttests import budget
from exttests.errors import (
    CircuitOpen,
    ConfigError,
    ProviderDeadlineExceeded,
    ProviderRejected,
    ProviderUnavailable,
)
from exttests.providers import http as core
from exttests.providers.answers import parse_json, parse_retry_after
from exttests.providers.attempts import LogicalCall
from exttests.providers.http import (
    HttpClient,
    HttpSettings,
    OutcomeUnknown,
    Timing,
    create_or_find,
    create_outcome_unknown,
)
from exttests.providers.observer import set_observer
from tests.unit.providers.http_doubles import (
    NOW,
    Clock,
    RecordingObserver,
    ScriptedServer,
    Sleeper,
    Step,
    closed_port_url,
)

BASE = "https://provider.test/api"


def make_client(
    clock: Clock, sleeper: Sleeper, base: str = BASE, rand: float = 1.0, **settings: Any
) -> HttpClient:
    return HttpClient(
        "prov",
        base,
        HttpSettings(**settings),
        Timing(sleep=sleeper, clock=clock, rand=lambda: rand),
        secrets=("s3cret-password",),
    )


def api(server: ScriptedServer) -> str:
    return f"{server.url}/api"


# --- retries (urllib3's Retry, over a real local server) --------------------------------


def test_a_503_is_retried_with_full_jitter_backoff(server, clock, sleeper):
    server.script("GET", "/api/thing", Step(503), Step(503), Step(200, {"ok": True}))
    client = make_client(clock, sleeper, api(server), rand=0.5)

    response = client.request("GET", "/thing")

    assert response.json() == {"ok": True}
    assert server.count("GET", "/api/thing") == 3
    # full jitter: rand * min(cap, base * 2**(attempt-1)) with base 0.5
    assert sleeper.calls == [0.25, 0.5]


def test_backoff_is_capped(server, clock, sleeper):
    server.script("GET", "/api/thing", Step(502))
    client = make_client(clock, sleeper, api(server), max_attempts=6, backoff_base=1.0, backoff_cap=3.0)

    with pytest.raises(ProviderUnavailable) as info:
        client.request("GET", "/thing")

    assert sleeper.calls == [1.0, 2.0, 3.0, 3.0, 3.0]
    assert server.count("GET", "/api/thing") == 6
    assert not isinstance(info.value, CircuitOpen)
    assert info.value.reason == "HTTP 502 after 6 attempts"


def test_retry_after_seconds_is_honoured_even_for_a_create(server, clock, sleeper):
    server.script("POST", "/api/thing", Step(429, headers={"Retry-After": "7"}), Step(201))
    client = make_client(clock, sleeper, api(server))

    client.request("POST", "/thing", json={}, idempotent=False)

    assert sleeper.calls == [7.0]
    assert server.count("POST", "/api/thing") == 2


def test_retry_after_http_date_is_honoured(server, clock, sleeper):
    when = format_datetime(datetime.fromtimestamp(NOW + 6, tz=UTC), usegmt=True)
    server.script("GET", "/api/thing", Step(503, headers={"Retry-After": when}), Step(200))
    client = make_client(clock, sleeper, api(server))

    client.request("GET", "/thing")

    assert sleeper.calls == [6.0]


def test_retry_after_is_capped(server, clock, sleeper):
    server.script("GET", "/api/thing", Step(429, headers={"Retry-After": "3600"}), Step(200))
    client = make_client(clock, sleeper, api(server), retry_after_cap=9.0)

    client.request("GET", "/thing")

    assert sleeper.calls == [9.0]


def test_429_after_all_attempts_is_unavailable(server, clock, sleeper):
    server.script("GET", "/api/thing", Step(429))
    client = make_client(clock, sleeper, api(server))

    with pytest.raises(ProviderUnavailable) as info:
        client.request("GET", "/thing")

    assert server.count("GET", "/api/thing") == 4
    assert info.value.reason == "rate limited (HTTP 429) after 4 attempts"


def test_a_500_is_not_retried(server, clock, sleeper):
    server.script("GET", "/api/thing", Step(500))
    client = make_client(clock, sleeper, api(server))

    with pytest.raises(ProviderUnavailable) as info:
        client.request("GET", "/thing")

    assert server.count("GET", "/api/thing") == 1
    assert sleeper.calls == []
    assert info.value.reason == "HTTP 500"


def test_a_read_timeout_is_retried_when_idempotent(server, clock, sleeper):
    server.script("GET", "/api/thing", Step(200, delay=1.0), Step(200, {"ok": 1}))
    client = make_client(clock, sleeper, api(server), read_timeout=0.2)

    assert client.request("GET", "/thing").json() == {"ok": 1}
    assert server.count("GET", "/api/thing") == 2


def test_read_timeouts_that_outlast_the_retries_are_unavailable(server, clock, sleeper):
    server.script("GET", "/api/thing", Step(200, delay=1.0))
    client = make_client(clock, sleeper, api(server), read_timeout=0.1, max_attempts=2)

    with pytest.raises(ProviderUnavailable) as info:
        client.request("GET", "/thing")

    assert server.count("GET", "/api/thing") == 2
    assert info.value.reason == "timed out after 2 attempts"


def test_a_read_timeout_on_a_create_is_outcome_unknown_and_not_repeated(server, clock, sleeper):
    server.script("POST", "/api/create", Step(201, delay=1.0))
    client = make_client(clock, sleeper, api(server), read_timeout=0.2)

    with pytest.raises(OutcomeUnknown) as info:
        client.request("POST", "/create", json={}, idempotent=False)

    assert isinstance(info.value, ProviderUnavailable)
    assert info.value.reason == "timed out; the outcome is unknown"
    assert server.count("POST", "/api/create") == 1


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_error_on_a_create_is_outcome_unknown(server, clock, sleeper, status):
    server.script("POST", "/api/create", Step(status))
    client = make_client(clock, sleeper, api(server))

    with pytest.raises(OutcomeUnknown):
        client.request("POST", "/create", json={}, idempotent=False)

    assert server.count("POST", "/api/create") == 1


@pytest.mark.parametrize("status", [429, 503])
def test_a_create_is_repeated_when_the_provider_surely_did_not_act(server, clock, sleeper, status):
    server.script("POST", "/api/create", Step(status), Step(201, {"id": 1}))
    client = make_client(clock, sleeper, api(server))

    assert client.request("POST", "/create", json={}, idempotent=False).json() == {"id": 1}
    assert server.count("POST", "/api/create") == 2


def test_a_connection_dropped_after_sending_a_create_is_outcome_unknown(server, clock, sleeper):
    server.script("POST", "/api/create", Step(drop=True))
    client = make_client(clock, sleeper, api(server))

    with pytest.raises(OutcomeUnknown) as info:
        client.request("POST", "/create", json={}, idempotent=False)

    assert server.count("POST", "/api/create") == 1
    assert info.value.reason == "connection lost; the outcome is unknown"


def test_a_dropped_connection_is_retried_when_idempotent(server, clock, sleeper):
    server.script("GET", "/api/thing", Step(drop=True), Step(200, {"ok": 1}))
    client = make_client(clock, sleeper, api(server))

    assert client.request("GET", "/thing").json() == {"ok": 1}
    assert server.count("GET", "/api/thing") == 2


def test_a_refused_connection_is_retried_even_for_a_create(clock, sleeper):
    client = make_client(clock, sleeper, closed_port_url(), max_attempts=3)

    with pytest.raises(ProviderUnavailable) as info:
        client.request("POST", "/create", json={}, idempotent=False)

    # never reached the provider, so it is not "outcome unknown": retried, then unavailable
    assert not isinstance(info.value, OutcomeUnknown)
    assert len(sleeper.calls) == 2
    assert info.value.reason == "could not connect after 3 attempts"


def test_a_connect_timeout_on_a_create_is_not_outcome_unknown(rsps, clock, sleeper):
    rsps.add(responses.POST, f"{BASE}/create", body=rexc.ConnectTimeout("connect"))
    client = make_client(clock, sleeper, max_attempts=1)

    with pytest.raises(ProviderUnavailable) as info:
        client.request("POST", "/create", json={}, idempotent=False)

    assert not isinstance(info.value, OutcomeUnknown)
    assert info.value.reason == "timed out connecting after 1 attempt"


def test_default_settings():
    settings = HttpSettings()
    assert (settings.connect_timeout, settings.read_timeout) == (3.05, 10.0)
    assert (settings.max_attempts, settings.backoff_base, settings.backoff_cap) == (4, 0.5, 4.0)
    assert settings.retry_after_cap == 10.0
    assert (settings.breaker_failure_threshold, settings.breaker_cooldown) == (5, 30.0)


# --- the time budget -------------------------------------------------------------------


def logical_call(**settings: Any) -> LogicalCall:
    return LogicalCall("prov", "GET", "/thing", True, HttpSettings(**settings), Timing(), lambda *args: None)


def test_every_attempt_carries_the_configured_timeouts_outside_a_budget():
    timeout = logical_call(connect_timeout=1.5, read_timeout=7.0).attempt_timeout()
    assert (timeout.connect_timeout, timeout.read_timeout, timeout.total) == (1.5, 7.0, None)


def test_every_attempt_timeout_is_bounded_by_the_budget():
    with budget.budget(2.0):
        timeout = logical_call(connect_timeout=3.05, read_timeout=10.0).attempt_timeout()
    assert timeout.total is not None and 1.5 < timeout.total <= 2.0
    assert timeout.connect_timeout is not None and timeout.connect_timeout <= 2.0
    assert timeout.read_timeout is not None and timeout.read_timeout <= 2.0


def test_a_hanging_provider_ends_in_a_deadline_within_the_budget(server, clock, sleeper):
    server.script("GET", "/api/hang", Step(200, delay=60))
    client = make_client(clock, sleeper, api(server))
    started = time.monotonic()

    with budget.budget(1.5), pytest.raises(ProviderDeadlineExceeded) as info:
        client.request("GET", "/hang")

    # The configured read timeout (10 s) would have let it hang far longer.
    assert time.monotonic() - started < 8
    assert server.count("GET", "/api/hang") == 1
    assert sleeper.calls == []
    assert info.value.provider == "prov"


def test_a_provider_slower_than_the_budget_gets_one_attempt(server, clock, sleeper):
    server.script("GET", "/api/slow", Step(200, delay=9))
    client = make_client(clock, sleeper, api(server))

    with budget.budget(1.5), pytest.raises(ProviderDeadlineExceeded):
        client.request("GET", "/slow")

    assert server.count("GET", "/api/slow") == 1


def test_no_attempt_starts_when_the_budget_is_spent(server, clock, sleeper):
    observer = RecordingObserver()
    set_observer(observer)
    server.script("GET", "/api/thing", Step(200))
    client = make_client(clock, sleeper, api(server))

    with budget.budget(0.1), pytest.raises(ProviderDeadlineExceeded):
        client.request("GET", "/thing")

    assert server.received == []
    assert observer.failed == ["prov"]


def test_no_wait_starts_when_the_budget_cannot_cover_it(server, clock, sleeper):
    server.script("GET", "/api/thing", Step(503, headers={"Retry-After": "5"}), Step(200))
    client = make_client(clock, sleeper, api(server))

    with budget.budget(2.0), pytest.raises(ProviderDeadlineExceeded):
        client.request("GET", "/thing")

    assert sleeper.calls == []
    assert server.count("GET", "/api/thing") == 1


def test_a_deadline_does_not_count_against_the_provider(server, clock, sleeper):
    server.script("GET", "/api/thing", Step(503, headers={"Retry-After": "5"}))
    client = make_client(clock, sleeper, api(server), breaker_failure_threshold=1)

    with budget.budget(1.0), pytest.raises(ProviderDeadlineExceeded):
        client.request("GET", "/thing")

    assert client.breaker.state == "closed"


def test_outside_a_budget_waits_are_not_bounded(server, clock, sleeper):
    server.script("GET", "/api/thing", Step(503, headers={"Retry-After": "5"}), Step(200))
    client = make_client(clock, sleeper, api(server))

    assert client.request("GET", "/thing").status_code == 200
    assert sleeper.calls == [5.0]


def test_a_create_cut_short_by_the_budget_has_an_unknown_outcome_only_while_time_remains():
    deadline = ProviderDeadlineExceeded("prov")
    assert create_outcome_unknown(OutcomeUnknown("prov", "timed out"))
    assert create_outcome_unknown(deadline)  # outside a budget there is always time
    with budget.budget(5.0):
        assert create_outcome_unknown(deadline)
    with budget.budget(0.0):
        assert not create_outcome_unknown(deadline)
        assert create_outcome_unknown(OutcomeUnknown("prov", "timed out"))
    assert not create_outcome_unknown(ProviderUnavailable("prov", "HTTP 500"))


def test_create_or_find_looks_up_instead_of_repeating():
    made: list[str] = []

    def create() -> str:
        made.append("create")
        raise OutcomeUnknown("prov", "timed out")

    assert create_or_find(create, lambda: "found") == "found"
    assert made == ["create"]


def test_create_or_find_creates_once_more_when_nothing_was_made():
    answers: list[Any] = [OutcomeUnknown("prov", "timed out"), "created"]

    def create() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    assert create_or_find(create, lambda: None) == "created"


def test_create_or_find_gives_up_after_two_unknown_outcomes():
    calls: list[int] = []

    def create() -> str:
        calls.append(1)
        raise OutcomeUnknown("prov", "timed out")

    with pytest.raises(OutcomeUnknown):
        create_or_find(create, lambda: None)
    assert len(calls) == 2


def test_create_or_find_lets_other_failures_through():
    def create() -> str:
        raise ProviderUnavailable("prov", "HTTP 500")

    def find() -> str:
        raise AssertionError("no lookup after a failure that says nothing was made")

    with pytest.raises(ProviderUnavailable):
        create_or_find(create, find)


# --- 4xx -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"error": "bad thing"}, "bad thing"),
        ({"message": "nope"}, "nope"),
        ({"code": "TEST_NOT_FOUND", "error": "Test not found"}, "TEST_NOT_FOUND: Test not found"),
        ({"result": {"message": "wrapped"}}, "wrapped"),
        ({"error": {"code": "E1", "message": "nested"}}, "E1: nested"),
        ({"code": "ONLY_CODE"}, "ONLY_CODE"),
        ({"statusCode": 400, "error": "Bad Request", "message": "class is full"}, "class is full"),
        ({"unrelated": 1}, "HTTP 400"),
    ],
)
def test_4xx_is_rejected_with_the_providers_reason(rsps, clock, sleeper, body, reason):
    rsps.add(responses.POST, f"{BASE}/thing", status=400, json=body)
    client = make_client(clock, sleeper)

    with pytest.raises(ProviderRejected) as info:
        client.request("POST", "/thing", json={})

    assert info.value.reason == reason
    assert info.value.provider_status == 400
    assert info.value.provider == "prov"
    assert len(rsps.calls) == 1


def test_non_json_4xx_gets_a_generic_reason(rsps, clock, sleeper):
    rsps.add(responses.GET, f"{BASE}/thing", status=404, body="<html>Not here</html>")
    client = make_client(clock, sleeper)

    with pytest.raises(ProviderRejected) as info:
        client.request("GET", "/thing")
    assert info.value.reason == "HTTP 404"


def test_rejection_reason_blanks_secrets(rsps, clock, sleeper):
    rsps.add(responses.POST, f"{BASE}/thing", status=400, json={"message": "bad s3cret-password / kid-pw"})
    client = make_client(clock, sleeper)

    with pytest.raises(ProviderRejected) as info:
        client.request("POST", "/thing", json={}, sensitive=("kid-pw",))
    assert "s3cret-password" not in str(info.value)
    assert "kid-pw" not in str(info.value)


@pytest.mark.parametrize("status", [401, 409])
def test_passthrough_statuses_are_returned(rsps, clock, sleeper, status):
    rsps.add(responses.POST, f"{BASE}/thing", status=status, json={})
    client = make_client(clock, sleeper)

    assert client.request("POST", "/thing", passthrough=(401, 409)).status_code == status


# --- messages never name a path ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"status": 503}, "HTTP 503 after 4 attempts"),
        ({"status": 500}, "HTTP 500"),
        (
            {"body": rexc.ConnectionError("Connection aborted /students/s-42")},
            "connection lost after 1 attempt",
        ),
        ({"body": rexc.ReadTimeout("read timed out on /students/s-42")}, "timed out after 1 attempt"),
    ],
)
def test_unavailable_reasons_say_what_happened_without_the_path(rsps, clock, sleeper, kwargs, reason):
    rsps.add(responses.GET, f"{BASE}/students/s-42/scores", **kwargs)
    client = make_client(clock, sleeper)

    with pytest.raises(ProviderUnavailable) as info:
        client.request("GET", "/students/{id}/scores", ids=("s-42",))

    assert info.value.reason == reason
    for text in (str(info.value), repr(info.value.args)):
        assert "/students" not in text and "s-42" not in text and "provider.test" not in text


def test_malformed_json_is_unavailable_without_the_path(rsps, clock, sleeper):
    rsps.add(responses.GET, f"{BASE}/thing", body="not json", content_type="application/json")
    client = make_client(clock, sleeper)
    response = client.request("GET", "/thing")

    with pytest.raises(ProviderUnavailable) as info:
        parse_json("prov", response)

    assert info.value.reason == "malformed answer: not JSON"


# --- redirects and URLs ----------------------------------------------------------------


def test_a_redirect_is_never_followed_and_counts_as_a_failure(rsps, clock, sleeper):
    rsps.add(
        responses.GET,
        f"{BASE}/thing",
        status=307,
        headers={"Location": "https://elsewhere.test/steal"},
    )
    elsewhere = rsps.add(responses.GET, "https://elsewhere.test/steal", json={})
    client = make_client(clock, sleeper, breaker_failure_threshold=1)

    with pytest.raises(ProviderUnavailable) as info:
        client.request("GET", "/thing", headers={"Authorization": "tok"})

    assert elsewhere.call_count == 0
    assert info.value.reason == "unexpected redirect (HTTP 307)"
    assert client.breaker.state == "open"


def test_a_redirect_on_the_real_stack_is_not_followed(server, clock, sleeper):
    server.script("GET", "/api/thing", Step(302, headers={"Location": f"{server.url}/other"}))
    server.script("GET", "/other", Step(200))
    client = make_client(clock, sleeper, api(server))

    with pytest.raises(ProviderUnavailable):
        client.request("GET", "/thing")

    assert server.count("GET", "/other") == 0


def test_a_request_outside_the_configured_base_is_refused_before_sending(rsps, clock, sleeper):
    evil = rsps.add(responses.GET, "https://evil.test/x", json={})
    client = make_client(clock, sleeper, base="https://provider.test")

    with pytest.raises(ProviderUnavailable) as info:
        client.request("GET", "@evil.test/x")

    assert info.value.reason == "refused to send a request outside the configured base"
    assert evil.call_count == 0
    assert len(rsps.calls) == 0


def test_ids_are_percent_encoded_as_single_segments(rsps, clock, sleeper):
    rsps.add(responses.GET, f"{BASE}/items/a%2Fb/c%20d%3Fe%40f", json={})
    client = make_client(clock, sleeper)

    client.request("GET", "/items/{id}/{id}", ids=("a/b", "c d?e@f"))

    assert rsps.calls[0].request.path_url == "/api/items/a%2Fb/c%20d%3Fe%40f"


@pytest.mark.parametrize("bad", ["", ".", ".."])
def test_an_id_that_cannot_be_a_segment_is_rejected_before_sending(rsps, clock, sleeper, bad):
    client = make_client(clock, sleeper)

    with pytest.raises(ProviderRejected):
        client.request("GET", "/items/{id}", ids=(bad,))
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("base", ["", "provider.test/api", "ftp://provider.test", "https://"])
def test_the_base_url_must_be_an_absolute_http_url(base):
    with pytest.raises(ConfigError):
        HttpClient("prov", base)


# --- circuit breaker -------------------------------------------------------------------


def failing_client(rsps, clock, sleeper, **settings: Any) -> HttpClient:
    rsps.add(responses.GET, f"{BASE}/down", status=500)
    rsps.add(responses.GET, f"{BASE}/up", json={"ok": True})
    rsps.add(responses.GET, f"{BASE}/bad", status=400, json={"error": "no"})
    return make_client(clock, sleeper, **settings)


def test_breaker_opens_after_n_failures_and_fails_fast(rsps, clock, sleeper):
    client = failing_client(rsps, clock, sleeper)
    for _ in range(5):
        with pytest.raises(ProviderUnavailable):
            client.request("GET", "/down")
    assert client.breaker.state == "open"
    calls_before = len(rsps.calls)

    clock.now += 10
    with pytest.raises(CircuitOpen) as info:
        client.request("GET", "/up")

    assert len(rsps.calls) == calls_before
    assert info.value.retry_after == 20
    assert info.value.provider == "prov"


def test_breaker_counts_a_call_not_each_attempt(rsps, clock, sleeper):
    rsps.add(responses.GET, f"{BASE}/flaky", status=503)
    client = make_client(clock, sleeper)
    for _ in range(4):
        with pytest.raises(ProviderUnavailable):
            client.request("GET", "/flaky")
    assert client.breaker.state == "closed"
    assert len(rsps.calls) == 16


def test_retry_after_of_open_circuit_is_at_least_one_second(rsps, clock, sleeper):
    client = failing_client(rsps, clock, sleeper, breaker_failure_threshold=1)
    with pytest.raises(ProviderUnavailable):
        client.request("GET", "/down")
    clock.now += 29.9
    with pytest.raises(CircuitOpen) as info:
        client.request("GET", "/up")
    assert info.value.retry_after == 1


def test_breaker_half_opens_after_cooldown_then_closes_on_success(rsps, clock, sleeper):
    client = failing_client(rsps, clock, sleeper, breaker_failure_threshold=2, breaker_cooldown=30)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            client.request("GET", "/down")
    assert client.breaker.state == "open"

    clock.now += 30
    assert client.request("GET", "/up").json() == {"ok": True}
    assert client.breaker.state == "closed"
    assert client.breaker.failures == 0


def test_failed_trial_reopens_the_breaker(rsps, clock, sleeper):
    client = failing_client(rsps, clock, sleeper, breaker_failure_threshold=2, breaker_cooldown=30)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            client.request("GET", "/down")
    clock.now += 31
    with pytest.raises(ProviderUnavailable) as info:
        client.request("GET", "/down")
    assert not isinstance(info.value, CircuitOpen)
    assert client.breaker.state == "open"
    with pytest.raises(CircuitOpen) as again:
        client.request("GET", "/up")
    assert again.value.retry_after == 30


def test_4xx_does_not_count_as_a_failure(rsps, clock, sleeper):
    client = failing_client(rsps, clock, sleeper, breaker_failure_threshold=2)
    for _ in range(5):
        with pytest.raises(ProviderRejected):
            client.request("GET", "/bad")
    assert client.breaker.state == "closed"
    with pytest.raises(ProviderUnavailable):
        client.request("GET", "/down")
    with pytest.raises(ProviderRejected):
        client.request("GET", "/bad")
    with pytest.raises(ProviderUnavailable):
        client.request("GET", "/down")
    # the 4xx in between proved the provider alive, so the count restarted
    assert client.breaker.state == "closed"


def test_breaker_survives_across_clients_until_reset(rsps, clock, sleeper):
    client = failing_client(rsps, clock, sleeper, breaker_failure_threshold=1)
    with pytest.raises(ProviderUnavailable):
        client.request("GET", "/down")

    other = make_client(clock, sleeper, breaker_failure_threshold=1)
    with pytest.raises(CircuitOpen):
        other.request("GET", "/up")

    core.reset_breakers()
    fresh = make_client(clock, sleeper, breaker_failure_threshold=1)
    assert fresh.request("GET", "/up").status_code == 200


def test_breakers_are_per_provider(rsps, clock, sleeper):
    client = failing_client(rsps, clock, sleeper, breaker_failure_threshold=1)
    with pytest.raises(ProviderUnavailable):
        client.request("GET", "/down")
    other = HttpClient("other", BASE, HttpSettings(), Timing(sleep=sleeper, clock=clock))
    assert other.request("GET", "/up").status_code == 200


# --- observer and log ------------------------------------------------------------------


def test_the_observer_sees_every_attempt_by_path_template(server, clock, sleeper):
    observer = RecordingObserver()
    set_observer(observer)
    server.script("GET", "/api/students/kid%40school.test/scores", Step(503), Step(200))
    client = make_client(clock, sleeper, api(server))

    client.request("GET", "/students/{id}/scores", ids=("kid@school.test",))

    assert observer.calls == [
        ("prov", "GET", "/students/{id}/scores", 503),
        ("prov", "GET", "/students/{id}/scores", 200),
    ]
    assert observer.failed == [] and observer.opened == []


def test_the_observer_sees_network_errors_by_kind(server, clock, sleeper):
    observer = RecordingObserver()
    set_observer(observer)
    server.script("POST", "/api/create", Step(drop=True))
    client = make_client(clock, sleeper, api(server))

    with pytest.raises(OutcomeUnknown):
        client.request("POST", "/create", idempotent=False)

    assert observer.calls == [("prov", "POST", "/create", "dropped")]
    assert observer.failed == ["prov"]


def test_the_observer_hears_of_failed_calls_and_opened_circuits(rsps, clock, sleeper):
    observer = RecordingObserver()
    set_observer(observer)
    client = failing_client(rsps, clock, sleeper, breaker_failure_threshold=2)

    with pytest.raises(ProviderRejected):
        client.request("GET", "/bad")
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            client.request("GET", "/down")

    assert observer.failed == ["prov", "prov"]
    assert observer.opened == ["prov"]


def test_a_failing_observer_does_not_fail_the_call(rsps, clock, sleeper):
    class Broken(RecordingObserver):
        def call(self, *args: Any) -> None:
            raise RuntimeError("metrics are down")

    set_observer(Broken())
    rsps.add(responses.GET, f"{BASE}/thing", json={"ok": True})

    assert make_client(clock, sleeper).request("GET", "/thing").json() == {"ok": True}


def test_the_log_has_method_template_status_and_time_but_no_ids_or_secrets(rsps, clock, sleeper, log):
    rsps.add(responses.GET, f"{BASE}/students/kid%40example.com", json={})
    client = make_client(clock, sleeper)

    client.request(
        "GET",
        "/students/{id}",
        ids=("kid@example.com",),
        params={"email": "kid@example.com"},
        headers={"Authorization": "tok-XYZ"},
    )

    texts = log.texts()
    assert any("prov GET /students/{id} -> 200" in text for text in texts)
    record = log.records[0]
    assert (record.path_template, record.outcome, record.attempt) == ("/students/{id}", 200, 1)  # type: ignore[attr-defined]
    for text in texts:
        assert "kid@example.com" not in text and "kid%40example.com" not in text
        assert "tok-XYZ" not in text and "s3cret-password" not in text


def test_parse_retry_after():
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("", NOW) is None
    assert parse_retry_after("12", NOW) == 12.0
    assert parse_retry_after("garbage", NOW) is None
    past = format_datetime(datetime.fromtimestamp(NOW - 60, tz=UTC), usegmt=True)
    assert parse_retry_after(past, NOW) == 0.0
