"""Write a synthetic city to disk: each agency's records in its own format, one person file, and the truth.

    OUT/hmis/            the shelter system's HUD HMIS CSV export
    OUT/edfi/*.json      the district's Ed-Fi resources (students, associations, schools)
    OUT/benefits.json    the benefits agency's people (as GET /v1/people lists them)
    OUT/people.csv       every agency record of a person, demographics only, in the
                         `identity link-csv` input layout
    OUT/truth.csv        client_id,source,local_id: which records are the same person
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

from connectors.config import EdfiDescriptors
from connectors.edfi import StudentReach, code, merge_reach
from connectors.hmis.spec import Layout
from demo.hmis_export import write_export
from demo.population import Population, write_truth

PEOPLE_COLUMNS = ("source", "local_id", "first_name", "middle_name", "last_name", "dob", "sex", "ssn", "cin",
                  "student_id", "address", "zip", "phone")


def write_city(population: Population, out: Path, *, layout: Layout = Layout.FY2024, noise: bool = False
               ) -> dict[str, int]:
    """Write everything; returns the number of records written per file. With `noise`, people.csv and the
    truth also hold demo/noise.py's sources (borrowed SSNs, a duplicate-heavy register, intakes, odd dates)."""
    out.mkdir(parents=True, exist_ok=True)
    write_export(population.hmis, out / "hmis", layout=layout)
    edfi = population.edfi
    (out / "edfi").mkdir(exist_ok=True)
    for name, items in (("students", edfi.students), ("studentSchoolAssociations", edfi.school_associations),
                        ("studentHomelessProgramAssociations", edfi.homeless_associations),
                        ("schools", edfi.schools)):
        (out / "edfi" / f"{name}.json").write_text(json.dumps(items), encoding="utf-8")
    benefit_people = [r["person"] for r in population.benefits.values()]
    (out / "benefits.json").write_text(json.dumps(benefit_people), encoding="utf-8")
    rows = people_rows(population)
    extra: list[tuple[str, str, str]] = []
    if noise:
        from demo.noise import noisy_rows

        more, extra = noisy_rows(population, seed=population.seed)
        rows += more
    with (out / "people.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=PEOPLE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    truth = write_truth(population, out / "truth.csv", extra)
    return {"hmis clients": len(population.hmis.clients), "edfi students": len(edfi.students),
            "benefits people": len(benefit_people), "people.csv": len(rows), "truth.csv": truth}


def people_rows(population: Population) -> list[dict[str, object]]:
    """Every agency record of a person as that agency holds it (the drift included), one row each."""
    by_benefits = {p.benefits_id: p for p in population.people if p.benefits_id}
    rows: list[dict[str, object]] = []
    for pid, record in population.benefits.items():
        person, truth = record["person"], by_benefits[pid]
        assert isinstance(person, dict)
        rows.append({"source": "benefits", "local_id": pid, "first_name": person["firstName"],
                     "middle_name": person["middleName"], "last_name": person["lastName"], "dob": person["dob"],
                     "sex": person["sex"], "ssn": person["ssnLast4"] and f"xxxxx{person['ssnLast4']}",
                     "cin": person["cin"], "address": truth.address, "zip": truth.zip, "phone": truth.phone})
    for c in population.hmis.clients:
        rows.append({"source": "hmis", "local_id": c["PersonalID"], "first_name": c["FirstName"],
                     "last_name": c["LastName"], "dob": born.isoformat() if isinstance(born := c["DOB"], date) else "",
                     "sex": {0: "F", 1: "M"}.get(sex, "") if isinstance(sex := c["Sex"], int) else "",
                     "ssn": c["SSN"] if c["SSNDataQuality"] in (1, 2) else ""})
    by_student: dict[str, list[StudentReach]] = {}
    for a in population.edfi.education_organization_associations:  # as the connector reads them
        r = StudentReach.model_validate(a)
        by_student.setdefault(r.studentReference.studentUniqueId, []).append(r)
    descriptors = EdfiDescriptors()
    for s in population.edfi.students:
        reach = merge_reach(by_student.get(str(s["studentUniqueId"]), []), descriptors)
        home_sex = reach.sex or ""
        born = s.get("birthSexDescriptor")
        sex = descriptors.sex.get(home_sex) or descriptors.sex.get((code(str(born)) if born else None) or "")
        rows.append({"source": "edfi", "local_id": s["studentUniqueId"], "first_name": s["firstName"],
                     "last_name": s["lastSurname"], "dob": s["birthDate"], "sex": sex or "",
                     "student_id": s["studentUniqueId"], "address": reach.street, "zip": reach.zip,
                     "phone": reach.phone})
    return rows
