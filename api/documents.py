"""Files beside GraphQL: `POST /documents` sends a file against a checklist (the client's id and the document kind
in the headers X-Casebridge-Client-Id and X-Casebridge-Document; a client sending for themself may add
X-Casebridge-Addressed-To: organisation codes separated by commas, whom it should reach besides those it is meant
for by default), `GET /documents/<fileId>` fetches one.
Authenticated like /graphql (a bearer token and X-Purpose-Of-Use, checked by the edge before anything is read),
each one gate operation (gate/document_desk.py) with its access-log event.

Why headers and not the query string: an address is written to proxy and server logs, and a client's id beside a
kind like IMMIGRATION_DOCUMENTS says too much there. A query string is refused (naming the headers, never echoing
what it held), so a caller written for the old form learns why.

Every refusal of an upload by a caller whose token was checked is in the access log as a failed document.upload
with its reason code, as the desk logs those it refuses after the gate allowed them (gate/document_desk.py): a
declared Content-Length past the limit is refused by the desk itself, once the gate allowed the upload and before
a byte is read (the body is never read); a query string, refused before the client and the kind are read, is
logged with neither.

A download serves a copy checked against the file's digest before its first byte (checklists/blobs.py
`verified_copy`), rather than checking while streaming: a stream can only find a damaged blob at its end, when
the bytes are already with the caller and the access log already says they were downloaded; aborting then leaves
a browser with a broken file and no reason. A file is at most `max_bytes` (10 MB by default), so a local copy
costs little, and a damaged or missing blob is a clear DOCUMENTS_UNAVAILABLE instead. The copies are bounded: a
download takes one of a few slots per caller and per process until its copy is closed, so that slow downloads
cannot fill the disk uploads need (checklists/downloads.py).

Why not a GraphQL multipart request, nor a signed upload URL: /graphql takes one well-formed JSON document of at
most a megabyte and refuses anything else before any work (api/http.py); a multipart body there would be a second
way in, megabytes large, and one browsers send cross-site without a preflight (strawberry's CSRF note). A signed
URL is a credential of its own that ends up in browser histories and proxy logs; every caller here already has a
token. So the body of the POST is the file itself, of any declared type: what it is, is read from its bytes.
Everything else about documents (requests, reviews, the checklist) is GraphQL.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from api.services import Services
from checklists.downloads import HeldCopy
from checklists.files import EXTENSIONS
from connectors.held_documents import SentFile
from core.errors import CasebridgeError, InvalidInput, PayloadTooLarge
from core.principal import RequestContext
from resolvers import ids
from resolvers.errors import edge_error_body

DOCUMENTS_PATH = "/documents"
CLIENT_HEADER = "X-Casebridge-Client-Id"
DOCUMENT_HEADER = "X-Casebridge-Document"
ADDRESSED_HEADER = "X-Casebridge-Addressed-To"  # whom a client's own upload should reach (the desk checks the codes)
# what a file is served with: never rendered by the browser in the console's origin, never kept in a cache
_SERVED = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
           "Content-Security-Policy": "default-src 'none'; sandbox"}

log = logging.getLogger("casebridge.documents")


def document_routes(services: Services) -> list[Route]:
    """The upload and the download."""
    desk, limit = services.documents, services.settings.documents.max_bytes

    async def upload(request: Request) -> Response:
        try:
            ctx = _context(request)
            if request.url.query:
                # no client nor kind is read from an address: the refusal is logged with neither
                await desk.failed(ctx, None, None, "query_string")
                raise InvalidInput(
                    f"POST {DOCUMENTS_PATH} takes the client and the document kind in the headers {CLIENT_HEADER} "
                    f"and {DOCUMENT_HEADER}, not in the query string", field="query", reason="query_string",
                    suggestion=f"Send {CLIENT_HEADER}: <clientId> and {DOCUMENT_HEADER}: <document kind>, and no "
                               "query string: an address is kept in proxy and server logs.")
            client_id = ids.client_id(request.headers.get(CLIENT_HEADER, ""), CLIENT_HEADER)
            document = request.headers.get(DOCUMENT_HEADER, "")  # a kind of the checklists: the desk checks
            chosen = request.headers.get(ADDRESSED_HEADER, "")  # an empty header chooses no one
            addressed_to = [c.strip() for c in chosen.split(",")] if chosen.strip() else []
            declared = request.headers.get("content-length")
            chunks: AsyncIterator[bytes] = request.stream()
            if declared is not None and declared.isdigit() and int(declared) > limit:
                # the desk decides and counts the upload as for any other, then meets this where it would read
                # the first byte: refused and logged as a body found too large as it is read
                chunks = _refusing(PayloadTooLarge(f"a file is at most {limit} bytes", limit=limit))
            sent = await desk.upload(ctx, client_id=client_id, document=document, chunks=chunks,
                                     addressed_to=addressed_to, addressed_field=ADDRESSED_HEADER)
        except CasebridgeError as exc:
            return _error(exc)
        return Response(json.dumps({"file": file_json(sent)}), status_code=201, media_type="application/json")

    async def download(request: Request) -> Response:
        try:
            ctx = _context(request)
            file_id = ids.uuid_id(request.path_params["file_id"], "fileId", what="document file")
            sent, copy = await desk.download(ctx, file_id=file_id)
        except CasebridgeError as exc:
            return _error(exc)
        name = f"{sent.document.lower()}-{sent.sent_at.date().isoformat()}.{EXTENSIONS.get(sent.media_type, 'bin')}"
        try:
            return CheckedCopy(copy, size=sent.size, media_type=sent.media_type, filename=name)
        except BaseException:
            copy.close()  # gives back the download's slot
            raise

    return [Route(DOCUMENTS_PATH, upload, methods=["POST"]),
            Route(DOCUMENTS_PATH + "/{file_id}", download, methods=["GET"])]


class CheckedCopy(StreamingResponse):
    """A file's checked copy streamed as an attachment of its stored type; the copy is closed (and so gone) however
    the response ends - sent, or the caller gone - which gives back the download's slot (checklists/downloads.py)."""

    def __init__(self, copy: HeldCopy, *, size: int, media_type: str, filename: str) -> None:
        self._copy = copy
        self._seconds = send_seconds(size)
        quoted = quote(filename)
        disposition = (f'attachment; filename="{filename}"' if quoted == filename
                       else f"attachment; filename*=utf-8''{quoted}")
        super().__init__(_chunks(copy), media_type=media_type, headers={
            **_SERVED, "Content-Length": str(size), "Content-Disposition": disposition})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            # a caller that stops reading (its window shut, never hanging up) would hold the slot for good: the
            # response is cut off at its deadline, and the connection closed by the server
            async with asyncio.timeout(self._seconds):
                await super().__call__(scope, receive, send)
        except TimeoutError:
            log.warning("a document download was cut off: not read within %.0f s", self._seconds)
        finally:
            self._copy.close()


