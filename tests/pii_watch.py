"""Every log record and every exported span the whole suite produces, checked for the synthetic people's
personal data: names, dates of birth, SSNs, CINs. No personal data in logs or traces (DESIGN.md).

Log records are collected by a handler on the root logger (level INFO, the production level) for the whole
session. Spans: every gateway the tests build exports to a real OTLP/HTTP collector on 127.0.0.1 (the
`otlp` exporter production would use), which keeps the request bodies (protobuf: strings are stored as
their UTF-8 bytes, so a name in a span shows in the body).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from demo.population import Population, generate


class Collected(logging.Handler):
    """Keeps every record's message and exception text."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.texts: list[str] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        with self._lock:
            self.texts.append(text)


class Collector:
    """A minimal OTLP/HTTP trace receiver: keeps each export's body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def app(self) -> Starlette:
        async def traces(request: Request) -> Response:
            self.bodies.append(await request.body())
            return Response(b"", media_type="application/x-protobuf")
        return Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])


def personal_data(populations: Iterable[Population]) -> set[str]:
    """The strings that must never appear: full names, dates of birth (ISO and US), SSNs, CINs."""
    out: set[str] = set()
    for population in populations:
        for p in population.people:
            out |= {f"{p.first_name} {p.last_name}", p.dob.isoformat(), p.dob.strftime("%m/%d/%Y")}
            out |= {v for v in (p.ssn, p.cin) if v}
    return out


def suite_populations() -> list[Population]:
    """The populations the suite's fixtures and property tests build (tests/conftest.py, the property test)."""
    return [generate(seed=11, households=12), generate(seed=23, households=50)]


def leaks(texts: Iterable[str], bodies: Iterable[bytes], forbidden: set[str]) -> list[str]:
    """Which forbidden strings appear, and where (never the whole text: it may be long)."""
    found = []
    for text in texts:
        found += [f"log: {word!r}" for word in forbidden if word in text]
    for body in bodies:
        found += [f"span export: {word!r}" for word in forbidden if word.encode() in body]
    return sorted(set(found))
