"""Employment status from the shelter system's records (HUD HMIS R6, EmploymentEducation.csv), and whether it
says the client is employed now.

HMIS asks "Employed?" at a stay's start and exit, at updates and annual assessments (the record's
DataCollectionStage); "Type of employment" only of someone employed and "Why not employed" only of someone not.
Codes are HUD's lists (HMIS Data Dictionary FY2024, unchanged in FY2026): 1.8 for Employed, R6.A, R6.B, 5.03.1.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.records import HousingEnrollment


class Employed(StrEnum):
    """HUD's answer to "Employed?" (list 1.8); nothing exported reads as DATA_NOT_COLLECTED."""

    YES = "YES"
    NO = "NO"
    CLIENT_DOESNT_KNOW = "CLIENT_DOESNT_KNOW"
    CLIENT_PREFERS_NOT_TO_ANSWER = "CLIENT_PREFERS_NOT_TO_ANSWER"
    DATA_NOT_COLLECTED = "DATA_NOT_COLLECTED"

    @classmethod
    def of(cls, code: int | None) -> Employed:
        """The answer for a 1.8 code (0, 1, 8, 9, 99), DATA_NOT_COLLECTED for nothing."""
        return {0: cls.NO, 1: cls.YES, 8: cls.CLIENT_DOESNT_KNOW,
                9: cls.CLIENT_PREFERS_NOT_TO_ANSWER}.get(code if code is not None else 99, cls.DATA_NOT_COLLECTED)


class EmploymentType(StrEnum):
    """HUD R6.A, asked of someone employed."""

    FULL_TIME = "FULL_TIME"
    PART_TIME = "PART_TIME"
    SEASONAL_SPORADIC = "SEASONAL_SPORADIC"  # including day labor

    @classmethod
    def of(cls, code: int | None) -> EmploymentType | None:
        """The type for an R6.A code; None for 99 (not collected) or nothing."""
        return {1: cls.FULL_TIME, 2: cls.PART_TIME, 3: cls.SEASONAL_SPORADIC}.get(code) if code is not None else None


class NotEmployedReason(StrEnum):
    """HUD R6.B, asked of someone not employed."""

    LOOKING_FOR_WORK = "LOOKING_FOR_WORK"
    UNABLE_TO_WORK = "UNABLE_TO_WORK"
    NOT_LOOKING_FOR_WORK = "NOT_LOOKING_FOR_WORK"

    @classmethod
    def of(cls, code: int | None) -> NotEmployedReason | None:
        """The reason for an R6.B code; None for 99 (not collected) or nothing."""
        return ({1: cls.LOOKING_FOR_WORK, 2: cls.UNABLE_TO_WORK, 3: cls.NOT_LOOKING_FOR_WORK}.get(code)
                if code is not None else None)


class DataCollectionStage(StrEnum):
    """When in a stay a record was collected (HUD 5.03.1)."""

    PROJECT_START = "PROJECT_START"
    UPDATE = "UPDATE"
    PROJECT_EXIT = "PROJECT_EXIT"
    ANNUAL_ASSESSMENT = "ANNUAL_ASSESSMENT"
    POST_EXIT = "POST_EXIT"

    @classmethod
    def of(cls, code: int) -> DataCollectionStage:
        """The stage for a 5.03.1 code (1, 2, 3, 5, 6; the reader refuses any other)."""
        return {1: cls.PROJECT_START, 2: cls.UPDATE, 3: cls.PROJECT_EXIT, 5: cls.ANNUAL_ASSESSMENT,
                6: cls.POST_EXIT}[code]

    @property
    def order(self) -> int:
        """Its place in a stay's life: start, updates, annual assessments, exit, after exit (HUD's codes put
        exit, 3, before the annual assessment, 5)."""
        return _STAGE_ORDER[self]


_STAGE_ORDER = {DataCollectionStage.PROJECT_START: 0, DataCollectionStage.UPDATE: 1,
                DataCollectionStage.ANNUAL_ASSESSMENT: 2, DataCollectionStage.PROJECT_EXIT: 3,
                DataCollectionStage.POST_EXIT: 4}


def employed_now(stays: Iterable[HousingEnrollment]) -> date | None:
    """The information date of the newest employment record across `stays` if it says Employed: YES, else None.

    The newest record wins whatever its stage, and whatever it says: a later NO, "doesn't know" or "not
    collected" means the shelter system no longer says the client is employed. Records of one date are ordered
    by stage (start, update, annual assessment, exit, post-exit), then by the stay's entry date and ids, so the
    answer never depends on the order the stays come in.
    """
    newest = max(((r.information_date, r.data_collection_stage.order, s.entry_date, s.enrollment_id, r.record_id,
                   r.employed) for s in stays for r in s.employment), default=None)
    return newest[0] if newest is not None and newest[-1] is Employed.YES else None
