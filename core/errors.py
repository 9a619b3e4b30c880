"""One error hierarchy with stable codes.

Every error a caller can see is one of these; `resolvers/errors.py` and
`api/middleware.py` translate them (and only them) into GraphQL
`extensions.code` or an HTTP status (`http_status`, for errors raised before
GraphQL runs). Anything else is a bug and is masked.

    CasebridgeError
    ├── AuthenticationError      UNAUTHENTICATED          (HTTP 401)
    ├── PermissionDenied         FORBIDDEN
    ├── InvalidInput             BAD_USER_INPUT
    │   └── PurposeRequired      PURPOSE_REQUIRED
    ├── PurposeNotAllowed        PURPOSE_NOT_ALLOWED
    ├── PayloadTooLarge          PAYLOAD_TOO_LARGE        (HTTP 413)
    ├── ClientNotFound           CLIENT_NOT_FOUND
    ├── RecordNotFound           RECORD_NOT_FOUND
    ├── ReviewItemNotFound       REVIEW_ITEM_NOT_FOUND
    ├── ConsentNotFound          CONSENT_NOT_FOUND
    ├── AgencyError              (carries the connector name)
    │   ├── AgencyUnavailable    AGENCY_UNAVAILABLE
    │   ├── AgencyTimeout        AGENCY_TIMEOUT
    │   ├── AgencyBadData        AGENCY_BAD_DATA
    │   ├── AgencyNotFound       AGENCY_NOT_FOUND
    │   └── AgencyAuthFailed     AGENCY_AUTH_FAILED
    ├── AuditUnavailable         AUDIT_UNAVAILABLE
    ├── DocumentsUnavailable     DOCUMENTS_UNAVAILABLE    (HTTP 503)
    └── ConfigurationError       CONFIGURATION_INVALID

Messages never carry personal data: ids, category and connector names only.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from core.vocabulary import member_of


class ErrorCode(StrEnum):
    """The code of each error below, and INTERNAL for anything masked (the schema's ErrorCode;
    tests/test_errors.py keeps the two in step). Errors about the GraphQL document itself carry codes of their
    own besides (GRAPHQL_PARSE_FAILED, QUERY_TOO_LARGE, ...: resolvers/errors.py and resolvers/limits.py)."""

    INTERNAL = "INTERNAL"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    PURPOSE_REQUIRED = "PURPOSE_REQUIRED"
    PURPOSE_NOT_ALLOWED = "PURPOSE_NOT_ALLOWED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    CLIENT_NOT_FOUND = "CLIENT_NOT_FOUND"
    RECORD_NOT_FOUND = "RECORD_NOT_FOUND"
    REVIEW_ITEM_NOT_FOUND = "REVIEW_ITEM_NOT_FOUND"
    CONSENT_NOT_FOUND = "CONSENT_NOT_FOUND"
    AGENCY_ERROR = "AGENCY_ERROR"
    AGENCY_UNAVAILABLE = "AGENCY_UNAVAILABLE"
    AGENCY_TIMEOUT = "AGENCY_TIMEOUT"
    AGENCY_BAD_DATA = "AGENCY_BAD_DATA"
    AGENCY_NOT_FOUND = "AGENCY_NOT_FOUND"
    AGENCY_AUTH_FAILED = "AGENCY_AUTH_FAILED"
    AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"
    DOCUMENTS_UNAVAILABLE = "DOCUMENTS_UNAVAILABLE"
    CONFIGURATION_INVALID = "CONFIGURATION_INVALID"


def error_code(code: str | None) -> ErrorCode | None:
    """A code as the enum (one stored before a code was renamed, or none: None)."""
    return member_of(ErrorCode, code)


class CasebridgeError(Exception):
    """Base of every error a caller may see; `code` is stable, `message` is for people."""

    code: ClassVar[str] = "INTERNAL"
    http_status: ClassVar[int] = 400
    default_suggestion: ClassVar[str | None] = None

    def __init__(self, message: str, *, suggestion: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.suggestion = suggestion or self.default_suggestion
        self.details = details

    @property
    def extensions(self) -> dict[str, Any]:
        """The GraphQL `extensions` object for this error."""
        ext: dict[str, Any] = {"code": self.code, **self.details}
        if self.suggestion:
            ext["suggestion"] = self.suggestion
        return ext


class AuthenticationError(CasebridgeError):
    code = "UNAUTHENTICATED"
    http_status = 401
    default_suggestion = "Send a valid bearer token: Authorization: Bearer <jwt>."


class PermissionDenied(CasebridgeError):
    code = "FORBIDDEN"
    http_status = 403


class InvalidInput(CasebridgeError):
    code = "BAD_USER_INPUT"


class PurposeRequired(InvalidInput):
    code = "PURPOSE_REQUIRED"
    default_suggestion = (
        "Send the purpose of use in the X-Purpose-Of-Use header, "
        "e.g. X-Purpose-Of-Use: case_management."
    )


class PurposeNotAllowed(CasebridgeError):
    """The operation is allowed to the caller, but not for the purpose of use they sent."""

    code = "PURPOSE_NOT_ALLOWED"
    http_status = 403


class PayloadTooLarge(CasebridgeError):
    """A request body past the configured limit: refused before it is read whole."""

    code = "PAYLOAD_TOO_LARGE"
    http_status = 413
    default_suggestion = "Send a smaller request; GraphQL documents and variables are small."


class ClientNotFound(CasebridgeError):
    code = "CLIENT_NOT_FOUND"
    http_status = 404


class RecordNotFound(CasebridgeError):
    """No agency record with this source and local id is in the identity index."""

    code = "RECORD_NOT_FOUND"
    http_status = 404


class ReviewItemNotFound(CasebridgeError):
    code = "REVIEW_ITEM_NOT_FOUND"
    http_status = 404


class ConsentNotFound(CasebridgeError):
    code = "CONSENT_NOT_FOUND"
    http_status = 404


class AgencyError(CasebridgeError):
    """An agency (connector) failed; the rest of the response is still good."""

    code = "AGENCY_ERROR"
    http_status = 502

    def __init__(self, message: str, *, connector: str, **details: Any) -> None:
        super().__init__(message, connector=connector, **details)
        self.connector = connector


class AgencyUnavailable(AgencyError):
    code = "AGENCY_UNAVAILABLE"


class AgencyTimeout(AgencyError):
    code = "AGENCY_TIMEOUT"


class AgencyBadData(AgencyError):
    code = "AGENCY_BAD_DATA"


class AgencyNotFound(AgencyError):
    """The agency's API has no such route (HTTP 404): a base URL or route context that does not fit it."""

    code = "AGENCY_NOT_FOUND"
    default_suggestion = "Check the connector's base URL and route context (tenant, school year)."


class AgencyAuthFailed(AgencyError):
    code = "AGENCY_AUTH_FAILED"


class AuditUnavailable(CasebridgeError):
    code = "AUDIT_UNAVAILABLE"
    http_status = 503
    default_suggestion = "The access log cannot be written, so no client data is released. Retry later."


class DocumentsUnavailable(CasebridgeError):
    """The files' store (or the virus scan it needs) cannot keep or give a file now: nothing was kept."""

    code = "DOCUMENTS_UNAVAILABLE"
    http_status = 503
    default_suggestion = "Nothing was kept. Try again later."


class ConfigurationError(CasebridgeError):
    code = "CONFIGURATION_INVALID"
