"""Load and faults, short (issue 15, §6): benchmarks/load.py's three phases, a few seconds each.

Concurrent profile requests against the gateway in its own process on a PostgreSQL server of this test's own;
the benefits agency killed and started again mid-load; PostgreSQL crashed and started again mid-load. What a
caseworker and an auditor would notice: no 5xx, only the dead agency's section fails and comes back, nothing is
shown while the access log cannot be written and service returns within 5 s of the database, and the log has
an event for every answer that showed data, with no gap and no fork.
"""

from __future__ import annotations

import pytest

from benchmarks.load import Findings, run
from demo.postgres import PostgresServer, find_bindir


@pytest.mark.postgres
def test_load_with_an_agency_killed_and_the_database_restarted() -> None:
    bindir = find_bindir()
    assert bindir is not None, "./scripts/test installs PostgreSQL's server binaries"
    # Its own server, which this test crashes and starts again; durable (fsync and synchronous commit on, as in
    # production): without them a crash loses commits already acknowledged, access events among them.
    pg = PostgresServer(bindir, durable=True).start()
    try:
        result = run(seconds=4.0, concurrency=8, latency_ms=10.0, pg=pg)
    finally:
        pg.stop()
    f = Findings.of(result)
    steady, agency, store = result.phases
    assert len(steady.outcomes) > 50 and len(store.outcomes) > 50

    assert f.server_errors == 0
    assert f.steady_errors == 0

    assert any(o.sections.get("benefits") == "FAILED" for o in agency.outcomes)  # the fault was felt
    assert f.collateral == 0  # housing and schooling shown throughout
    assert f.agency_slowest_failed < 2.0  # the connector's 1 s deadline, retries and all
    assert f.agency_recovery is not None and f.agency_recovery < 5.0  # breaker cooldown 2 s

    assert f.leaked_while_down == 0
    assert set(f.refusals_while_down) == {"AUDIT_UNAVAILABLE"}
    assert f.store_recovery is not None and f.store_recovery <= 5.0
    assert f.failed_after_recovery == 0

    assert f.undisclosed == 0  # every answer that showed data has its access event
    assert f.surplus_events <= 8  # at most the requests in flight when the database went down
    assert f.chain_breaks == []
