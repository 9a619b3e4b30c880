"""Ids checked at the edge: a client or consent id is a UUID, or BAD_USER_INPUT that never echoes the value.

Checked before any work, so that nothing else - the gate, the access log, an error message - ever holds an id
that is not one (a 5,000,000-character "id" once went into the seven-year log).
"""

from __future__ import annotations

import re

import strawberry

from core.errors import InvalidInput

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def uuid_id(value: strawberry.ID | str, field: str, *, what: str = "client") -> str:
    """The id, lower-cased, if it is a UUID; otherwise InvalidInput naming the field (not the value)."""
    text = str(value)
    if len(text) > 40 or not _UUID.fullmatch(text.strip()):
        raise InvalidInput(f"a {what} id is a UUID (8-4-4-4-12 hexadecimal digits)", field=field)
    return text.strip().lower()


def client_id(value: strawberry.ID | str, field: str = "clientId") -> str:
    """A client id (UUID)."""
    return uuid_id(value, field, what="client")


def consent_id(value: strawberry.ID | str, field: str = "id") -> str:
    """A consent id (UUID)."""
    return uuid_id(value, field, what="consent")
