"""Translating errors into GraphQL responses, in one place.

Our own errors (core.errors) carry `extensions.code` and are shown; GraphQL
syntax and validation errors stay readable and get a code here; anything else
is a bug and is masked as "Unexpected error." with code INTERNAL.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    SKIP,
    GraphQLError,
    GraphQLInputType,
    ListValueNode,
    ObjectValueNode,
    ValueNode,
    ValuesOfCorrectTypeRule,
    VariableDefinitionNode,
    get_named_type,
    get_nullable_type,
    is_input_object_type,
    is_list_type,
    is_non_null_type,
    validate_input_literal,
)
from graphql.pyutils import Undefined
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


class LiteralsFitTheirTypes(ValuesOfCorrectTypeRule):
    """graphql's check that literal values fit their types, answered like a variable that does not fit: code
    BAD_USER_INPUT and the type expected, never a value (graphql's messages quote the literal, e.g. a date of birth
    written into a search). An input object of the wrong shape is answered with the fields missing or unknown."""

    def is_valid_value_node(self, node: ValueNode, input_type: GraphQLInputType | None) -> Any:
        if input_type is not None:
            told: set[tuple[str, str]] = set()

            def on_error(error: GraphQLError, path: list[str | int]) -> None:
                unquoted = _unquoted(error, node, input_type, path)
                key = (unquoted.message, str(unquoted.locations))  # graphql tells each missing field apart
                if key not in told:
                    told.add(key)
                    self.report_error(unquoted)

            validate_input_literal(node, input_type, on_error, None, None, self.context.hide_suggestions)
        return SKIP  # as graphql's rule: the literal is checked whole


def _unquoted(error: GraphQLError, node: ValueNode, type_: GraphQLInputType, path: list[str | int]) -> GraphQLError:
    """graphql's error about the value at `path` in the literal `node`, told without quoting any value."""
    at_node: Any = node
    at_type: Any = type_
    for step in path:  # walk the literal and its type together
        at_type = get_nullable_type(at_type)
        if isinstance(step, int) and is_list_type(at_type):
            at_type = at_type.of_type
            at_node = at_node.values[step] if isinstance(at_node, ListValueNode) else at_node
        elif isinstance(step, str) and is_input_object_type(at_type) and step in at_type.fields:
            at_type = at_type.fields[step].type
            at_node = next((f.value for f in getattr(at_node, "fields", ()) if f.name.value == step), at_node)
        else:
            break
    named = get_named_type(at_type)
    message = BAD_VALUE
    if is_input_object_type(named) and isinstance(at_node, ObjectValueNode):
        given = [f.name.value for f in at_node.fields]
        unknown = [name for name in given if name not in named.fields]
        missing = [name for name, field in named.fields.items()
                   if is_non_null_type(field.type) and field.default_value is Undefined and name not in given]
        if unknown or missing:
            message = f"{named.name}: " + "; ".join(
                ([f"unknown field {', '.join(unknown)}"] if unknown else [])
                + ([f"required field {', '.join(missing)} not given"] if missing else []))
    return GraphQLError(message, error.nodes or node, extensions={"code": "BAD_USER_INPUT", "expected": named.name})


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
