"""The demo's acceptance (issue 20), on the city `./scripts/demo` builds by default (its seed and household count,
read from the `casebridge demo` command itself), without starting a server: its sheltered client is in shelter now,
chronically homeless by HUD's definition as the shelter system's own stays show (with the stays), has a birth
certificate the benefits agency accepted, and one upload of their own awaiting DHS's review. tests/test_cli.py runs
the whole demo on a smaller city, where that client has left shelter; this is the city the demo shows. On SQLite and
PostgreSQL (the seed goes through the gate and the store like the demo's)."""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from api.services import build_services
from cli.demo import (
    DHS_WORKER,
    SHELTERED_CLIENT,
    _sheltered,
    chronically_homeless,
    seed,
    upcoming_interview,
    verified_at_hra,
)
from cli.main import demo as demo_command
from connectors.held_documents import CLIENT_HOLDER
from core.principal import Principal, RequestContext
from core.vocabulary import Category, Purpose, Role
from demo.population import generate
from gate import SectionStatus
from resolvers.types import chronic_view
from store.engine import make_engine, make_sessionmaker
from store.held_tables import DocumentFile


def _default(name: str) -> Any:
    return inspect.signature(demo_command).parameters[name].default


async def test_the_default_demo_city_shows_its_sheltered_client_chronic_verified_at_hra_with_an_upload(
    database_url: str, settings_factory: Any, tmp_path: Path,
) -> None:
    population = generate(seed=_default("seed"), households=_default("households"))
    # what `casebridge demo` does to the city before it seeds it (cli/demo.run_demo)
    upcoming_interview(population, now=datetime.now(UTC))
    client = chronically_homeless(population)
    assert verified_at_hra(population) == client == _sheltered(population)
    settings = settings_factory(database_url=database_url, documents={"blob_dir": tmp_path / "blobs"})
    await seed(settings, population, export_dir=tmp_path / "hmis-export")

    services = build_services(settings)
    try:
        dhs = RequestContext(Principal(DHS_WORKER, "DHS", frozenset({Role.CASEWORKER})), "demo-acceptance",
                             Purpose.CASE_MANAGEMENT)
        seen = (await services.gate.disclose(dhs, [client], [Category.HOUSING]))[client]
        (part,) = seen.parts(Category.HOUSING)
        assert (part.holder, part.status) == ("DHS", SectionStatus.SHOWN)  # DHS's own records
        stays = list(part.data)
        assert any(s.status == "IN_SHELTER" and s.exit_date is None for s in stays)  # in shelter now
        chronic = chronic_view(stays)
        assert chronic is not None and str(chronic.status) == "YES" and chronic.verified_by_stays
        assert len(chronic.supporting_stays) >= 2  # the outreach team's 400 nights, then the shelter
        assert chronic.nights_in_stays is not None and chronic.nights_in_stays >= 365
        reviews = await services.documents.reviews(dhs)
    finally:
        await services.aclose()

    # the benefits agency (its simulator serves these records) accepted the birth certificate last year
    person = next(p for p in population.people if p.client_id == client)
    case = population.benefits[person.benefits_id or ""]["cases"][0]
    (birth,) = [d for d in case["requiredDocuments"] if d["type"] == "BIRTH_CERTIFICATE"]
    assert birth["status"] == "ACCEPTED"
    assert date.fromisoformat(birth["acceptedOn"]) > date.today() - timedelta(days=366)

    # the client's own photo of their ID, sent from their phone, waiting on DHS's review list
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            files = list((await session.execute(select(DocumentFile).where(
                DocumentFile.client_id == client))).scalars())
    finally:
        await engine.dispose()
    assert [(f.holder, f.document, f.sent_by) for f in files] == [(CLIENT_HOLDER, "PHOTO_ID", SHELTERED_CLIENT)]
    assert [(r.file.client_id, r.file.id) for r in reviews] == [(client, files[0].id)]
