"""The engine: N venue connectors and N strategies under one risk gate and one journal, on one event loop.

    venue events -> (book top | fills | order reports) -> strategies -> risk gate -> journal -> connector

A venue is an account on one exchange and market (`trader.engine.venue`); a strategy trades legs on one or
several venues and sees each leg's book top, its own orders and its fills, named canonically with the venue
they are on. Everything that touches the network is a task, so no handler waits on a venue. The order of
work for a new order is fixed: the gate approves it, its client id comes from a block already durable in
the journal, it is sent once (in real time its bytes are on the socket before control returns to the event
loop), then its intent is written (`trader.engine.orderflow`, `trader.engine.journal`: a restart finds at
the venue what a crash kept from the journal); a timeout or 5xx leaves it UNKNOWN, asked of the venue,
never resent. Tick-to-wire and the order round trip are measured on every order (`trader.engine.latency`).

Start-up reconciles every venue before any strategy runs (`reconcile`); a venue that fails it does not
trade, nor does any strategy that needs it, and the others go on. Per venue: unknown outcomes are resolved
(`resolve`), a stalled feed pulls its quotes (`staleness`), a ban halts the venue (`bans`), a stream down
halts it until it is back and resynchronised, and kill thresholds latch a venue kill (`health`).
`kill()` halts everything; `kill(venue=...)` one venue. Background tasks survive their own errors (logged,
`Summary.task_errors`); a dead event stream stops the session loudly (`Summary.failure`). Shutdown cancels
everything, waits and reports.

`Engine(connector, strategy, config=...)` is the single-venue form; `Engine([VenueSetup...],
[StrategySetup...], config=...)` the general one. The engine works in real time (`run`) or in simulated
time, driven event by event (`handle`, `settle`, `on_timer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from trader.clock import Clock, LiveClock
from trader.core import Approval, InstrumentSpec, RiskGate, Side, UnknownOrderError
from trader.engine import health as health_mod
from trader.engine import killswitch, loops, oms, orderflow, rehearsal, startup
from trader.engine.bans import VenueBan
from trader.engine.journal import Journal
from trader.engine.latency import Latency
from trader.engine.ledger import OrderLedger, Owner
from trader.engine.portfolio import Portfolio, Position
from trader.engine.resolve import Resolver
from trader.engine.settings import DEFAULT_RISK, EngineConfig, collar_bps
from trader.engine.summary import Snapshot, Summary, snapshot_of, summarize, venue_pnl
from trader.engine.venue import Instrument, PreTrade, StrategySetup, StrategyState, VenueSetup, VenueState
from trader.errors import ConfigError, VenueError
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place, Strategy, TradePrint
from trader.venues.base import (
    BookInvalid,
    BookUpdate,
    Connector,
    FillReport,
    FundingPayment,
    OrderReport,
    OrderState,
    StreamStatus,
    TradeTick,
    VenueEvent,
)

__all__ = [
    "DEFAULT_RISK",
    "Engine",
    "EngineConfig",
    "PreTrade",
    "Snapshot",
    "StrategySetup",
    "Summary",
    "VenueSetup",
    "collar_bps",
]

log = logging.getLogger("trader.engine")

# a signal this soon after the timer's poll acted on a kill counter, with no counter moved since, is that
# kill's own signal (`trader kill` latches, then signals), not a bare SIGUSR1 halting everything
KILL_SIGNAL_LATE_NS = 5_000_000_000


class Engine:
    def __init__(
        self,
        venues: Connector | Sequence[VenueSetup],
        strategies: Strategy | Sequence[StrategySetup],
        *,
        journal: Journal,
        clock: Clock,
        config: EngineConfig | None = None,
        latency_clock: Clock | None = None,
        pre_trade: PreTrade | None = None,
    ) -> None:
        self.cfg = config or EngineConfig()
        # one connector: its instruments and limits are `config`'s
        setups = list(venues) if isinstance(venues, Sequence) else [VenueSetup(venues, self.cfg, pre_trade)]
        self._setups = setups
        self._strategy_setups = (
            list(strategies) if isinstance(strategies, Sequence) else [StrategySetup(strategies)]
        )
        names = [s.venue for s in setups]
        if not setups or len(set(names)) != len(names):
            raise ConfigError(f"the engine needs distinct venues, got {names}")
        labels = [s.label for s in self._strategy_setups]
        if not labels or len(set(labels)) != len(labels):
            raise ConfigError(f"the engine needs distinct strategy names, got {labels}")
        self.journal = journal
        self.clock = clock
        self.latency_clock = latency_clock or clock  # tick-to-order latency (a wall clock in simulated time)
        journal.bind({s.venue: (s.config.symbol, *s.config.also) for s in setups})  # refuses another's
        self.ledger = OrderLedger(journal)
        self.portfolio = Portfolio()
        self.by_strategy: dict[str, Portfolio] = {}  # positions and PnL per strategy (and "external")
        self.summary = Summary()
        self.denials: Counter[str] = Counter()
        self.latencies: list[int] = []  # tick-to-order (ns); tick-to-wire and round trips: `lat`
        self.lat = Latency()
        eager = self.cfg.eager_send
        self.eager = isinstance(clock, LiveClock) if eager is None else eager
        self._outbox: list[tuple[oms.Order, Approval, int | None]] = []  # approved, not yet sent
        self._cancels: list[str] = []  # cancels asked for, sent after the event's orders
        self._acting = 0  # nesting of `_act`: the outermost one sends what was approved
        self.collector: loops.Collector | None = None  # garbage collection from the timer (real time)
        self.rehearsal = rehearsal.Rehearsal(self)  # the order path kept warm when the loop busy-polls
        self.recent_fills: list[OwnFill] = []
        self.venues: dict[str, VenueState] = {s.venue: startup.venue_state(self, s) for s in setups}
        self.strategies: dict[str, StrategyState] = {}
        self._keys: dict[str, int] = {}  # client id -> gate key, for orders of this process
        self._gate_done: set[str] = set()  # orders the gate no longer counts
        self._cancel_retry: set[str] = set()
        self.cancel_throttled: dict[str, int] = {}  # cancels refused by a rate limit -> when to try again
        self._tasks: set[asyncio.Task[None]] = set()
        self._started_ns = 0
        self._kill_seen: dict[str, int] = {}  # journal kill counter -> the value acted on
        self._kill_polled_ns: int | None = None  # when the timer's poll last acted on a kill counter
        self.kill_halted_ns: int | None = None  # when SIGUSR1 last HALTED the gate (monotonic)
        self.kill_latency_ns: int | None = None  # signal handled -> gate HALTED (measured, logged)
        self._stop = asyncio.Event()
        self._services: list[asyncio.Task[None]] = []
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._closing = False  # shutting down: no new orders, only cancels
        self.gate: RiskGate | None = None
        self.currency_ids: dict[str, int] = {}  # quote currency -> its id in the gate
        self.asset_ids: dict[str, int] = {}  # asset with an aggregate limit -> its id in the gate
        self.marks: dict[tuple[str, str], str] = {}  # (venue, symbol) whose mid marks a currency's rate

    # ---- the single-venue view (the first venue, the first strategy), for callers that trade one --------

    @property
    def primary(self) -> VenueState:
        """The first venue that loaded its instruments (a venue that could not start is skipped)."""
        for v in self.venues.values():
            if v.instruments:
                return v
        return next(iter(self.venues.values()))

    @property
    def connector(self) -> Connector:
        return self.primary.connector

    @property
    def venue(self) -> str:
        return self.primary.name

    @property
    def strategy(self) -> Strategy:
        return self._strategy_setups[0].strategy

    @property
    def symbol(self) -> str:
        return self.primary.cfg.symbol

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.primary.symbols

    @property
    def instruments(self) -> dict[str, Instrument]:
        return self.primary.instruments

    @property
    def pre_trade(self) -> PreTrade | None:
        return self.primary.pre_trade

    @property
    def spec(self) -> InstrumentSpec | None:
        i = self.instruments.get(self.symbol)
        return i.spec if i is not None else None

    @property
    def bid(self) -> int | None:
        i = self.instruments.get(self.symbol)
        return i.bid if i is not None else None

    @property
    def ask(self) -> int | None:
        i = self.instruments.get(self.symbol)
        return i.ask if i is not None else None

    @property
    def _inst(self) -> int:
        return self.instruments[self.symbol].gate_id

    @property
    def _position(self) -> Position:
        return self.instruments[self.symbol].position

    @property
    def _strat(self) -> int:
        return next(iter(self.strategies.values())).gate_id

    @property
    def _venue_id(self) -> int:
        return self.primary.gate_id

    @property
    def _ban(self) -> VenueBan:
        return self.primary.ban

    @property
    def _resolver(self) -> Resolver:
        return self.primary.resolver

    def _ready(self) -> tuple[RiskGate, Instrument]:
        if self.gate is None or self.symbol not in self.instruments:
            raise RuntimeError("the engine has not started")
        return self.gate, self.instruments[self.symbol]

    # ---- start-up (`trader.engine.startup`) ---------------------------------------------------------

    async def start(self) -> None:
        """Connect every venue, learn its instruments, set up the gate and reconcile each venue. A venue
        that cannot connect or reconcile does not trade (nor its strategies); with one venue, or when no
        venue is left, `ReconciliationError` / the connect error is raised."""
        await startup.start(self)

    # ---- events ----------------------------------------------------------------------------------

    def handle(self, ev: VenueEvent, venue: VenueState | None = None) -> None:
        """Process one venue event (of the primary venue unless said); network work runs as tasks."""
        v = venue or self.primary
        if isinstance(ev, BookUpdate):
            self._on_book(ev, v)
        elif isinstance(ev, FillReport):
            self._apply_fill(ev, v, react=True)
        elif isinstance(ev, OrderReport):
            self._apply_report(ev, v, react=True)
        elif isinstance(ev, TradeTick):
            inst = v.instruments.get(ev.instrument)
            if inst is not None and self.gate is not None and not self._blocked(v):
                trade = TradePrint(inst.canonical, ev.price, ev.qty, ev.aggressor, ev.ts_recv, v.name)
                for st in inst.strategies:
                    self._act(st, st.strategy.on_trade(trade), None)
        elif isinstance(ev, BookInvalid) and self.gate is not None:
            inst = v.instruments.get(ev.instrument)
            if inst is not None:
                log.warning("%s: book %s invalid: %s", v.name, ev.instrument, ev.reason)
                self._no_book(inst)
        elif isinstance(ev, StreamStatus) and self.gate is not None:
            self._on_stream(ev, v)
        elif isinstance(ev, FundingPayment):
            self._on_funding(ev, v)

    def _blocked(self, v: VenueState) -> bool:
        """The venue is halted for a reason the strategies are shown as empty books (ban, stream down)."""
        return v.ban.active or v.health.is_down or v.health.recovering or bool(v.failed)

    def _no_book(self, inst: Instrument) -> None:
        """Nothing trades off this instrument's book until the next update; its strategies see it empty."""
        assert self.gate is not None
        self.gate.invalidate_reference(inst.gate_id)
        inst.bid = inst.ask = None
        top = BookTop(inst.canonical, None, 0, None, 0, self.clock.now_ns(), inst.venue)
        for st in inst.strategies:
            self._act(st, st.strategy.on_book(top), None)

    def _on_book(self, ev: BookUpdate, v: VenueState) -> None:
        inst = v.instruments.get(ev.instrument)
        if inst is None or self.gate is None:
            return
        if v.feeds.on_update(inst.symbol, ev.ts_recv):  # our clock's read time: no second read
            log.warning("%s: feed %s updates again, quoting resumes", v.name, inst.symbol)
        inst.bid, inst.ask = ev.bid, ev.ask
        if ev.bid is not None and ev.ask is not None and ev.bid < ev.ask:
            self.gate.set_reference(inst.gate_id, ev.bid, ev.ask, ev.ts_recv)
            if self.marks and (currency := self.marks.get((v.name, inst.symbol))) is not None:
                self._mark_rate(currency, inst, ev.bid, ev.ask)
        if self._blocked(v):
            return  # the venue is halted: the strategies saw an empty book and see the next one after
        top = BookTop(inst.canonical, ev.bid, ev.bid_qty, ev.ask, ev.ask_qty, ev.ts_recv, v.name)
        self.lat.books += 1
        # tick-to-order runs from our read of the message; in simulated time (a separate latency clock)
        # from the moment the engine took the event, since no wall clock stamped it
        tick = ev.ts_recv if self.latency_clock is self.clock else self.latency_clock.now_ns()
        for st in inst.strategies:
            self._act(st, st.strategy.on_book(top), tick)

    def _check_feeds(self, v: VenueState, now_ns: int) -> None:
        """The feed watchdog: a stalled feed pulls our quotes on that instrument (F-MD-06)."""
        for symbol in v.feeds.newly_stale(now_ns):
            inst = v.instruments[symbol]
            self.summary.stale_feeds += 1
            log.warning(
                "%s: feed %s stale: no book update for %.1fs: quotes pulled",
                v.name,
                symbol,
                v.feeds.threshold_s(symbol),
            )
            self._no_book(inst)
            self._cancel_all_of(v, symbol)

    def _cancel_all_of(self, v: VenueState, symbol: str | None = None) -> None:
        for o in self.ledger.live():
            if o.venue == v.name and (symbol is None or o.instrument == symbol):
                self._cancel(o.client_id)

    def _on_stream(self, ev: StreamStatus, v: VenueState) -> None:
        health_mod.on_stream(self, ev, v)

    def _set_venue_state(self, v: VenueState) -> None:
        health_mod.set_venue_state(self, v)

    def _mark_rate(self, currency: str, inst: Instrument, bid: int, ask: int) -> None:
        """A marked currency's rate: the marking instrument's mid, times its own quote currency's rate."""
        assert self.gate is not None
        mid = (Decimal(inst.spec.format_price(bid)) + Decimal(inst.spec.format_price(ask))) / 2
        quote = self.currency_ids.get(inst.currency)
        rate = (mid * (self.gate.currency_rate(quote) if quote is not None else 1)).quantize(Decimal("1e-9"))
        cid = self.currency_ids[currency]
        if rate > 0 and rate != self.gate.currency_rate(cid):
            self.gate.set_rate(cid, rate)

    def _on_funding(self, ev: FundingPayment, v: VenueState) -> None:
        """Funding on a perpetual: part of the position's PnL (and of each holding strategy's, pro rata)."""
        inst = v.instruments.get(ev.instrument)
        key = (ev.instrument, ev.ts_event, ev.amount)  # the stream's and the history's ids differ
        if inst is None or key in v.funding_seen:
            return
        v.funding_seen.add(key)
        self.summary.funding_payments += 1
        inst.position.apply_funding(ev.amount)
        holders = [
            (name, p)
            for name, pf in self.by_strategy.items()
            if (p := pf.positions.get((v.name, inst.symbol))) is not None and p.qty
        ]
        total = sum(abs(p.qty) for _, p in holders)
        for _, p in holders:
            p.apply_funding(ev.amount * Decimal(abs(p.qty)) / Decimal(total))

    # ---- orders and fills --------------------------------------------------------------------------

    def _view(self, o: oms.Order) -> OwnOrder:
        inst = self.venues[o.venue].instruments.get(o.instrument)
        name = inst.canonical if inst is not None else o.instrument
        return OwnOrder(o.client_id, name, o.side, o.price, o.remaining, o.is_live, o.venue)

    def _owner(self, o: oms.Order) -> StrategyState | None:
        return self.strategies.get(o.strategy)

    def _tell_order(self, o: oms.Order) -> None:
        st = self._owner(o)
        if st is not None:
            self._act(st, st.strategy.on_order(self._view(o)), None)

    def _gate_closed(self, client_id: str) -> None:
        """The order no longer counts: tell the gate once (a fully filled order already left it)."""
        key = self._keys.get(client_id)
        if key is None or client_id in self._gate_done or self.gate is None:
            return
        self._gate_done.add(client_id)
        with contextlib.suppress(UnknownOrderError):
            self.gate.on_closed(key)

    def _strategy_position(self, name: str, v: VenueState, inst: Instrument) -> Position:
        pf = self.by_strategy.setdefault(name, Portfolio())
        return pf.position(v.name, inst.symbol, inst.position.unit_notional)

    def _apply_fill(self, f: FillReport, v: VenueState, *, react: bool) -> None:
        gate = self.gate
        inst = v.instruments.get(f.instrument)
        if inst is None or gate is None:
            return
        order = self.ledger.orders.get(f.client_id)
        fee = str(f.fee)
        if order is None and self._other_session(v, f.client_id, "fill"):
            return  # another session's fill moves its accounting, not ours
        if order is None:  # not ours (placed elsewhere, liquidation): the position still moves
            log.warning("%s: external fill %s on %s", v.name, f.trade_id, f.instrument)
            gate.on_external_fill(inst.gate_id, f.side, f.qty, f.price, fee=fee)
            inst.position.apply_fill(f.side, f.qty, f.price, f.fee)
            self._strategy_position("external", v, inst).apply_fill(f.side, f.qty, f.price, f.fee)
            return
        fill = oms.Fill(f.trade_id, f.qty, f.price, f.fee, f.ts_event)
        before = order.filled
        if not self.ledger.apply(f.client_id, oms.Filled(fill), self.clock.now_ns()):
            return  # a duplicate (stream and REST both reported it)
        if order.filled > order.qty:  # RELIABILITY F-ORD-07: the position is what the venue did
            over = order.filled - max(before, order.qty)
            self.summary.overfills += 1
            log.error(
                "overfill: %s filled %d over its %d units (trade %s)",
                f.client_id,
                over,
                order.qty,
                f.trade_id,
            )
        if not react:
            return  # start-up: positions are rebuilt from the journal afterwards
        key = self._keys.get(f.client_id)
        try:
            if key is None or f.client_id in self._gate_done:
                raise UnknownOrderError(f.client_id)
            gate.on_fill(key, f.qty, f.price, fee=fee)
        except UnknownOrderError:
            gate.on_external_fill(inst.gate_id, order.side, f.qty, f.price, fee=fee)
        self._book_fill(v, inst, order, f)

    def _book_fill(self, v: VenueState, inst: Instrument, order: oms.Order, f: FillReport) -> None:
        """An applied fill of ours: positions (venue, strategy), the pre-trade check, the strategy."""
        inst.position.apply_fill(order.side, f.qty, f.price, f.fee)
        self._strategy_position(order.strategy, v, inst).apply_fill(order.side, f.qty, f.price, f.fee)
        inst.max_abs = max(inst.max_abs, abs(inst.position.qty))
        if v.pre_trade is not None:
            v.pre_trade.on_fill(f.instrument, order.side, inst.spec.format_qty(f.qty), f.ts_event)
        self.summary.fills += 1
        v.fills += 1
        own = OwnFill(f.client_id, inst.canonical, order.side, f.price, f.qty, f.ts_recv, v.name)
        self.recent_fills = [*self.recent_fills[-9:], own]
        st = self._owner(order)
        if st is not None:
            st.fills += 1
        intents = st.strategy.on_fill(own) if st is not None else []
        if not order.is_live:
            self._gate_done.add(f.client_id)  # the gate released it with the last fill
            v.resolver.forget(f.client_id)
            if st is not None:
                intents += st.strategy.on_order(self._view(order))
        if st is not None:
            self._act(st, intents, None)

    def _other_session(self, v: VenueState, client_id: str, what: str) -> bool:
        """True for an order or fill of another trader session (logged once, then counted)."""
        if self.ledger.owner(client_id) is not Owner.SESSION:
            return False
        if not v.other_sessions:
            log.warning("%s: %s of another trader session's order %s: not ours", v.name, what, client_id)
        v.other_sessions += 1
        return True

    def _apply_report(self, r: OrderReport, v: VenueState, *, react: bool) -> None:
        order = self.ledger.orders.get(r.client_id)
        if order is None and self._other_session(v, r.client_id, "report"):
            return
        if order is None or r.instrument not in v.instruments:
            return
        now = self.clock.now_ns()
        event: oms.OrderEvent
        if r.state is OrderState.CANCELED:
            event = oms.Canceled()
        elif r.state is OrderState.EXPIRED:
            event = oms.Expired()
        elif r.state is OrderState.REJECTED:
            event = oms.Rejected(r.reason or "rejected by the venue")
        else:  # OPEN; FILLED too: the fills themselves close it
            event = oms.Accepted(r.venue_order_id)
        if order.status in (oms.OrderStatus.UNKNOWN, oms.OrderStatus.LOST) and r.state is not OrderState.OPEN:
            # resolved as already done: it was accepted first
            self.ledger.apply(r.client_id, oms.Accepted(r.venue_order_id), now)
        if not self.ledger.apply(r.client_id, event, now):
            return
        v.resolver.forget(r.client_id)
        key = self._keys.get(r.client_id)
        if order.is_live:
            if key is not None and self.gate is not None and r.client_id not in self._gate_done:
                with contextlib.suppress(UnknownOrderError):
                    self.gate.on_ack(key)
        else:
            self._gate_closed(r.client_id)
            if isinstance(event, oms.Canceled):
                self.summary.canceled += 1
                v.canceled += 1
        if react:
            self._tell_order(order)

    # ---- intents ---------------------------------------------------------------------------------

    def _act(self, st: StrategyState, intents: list[Intent], tick_ns: int | None) -> None:
        """The strategy's intents through the gate; the approved orders are sent once it is done. Its
        orders are looked at before its cancels: a cancel goes out after the event's orders anyway
        (`orderflow.send_approved`), so handling it first would only hold the first order back."""
        self._acting += 1
        try:
            cancels: list[Cancel] = []
            while intents:
                intent = intents.pop(0)
                if isinstance(intent, Cancel):
                    cancels.append(intent)
                else:
                    intents += self._place(st, intent, tick_ns)
                if not intents:
                    for c in cancels:
                        intents += self._cancel(c.client_id)
                    cancels = []
        finally:
            self._acting -= 1
        if not self._acting and (self._outbox or self._cancels or self.journal.pending):
            orderflow.send_approved(self)

    def _leg(self, st: StrategyState, p: Place) -> Instrument | None:
        """The instrument a `Place` is for: its venue's (said, or the only one the strategy trades it on)."""
        if p.venue:
            v = self.venues.get(p.venue)
            inst = v.by_canonical.get(p.instrument) if v is not None else None
            return inst if inst is not None and st.trades(inst.venue, inst.canonical) else None
        return st.unique.get(p.instrument)  # None: not traded, or on several venues (say which)

    def _deny(self, st: StrategyState, p: Place, reason: str) -> list[Intent]:
        self.denials[reason] += 1
        self.ledger.observers.on_denial(st.name, p, reason)
        return st.strategy.on_denied(p, reason)

    def _place(self, st: StrategyState, p: Place, tick_ns: int | None) -> list[Intent]:
        if self._closing:
            return []
        assert self.gate is not None
        inst = self._leg(st, p)
        if inst is None:
            return self._deny(st, p, "UNKNOWN_INSTRUMENT")
        v = self.venues[inst.venue]
        now = self.clock.now_ns()
        if v.pre_trade is not None:
            why = self._pre_trade(v, inst, p, now)
            if why is not None:
                return self._deny(st, p, why)
        verdict = self.gate.check(
            st.gate_id, inst.gate_id, p.side, p.price, p.qty, now,
            tif=p.tif, reduce_only=p.reduce_only, post_only=p.post_only,
        )  # fmt: skip
        if not isinstance(verdict, Approval):
            return self._deny(st, p, str(verdict.reason).rsplit(".", 1)[-1])
        order = self.ledger.create(
            st.name, v.name, inst.symbol, p.side, verdict.price, verdict.qty, now, submitted=True, defer=True
        )
        self._keys[order.client_id] = verdict.key
        if tick_ns is not None:
            self.latencies.append(self.latency_clock.now_ns() - tick_ns)
        self.summary.orders += 1
        v.orders += 1
        st.orders += 1
        self._outbox.append((order, verdict, tick_ns))
        if self.eager:  # on the wire now, before the next intent is looked at
            orderflow.send_out(self)
        self.rehearsal.note(st, inst, p, verdict, order.client_id)
        return st.strategy.on_order(self._view(order))

    def _pre_trade(self, v: VenueState, inst: Instrument, p: Place, now: int) -> str | None:
        assert v.pre_trade is not None
        spec = inst.spec
        marks = {
            i.symbol: Decimal(i.spec.format_price(int(m)))
            for i in v.instruments.values()
            if (m := i.mark()) is not None
        }
        working = self.ledger.working(v.name, inst.symbol, Side.SELL) if p.side == Side.SELL else 0
        price, qty = spec.format_price(p.price), spec.format_qty(p.qty)
        return v.pre_trade.check(
            inst.symbol, p.side, price, qty, now, marks, working_sell=spec.format_qty(working)
        )

    # ---- timer -----------------------------------------------------------------------------------

    async def on_timer(self) -> None:
        """Per venue: feeds, bans, health and kill thresholds, unknown orders and cancel retries; the
        operator's kill switch; the strategies' timers."""
        now = self.clock.now_ns()
        for v in self.venues.values():
            self._check_feeds(v, now)
            v.ban.check(now)
            await health_mod.check(self, v, now)
        await self._poll_kill()
        await self._retries(now)
        for st in self.strategies.values():
            self._act(st, st.strategy.on_timer(now), None)
        self.ledger.observers.on_timer(self, now)

    async def _poll_kill(self) -> None:
        """The journal's kill counters (`trader kill`, all or `--venue`): the fallback to the signal."""
        for key, seen in list(self._kill_seen.items()):
            now_count = self.journal.get_counter(key)
            if now_count > seen:
                self._kill_seen[key] = now_count
                self._kill_polled_ns = self.clock.monotonic_ns()  # its signal may still come
                await self.kill("operator: trader kill", venue=key.partition(":")[2] or None)

    async def _retries(self, now: int) -> None:
        """Ask about unknown orders; cancel again what the venue has now. Not at a banned venue:
        nothing would pass there, and asking would prolong the ban."""
        for v in self.venues.values():
            if not v.ban.active:
                await v.resolver.run(now)
        for cid in list(self._cancel_retry):
            order = self.ledger.orders.get(cid)
            if order is None or not order.is_live:
                self._cancel_retry.discard(cid)
            elif self.venues[order.venue].ban.active:
                continue
            elif order.status in (oms.OrderStatus.ACCEPTED, oms.OrderStatus.PARTIALLY_FILLED):
                self._cancel_retry.discard(cid)
                self._cancel(cid)

    # ---- the network side of orders (`trader.engine.orderflow`) ----------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], context: contextvars.Context | None = None) -> None:
        task = asyncio.get_running_loop().create_task(coro, context=context)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (e := task.exception()) is not None:
            self._task_error("engine task", e)

    def _task_error(self, what: str, e: BaseException) -> None:
        """A background task survived an error: logged with its traceback, counted in the summary."""
        self.summary.task_errors += 1
        log.error("%s failed (continuing): %r", what, e, exc_info=e)

    def _unknown(self, cid: str, approval: Approval, reason: str) -> None:
        orderflow.unknown(self, cid, approval, reason)

    def _cancel(self, client_id: str) -> list[Intent]:
        return orderflow.cancel(self, client_id)

    async def _cancel_now(self, client_id: str) -> None:
        await orderflow.cancel_now(self, client_id)

    async def _catch_up_fills(self, client_id: str) -> None:
        await orderflow.catch_up_fills(self, client_id)

    async def cancel_everything(self, venue: str | None = None) -> None:
        """Cancel our orders at one venue, or at all of them side by side (`orderflow.cancel_everything`)."""
        await orderflow.cancel_everything(self, venue)

    async def settle(self) -> None:
        """Wait until no send or cancel is in flight."""
        await orderflow.settle(self)

    def _venue_error(self, v: VenueState, e: VenueError) -> None:
        """Every venue error the engine sees passes here: a ban halts the venue (`trader.engine.bans`)."""
        v.ban.on_error(e)
        self.ledger.observers.on_venue_error(v.name, e)

    # ---- control ---------------------------------------------------------------------------------

    async def kill(self, reason: str, venue: str | None = None, *, durable: bool = False) -> None:
        """Latch the kill switch (everything, or one venue: no new orders), then cancel everything there.
        `durable`: also latch it in the journal, so a restart begins halted (thresholds crossed)."""
        if durable:
            key = f"kill:{venue}" if venue else "kill"
            self._kill_seen[key] = self.journal.next_value(key)
            killswitch.audit(self.journal, "kill", self.clock.now_ns(), venue=venue or "all", reason=reason)
        self._latch(reason, venue)
        log.error("kill switch%s: %s", f" ({venue})" if venue else "", reason)
        await self.cancel_everything(venue)

    def _latch(self, reason: str, venue: str | None = None) -> None:
        """HALT the gate (or one venue) at once: nothing new is sent there from here on."""
        assert self.gate is not None
        if venue is None:
            self.gate.kill(reason, self.clock.now_ns())
            self.summary.killed = True
        else:
            self.gate.kill(reason, self.clock.now_ns(), venue=self.venues[venue].gate_id)
            self.summary.killed_venues = sorted({*self.summary.killed_venues, venue})
        self.ledger.observers.on_kill(reason, venue)

    def _kill_signal(self) -> None:
        """SIGUSR1 from `trader kill`: the gate is HALTED here, in the signal's callback, before anything is
        awaited; the cancels follow as a task. (The timer's poll of the journal is the fallback.) A kill of
        one venue (`trader kill --venue`) latches that venue."""
        if self.gate is None:
            return
        received = self.clock.monotonic_ns()
        venues = [
            k.partition(":")[2] for k, seen in self._kill_seen.items() if self.journal.get_counter(k) > seen
        ]
        polled = self._kill_polled_ns
        self._kill_polled_ns = None  # one signal per `trader kill`: a later bare one halts everything
        if not venues and polled is not None and received - polled < KILL_SIGNAL_LATE_NS:
            log.warning("kill signal: its kill was already acted on (the journal's poll came first)")
            return  # `trader kill` latches, then signals: the poll may see the latch in between
        if not venues or "" in venues:  # a bare SIGUSR1 (no latch of a venue): everything halts
            venues = [""]
        for name in venues:
            self._latch("operator: trader kill", name or None)
        self.kill_halted_ns = self.clock.monotonic_ns()
        self.kill_latency_ns = self.kill_halted_ns - received
        for key in self._kill_seen:
            self._kill_seen[key] = max(self._kill_seen[key], self.journal.get_counter(key))
        log.error(
            "kill switch: operator: trader kill%s (HALTED %d µs after the engine got the signal)",
            "" if venues == [""] else f" ({', '.join(venues)})",
            self.kill_latency_ns // 1000,
        )
        for name in venues:
            self._spawn(self.cancel_everything(name or None))

    async def _pump(self, v: VenueState) -> None:
        await loops.pump(self, v)

    async def _timer_loop(self) -> None:
        await loops.timer_loop(self)

    def stop(self) -> None:
        self._stop.set()

    def deliver(self, call: Callable[[Any], list[Intent]], strategy: str | None = None) -> None:
        """An input from outside the venue (a signal feed, a reward-scoring answer): `call(strategy)`
        returns the strategy's intents (the first strategy's, unless named), which go through the gate like
        any other. Ignored before start and once shutdown began."""
        if self.gate is None or self._closing:
            return
        st = self.strategies[strategy] if strategy is not None else next(iter(self.strategies.values()))
        self._act(st, call(st.strategy), None)

    async def run(
        self,
        duration_s: float | None = None,
        on_tick: Callable[[Engine], None] | None = None,
        services: Sequence[Callable[[Engine], Coroutine[Any, Any, None]]] = (),
    ) -> Summary:
        """Start, trade until `duration_s` passes or `stop()` is called, then shut down. `services` run
        alongside (feeds that `deliver` inputs to the strategy) and are cancelled at shutdown."""
        await self.start()
        if self.eager:  # real time: garbage is collected from the timer, not inside a tick
            self.collector = loops.Collector()
            self.collector.start()
        disarm = killswitch.arm(self.journal, self._kill_signal)  # `trader kill` wakes us (SIGUSR1)
        loop = asyncio.get_running_loop()
        pumps = {loop.create_task(self._pump(v)): v for v in self.venues.values() if not v.failed}
        timer = loop.create_task(self._timer_loop())
        self._services = [
            loop.create_task(loops.supervise(self, getattr(s, "__name__", "service"), s)) for s in services
        ]
        try:
            await loops.run_until(self, duration_s, on_tick, pumps, timer)
        finally:
            disarm()
            timer.cancel()
            summary = await self.shutdown()
            for p in pumps:
                p.cancel()
            await asyncio.gather(*pumps, timer, return_exceptions=True)
            if self.collector is not None:
                self.collector.stop()
                self.collector = None
        return summary

    async def shutdown(self) -> Summary:
        """Cancel every open order at every venue, wait for the venues to confirm, summarize. A cancel
        the venue (or our own rate limiter) refused is tried again until `shutdown_timeout_s`."""
        self._closing = True
        for service in self._services:
            service.cancel()
        await asyncio.gather(*self._services, return_exceptions=True)
        await self.settle()
        await self.cancel_everything()
        await self.settle()
        deadline = self.clock.monotonic_ns() + int(self.cfg.shutdown_timeout_s * 1e9)
        while (throttled := orderflow.throttled_live(self)) and self.clock.monotonic_ns() < deadline:
            wait_ns = min(throttled.values()) - self.clock.now_ns()
            left_ns = deadline - self.clock.monotonic_ns()
            await self.clock.sleep(max(min(wait_ns, left_ns), 50_000_000) / 1e9)
            for cid in throttled:
                await self._cancel_now(cid)
            await self.settle()
        left = {v.name: await orderflow.left_open(self, v, deadline) for v in self.venues.values()}
        summary = self.report(open_left=sum(left.values()))
        self.journal.mark_clean()  # every order sent is journaled: a restart need not look for more
        for name, n in left.items():
            summary.venues[name]["open_orders_after_shutdown"] = n
        return summary

    # ---- reporting -------------------------------------------------------------------------------

    def venue_pnl(self, venue: str) -> Fraction:
        """The venue's PnL so far (realized + marked + funding - fees), exact (`Fraction`)."""
        return venue_pnl(self, self.venues[venue])

    def report(self, open_left: int = 0) -> Summary:
        """PnL and fees over every venue and instrument, and per venue, strategy and asset."""
        return summarize(self, open_left)

    def snapshot(self) -> Snapshot:
        return snapshot_of(self)
