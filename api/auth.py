"""Bearer-token authentication: JWT checks against a JWKS, and claims -> Principal.

Checks, in order: a compact JWS; `alg` in the allow-list (RS256/ES256 — never
`none`, never an HMAC algorithm that could be "signed" with a public key); a
known `kid` (an unknown one refetches a URL JWKS once, for key rotation); the
signature; issuer, audience, expiry and not-before with a small leeway.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from api.keys import load_or_create_dev_key
from api.settings import AuthSettings
from core.errors import AuthenticationError
from core.principal import RESERVED_ORGANIZATIONS, SYSTEM_SUBJECTS, Principal
from core.vocabulary import SYSTEM_ROLES, Role

log = logging.getLogger("casebridge.auth")


class KeySource:
    """Where verification keys come from: a JWKS URL (cached), a file, or the dev key."""

    def __init__(self, auth: AuthSettings, http: httpx.AsyncClient | None = None) -> None:
        self._auth = auth
        self._http = http
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        if auth.jwks_file is not None:
            self._keys = _load_file(auth.jwks_file)
            self._fetched_at = float("inf")
        elif auth.uses_dev_keys:
            self._keys = KeySet([load_or_create_dev_key(auth.dev_key_file)])
            self._fetched_at = float("inf")

    async def keys(self, *, refresh: bool = False) -> KeySet:
        """The current key set; refetched from the URL when stale or when asked (rate-limited)."""
        if self._auth.jwks_url is None:
            assert self._keys is not None
            return self._keys
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            stale = self._keys is None or age > self._auth.jwks_cache_seconds
            may_refresh = refresh and age >= self._auth.jwks_min_refetch_seconds
            if stale or may_refresh:
                await self._fetch()
            assert self._keys is not None
            return self._keys

    async def _fetch(self) -> None:
        assert self._http is not None and self._auth.jwks_url is not None
        try:
            resp = await self._http.get(str(self._auth.jwks_url), timeout=5.0)
            resp.raise_for_status()
            self._keys = KeySet.import_key_set(resp.json())
            self._fetched_at = time.monotonic()
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            log.warning("JWKS fetch failed: %s", type(exc).__name__)
            if self._keys is None:
                raise AuthenticationError(
                    "the identity provider's keys cannot be fetched", reason="jwks_unavailable",
                    suggestion="Try again shortly; if it persists the gateway's JWKS URL is wrong or down.",
                ) from exc


VERIFIED_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    key_set: KeySet  # the key set the signature was checked against
    exp: float
    nbf: float | None


class TokenVerifier:
    """Validates a bearer JWT and maps its claims to a Principal.

    A caller sends the same token with every request until it expires, so a
    token whose signature and claims checked out is remembered (by its SHA-256,
    never the token itself): the next request with it skips the signature check
    (~0.3 ms) as long as the key set is the one it was checked against - a
    refetched JWKS (rotation) checks it again - and still checks expiry and
    not-before against the clock every time.
    """

    def __init__(self, auth: AuthSettings, keys: KeySource, *, clock: Callable[[], float] = time.time) -> None:
        self._auth = auth
        self._keys = keys
        self._clock = clock
        self._claims = JWTClaimsRegistry(
            leeway=auth.leeway_seconds,
            iss={"essential": True, "value": auth.issuer},
            aud={"essential": True, "value": auth.audience},
            exp={"essential": True},
        )
        self._verified: OrderedDict[bytes, _Verified] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        """The Principal for `token`, or AuthenticationError with a stable `reason`."""
        digest = hashlib.sha256(token.encode()).digest()
        known = self._verified.get(digest)
        if known is not None and known.key_set is await self._keys.keys():
            now, leeway = self._clock(), self._auth.leeway_seconds
            if now > known.exp + leeway:
                del self._verified[digest]
                raise _invalid("token_expired", "token has expired")
            if known.nbf is None or now >= known.nbf - leeway:
                self._verified.move_to_end(digest)
                return known.principal
        principal, key_set, claims = await self._check(token)
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if isinstance(exp, int | float) and (nbf is None or isinstance(nbf, int | float)):
            self._verified[digest] = _Verified(principal, key_set, float(exp), None if nbf is None else float(nbf))
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return principal

    async def _check(self, token: str) -> tuple[Principal, KeySet, dict[str, Any]]:
        """The full check: header, key, signature, claims."""
        header = _header(token)
        alg = header.get("alg")
        if alg not in self._auth.algorithms:
            raise _invalid("algorithm_not_allowed", f"token algorithm {alg!r} is not accepted")
        kid = header.get("kid")
        key_set = await self._keys.keys()
        if not _has_kid(key_set, kid):
            key_set = await self._keys.keys(refresh=True)
            if not _has_kid(key_set, kid):
                raise _invalid("unknown_key", "token is signed with a key the gateway does not know")
        try:
            decoded = jwt.decode(token, key_set, algorithms=[alg])
            self._claims.validate(decoded.claims)
        except ExpiredTokenError:
            raise _invalid("token_expired", "token has expired") from None
        except (InvalidKeyIdError, JoseError, ValueError, TypeError) as exc:
            raise _invalid(_reason(exc), "token is not valid") from None
        return self._principal(decoded.claims), key_set, decoded.claims

    def _principal(self, claims: dict[str, Any]) -> Principal:
        a = self._auth
        subject = _claim(claims, a.subject_claim)
        org = _claim(claims, a.organization_claim)
        if not isinstance(subject, str) or not subject:
            raise _invalid("missing_subject", f"token has no {a.subject_claim!r} claim")
        if subject in SYSTEM_SUBJECTS:  # casebridge's own workers: no token speaks as one (the access log would)
            raise _invalid("reserved_subject", "token's subject is one casebridge keeps for its own workers")
        if not isinstance(org, str) or not org:
            raise _invalid("missing_organization", f"token has no {a.organization_claim!r} claim")
        if org in RESERVED_ORGANIZATIONS:  # the clients' own holding: no organisation is it
            raise _invalid("reserved_organization", "token's organisation is one casebridge keeps for clients' own")
        raw_roles = _claim(claims, a.roles_claim) or []
        if isinstance(raw_roles, str):
            raw_roles = raw_roles.split()
        known = {r.value for r in Role if r not in SYSTEM_ROLES}  # casebridge's own workers' roles: never claimed
        roles = frozenset(
            Role(name) for r in raw_roles if isinstance(r, str)
            for name in [r.removeprefix(a.role_prefix) if a.role_prefix else r] if name in known
        )
        if not roles:
            raise _invalid("no_role", "token carries no casebridge role")
        client = _claim(claims, a.client_claim) or claims.get("client_id")
        self_client = _claim(claims, a.self_client_claim) if Role.CLIENT in roles else None
        return Principal(subject=subject, organization=org, roles=roles,
                         client_id=client if isinstance(client, str) else None,
                         self_client=self_client if isinstance(self_client, str) and self_client else None)


def bearer_token(authorization: str | None) -> str:
    """The token in an `Authorization: Bearer ...` header, or AuthenticationError."""
    if not authorization:
        raise AuthenticationError("no bearer token was sent", reason="token_missing")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header is not a bearer token", reason="token_missing")
    return token.strip()


def _header(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise _invalid("malformed", "token is not a compact JWS")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _invalid("malformed", "token header cannot be read") from None
    if not isinstance(header, dict):
        raise _invalid("malformed", "token header is not an object")
    return header


def _has_kid(key_set: KeySet, kid: object) -> bool:
    if kid is None:
        return len(key_set.keys) == 1
    return any(k.kid == kid for k in key_set.keys)


def _claim(claims: dict[str, Any], path: str) -> Any:
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _reason(exc: Exception) -> str:
    name = type(exc).__name__
    if "Signature" in name:
        return "bad_signature"
    if "Claim" in name:
        return "claim_invalid"
    return "invalid_token"


def _invalid(reason: str, message: str) -> AuthenticationError:
    return AuthenticationError(message, reason=reason)


def _load_file(path: Path) -> KeySet:
    try:
        return KeySet.import_key_set(json.loads(path.read_text()))
    except (OSError, ValueError, JoseError) as exc:
        from core.errors import ConfigurationError

        raise ConfigurationError(f"cannot read the JWKS file {path}") from exc
