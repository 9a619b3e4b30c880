"""Write the synthetic shelter system as a HUD HMIS CSV export (FY2024 or FY2026), as a CoC would drop it."""

from __future__ import annotations

import csv
import zipfile
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from connectors.hmis.spec import Layout, layout_files
from demo.population import HmisData

FULL, DELTA = 2, 1


def write_export(
    hmis: HmisData, out: Path, *, layout: Layout = Layout.FY2024, export_id: str = "1001",
    exported_at: datetime | None = None, start: date | None = None, directive: int = FULL, as_zip: bool = False,
) -> Path:
    """Write the export to the directory `out` (or to the zip file `out`); returns `out`."""
    exported_at = exported_at or datetime.now().replace(microsecond=0)
    start = start or date(exported_at.year - 3, exported_at.month, 1)
    files = export_files(hmis, layout=layout, export_id=export_id, exported_at=exported_at, start=start,
                         directive=directive)
    if as_zip:
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, text in files.items():
                zf.writestr(name, text)
        return out
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8", newline="")
    return out


def export_files(
    hmis: HmisData, *, layout: Layout, export_id: str, exported_at: datetime, start: date, directive: int,
) -> dict[str, str]:
    """Each file's CSV text, by file name."""
    meta = {"DateCreated": exported_at, "DateUpdated": exported_at, "UserID": "U-0001", "DateDeleted": None,
            "ExportID": export_id}
    export_row = {
        "ExportID": export_id, "SourceType": 3, "SourceID": hmis.source_id, "SourceName": hmis.source_name,
        "ExportDate": exported_at, "ExportStartDate": start, "ExportEndDate": exported_at.date(),
        "SoftwareName": "casebridge demo", "SoftwareVersion": "1", "ExportPeriodType": 4,
        "CSVVersion": "2024 v1.3" if layout is Layout.FY2024 else "2026 v1.0", "ExportDirective": directive,
        "HashStatus": 1,
    }
    rows = {
        "Export.csv": [export_row],
        "Organization.csv": hmis.organizations, "Project.csv": hmis.projects,
        "Client.csv": [_client(c, layout) for c in hmis.clients],
        "Enrollment.csv": hmis.enrollments, "Exit.csv": hmis.exits, "EmploymentEducation.csv": hmis.employment,
    }
    out = {}
    for name, columns in layout_files(layout).items():
        table = [columns] + [[_cell({**meta, **r} if name != "Export.csv" else r, c) for c in columns]
                             for r in rows[name]]
        out[name] = _csv(table)
    return out


def _client(c: dict[str, Any], layout: Layout) -> dict[str, Any]:
    if layout is Layout.FY2026:
        return c
    sex = c.get("Sex")
    return {**{k: v for k, v in c.items() if k != "Sex"}, "Woman": int(sex == 0), "Man": int(sex == 1),
            "GenderNone": 99 if sex not in (0, 1) else None}


def _cell(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _csv(table: list[Any]) -> str:
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(table)
    return buf.getvalue()


def midnight(d: date) -> datetime:
    """The start of day `d` (export timestamps in tests)."""
    return datetime.combine(d, time())
