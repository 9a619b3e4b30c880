"""Appointments from every agency in one list (issue 19 §2): the benefits agency's, read through its connector, and
those a caseworker or partner schedules in casebridge, held for their organisation and decided like every record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from demo.population import Population
from tests.gateway import caller, events

APPOINTMENTS = """query($id: ID!) { client(id: $id) { appointments {
  access { agency status reason basis }
  items { appointmentId agency type scheduledAt durationMinutes mode location status atStake heldHere } } } }"""
SCHEDULE = """mutation($c: ID!, $type: AppointmentType!, $at: DateTime!, $mode: AppointmentMode!, $where: String,
                       $minutes: Int, $stake: AtStake) {
  scheduleAppointment(clientId: $c, type: $type, scheduledAt: $at, mode: $mode, location: $where,
                      durationMinutes: $minutes, atStake: $stake) {
    appointmentId agency type scheduledAt status atStake heldHere location } }"""
UPDATE = """mutation($id: ID!, $status: AppointmentChange!, $at: DateTime, $mode: AppointmentMode, $where: String) {
  updateAppointment(id: $id, status: $status, scheduledAt: $at, mode: $mode, location: $where) {
    appointmentId status scheduledAt mode location } }"""
CONSENT = """mutation($input: RecordConsentInput!) { recordConsent(input: $input) { id } }"""
PLACE = "Intake office, 33 Beaver St, room 4"


def _both(population: Population) -> str:
    """A client the benefits agency and the shelter system both know."""
    return next(p.client_id for p in population.people if p.hmis_id and p.benefits_id)


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


def _soon(days: int, hour: int = 10) -> str:
    day = datetime.now(UTC).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC).isoformat()


async def test_an_appointment_scheduled_here_is_listed_beside_the_agencys_for_whoever_may_see_it(
    gateway: Any, population: Population, database_url: str,
) -> None:
    cid = _both(population)
    dhs = caller(gateway, "DHS")  # the shelter's caseworker: sees the client's identity through DHS's own record
    made = await dhs.query(SCHEDULE, {"c": cid, "type": "HOUSING_INTERVIEW", "at": _soon(4), "mode": "IN_PERSON",
                                      "where": PLACE, "minutes": 45, "stake": "HOUSING_PLACEMENT"})
    appt = made["data"]["scheduleAppointment"]
    assert (appt["agency"], appt["status"], appt["heldHere"], appt["atStake"]) == (
        "DHS", "SCHEDULED", True, "HOUSING_PLACEMENT")
    assert all("Beaver" not in (e.detail or "") for e in await events(database_url))  # the log names ids only

    seen = (await dhs.query(APPOINTMENTS, {"id": cid}))["data"]["client"]["appointments"]
    parts = {a["agency"]: (a["status"], a["reason"]) for a in seen["access"]}
    assert parts == {"HRA": ("WITHHELD", "CONSENT_REQUIRED"), "DHS": ("SHOWN", None)}
    assert [(i["agency"], i["location"]) for i in seen["items"]] == [("DHS", PLACE)]

    hra = caller(gateway, "HRA")  # no consent naming appointments: its own agency's only, and no trace of DHS's
    own = (await hra.query(APPOINTMENTS, {"id": cid}))["data"]["client"]["appointments"]
    assert [(a["agency"], a["status"]) for a in own["access"]] == [("HRA", "SHOWN")]
    assert {i["agency"] for i in own["items"]} == {"HRA"}
    assert all(i["heldHere"] is False for i in own["items"])
    assert {i["atStake"] for i in own["items"] if i["type"] == "RECERTIFICATION_INTERVIEW"} == {
        "BENEFITS_RECERTIFICATION"}
    # HRA cannot change what it may not see: it does not exist for HRA
    assert _code(await hra.query(UPDATE, {"id": appt["appointmentId"], "status": "CANCELED"})) == "RECORD_NOT_FOUND"

    me = caller(gateway, "CLIENTS", "client", purpose="client_access", self_client=cid, sub="client-1")
    mine = (await me.query(APPOINTMENTS, {"id": cid}))["data"]["client"]["appointments"]
    assert {i["agency"] for i in mine["items"]} == {"HRA", "DHS"}  # one list, every agency's
    times = [i["scheduledAt"] for i in mine["items"]]
    assert times == sorted(times)  # soonest first, whoever holds it

    consent = {"input": {"clientId": cid, "sourceReference": "FORM-A", "givenAt": "2026-11-01T10:00:00Z",
                         "provisions": [{"organizations": ["HRA"], "categories": ["APPOINTMENTS"],
                                         "purposes": ["CASE_MANAGEMENT"]}]}}
    assert (await me.query(CONSENT, consent)).get("errors") is None
    opened = (await hra.query(APPOINTMENTS, {"id": cid}))["data"]["client"]["appointments"]
    assert {i["agency"] for i in opened["items"]} == {"HRA", "DHS"}
    # seeing DHS's appointment is not owning it: HRA may not change it
    assert _code(await hra.query(UPDATE, {"id": appt["appointmentId"], "status": "CANCELED"})) == "FORBIDDEN"


async def test_an_appointment_is_rescheduled_then_kept_and_then_stays_as_it_was(
    gateway: Any, population: Population,
) -> None:
    cid = _both(population)
    dhs = caller(gateway, "DHS")
    made = await dhs.query(SCHEDULE, {"c": cid, "type": "INTAKE", "at": _soon(2), "mode": "PHONE"})
    appt_id = made["data"]["scheduleAppointment"]["appointmentId"]

    no_time = await dhs.query(UPDATE, {"id": appt_id, "status": "RESCHEDULED"})
    assert _code(no_time) == "BAD_USER_INPUT"
    moved = await dhs.query(UPDATE, {"id": appt_id, "status": "RESCHEDULED", "at": _soon(5, 14), "mode": "VIDEO"})
    assert moved["data"]["updateAppointment"]["status"] == "RESCHEDULED"
    assert moved["data"]["updateAppointment"]["mode"] == "VIDEO"
    assert moved["data"]["updateAppointment"]["scheduledAt"].startswith(_soon(5, 14)[:13])

    kept = await dhs.query(UPDATE, {"id": appt_id, "status": "COMPLETED"})
    assert kept["data"]["updateAppointment"]["status"] == "COMPLETED"
    again = await dhs.query(UPDATE, {"id": appt_id, "status": "CANCELED"})
    assert _code(again) == "BAD_USER_INPUT" and "stays so" in again["errors"][0]["message"]
    listed = (await dhs.query(APPOINTMENTS, {"id": cid}))["data"]["client"]["appointments"]["items"]
    assert [i["status"] for i in listed if i["appointmentId"] == appt_id] == ["COMPLETED"]

    unknown = await dhs.query(UPDATE, {"id": "6b1f4c2e-0000-4000-8000-000000000000", "status": "MISSED"})
    assert _code(unknown) == "RECORD_NOT_FOUND"


async def test_bad_appointments_are_refused_and_nothing_is_kept(gateway: Any, population: Population) -> None:
    cid = _both(population)
    dhs = caller(gateway, "DHS")
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    far = (datetime.now(UTC) + timedelta(days=3 * 365)).isoformat()
    naive = _soon(3)[:19]  # no UTC offset: which 10:00 is it?
    for at, extra in [(past, {}), (far, {}), (naive, {}), (_soon(3), {"where": "x" * 300}),
                      (_soon(3), {"minutes": 0}), (_soon(3), {"minutes": 24 * 60})]:
        body = await dhs.query(SCHEDULE, {"c": cid, "type": "INTAKE", "at": at, "mode": "PHONE", **extra})
        assert _code(body) == "BAD_USER_INPUT", (at, extra)
    listed = (await dhs.query(APPOINTMENTS, {"id": cid}))["data"]["client"]["appointments"]
    assert listed["items"] is None  # nothing shown: HRA's are withheld from DHS, and DHS holds none here
    assert [a["agency"] for a in listed["access"]] == ["HRA"]  # so DHS has no part of its own


async def test_who_may_schedule_is_decided_by_the_policies(gateway: Any, population: Population) -> None:
    cid = _both(population)
    args = {"c": cid, "type": "INTAKE", "at": _soon(3), "mode": "PHONE"}
    assert _code(await caller(gateway, "DHS", purpose=None).query(SCHEDULE, args)) == "PURPOSE_REQUIRED"
    assert _code(await caller(gateway, "DHS", "auditor", purpose="audit").query(SCHEDULE, args)) == "FORBIDDEN"
    me = caller(gateway, "CLIENTS", "client", purpose="client_access", self_client=cid)
    assert _code(await me.query(SCHEDULE, args)) == "FORBIDDEN"  # staff schedule; the client sees
    # an organisation that cannot see the client's identity schedules nothing for them
    assert _code(await caller(gateway, "DOE").query(SCHEDULE, args)) in {"FORBIDDEN", "PURPOSE_NOT_ALLOWED"}
