"""Files beside GraphQL: `POST /documents?clientId=…&document=…` sends a file against a checklist, `GET
/documents/<fileId>` fetches one. Authenticated like /graphql (a bearer token and X-Purpose-Of-Use, checked by
the edge before anything is read), each one gate operation (gate/document_desk.py) with its access-log event.

Why not a GraphQL multipart request, nor a signed upload URL: /graphql takes one well-formed JSON document of at
most a megabyte and refuses anything else before any work (api/http.py); a multipart body there would be a second
way in, megabytes large, and one browsers send cross-site without a preflight (strawberry's CSRF note). A signed
URL is a credential of its own that ends up in browser histories and proxy logs; every caller here already has a
token. So the body of the POST is the file itself, of any declared type: what it is, is read from its bytes.
Everything else about documents (requests, reviews, the checklist) is GraphQL.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from api.services import Services
from checklists.files import EXTENSIONS
from connectors.held_documents import SentFile
from core.errors import CasebridgeError, PayloadTooLarge
from core.principal import RequestContext
from resolvers import ids
from resolvers.errors import edge_error_body

DOCUMENTS_PATH = "/documents"


def document_routes(services: Services) -> list[Route]:
    """The upload and the download."""
    desk, limit = services.documents, services.settings.documents.max_bytes

    async def upload(request: Request) -> Response:
        try:
            ctx = _context(request)
            client_id = ids.client_id(request.query_params.get("clientId", ""))
            document = request.query_params.get("document", "")  # a kind of the checklists: the desk checks
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise PayloadTooLarge(f"a file is at most {limit} bytes", limit=limit)
            sent = await desk.upload(ctx, client_id=client_id, document=document, chunks=request.stream())
        except CasebridgeError as exc:
            return _error(exc)
        return Response(json.dumps({"file": file_json(sent)}), status_code=201, media_type="application/json")

    async def download(request: Request) -> Response:
        try:
            ctx = _context(request)
            file_id = ids.uuid_id(request.path_params["file_id"], "fileId", what="document file")
            sent, path = await desk.download(ctx, file_id=file_id)
        except CasebridgeError as exc:
            return _error(exc)
        name = f"{sent.document.lower()}-{sent.sent_at.date().isoformat()}.{EXTENSIONS.get(sent.media_type, 'bin')}"
        return FileResponse(path, media_type=sent.media_type, filename=name, content_disposition_type="attachment",
                            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
                                     "Content-Security-Policy": "default-src 'none'; sandbox"})

    return [Route(DOCUMENTS_PATH, upload, methods=["POST"]),
            Route(DOCUMENTS_PATH + "/{file_id}", download, methods=["GET"])]


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
