"""Spans per request, gate and connector call, carrying ids and category names only."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.app import create_app
from api.services import build_services
from demo.population import Population
from demo.servers import ServerThread
from tests.gateway import GraphQLClient, seed_links, token


async def test_spans_carry_ids_and_categories_never_personal_data(
    database_url: str, benefits_server: ServerThread, population: Population, settings_factory: Any
) -> None:
    await seed_links(database_url, population)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = settings_factory(database_url=database_url, benefits_url=benefits_server.url)
    person = population.people[0]
    with ServerThread(create_app(settings, services=build_services(settings, tracer_provider=provider))) as gw:
        client = GraphQLClient(gw.url, token(settings, "HRA", "caseworker"))
        body = await client.query(
            "query($id: ID!) { client(id: $id) { identity { records { lastName dateOfBirth } } "
            "benefits { cases { status } } } }",
            {"id": person.client_id}, headers={"X-Request-Id": "req-telemetry-1"})
    assert body["data"]["client"]["identity"]["records"][0]["lastName"] == person.last_name
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert {"POST /graphql", "gate.disclose", "connector.fetch"} <= set(spans)
    assert spans["POST /graphql"].attributes["casebridge.request_id"] == "req-telemetry-1"
    assert spans["POST /graphql"].attributes["http.response.status_code"] == 200
    assert spans["connector.fetch"].attributes["casebridge.connector"] == "benefits"
    assert set(spans["gate.disclose"].attributes["casebridge.categories"]) == {"identity", "benefits"}
    assert spans["connector.fetch"].parent is not None
    everything = repr([(s.name, dict(s.attributes or {}), [e.attributes for e in s.events])
                       for s in exporter.get_finished_spans()])
    for personal in (person.first_name, person.last_name, person.dob.isoformat(), person.cin, person.benefits_id):
        assert personal not in everything


def test_the_suite_s_watch_would_see_a_name_in_a_log_or_an_exported_span() -> None:
    """The session-wide check (tests/pii_watch.py) is not vacuous: a name put in a log record and in a span
    exported over OTLP/HTTP to its collector is found."""
    import logging

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from tests import pii_watch

    collector, handler = pii_watch.Collector(), pii_watch.Collected()
    logger = logging.getLogger("casebridge.watch-check")
    logger.addHandler(handler)
    logger.warning("client %s", "Quorra Zyx")
    logger.removeHandler(handler)
    with ServerThread(collector.app()) as server:
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{server.url}/v1/traces")))
        with provider.get_tracer("check").start_as_current_span("leaky", attributes={"who": "Quorra Zyx"}):
            pass
        provider.shutdown()  # flushes the batch to the collector
    assert pii_watch.leaks(handler.texts, collector.bodies, {"Quorra Zyx"}) == [
        "log: 'Quorra Zyx'", "span export: 'Quorra Zyx'"]
    assert pii_watch.leaks(handler.texts, collector.bodies, {"Someone Else"}) == []


def test_span_ids_do_not_come_from_the_shared_random_state() -> None:
    """Seeding `random` (a test, a simulation) must not repeat trace ids, and a request must not move a state
    other code draws from."""
    import random

    from api.settings import TelemetrySettings
    from api.telemetry import make_tracer_provider, shutdown

    provider = make_tracer_provider(TelemetrySettings(exporter="console"))
    tracer = provider.get_tracer("check")
    ids = set()
    for _ in range(3):
        random.seed(5)
        state = random.getstate()
        with tracer.start_as_current_span("s") as span:
            ids.add(span.get_span_context().trace_id)
        assert random.getstate() == state  # untouched
    assert len(ids) == 3  # not the same id after the same seed
    shutdown(provider)


def test_exporting_spans_leaves_the_shared_random_state_alone() -> None:
    """The OTLP exporter draws a backoff jitter from the `random` module before every export, on the span
    processor's own thread; Hypothesis fails a property test whose draws see that shared state move (the consent
    property test did, flakily, about one full run in two). tests/conftest.py gives the exporter a Random of its
    own; this fails if that stops holding."""
    import os
    import random

    from api.settings import TelemetrySettings
    from api.telemetry import make_tracer_provider, shutdown

    provider = make_tracer_provider(TelemetrySettings(exporter="otlp",
                                                      otlp_endpoint=os.environ["CASEBRIDGE_TEST_OTLP_ENDPOINT"]))
    state = random.getstate()
    with provider.get_tracer("check").start_as_current_span("s"):
        pass
    assert provider.force_flush(10_000)
    assert random.getstate() == state
    shutdown(provider)
