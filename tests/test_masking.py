"""The mask step: records outside a consent's periods of data are left out; unknown types fail closed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from connectors.records import Appointment, BenefitCase, BenefitProgram, Demographics, Notice, RequiredDocument
from gate.masking import within_periods

JAN, MAR = (date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 3, 1), date(2026, 3, 31))


def appt(day: date) -> Appointment:
    return Appointment("a", "HRA", "RECERTIFICATION_INTERVIEW", datetime(day.year, day.month, day.day, 10, tzinfo=UTC),
                       None, None, "SCHEDULED")


def test_list_items_are_kept_by_their_date() -> None:
    items = [appt(date(2026, 1, 15)), appt(date(2026, 2, 15)), appt(date(2026, 3, 31))]
    assert [a.scheduled_at.month for a in within_periods(items, [JAN, MAR])] == [1, 3]
    docs = [RequiredDocument("d1", "HRA", "SSN_CARD", date(2026, 1, 2), "REQUESTED"),
            RequiredDocument("d2", "HRA", "SSN_CARD", None, "REQUESTED")]
    assert [d.document_id for d in within_periods(docs, [JAN])] == ["d1"]  # undated: left out
    assert within_periods(docs, [(date(2026, 2, 1), None)]) == []


def test_benefit_cases_keep_overlapping_programs_and_notices_inside() -> None:
    program = lambda s, e: BenefitProgram("SNAP", "ACTIVE", s, e, Decimal("10.00"), "USD", "MONTHLY")  # noqa: E731
    case = BenefitCase("C1", "OPEN", "HEAD", 2,
                       (program(date(2025, 6, 1), date(2026, 1, 10)), program(date(2026, 4, 1), date(2027, 4, 1))),
                       (Notice("n1", "NOTICE_OF_EXPIRATION", date(2026, 1, 5), None),
                        Notice("n2", "NOTICE_OF_DECISION", date(2026, 4, 5), None)))
    (limited,) = within_periods([case], [JAN])
    assert [p.certification_end for p in limited.programs] == [date(2026, 1, 10)]
    assert [n.notice_id for n in limited.notices] == ["n1"]
    assert within_periods([case], [(date(2026, 2, 1), date(2026, 2, 28))]) == []


def test_identity_is_not_dated_and_unknown_types_fail_closed() -> None:
    person = Demographics("A", None, "B", date(1990, 1, 1), "F")
    assert within_periods(person, [JAN]) is person
    assert within_periods(["something"], [JAN]) == []


def test_contact_details_are_not_dated_and_pass_a_data_period() -> None:
    # where to reach the person now, like identity: a data-period consent does not empty the contact section
    from connectors.held import ContactPoint, ContactPreference

    now = datetime(2026, 12, 1, tzinfo=UTC)
    point = ContactPoint("p1", "c1", "DHS", "sms", "+12125550142", False, True, "F-1", "u1", now, now)
    pref = ContactPreference("c1", "DHS", "sms", "es", None, None, "u1", now)
    assert within_periods([point, pref], [JAN]) == [point, pref]


def test_a_stays_employment_answers_and_legal_steps_are_kept_by_their_own_days() -> None:
    from connectors.held_legal import LegalMilestone, Milestone
    from connectors.hmis.employment import DataCollectionStage, Employed
    from connectors.records import EmploymentStatus, HousingEnrollment

    answer = lambda rid, day, said: EmploymentStatus(  # noqa: E731
        record_id=rid, information_date=day, data_collection_stage=DataCollectionStage.UPDATE, employed=said)
    stay = HousingEnrollment(enrollment_id="E1", agency="DHS", project_name="Shelter", project_type=0,
                             project_type_name="Emergency Shelter - Entry Exit", entry_date=date(2025, 12, 1),
                             move_in_date=None, exit_date=None, destination=None, destination_class=None,
                             household_id=None, relationship_to_head=1,
                             employment=(answer("w1", date(2026, 1, 10), Employed.NO),
                                         answer("w2", date(2026, 9, 1), Employed.YES)))
    (kept,) = within_periods([stay], [JAN, MAR])  # the stay overlaps; the September answer is outside
    assert [e.record_id for e in kept.employment] == ["w1"]
    step = lambda mid, day: LegalMilestone(mid, "c", "LEGALAID", Milestone.ASYLUM_APPLICATION_FILED, day,  # noqa: E731
                                           "p", datetime(2026, 1, 1, tzinfo=UTC), None)
    assert [m.id for m in within_periods([step("m1", date(2026, 3, 3)), step("m2", date(2026, 5, 1))], [MAR])] \
        == ["m1"]
