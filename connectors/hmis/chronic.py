"""ChronicStatus homelessness at project start, as HUD's HMIS Standard Reporting Terminology Glossary defines it
(FY2024 and FY2026 editions: "Chronically Homeless at Project Start"), from one enrollment's own entry data.

The glossary's flowchart, top to bottom, stopping at the first answer:

1. Disability: DisablingCondition 1 goes on; 0 is NO; 8 or 9 (doesn't know, prefers not to answer) is
   DONT_KNOW; 99 or nothing is MISSING. (The glossary also accepts a qualifying Disabilities.csv row; casebridge
   does not import Disabilities.csv yet, so DisablingCondition alone decides.)
2. Project type: emergency shelter (0, 1), street outreach (4) and safe haven (8) go straight to the time test.
   Any other project looks at where the person was before (LivingSituation): literally homeless (100-199) goes to
   the time test; an institution (200-299) needs a stay under 90 days (LOSUnderThreshold 1) and the streets, a
   shelter or a safe haven the night before (PreviousStreetESSH 1); anything else (0-99, 300-499) needs a stay
   under 7 nights and the same. A 0 is NO; nothing (or 99: the glossary is silent, the safer reading) MISSING.
3. Time: homeless since a date at least 365 days before entry (DateToStreetESSH) is YES; else four or more times
   in the past three years (TimesHomelessPastThreeYears 4) and 12 months or more in all (MonthsHomeless... 112,
   113) is YES; fewer is NO; 8/9 DONT_KNOW; 99/nothing MISSING.

Verification from the shelter system's own stays (`time_in_stays`): the time test above takes the client's word
(DateToStreetESSH, TimesHomelessPastThreeYears, MonthsHomelessPastThreeYears). HUD's definition itself (24 CFR
578.3, "chronically homeless"; the glossary's time test restates it) is homeless in a place not meant for human
habitation, a safe haven or an emergency shelter continuously for at least 12 months, or on at least four separate
occasions in the last 3 years totalling at least 12 months, each break between occasions at least seven
consecutive nights. Third-party evidence is the records of such stays: emergency shelter (ProjectType 0, 1),
street outreach (4) and safe haven (8). `time_in_stays` counts the nights those stays cover in the three years up
to a day: stays less than seven nights apart are one occasion (the nights between count: HUD does not call them a
break), the latest occasion of 365 nights or more is the continuous year, four or more occasions of 365 nights in
all the other way. Nights are entry to exit (an open stay up to the day counted to); a night-by-night shelter's
enrollment is read as its span (its bed nights, Services.csv, are not imported); an institutional stay under 90
days (which HUD neither counts nor calls a break) is not in the shelter system's records and is not counted. The
disabling condition is the client's word too: a program verifies it on its own (the checklists'
DISABILITY_VERIFICATION).

Not applied here: HUD's household rule (a member chronically homeless at the household's start makes every member
present at start so). It is a reporting rule; shown to whoever may see one member's stays it would tell them that
another member has a disabling condition, which that member's consent does not open. A household application
asks each adult's own status. Nor Disabilities.csv (not imported yet): DisablingCondition alone decides step 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

STREET_SHELTER_SAFE_HAVEN = frozenset({0, 1, 4, 8})  # ProjectType: ES entry/exit, ES night-by-night, SO, SH
LITERALLY_HOMELESS = range(100, 200)  # LivingSituation 101 ES, 116 place not meant for habitation, 118 SH
INSTITUTIONAL = range(200, 300)
DONT_KNOW = frozenset({8, 9})
YEAR = timedelta(days=365)
BREAK = timedelta(days=7)  # a break of at least seven consecutive nights separates two occasions
OCCASIONS = 4  # separate occasions in three years that may add up to the year


class ChronicStatus(StrEnum):
    YES = "YES"
    NO = "NO"
    DONT_KNOW = "DONT_KNOW"  # the client doesn't know or prefers not to answer
    MISSING = "MISSING"  # data not collected


@dataclass(frozen=True, slots=True)
class EntryFacts:
    """What an enrollment's entry says, by HMIS CSV field (Enrollment.csv, Project.csv)."""

    project_type: int | None
    entry_date: date
    disabling_condition: int | None
    living_situation: int | None
    los_under_threshold: int | None
    previous_street_essh: int | None
    date_to_street_essh: date | None
    times_homeless_past_three_years: int | None
    months_homeless_past_three_years: int | None


@dataclass(frozen=True, slots=True)
class Finding:
    """The answer, and the glossary's step that gave it (a code: what a caseworker reads as the reason)."""

    status: ChronicStatus
    reason: str


