"""The development signing key: created on first use, served as a JWKS, used by `casebridge token`."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from api.settings import AuthSettings

# Parsed keys by the file's text: importing an RSA private key checks it (36 ms each, measured 2026-12-05 with
# cProfile over create_app: 0.36 s of 0.96 s for five apps), and the gateway, the demo and every test caller load
# the same file again and again. A changed file is a new text, so a new key.
_LOADED: dict[str, RSAKey] = {}


def load_or_create_dev_key(path: Path) -> RSAKey:
    """The gateway's development RSA key, generated once and kept in `path` (mode 0600)."""
    if path.exists():
        text = path.read_text()
        if text not in _LOADED:
            _LOADED[text] = RSAKey.import_key(json.loads(text))
        return _LOADED[text]
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, private=True, auto_kid=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(key.as_dict(private=True), fh)
    return key


def public_jwks(key: RSAKey) -> dict[str, Any]:
    """The JWKS document for `key`'s public half."""
    return dict(KeySet([key]).as_dict(private=False))


def mint_token(
    key: RSAKey, auth: AuthSettings, *, subject: str, organization: str, roles: list[str],
    client_id: str = "casebridge-dev-cli", ttl_seconds: int = 8 * 3600, self_client: str | None = None,
) -> str:
    """A signed development token carrying the claims where `auth` expects them."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": auth.issuer, "aud": auth.audience, "iat": now, "nbf": now, "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    _set_path(claims, auth.subject_claim, subject)
    _set_path(claims, auth.organization_claim, organization)
    _set_path(claims, auth.roles_claim, [auth.role_prefix + r for r in roles])
    _set_path(claims, auth.client_claim, client_id)
    if self_client:
        _set_path(claims, auth.self_client_claim, self_client)
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=["RS256"])


def _set_path(claims: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = claims
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