# How long a download may take to be read: at least a minute, and time for its size at MIN_SEND_RATE (a 10 MB file
# at 16 KiB/s: ~10 minutes) - a phone on a poor connection reads faster than that.
MIN_SEND_RATE = 16 * 1024
MIN_SEND_SECONDS = 60.0


def send_seconds(size: int) -> float:
    """The deadline for sending a file of `size` bytes."""
    return max(MIN_SEND_SECONDS, size / MIN_SEND_RATE)


async def _refusing(error: CasebridgeError) -> AsyncIterator[bytes]:
    """A body refused before a byte of it is read: `error` where its first chunk would be."""
    raise error
    yield b""  # unreached: makes this an async generator


async def _chunks(copy: HeldCopy) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(copy.read, 1 << 20):
        yield chunk


def file_json(sent: SentFile) -> dict[str, Any]:
    """A file's record as the upload answers it (the same fields as GraphQL's DocumentFile)."""
    return {"id": sent.id, "agency": sent.holder, "document": sent.document, "mediaType": sent.media_type,
            "size": sent.size, "scan": sent.scan.upper().replace("-", "_"), "sentAt": sent.sent_at.isoformat(),
            "retainUntil": sent.retain_until.isoformat()}


def _context(request: Request) -> RequestContext:
    state = request.scope["state"]
    return RequestContext(principal=state["principal"], request_id=state["request_id"], purpose=state.get("purpose"),
                          operation=f"{request.method} {DOCUMENTS_PATH}")


def _error(exc: CasebridgeError) -> Response:
    return Response(edge_error_body(exc), status_code=exc.http_status, media_type="application/json")
