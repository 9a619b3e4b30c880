"""The casebridge command: token, export-schema, migrate, and the demo answering its first query."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from api.auth import KeySource, TokenVerifier
from api.settings import Settings
from core.vocabulary import Role
from demo.servers import free_port
from resolvers.schema import schema_sdl
from store.migrate import head_revision

CLI = str(Path(sys.executable).parent / "casebridge")


def cli(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "CASEBRIDGE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
               "CASEBRIDGE_AUTH__DEV_KEY_FILE": str(tmp_path / "key.json"), **env}
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, env=environ, cwd=tmp_path)


def test_token_prints_a_token_the_gateway_accepts(tmp_path: Path) -> None:
    out = cli("token", "--role", "caseworker", "--org", "DHS", "--sub", "w-1", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    settings = Settings(auth={"dev_key_file": tmp_path / "key.json"})
    principal = asyncio.run(TokenVerifier(settings.auth, KeySource(settings.auth)).verify(out.stdout.strip()))
    assert (principal.subject, principal.organization, principal.roles) == ("w-1", "DHS", frozenset({Role.CASEWORKER}))


def test_token_refuses_an_unknown_role(tmp_path: Path) -> None:
    out = cli("token", "--role", "superuser", "--org", "DHS", tmp_path=tmp_path)
    assert out.returncode == 2 and "superuser" in out.stderr


def test_token_refuses_outside_development(tmp_path: Path) -> None:
    out = cli("token", "--role", "caseworker", "--org", "DHS", tmp_path=tmp_path,
              CASEBRIDGE_AUTH__JWKS_URL="https://idp.test/jwks")
    assert out.returncode == 2 and "development" in out.stderr


def test_export_schema_prints_the_sdl(tmp_path: Path) -> None:
    out = cli("export-schema", tmp_path=tmp_path)
    assert out.returncode == 0 and out.stdout == schema_sdl()


def test_serve_refuses_an_unmigrated_store_and_migrate_fixes_it(tmp_path: Path) -> None:
    refused = cli("serve", "--port", str(free_port()), tmp_path=tmp_path)
    assert refused.returncode == 2 and "casebridge migrate" in refused.stderr
    migrated = cli("migrate", tmp_path=tmp_path)
    assert migrated.returncode == 0 and f"revision {head_revision()}" in migrated.stderr


def test_demo_shows_own_agency_consent_withheld_and_legal_basis(tmp_path: Path) -> None:
    ports = ("--sms-port", str(free_port()), "--smtp-port", str(free_port()), "--webhook-port", str(free_port()))
    args = ("demo", "--no-serve", "--households", "5", "--port", str(free_port()), "--benefits-port", str(free_port()),
            "--schooling-port", str(free_port()), "--idp-port", str(free_port()), *ports)
    out = cli(*args, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "X-Purpose-Of-Use" in out.stdout
    assert "/app/" in out.stdout and "dhs-caseworker" in out.stdout and "auditor" in out.stdout  # the console's users
    tokens = [line.strip() for line in out.stdout.splitlines() if line.strip().startswith("eyJ")]
    assert len(tokens) == len(set(tokens)) == 4  # four callers, each token printed once
    assert "open it in a browser" not in out.stdout and "--no-serve" in out.stdout
    assert ".venv/bin/casebridge token --role caseworker --org DHS" in out.stdout  # a command that runs as shown
    cases = _summaries(out.stdout)
    own, consent, glass, shelter, school, auditor = cases
    assert own["benefits"] == ["HRA SHOWN OWN_AGENCY"]
    # the benefits agency's recertification interview (by consent) and DHS's own housing interview, one list
    assert consent["appointments"] == ["HRA SHOWN CONSENT", "DHS SHOWN OWN_AGENCY"]
    assert consent["documents"] == ["HRA SHOWN CONSENT"]
    assert consent["benefits"] == ["HRA WITHHELD CONSENT_REQUIRED"]
    # DHS's referral of the client to the immigration legal clinic, accepted by the legal-aid partner through the
    # API with its own token (the client's own application to an ESOL class is theirs: not DHS's to see)
    assert consent["referrals"] == ["Asylum and work authorization clinic: ACCEPTED (by DHS, answered by LEGALAID)"]
    assert re.search(r"the legal-aid partner, with its own token.*\n?.*ACCEPTED", out.stdout)
    # the family's 60-day plan: legal, work authorization, English classes, the child's school. The partner that
    # accepted the referral recorded the asylum application the client filed alone a month ago and its
    # representation: DHS, which the client let see their case, finds both in its evidence check (the asylum goal met
    # on the day it was filed, so the work permit's 150-day clock runs from then); the child's enrolment is seen by
    # the parent's consent for the child's school records
    plan = dict(line.split(": ", 1) for line in consent["plan"])
    assert set(plan) == {"LEGAL_REPRESENTATION_FOUND", "ASYLUM_APPLICATION_FILED", "WORK_AUTHORIZATION_FILED",
                         "ESOL_ENROLLED", "CHILD_ENROLLED_IN_SCHOOL"}
    assert re.search(r"the legal-aid partner records.*ASYLUM_APPLICATION_FILED on (\S+)", out.stdout)
    filed = date.fromisoformat(re.findall(r"ASYLUM_APPLICATION_FILED on (\d{4}-\d\d-\d\d)", out.stdout)[0])
    assert plan["LEGAL_REPRESENTATION_FOUND"] == "MET" and plan["ASYLUM_APPLICATION_FILED"].startswith("MET, due ")
    assert plan["WORK_AUTHORIZATION_FILED"] == f"OPEN, not before {filed + timedelta(days=150)}"
    assert plan["CHILD_ENROLLED_IN_SCHOOL"] == "MET" and plan["ESOL_ENROLLED"] == "IN_PROGRESS"
    # and DHS's system, subscribed through the API, was told by a signed webhook call
    assert re.search(r"webhook calls to DHS's system.*\n?.*referral ACCEPTED", out.stdout)
    assert glass["benefits"] == ["HRA SHOWN BREAK_GLASS"]
    assert auditor == {"errors": ["FORBIDDEN"]}  # an auditor never opens a profile
    assert shelter["housing"] == ["DHS SHOWN OWN_AGENCY"]  # the imported HMIS export, DHS's own records
    # chronically homeless by HUD's definition: by the intake's answers, and verified by the shelter system's own
    # stays - the street-outreach team's, then the shelter's - each listed with its kind of project and its dates
    chronic = re.fullmatch(r"YES \(homeless-a-year-before-entry\); verified by DHS's own stays: (\d+) nights on "
                           r"1 occasion\(s\) from \S+ to \S+", shelter["chronicHomelessness"])
    assert chronic is not None and int(chronic.group(1)) >= 365, shelter["chronicHomelessness"]
    stays = shelter["supportingStays"]
    assert re.fullmatch(r"Street Outreach, Street Outreach \(Manhattan\): \S+ to \d{4}-\d\d-\d\d", stays[0])
    assert len(stays) >= 2 and all(re.fullmatch(r"Emergency Shelter - [\w-]+, .+: \d{4}-\d\d-\d\d to "
                                                r"(\d{4}-\d\d-\d\d|now)", s) for s in stays[1:]), stays
    # the supportive-housing checklist, each document with since when it stands so: the birth certificate HRA
    # verified (seen by the client's consent; it does not expire), the pay stub HRA accepted seven months ago (a proof
    # of income holds 60 days), and the photo ID the client sent from their own view today, awaiting review
    checklist = shelter["checklist"]
    today = datetime.now(UTC).date()
    assert (f"BIRTH_CERTIFICATE AVAILABLE since {today - timedelta(days=300)} (300 days); agency at HRA (verified)"
            in checklist)
    assert (f"PROOF_OF_INCOME EXPIRED since {today - timedelta(days=149)} (149 days); agency at HRA (expired)"
            in checklist)
    assert f"PHOTO_ID RECEIVED since {today} (0 days); upload at CLIENT" in checklist
    # this small city's client has since moved into housing (the last stay listed ended): the stays that verify it
    # ended more than 90 days ago, so the shelter system's verification has expired (in the full demo city the
    # client is in shelter now, and it is AVAILABLE)
    assert not stays[-1].endswith(" to now")
    assert any(re.fullmatch(r"CHRONIC_HOMELESSNESS_VERIFICATION EXPIRED since \S+ \(\d+ days\); derived at DHS "
                            r"\(expired\)", line) for line in checklist), checklist
    assert shelter["documents"] == ["HRA SHOWN CONSENT", "CLIENT SHOWN CONSENT", "DHS SHOWN OWN_AGENCY"]
    assert own["housing"] == ["DHS WITHHELD CONSENT_REQUIRED"]  # people[0] has shelter stays: not HRA's to see
    assert school["schooling"] == ["DOE SHOWN OWN_AGENCY"]  # the Ed-Fi simulator, read live
    # the demo client's reminder of tomorrow's housing interview reached the demo's mailbox, in words with no detail
    assert re.search(r"reminders sent.*: \d+ text messages, [1-9]\d* emails", out.stdout)
    mails = [m.read_text() for m in sorted((tmp_path / "var" / "demo-mailbox").glob("*.eml"))]
    assert any("You have an appointment on" in m for m in mails) and not any("Beaver" in m for m in mails)
    # (and news of the referral the partner accepted, in words that name no service)
    assert all("Asylum" not in m and "clinic" not in m for m in mails)
    again = cli(*args[:4], "--port", str(free_port()), "--benefits-port", str(free_port()),
                "--schooling-port", str(free_port()), "--idp-port", str(free_port()), "--sms-port", str(free_port()),
                "--smtp-port", str(free_port()), "--webhook-port", str(free_port()), tmp_path=tmp_path)
    assert again.returncode == 0 and "(0 links added)" in again.stdout  # re-running seeds nothing twice
    assert _summaries(again.stdout) == cases


def _summaries(stdout: str) -> list[dict[str, list[str]]]:
    """The per-case section summaries the demo prints as JSON after the banner."""
    decoder = json.JSONDecoder()
    out, pos = [], stdout.index("A first query")
    while (start := stdout.find('{\n  "sections"', pos)) != -1:
        value, end = decoder.raw_decode(stdout, start)
        errors = [e["extensions"]["code"] for e in value["errors"] or []]
        out.append({"errors": errors} if errors else value["sections"])
        pos = end
    return out




def test_city_writes_each_agency_s_format_and_the_truth(tmp_path: Path) -> None:
    import csv

    out = tmp_path / "city"
    done = cli("city", str(out), "--households", "30", "--seed", "3", "--layout", "2026", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    truth = list(csv.DictReader((out / "truth.csv").read_text().splitlines()))
    people = list(csv.DictReader((out / "people.csv").read_text().splitlines()))
    assert {(r["source"], r["local_id"]) for r in truth} == {(r["source"], r["local_id"]) for r in people}
    assert {r["source"] for r in truth} == {"benefits", "hmis", "edfi"}
    clusters: dict[str, set[str]] = {}
    for r in truth:
        clusters.setdefault(r["client_id"], set()).add(r["source"])
    assert any(len(s) == 3 for s in clusters.values())  # someone known to all three agencies
    assert "2026 v1.0" in (out / "hmis" / "Export.csv").read_text()
    again = cli("city", str(tmp_path / "again"), "--households", "30", "--seed", "3", "--layout", "2026",
                tmp_path=tmp_path)
    assert again.returncode == 0
    assert (tmp_path / "again" / "truth.csv").read_text() == (out / "truth.csv").read_text()  # same seed, same city


def test_link_csv_with_missing_columns_and_bad_dates(tmp_path: Path) -> None:
    import csv

    city = tmp_path / "city"
    assert cli("city", str(city), "--households", "60", "--seed", "4", tmp_path=tmp_path).returncode == 0
    rows = list(csv.DictReader((city / "people.csv").read_text().splitlines()))
    truth = {(r["source"], r["local_id"]): r["client_id"]
             for r in csv.DictReader((city / "truth.csv").read_text().splitlines())}
    # an onboarding agency's file: no phone, address or cin columns; US dates; some rows broken
    columns = ["source", "local_id", "first_name", "last_name", "dob", "sex", "ssn", "student_id"]
    lines = [",".join(columns)]
    for r in rows:
        dob = r["dob"]
        us = f"{dob[5:7]}/{dob[8:10]}/{dob[:4]}" if dob else ""
        lines.append(",".join([r["source"], r["local_id"], r["first_name"], r["last_name"], us, r["sex"], r["ssn"],
                               r["student_id"]]))
    broken = next(k for k in range(5, len(lines)) if lines[k].split(",")[4])
    cells = lines[broken].split(",")
    cells[4] = "31/31/1980"
    lines[broken] = ",".join(cells)
    lines.append(",".join(["hmis", "", "Ana", "Diaz", "01/02/2000", "F", "", ""]))  # no local id
    lines.append(lines[2])  # the same record twice
    src = tmp_path / "agency.csv"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "links.csv"
    done = cli("identity", "link-csv", str(src), "--out", str(out), tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"line {len(lines) - 1} local_id: empty" in done.stderr
    assert f"line {len(lines)} local_id: repeats line 3" in done.stderr
    assert f"line {broken + 1} dob: not a date: matched without a date of birth" in done.stderr
    linked = list(csv.DictReader(out.read_text().splitlines()))
    assert [(r["source"], r["local_id"]) for r in linked] == [(r["source"], r["local_id"]) for r in rows]
    assert {r["match_grade"] for r in linked} <= {"certain", "probable", "possible", "none"}
    # records of one person share a client id, and different people do not, nearly always
    same = sum(1 for a in linked for b in linked if a is not b and a["client_id"] == b["client_id"]
               and truth[(a["source"], a["local_id"])] == truth[(b["source"], b["local_id"])])
    wrong = sum(1 for a in linked for b in linked if a is not b and a["client_id"] == b["client_id"]
                and truth[(a["source"], a["local_id"])] != truth[(b["source"], b["local_id"])])
    assert wrong <= same * 0.01 and same > 0


def test_identity_link_syncs_the_shelter_export_and_links_twice_stably(tmp_path: Path) -> None:
    city = tmp_path / "city"
    assert cli("city", str(city), "--households", "40", "--seed", "6", tmp_path=tmp_path).returncode == 0
    assert cli("migrate", tmp_path=tmp_path).returncode == 0
    assert cli("hmis", "import", str(city / "hmis"), tmp_path=tmp_path).returncode == 0
    only_housing = {"CASEBRIDGE_BENEFITS__ENABLED": "false", "CASEBRIDGE_SCHOOLING__ENABLED": "false"}
    first = cli("identity", "link", tmp_path=tmp_path, **only_housing)
    assert first.returncode == 0, first.stderr
    hmis_clients = (city / "hmis" / "Client.csv").read_text().count("\n") - 1
    told = " ".join(first.stderr.split())
    assert f"synced {hmis_clients} changed records from hmis" in told and f"{hmis_clients} records -> " in told
    again = cli("identity", "link", tmp_path=tmp_path, **only_housing)
    said = " ".join(again.stderr.split())  # rich wraps long lines
    assert "synced 0 changed records from hmis" in said
    assert "(0 new, 0 merged into another, 0 split off); 0 links written" in said


def test_identity_sync_matches_each_new_record_online(tmp_path: Path) -> None:
    city = tmp_path / "city"
    assert cli("city", str(city), "--households", "30", "--seed", "8", tmp_path=tmp_path).returncode == 0
    assert cli("migrate", tmp_path=tmp_path).returncode == 0
    assert cli("hmis", "import", str(city / "hmis"), tmp_path=tmp_path).returncode == 0
    only_housing = {"CASEBRIDGE_BENEFITS__ENABLED": "false", "CASEBRIDGE_SCHOOLING__ENABLED": "false"}
    done = cli("identity", "sync", tmp_path=tmp_path, **only_housing)
    assert done.returncode == 0, done.stderr
    hmis_clients = (city / "hmis" / "Client.csv").read_text().count("\n") - 1
    told = " ".join(done.stderr.split())
    assert f"synced {hmis_clients} changed records from hmis" in told
    assert f"{hmis_clients} records matched (0 joined a client, {hmis_clients} new clients" in told  # one shelter
    again = " ".join(cli("identity", "sync", tmp_path=tmp_path, **only_housing).stderr.split())
    assert "synced 0 changed records from hmis" in again and "0 records matched" in again


def test_demo_on_a_busy_port_says_which_flag_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = cli("demo", "--no-serve", "--port", str(port), tmp_path=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"port {port}" in out.stderr and "--port" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_a_port_whose_last_connection_waits_out_time_wait_is_free_for_the_demo() -> None:
    """`./scripts/demo` right after `./scripts/demo --no-serve`: the mailbox's port holds closed connections in
    TIME_WAIT for a minute; a server can listen there, so the demo must not call it taken."""
    import socket

    from cli.demo import busy_port

    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert busy_port({"--port": port}) == f"--port {port}"  # listening: taken
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server's side closes first: its port keeps the connection in TIME_WAIT
        client.close()
    assert busy_port({"--port": port}) is None
