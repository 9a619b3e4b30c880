"""The appointment desk: appointments casebridge holds, beside the benefits agency's own (category appointments).

A caseworker or partner schedules an appointment with a client they work with (a housing interview, a legal
consultation, an intake) and keeps it up to date: rescheduled, completed, missed or cancelled. It is their
organisation's record, held here (policies/operations.cedar: the Section of the organisation that holds it, so
one organisation never changes another's), and the profile's `appointments` section shows it beside the agency's
appointments to whoever may see that organisation's appointments: its own staff, another organisation with the
client's consent naming appointments, the client always. Each change is one operation with its access-log event,
which names the appointment's id and status, never where or why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from connectors.held import (
    Appointments,
    HeldAppointment,
    add_appointment,
    cancel_reminders_of,
    change_appointment,
    held_appointment,
)
from core.errors import InvalidInput, RecordNotFound
from core.principal import RequestContext
from core.vocabulary import Action, Category, member_of
from gate.gate import Gate
from policies.decisions import Resource, Target


class AppointmentType(StrEnum):
    """What is scheduled here (agencies' own appointments keep their agency's types)."""

    INTAKE = "INTAKE"
    HOUSING_INTERVIEW = "HOUSING_INTERVIEW"
    LEGAL_CONSULTATION = "LEGAL_CONSULTATION"
    BENEFITS_APPOINTMENT = "BENEFITS_APPOINTMENT"
    SCHOOL_MEETING = "SCHOOL_MEETING"
    HEALTH_APPOINTMENT = "HEALTH_APPOINTMENT"
    CASE_REVIEW = "CASE_REVIEW"
    OTHER = "OTHER"


class AppointmentMode(StrEnum):
    """Where an appointment takes place."""

    IN_PERSON = "IN_PERSON"
    PHONE = "PHONE"
    VIDEO = "VIDEO"


class AtStake(StrEnum):
    """What missing an appointment would cost the client."""

    HOUSING_PLACEMENT = "HOUSING_PLACEMENT"
    SHELTER_ELIGIBILITY = "SHELTER_ELIGIBILITY"
    BENEFITS_RECERTIFICATION = "BENEFITS_RECERTIFICATION"
    BENEFITS_ELIGIBILITY = "BENEFITS_ELIGIBILITY"
    LEGAL_DEADLINE = "LEGAL_DEADLINE"
    SCHOOL_ENROLLMENT = "SCHOOL_ENROLLMENT"
    WORK_AUTHORIZATION = "WORK_AUTHORIZATION"


class AppointmentChange(StrEnum):
    """What becomes of an appointment held here (it is SCHEDULED when made)."""

    RESCHEDULED = "RESCHEDULED"
    COMPLETED = "COMPLETED"
    MISSED = "MISSED"
    CANCELED = "CANCELED"


OPEN = ("SCHEDULED", "RESCHEDULED")  # an appointment still to keep; the others are final
MAX_LOCATION = 255
MAX_AHEAD = timedelta(days=2 * 366)
DURATION_MINUTES = (5, 8 * 60)


class AppointmentDesk:
    """Schedules and updates appointments held here, through the gate, each with its access-log event."""

    def __init__(self, *, gate: Gate, source: Appointments,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._gate = gate
        self._source = source
        self._clock = clock

    async def schedule(self, ctx: RequestContext, *, client_id: str, type: str, scheduled_at: datetime,
                       mode: str, location: str | None, duration_minutes: int | None,
                       at_stake: str | None) -> HeldAppointment:
        """Schedule an appointment with a client, held for the caller's organisation."""
        now = self._clock()
        _one_of(type, AppointmentType, "type")
        _one_of(mode, AppointmentMode, "mode")
        if at_stake is not None:
            _one_of(at_stake, AtStake, "atStake")
        when = _future(scheduled_at, now, "scheduledAt")
        place = _location(location)
        if duration_minutes is not None and not DURATION_MINUTES[0] <= duration_minutes <= DURATION_MINUTES[1]:
            raise InvalidInput(f"an appointment lasts {DURATION_MINUTES[0]} to {DURATION_MINUTES[1]} minutes",
                               field="durationMinutes")
        org = ctx.principal.organization
        await self._gate.authorize_for_client(ctx, Action.APPOINTMENT_SCHEDULE, client_id,
                                              held=(Category.APPOINTMENTS, org))
        await self._gate.require_client(client_id)
        async with self._gate.operation(ctx, Action.APPOINTMENT_SCHEDULE) as op:
            held = await add_appointment(op.session, client_id=client_id, holder=org, recorded_by=ctx.principal.subject,
                                         type=type, scheduled_at=when, duration_minutes=duration_minutes, mode=mode,
                                         location=place, at_stake=at_stake, now=now)
            op.log(client_id, detail=f"appointment {held.appointment.appointment_id} (SCHEDULED)")
        return held

    async def update(self, ctx: RequestContext, *, appointment_id: str, status: str,
                     scheduled_at: datetime | None, mode: str | None, location: str | None) -> HeldAppointment:
        """Mark an appointment rescheduled (with its new time, and place if it moved), completed, missed or
        cancelled. Only an appointment still to keep changes; a final one stays as it was."""
        now = self._clock()
        _one_of(status, AppointmentChange, "status")
        if mode is not None:
            _one_of(mode, AppointmentMode, "mode")
        if (status == "RESCHEDULED") != (scheduled_at is not None):
            raise InvalidInput("a new time is given exactly when the appointment is rescheduled", field="scheduledAt")
        if status != "RESCHEDULED" and (mode is not None or location is not None):
            raise InvalidInput("the place changes only when the appointment is rescheduled", field="location")
        when = _future(scheduled_at, now, "scheduledAt") if scheduled_at is not None else None
        place = _location(location) if location is not None else None
        hidden = RecordNotFound("no appointment with this id is visible to you", field="id")
        async with self._gate.operation(ctx, Action.APPOINTMENT_UPDATE) as op:
            found = await held_appointment(op.session, appointment_id)
            if found is None:
                raise op.not_found(hidden, "appointment")
            client_id, holder = found.client_id, found.appointment.agency
            # first: may the caller see it at all (else it does not exist for them) ...
            (seen,) = await self._gate.decide(ctx, [Resource(client_id, Category.APPOINTMENTS, holder,
                                                             self._source.name, held_here=True)])
            op.require_seen(seen, client_id, hidden)
            # ... then may they change it (their own organisation's, for a client they work with)
            sees = client_id in await self._gate.visible_identity(ctx, [client_id])
            await op.require(Action.APPOINTMENT_UPDATE,
                             Target.section(client_id, Category.APPOINTMENTS, holder, sees_identity=sees))
            if found.appointment.status not in OPEN:
                raise InvalidInput(f"this appointment is {found.appointment.status} and stays so; schedule a new one",
                                   field="status")
            held = await change_appointment(op.session, appointment_id, status=status, scheduled_at=when, mode=mode,
                                            location=place, now=now)
            # its reminders no longer stand (the planner plans the new time's at its next pass)
            await cancel_reminders_of(op.session, held, now=now)
            op.log(client_id, detail=f"appointment {appointment_id} ({status})")
        return held


def _one_of(value: str, allowed: type[StrEnum], field: str) -> None:
    if member_of(allowed, value) is None:
        raise InvalidInput(f"{field} is one of {', '.join(allowed)}", field=field)


def _future(when: datetime, now: datetime, field: str) -> datetime:
    """A time to come, with its UTC offset, at most two years ahead."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidInput("a time carries its UTC offset (e.g. 2027-01-12T10:00:00-05:00)", field=field)
    if when <= now:
        raise InvalidInput("an appointment is scheduled for a time to come", field=field)
    if when - now > MAX_AHEAD:
        raise InvalidInput("an appointment is at most two years ahead", field=field)
    return when.astimezone(UTC)


def _location(location: str | None) -> str | None:
    text = (location or "").strip()
    if len(text) > MAX_LOCATION:
        raise InvalidInput(f"a place is at most {MAX_LOCATION} characters", field="location")
    return text or None
