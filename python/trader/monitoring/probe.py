"""What monitoring reads of a running engine, in one place: a `Sample` of plain values (floats: analytics
only, never the order path) taken on the timer, the tick-to-wire latency source, the journal's write
timing, and each venue's rate-limit usage. When the engine's insides move, only this file follows."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trader.venues._http import HttpClient

if TYPE_CHECKING:
    from trader.engine.engine import Engine
    from trader.engine.venue import VenueState

STATES = ("active", "reducing", "halted")
PNL_PARTS = ("realized", "unrealized", "fees", "funding", "total")


@dataclass
class BookSample:
    age_s: float | None  # since the last book update (our clock); None: none yet
    stale: bool
    mid: float | None
    position: float  # in the instrument's quantity units


@dataclass
class RateSample:
    quota: str  # the quota's id at the venue's limiter (a small integer, as text)
    window_s: float
    used: int
    limit: int


@dataclass
class VenueSample:
    state: str  # active, reducing, halted
    killed: bool
    failed: bool
    up: bool  # every stream up
    streams_down: tuple[str, ...]
    banned: bool
    blocked: bool  # banned, or the venue told us to back off
    daily_loss: bool  # reducing or halted by its daily-loss latch (no kill, ban or stream down)
    pnl: dict[str, float]  # PNL_PARTS
    counts: dict[str, int]  # orders, fills, rejects, canceled, unknown_outcomes, disconnects
    books: dict[str, BookSample] = field(default_factory=dict)
    rate_limits: list[RateSample] = field(default_factory=list)


@dataclass
class Sample:
    ts_ns: int
    currency: str
    state: str
    killed: bool
    daily_loss: bool
    venues: dict[str, VenueSample]
    total: dict[str, float]
    assets: dict[str, tuple[float, float]]  # asset -> (position, exposure in the reporting currency)
    strategies: dict[str, dict[str, float]]  # name -> pnl, orders, fills
    denials: dict[str, int]


def _f(x: object) -> float:
    return float(Decimal(str(x)))


def _pnl(row: dict[str, object]) -> dict[str, float]:
    return {
        "realized": _f(row["realized_pnl"]),
        "unrealized": _f(row["unrealized_pnl"]),
        "fees": _f(row["fees"]),
        "funding": _f(row["funding"]),
        "total": _f(row["pnl"]),
    }


def _state(x: object) -> str:
    return str(x).rsplit(".", 1)[-1].lower()


def http_clients(connector: object) -> Iterator[HttpClient]:
    """The HTTP clients a connector holds (directly, or in a list or tuple): their limiters' usage."""
    try:
        values = list(vars(connector).values())
    except TypeError:
        return
    for v in values:
        if isinstance(v, HttpClient):
            yield v
        elif isinstance(v, list | tuple):
            yield from (x for x in v if isinstance(x, HttpClient))


def _rate_limits(v: VenueState, now_ns: int) -> tuple[list[RateSample], bool]:
    out: list[RateSample] = []
    backoff = False
    for client in http_clients(v.connector):
        backoff = backoff or client.backoff_until_ns > now_ns
        for quota, interval, used, limit in client.usage(now_ns):
            out.append(RateSample(str(quota), interval / 1e9, used, limit))
    return out, backoff


def _books(v: VenueState, now_ns: int) -> dict[str, BookSample]:
    out = {}
    feeds: dict[str, Any] = getattr(v.feeds, "_feeds", {})
    for symbol, inst in v.instruments.items():
        feed = feeds.get(symbol)
        mid = None
        if inst.bid is not None and inst.ask is not None:
            fmt = inst.spec.format_price
            mid = (_f(fmt(inst.bid)) + _f(fmt(inst.ask))) / 2
        out[symbol] = BookSample(
            age_s=None if feed is None else max(now_ns - feed.last_ns, 0) / 1e9,
            stale=bool(feed is not None and feed.stale),
            mid=mid,
            position=inst.position.qty * float(inst.spec.qty_unit),
        )
    return out


