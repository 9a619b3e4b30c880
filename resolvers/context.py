"""The per-request GraphQL context: who is asking, why, and the gate to ask through."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as _Info

from core.principal import RequestContext
from gate import Gate


@dataclass
class Context:
    """What every resolver may use; built once per HTTP request by api/app.py."""

    request: RequestContext
    gate: Gate
    loaders: dict[str, Any] = field(default_factory=dict)


Info = _Info[Context, None]
