"""Who else is in a client's household in the shelter system's records: the clients linked to the other
PersonalIDs of the same HMIS HouseholdIDs. Candidates only - what anyone is shown of them is the gate's to decide
(gate/plan_desk.PlanDesk.household reads each one's housing section through it)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select

from store.reads import Reads
from store.tables import HmisEnrollment, SourceLink

MAX_HOUSEHOLDS = 20  # a client's households in the snapshot (one per stay at most); more is not a household
_E = HmisEnrollment
_MEMBERS = (select(SourceLink.client_id, _E.household_id)
            .join(SourceLink, (SourceLink.source == _E.source) & (SourceLink.local_id == _E.personal_id))
            .where(_E.source == bindparam("src"), _E.household_id.in_(bindparam("hh", expanding=True)))
            .distinct())


class HmisHouseholds:
    """The candidates of a household, from the imported HMIS snapshot and the crosswalk."""

    def __init__(self, reads: Reads, source: str) -> None:
        self._reads = reads
        self._source = source

    async def candidates(self, household_ids: Sequence[str]) -> dict[str, set[str]]:
        """The clients linked to a record of any of `household_ids`, each with the household ids it shares."""
        wanted = sorted(set(household_ids))[:MAX_HOUSEHOLDS]
        if not wanted:
            return {}
        out: dict[str, set[str]] = {}
        for row in await self._reads.rows(_MEMBERS, {"src": self._source, "hh": wanted}):
            out.setdefault(str(row.client_id), set()).add(str(row.household_id))
        return out
