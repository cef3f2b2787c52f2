"""Fault injection for the loopback simulators: what real venues do to clients on a bad day.

All faults are off by default and decided by a seeded RNG, so a test that injects them is repeatable.
HTTP faults apply to requests whose `METHOD /path` starts with one of `paths` (by default the order
endpoints).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from typing import Any

ORDER_PATHS = ("POST /api/v3/order", "DELETE /api/v3/order")


@dataclass
class Faults:
    latency_ms: int = 0  # added before every matching response
    drop_response_rate: float = 0.0  # processed, then the connection is closed without an answer
    ack_delay_ms: int = 0  # processed, then the answer is held back (stream events overtake it)
    error_5xx_rate: float = 0.0  # 503 without processing
    rate_429_rate: float = 0.0  # 429 with Retry-After, without processing
    stale_feed: bool = False  # market data stops, sockets stay open
    sequence_gap: bool = False  # the next depth update skips one update id (one-shot)
    paths: tuple[str, ...] = ORDER_PATHS
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)
        for name in ("drop_response_rate", "error_5xx_rate", "rate_429_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")

    @staticmethod
    def from_json(data: dict[str, Any]) -> Faults:
        known = {f.name for f in fields(Faults) if not f.name.startswith("_")}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown faults: {', '.join(sorted(unknown))}")
        if "paths" in data:
            data = {**data, "paths": tuple(data["paths"])}
        return Faults(**data)

    def applies(self, method: str, path: str) -> bool:
        target = f"{method} {path}"
        return any(target.startswith(p) for p in self.paths)

    def roll(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate
