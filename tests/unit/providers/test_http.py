from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
import requests
import responses
from requests import exceptions as rexc
from urllib3 import exceptions as u3exc

from exttests.errors import CircuitOpen, ProviderRejected, ProviderUnavailable
from exttests.providers import http as core
from exttests.providers.http import HttpClient, HttpSettings, OutcomeUnknown, parse_retry_after

BASE = "https://provider.test/api"
NOW = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Sleeper:
    def __init__(self, clock: Clock) -> None:
        self.calls: list[float] = []
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.now += seconds


@pytest.fixture(autouse=True)
def _fresh_state():
    core.reset_state()
    yield
    core.reset_state()


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sleeper(clock: Clock) -> Sleeper:
    return Sleeper(clock)


def make_client(clock: Clock, sleeper: Sleeper, **settings: Any) -> HttpClient:
    return HttpClient(
        "prov",
        BASE,
        HttpSettings(**settings),
        sleep=sleeper,
        clock=clock,
        rand=lambda: 1.0,
        secrets=("s3cret-password",),
    )


def refused() -> rexc.ConnectionError:
    inner = u3exc.NewConnectionError(None, "Failed to establish a new connection: refused")  # type: ignore[arg-type]
    return rexc.ConnectionError(u3exc.MaxRetryError(None, BASE, inner))  # type: ignore[arg-type]


# --- retries ---------------------------------------------------------------------------


def test_retries_503_then_succeeds_with_jittered_backoff(rsps, clock, sleeper):
    rsps.add(responses.GET, f"{BASE}/thing", status=503)
    rsps.add(responses.GET, f"{BASE}/thing", status=503)
    rsps.add(responses.GET, f"{BASE}/thing", json={"ok": True})
    client = HttpClient("prov", BASE, sleep=sleeper, clock=clock, rand=lambda: 0.5)

    response = client.request("GET", "/thing")

    assert response.json() == {"ok": True}
    assert len(rsps.calls) == 3
    # full jitter: rand * min(cap, base * 2**(attempt-1)) with base 0.5
    assert sleeper.calls == [0.25, 0.5]


def test_backoff_is_capped(rsps, clock, sleeper):
    for _ in range(6):
        rsps.add(responses.GET, f"{BASE}/thing", status=502)
    client = make_client(clock, sleeper, max_attempts=6, backoff_base=1.0, backoff_cap=3.0)

    with pytest.raises(ProviderUnavailable) as info:
        client.request("GET", "/thing")

    assert sleeper.calls == [1.0, 2.0, 3.0, 3.0, 3.0]
    assert len(rsps.calls) == 6
    assert not isinstance(info.value, CircuitOpen)
    assert "502" in info.value.reason


def test_retry_after_seconds_is_honoured(rsps, clock, sleeper):
    rsps.add(responses.POST, f"{BASE}/thing", status=429, headers={"Retry-After": "7"})
    rsps.add(responses.POST, f"{BASE}/thing", json={})
    client = make_client(clock, sleeper)

    client.request("POST", "/thing", json={}, idempotent=False)

    assert sleeper.calls == [7.0]


def test_retry_after_http_date_is_honoured(rsps, clock, sleeper):
    when = format_datetime(datetime.fromtimestamp(NOW + 6, tz=UTC), usegmt=True)
    rsps.add(responses.GET, f"{BASE}/thing", status=503, headers={"Retry-After": when})
    rsps.add(responses.GET, f"{BASE}/thing", json={})
    client = make_client(clock, sleeper)

    client.request("GET", "/thing")

    assert sleeper.calls == [6.0]


def test_retry_after_is_capped(rsps, clock, sleeper):
    rsps.add(responses.GET, f"{BASE}/thing", status=429, headers={"Retry-After": "3600"})
    rsps.add(responses.GET, f"{BASE}/thing", json={})
    client = make_client(clock, sleeper, retry_after_cap=9.0)

    client.request("GET", "/thing")

    assert sleeper.calls == [9.0]


def test_429_after_all_attempts_is_unavailable(rsps, clock, sleeper):
    rsps.add(responses.GET, f"{BASE}/thing", status=429)
    client = make_client(clock, sleeper)

    with pytest.raises(ProviderUnavailable) as info:
        client.request("GET", "/thing")

    assert len(rsps.calls) == 4
    assert "rate limited" in info.value.reason


def test_500_is_not_retried(rsps, clock, sleeper):
    rsps.add(responses.GET, f"{BASE}/thing", status=500)
    client = make_client(clock, sleeper)

    with pytest.raises(ProviderUnavailable):
        client.request("GET", "/thing")

    assert len(rsps.calls) == 1
    assert sleeper.calls == []


def test_read_timeout_is_retried_when_idempotent(rsps, clock, sleeper):
    rsps.add(responses.GET, f"{BASE}/thing", body=rexc.ReadTimeout("slow"))
    rsps.add(responses.GET, f"{BASE}/thing", json={"ok": 1})
    client = make_client(clock, sleeper)

    assert client.request("GET", "/thing").json() == {"ok": 1}
    assert len(rsps.calls) == 2


