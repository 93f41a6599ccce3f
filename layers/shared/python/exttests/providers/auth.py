"""Calls made with a service's token: one copy of getting it, caching it, presenting it and
renewing it once on a 401, whatever the service's kind of token (`TokenStrategy`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import requests
from urllib3.util import parse_url

from exttests.errors import ProviderRejected, ProviderUnavailable
from exttests.providers.answers import malformed, parse_json
from exttests.providers.http import HttpClient, HttpSettings, Timing
from exttests.providers.tokens import Token, token_cache


class TokenStrategy(ABC):
    """How one service issues its token and how a call presents it."""

    @property
    @abstractmethod
    def cache_key(self) -> str:
        """Where the token is kept between invocations: the service and the identity, no secret."""

    @abstractmethod
    def obtain(self, api: HttpClient) -> Token:
        """Log in (or authorize) and return a fresh token; `api` is the service's own client."""

    @abstractmethod
    def headers(self, token: str) -> dict[str, str]: ...

    def refreshed(self, response: requests.Response) -> str | None:
        """A replacement token the service sent along with an answer; most send none."""
        return None


def post_credentials(http: HttpClient, path: str, *, refused: str, **request: Any) -> Any:
    """POST the service's own credentials and return the parsed answer.

    A 4xx means our configuration is wrong, not the client's request, so it is
    ProviderUnavailable ("<refused> (HTTP 401)"), never ProviderRejected."""
    try:
        response = http.request("POST", path, **request)
    except ProviderRejected as exc:
        raise ProviderUnavailable(http.provider, f"{refused} (HTTP {exc.provider_status})") from None
    return parse_json(http.provider, response)


class AuthenticatedClient:
    """A service's HttpClient with its credentials on every call."""

    def __init__(self, http: HttpClient, strategy: TokenStrategy) -> None:
        self.http = http
        self.strategy = strategy

    @property
    def provider(self) -> str:
        return self.http.provider

    def ensure_available(self) -> None:
        """Fail fast (CircuitOpen) while the circuit is open, before the caller records anything."""
        self.http.breaker.check(self.http.timing.clock())

    def reason(self, response: requests.Response) -> str:
        return self.http.reason(response)

    # Deliberately alike: the parameters repeat ProviderHttp.request's (http.py), less what this
    # session supplies itself (the credentials, headers and form body).
    def request(
        self,
        method: str,
        path: str,
        *,
        ids: Sequence[str] = (),
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool = True,
        passthrough: Collection[int] = (),
        sensitive: Iterable[str] = (),
    ) -> requests.Response:
        """`HttpClient.request` with the token; a 401 gets a new token and the call is made once
        more (a refused call was not acted on, so even a create may be repeated)."""
        sensitive = tuple(sensitive)
        for _ in range(2):
            token = self._token()
            response = self.http.request(
                method,
                path,
                ids=ids,
                json=json,
                params=params,
                headers=self.strategy.headers(token),
                idempotent=idempotent,
                passthrough=(*passthrough, 401),
                sensitive=sensitive,
            )
            if response.status_code != 401:
                self._take_refreshed(response)
                return response
            response.close()
            token_cache.discard(self.strategy.cache_key, token)
        raise ProviderUnavailable(self.provider, "authentication failed after renewing the token")

    def _token(self) -> str:
        token = token_cache.get(self.strategy.cache_key)
        if token is None or (token.expires_at is not None and self.http.timing.clock() >= token.expires_at):
            token = self.strategy.obtain(self.http)
            token_cache.put(self.strategy.cache_key, token)
        self.http.add_secret(token.value)
        return token.value

    def _take_refreshed(self, response: requests.Response) -> None:
        fresh = self.strategy.refreshed(response)
        if fresh:
            self.http.add_secret(fresh)
            token_cache.put(self.strategy.cache_key, Token(fresh, expires_at=None))


class ClientCredentials(TokenStrategy):
    """OAuth2 client credentials: HTTP Basic client id and secret, form
    `grant_type=client_credentials`, `Authorization: Bearer <access_token>` on every call."""

    # Renew this long before the token's own expiry, so that a call never carries a token that
    # expires on the way.
    EARLY_RENEWAL = 60.0

    def __init__(
        self,
        provider: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        settings: HttpSettings | None = None,
        timing: Timing | None = None,
    ) -> None:
        url = parse_url(token_url)
        # The endpoint's origin is the client's base, so its path is what the log shows.
        origin = f"{url.scheme}://{url.netloc}" if url.scheme and url.netloc else token_url
        self._endpoint = HttpClient(provider, origin, settings, timing, secrets=(client_secret,))
        self._path = url.path or ""
        self._client_id = client_id
        self._client_secret = client_secret

    @property
    def cache_key(self) -> str:
        return f"{self._endpoint.base_url}{self._path}|{self._client_id}"

    def obtain(self, api: HttpClient) -> Token:
        payload = post_credentials(
            self._endpoint,
            self._path,
            refused="the client credentials were refused",
            data={"grant_type": "client_credentials"},
            auth=(self._client_id, self._client_secret),
        )
        access_token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(access_token, str) or not access_token:
            raise malformed(self._endpoint.provider, "no access_token in the token answer")
        token_type = payload.get("token_type", "Bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise malformed(self._endpoint.provider, "the token is not a bearer token")
        lifetime = _seconds(payload.get("expires_in"))
        if lifetime is None:
            return Token(access_token, expires_at=None)  # kept until refused, then renewed
        renew_at = self._endpoint.timing.clock() + max(0.0, lifetime - self.EARLY_RENEWAL)
        return Token(access_token, expires_at=renew_at)

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None
