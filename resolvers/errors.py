"""Translating errors into GraphQL responses, in one place.

Our own errors (core.errors) carry `extensions.code` and are shown; GraphQL
syntax and validation errors stay readable and get a code here; anything else
is a bug and is masked as "Unexpected error." with code INTERNAL.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from core.errors import CasebridgeError


def should_mask(error: GraphQLError) -> bool:
    """Mask everything that is neither ours nor a document error."""
    original = getattr(error, "original_error", None)
    if original is None:
        return False
    return not isinstance(original, CasebridgeError)


def document_error_code(message: str) -> str:
    """A stable code for an error about the GraphQL document itself."""
    lowered = message.lower()
    if "tokens" in lowered and "parsing aborted" in lowered:
        return "QUERY_TOO_LARGE"
    if lowered.startswith("syntax error"):
        return "GRAPHQL_PARSE_FAILED"
    if "exceeds maximum operation depth" in lowered:
        return "QUERY_TOO_DEEP"
    if "aliases found" in lowered:
        return "TOO_MANY_ALIASES"
    if "introspection" in lowered:
        return "INTROSPECTION_DISABLED"
    return "GRAPHQL_VALIDATION_FAILED"


def add_codes(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every error in a response an `extensions.code`."""
    for err in errors:
        ext = err.setdefault("extensions", {})
        if "code" not in ext:
            message = str(err.get("message", ""))
            ext["code"] = "INTERNAL" if message == "Unexpected error." else document_error_code(message)
    return errors
