"""Which links from a provider or a write-back the service may store and hand to clients.

A test or question link ends up in a student's browser, so only an absolute `https` URL is kept
(plain `http` only to the hosts of the configured providers that are themselves served over
http: the local simulators). Anything else — `javascript:`, `data:`, relative, `ftp:`, a URL with
credentials, control, format or white-space characters, or one over 2,000 characters — is refused,
with a reason that names at most the URL's scheme, so logging it leaks nothing of the URL.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_LENGTH = 2000
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,19}):")
# Controls, format characters (bidi overrides, zero-width) and separators: they hide or change
# what a link points to, and a valid URL needs none of them.
_HIDING_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def scheme_of(url: str) -> str:
    """The scheme, for a message (lower case), or "" when the text does not start with one."""
    found = _SCHEME.match(url)
    return found.group(1).lower() if found else ""


@dataclass(frozen=True)
class LinkPolicy:
    http_hosts: frozenset[str] = frozenset()  # hosts that may be linked over plain http

    @classmethod
    def allowing_http_to(cls, base_urls: Iterable[str | None]) -> LinkPolicy:
        """http is allowed to the hosts of those configured base URLs that are http themselves."""
        hosts = set()
        for base in base_urls:
            if base and scheme_of(base) == "http":
                host = urlsplit(base.strip()).hostname
                if host:
                    hosts.add(host)
        return cls(frozenset(hosts))

    def refusal(self, url: object) -> str | None:
        """Why `url` may not be stored or handed to a client; None when it may."""
        if not isinstance(url, str):
            return "not a string"
        if len(url) > MAX_LENGTH:
            return f"longer than {MAX_LENGTH} characters"
        if "\\" in url or any(unicodedata.category(c) in _HIDING_CATEGORIES for c in url):
            return "control, format, white-space or backslash characters"
        scheme = scheme_of(url)
        if not scheme:
            return "not an absolute URL"
        if scheme not in ("https", "http"):
            return f"scheme '{scheme}' is not allowed"
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
        except ValueError:
            return f"not a valid {scheme} URL"
        if "@" in parts.netloc:
            return "credentials in the URL"
        if not parts.hostname:
            return f"no host in the {scheme} URL"
        if scheme == "http" and parts.hostname not in self.http_hosts:
            return "http to a host other than a configured provider's (https required)"
        return None

    def kept(self, url: object) -> str | None:
        """`url` when it may be stored and handed out, else None."""
        return url if isinstance(url, str) and self.refusal(url) is None else None
