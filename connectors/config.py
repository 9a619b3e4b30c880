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
    # `casebridge hmis import`: rows that cannot be used are quarantined and the rest imported, unless a file has
    # more than this share of them (or the import is strict: then any one refuses the whole export)
    import_max_quarantined_share: float = Field(default=0.05, ge=0, le=1)
    import_strict: bool = False


class EdfiDescriptors(BaseModel):
    """Ed-Fi descriptor code values (the part after '#') and what they mean here: namespaces differ by state."""

    transferred: list[str] = ["Transferred"]  # ExitWithdrawTypeDescriptor values that mean a transfer
    homeless_programs: list[str] = ["Homeless"]  # ProgramTypeDescriptor values of McKinney-Vento programs
    nighttime_residence: dict[str, str] = {
        "Shelters": "SHELTER", "Doubled-up": "DOUBLED_UP", "Hotels/motels": "HOTEL_MOTEL",
        "Unsheltered": "UNSHELTERED",
    }
    sex: dict[str, str] = {"Female": "F", "Male": "M"}
    # AddressTypeDescriptor / TelephoneNumberTypeDescriptor code values that mean "where the family lives / is
    # reached", best first (a state may code the physical address "M" or "Physical"; a mailing P.O. box is not)
    home_address_types: list[str] = ["Home", "Physical"]
    home_phone_types: list[str] = ["Home", "Mobile"]
    # studentIndicators (on the education organisation association) whose indicatorName means "this family opted
    # out of directory information": name, address and phone are then not for release (none by default: the
    # name is the district's own, e.g. "FERPA Directory Opt Out")
    directory_opt_out_indicators: list[str] = []


class SchoolingConfig(BaseModel):
    """How to reach the school district's Ed-Fi ODS/API v7."""

    enabled: bool = True
    base_url: HttpUrl = HttpUrl("http://127.0.0.1:8102")
    # ODS/API v7 puts a tenant and/or school-year segment ("district-a/2025") in front of every route: the
    # token endpoint, the data and the change queries alike
    route_context: str = ""
    data_path: str = "/data/v3/ed-fi"
    organization: str = "DOE"
    source: str = "edfi"
    client_id: str = "casebridge"
    client_secret: SecretStr = SecretStr("dev-edfi-secret")
    timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    page_size: int = Field(default=500, ge=1, le=500)  # the API's maximum limit
    concurrency: int = Field(default=8, ge=1, le=64)  # students fetched at once
    descriptors: EdfiDescriptors = EdfiDescriptors()
