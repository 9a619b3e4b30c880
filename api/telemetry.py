"""OpenTelemetry set-up from settings: off, console or OTLP/HTTP.

Spans carry ids, connector and category names only, never personal data.
"""

from __future__ import annotations

import secrets

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator

from api.settings import TelemetrySettings


class SystemIdGenerator(IdGenerator):
    """Trace and span ids from the operating system's random source.

    The SDK's default draws them from the `random` module's shared, seedable state: any code that seeds it
    (a test, a simulation) would repeat ids, and every request would move a state other code relies on
    (hypothesis refuses strategies during which it changes; it did, from the gateway's thread).
    """

    def generate_span_id(self) -> int:
        """A non-zero 64-bit id."""
        return secrets.randbits(64) or 1

    def generate_trace_id(self) -> int:
        """A non-zero 128-bit id."""
        return secrets.randbits(128) or 1


def make_tracer_provider(settings: TelemetrySettings) -> trace.TracerProvider:
    """A tracer provider exporting where `settings` says (a no-op provider when off)."""
    if settings.exporter == "off":
        return trace.NoOpTracerProvider()
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}),
                              id_generator=SystemIdGenerator())
    exporter: SpanExporter
    if settings.exporter == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=str(settings.otlp_endpoint))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def shutdown(provider: trace.TracerProvider) -> None:
    """Flush and stop exporting."""
    if isinstance(provider, TracerProvider):
        provider.shutdown()
