"""The local OAuth2 issuer/verifier behaves like Cognito client credentials + the HTTP API JWT authorizer."""

from __future__ import annotations

import base64
from typing import Any

import jwt
import pytest
from werkzeug.test import Client

from local.auth import CLOCK_SKEW_SECONDS, Forbidden, InvalidClient, InvalidScope, Issuer, Unauthorized
from local.gateway import Gateway, Route
from tests.support import signing_key

POWERPATH = "exttests/powerpath"
WRITEBACK = "exttests/writeback"
ISSUER_URL = "http://127.0.0.1:3000"
AUDIENCE = "exttests-local-api"


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def issuer(clock: FakeClock) -> Issuer:
    return Issuer(
        {"app": ("app-secret", [POWERPATH, WRITEBACK]), "writer": ("writer-secret", [WRITEBACK])},
        issuer_url=ISSUER_URL,
        audience=AUDIENCE,
        ttl=600,
        clock=clock,
        key=signing_key(),
    )


def _bearer(token: dict[str, Any]) -> str:
    return f"Bearer {token['access_token']}"


def test_token_has_cognito_like_claims(issuer: Issuer, clock: FakeClock) -> None:
    token = issuer.token("app", "app-secret", None)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 600
    claims = issuer.verify(_bearer(token), [POWERPATH])
    assert claims["iss"] == ISSUER_URL
    assert claims["sub"] == claims["client_id"] == "app"
    assert claims["aud"] == AUDIENCE
    assert claims["token_use"] == "access"
    assert claims["scope"].split() == [POWERPATH, WRITEBACK]
    assert claims["exp"] == int(clock.now) + 600
    assert claims["iat"] == int(clock.now)


def test_requested_scope_narrows_the_token(issuer: Issuer) -> None:
    token = issuer.token("app", "app-secret", WRITEBACK)
    assert issuer.verify(_bearer(token), [WRITEBACK])["scope"] == WRITEBACK
    with pytest.raises(Forbidden):
        issuer.verify(_bearer(token), [POWERPATH])
    with pytest.raises(InvalidScope):
        issuer.token("writer", "writer-secret", POWERPATH)


def test_bad_client_is_invalid_client(issuer: Issuer) -> None:
    with pytest.raises(InvalidClient):
        issuer.token("app", "wrong", None)
    with pytest.raises(InvalidClient):
        issuer.token("nobody", "app-secret", None)


def test_missing_scope_is_forbidden(issuer: Issuer) -> None:
    token = issuer.token("writer", "writer-secret", None)
    with pytest.raises(Forbidden):
        issuer.verify(_bearer(token), [POWERPATH])
    # any one of the route's scopes is enough, as with the JWT authorizer
    assert issuer.verify(_bearer(token), [POWERPATH, WRITEBACK])["client_id"] == "writer"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer a.b", "Bearer x y z"])
def test_missing_or_malformed_header_is_unauthorized(issuer: Issuer, header: str | None) -> None:
    with pytest.raises(Unauthorized):
        issuer.verify(header, [POWERPATH])


def test_bare_token_is_accepted_like_api_gateway(issuer: Issuer) -> None:
    token = issuer.token("app", "app-secret", None)["access_token"]
    assert issuer.verify(token, [POWERPATH])["client_id"] == "app"


def test_expired_token_is_unauthorized(issuer: Issuer, clock: FakeClock) -> None:
    token = issuer.token("app", "app-secret", None)
    clock.now += 601
    with pytest.raises(Unauthorized, match="expired"):
        issuer.verify(_bearer(token), [POWERPATH])


def _signed(issuer: Issuer, clock: FakeClock, **claims: Any) -> str:
    """A token with the issuer's own key and claims, `claims` changed or added."""
    now = int(clock.now)
    payload = {
        "iss": ISSUER_URL,
        "aud": AUDIENCE,
        "client_id": "app",
        "scope": POWERPATH,
        "iat": now,
        "exp": now + 600,
        **claims,
    }
    return jwt.encode(payload, issuer._key, algorithm="RS256", headers={"kid": issuer.kid})


@pytest.mark.parametrize(("claim", "message"), [("nbf", "not valid yet"), ("iat", "issued in the future")])
def test_token_dated_in_the_future_is_unauthorized(
    issuer: Issuer, clock: FakeClock, claim: str, message: str
) -> None:
    future = _signed(issuer, clock, **{claim: int(clock.now) + CLOCK_SKEW_SECONDS + 1})
    with pytest.raises(Unauthorized, match=message):
        issuer.verify(f"Bearer {future}", [POWERPATH])
    # within the clock-skew leeway, and once the time has come, the same token is accepted
    clock.now += 1
    assert issuer.verify(f"Bearer {future}", [POWERPATH])["client_id"] == "app"


