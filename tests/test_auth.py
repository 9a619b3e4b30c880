"""Bearer JWT checks: forged tokens are refused with 401 and a stable reason, never a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.app import create_app
from api.auth import KeySource, TokenVerifier
from api.keys import load_or_create_dev_key, mint_token
from api.settings import AuthSettings
from core.errors import AuthenticationError
from core.vocabulary import Role
from demo.servers import ServerThread

QUERY = {"query": "{ me { subject organization roles } }"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(auth: AuthSettings, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": auth.issuer, "aud": auth.audience, "sub": "u1", "org": "HRA", "roles": ["caseworker"],
            "iat": now, "exp": now + 300, **extra}


@pytest.fixture
def gateway(settings_factory: Any, tmp_path: Path) -> Iterator[ServerThread]:
    settings = settings_factory(database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    with ServerThread(create_app(settings)) as server:
        yield server


@pytest.fixture
def auth(dev_key_file: Path) -> AuthSettings:
    return AuthSettings(dev_key_file=dev_key_file)


def forged(auth: AuthSettings, dev_key_file: Path) -> dict[str, str]:
    key = load_or_create_dev_key(dev_key_file)
    good = mint_token(key, auth, subject="u1", organization="DHS", roles=["caseworker"])
    h, p, s = good.split(".")
    payload = json.loads(base64.urlsafe_b64decode(p + "=="))
    payload["org"] = "HRA"
    public_pem = key.as_pem(private=False)
    hs_header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    hs_body = b64(json.dumps(claims(auth)).encode())
    hs_sig = b64(hmac.new(public_pem, f"{hs_header}.{hs_body}".encode(), hashlib.sha256).digest())
    stranger = RSAKey.generate_key(2048, parameters={"kid": "not-ours"}, private=True)
    return {
        "alg_none": b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "."
        + b64(json.dumps(claims(auth)).encode()) + ".",
        "hs256_with_public_key": f"{hs_header}.{hs_body}.{hs_sig}",
        "expired": mint_token(key, auth, subject="u1", organization="HRA", roles=["caseworker"], ttl_seconds=-120),
        "wrong_issuer": jwt.encode({"alg": "RS256", "kid": key.kid}, claims(auth, iss="https://evil.example"), key),
        "wrong_audience": jwt.encode({"alg": "RS256", "kid": key.kid}, claims(auth, aud="someone-else"), key),
        "unknown_kid": jwt.encode({"alg": "RS256", "kid": "not-ours"}, claims(auth), stranger),
        "tampered_payload": f"{h}.{b64(json.dumps(payload).encode())}.{s}",
        "no_role": jwt.encode({"alg": "RS256", "kid": key.kid}, claims(auth, roles=["janitor"]), key),
        "no_org": jwt.encode({"alg": "RS256", "kid": key.kid}, {**claims(auth), "org": None}, key),
        "garbage": "not-a-jwt",
        "three_garbage_parts": "a.b.c",
    }


async def test_forged_tokens_get_401(gateway: ServerThread, auth: AuthSettings, dev_key_file: Path) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        for name, token in forged(auth, dev_key_file).items():
            resp = await http.post("/graphql", json=QUERY, headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 401, name
            body = resp.json()
            assert "data" not in body, name  # a request error: nothing was executed
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", name
            assert resp.headers["www-authenticate"] == 'Bearer error="invalid_token"', name
        none = await http.post("/graphql", json=QUERY)  # no token at all: a bare challenge (RFC 6750 3.1)
        assert (none.status_code, none.headers["www-authenticate"]) == (401, "Bearer")
        assert none.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        reasons = {}
        for name in ("expired", "unknown_kid", "alg_none", "hs256_with_public_key"):
            token = forged(auth, dev_key_file)[name]
            resp = await http.post("/graphql", json=QUERY, headers={"Authorization": f"Bearer {token}"})
            reasons[name] = resp.json()["errors"][0]["extensions"]["reason"]
    assert reasons == {"expired": "token_expired", "unknown_kid": "unknown_key",
                       "alg_none": "algorithm_not_allowed", "hs256_with_public_key": "algorithm_not_allowed"}


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Token abc", "Bearer"])
async def test_missing_bearer_token_is_401(gateway: ServerThread, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        resp = await http.post("/graphql", json=QUERY, headers=headers)
    assert resp.status_code == 401
    assert resp.json()["errors"][0]["extensions"] == {
        "code": "UNAUTHENTICATED", "reason": "token_missing",
        "suggestion": "Send a valid bearer token: Authorization: Bearer <jwt>."}


async def test_a_valid_dev_token_maps_to_the_principal(
    gateway: ServerThread, auth: AuthSettings, dev_key_file: Path
) -> None:
    token = mint_token(load_or_create_dev_key(dev_key_file), auth, subject="worker-7", organization="DOE",
                       roles=["caseworker", "identity_steward"])
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        resp = await http.post("/graphql", json=QUERY, headers={"Authorization": f"Bearer {token}"})
        jwks = (await http.get("/.well-known/jwks.json")).json()
    assert resp.status_code == 200
    assert resp.json()["data"]["me"] == {"subject": "worker-7", "organization": "DOE",
                                         "roles": ["CASEWORKER", "IDENTITY_STEWARD"]}
    assert [k["kty"] for k in jwks["keys"]] == ["RSA"] and "d" not in jwks["keys"][0]


class _JwksServer:
    def __init__(self, keys: list[Any]) -> None:
        self.keys = keys
        self.hits = 0

    def app(self) -> Starlette:
        async def jwks(_request: Any) -> JSONResponse:
            self.hits += 1
            return JSONResponse(KeySet(self.keys).as_dict(private=False))
        return Starlette(routes=[Route("/jwks", jwks)])


@pytest.fixture
async def idp() -> AsyncIterator[tuple[_JwksServer, ServerThread]]:
    server = _JwksServer([RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)])
    with ServerThread(server.app()) as thread:
        yield server, thread


def _sign(key: Any, auth: AuthSettings, alg: str = "RS256", **extra: Any) -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, claims(auth, **extra), key)


async def test_jwks_url_is_cached_and_refetched_on_key_rotation(idp: tuple[_JwksServer, ServerThread]) -> None:
    server, thread = idp
    auth = AuthSettings(issuer="https://idp.test", audience="casebridge", jwks_url=f"{thread.url}/jwks",
                        jwks_min_refetch_seconds=0)
    async with httpx.AsyncClient() as http:
        verifier = TokenVerifier(auth, KeySource(auth, http))
        old = server.keys[0]
        assert (await verifier.verify(_sign(old, auth))).organization == "HRA"
        await verifier.verify(_sign(old, auth))
        assert server.hits == 1  # cached
        new = ECKey.generate_key("P-256", parameters={"kid": "k2"}, private=True)
        server.keys = [new]  # the IdP rotates to an EC key
        principal = await verifier.verify(_sign(new, auth, alg="ES256"))
        assert principal.roles == frozenset({Role.CASEWORKER})
        assert server.hits == 2  # refetched once, on the unknown kid
        with pytest.raises(AuthenticationError) as info:
            await verifier.verify(_sign(RSAKey.generate_key(2048, parameters={"kid": "k9"}, private=True), auth))
        assert info.value.details["reason"] == "unknown_key"


async def test_unknown_kid_refetch_is_rate_limited(idp: tuple[_JwksServer, ServerThread]) -> None:
    server, thread = idp
    auth = AuthSettings(issuer="https://idp.test", jwks_url=f"{thread.url}/jwks", jwks_min_refetch_seconds=60)
    async with httpx.AsyncClient() as http:
        verifier = TokenVerifier(auth, KeySource(auth, http))
        await verifier.verify(_sign(server.keys[0], auth))
        stranger = RSAKey.generate_key(2048, parameters={"kid": "zz"}, private=True)
        for _ in range(5):
            with pytest.raises(AuthenticationError):
                await verifier.verify(_sign(stranger, auth))
    assert server.hits == 1  # forged kids cannot make us hammer the IdP


async def test_claim_paths_are_configurable_keycloak_style(tmp_path: Path) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "kc"}, private=True)
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(KeySet([key]).as_dict(private=False)))
    auth = AuthSettings(issuer="https://kc.test/realms/city", audience="casebridge", jwks_file=jwks_file,
                        roles_claim="realm_access.roles", organization_claim="casebridge.org",
                        role_prefix="casebridge-", client_claim="azp")
    token = jwt.encode({"alg": "RS256", "kid": "kc"}, {
        "iss": auth.issuer, "aud": ["account", "casebridge"], "sub": "abc", "exp": int(time.time()) + 60,
        "azp": "shelter-portal", "casebridge": {"org": "DHS"},
        "realm_access": {"roles": ["offline_access", "casebridge-caseworker", "casebridge-auditor"]},
    }, key)
    principal = await TokenVerifier(auth, KeySource(auth)).verify(token)
    assert principal.organization == "DHS"
    assert principal.roles == frozenset({Role.CASEWORKER, Role.AUDITOR})
    assert principal.client_id == "shelter-portal"


async def test_small_clock_skew_is_tolerated(auth: AuthSettings, dev_key_file: Path) -> None:
    key = load_or_create_dev_key(dev_key_file)
    verifier = TokenVerifier(auth, KeySource(auth))
    token = mint_token(key, auth, subject="u", organization="HRA", roles=["caseworker"], ttl_seconds=-10)
    assert (await verifier.verify(token)).subject == "u"  # expired 10 s ago, leeway is 30 s


async def test_a_checked_token_is_remembered_but_still_expires(
    auth: AuthSettings, dev_key_file: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = load_or_create_dev_key(dev_key_file)
    token = mint_token(key, auth, subject="u", organization="HRA", roles=["caseworker"], ttl_seconds=60)
    now = [time.time()]
    verifier = TokenVerifier(auth, KeySource(auth), clock=lambda: now[0])
    checked = []
    real_decode = jwt.decode
    monkeypatch.setattr("api.auth.jwt.decode", lambda *a, **k: checked.append(1) or real_decode(*a, **k))
    for _ in range(3):
        assert (await verifier.verify(token)).subject == "u"
    assert len(checked) == 1  # the signature was checked once
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthenticationError):
        await verifier.verify(tampered)  # another token: checked in full
    now[0] += 60 + auth.leeway_seconds + 1
    with pytest.raises(AuthenticationError) as info:
        await verifier.verify(token)
    assert info.value.details["reason"] == "token_expired"


async def test_a_remembered_token_is_checked_again_when_the_keys_change(
    idp: tuple[_JwksServer, ServerThread],
) -> None:
    server, thread = idp
    auth = AuthSettings(issuer="https://idp.test", audience="casebridge", jwks_url=f"{thread.url}/jwks",
                        jwks_cache_seconds=0, jwks_min_refetch_seconds=0)
    async with httpx.AsyncClient() as http:
        verifier = TokenVerifier(auth, KeySource(auth, http))
        token = _sign(server.keys[0], auth)
        assert (await verifier.verify(token)).organization == "HRA"
        server.keys = [ECKey.generate_key("P-256", parameters={"kid": "k2"}, private=True)]  # k1 withdrawn
        with pytest.raises(AuthenticationError) as info:
            await verifier.verify(token)
        assert info.value.details["reason"] == "unknown_key"
