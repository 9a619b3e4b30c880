"""One settings object, read from the environment (prefix CASEBRIDGE_, nested with __).

Examples: CASEBRIDGE_DATABASE_URL, CASEBRIDGE_ENVIRONMENT=production,
CASEBRIDGE_AUTH__JWKS_URL, CASEBRIDGE_AUTH__ROLES_CLAIM=realm_access.roles,
CASEBRIDGE_BENEFITS__BASE_URL, CASEBRIDGE_TELEMETRY__EXPORTER=otlp.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, HttpUrl, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from checklists.files import DocumentSettings
from connectors.config import BenefitsConfig, HousingConfig, SchoolingConfig
from connectors.federation import FederationPolicy
from connectors.webhooks import WebhookSettings
from core.vocabulary import LegalBasis
from gate.referral_desk import ReferralSettings
from notify.config import NotifySettings

DEV_ISSUER = "casebridge-dev"
DEV_AUDIENCE = "urn:casebridge:gateway"  # an absolute URI: OAuth resource indicators (RFC 8707) must be


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class AuthSettings(BaseModel):
    """Bearer JWT validation and the mapping of claims to a Principal.

    With neither `jwks_url` nor `jwks_file`, the gateway signs and checks its own
    development tokens with `dev_key_file` — refused in production.
    """

    issuer: str = DEV_ISSUER
    audience: str = DEV_AUDIENCE
    jwks_url: HttpUrl | None = None
    jwks_file: Path | None = None
    jwks_cache_seconds: float = Field(default=600, ge=0)
    jwks_min_refetch_seconds: float = Field(default=30, ge=0)
    algorithms: list[Literal["RS256", "ES256"]] = ["RS256", "ES256"]
    leeway_seconds: int = Field(default=30, ge=0, le=300)
    # Where the claims live: dotted paths, because Keycloak (realm_access.roles),
    # Entra ID (roles) and Okta (groups) each put roles somewhere else.
    subject_claim: str = "sub"
    organization_claim: str = "org"
    roles_claim: str = "roles"
    client_claim: str = "azp"
    self_client_claim: str = "casebridge_client_id"  # for the client role: which casebridge client they are
    role_prefix: str = ""  # e.g. "casebridge-" when the IdP's role names are namespaced
    dev_key_file: Path = Path("var/dev-signing-key.json")

    @property
    def uses_dev_keys(self) -> bool:
        """Whether tokens are checked against the gateway's own development key."""
        return self.jwks_url is None and self.jwks_file is None