@pytest.mark.parametrize("claim", ["nbf", "iat", "exp"])
def test_time_claim_that_is_not_a_number_is_unauthorized(
    issuer: Issuer, clock: FakeClock, claim: str
) -> None:
    with pytest.raises(Unauthorized, match="not a number"):
        issuer.verify(f"Bearer {_signed(issuer, clock, **{claim: 'soon'})}", [POWERPATH])


def test_future_dated_tokens_are_401_before_any_handler_runs(
    issuer: Issuer, clock: FakeClock, tmp_path: Any
) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    raise AssertionError('ran')\n")
    client = Client(Gateway([Route("GET", "/p", tmp_path, "Fn", (POWERPATH,))], issuer))
    ahead = int(clock.now) + CLOCK_SKEW_SECONDS + 60
    for token in (_signed(issuer, clock, nbf=ahead), _signed(issuer, clock, iat=ahead)):
        answer = client.get("/p", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401
        body = answer.get_json()
        minor = body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"]
        assert minor == "unauthorisedrequest" and body["message"] == body["imsx_description"]


def test_token_signed_by_another_key_is_unauthorized(issuer: Issuer, clock: FakeClock) -> None:
    other = Issuer(
        {"app": ("app-secret", [POWERPATH])}, issuer_url=ISSUER_URL, audience=AUDIENCE, clock=clock
    )
    token = other.token("app", "app-secret", None)
    with pytest.raises(Unauthorized):
        issuer.verify(_bearer(token), [POWERPATH])


def test_tampered_and_unsigned_tokens_are_unauthorized(issuer: Issuer) -> None:
    token = issuer.token("app", "app-secret", None)["access_token"]
    header, payload, signature = token.split(".")
    forged_payload = (
        base64.urlsafe_b64encode(b'{"scope":"exttests/powerpath","iss":"x"}').rstrip(b"=").decode()
    )
    with pytest.raises(Unauthorized):
        issuer.verify(f"Bearer {header}.{forged_payload}.{signature}", [POWERPATH])
    unsigned = jwt.encode(
        {"iss": ISSUER_URL, "aud": AUDIENCE, "exp": 4_000_000_000, "iat": 1}, None, algorithm="none"
    )
    with pytest.raises(Unauthorized):
        issuer.verify(f"Bearer {unsigned}", [])


def test_wrong_audience_and_wrong_issuer_are_unauthorized(clock: FakeClock) -> None:
    clients = {"app": ("app-secret", [POWERPATH])}
    key = signing_key()
    minting = Issuer(clients, issuer_url=ISSUER_URL, audience="someone-else", clock=clock, key=key)
    token = minting.token("app", "app-secret", None)
    # same key, different expectations
    verifier = Issuer(clients, issuer_url=ISSUER_URL, audience=AUDIENCE, clock=clock, key=key)
    with pytest.raises(Unauthorized, match="audience"):
        verifier.verify(_bearer(token), [POWERPATH])
    other_iss = Issuer(
        clients, issuer_url="https://elsewhere.example.com", audience="someone-else", clock=clock, key=key
    )
    with pytest.raises(Unauthorized, match="issuer"):
        other_iss.verify(_bearer(token), [POWERPATH])


# --- the token endpoint over HTTP (werkzeug test client, no sockets) ----------------------------


@pytest.fixture
def client(issuer: Issuer) -> Client:
    return Client(Gateway([], issuer))


def test_token_endpoint_with_basic_auth(client: Client, issuer: Issuer) -> None:
    basic = base64.b64encode(b"app:app-secret").decode()
    response = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert issuer.verify(_bearer(body), [POWERPATH])["client_id"] == "app"


def test_token_endpoint_with_form_credentials_and_scope(client: Client, issuer: Issuer) -> None:
    response = client.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "app",
            "client_secret": "app-secret",
            "scope": WRITEBACK,
        },
    )
    assert response.status_code == 200
    assert issuer.verify(_bearer(response.get_json()), [WRITEBACK])["scope"] == WRITEBACK


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "client_credentials", "client_id": "app", "client_secret": "nope"}, "invalid_client"),
        (
            {"grant_type": "client_credentials", "client_id": "ghost", "client_secret": "app-secret"},
            "invalid_client",
        ),
        ({"grant_type": "client_credentials"}, "invalid_client"),
        (
            {"grant_type": "password", "client_id": "app", "client_secret": "app-secret"},
            "unsupported_grant_type",
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": "writer",
                "client_secret": "writer-secret",
                "scope": POWERPATH,
            },
            "invalid_scope",
        ),
    ],
)
def test_token_endpoint_errors(client: Client, form: dict[str, str], error: str) -> None:
    response = client.post("/oauth2/token", data=form)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_json() == {"error": error}
