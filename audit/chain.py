"""The hash chain's format: what an event's hash covers, byte for byte.

Version 1: SHA-256 over canonical JSON (sorted keys, no spaces, UTF-8) of the
event's content plus its position and the previous event's hash. This format
is frozen: a change needs a new version, or old chains stop verifying.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
VERSION = 1
CONTENT_FIELDS = (
    "request_id", "recorded_at", "subject", "organization", "roles", "oauth_client", "purpose", "operation",
    "client_id", "action", "categories", "decisions", "outcome", "detail", "legal_basis", "justification",
    "break_glass",
)


def timestamp(t: datetime | str) -> str:
    """UTC, microseconds, 'Z': the one spelling of a time inside the chain (a spelled one passes through)."""
    if isinstance(t, str):
        return t
    if t.tzinfo is None:  # SQLite hands back naive datetimes; we only ever store UTC
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(value: Any) -> bytes:
    """Canonical JSON bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content(event: Any) -> dict[str, Any]:
    """The hashed content of an event (an AccessEvent row or a mapping with the same names)."""
    get: Callable[[str], Any] = event.get if isinstance(event, Mapping) else (lambda name: getattr(event, name))
    out = {name: get(name) for name in CONTENT_FIELDS}
    out["recorded_at"] = timestamp(out["recorded_at"])
    out["roles"] = list(out["roles"] or [])
    out["break_glass"] = bool(out["break_glass"])
    return out


def event_hash(*, seq: int, prev_hash: str, event: Any) -> str:
    """The hash of the event at `seq` following `prev_hash`."""
    body = {"v": VERSION, "seq": seq, "prev": prev_hash, "event": content(event)}
    return hashlib.sha256(canonical(body)).hexdigest()