def _venue(engine: Engine, v: VenueState, row: dict[str, object], now_ns: int) -> VenueSample:
    gate = engine.gate
    started = gate is not None and v.gate_id >= 0
    state = _state(gate.trading_state(venue=v.gate_id)) if gate is not None and started else "halted"
    killed = bool(gate is not None and started and gate.is_killed(venue=v.gate_id))
    limits, backoff = _rate_limits(v, now_ns)
    blocked_other = v.ban.active or v.health.is_down or v.health.recovering or bool(v.failed)
    return VenueSample(
        state=state,
        killed=killed,
        failed=bool(v.failed),
        up=not v.health.is_down,
        streams_down=tuple(sorted(str(s) for s in v.health.down)),
        banned=v.ban.active,
        blocked=v.ban.active or backoff,
        daily_loss=started and state != "active" and not killed and not blocked_other,
        pnl=_pnl(row),
        counts={
            k: int(row[k])  # type: ignore[call-overload]
            for k in ("orders", "fills", "rejects", "canceled", "unknown_outcomes", "disconnects")
        },
        books=_books(v, now_ns),
        rate_limits=limits,
    )


def sample(engine: Engine) -> Sample:
    """The engine's state now: per venue, per asset, per strategy, in total. Not for the hot path: it
    sums every position exactly (call it from the timer, at most every second or so)."""
    from trader.engine.summary import _breakdown

    now = engine.clock.now_ns()
    venues_rows, strategies_rows, assets_rows = _breakdown(engine)
    venues = {name: _venue(engine, v, venues_rows[name], now) for name, v in engine.venues.items()}
    total = {p: sum(v.pnl[p] for v in venues.values()) for p in PNL_PARTS}
    gate = engine.gate
    state = _state(gate.trading_state()) if gate is not None else "halted"
    killed = bool(gate is not None and gate.is_killed())
    return Sample(
        ts_ns=now,
        currency=engine.cfg.risk.reporting_currency,
        state=state,
        killed=killed,
        daily_loss=gate is not None and state != "active" and not killed,
        venues=venues,
        total=total,
        assets={a: (_f(r["position"]), _f(r["exposure"])) for a, r in assets_rows.items()},
        strategies={
            name: {"pnl": _f(r["pnl"]), "orders": _f(r["orders"]), "fills": _f(r["fills"])}
            for name, r in strategies_rows.items()
        },
        denials=dict(engine.denials),
    )


class TickToWire:
    """Tick-to-wire latency samples (ns) not taken yet: from our read of the market-data frame to the
    order's bytes handed to the socket (`engine.lat.tick_to_wire`). A session in simulated time has no
    real-time wire stamp; there the source is the engine's tick-to-order figures (`engine.latencies`,
    on its wall clock), the only real latency such a session measures."""

    def __init__(self) -> None:
        self._seen = 0

    def take(self, engine: Engine) -> list[int]:
        if engine.latency_clock is not engine.clock:  # simulated time: tick-to-order (a plain list)
            samples = engine.latencies
            if len(samples) < self._seen:  # trimmed by the engine: start over
                self._seen = 0
            new = list(samples[self._seen :])
            self._seen = len(samples)
            return new
        series = engine.lat.tick_to_wire
        fresh = series.count - self._seen
        self._seen = series.count
        return list(series.samples)[-min(fresh, len(series.samples)) :] if fresh > 0 else []


def time_journal(engine: Engine, observe: Callable[[float], None]) -> Callable[[], None]:
    """Time every journal write (intents and order events) into `observe(seconds)`; returns the undo.
    The clock is the engine's latency clock (a wall clock, also in simulated time)."""
    journal, clock = engine.journal, engine.latency_clock
    originals: dict[str, Callable[..., Any]] = {}
    for name in ("record_intent", "record_event"):
        method = getattr(journal, name, None)
        if method is None:
            continue
        originals[name] = method

        def timed(*args: Any, _m: Callable[..., Any] = method, **kwargs: Any) -> Any:
            t0 = clock.monotonic_ns()
            try:
                return _m(*args, **kwargs)
            finally:
                observe((clock.monotonic_ns() - t0) / 1e9)

        setattr(journal, name, functools.wraps(method)(timed))

    def undo() -> None:
        for name in originals:
            delattr(journal, name)

    return undo
