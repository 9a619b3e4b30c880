"""Checklists as configuration (issue 20 §1): the goals the city named, the documents each needs and how long a
copy stays valid, in a file a city edits without a release; a file that does not hold together is refused with
every problem named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from checklists.config import SHIPPED, load
from core.errors import ConfigurationError

CLI = str(Path(sys.executable).parent / "casebridge")


def test_the_shipped_checklists_cover_the_goals_the_city_named() -> None:
    found = load()
    assert set(found.goals) == {"SUPPORTIVE_HOUSING_APPLICATION", "SHELTER_PLACEMENT", "BENEFITS_RECERTIFICATION",
                                "SCHOOL_ENROLLMENT", "WORK_AUTHORIZATION_APPLICATION"}
    housing = found.goals["SUPPORTIVE_HOUSING_APPLICATION"].documents
    assert housing[:2] == ("PHOTO_ID", "BIRTH_CERTIFICATE") and "HOMELESSNESS_VERIFICATION" in housing
    assert found.documents["PROOF_OF_INCOME"].valid_days == 60
    assert found.documents["BIRTH_CERTIFICATE"].valid_days is None  # it does not expire
    assert found.documents["HOMELESSNESS_VERIFICATION"].derived_from == "hmis-chronic-homelessness"
    # the codes the benefits agency uses find their kind
    kind = found.kind_of("SSN_CARD")
    assert kind is not None and kind.code == "SOCIAL_SECURITY_CARD"
    assert found.kind_of("LEASE_OR_SHELTER_LETTER") is not None and found.kind_of("NOT_A_DOCUMENT") is None
    assert all(d.name.get("es") for d in found.documents.values())  # every document in Spanish too


def test_a_city_adds_a_goal_without_a_release(tmp_path: Path) -> None:
    raw = json.loads(SHIPPED.read_text())
    raw["documents"]["LEASE_AGREEMENT"] = {"name": {"en": "Signed lease"}, "valid_days": 30}
    raw["goals"]["MOVE_IN"] = {"name": {"en": "Move-in"}, "documents": ["PHOTO_ID", "LEASE_AGREEMENT"]}
    city = tmp_path / "city-checklists.json"
    city.write_text(json.dumps(raw))
    found = load(city)
    assert found.goals["MOVE_IN"].documents == ("PHOTO_ID", "LEASE_AGREEMENT")
    out = subprocess.run([CLI, "checklists", str(city)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "MOVE_IN  Move-in: Photo ID, Signed lease (30 days)" in out.stdout


@pytest.mark.parametrize(("change", "complaint"), [
    (lambda r: r["goals"]["SHELTER_PLACEMENT"]["documents"].append("PASSPORT_PHOTO"),
     "goals.SHELTER_PLACEMENT.documents: PASSPORT_PHOTO not among the documents"),
    (lambda r: r["documents"]["PROOF_OF_INCOME"].update(valid_days="sixty"), "documents.PROOF_OF_INCOME.valid_days"),
    (lambda r: r["documents"]["PROOF_OF_INCOME"].update(valid_days=0), "documents.PROOF_OF_INCOME.valid_days"),
    (lambda r: r["documents"]["PHOTO_ID"].update(name={"es": "Identificación"}), "documents.PHOTO_ID.name"),
    (lambda r: r["documents"]["PHOTO_ID"]["known_as"].append("SSN_CARD"), "SSN_CARD is already"),
    (lambda r: r["goals"].update({"bad code": {"documents": ["PHOTO_ID"]}}), "goals.bad code"),
    (lambda r: r["documents"]["HOMELESSNESS_VERIFICATION"].update(derived_from="a-guess"), "derived_from"),
    (lambda r: r.pop("goals"), "goals: an object"),
])
def test_a_file_that_does_not_hold_together_is_refused_naming_where(tmp_path: Path, change: object,
                                                                      complaint: str) -> None:
    raw = json.loads(SHIPPED.read_text())
    change(raw)  # type: ignore[operator]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw))
    with pytest.raises(ConfigurationError, match=r"checklists file bad\.json") as info:
        load(bad)
    assert complaint in info.value.message
    out = subprocess.run([CLI, "checklists", str(bad)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and complaint in out.stderr.replace("\n", " ")


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text("{ goals: ")
    with pytest.raises(ConfigurationError, match="cannot be read as JSON"):
        load(bad)
