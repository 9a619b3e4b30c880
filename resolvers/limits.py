"""Limits on a GraphQL document checked before it is validated: its cost stays small whatever the input.

graphql-core's validation compares every pair of fields that answer under the
same name in one selection set (OverlappingFieldsCanBeMerged), so a 2 KB
document repeating `schooling { students { transfers { fromSchool } } }` 190
times took 0.8-1.6 s to validate and held every other request meanwhile. A
linear walk of the parsed document refuses such a document first: too many
fields, one name repeated too often in one selection set, or too many
directives. Only documents that pass are validated (and the validation cached).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    Node,
    SelectionSetNode,
    ValuesOfCorrectTypeRule,
    validate,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from resolvers.errors import LiteralsFitTheirTypes

MAX_FIELDS = 500  # a full profile of every section is ~120 fields
MAX_REPEATS = 5  # the same response name in one selection set (fragments that overlap repeat a few)
MAX_DIRECTIVES = 20


def excess(document: DocumentNode, *, max_fields: int = MAX_FIELDS, max_repeats: int = MAX_REPEATS,
           max_directives: int = MAX_DIRECTIVES) -> str | None:
    """What makes the document too costly to validate, or None: a linear walk of its nodes."""
    fields = directives = 0
    stack: list[Node] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode):
            fields += 1
            if fields > max_fields:
                return f"the document has more than {max_fields} fields"
        elif isinstance(node, DirectiveNode):
            directives += 1
            if directives > max_directives:
                return f"the document has more than {max_directives} directives"
        if isinstance(node, SelectionSetNode):
            names = Counter((s.alias or s.name).value for s in node.selections if isinstance(s, FieldNode))
            if names and max(names.values()) > max_repeats:
                return f"a field is selected more than {max_repeats} times in one selection set"
        for key in node.keys:
            value = getattr(node, key, None)
            if isinstance(value, Node):
                stack.append(value)
            elif isinstance(value, tuple | list):
                stack.extend(v for v in value if isinstance(v, Node))
    return None


@functools.cache
def validation_cache(maxsize: int) -> Callable[..., list[GraphQLError]]:
    """The process-wide LRU of validation results for one cache size (parsed documents are cached too, so a
    repeated query text is the same document and hits)."""

    @functools.lru_cache(maxsize=maxsize)
    def validated(schema: Any, document: DocumentNode, rules: Any, hide_suggestions: bool) -> list[GraphQLError]:
        return validate(schema, document, rules, hide_suggestions=hide_suggestions)

    return validated


class BoundedValidation(SchemaExtension):
    """Validation behind the limits above, cached: a document past them is refused without validating it. With
    `suggestions` off (production) an unknown field is not answered with the names it resembles."""

    def __init__(self, *, maxsize: int = 512, suggestions: bool = True) -> None:
        super().__init__()
        self._validate = validation_cache(maxsize)
        self._hide = not suggestions

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        assert ctx.graphql_document is not None
        problem = excess(ctx.graphql_document)
        if problem is not None:
            ctx.pre_execution_errors = [GraphQLError(problem, extensions={
                "code": "QUERY_TOO_COMPLEX",
                "suggestion": "Ask for each field once; split a very large request in several."})]
        else:
            # The rules strawberry's own validation would run (it adds its two), literals checked without quoting.
            rules = (*(LiteralsFitTheirTypes if r is ValuesOfCorrectTypeRule else r for r in ctx.validation_rules),
                     MaybeNullValidationRule, OneOfInputValidationRule)
            ctx.pre_execution_errors = self._validate(ctx.schema._schema, ctx.graphql_document, rules, self._hide)
        yield
