"""Errors as they appear in responses, in one place: the GraphQL response's `errors` and the edge's own.

Our own errors (core.errors) carry `extensions.code` and are shown. An error
about the document gets its code from what raised it: the parser (a syntax
error, or more tokens than allowed - counted here, never read from graphql's
message), or the validation rule that reported it (the depth, alias and
introspection rules are wrapped by `coded` so that their errors carry a code).
Anything else is a bug and is masked as "Unexpected error." with code INTERNAL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, cast

from graphql import (
    SKIP,
    ASTValidationRule,
    GraphQLError,
    GraphQLInputType,
    GraphQLSyntaxError,
    ListValueNode,
    ObjectValueNode,
    ValidationContext,
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
from graphql.language import Lexer, TokenKind
from graphql.pyutils import Undefined
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import MaskErrors, ParserCache

from core.errors import CasebridgeError, ErrorCode

BAD_VALUE = "a value does not fit its type (dates are YYYY-MM-DD, times ISO 8601 with a zone)"


def should_mask(error: GraphQLError) -> bool:
    """Mask everything that is neither ours, nor a document error, nor a value that does not fit its type."""
    original = getattr(error, "original_error", None)
    if original is None:
        return False
    return not (isinstance(original, CasebridgeError) or is_bad_value(error))


def is_bad_value(error: GraphQLError) -> bool:
    """A variable's value that a scalar could not read (the caller's input: answered, never logged): one of
    ours, or graphql's own coercion of a variable (an object given for an ID, say), whose message quotes the
    value. Validation errors about a variable carry no original error."""
    original = getattr(error, "original_error", None)
    if isinstance(original, StrawberryInputCoercionError):
        return True
    return original is not None and error.path is None and any(
        isinstance(node, VariableDefinitionNode) for node in error.nodes or ())


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


def coded(rule: type[ASTValidationRule], code: str) -> type[ASTValidationRule]:
    """`rule`, every error it reports carrying `code` (the rule reports through the validation context it is
    given: this one tags each error on its way)."""

    class Coded(rule):  # type: ignore[valid-type,misc]  # a subclass of the rule given
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(_Tagging(context, code))

    Coded.__name__ = Coded.__qualname__ = f"Coded{rule.__name__}"
    return Coded


class _Tagging:
    """A validation context whose reported errors carry a code; everything else is the context's own."""

    def __init__(self, context: ValidationContext, code: str) -> None:
        self._context = context
        self._code = code

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "code": self._code}
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class MaskUnexpected(MaskErrors):
    """strawberry's masking of unexpected errors, the masked error carrying code INTERNAL."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": ErrorCode.INTERNAL.value}
        return masked


def response_errors(errors: Sequence[GraphQLError]) -> list[dict[str, Any]]:
    """The response's `errors`, each with an `extensions.code`; a value that does not fit its type answered
    without the value."""
    out = []
    for error in errors:
        if is_bad_value(error):
            out.append(bad_value(error))
            continue
        shown: dict[str, Any] = dict(cast("dict[str, Any]", error.formatted))
        ext = shown["extensions"] = dict(shown.get("extensions") or {})
        ext.setdefault("code", _code_of(error))
        out.append(shown)
    return out


def _code_of(error: GraphQLError) -> str:
    if isinstance(error, GraphQLSyntaxError):  # one CodedParse did not see (it codes its own)
        return "GRAPHQL_PARSE_FAILED"
    if error.path is None:  # about the document, from one of graphql's own validation rules
        return "GRAPHQL_VALIDATION_FAILED"
    return ErrorCode.INTERNAL.value  # a field's error that is neither ours nor masked (e.g. a null where none may be)


class CodedParse(ParserCache):
    """strawberry's parse cache, a document that does not parse answered with its code: QUERY_TOO_LARGE where
    the parser stopped at its token limit (parse_options' max_tokens, from MaxTokensLimiter), else
    GRAPHQL_PARSE_FAILED."""

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        try:
            ctx.graphql_document = self.cached_parse_document(ctx.query, **ctx.parse_options)
        except GraphQLSyntaxError as error:
            limit = ctx.parse_options.get("max_tokens")
            code = "QUERY_TOO_LARGE" if limit is not None and stopped_at_limit(error, limit) else (
                "GRAPHQL_PARSE_FAILED")
            error.extensions = {**(error.extensions or {}), "code": code}
            raise
        yield


def stopped_at_limit(error: GraphQLSyntaxError, max_tokens: int) -> bool:
    """Whether the parser stopped because the document has more than `max_tokens` tokens: its (max_tokens+1)-th
    token - counted as graphql's parser counts them, the comments it skips included - starts at or before
    where the parser stopped. The text is read only up to there."""
    if error.source is None or not error.positions:
        return False
    at = next(iter(error.positions))
    lexer = Lexer(error.source)
    count = 0
    try:
        while True:
            token = lexer.advance()
            skipped = lexer.last_token.next
            while skipped is not None and skipped is not token:  # comments the lexer skipped over
                count += 1
                if count > max_tokens:
                    return bool(skipped.start <= at)
                skipped = skipped.next
            if token.kind is TokenKind.EOF:
                return False
            count += 1
            if count > max_tokens:
                return bool(token.start <= at)
            if token.start > at:
                return False
    except GraphQLSyntaxError:  # the text cannot be read before the limit: a syntax error, not the limit
        return False


def edge_error_body(exc: CasebridgeError) -> bytes:
    """The body of an error answered at the edge, before GraphQL ran: no `data` (GraphQL over HTTP)."""
    return json.dumps({"errors": [{"message": exc.message, "extensions": exc.extensions}]}).encode()