def _public_https(url: str) -> bool:
    """An https URL whose host is not this machine's loopback."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and host not in ("localhost", "::1") and not host.startswith("127.")


class ConsoleSettings(BaseModel):
    """The web console at /app: where it signs people in (OpenID Connect, authorization code with PKCE).

    The console is a public client of the city's OpenID provider; the access tokens it obtains are checked by
    the gateway like any other (`auth`). `oidc_issuer` defaults to `auth.issuer` when that is a URL.
    """

    enabled: bool = True
    oidc_issuer: HttpUrl | None = None
    client_id: str = "casebridge-console"
    scope: str = "openid profile"
    # a resource indicator (RFC 8707) asked for with the token; default: the gateway's audience
    resource: str | None = None
    # the city's organisations by code, with the name a client knows them by: what a consent form offers to tick
    organizations: dict[str, str] = {}


class TelemetrySettings(BaseModel):
    """Where spans go: nowhere, the console, or an OTLP/HTTP collector."""

    exporter: Literal["off", "console", "otlp"] = "off"
    otlp_endpoint: HttpUrl | None = None
    service_name: str = "casebridge"


class AuditSettings(BaseModel):
    """The access log: checkpoint signing, cadence, retention."""

    # None: a development key kept in var/ (refused in production: name the key file explicitly)
    signing_key_file: Path | None = None
    checkpoint_every: int = Field(default=1000, ge=1)
    retention_days: int = Field(default=2557, ge=1)  # seven years
    archive_dir: Path = Path("var/audit-archive")
    # Where the gateway keeps witnessed checkpoints outside the database (JSON lines, append-only; audit/witness.py),
    # and how often it signs where the chain ends (besides every `checkpoint_every` events). 0: never.
    witness_file: Path | None = None
    witness_every_seconds: float = Field(default=300.0, ge=0, le=86_400)

    @property
    def key_path(self) -> Path:
        """The signing key file actually used."""
        return self.signing_key_file or Path("var/audit-signing-key.json")


class LimitSettings(BaseModel):
    """GraphQL document limits."""

    max_depth: int = Field(default=10, ge=2, le=50)
    max_tokens: int = Field(default=2000, ge=100, le=100_000)
    max_aliases: int = Field(default=15, ge=1, le=1000)
    cache_size: int = Field(default=512, ge=0)
    # a request body past this is refused (413) before it is read whole
    max_body_bytes: int = Field(default=1_000_000, ge=1_000, le=100_000_000)
    # searchClients answers after a whole number of these milliseconds: its time must not tell whether the
    # person is in the index (gate.identity_desk.SEARCH_QUANTUM_MS says what it hides)
    search_quantum_ms: float = Field(default=25.0, ge=0, le=1000)


class Settings(BaseSettings):
    """Everything configurable about a gateway replica, validated at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="CASEBRIDGE_", env_nested_delimiter="__", extra="forbid", validate_default=True,
    )

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///./var/casebridge.db"
    graphiql: bool | None = None  # default: on in development, off in production
    introspection: bool | None = None  # default: on in development, off in production
    public_url: str = "http://127.0.0.1:8000"
    auth: AuthSettings = AuthSettings()
    console: ConsoleSettings = ConsoleSettings()
    benefits: BenefitsConfig = BenefitsConfig()
    housing: HousingConfig = HousingConfig()
    schooling: SchoolingConfig = SchoolingConfig()
    federation: FederationPolicy = FederationPolicy()
    telemetry: TelemetrySettings = TelemetrySettings()
    audit: AuditSettings = AuditSettings()
    limits: LimitSettings = LimitSettings()
    notify: NotifySettings = NotifySettings()
    # the city's checklists (goals and the documents each needs); None: the ones shipped (checklists/checklists.json)
    checklists_file: Path | None = None
    # the city's service plan goals (plans/catalogue.json shape); None: the ones shipped
    plans_file: Path | None = None
    # files sent against checklists: limits, the blob store, retention, scan (checklists/files.py)
    documents: DocumentSettings = DocumentSettings()
    # referrals to directory services: which organisation answers for which, how long they wait (gate/referral_desk)
    referrals: ReferralSettings = ReferralSettings()
    # calls to partner systems when their referrals change (connectors/webhooks.py, notify/webhooks.py)
    webhooks: WebhookSettings = WebhookSettings()
    gate_deadline_seconds: float = Field(default=10.0, gt=0, le=120)
    # Legal bases for access without consent -> the organisations the city names as appropriate parties for
    # each (e.g. {"ferpa-99.36": ["DHS", "ACS"]}: parties with a role in a health-or-safety emergency).
    # A basis no organisation is named for opens nothing. The policies read it as Organization.appropriate_for.
    appropriate_parties: dict[LegalBasis, list[str]] = {}

    def appropriate_party_bases(self) -> dict[str, list[str]]:
        """Organisation -> the legal bases it is an appropriate party for (what the policies look up)."""
        out: dict[str, list[str]] = {}
        for basis, orgs in self.appropriate_parties.items():
            for org in orgs:
                out.setdefault(org.strip(), []).append(basis.value)
        return out

    @property
    def is_development(self) -> bool:
        """Whether this is a development gateway."""
        return self.environment is Environment.DEVELOPMENT

    @property
    def graphiql_enabled(self) -> bool:
        """GraphiQL is served only when asked for or in development."""
        return self.is_development if self.graphiql is None else self.graphiql

    @property
    def introspection_enabled(self) -> bool:
        """Introspection is allowed only when asked for or in development."""
        return self.is_development if self.introspection is None else self.introspection

    @model_validator(mode="after")
    def _production_is_locked_down(self) -> Settings:
        if self.environment is not Environment.PRODUCTION:
            return self
        problems = []
        if self.auth.uses_dev_keys:
            problems.append("auth uses the development signing key: set CASEBRIDGE_AUTH__JWKS_URL or __JWKS_FILE")
        if self.auth.issuer == DEV_ISSUER:
            problems.append("auth issuer is the development issuer: set CASEBRIDGE_AUTH__ISSUER")
        if self.graphiql:
            problems.append("GraphiQL is on: unset CASEBRIDGE_GRAPHIQL")
        if self.introspection:
            problems.append("introspection is on: unset CASEBRIDGE_INTROSPECTION")
        if self.benefits.enabled and self.benefits.client_secret.get_secret_value() == "dev-benefits-secret":
            problems.append("the benefits connector uses the development client secret")
        if self.schooling.enabled and self.schooling.client_secret.get_secret_value() == "dev-edfi-secret":
            problems.append("the schooling connector uses the development client secret")
        for what, url in (("auth issuer", self.auth.issuer), ("JWKS URL", self.auth.jwks_url),
                          ("console OpenID issuer", self.console.oidc_issuer)):
            if url is not None and not _public_https(str(url)) and (what != "auth issuer" or self.console.enabled):
                problems.append(f"the {what} is not an https address off this machine (a development provider?)")
        if (self.console.oidc_issuer is not None
                and str(self.console.oidc_issuer).rstrip("/") != self.auth.issuer.rstrip("/")):
            problems.append("the console signs in with another issuer than the one the gateway checks tokens from")
        if self.audit.signing_key_file is None:
            problems.append("the access log would be signed with a development key: set "
                            "CASEBRIDGE_AUDIT__SIGNING_KEY_FILE")
        if self.telemetry.exporter == "otlp" and self.telemetry.otlp_endpoint is None:
            problems.append("telemetry exporter is otlp but no otlp_endpoint is set")
        if self.notify.enabled:
            problems.extend(self.notify.production_problems())
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self
