"""What a session reports: the summary at the end and the snapshot a live view shows."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING

from trader.core import InstrumentSpec
from trader.engine.latency import us
from trader.engine.portfolio import Position, to_decimal
from trader.strategies.base import OwnFill, OwnOrder

if TYPE_CHECKING:
    from trader.engine.engine import Engine
    from trader.engine.venue import VenueState


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
    # tick-to-wire: market-data frame read -> the order's bytes handed to the socket (`engine.latency`)
    tick_to_wire_p50_us: float = 0.0
    tick_to_wire_p99_us: float = 0.0
    tick_to_wire_max_us: float = 0.0
    tick_to_wire_ns: dict[str, int] = field(default_factory=dict)  # count, p50, p90, p99, p999, max
    order_round_trip_p50_us: float = 0.0  # the order's bytes out -> the venue's ack read
    order_round_trip_p99_us: float = 0.0
    order_round_trip_ns: dict[str, int] = field(default_factory=dict)
    conflated: int = 0  # book updates skipped because a newer one had arrived (the engine was behind)
    rehearsals: int = 0  # orders rehearsed between orders while the loop busy-polled (`engine.rehearsal`)
    open_orders_after_shutdown: int = 0
    killed: bool = False
    bans: int = 0  # times the venue banned us (418): the venue was HALTED until the ban was over
    stale_feeds: int = 0  # times a feed stalled and the quotes on it were pulled
    task_errors: int = 0  # errors a background task survived (logged each time)
    failure: str = ""  # why the engine stopped on its own (a dead event stream); the session failed
    disconnects: int = 0  # times a venue's stream went down (the venue HALTED until it was back)
    watchdog: int = 0  # times the watchdog canceled everything at a venue whose stream stayed down
    funding_payments: int = 0
    funding: str = "0"
    killed_venues: list[str] = field(default_factory=list)
    reporting_currency: str = "USD"
    # the breakdown: per venue, per strategy, per asset (PnL in the reporting currency)
    venues: dict[str, dict[str, object]] = field(default_factory=dict)
    strategies: dict[str, dict[str, object]] = field(default_factory=dict)
    assets: dict[str, dict[str, object]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class VenueLine:
    """One venue in the live view."""

    venue: str
    symbol: str  # its first instrument
    bid: str
    ask: str
    position: str
    pnl: str
    orders: int
    fills: int
    open_orders: int
    state: str  # ACTIVE, HALTED (why), KILLED, FAILED


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
    venues: list[VenueLine] = field(default_factory=list)
    exposure: dict[str, str] = field(default_factory=dict)  # per asset: net position value, reporting ccy
    total_pnl: str = "0"
    tick_to_wire_p50_us: float = 0.0  # over the last 2000 orders
    tick_to_wire_p99_us: float = 0.0
    tick_to_wire_max_us: float = 0.0
    conflated: int = 0


def percentiles(latencies: list[int]) -> tuple[float, float]:
    if not latencies:
        return 0.0, 0.0
    lat = sorted(latencies)
    return (
        round(statistics.median(lat) / 1000, 1),
        round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1000, 1),
    )


def _rate(engine: Engine, currency: str) -> Fraction:
    """The currency's rate to the reporting currency now (marked or configured; absent: 1)."""
    cid = engine.currency_ids.get(currency)
    if engine.gate is not None and cid is not None:
        return Fraction(engine.gate.currency_rate(cid))
    rate = engine.cfg.risk.currencies.get(currency)
    return Fraction(rate.rate) if rate is not None else Fraction(1)


def _money(x: Fraction) -> str:
    return f"{to_decimal(x, 8).normalize():f}"


