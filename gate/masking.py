"""The mask step: keep only the records a consent's periods of data cover.

Each canonical record type says which date places it in time. Records with no
date, and record types this module does not know, are left out when a period
applies (fail closed). Identity basics are not dated data and are kept whole.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from connectors.held import CaseNote, ContactPoint, ContactPreference, SentMessage
from connectors.held_legal import LegalMilestone
from connectors.records import (
    Appointment,
    BenefitCase,
    BenefitProgram,
    Demographics,
    HousingEnrollment,
    RequiredDocument,
    SchoolingRecord,
)

Period = tuple[date | None, date | None]


def within_periods(data: Any, periods: Sequence[Period]) -> Any:
    """`data` (a section's records) limited to `periods`."""
    if data is None or isinstance(data, Demographics):
        return data
    if isinstance(data, list):
        kept = [_limit(item, periods) for item in data]
        return [item for item in kept if item is not None]
    return None


def _limit(item: Any, periods: Sequence[Period]) -> Any:
    if isinstance(item, CaseNote):
        return item if _inside(item.created_at.date(), periods) else None
    if isinstance(item, Appointment):
        return item if _inside(item.scheduled_at.date(), periods) else None
    if isinstance(item, RequiredDocument):
        return item if _inside(item.due_on, periods) else None
    if isinstance(item, HousingEnrollment):  # a stay belongs to a period it overlaps; its answers to their day's
        if not _spans(item.entry_date, item.exit_date, periods):
            return None
        return dataclasses.replace(item, employment=tuple(
            e for e in item.employment if _inside(e.information_date, periods)))
    if isinstance(item, LegalMilestone):  # a step of the case belongs to its day
        return item if _inside(item.occurred_on, periods) else None
    if isinstance(item, SchoolingRecord):  # enrollments, transfers and program spells inside the periods
        enrollments = tuple(e for e in item.enrollments if _spans(e.entry_date, e.exit_date, periods))
        transfers = tuple(t for t in item.transfers if _inside(t.exit_date, periods))
        homeless = tuple(h for h in item.homeless if _spans(h.begin_date, h.end_date, periods))
        if not (enrollments or transfers or homeless):
            return None
        current = item.current_school if any(e.exit_date is None for e in enrollments) else None
        return dataclasses.replace(item, enrollments=enrollments, transfers=transfers, homeless=homeless,
                                   current_school=current, current_grade=item.current_grade if current else None)
    if isinstance(item, BenefitCase):
        programs = tuple(p for p in item.programs if _overlaps(p, periods))
        notices = tuple(n for n in item.notices if _inside(n.issued_on, periods))
        if not programs and not notices:
            return None
        return dataclasses.replace(item, programs=programs, notices=notices)
    if isinstance(item, SentMessage):  # a message belongs to the period it was (to be) sent in
        return item if _inside((item.sent_at or item.send_after).date(), periods) else None
    if isinstance(item, ContactPoint | ContactPreference):  # where to reach the person now, like identity: undated
        return item
    return None  # a kind of record with no rule here is not shown (fail closed): each held kind needs its line


def _inside(day: date | datetime | None, periods: Sequence[Period]) -> bool:
    if day is None:
        return False
    return any((start is None or day >= start) and (end is None or day <= end) for start, end in periods)


def _spans(lo: date, hi: date | None, periods: Sequence[Period]) -> bool:
    """Whether [lo, hi] (hi None: still open) overlaps a period."""
    return any((end is None or lo <= end) and (start is None or hi is None or hi >= start) for start, end in periods)


def _overlaps(program: BenefitProgram, periods: Sequence[Period]) -> bool:
    lo, hi = program.certification_start, program.certification_end
    if lo is None and hi is None:
        return False
    return any((end is None or lo is None or lo <= end) and (start is None or hi is None or hi >= start)
               for start, end in periods)


__all__ = ["within_periods"]
