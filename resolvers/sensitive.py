"""Documents whose mere existence tells another category's secret (issue 20, acceptance review item 12).

Immigration papers - the IMMIGRATION_DOCUMENTS kind, and the agencies' records by the codes it is known as (HRA's
IMMIGRATION_STATUS, an I_94) - sit in the `documents` category, which a break-glass read or a consent naming
documents opens, while `immigration_legal` stays closed to both. So a copy of a kind the checklists mark
`sensitive` is shown - in the documents section and in a checklist, as an agency's record, a request or a file -
only where the gate also permits that category for the same client and holder. Those decisions are Cedar's like
every other (the read rules of policies/casebridge.cedar, for a Section of that category), asked by the gate
(Gate._companions, told by `tells` which items to ask about) for the holders that have such a copy among what was
shown, and logged in the request's own read event, a section per decision: an auditor sees which withheld them,
the caller sees nothing of them - no item, no count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from checklists.config import Checklists
from connectors import records as rec
from connectors.held_documents import DocumentRecord, SentFile
from core.vocabulary import Category
from gate.disclosure import Disclosure, SectionResult

Found = list[tuple[SectionResult, Any]]


def kind_code(item: Any) -> str | None:
    """The code a document item is of: an agency's record's own code, or the kind of a record or file held here."""
    if isinstance(item, rec.RequiredDocument):
        return item.type
    if isinstance(item, DocumentRecord | SentFile):
        return item.document
    return None


def without_sensitive(disclosure: Disclosure, found: Found, lists: Checklists) -> Found:
    """`found` (each item with the documents part it was shown in) without the items of a sensitive kind whose
    holder the gate did not also let the caller see that kind's category for (decided and logged with the rest of
    the request's read: Gate._companions); an item the gate was not asked about is not shown."""

    def kept(part: SectionResult, item: Any) -> bool:
        category = _sensitive(lists, item)
        return category is None or disclosure.companions.get(
            (category, part.holder, not isinstance(item, rec.RequiredDocument)), False)

    return [(p, i) for p, i in found if kept(p, i)]


def _sensitive(lists: Checklists, item: Any) -> Category | None:
    code = kind_code(item)
    return lists.sensitive(code) if code is not None else None


def tells(lists: Checklists) -> Callable[[Category, Any], Category | None]:
    """For the gate: the category an item of a documents section tells of too (its kind's `sensitive`), if any."""
    def told(category: Category, item: Any) -> Category | None:
        return _sensitive(lists, item) if category is Category.DOCUMENTS else None
    return told


def parts_found(parts: Iterable[SectionResult]) -> Found:
    """Every item of these parts, with its part."""
    return [(p, i) for p in parts for i in p.data]
