"""The Prometheus metrics of a running engine (`prometheus_client`), served on `--metrics-port` /
`[monitoring] metrics_port`, bound to 127.0.0.1 unless `metrics_host` says otherwise.

Counters move with the engine's events (the observer interface: order state changes, denials, venue
errors, kills); gauges are sampled on the timer (`trader.monitoring.probe`). Labels are bounded: venue,
strategy, symbol, asset and quota are configured names; reasons are error classes and gate codes (an
unexpected one becomes `other`); never an order id. Every name is listed in `METRIC_NAMES` (the Grafana
dashboard and the alert rules in deploy/ are checked against it).
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, NamedTuple

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)

from trader import __version__
from trader.engine import oms
from trader.engine.observer import EngineObserver
from trader.errors import ConfigError
from trader.monitoring.probe import PNL_PARTS, STATES, Sample, TickToWire, VenueSample, sample, time_journal
from trader.venues.base import Stream

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from trader.engine.engine import Engine
    from trader.errors import VenueError
    from trader.strategies.base import Place

_LATENCY_BUCKETS = (5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2, 0.1)
_RTT_BUCKETS = (1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_JOURNAL_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2, 0.25)
STREAMS = tuple(s.value for s in Stream)
_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,40}")
_ERROR_CLASS = re.compile(r"[A-Za-z][A-Za-z0-9]{1,40}Error")


def reason_label(reason: str) -> str:
    """A bounded label for a denial or reject reason: a gate code (`PRICE_COLLAR`), an error class
    (`InsufficientFundsError`), else `other`."""
    return reason if _CODE.fullmatch(reason) or _ERROR_CLASS.fullmatch(reason) else "other"


class _Kids(NamedTuple):
    orders: Counter
    acks: Counter
    fills: Counter
    unknown: Counter
    cancels: Counter
    round_trip: Histogram


class Metrics(EngineObserver):
    """Every metric of one engine, in its own registry. `sample_s`: how often the gauges are refreshed."""

    def __init__(self, engine: Engine, *, sample_s: float = 1.0) -> None:
        self.engine = engine
        disable_created_metrics()  # type: ignore[no-untyped-call]  # (untyped upstream) no `_created` series next to every counter (this process is ours)
        self.registry = r = CollectorRegistry()
        vs = ("venue", "strategy")
        self.orders = Counter(
            "trader_orders", "Orders sent (intent journaled, then sent once)", vs, registry=r
        )
        self.acks = Counter("trader_order_acks", "Orders the venue accepted", vs, registry=r)
        self.fills = Counter("trader_fills", "Fills applied to our orders", vs, registry=r)
        self.rejects = Counter(
            "trader_order_rejects", "Orders the venue rejected (or that were refused before the wire)",
            (*vs, "reason"), registry=r,
        )  # fmt: skip
        self.denials = Counter(
            "trader_risk_denials", "Orders the pre-trade check or the risk gate denied", (*vs, "reason"),
            registry=r,
        )  # fmt: skip
        self.unknown = Counter(
            "trader_order_unknown_outcomes", "Orders whose outcome was unknown (asked, never resent)", vs,
            registry=r,
        )  # fmt: skip
        self.cancels = Counter("trader_order_cancels", "Orders canceled (confirmed)", vs, registry=r)
        self.venue_errors = Counter(
            "trader_venue_errors", "Venue errors the engine saw, by class", ("venue", "error"), registry=r
        )
        self.kills = Counter(
            "trader_kills", "Kill switch latches (venue `all`: everything)", ["venue"], registry=r
        )
        self.tick_to_wire = Histogram(
            "trader_tick_to_wire_seconds",
            "From our read of a book message to the order it caused leaving the engine "
            "(source: the engine's tick-to-order samples)",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.round_trip = Histogram(
            "trader_order_round_trip_seconds", "From an order sent to the venue's acknowledgement", ["venue"],
            buckets=_RTT_BUCKETS, registry=r,
        )  # fmt: skip
        self.journal_write = Histogram(
            "trader_journal_write_seconds", "One durable journal write (intent or order event)",
            buckets=_JOURNAL_BUCKETS, registry=r,
        )  # fmt: skip
        self._gauges(r)
        self._latency = TickToWire()
        self._sent_ns: dict[str, int] = {}  # client id -> sent (until acked or done): bounded by live orders
        self._sample_ns = int(sample_s * 1e9)
        self._next_sample = 0
        self._seen: dict[tuple[str, str], int] = {}  # counts sampled from the engine: the last value
        self._undo_journal = time_journal(engine, self.journal_write.observe)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.last_sample: Sample | None = None
        self._last_error: dict[str, str] = {}  # venue -> the class of its last error (a reject's reason)
        self._stale: set[tuple[str, str]] = set()  # feeds stale at the last sample
        self._children: dict[tuple[str, str], _Kids] = {}

    def _gauges(self, r: CollectorRegistry) -> None:
        Gauge("trader_build_info", "The running trader's version", ["version"], registry=r).labels(
            __version__
        ).set(1)
        self.up_at = Gauge(
            "trader_last_sample_timestamp_seconds", "When the engine was last sampled", registry=r
        )
        self.book_age = Gauge(
            "trader_book_age_seconds",
            "Since the last book update (our clock)",
            ("venue", "symbol"),
            registry=r,
        )
        self.book_stale = Gauge(
            "trader_book_stale", "1 while the feed is stale (quotes pulled)", ("venue", "symbol"), registry=r
        )
        self.stale_events = Counter(
            "trader_book_stale_events", "Feeds that turned stale", ["venue"], registry=r
        )
        self.venue_up = Gauge(
            "trader_venue_up", "1 while every stream of the venue is up", ["venue"], registry=r
        )
        self.stream_up = Gauge(
            "trader_stream_up", "1 while the stream is up (market, private)", ("venue", "stream"), registry=r
        )
        self.reconnects = Counter(
            "trader_venue_reconnects", "Times a venue's stream went down (then resynchronised)", ["venue"],
            registry=r,
        )  # fmt: skip
        self.rate_used = Gauge(
            "trader_rate_limit_used_ratio", "Share of a rate-limit window used",
            ("venue", "quota", "window_seconds"), registry=r,
        )  # fmt: skip
        self.blocked = Counter(
            "trader_rate_limit_blocked_seconds", "Time the venue was banned or backing us off", ["venue"],
            registry=r,
        )  # fmt: skip
        self.position = Gauge(
            "trader_position", "Position, in the instrument's units", ("venue", "symbol"), registry=r
        )
        self.asset_position = Gauge("trader_asset_position", "Net position per asset", ["asset"], registry=r)
        self.exposure = Gauge(
            "trader_asset_exposure", "Net position value per asset", ("asset", "currency"), registry=r
        )
        self.pnl = Gauge("trader_venue_pnl", "PnL per venue", ("venue", "component", "currency"), registry=r)
        self.pnl_all = Gauge(
            "trader_portfolio_pnl", "PnL over every venue", ("component", "currency"), registry=r
        )
        self.state = Gauge("trader_risk_state", "1 for the gate's state", ["state"], registry=r)
        self.venue_state = Gauge(
            "trader_venue_risk_state", "1 for a venue's state", ("venue", "state"), registry=r
        )
        self.killed = Gauge("trader_kill_latched", "1 while the global kill is latched", registry=r)
        self.venue_killed = Gauge(
            "trader_venue_kill_latched", "1 while a venue's kill is latched", ["venue"], registry=r
        )
        self.daily_loss = Gauge(
            "trader_daily_loss_latched", "1 while a daily-loss latch holds (venue `all`: global)", ["venue"],
            registry=r,
        )  # fmt: skip
        self.venue_failed = Gauge(
            "trader_venue_failed", "1 for a venue that did not start or reconcile (it does not trade)",
            ["venue"], registry=r,
        )  # fmt: skip

    # ---- the server -----------------------------------------------------------------------------

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Serve /metrics on `host:port` (0: any free port) in a thread; returns the port."""
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as e:
            raise ConfigError(f"metrics port {host}:{port}: {e.strerror or e}") from None
        return int(self._server.server_port)

    def close(self) -> None:
        self._undo_journal()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ---- events (cheap) -------------------------------------------------------------------------

    def _kids(self, venue: str, strategy: str) -> _Kids:
        """The labelled counters of (venue, strategy), looked up once (the order path stays cheap)."""
        kids = self._children.get((venue, strategy))
        if kids is None:
            lv = (venue, strategy)
            kids = self._children[lv] = _Kids(
                self.orders.labels(*lv), self.acks.labels(*lv), self.fills.labels(*lv),
                self.unknown.labels(*lv), self.cancels.labels(*lv), self.round_trip.labels(venue),
            )  # fmt: skip
        return kids

    def on_order(self, order: oms.Order, event: oms.OrderEvent | None, ts_ns: int) -> None:
        kids = self._kids(order.venue, order.strategy)
        if event is None:
            if order.status is oms.OrderStatus.SUBMITTED:
                kids.orders.inc()
                self._sent_ns[order.client_id] = ts_ns
            return
        if isinstance(event, oms.Accepted):
            kids.acks.inc()
            sent = self._sent_ns.pop(order.client_id, None)
            if sent is not None:
                kids.round_trip.observe(max(ts_ns - sent, 0) / 1e9)
        elif isinstance(event, oms.Filled):
            kids.fills.inc()
        elif isinstance(event, oms.Rejected):
            self.rejects.labels(
                order.venue, order.strategy, self._reject_reason(order.venue, event.reason)
            ).inc()
        elif isinstance(event, oms.OutcomeUnknown):
            kids.unknown.inc()
        elif isinstance(event, oms.Canceled):
            kids.cancels.inc()
        if not order.is_live:
            self._sent_ns.pop(order.client_id, None)

    def _reject_reason(self, venue: str, text: str) -> str:
        """The class of the venue error that caused the reject (seen just before it), else `venue`."""
        cls = self._last_error.pop(venue, None)
        if cls is not None:
            return cls
        return "not_found" if "does not know" in text else "venue"

    def on_denial(self, strategy: str, place: Place, reason: str) -> None:
        st = self.engine.strategies.get(strategy)
        inst = st.unique.get(place.instrument) if st is not None and not place.venue else None
        venue = place.venue or (inst.venue if inst is not None else "")
        self.denials.labels(venue, strategy, reason_label(reason)).inc()

    def on_venue_error(self, venue: str, error: VenueError) -> None:
        cls = reason_label(type(error).__name__)
        self.venue_errors.labels(venue, cls).inc()
        self._last_error[venue] = cls

    def on_kill(self, reason: str, venue: str | None) -> None:
        self.kills.labels(venue or "all").inc()

    # ---- sampled on the timer -------------------------------------------------------------------

    def on_timer(self, engine: Engine, now_ns: int) -> None:
        for ns in self._latency.take(engine):
            self.tick_to_wire.observe(ns / 1e9)
        if now_ns < self._next_sample:
            return
        period = self._sample_ns if self._next_sample else 0
        self._next_sample = now_ns + self._sample_ns
        self.update(sample(engine), period / 1e9)

    def _count(self, counter: Counter, venue: str, key: str, value: int) -> None:
        """Move a counter to a count the engine keeps (it only grows)."""
        last = self._seen.get((key, venue), 0)
        if value > last:
            counter.labels(venue).inc(value - last)
        self._seen[(key, venue)] = value

    def update(self, s: Sample, period_s: float) -> None:
        """Set every gauge from a sample (`period_s`: time since the last one, for time blocked)."""
        self.last_sample = s
        self.up_at.set(s.ts_ns / 1e9)
        for name, v in s.venues.items():
            self._venue(name, v, s.currency, period_s)
        for part in PNL_PARTS:
            self.pnl_all.labels(part, s.currency).set(s.total[part])
        for asset, (pos, exposure) in s.assets.items():
            self.asset_position.labels(asset).set(pos)
            self.exposure.labels(asset, s.currency).set(exposure)
        for st in STATES:
            self.state.labels(st).set(int(s.state == st))
        self.killed.set(int(s.killed))
        self.daily_loss.labels("all").set(int(s.daily_loss))

    def _venue(self, name: str, v: VenueSample, currency: str, period_s: float) -> None:
        self.venue_up.labels(name).set(int(v.up))
        for stream in STREAMS:
            self.stream_up.labels(name, stream).set(int(stream not in v.streams_down))
        self.venue_failed.labels(name).set(int(v.failed))
        self.venue_killed.labels(name).set(int(v.killed))
        self.daily_loss.labels(name).set(int(v.daily_loss))
        for st in STATES:
            self.venue_state.labels(name, st).set(int(v.state == st))
        for part in PNL_PARTS:
            self.pnl.labels(name, part, currency).set(v.pnl[part])
        self._count(self.reconnects, name, "disconnects", v.counts["disconnects"])
        if v.blocked and period_s:
            self.blocked.labels(name).inc(period_s)
        for symbol, b in v.books.items():
            if b.age_s is not None:
                self.book_age.labels(name, symbol).set(b.age_s)
            self.book_stale.labels(name, symbol).set(int(b.stale))
            self.position.labels(name, symbol).set(b.position)
            if b.stale and (name, symbol) not in self._stale:
                self.stale_events.labels(name).inc()
            (self._stale.add if b.stale else self._stale.discard)((name, symbol))
        for q in v.rate_limits:
            used = q.used / q.limit if q.limit else 0.0
            self.rate_used.labels(name, q.quota, f"{q.window_s:g}").set(used)


METRIC_NAMES = frozenset(
    {
        "trader_orders", "trader_order_acks", "trader_fills", "trader_order_rejects", "trader_risk_denials",
        "trader_order_unknown_outcomes", "trader_order_cancels", "trader_venue_errors", "trader_kills",
        "trader_tick_to_wire_seconds", "trader_order_round_trip_seconds", "trader_journal_write_seconds",
        "trader_build_info", "trader_last_sample_timestamp_seconds", "trader_book_age_seconds",
        "trader_book_stale", "trader_book_stale_events", "trader_venue_up", "trader_stream_up",
        "trader_venue_reconnects",
        "trader_rate_limit_used_ratio", "trader_rate_limit_blocked_seconds", "trader_position",
        "trader_asset_position", "trader_asset_exposure", "trader_venue_pnl", "trader_portfolio_pnl",
        "trader_risk_state", "trader_venue_risk_state", "trader_kill_latched", "trader_venue_kill_latched",
        "trader_daily_loss_latched", "trader_venue_failed",
    }
)  # fmt: skip
