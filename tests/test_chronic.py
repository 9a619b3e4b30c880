"""ChronicStatus homelessness at project start from the shelter system's own records (issue 20 §3): HUD's HMIS Standard
Reporting Terminology Glossary's flowchart on its edge cases, each person by their own answers, the stays that
support it, and what the imported export carries (a value that is no code never loses the stay)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.config import HousingConfig
from connectors.hmis.chronic import ChronicStatus, EntryFacts, chronic_at_start, time_in_stays
from connectors.hmis.connector import HousingConnector
from connectors.hmis.importer import import_export
from core.vocabulary import Category
from demo.hmis_export import write_export
from demo.population import HmisData
from store.reads import Reads

ENTRY = date(2026, 6, 1)


def facts(**kw: Any) -> EntryFacts:
    base: dict[str, Any] = dict(project_type=1, entry_date=ENTRY, disabling_condition=1, living_situation=116,
                                los_under_threshold=None, previous_street_essh=None, date_to_street_essh=None,
                                times_homeless_past_three_years=None, months_homeless_past_three_years=None)
    return EntryFacts(**{**base, **kw})


@pytest.mark.parametrize(("kw", "status", "reason"), [
    # a year on the streets or in shelter before this entry
    ({"date_to_street_essh": ENTRY - timedelta(days=365)}, ChronicStatus.YES, "homeless-a-year-before-entry"),
    ({"date_to_street_essh": ENTRY - timedelta(days=364), "times_homeless_past_three_years": 1},
     ChronicStatus.NO, "fewer-than-four-times"),  # a day short: the episodes decide
    # four episodes that sum to twelve months (112) or more (113); eleven is not enough
    ({"times_homeless_past_three_years": 4, "months_homeless_past_three_years": 112}, ChronicStatus.YES,
     "four-times-twelve-months"),
    ({"times_homeless_past_three_years": 4, "months_homeless_past_three_years": 113}, ChronicStatus.YES,
     "four-times-twelve-months"),
    ({"times_homeless_past_three_years": 4, "months_homeless_past_three_years": 111}, ChronicStatus.NO,
     "fewer-than-twelve-months"),
    # a gap: homeless again since 200 days, three times in three years
    ({"date_to_street_essh": ENTRY - timedelta(days=200), "times_homeless_past_three_years": 3}, ChronicStatus.NO,
     "fewer-than-four-times"),
    # what the client does not know, would not say, or nobody asked (8, 9, 99)
    ({"disabling_condition": 0}, ChronicStatus.NO, "no-disabling-condition"),
    ({"disabling_condition": 8}, ChronicStatus.DONT_KNOW, "disabling-condition-not-known"),
    ({"disabling_condition": 9}, ChronicStatus.DONT_KNOW, "disabling-condition-not-known"),
    ({"disabling_condition": 99}, ChronicStatus.MISSING, "disabling-condition-missing"),
    ({"disabling_condition": None}, ChronicStatus.MISSING, "disabling-condition-missing"),
    ({"times_homeless_past_three_years": 8}, ChronicStatus.DONT_KNOW, "times-homeless-not-known"),
    ({"times_homeless_past_three_years": 99}, ChronicStatus.MISSING, "times-homeless-missing"),
    ({"times_homeless_past_three_years": 4, "months_homeless_past_three_years": 9}, ChronicStatus.DONT_KNOW,
     "months-homeless-not-known"),
    ({"times_homeless_past_three_years": 4}, ChronicStatus.MISSING, "months-homeless-missing"),
    # not a shelter, outreach or safe haven: where the person was the night before counts
    ({"project_type": 3, "living_situation": 101, "date_to_street_essh": ENTRY - timedelta(days=400)},
     ChronicStatus.YES, "homeless-a-year-before-entry"),
    ({"project_type": 3, "living_situation": 207, "los_under_threshold": 1, "previous_street_essh": 1,
      "date_to_street_essh": ENTRY - timedelta(days=400)}, ChronicStatus.YES, "homeless-a-year-before-entry"),
    ({"project_type": 3, "living_situation": 207, "los_under_threshold": 0}, ChronicStatus.NO, "not-under-90-days"),
    ({"project_type": 3, "living_situation": 207, "los_under_threshold": 1, "previous_street_essh": 0},
     ChronicStatus.NO, "not-street-or-shelter-before"),
    ({"project_type": 13, "living_situation": 410, "los_under_threshold": None}, ChronicStatus.MISSING,
     "under-7-nights-missing"),
    ({"project_type": 13, "living_situation": None}, ChronicStatus.MISSING, "living-situation-missing"),
    ({"project_type": 13, "living_situation": 999}, ChronicStatus.MISSING, "living-situation-missing"),  # no code
    # a shelter stay goes straight to the time test, whatever the living situation says
    ({"project_type": 0, "living_situation": 410, "date_to_street_essh": ENTRY - timedelta(days=500)},
     ChronicStatus.YES, "homeless-a-year-before-entry"),
])
def test_the_glossary_s_flowchart(kw: dict[str, Any], status: ChronicStatus, reason: str) -> None:
    found = chronic_at_start(facts(**kw))
    assert (found.status, found.reason) == (status, reason)


def _city() -> HmisData:
    """A shelter system of four people: a mother chronically homeless at the family's start with her son, her
    partner who joined the stay later, and a single man four times homeless for twelve months."""
    data = HmisData()
    data.organizations = [{"OrganizationID": "O-1", "OrganizationName": "DHS"}]
    data.projects = [{"ProjectID": "P-ES", "OrganizationID": "O-1", "ProjectName": "Family Shelter", "ProjectType": 0},
                     {"ProjectID": "P-SO", "OrganizationID": "O-1", "ProjectName": "Street Outreach", "ProjectType": 4},
                     {"ProjectID": "P-PSH", "OrganizationID": "O-1", "ProjectName": "Supportive Housing",
                      "ProjectType": 3}]
    for pid, first, dob in (("MOM", "Ana", date(1985, 3, 1)), ("SON", "Leo", date(2015, 7, 1)),
                            ("PARTNER", "Raul", date(1983, 1, 9)), ("SINGLE", "Tom", date(1970, 2, 2))):
        data.clients.append({"PersonalID": pid, "FirstName": first, "LastName": "Test", "NameDataQuality": 1,
                             "SSNDataQuality": 99, "DOB": dob, "DOBDataQuality": 1, "Sex": 0})
    start = date(2026, 3, 1)
    common = {"ProjectID": "P-ES", "EntryDate": start, "HouseholdID": "HH-1", "LivingSituation": 116}
    data.enrollments = [
        {"EnrollmentID": "E-OUT", "PersonalID": "MOM", "ProjectID": "P-SO", "EntryDate": date(2024, 9, 1),
         "HouseholdID": "HH-0", "RelationshipToHoH": 1, "LivingSituation": 116, "DisablingCondition": 1},
        {"EnrollmentID": "E-MOM", "PersonalID": "MOM", **common, "RelationshipToHoH": 1, "DisablingCondition": 1,
         "DateToStreetESSH": date(2024, 8, 15)},
        {"EnrollmentID": "E-SON", "PersonalID": "SON", **common, "RelationshipToHoH": 2, "DisablingCondition": 0},
        {"EnrollmentID": "E-PARTNER", "PersonalID": "PARTNER", **common, "EntryDate": start + timedelta(days=20),
         "RelationshipToHoH": 3, "DisablingCondition": 0},
        {"EnrollmentID": "E-SINGLE", "PersonalID": "SINGLE", "ProjectID": "P-ES", "EntryDate": start,
         "HouseholdID": "HH-2", "RelationshipToHoH": 1, "LivingSituation": 116, "DisablingCondition": 1,
         "TimesHomelessPastThreeYears": 4, "MonthsHomelessPastThreeYears": 112},
    ]
    data.exits = [{"ExitID": "X-OUT", "EnrollmentID": "E-OUT", "PersonalID": "MOM", "ExitDate": date(2025, 2, 1),
                   "Destination": 101}]
    return data


async def test_each_person_by_their_own_answers_and_a_typo_never_loses_the_stay(
    store: Any, reads: Reads, tmp_path: Path,
) -> None:
    path = write_export(_city(), tmp_path / "export", exported_at=datetime(2026, 11, 1, 6, 0))
    text = (path / "Enrollment.csv").read_text()
    # an intake's typo in a code that would have made him chronically homeless (112: twelve months)
    assert ",4,112," in text
    (path / "Enrollment.csv").write_text(text.replace(",4,112,", ",4,x12,", 1))
    report = await import_export(store, path)
    assert report.ok and report.quarantined == (), report.problems  # read as "not collected": the stay is kept
    connector = HousingConnector(HousingConfig(), reads)
    found = await connector.fetch(["MOM", "SON", "PARTNER", "SINGLE"], frozenset({Category.HOUSING}))
    by = {pid: {s.enrollment_id: (s.chronic_at_entry, s.chronic_reason) for s in r.sections[Category.HOUSING]}
          for pid, r in found.records.items()}
    assert by["MOM"]["E-MOM"] == ("YES", "homeless-a-year-before-entry")
    # no household rule here: the son's status would tell whoever may see his stays of his mother's disability
    assert by["SON"]["E-SON"] == ("NO", "no-disabling-condition")
    assert by["PARTNER"]["E-PARTNER"] == ("NO", "no-disabling-condition")
    assert by["SINGLE"]["E-SINGLE"] == ("MISSING", "months-homeless-missing")
    assert len(by["MOM"]) == 2  # her outreach stay too (exited)


async def test_the_housing_section_says_it_with_its_supporting_stays_and_only_to_whom_it_may(
    gateway: Any, population: Any,
) -> None:
    from tests.gateway import caller

    query = """query($id: ID!) { client(id: $id) { housing {
      access { agency status reason }
      enrollments { enrollmentId projectType chronicAtEntry chronicReason entryDate exitDate }
      chronicHomelessness { status reason enrollmentId entryDate supportingStays { enrollmentId projectType }
        verifiedByStays nightsInStays occasions countedFrom countedTo } } } }"""
    sheltered = [p for p in population.people if p.hmis_id]
    dhs = caller(gateway, "DHS")
    seen = [(await dhs.query(query, {"id": p.client_id}))["data"]["client"]["housing"] for p in sheltered]
    decided = [h for h in seen if h["chronicHomelessness"]]
    assert {h["chronicHomelessness"]["status"] for h in decided} >= {"YES", "NO"}  # the synthetic city has both
    for h in decided:
        chronic = h["chronicHomelessness"]
        stay = next(e for e in h["enrollments"] if e["enrollmentId"] == chronic["enrollmentId"])
        assert (stay["chronicAtEntry"], stay["chronicReason"]) == (chronic["status"], chronic["reason"])
        support = chronic["supportingStays"]
        if chronic["status"] != "YES":
            assert support == [] and chronic["verifiedByStays"] is False and chronic["nightsInStays"] is None
            continue
        assert all(s["projectType"] in (0, 1, 4, 8) for s in support)
        if stay["projectType"] in (0, 1, 4, 8):  # the stay it was decided at is itself evidence, counted to its end
            assert chronic["enrollmentId"] in {s["enrollmentId"] for s in support}
            assert chronic["countedTo"] == (stay["exitDate"] or date.today().isoformat())
        else:  # any other project looks back from its start
            assert chronic["countedTo"] == stay["entryDate"]
        assert chronic["verifiedByStays"] is (chronic["nightsInStays"] >= 365 and bool(support))
    # the synthetic city's chronically homeless client says so at intake, and no shelter stay of theirs shows it:
    # the client's word, not the shelter system's verification
    assert any(h["chronicHomelessness"]["status"] == "YES" and not h["chronicHomelessness"]["verifiedByStays"]
               for h in decided)
    hra = caller(gateway, "HRA")  # no consent naming housing: withheld, and nothing of it shows
    withheld = (await hra.query(query, {"id": sheltered[0].client_id}))["data"]["client"]["housing"]
    assert withheld["chronicHomelessness"] is None and withheld["enrollments"] is None
    assert [(a["agency"], a["status"]) for a in withheld["access"]] == [("DHS", "WITHHELD")]


TODAY = date(2026, 6, 1)


def _stays(*spans: tuple[int, int | None]) -> list[tuple[date, date | None]]:
    """Stays as (entry, exit) from nights before TODAY: (400, 35) entered 400 nights ago, left 35 ago; None: open."""
    return [(TODAY - timedelta(days=a), None if b is None else TODAY - timedelta(days=b)) for a, b in spans]


@pytest.mark.parametrize(("stays", "nights", "occasions", "verified"), [
    # a year continuously, the open stay counted up to today; a night short is not
    (_stays((365, None)), 365, 1, True),
    (_stays((364, None)), 364, 1, False),
    # four occasions (seven nights or more apart) that add up to twelve months; three that do are not four
    (_stays((1000, 909), (800, 709), (600, 509), (300, 208)), 365, 4, True),
    (_stays((1000, 870), (800, 670), (600, 470)), 390, 3, False),
    # a break under seven nights is no break: one occasion, its nights between counted; seven nights part two
    (_stays((371, 191), (185, None)), 371, 1, True),
    (_stays((372, 192), (185, None)), 365, 2, False),
    # only the three years count: a long stay that ended before them shows nothing
    (_stays((1600, 1100)), 0, 0, False),
    # a stay begun before the three years counts from their first day
    (_stays((1200, 700)), 396, 1, True),
])
def test_the_shelter_systems_own_stays_show_the_time_by_huds_definition(
    stays: list[tuple[date, date | None]], nights: int, occasions: int, verified: bool,
) -> None:
    found = time_in_stays(stays, until=TODAY)
    assert (found.nights, found.occasions, found.shows_chronic) == (nights, occasions, verified)
    assert found.since == date(2023, 6, 1)


async def test_a_yes_is_verified_by_the_shelter_systems_stays_not_by_the_intakes_answers(
    store: Any, reads: Reads, tmp_path: Path,
) -> None:
    from resolvers.types import chronic_view

    city = _city()
    city.clients.append({"PersonalID": "SAM", "FirstName": "Sam", "LastName": "Test", "NameDataQuality": 1,
                         "SSNDataQuality": 99, "DOB": date(1968, 5, 5), "DOBDataQuality": 1, "Sex": 1})
    # on the streets since May 2024, by his word; with an outreach team from October, then in shelter three nights
    # after it closed: still there
    city.enrollments += [
        {"EnrollmentID": "E-SAM-SO", "PersonalID": "SAM", "ProjectID": "P-SO", "EntryDate": date(2024, 10, 1),
         "HouseholdID": "HH-3", "RelationshipToHoH": 1, "LivingSituation": 116, "DisablingCondition": 1},
        {"EnrollmentID": "E-SAM", "PersonalID": "SAM", "ProjectID": "P-ES", "EntryDate": date(2025, 6, 4),
         "HouseholdID": "HH-4", "RelationshipToHoH": 1, "LivingSituation": 116, "DisablingCondition": 1,
         "DateToStreetESSH": date(2024, 5, 1)}]
    city.exits.append({"ExitID": "X-SAM-SO", "EnrollmentID": "E-SAM-SO", "PersonalID": "SAM",
                       "ExitDate": date(2025, 6, 1), "Destination": 116})
    assert (await import_export(store, write_export(city, tmp_path / "export",
                                                    exported_at=datetime(2026, 11, 1, 6, 0)))).ok
    found = await HousingConnector(HousingConfig(), reads).fetch(["MOM", "SAM"], frozenset({Category.HOUSING}))
    stays = {pid: list(r.sections[Category.HOUSING]) for pid, r in found.records.items()}

    sam = chronic_view(stays["SAM"], TODAY)
    assert sam is not None and (sam.status, sam.reason) == ("YES", "homeless-a-year-before-entry")
    # one occasion (a three-night gap joins the two stays) from 1 October 2024, the open stay up to today
    assert (sam.verified_by_stays, sam.nights_in_stays, sam.occasions) == (True, 608, 1)
    assert (sam.counted_from, sam.counted_to) == (date(2023, 6, 1), TODAY)
    assert [s.enrollment_id for s in sam.supporting_stays] == ["E-SAM-SO", "E-SAM"]

    # she says she has been homeless since August 2024; the records show five months of outreach that ended more
    # than a year before her shelter stay began, and three months in shelter: her word, not verified
    mom = chronic_view(stays["MOM"], TODAY)
    assert mom is not None and (mom.status, mom.reason) == ("YES", "homeless-a-year-before-entry")
    assert (mom.verified_by_stays, mom.nights_in_stays, mom.occasions) == (False, 153 + 92, 2)
    assert [s.enrollment_id for s in mom.supporting_stays] == ["E-OUT", "E-MOM"]
    # a year later, still in shelter, her stay alone shows it
    later = chronic_view(stays["MOM"], date(2027, 3, 1))
    assert later is not None and (later.verified_by_stays, later.nights_in_stays) == (True, 365 + 153)


@pytest.mark.parametrize(("stays", "shown_on"), [
    (_stays((400, None)), TODAY - timedelta(days=35)),  # a year into the open stay
    (_stays((364, None)), None),
    # four occasions: the day the fourth brought the nights to a year (91 + 91 + 91, then 92 more)
    (_stays((1000, 909), (800, 709), (600, 509), (300, 208)), TODAY - timedelta(days=208)),
    (_stays((1000, 870), (800, 670), (600, 470)), None),  # three occasions never show it, however long
])
def test_the_day_the_shelter_systems_stays_first_showed_the_year_is_when_the_verification_dates_from(
    stays: list[tuple[date, date | None]], shown_on: date | None,
) -> None:
    found = time_in_stays(stays, until=TODAY)
    assert found.shown_on == shown_on
    assert (found.shown_on is not None) == found.shows_chronic