def chronic_at_start(f: EntryFacts) -> Finding:
    """Chronically homeless at this project's start, by the glossary's flowchart."""
    if f.disabling_condition != 1:
        return _unknown(f.disabling_condition, "disabling-condition", no="no-disabling-condition")
    if f.project_type not in STREET_SHELTER_SAFE_HAVEN:
        before = f.living_situation
        if before is None or not 0 <= before <= 499:  # none, or no code of HUD's list
            return Finding(ChronicStatus.MISSING, "living-situation-missing")
        if before not in LITERALLY_HOMELESS:
            short = "under-90-days" if before in INSTITUTIONAL else "under-7-nights"
            for value, step in ((f.los_under_threshold, short), (f.previous_street_essh, "street-or-shelter-before")):
                if value == 0:
                    return Finding(ChronicStatus.NO, f"not-{step}")
                if value != 1:
                    return Finding(ChronicStatus.MISSING, f"{step}-missing")
    return _time(f)


def _time(f: EntryFacts) -> Finding:
    if f.date_to_street_essh is not None and f.date_to_street_essh <= f.entry_date - YEAR:
        return Finding(ChronicStatus.YES, "homeless-a-year-before-entry")
    times, months = f.times_homeless_past_three_years, f.months_homeless_past_three_years
    if times in (1, 2, 3):
        return Finding(ChronicStatus.NO, "fewer-than-four-times")
    if times != 4:
        return _unknown(times, "times-homeless")
    if months in (112, 113):
        return Finding(ChronicStatus.YES, "four-times-twelve-months")
    if months is not None and 101 <= months <= 111:
        return Finding(ChronicStatus.NO, "fewer-than-twelve-months")
    return _unknown(months, "months-homeless")


def _unknown(value: int | None, what: str, *, no: str | None = None) -> Finding:
    """0 where 0 means no (`no`: the reason) is NO; 8/9 DONT_KNOW; 99, nothing, or a value that is no code,
    MISSING."""
    if no is not None and value == 0:
        return Finding(ChronicStatus.NO, no)
    if value in DONT_KNOW:
        return Finding(ChronicStatus.DONT_KNOW, f"{what}-not-known")
    return Finding(ChronicStatus.MISSING, f"{what}-missing")


@dataclass(frozen=True, slots=True)
class StayTime:
    """What the shelter system's own stays show of the time homeless in the three years up to `until`."""

    since: date  # three years before `until`
    until: date
    nights: int  # nights the stays cover from `since` to `until` (an occasion's breaks under seven nights too)
    occasions: int  # separate occasions: at least seven nights between two
    latest_nights: int  # the latest occasion's nights
    shown_on: date | None  # the first day the stays showed the time (None while they do not)

    @property
    def shows_chronic(self) -> bool:
        """A year continuously (the latest occasion), or four occasions or more adding up to a year."""
        year = YEAR.days
        return self.latest_nights >= year or (self.occasions >= OCCASIONS and self.nights >= year)


def three_years_before(day: date) -> date:
    """The same day three years before (29 February three years back is the 28th)."""
    return day.replace(year=day.year - 3, day=28 if (day.month, day.day) == (2, 29) else day.day)


def time_in_stays(stays: Iterable[tuple[date, date | None]], *, until: date) -> StayTime:
    """The nights and occasions that street, shelter and safe-haven stays (entry, exit or None while open) cover in
    the three years up to `until`; open stays count up to `until`."""
    since = three_years_before(until)
    spans = sorted((max(entry, since), min(exit_ or until, until)) for entry, exit_ in stays
                   if entry < until and (exit_ is None or exit_ > since))
    occasions: list[tuple[date, date]] = []
    for start, end in spans:
        if end <= start:  # no night inside the three years
            continue
        if occasions and start - occasions[-1][1] < BREAK:  # under seven nights apart: one occasion
            occasions[-1] = (occasions[-1][0], max(occasions[-1][1], end))
        else:
            occasions.append((start, end))
    return StayTime(since=since, until=until, nights=sum((e - s).days for s, e in occasions),
                    occasions=len(occasions),
                    latest_nights=(occasions[-1][1] - occasions[-1][0]).days if occasions else 0,
                    shown_on=_shown_on(occasions))


def _shown_on(occasions: list[tuple[date, date]]) -> date | None:
    """The first day the occasions (within the window, oldest first) showed a year: a year into the latest one, or
    the day four occasions or more reached a year in all (None where StayTime.shows_chronic is false)."""
    days: list[date] = [start + YEAR for start, end in occasions[-1:] if end - start >= YEAR]
    nights = 0
    for n, (start, end) in enumerate(occasions, 1):
        length = (end - start).days
        if n >= OCCASIONS and nights + length >= YEAR.days:
            days.append(start + timedelta(days=max(1, YEAR.days - nights)))
            break
        nights += length
    return min(days, default=None)
