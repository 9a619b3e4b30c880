"""Checklists as configuration (issue 20 §1): for each goal (a supportive-housing application, a shelter placement,
a benefits recertification, a school enrollment, a work-authorization application) the documents it needs, and
for each document how long a copy stays valid and the codes agencies know it by.

The city's file replaces the one shipped here (checklists/checklists.json) when `CASEBRIDGE_CHECKLISTS_FILE` names
it: a goal or a document is added by editing the file, without a release. A file that does not hold together (an
unknown document in a goal, a code that is not one, a validity that is not a number of days, a name missing in
English) refuses to load, with every problem named by where it is in the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import config_json
from core.errors import ConfigurationError
from core.vocabulary import Category

SHIPPED = Path(__file__).resolve().parent / "checklists.json"
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")
# evidence casebridge derives itself from the shelter system's records (resolvers/types.checklist_view): homeless
# now (an open shelter, outreach or safe-haven stay, or one that ended within the kind's validity), and chronically
# homeless by HUD's definition (connectors/hmis/chronic.py)
DERIVATIONS = frozenset({"hmis-homelessness", "hmis-chronic-homelessness"})
MAX_VALID_DAYS = 10 * 366
# the categories a document kind may be marked as telling (DocumentKind.sensitive): those a break-glass read or a
# consent may leave closed while documents are open
SENSITIVE = frozenset({str(Category.IMMIGRATION_LEGAL)})


@dataclass(frozen=True, slots=True)
class DocumentKind:
    """A kind of document: its words, how long a copy stays valid (None: it does not expire), the codes agencies
    use for it, and whether casebridge can derive it from records it reads."""

    code: str
    name: dict[str, str]
    valid_days: int | None
    known_as: frozenset[str]
    derived_from: str | None = None
    # a kind whose mere existence tells another category's secret (immigration papers: immigration_legal): a copy
    # of it - an agency's record by any code it is known as, a request, a file - is shown, sent, fetched or
    # reviewed only where the gate permits that category too, for the same holder (resolvers/sensitive.py)
    sensitive: Category | None = None


@dataclass(frozen=True, slots=True)
class Goal:
    """What a client works towards, and the documents it needs, in order."""

    code: str
    name: dict[str, str]
    documents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Checklists:
    """Every goal and document kind the city configured."""

    documents: dict[str, DocumentKind]
    goals: dict[str, Goal]
    # every agency code, to its kind (the first kind that lists it): asked for every documents item a read shows
    _known_as: dict[str, DocumentKind] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        known: dict[str, DocumentKind] = {}
        for kind in self.documents.values():
            for code in kind.known_as:
                known.setdefault(code, kind)
        object.__setattr__(self, "_known_as", known)

    def sensitive(self, code: str) -> Category | None:
        """The category a document kind's code, or an agency's code for one, also needs (None: documents only)."""
        kind = self.documents.get(code) or self._known_as.get(code)
        return kind.sensitive if kind is not None else None

    def kind_of(self, agency_code: str) -> DocumentKind | None:
        """The document kind an agency's code means, if any."""
        return self._known_as.get(agency_code)


def load(path: Path | None = None) -> Checklists:
    """The checklists in `path` (default: the shipped file); ConfigurationError naming every problem."""
    where = path or SHIPPED
    raw = config_json.read(where, "checklists file")
    problems: list[str] = []
    documents = _documents(raw.get("documents") if isinstance(raw, dict) else None, problems)
    goals = _goals(raw.get("goals") if isinstance(raw, dict) else None, documents, problems)
    if problems:
        more = f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise ConfigurationError(f"checklists file {where.name}: " + "; ".join(problems[:20]) + more)
    return Checklists(documents, goals)


def _name(value: Any, at: str, problems: list[str]) -> dict[str, str]:
    if not isinstance(value, dict) or not isinstance(value.get("en"), str) or not value["en"].strip():
        problems.append(f"{at}.name needs at least an English name (\"en\")")
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}


def _documents(raw: Any, problems: list[str]) -> dict[str, DocumentKind]:
    if not isinstance(raw, dict) or not raw:
        problems.append("documents: an object of document kinds by code")
        return {}
    out = {}
    claimed: dict[str, str] = {}
    for code, spec in raw.items():
        at = f"documents.{code}"
        if not _CODE.match(str(code)) or not isinstance(spec, dict):
            problems.append(f"{at}: a code is upper case letters, digits and _, and its value an object")
            continue
        days = spec.get("valid_days")
        if days is not None and (not isinstance(days, int) or isinstance(days, bool)
                                 or not 1 <= days <= MAX_VALID_DAYS):
            problems.append(f"{at}.valid_days: a whole number of days from 1 to {MAX_VALID_DAYS}, or absent")
            days = None
        known = spec.get("known_as", [code])
        if not isinstance(known, list) or not known or not all(isinstance(k, str) and _CODE.match(k) for k in known):
            problems.append(f"{at}.known_as: a list of one or more codes")
            known = [code]
        for k in known:
            if k in claimed and claimed[k] != code:
                problems.append(f"{at}.known_as: {k} is already {claimed[k]}'s")
            claimed[k] = code
        derived = spec.get("derived_from")
        if derived is not None and derived not in DERIVATIONS:
            problems.append(f"{at}.derived_from: one of {', '.join(sorted(DERIVATIONS))}")
            derived = None
        sensitive = spec.get("sensitive")
        if sensitive is not None and sensitive not in SENSITIVE:
            problems.append(f"{at}.sensitive: one of {', '.join(sorted(SENSITIVE))}, or absent")
            sensitive = None
        out[code] = DocumentKind(code, _name(spec.get("name"), at, problems), days, frozenset(known), derived,
                                 Category(sensitive) if sensitive is not None else None)
    return out


def _goals(raw: Any, documents: dict[str, DocumentKind], problems: list[str]) -> dict[str, Goal]:
    if not isinstance(raw, dict) or not raw:
        problems.append("goals: an object of goals by code")
        return {}
    out = {}
    for code, spec in raw.items():
        at = f"goals.{code}"
        if not _CODE.match(str(code)) or not isinstance(spec, dict):
            problems.append(f"{at}: a code is upper case letters, digits and _, and its value an object")
            continue
        needs = spec.get("documents")
        if not isinstance(needs, list) or not needs or not all(isinstance(d, str) for d in needs):
            problems.append(f"{at}.documents: a list of document codes")
            continue
        unknown = [d for d in needs if d not in documents]
        if unknown:
            problems.append(f"{at}.documents: {', '.join(unknown)} not among the documents")
        if len(set(needs)) != len(needs):
            problems.append(f"{at}.documents: a document is listed twice")
        out[code] = Goal(code, _name(spec.get("name"), at, problems), tuple(dict.fromkeys(needs)))
    return out
