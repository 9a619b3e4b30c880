"""The city's plan catalogue is configuration (issue 21 §1): a city adds a goal without a release, and a file that
does not hold together refuses to load, naming every problem and no more of the file than its name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ConfigurationError
from plans.catalogue import Clock, load


def write(tmp_path: Path, goals: object) -> Path:
    path = tmp_path / "plans.json"
    path.write_text(json.dumps({"goals": goals}), encoding="utf-8")
    return path


def test_the_shipped_catalogue_counts_the_asylum_year_and_the_work_permits_wait() -> None:
    goals = load()
    assert goals["ASYLUM_APPLICATION_FILED"].deadline == Clock("arrival", 365)
    assert goals["WORK_AUTHORIZATION_FILED"].not_before == Clock("goal:ASYLUM_APPLICATION_FILED", 150)
    assert goals["CHILD_ENROLLED_IN_SCHOOL"].evidence == "schooling-enrolled"
    assert goals["JOB_STARTED"].evidence == "housing-employed"


def test_a_city_adds_its_own_goal(tmp_path: Path) -> None:
    goals = load(write(tmp_path, {"IDNYC_CARD": {"name": {"en": "IDNYC card", "es": "Tarjeta IDNYC"},
                                                 "area": "OTHER", "deadline": {"from": "arrival", "days": 30}}}))
    assert goals["IDNYC_CARD"].name == {"en": "IDNYC card", "es": "Tarjeta IDNYC"}
    assert goals["IDNYC_CARD"].deadline == Clock("arrival", 30)


def test_every_problem_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load(write(tmp_path, {
            "lower_case": {"name": {"en": "x"}, "area": "OTHER"},
            "NO_NAME": {"area": "OTHER"},
            "BAD_AREA": {"name": {"en": "x"}, "area": "SPACE"},
            "BAD_EVIDENCE": {"name": {"en": "x"}, "area": "OTHER", "evidence": "a-hunch"},
            "BAD_CLOCK": {"name": {"en": "x"}, "area": "OTHER", "not_before": {"from": "goal:NOWHERE", "days": 3}},
        }))
    message = str(raised.value)
    for problem in ("goals.lower_case", "goals.NO_NAME.name", "goals.BAD_AREA.area", "goals.BAD_EVIDENCE.evidence",
                    "goals.BAD_CLOCK.not_before"):
        assert problem in message, problem


def test_a_key_written_twice_a_huge_file_and_not_json_are_refused(tmp_path: Path) -> None:
    twice = tmp_path / "twice.json"
    twice.write_text('{"goals": {"A_GOAL": {"name": {"en": "x"}, "area": "OTHER"}, '
                     '"A_GOAL": {"name": {"en": "y"}, "area": "OTHER"}}}', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="A_GOAL written twice"):
        load(twice)
    huge = tmp_path / "huge.json"
    huge.write_text(" " * (1 << 20) + "{}", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="larger than"):
        load(huge)
    broken = tmp_path / "broken.json"
    broken.write_text('{"goals": {"SECRET_VALUE_X": ', encoding="utf-8")
    with pytest.raises(ConfigurationError) as raised:
        load(broken)
    assert "cannot be read as JSON" in str(raised.value) and "SECRET_VALUE_X" not in str(raised.value)