@dataclass
class _Sums:
    realized: Fraction = Fraction(0)
    unrealized: Fraction = Fraction(0)
    funding: Fraction = Fraction(0)
    fees: Fraction = Fraction(0)

    def add(self, pos: Position, mark: Fraction | None, rate: Fraction) -> None:
        self.realized += pos.realized * rate
        self.unrealized += (pos.unrealized(mark) if mark is not None and pos.qty else Fraction(0)) * rate
        self.funding += pos.funding * rate
        self.fees += Fraction(pos.fees) * rate

    @property
    def pnl(self) -> Fraction:
        return self.realized + self.unrealized + self.funding - self.fees

    def out(self) -> dict[str, object]:
        return {
            "fees": _money(self.fees),
            "realized_pnl": _money(self.realized),
            "unrealized_pnl": _money(self.unrealized),
            "funding": _money(self.funding),
            "pnl": _money(self.pnl),
        }


def _venue_sums(engine: Engine, v: VenueState) -> _Sums:
    sums = _Sums()
    for inst in v.instruments.values():
        sums.add(inst.position, inst.mark(), _rate(engine, inst.currency))
    return sums


def venue_pnl(engine: Engine, v: VenueState) -> Fraction:
    """The venue's PnL so far in the reporting currency (realized + marked + funding - fees), exact."""
    return _venue_sums(engine, v).pnl


def _venue_state(engine: Engine, v: VenueState) -> str:
    gate = engine.gate
    if v.failed:
        return f"FAILED: {v.failed}"
    if gate is None or v.gate_id < 0:
        return "NOT STARTED"
    if gate.is_killed(venue=v.gate_id):
        return "KILLED"
    state = str(gate.trading_state(venue=v.gate_id)).rsplit(".", 1)[-1]
    why = [w for w, on in (("banned", v.ban.active), ("stream down", v.health.is_down)) if on]
    return f"{state} ({', '.join(why)})" if why else state


def _breakdown(
    engine: Engine,
) -> tuple[dict[str, dict[str, object]], dict[str, dict[str, object]], dict[str, dict[str, object]]]:
    venues: dict[str, dict[str, object]] = {}
    for v in engine.venues.values():
        sums = _venue_sums(engine, v)
        venues[v.name] = {
            "orders": v.orders,
            "fills": v.fills,
            "canceled": v.canceled,
            "rejects": v.rejects,
            "unknown_outcomes": v.unknown_outcomes,
            "disconnects": v.health.disconnects,
            "state": _venue_state(engine, v),
            "positions": {
                i.symbol: i.spec.format_qty(i.position.qty)
                if i.position.qty >= 0
                else "-" + i.spec.format_qty(-i.position.qty)
                for i in v.instruments.values()
            },
            **sums.out(),
        }
    return venues, _strategies(engine), _assets(engine)


@dataclass
class _AssetRow:
    position: Decimal = Decimal(0)
    exposure: Fraction = Fraction(0)
    sums: _Sums = field(default_factory=_Sums)
    venues: list[str] = field(default_factory=list)


def _assets(engine: Engine) -> dict[str, dict[str, object]]:
    """Per asset over every venue: net position, its value, and PnL (reporting currency)."""
    rows: dict[str, _AssetRow] = {}
    for v in engine.venues.values():
        for inst in v.instruments.values():
            row = rows.setdefault(inst.asset or inst.symbol, _AssetRow())
            rate = _rate(engine, inst.currency)
            pos = inst.position
            row.position += Decimal(pos.qty) * Decimal(inst.spec.qty_unit)
            mark = inst.mark()
            row.exposure += (
                pos.qty * (mark if mark is not None else pos.avg_price) * Fraction(pos.unit_notional) * rate
            )
            row.sums.add(pos, mark, rate)
            row.venues.append(f"{v.name}:{inst.symbol}")
    return {
        name: {
            "position": f"{r.position:f}",
            "exposure": _money(r.exposure),
            "venues": r.venues,
            **r.sums.out(),
        }
        for name, r in rows.items()
    }


def _strategies(engine: Engine) -> dict[str, dict[str, object]]:
    """Per strategy (and `external`: fills not ours): orders, fills, PnL (reporting currency)."""
    strategies: dict[str, dict[str, object]] = {}
    for name, pf in engine.by_strategy.items():
        sums = _Sums()
        for (venue, symbol), pos in pf.positions.items():
            held = engine.venues[venue].instruments.get(symbol)
            if held is not None:
                sums.add(pos, held.mark(), _rate(engine, held.currency))
        st = engine.strategies.get(name)
        strategies[name] = {
            "orders": st.orders if st is not None else 0,
            "fills": st.fills if st is not None else 0,
            "halted": st.halted if st is not None else "",
            **sums.out(),
        }
    return strategies