def test_read_timeout_on_create_is_not_retried(rsps, clock, sleeper):
    rsps.add(responses.POST, f"{BASE}/create", body=rexc.ReadTimeout("slow"))
    rsps.add(responses.POST, f"{BASE}/create", json={})
    client = make_client(clock, sleeper)

    with pytest.raises(OutcomeUnknown) as info:
        client.request("POST", "/create", json={}, idempotent=False)

    assert isinstance(info.value, ProviderUnavailable)
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_error_on_create_is_outcome_unknown(rsps, clock, sleeper, status):
    rsps.add(responses.POST, f"{BASE}/create", status=status)
    client = make_client(clock, sleeper)

    with pytest.raises(OutcomeUnknown):
        client.request("POST", "/create", json={}, idempotent=False)

    assert len(rsps.calls) == 1


@pytest.mark.parametrize("error", [rexc.ConnectTimeout("connect"), refused()])
def test_unsent_create_is_retried(rsps, clock, sleeper, error):
    rsps.add(responses.POST, f"{BASE}/create", body=error)
    rsps.add(responses.POST, f"{BASE}/create", json={"id": 1})
    client = make_client(clock, sleeper)

    assert client.request("POST", "/create", json={}, idempotent=False).json() == {"id": 1}
    assert len(rsps.calls) == 2


def test_connection_dropped_after_sending_a_create_is_outcome_unknown(rsps, clock, sleeper):
    dropped = rexc.ConnectionError(u3exc.ProtocolError("Connection aborted.", ConnectionResetError()))
    rsps.add(responses.POST, f"{BASE}/create", body=dropped)
    client = make_client(clock, sleeper)

    with pytest.raises(OutcomeUnknown):
        client.request("POST", "/create", json={}, idempotent=False)
    assert len(rsps.calls) == 1


def test_connection_errors_exhausted_are_unavailable(rsps, clock, sleeper):
    rsps.add(responses.GET, f"{BASE}/thing", body=refused())
    client = make_client(clock, sleeper, max_attempts=3)

    with pytest.raises(ProviderUnavailable) as info:
        client.request("GET", "/thing")

    assert len(rsps.calls) == 3
    assert "ConnectionError" in info.value.reason


def test_every_call_carries_connect_and_read_timeouts(clock, sleeper):
    seen: list[dict[str, Any]] = []

    class RecordingSession(requests.Session):
        def request(self, method, url, **kwargs):  # type: ignore[override]
            seen.append(kwargs)
            raise rexc.ConnectTimeout("nope")

    client = HttpClient(
        "prov",
        BASE,
        HttpSettings(connect_timeout=1.5, read_timeout=7.0, max_attempts=2),
        session=RecordingSession(),
        sleep=sleeper,
        clock=clock,
    )
    with pytest.raises(ProviderUnavailable):
        client.request("GET", "/thing")
    assert [kw["timeout"] for kw in seen] == [(1.5, 7.0), (1.5, 7.0)]


def test_default_settings():
    settings = HttpSettings()
    assert (settings.connect_timeout, settings.read_timeout) == (3.05, 10.0)
    assert settings.max_attempts == 4
    assert settings.breaker_failure_threshold == 5
    assert settings.breaker_cooldown == 30.0


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
    other = HttpClient("other", BASE, HttpSettings(), sleep=sleeper, clock=clock)
    assert other.request("GET", "/up").status_code == 200


# --- misc ------------------------------------------------------------------------------


def test_parse_retry_after():
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("", NOW) is None
    assert parse_retry_after("12", NOW) == 12.0
    assert parse_retry_after("garbage", NOW) is None
    past = format_datetime(datetime.fromtimestamp(NOW - 60, tz=UTC), usegmt=True)
    assert parse_retry_after(past, NOW) == 0.0


def test_logs_only_method_path_status_and_time(rsps, clock, sleeper, caplog):
    caplog.set_level(logging.DEBUG)
    rsps.add(responses.GET, f"{BASE}/thing", json={})
    client = make_client(clock, sleeper)
    client.request("GET", "/thing", params={"email": "kid@example.com"}, headers={"Authorization": "tok"})

    records = [r for r in caplog.records if r.name == "exttests.providers"]
    assert records
    text = " ".join(r.getMessage() for r in records)
    assert "GET /thing" in text and "200" in text
    assert "kid@example.com" not in text
    assert "tok" not in text.replace("/thing", "")


def test_malformed_json_is_unavailable(rsps, clock, sleeper):
    rsps.add(responses.GET, f"{BASE}/thing", body="not json", content_type="application/json")
    client = make_client(clock, sleeper)
    response = client.request("GET", "/thing")
    with pytest.raises(ProviderUnavailable) as info:
        core.parse_json("prov", response)
    assert "malformed" in info.value.reason
