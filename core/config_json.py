"""A city's configuration file in JSON (checklists, the plan catalogue): read whole, bounded, and with every key
written once - a key written twice in one object is a mistake JSON itself would hide (the last one wins)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import ConfigurationError

MAX_FILE_BYTES = 1 << 20  # a city's configuration is kilobytes; anything near this is not one


class _Repeated(ValueError):
    pass


def read(path: Path, what: str, *, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """The JSON value in `path`; ConfigurationError naming `what` and the file (never its content) otherwise."""
    try:
        if path.stat().st_size > max_bytes:
            raise ConfigurationError(f"{what} {path.name}: larger than {max_bytes} bytes")
        return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_unique)
    except (OSError, ValueError, RecursionError) as exc:
        why = str(exc) if isinstance(exc, _Repeated) else type(exc).__name__
        raise ConfigurationError(f"{what} {path.name}: cannot be read as JSON ({why})") from None


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise _Repeated(f"{', '.join(repeated)} written twice in one object")
    return dict(pairs)
