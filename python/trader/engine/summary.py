"""What a session reports: the summary at the end and the snapshot a live view shows."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

from trader.core import InstrumentSpec
from trader.engine.portfolio import to_decimal
from trader.strategies.base import OwnFill, OwnOrder

if TYPE_CHECKING:
    from trader.engine.engine import Engine


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
    bans: int = 0  # times the venue banned us (418): the venue was HALTED until the ban was over
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


def summarize(engine: Engine, open_left: int = 0) -> Summary:
    """The session's summary: PnL and fees over every instrument (one quote currency), inventory of
    the primary one."""
    _, primary = engine._ready()
    s = engine.summary
    realized = unreal = Fraction(0)
    fees = Decimal(0)
    for inst in engine.instruments.values():
        pos, mark = inst.position, inst.mark()
        realized += pos.realized
        unreal += pos.unrealized(mark) if mark is not None and pos.qty else Fraction(0)
        fees += pos.fees
    qty_unit = Decimal(primary.spec.qty_unit)
    s.seconds = round((engine.clock.monotonic_ns() - engine._started_ns) / 1e9, 3)
    s.fees = f"{fees:f}"
    s.realized_pnl = f"{to_decimal(realized):f}"
    s.unrealized_pnl = f"{to_decimal(unreal):f}"
    s.pnl = f"{to_decimal(realized + unreal - Fraction(fees)):f}"
    s.inventory = str(Decimal(primary.position.qty) * qty_unit)
    s.max_inventory = str(Decimal(primary.max_abs) * qty_unit)
    s.filled_qty = str(Decimal(primary.position.volume) * qty_unit)
    s.denials = dict(engine.denials)
    s.tick_to_order_p50_us, s.tick_to_order_p99_us = percentiles(engine.latencies)
    s.open_orders_after_shutdown = open_left
    return s


def snapshot_of(engine: Engine) -> Snapshot:
    """What a live view shows now."""
    gate, primary = engine._ready()
    spec, pos, mark = primary.spec, primary.position, primary.mark()
    pnl = pos.pnl(mark) if mark is not None else pos.realized - Fraction(pos.fees)
    p50, p99 = percentiles(engine.latencies[-2000:])
    return Snapshot(
        symbol=engine.symbol,
        bid=engine.bid,
        ask=engine.ask,
        quotes=[engine._view(o) for o in engine.ledger.live() if o.instrument == engine.symbol],
        position=str(Decimal(pos.qty) * Decimal(spec.qty_unit)),
        pnl=f"{to_decimal(pnl, 6):f}",
        fees=f"{pos.fees:f}",
        orders=engine.summary.orders,
        fills=engine.summary.fills,
        recent_fills=list(engine.recent_fills),
        denials=dict(engine.denials),
        trading_state=str(gate.trading_state()).rsplit(".", 1)[-1],
        killed=gate.is_killed(),
        p50_us=p50,
        p99_us=p99,
        spec=spec,
    )
