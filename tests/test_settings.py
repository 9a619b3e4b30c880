"""Settings: environment variables, defaults, and a production that refuses unsafe configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from api.settings import Environment, Settings

SAFE_PRODUCTION = {
    "environment": "production",
    "auth": {"jwks_url": "https://idp.city.test/jwks", "issuer": "https://idp.city.test"},
    "benefits": {"client_secret": "from-the-vault"},
    "schooling": {"client_secret": "from-the-vault-too"},
    "audit": {"signing_key_file": "/etc/casebridge/audit-key.json"},
    "notify": {"sms": {"auth_token": "from-the-vault-three", "base_url": "https://sms.provider.test"},
               "smtp": {"host": "smtp.city.test", "security": "starttls", "password": "from-the-vault-four"}},
}


def test_development_defaults() -> None:
    s = Settings()
    assert s.environment is Environment.DEVELOPMENT
    assert s.database_url.startswith("sqlite+aiosqlite:///") and "/var/" in s.database_url
    assert s.graphiql_enabled and s.introspection_enabled and s.auth.uses_dev_keys
    assert s.auth.algorithms == ["RS256", "ES256"]


def test_environment_variables_with_nesting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEBRIDGE_DATABASE_URL", "postgresql+asyncpg://cb@db/cb")
    monkeypatch.setenv("CASEBRIDGE_AUTH__ROLES_CLAIM", "realm_access.roles")
    monkeypatch.setenv("CASEBRIDGE_BENEFITS__TIMEOUT_SECONDS", "1.5")
    monkeypatch.setenv("CASEBRIDGE_TELEMETRY__EXPORTER", "console")
    s = Settings()
    assert s.database_url == "postgresql+asyncpg://cb@db/cb"
    assert s.auth.roles_claim == "realm_access.roles"
    assert s.benefits.timeout_seconds == 1.5
    assert s.telemetry.exporter == "console"


def test_a_safe_production_configuration_starts() -> None:
    s = Settings(**SAFE_PRODUCTION)
    assert not s.graphiql_enabled and not s.introspection_enabled and not s.auth.uses_dev_keys


@pytest.mark.parametrize(("change", "complaint"), [
    ({"auth": {"issuer": "https://idp.city.test"}}, "development signing key"),
    ({"auth": {"jwks_url": "https://idp.city.test/jwks"}}, "development issuer"),
    ({"graphiql": True}, "GraphiQL"),
    ({"introspection": True}, "introspection"),
    ({"benefits": {}}, "benefits connector uses the development client secret"),
    ({"schooling": {}}, "schooling connector uses the development client secret"),
    ({"telemetry": {"exporter": "otlp"}}, "otlp_endpoint"),
    ({"audit": {}}, "CASEBRIDGE_AUDIT__SIGNING_KEY_FILE"),
    # the demo's development provider, or any provider that is not a public https address
    ({"auth": {"jwks_url": "http://127.0.0.1:8103/jwks", "issuer": "http://127.0.0.1:8103"}}, "not an https address"),
    ({"auth": {"jwks_url": "https://localhost/jwks", "issuer": "https://idp.city.test"}}, "JWKS URL is not an https"),
    ({"console": {"oidc_issuer": "https://other-idp.city.test"}}, "another issuer"),
    # the demo's SMS provider simulator and mailbox, and email to another machine in the clear
    ({"notify": {"smtp": {"host": "smtp.city.test", "security": "starttls"}}}, "SMS provider uses the demo"),
    ({"notify": {"sms": {"auth_token": "t"}, "smtp": {"host": "smtp.city.test", "security": "starttls",
                                                      "password": "demo-smtp-password"}}}, "SMTP server uses the demo"),
    ({"notify": {"sms": {"auth_token": "t"}, "smtp": {"host": "smtp.city.test"}}}, "without TLS"),
    ({"notify": {"sms": {"auth_token": "t", "base_url": "http://sms.provider.test"}}}, "not an https address"),
])
def test_production_refuses_unsafe_configuration(change: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(**{**SAFE_PRODUCTION, **change})
    assert complaint in str(info.value)


@pytest.mark.parametrize("bad", [
    {"auth": {"algorithms": ["HS256"]}},
    {"auth": {"algorithms": ["none"]}},
    {"limits": {"max_depth": 0}},
    {"environment": "staging"},
    {"unknown_setting": 1},
])
def test_invalid_values_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**bad)


def test_jwks_file_means_no_dev_keys(tmp_path: Path) -> None:
    assert not Settings(auth={"jwks_file": tmp_path / "jwks.json"}).auth.uses_dev_keys
