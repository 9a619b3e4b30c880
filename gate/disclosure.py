"""What the gate hands back: per client, per category, per agency, shown / withheld / failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.errors import AgencyError
from core.vocabulary import Category
from policies.decisions import Decision


class SectionStatus(StrEnum):
    SHOWN = "SHOWN"
    WITHHELD = "WITHHELD"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class SectionResult:
    """One category from one agency for one client.

    A withheld section carries no data and no as-of time, so it looks the same
    whether or not the agency holds anything about the client.
    """

    category: Category
    connector: str
    holder: str
    status: SectionStatus
    decision: Decision
    as_of: datetime | None = None
    data: Any = None
    error: AgencyError | None = None


@dataclass(slots=True)
class Disclosure:
    """Everything the gate released (or withheld) about one client in one request."""

    client_id: str
    sections: dict[Category, list[SectionResult]] = field(default_factory=dict)
    # items of a shown section that tell another category too (immigration papers among documents): by (that
    # category, the holder, held here), whether the caller may see it - decided and logged with the rest
    # (Gate's `tells`); an item whose key is missing is not shown
    companions: dict[tuple[Category, str, bool], bool] = field(default_factory=dict)

    def parts(self, category: Category) -> list[SectionResult]:
        """The per-agency results for `category` (empty if it was not asked for)."""
        return self.sections.get(category, [])
