"""A local OAuth2 client-credentials issuer and a verifier that behaves like API Gateway's JWT authorizer.

Tokens look like Cognito client-credentials access tokens (`iss`, `sub` = `client_id`,
`scope` space-separated, `token_use` "access", `exp`, `iat`, `jti`) and additionally carry
`aud`, so the verifier can check the audience the way the HTTP API JWT authorizer does
(`aud`, or `client_id` when there is no `aud`). The RS256 key pair is generated per Issuer
and never leaves the process; `jwks()` publishes the public half.

Time claims are checked the way API Gateway documents for its JWT authorizer: `exp` must be
after the current time, `nbf` (when present) and `iat` before it — here with a leeway of
CLOCK_SKEW_SECONDS for `nbf` and `iat`, so a token minted by an issuer whose clock runs slightly
ahead is not refused, while one dated in the future is.

Tokens and client secrets are never logged; only client ids and error kinds are.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

log = logging.getLogger("local.auth")

Clock = Callable[[], float]

CLOCK_SKEW_SECONDS = 30


# Deliberately alike with exttests.errors' status classes: these answer as API Gateway's JWT
# authorizer and Cognito's token endpoint do, not as the service, so they are not those classes.
class AuthError(Exception):
    """Base of the verifier's answers; `status` is what the gateway returns."""

    status = 401

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(AuthError):
    status = 401


class Forbidden(AuthError):
    status = 403


class OAuthError(Exception):
    """A token-endpoint error; `error` is the RFC 6749 error code (400 body `{"error": ...}`)."""

    status = 400

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(error)
        self.error = error
        self.description = description


class InvalidClient(OAuthError):
    def __init__(self) -> None:
        super().__init__("invalid_client")


class InvalidScope(OAuthError):
    def __init__(self) -> None:
        super().__init__("invalid_scope")


class Issuer:
    """Issues and verifies RS256 access tokens for a fixed set of clients.

    `clients` maps client id → (secret, allowed scopes). A token request without `scope`
    gets every allowed scope, as Cognito does for client credentials.
    """

    algorithm = "RS256"

    def __init__(
        self,
        clients: Mapping[str, tuple[str, Iterable[str]]],
        issuer_url: str,
        audience: str,
        ttl: int = 3600,
        *,
        clock: Clock = time.time,
        key: rsa.RSAPrivateKey | None = None,
    ) -> None:
        """`key` signs the tokens; a new 2048-bit key when not given."""
        self._clients = {cid: (secret, tuple(scopes)) for cid, (secret, scopes) in clients.items()}
        self.issuer_url = issuer_url
        self.audience = audience
        self.ttl = ttl
        self._clock = clock
        self._key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex
        # Compared against when the client id is unknown so that both paths cost the same.
        self._dummy_secret = secrets.token_urlsafe(32)

    # --- clients ----------------------------------------------------------------------

    def add_client(self, client_id: str, secret: str, scopes: Iterable[str]) -> None:
        self._clients[client_id] = (secret, tuple(scopes))

    def client_ids(self) -> list[str]:
        return list(self._clients)

    def _authenticate(self, client_id: str, client_secret: str) -> tuple[str, ...]:
        known = self._clients.get(client_id)
        expected = known[0] if known else self._dummy_secret
        ok = hmac.compare_digest(expected.encode(), client_secret.encode())
        if known is None or not ok:
            log.info("token request rejected: invalid client %r", client_id)
            raise InvalidClient()
        return known[1]

    # --- issuing ----------------------------------------------------------------------

    def token(self, client_id: str, client_secret: str, requested_scope: str | None = None) -> dict[str, Any]:
        allowed = self._authenticate(client_id, client_secret)
        if requested_scope is None or not requested_scope.strip():
            scopes = list(allowed)
        else:
            scopes = requested_scope.split()
            if any(s not in allowed for s in scopes):
                log.info("token request rejected: invalid scope for client %r", client_id)
                raise InvalidScope()
        now = int(self._clock())
        claims = {
            "iss": self.issuer_url,
            "sub": client_id,
            "client_id": client_id,
            "aud": self.audience,
            "token_use": "access",
            "scope": " ".join(scopes),
            "auth_time": now,
            "iat": now,
            "exp": now + self.ttl,
            "jti": str(uuid.uuid4()),
            "version": 2,
        }
        access_token = jwt.encode(claims, self._key, algorithm=self.algorithm, headers={"kid": self.kid})
        return {"access_token": access_token, "token_type": "Bearer", "expires_in": self.ttl}

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": self.kid, "alg": self.algorithm, "use": "sig"})
        return {"keys": [jwk]}

    # --- verifying --------------------------------------------------------------------

    def verify(self, authorization_header: str | None, required_scopes: Sequence[str] = ()) -> dict[str, Any]:
        """Claims of a valid token, like the HTTP API JWT authorizer decides.

        Raises Unauthorized for a missing/malformed header or a token that is not valid
        (signature, expiry, issuer, audience) and Forbidden when the route has scopes and
        the token carries none of them (the authorizer needs any one of them).
        """
        token = _bearer_token(authorization_header)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=[self.algorithm],
                issuer=self.issuer_url,
                # Time claims are checked below against the Issuer's clock (injectable in tests).
                options={
                    "require": ["exp", "iat", "iss"],
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized("the access token has the wrong issuer") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("the access token is not valid") from exc
        now = self._clock()
        if _time_claim(claims, "exp") <= int(now):
            raise Unauthorized("the access token has expired")
        if _time_claim(claims, "iat") > now + CLOCK_SKEW_SECONDS:
            raise Unauthorized("the access token is issued in the future")
        if "nbf" in claims and _time_claim(claims, "nbf") > now + CLOCK_SKEW_SECONDS:
            raise Unauthorized("the access token is not valid yet")
        if not self._audience_ok(claims):
            raise Unauthorized("the access token has the wrong audience")
        if required_scopes:
            granted = set(str(claims.get("scope", "")).split())
            if not granted.intersection(required_scopes):
                raise Forbidden("the access token does not have the scope this route requires")
        return claims

    def _audience_ok(self, claims: Mapping[str, Any]) -> bool:
        aud = claims.get("aud")
        if aud is None:
            # Cognito access tokens have no `aud`; API Gateway then checks `client_id`.
            return claims.get("client_id") == self.audience
        audiences = [aud] if isinstance(aud, str) else list(aud)
        return self.audience in audiences


def _time_claim(claims: Mapping[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthorized(f"the access token's {name} is not a number")
    return float(value)


def _bearer_token(header: str | None) -> str:
    if header is None or not header.strip():
        raise Unauthorized("missing Authorization header")
    value = header.strip()
    scheme, _, rest = value.partition(" ")
    if rest:
        if scheme.lower() != "bearer" or not rest.strip() or " " in rest.strip():
            raise Unauthorized("malformed Authorization header")
        value = rest.strip()
    # API Gateway also accepts the bare token without a scheme.
    if value.count(".") != 2:
        raise Unauthorized("malformed Authorization header")
    return value
