"""GraphQL over HTTP at the edge: the request body checked before any work, and the response's media type.

A POST to /graphql carries `application/json` holding one object with a string
`query` (and optional `variables` object, `operationName` string, `extensions`
object). The body is bounded before it is read whole (413, from Content-Length
at once, or as soon as the stream passes the limit), must be UTF-8 JSON of
bounded nesting, and anything else is answered 400 with a typed error naming
what was wrong - never a 500, never a reset connection.

Responses follow the GraphQL-over-HTTP specification: a client that prefers
`application/graphql-response+json` gets it, with 4xx for request errors (a
document that does not parse or validate: nothing was executed, so there is no
`data`); a client that asks for `application/json` (or nothing) gets 200 and
the legacy shape.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Message, Receive

from core.errors import InvalidInput, PayloadTooLarge

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
MAX_NESTING = 64  # JSON arrays/objects inside each other: a GraphQL request needs a handful (variables)
_BODY_KEYS = {"query", "variables", "operationName", "extensions"}


def prefers_graphql_response(accept: str | None) -> bool:
    """Whether the Accept header prefers application/graphql-response+json to application/json."""
    if not accept:
        return False
    weights: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[media.lower()] = max(weights.get(media.lower(), 0.0), q)
    ours = weights.get(GRAPHQL_RESPONSE_JSON, 0.0)
    return ours > 0 and ours >= weights.get(JSON, 0.0)


async def read_body(receive: Receive, *, declared: str | None, limit: int) -> bytes:
    """The whole request body, or PayloadTooLarge as soon as it would pass `limit` bytes."""
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InvalidInput("the Content-Length header is not a number", reason="bad_content_length") from None
        if size > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes", limit=limit)
    chunks, total = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidInput("the client went away before the body was complete", reason="incomplete_body")
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes", limit=limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def check_request(content_type: str | None, body: bytes) -> None:
    """Refuse a body that is not one well-formed GraphQL request (InvalidInput says what is wrong, never the
    body's content)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media != JSON:
        raise InvalidInput("a GraphQL request is sent as application/json", reason="unsupported_content_type",
                           suggestion="Send Content-Type: application/json.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the request body is not UTF-8", reason="invalid_utf8") from None
    try:
        payload: Any = json.loads(text)
    except RecursionError:  # the parser's own guard, long before a megabyte could exhaust anything
        raise InvalidInput(f"the request body nests deeper than {MAX_NESTING} levels", reason="too_deep") from None
    except ValueError:
        raise InvalidInput("the request body is not valid JSON", reason="invalid_json") from None
    if _deeper_than(payload, MAX_NESTING):
        raise InvalidInput(f"the request body nests deeper than {MAX_NESTING} levels", reason="too_deep")
    if not isinstance(payload, dict):
        raise InvalidInput("the request body must be one JSON object with a query", reason="not_an_object")
    if not isinstance(payload.get("query"), str) or not payload["query"].strip():
        raise InvalidInput("the request has no query string", reason="no_query", field="query")
    for name, kind in (("variables", dict), ("operationName", str), ("extensions", dict)):
        value = payload.get(name)
        if value is not None and not isinstance(value, kind):
            raise InvalidInput(f"{name} must be {'an object' if kind is dict else 'a string'} or null",
                               reason="bad_field", field=name)
    unknown = set(payload) - _BODY_KEYS
    if unknown:
        raise InvalidInput("the request has members GraphQL over HTTP does not define", reason="unknown_member",
                           field=sorted(unknown)[0][:40])


def replay(body: bytes) -> Receive:
    """A receive channel that hands the app the body already read, then waits for the disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest deeper than `limit` levels in `value` (stops at the first that does)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
