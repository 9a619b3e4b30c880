"""The goals a service plan is made of, as configuration (plans/catalogue.json; a city's own with
CASEBRIDGE_PLANS_FILE): each with its words, its area, and where the law or the process sets a date - a deadline
counted from the client's arrival (an asylum application within a year), or a date before which it cannot be
done, counted from another goal's completion (a work authorization 150 days after the asylum application). A goal
may name the evidence that meets it by itself: an active school enrolment, an active benefits program, seen
through the gate by the plan's organisation. A file that does not hold together refuses to load, naming every
problem."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from core import config_json
from core.errors import ConfigurationError

SHIPPED = Path(__file__).resolve().parent / "catalogue.json"
AREAS = frozenset({"LEGAL", "WORK", "EDUCATION", "EMPLOYMENT", "SCHOOL", "BENEFITS", "HOUSING", "HEALTH", "OTHER"})
# the evidence kinds the plan desk can check (gate/plan_desk.EVIDENCE says what each reads)
EVIDENCE = frozenset({"schooling-enrolled", "benefits-active", "housing-employed", "legal-asylum-filed",
                      "legal-representation", "legal-work-authorization-filed", "legal-work-authorization-granted"})
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")


@dataclass(frozen=True, slots=True)
class Clock:
    """A date counted `days` from the client's arrival ("arrival") or from another goal's being met
    ("goal:<CODE>")."""

    source: str
    days: int


@dataclass(frozen=True, slots=True)
class GoalKind:
    code: str
    name: dict[str, str]
    area: str
    deadline: Clock | None = None
    not_before: Clock | None = None
    evidence: str | None = None


def load(path: Path | None = None) -> dict[str, GoalKind]:
    """The catalogue at `path` (default: the shipped one); ConfigurationError naming every problem."""
    where = path or SHIPPED
    raw = config_json.read(where, "plans file")
    goals = raw.get("goals") if isinstance(raw, dict) else None
    problems: list[str] = []
    if not isinstance(goals, dict) or not goals:
        raise ConfigurationError(f"plans file {where.name}: goals: an object of goals by code")
    out = {}
    for code, spec in goals.items():
        at = f"goals.{code}"
        if not _CODE.match(str(code)) or not isinstance(spec, dict):
            problems.append(f"{at}: a code is upper case letters, digits and _, its value an object")
            continue
        name = spec.get("name")
        if not isinstance(name, dict) or not isinstance(name.get("en"), str):
            problems.append(f"{at}.name needs at least an English name")
            continue
        if spec.get("area") not in AREAS:
            problems.append(f"{at}.area: one of {', '.join(sorted(AREAS))}")
        if spec.get("evidence") is not None and spec["evidence"] not in EVIDENCE:
            problems.append(f"{at}.evidence: one of {', '.join(sorted(EVIDENCE))}")
        clocks = {k: _clock(spec.get(k), f"{at}.{k}", goals, problems) for k in ("deadline", "not_before")}
        out[code] = GoalKind(code, {str(k): str(v) for k, v in name.items()}, str(spec.get("area")),
                             clocks["deadline"], clocks["not_before"], spec.get("evidence"))
    if problems:
        raise ConfigurationError(f"plans file {where.name}: " + "; ".join(problems[:20]))
    return out


def _clock(value: Any, at: str, goals: dict[str, Any], problems: list[str]) -> Clock | None:
    if value is None:
        return None
    source, days = (value.get("from"), value.get("days")) if isinstance(value, dict) else (None, None)
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 3660 or not isinstance(source, str) \
            or not (source == "arrival" or (source.startswith("goal:") and source[5:] in goals)):
        problems.append(f"{at}: {{\"from\": \"arrival\" or \"goal:<CODE>\", \"days\": 0 to 3660}}")
        return None
    return Clock(source, days)


def on_clock(clock: Clock | None, *, arrived_on: date | None, met_on: dict[tuple[str, str | None], date],
             member_id: str | None) -> date | None:
    """The date `clock` gives a goal of one person (the client's, `member_id` None, or a household member's): from
    the client's arrival, or from the day that person's goal named by the clock was met (`met_on`, by (code,
    member)); None while its start is not known."""
    if clock is None:
        return None
    start = arrived_on if clock.source == "arrival" else met_on.get((clock.source.removeprefix("goal:"), member_id))
    return start + timedelta(days=clock.days) if start is not None else None