def summarize(engine: Engine, open_left: int = 0) -> Summary:
    """The session's summary: PnL and fees over every venue and instrument (in the reporting currency),
    the breakdown per venue, strategy and asset, and the primary instrument's inventory."""
    _, primary = engine._ready()
    s = engine.summary
    total = _Sums()
    for v in engine.venues.values():
        for inst in v.instruments.values():
            total.add(inst.position, inst.mark(), _rate(engine, inst.currency))
    qty_unit = Decimal(primary.spec.qty_unit)
    s.seconds = round((engine.clock.monotonic_ns() - engine._started_ns) / 1e9, 3)
    s.fees = f"{to_decimal(total.fees):f}"
    s.realized_pnl = f"{to_decimal(total.realized):f}"
    s.unrealized_pnl = f"{to_decimal(total.unrealized):f}"
    s.funding = f"{to_decimal(total.funding):f}"
    s.pnl = f"{to_decimal(total.pnl):f}"
    s.inventory = str(Decimal(primary.position.qty) * qty_unit)
    s.max_inventory = str(Decimal(primary.max_abs) * qty_unit)
    s.filled_qty = str(Decimal(primary.position.volume) * qty_unit)
    s.denials = dict(engine.denials)
    s.tick_to_order_p50_us, s.tick_to_order_p99_us = percentiles(engine.latencies)
    s.tick_to_wire_ns = wire = engine.lat.tick_to_wire.stats()
    s.tick_to_wire_p50_us, s.tick_to_wire_p99_us = us(wire["p50"]), us(wire["p99"])
    s.tick_to_wire_max_us = us(wire["max"])
    s.order_round_trip_ns = rtt = engine.lat.round_trip.stats()
    s.order_round_trip_p50_us, s.order_round_trip_p99_us = us(rtt["p50"]), us(rtt["p99"])
    s.conflated = engine.lat.conflated
    s.rehearsals = engine.rehearsal.count
    s.open_orders_after_shutdown = open_left
    s.reporting_currency = engine.cfg.risk.reporting_currency
    s.venues, s.strategies, s.assets = _breakdown(engine)
    return s


def snapshot_of(engine: Engine) -> Snapshot:
    """What a live view shows now."""
    gate, primary = engine._ready()
    spec, pos, mark = primary.spec, primary.position, primary.mark()
    pnl = pos.pnl(mark) if mark is not None else pos.realized - Fraction(pos.fees)
    p50, p99 = percentiles(engine.latencies[-2000:])
    wire = engine.lat.tick_to_wire.stats(last=2000)
    venues, _, assets = _breakdown(engine)
    lines = []
    for v in engine.venues.values():
        first = next(iter(v.instruments.values()), None)
        fmt = first.spec.format_price if first is not None else str
        lines.append(
            VenueLine(
                venue=v.name,
                symbol=first.symbol if first is not None else "-",
                bid="-" if first is None or first.bid is None else fmt(first.bid),
                ask="-" if first is None or first.ask is None else fmt(first.ask),
                position=", ".join(f"{k} {q}" for k, q in venues[v.name]["positions"].items()),  # type: ignore[attr-defined]
                pnl=str(venues[v.name]["pnl"]),
                orders=v.orders,
                fills=v.fills,
                open_orders=sum(o.venue == v.name for o in engine.ledger.live()),
                state=str(venues[v.name]["state"]),
            )
        )
    total = sum((venue_pnl(engine, v) for v in engine.venues.values()), Fraction(0))
    return Snapshot(
        venues=lines,
        exposure={a: str(d["exposure"]) for a, d in assets.items()},
        total_pnl=_money(total),
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
        tick_to_wire_p50_us=us(wire["p50"]),
        tick_to_wire_p99_us=us(wire["p99"]),
        tick_to_wire_max_us=us(wire["max"]),
        conflated=engine.lat.conflated,
    )
