"""Every route of template.yaml behind the local JWT authorizer: an expired token, a wrong
signature, a wrong audience and a missing scope are refused before any handler runs."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import Client

from local import cfn_yaml
from local.auth import Issuer
from local.gateway import Gateway, routes_from_template
from tests.support import ROOT, signing_key

POWERPATH, WRITEBACK = "exttests/powerpath", "exttests/writeback"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def routes() -> list[Any]:
    return routes_from_template(cfn_yaml.load(ROOT / "template.yaml"), ROOT)


def issuer(clock: Clock, audience: str = "exttests", own_key: bool = False) -> Issuer:
    """An issuer signing with the tests' key, or with a new key of its own."""
    return Issuer(
        {
            "all": ("s3cret", (POWERPATH, WRITEBACK)),
            "pp": ("s3cret", (POWERPATH,)),
            "wb": ("s3cret", (WRITEBACK,)),
        },
        "http://127.0.0.1/issuer",
        audience,
        ttl=60,
        clock=clock,
        key=None if own_key else signing_key(),
    )


def request(client: Client, route: Any, token: str) -> Any:
    path = route.path.replace("{sourcedId}", "ear-x")
    return client.open(
        path,
        method=route.method,
        headers={"Authorization": f"Bearer {token}"},
        json={"student": "s", "lesson": "l"} if route.method in ("POST", "PUT") else None,
    )


def test_every_route_is_declared_with_a_scope(routes: list[Any]) -> None:
    assert {(r.method, r.path) for r in routes} == {
        ("POST", "/powerpath/makeExternalTestAssignment"),
        ("GET", "/powerpath/importExternalTestAssignmentResults"),
        ("GET", "/powerpath/getAssessmentProgress"),
        ("PUT", "/ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId}"),
        ("GET", "/ims/oneroster/gradebook/v1p2/assessmentResults/{sourcedId}"),
    }
    for route in routes:
        assert list(route.scopes) == ([WRITEBACK] if "assessmentResults" in route.path else [POWERPATH])


@pytest.mark.parametrize("case", ["expired", "wrong-signature", "wrong-audience", "missing-scope"])
def test_bad_tokens_are_refused_on_every_route(
    routes: list[Any], case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    called: list[str] = []
    monkeypatch.setattr(
        "local.lambda_dispatch.load_handler", lambda *a, **k: lambda event, context: called.append("ran")
    )
    clock = Clock()
    real = issuer(clock)
    client = Client(Gateway(routes, real), use_cookies=False)
    for route in routes:
        if case == "expired":
            token = real.token("all", "s3cret", None)["access_token"]
            clock.now += 61
        elif case == "wrong-signature":
            token = issuer(clock, own_key=True).token("all", "s3cret", None)["access_token"]
        elif case == "wrong-audience":
            token = issuer(clock, audience="someone-else").token("all", "s3cret", None)["access_token"]
        else:
            other = "pp" if "assessmentResults" in route.path else "wb"
            token = real.token(other, "s3cret", None)["access_token"]
        answer = request(client, route, token)
        expected = 403 if case == "missing-scope" else 401
        assert answer.status_code == expected, (route.path, answer.get_data(as_text=True))
        body = answer.get_json()
        minor = "forbidden" if expected == 403 else "unauthorisedrequest"
        assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == minor
        assert body["message"] == body["imsx_description"]
    assert called == []  # no handler ran: nothing can have been written
