"""Documents whose mere existence tells another category's secret (issue 20, acceptance review item 12).

Immigration papers - the IMMIGRATION_DOCUMENTS kind, and the agencies' records by the codes it is known as (HRA's
IMMIGRATION_STATUS, an I_94) - sit in the `documents` category, which a break-glass read or a consent naming
documents opens, while `immigration_legal` stays closed to both. So a copy of a kind the checklists mark
`sensitive` is shown - in the documents section and in a checklist, as an agency's record, a request or a file -
only where the gate also permits that category for the same client and holder. Those decisions are Cedar's like
every other (the read rules of policies/casebridge.cedar, for a Section of that category), asked through the gate
only for holders that have such a copy among what was shown, and logged as one read event with a section per
decision: an auditor sees which withheld them, the caller sees nothing of them - no item, no count.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from audit.access_records import action_record
from checklists.config import Checklists
from connectors import records as rec
from connectors.held_documents import DocumentRecord, SentFile
from core.vocabulary import Action, Category
from gate.disclosure import SectionResult
from gate.gate import section_outcome
from policies.decisions import Resource
from resolvers.context import Context

Found = list[tuple[SectionResult, Any]]
_CACHE = "sensitive-documents"
_Key = tuple[Category, str, bool]  # a category, a holder, and whether the copy is held here


def kind_code(item: Any) -> str | None:
    """The code a document item is of: an agency's record's own code, or the kind of a record or file held here."""
    if isinstance(item, rec.RequiredDocument):
        return item.type
    if isinstance(item, DocumentRecord | SentFile):
        return item.document
    return None


async def without_sensitive(ctx: Context, client_id: str, found: Found, lists: Checklists) -> Found:
    """`found` (each item with the documents part it was shown in) without the items of a sensitive kind whose
    holder the gate does not also let the caller see that kind's category for; the decisions logged once per
    request and client."""
    asked: dict[_Key, str] = {}  # by category, holder and whether held here: the connector
    for part, item in found:
        category = _sensitive(lists, item)
        if category is not None:
            asked[(category, part.holder, not isinstance(item, rec.RequiredDocument))] = part.connector
    if not asked:
        return found
    allowed = await _decided(ctx, client_id, asked)

    def kept(part: SectionResult, item: Any) -> bool:
        category = _sensitive(lists, item)
        return category is None or (category, part.holder, not isinstance(item, rec.RequiredDocument)) in allowed

    return [(p, i) for p, i in found if kept(p, i)]


def _sensitive(lists: Checklists, item: Any) -> Category | None:
    code = kind_code(item)
    return lists.sensitive(code) if code is not None else None


async def _decided(ctx: Context, client_id: str, asked: dict[_Key, str]) -> set[_Key]:
    """Those of `asked` permitted, decided through the gate and logged; asked once per request for a client (a
    documents section beside a checklist decides them once)."""
    cache: dict[tuple[str, _Key], bool] = ctx.loaders.setdefault(_CACHE, {})
    new = sorted(k for k in asked if (client_id, k) not in cache)
    if new:
        resources = [Resource(client_id, category, holder, asked[(category, holder, here)], held_here=here)
                     for category, holder, here in new]
        decisions = await ctx.gate.decide(ctx.request, resources)
        relied = [d for d in decisions if d.permit and d.legal_basis]
        await ctx.gate.record([action_record(
            ctx.request, Action.READ, client_id, detail="documents of a sensitive kind",
            sections=tuple(section_outcome(r.category, r.connector, r.holder, d,
                                           "disclosed" if d.permit else "withheld")
                           for r, d in zip(resources, decisions, strict=True)),
            legal_basis=relied[0].legal_basis if relied else None,
            justification=relied[0].justification if relied else None,
            break_glass=any(d.break_glass for d in relied))])
        for key, d in zip(new, decisions, strict=True):
            cache[(client_id, key)] = d.permit
    return {k for k in asked if cache[(client_id, k)]}


def parts_found(parts: Iterable[SectionResult]) -> Found:
    """Every item of these parts, with its part."""
    return [(p, i) for p in parts for i in p.data]
