"""OpenTelemetry set-up from settings: off, console or OTLP/HTTP.

Spans carry ids, connector and category names only, never personal data.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from api.settings import TelemetrySettings


def make_tracer_provider(settings: TelemetrySettings) -> trace.TracerProvider:
    """A tracer provider exporting where `settings` says (a no-op provider when off)."""
    if settings.exporter == "off":
        return trace.NoOpTracerProvider()
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
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
