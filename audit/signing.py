"""Signed checkpoints: the gateway's statement that the chain ended in `hash` at `seq` at a time.

ES256 (P-256) compact JWS over canonical JSON. The private key stays with the
gateway; an auditor needs only the public JWKS (`casebridge audit public-key`)
to check an exported slice on its own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from audit.chain import canonical

CHAIN_NAME = "casebridge-access-log"


def load_or_create_key(path: Path) -> ECKey:
    """The checkpoint signing key in `path` (created once, mode 0600)."""
    if path.exists():
        return ECKey.import_key(json.loads(path.read_text()))
    key = ECKey.generate_key("P-256", parameters={"use": "sig", "alg": "ES256"}, private=True, auto_kid=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(key.as_dict(private=True), fh)
    return key


class CheckpointSigner:
    """Signs and checks checkpoint statements."""

    def __init__(self, key: ECKey) -> None:
        self.key = key
        self.key_id = str(key.kid)

    def sign(self, statement: dict[str, Any]) -> str:
        """A compact JWS over the canonical statement."""
        payload = canonical({"chain": CHAIN_NAME, **statement})
        return jws.serialize_compact({"alg": "ES256", "kid": self.key_id}, payload, self.key, algorithms=["ES256"])

    def public_jwks(self) -> dict[str, Any]:
        """The public key as a JWKS, for auditors."""
        return dict(KeySet([self.key]).as_dict(private=False))


def verify_statement(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The signed statement in `token`, if a key in `jwks` signed it; ValueError otherwise."""
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]  # joserfc wants its TypedDict; a JWKS dict
        obj = jws.deserialize_compact(token, keys, algorithms=["ES256"])
        statement: dict[str, Any] = json.loads(obj.payload)
    except (JoseError, ValueError, TypeError) as exc:
        raise ValueError(f"checkpoint signature does not verify: {type(exc).__name__}") from None
    if statement.get("chain") != CHAIN_NAME:
        raise ValueError("not a casebridge access-log checkpoint")
    return statement
