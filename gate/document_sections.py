"""The sections a document file is in, as the gate decides reads of them: its holder's documents section of the
client, and - for a kind the checklists mark sensitive (immigration papers: resolvers/sensitive.py) - that
category's section of the same holder too. Whoever may see a file, review it or download it needs every one of
them; the desk and the review list ask here, so that the rule is written once.
"""

from __future__ import annotations

from collections.abc import Sequence

from checklists.config import Checklists
from core.principal import RequestContext
from core.vocabulary import Category
from gate.gate import Gate
from policies.decisions import Decision, Resource

FileKey = tuple[str, str, str]  # (client id, the file's holder, its document kind)
Seen = tuple[tuple[Resource, Decision], ...]  # a file's sections with the read decision on each, documents first


async def file_sections(gate: Gate, checklists: Checklists, source: str, ctx: RequestContext,
                        files: Sequence[FileKey]) -> list[Seen]:
    """For each of `files`, the sections it is in with `ctx`'s read decision on each (one decision step for
    all)."""
    asked = [(Resource(c, Category.DOCUMENTS, h, source, held_here=True), *(
        (Resource(c, category, h, source, held_here=True),) if (category := checklists.sensitive(d)) is not None
        else ())) for c, h, d in files]
    decided = iter(await gate.decide(ctx, [r for rs in asked for r in rs]))
    return [tuple((r, next(decided)) for r in rs) for rs in asked]


def seen(sections: Seen) -> bool:
    """Whether every section a file is in may be seen."""
    return all(d.permit for _, d in sections)
