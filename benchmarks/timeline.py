"""Where a profile request's time goes inside the gateway: `python -m benchmarks.fanout --timeline`.

`timed_gateway` builds the same gateway as the fan-out benchmark and wraps the
steps of a request (token check, crosswalk, decision, each connector and each
agency GET, the access log's write, the response) with
marks: milliseconds since the request reached the app. Every request's marks
are appended to a JSON-lines file; `summary` prints the median time of each
mark's first occurrence, in order. The marks themselves cost a little: read
the offsets, not the ratio, of a timeline run.
"""

from __future__ import annotations

import asyncio
import functools
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

_marks: list[tuple[str, float]] = []
_start = [0.0]


def _mark(name: str) -> None:
    _marks.append((name, (time.perf_counter() - _start[0]) * 1000))


def _around(owner: Any, attr: str, label: str | Callable[[Any], str]) -> None:
    """Mark `label >` before and `label <` after every await of owner.attr (a callable label gets the
    first argument: `self` for a method wrapped on its class)."""
    inner: Callable[..., Any] = getattr(owner, attr)

    @functools.wraps(inner)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        name = label(args[0]) if callable(label) else label
        _mark(f"{name} >")
        try:
            return await inner(*args, **kwargs)
        finally:
            _mark(f"{name} <")

    setattr(owner, attr, wrapped)


def timed_gateway(factory: Callable[..., Any], out: str, *args: Any) -> Any:
    """factory(*args) with marks around each step; runs inside the gateway's process."""
    from connectors.http import AgencyApi

    app = factory(*args)
    services = app.state.services
    gate = services.gate
    _around(services.verifier, "verify", "token check")
    _around(gate._crosswalk, "resolve", "crosswalk")
    _around(gate, "decide", "decision")
    for conn in gate.connectors:
        _around(getattr(conn, "inner", conn), "fetch", conn.name)
    _around(AgencyApi, "get", lambda api: f"{api.connector} GET")
    _around(gate._recorder, "record", "access log write")
    path = Path(out)

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql":
            await app(scope, receive, send)
            return
        _start[0] = time.perf_counter()
        _marks.clear()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                _mark("response sent")

        await app(scope, receive, timed_send)
        line = json.dumps(_marks) + "\n"
        await asyncio.to_thread(_append, path, line)  # after the response: not in what is measured

    return asgi


def _append(path: Path, line: str) -> None:
    with path.open("a") as f:
        f.write(line)


def summary(path: Path, skip: int) -> list[tuple[str, float]]:
    """Median ms of each mark's first occurrence per request (repeats numbered), earliest first."""
    at: dict[str, list[float]] = defaultdict(list)
    for line in path.read_text().splitlines()[skip:]:
        seen: dict[str, float] = {}
        for name, t in json.loads(line):
            n, key = 1, name
            while key in seen:
                n += 1
                key = f"{name} #{n}"
            seen[key] = t
        for key, t in seen.items():
            at[key].append(t)
    return sorted(((k, statistics.median(v)) for k, v in at.items()), key=lambda kv: kv[1])
