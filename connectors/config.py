"""Connector configuration (plain pydantic models; api/settings.py composes them)."""

from __future__ import annotations

from pydantic import BaseModel, Field, HttpUrl, SecretStr


class BenefitsConfig(BaseModel):
    """How to reach the benefits agency API (docs/benefits-api.openapi.json)."""

    enabled: bool = True
    base_url: HttpUrl = HttpUrl("http://127.0.0.1:8101")
    organization: str = "HRA"
    source: str = "benefits"
    client_id: str = "casebridge"
    client_secret: SecretStr = SecretStr("dev-benefits-secret")
    timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    batch_size: int = Field(default=100, ge=1, le=100)


class HousingConfig(BaseModel):
    """The housing connector: the snapshot of an HMIS CSV export imported with `casebridge hmis import`."""

    enabled: bool = True
    organization: str = "DHS"
    source: str = "hmis"  # the crosswalk's source key and the snapshot's name
    timeout_seconds: float = Field(default=3.0, gt=0, le=60)
