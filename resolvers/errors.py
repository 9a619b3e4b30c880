"""Translating errors into GraphQL responses, in one place.

Our own errors (core.errors) carry `extensions.code` and are shown; GraphQL
syntax and validation errors stay readable and get a code here; anything else
is a bug and is masked as "Unexpected error." with code INTERNAL.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, VariableDefinitionNode
from strawberry.exceptions import StrawberryInputCoercionError

from core.errors import CasebridgeError

BAD_VALUE = "a value does not fit its type (dates are YYYY-MM-DD, times ISO 8601 with a zone)"


def should_mask(error: GraphQLError) -> bool:
    """Mask everything that is neither ours, nor a document error, nor a value that does not fit its type."""
    original = getattr(error, "original_error", None)
    if original is None:
        return False
    return not isinstance(original, CasebridgeError | StrawberryInputCoercionError)


def is_bad_value(error: GraphQLError) -> bool:
    """A variable's value that a scalar could not read (the caller's input: answered, never logged)."""
    return isinstance(getattr(error, "original_error", None), StrawberryInputCoercionError)


def bad_value(error: GraphQLError) -> dict[str, Any]:
    """The answer for a value a scalar could not read: the variable's name, never the value itself."""
    ext: dict[str, Any] = {"code": "BAD_USER_INPUT"}
    for node in error.nodes or []:
        if isinstance(node, VariableDefinitionNode):
            ext["variable"] = node.variable.name.value
    out: dict[str, Any] = {"message": BAD_VALUE, "extensions": ext}
    if error.locations:
        out["locations"] = [loc._asdict() for loc in error.locations]
    return out


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
