"""What a session reports: the summary at the end and the snapshot a live view shows."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field

from trader.core import InstrumentSpec
from trader.strategies.base import OwnFill, OwnOrder


@dataclass
class Summary:
    seconds: float = 0.0
    orders: int = 0
    fills: int = 0
    filled_qty: str = "0"
    fees: str = "0"
    pnl: str = "0"
    realized_pnl: str = "0"
    unrealized_pnl: str = "0"
    inventory: str = "0"
    max_inventory: str = "0"
    denials: dict[str, int] = field(default_factory=dict)
    rejects: int = 0
    canceled: int = 0
    unknown_outcomes: int = 0
    overfills: int = 0  # fills beyond an order's quantity (counted in the position; alerted)
    reconciled_at_start: int = 0
    tick_to_order_p50_us: float = 0.0
    tick_to_order_p99_us: float = 0.0
    open_orders_after_shutdown: int = 0
    killed: bool = False
    stale_feeds: int = 0  # times a feed stalled and the quotes on it were pulled
    task_errors: int = 0  # errors a background task survived (logged each time)
    failure: str = ""  # why the engine stopped on its own (a dead event stream); the session failed

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Snapshot:
    """What a live view shows; built on demand, cheap."""

    symbol: str
    bid: int | None
    ask: int | None
    quotes: list[OwnOrder]
    position: str
    pnl: str
    fees: str
    orders: int
    fills: int
    recent_fills: list[OwnFill]
    denials: dict[str, int]
    trading_state: str
    killed: bool
    p50_us: float
    p99_us: float
    spec: InstrumentSpec


def percentiles(latencies: list[int]) -> tuple[float, float]:
    if not latencies:
        return 0.0, 0.0
    lat = sorted(latencies)
    return (
        round(statistics.median(lat) / 1000, 1),
        round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1000, 1),
    )
