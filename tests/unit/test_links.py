"""Only links a browser may safely follow are stored or handed out: https, or http to the
configured providers that are served over http (the local simulators)."""

from __future__ import annotations

import pytest

from exttests.config import Settings
from exttests.domain.links import MAX_LENGTH, LinkPolicy, scheme_of

LOCAL = LinkPolicy(frozenset({"127.0.0.1", "localhost"}))

KEPT = [
    "https://app.edulastic.com/home/group/class-1/assignment/asg-1",
    "https://mt.example/take/1?student=ada&lang=en#question-3",
    "HTTPS://MT.EXAMPLE/take/1",
    "https://bücher.example/test",
    "https://mt.example:8443/take/1",
    "https://mt.example/" + "a" * (MAX_LENGTH - len("https://mt.example/")),
]

REFUSED = {
    "javascript": "javascript:alert(1)",
    "javascript-mixed-case": "JaVaScRiPt:alert(document.cookie)",
    "javascript-with-a-tab": "java\tscript:alert(1)",
    "javascript-after-a-space": " javascript:alert(1)",
    "vbscript": "vbscript:msgbox(1)",
    "data": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "file": "file:///etc/passwd",
    "ftp": "ftp://files.example/test.pdf",
    "relative": "/take/secret-assignment",
    "scheme-relative": "//evil.example/take/1",
    "no-scheme": "evil.example/take/1",
    "empty-host": "https:///take/1",
    "no-slashes": "https:evil.example/take/1",
    "credentials": "https://user:hunter2@mt.example/take/1",
    "user-only": "https://evil.example@mt.example/take/1",
    "backslash-trick": "https://mt.example\\@evil.example/take/1",
    "nul": "https://mt.example/take/1\x00",
    "newline": "https://mt.example/take/1\r\nSet-Cookie: evil",
    "bidi-override": "https://mt.example/\u202egnp.exe",
    "zero-width": "https://mt\u200b.example/take/1",
    "bad-port": "https://mt.example:99999/take/1",
    "too-long": "https://mt.example/" + "a" * MAX_LENGTH,
    "http-elsewhere": "http://evil.example/take/1",
    "not-a-string": 42,
    "bytes": b"https://mt.example/take/1",
}


@pytest.mark.parametrize("url", KEPT)
def test_an_absolute_https_link_is_kept(url: str) -> None:
    assert LinkPolicy().refusal(url) is None
    assert LinkPolicy().kept(url) == url


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_anything_else_is_refused(name: str) -> None:
    url = REFUSED[name]
    assert LOCAL.refusal(url) is not None
    assert LOCAL.kept(url) is None


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_the_reason_names_at_most_the_scheme(name: str) -> None:
    url = REFUSED[name]
    reason = LOCAL.refusal(url)
    assert reason is not None
    for fragment in ("alert", "cookie", "hunter2", "evil", "passwd", "take", "files", "msgbox", "PHNj"):
        assert fragment not in reason, (name, reason)


def test_http_only_to_the_configured_http_hosts() -> None:
    assert LOCAL.refusal("http://127.0.0.1:51234/take/1") is None
    assert LOCAL.refusal("http://localhost:8080/take/1") is None
    assert LOCAL.refusal("http://127.0.0.2/take/1") is not None
    assert LinkPolicy().refusal("http://127.0.0.1:51234/take/1") is not None  # default: https only


def test_http_is_allowed_to_the_hosts_of_http_base_urls_only() -> None:
    policy = LinkPolicy.allowing_http_to(
        ["http://127.0.0.1:40001/api", "https://api.mastery.example/prod", None, "", "http://LocalHost:9/x"]
    )
    assert policy.http_hosts == frozenset({"127.0.0.1", "localhost"})
    assert policy.refusal("http://api.mastery.example/take/1") is not None  # no downgrade of an https host


def test_the_settings_allow_http_to_the_providers_configured_by_environment() -> None:
    env = {
        "TABLE_NAME": "t",
        "EDULASTIC_BASE_URL": "http://127.0.0.1:40001/api",
        "EDULASTIC_APP_URL": "http://127.0.0.1:40001",
        "EDULASTIC_USERNAME": "u",
        "EDULASTIC_PASSWORD": "p",
        "EDULASTIC_CLASS_ID": "c",
        "EDULASTIC_CLASS_CODE": "cc",
        "EDULASTIC_DISTRICT_ID": "d",
        "MASTERY_TRACK_BASE_URL": "http://localhost:40002/prod",
        "MASTERY_TRACK_API_KEY": "k",
        "MASTERY_TRACK_EMAIL": "e@example.com",
    }
    assert Settings.from_env(env).links.http_hosts == frozenset({"127.0.0.1", "localhost"})
    # Deployed, the providers come from secrets with their https defaults: https only.
    deployed = {"TABLE_NAME": "t", "EDULASTIC_SECRET_ID": "edu", "MASTERY_TRACK_SECRET_ID": "mt"}
    assert Settings.from_env(deployed).links.http_hosts == frozenset()


@pytest.mark.parametrize(
    ("text", "scheme"),
    [("https://x", "https"), ("JavaScript:alert(1)", "javascript"), ("/relative", ""), ("1abc:x", "")],
)
def test_scheme_of(text: str, scheme: str) -> None:
    assert scheme_of(text) == scheme
