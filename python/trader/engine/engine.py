"""The engine: one venue connector, one instrument, one strategy, the risk gate and the journal.

    venue events -> (book top | fills | order reports) -> strategy -> risk gate -> journal -> connector

Everything that touches the network is a task, so no handler waits on a venue. The order of work for a new
order is fixed: the gate approves it, its intent is journaled (durable), then it is sent, once. A timeout or
5xx on the send leaves the order UNKNOWN: it keeps counting against every limit and is resolved by asking
the venue by client order id, never by sending it again; still unresolved after `unknown_timeout_s`, it
becomes LOST (still counted, still fillable) until the venue answers.

Start-up reconciles before any strategy runs (`reconcile`; orders and fills of other trader sessions on the
account, client ids with another journal's instance id, are never claimed, canceled or counted as ours);
unknown outcomes are resolved by `resolve`; a stalled feed pulls its quotes (`staleness`); a ban halts the
venue (`bans`). Background tasks (timer, event pump, services, sends, cancels) survive their own errors
(logged, `Summary.task_errors`); a dead event stream stops the session loudly (`Summary.failure`). Shutdown
cancels everything, waits and reports.

The engine works in real time (`run`) or in simulated time, driven event by event (`handle`, `settle`,
`on_timer`), which is how the deterministic paper session and the tests drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Protocol

from trader.clock import Clock
from trader.core import Approval, InstrumentSpec, RiskGate, Side, UnknownOrderError
from trader.engine import killswitch, oms
from trader.engine.bans import VenueBan
from trader.engine.journal import Journal
from trader.engine.ledger import OrderLedger, Owner
from trader.engine.portfolio import Portfolio, Position
from trader.engine.reconcile import reconcile
from trader.engine.resolve import Resolver
from trader.engine.settings import DEFAULT_RISK, EngineConfig, collar_bps
from trader.engine.staleness import FeedWatch, StaleRule
from trader.engine.summary import Snapshot, Summary, snapshot_of, summarize
from trader.errors import (
    OrderNotFoundError,
    UnknownOutcomeError,
    VenueError,
)
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place, Strategy, TradePrint
from trader.venues.base import (
    BookInvalid,
    BookUpdate,
    Connector,
    FillReport,
    OrderReport,
    OrderState,
    TradeTick,
    VenueEvent,
)

__all__ = ["DEFAULT_RISK", "Engine", "EngineConfig", "PreTrade", "Snapshot", "Summary", "collar_bps"]

log = logging.getLogger("trader.engine")


@dataclass
class _Instrument:
    """One instrument the engine trades: its rules, its gate id, its position, its last top of book."""

    symbol: str
    spec: InstrumentSpec
    gate_id: int
    position: Position
    bid: int | None = None
    ask: int | None = None
    max_abs: int = 0

    def mark(self) -> Fraction | None:
        if self.bid is None or self.ask is None:
            return None
        return Fraction(self.bid + self.ask, 2)


class PreTrade(Protocol):
    """A venue-specific check every order passes before the risk gate (equity rules for brokers:
    `trader.engine.equity.EquityGate`); it sees every fill and the positions found at start-up."""

    def load_position(self, symbol: str, qty: int) -> None: ...

    def check(
        self, symbol: str, side: Side, price: str, qty: str, now_ns: int, marks: Mapping[str, Decimal]
    ) -> str | None: ...

    def on_fill(self, symbol: str, side: Side, qty: str, ts_ns: int) -> None: ...


class Engine:
    def __init__(
        self,
        connector: Connector,
        strategy: Strategy,
        *,
        journal: Journal,
        clock: Clock,
        config: EngineConfig | None = None,
        latency_clock: Clock | None = None,
        pre_trade: PreTrade | None = None,
    ) -> None:
        self.connector = connector
        self.strategy = strategy
        self.journal = journal
        self.clock = clock
        self.latency_clock = latency_clock or clock  # tick-to-order latency (a wall clock in simulated time)
        self.cfg = config or EngineConfig()
        self.pre_trade = pre_trade
        self.venue = connector.venue
        self.symbol = self.cfg.symbol
        journal.bind(self.venue, (self.symbol, *self.cfg.also))  # refuses another venue's journal
        self.ledger = OrderLedger(journal)
        self.portfolio = Portfolio()
        self.summary = Summary()
        self.denials: Counter[str] = Counter()
        self.latencies: list[int] = []
        self.recent_fills: list[OwnFill] = []
        self.symbols = (self.symbol, *(s for s in self.cfg.also if s != self.symbol))
        self.instruments: dict[str, _Instrument] = {}
        self._keys: dict[str, int] = {}  # client id -> gate key, for orders of this process
        self._gate_done: set[str] = set()  # orders the gate no longer counts
        self._resolver = Resolver(self)  # orders whose outcome is unknown, asked of the venue
        c = self.cfg
        self._feeds = FeedWatch(StaleRule(c.stale_min_s, c.stale_max_s, c.stale_rate_factor, c.stale_after_s))
        self._cancel_retry: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._started_ns = 0
        self._kill_seen = 0
        self.kill_halted_ns: int | None = None  # when SIGUSR1 last HALTED the gate (monotonic)
        self.kill_latency_ns: int | None = None  # signal handled -> gate HALTED (measured, logged)
        self._other_sessions = 0  # orders and fills of other trader sessions seen on this account
        self._stop = asyncio.Event()
        self._services: list[asyncio.Task[None]] = []
        self._closing = False  # shutting down: no new orders, only cancels
        self.gate: RiskGate | None = None
        self._venue_id = -1  # the venue's id in the gate
        self._ban = VenueBan(self)
        self._strat = 0

    # the primary instrument, for callers that trade one
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

    def _ready(self) -> tuple[RiskGate, _Instrument]:
        if self.gate is None or self.symbol not in self.instruments:
            raise RuntimeError("the engine has not started")
        return self.gate, self.instruments[self.symbol]

    # ---- start-up --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, learn the instrument, set up the gate and reconcile. Raises `ReconciliationError`."""
        self._started_ns = self.clock.monotonic_ns()
        await self.connector.connect()
        r = self.cfg.risk
        gate = RiskGate(
            max_gross_notional=r.max_gross_notional,
            max_net_notional=r.max_net_notional,
            max_open_orders=r.max_open_orders,
            max_orders_per_sec=r.max_orders_per_sec,
            daily_loss_limit=r.daily_loss_limit,
            daily_loss_halt=r.daily_loss_halt,
        )
        venue = self._venue_id = gate.add_venue(
            self.venue,
            max_gross_notional=self.cfg.venue_max_gross_notional,
            max_open_orders=self.cfg.venue_max_open_orders,
        )
        self._strat = gate.add_strategy(
            self.strategy.name, max_orders_per_sec=self.cfg.strategy_max_orders_per_sec
        )
        for symbol in self.symbols:
            info = await self.connector.instrument_info(symbol)
            spec = info.spec()
            gate_id = gate.add_instrument(
                venue,
                symbol,
                spec,
                max_order_qty=self.cfg.max_order_qty,
                max_order_notional=self.cfg.max_order_notional,
                max_position=self.cfg.max_position,
                max_open_orders=self.cfg.max_open_orders,
                collar_bps=collar_bps(self.cfg.collar_bps, info),
            )
            position = self.portfolio.position(self.venue, symbol, spec.notional(1, 1))
            self.instruments[symbol] = _Instrument(symbol, spec, gate_id, position)
        self.gate = gate
        killswitch.write_reset_token(self.journal)  # what `trader kill --reset` must show
        self._kill_seen = self.journal.get_counter("kill")
        if self._kill_seen > self.journal.get_counter("kill_reset"):
            gate.kill("latched by `trader kill` (clear with `trader kill --reset`)", self.clock.now_ns())
            self.summary.killed = True
        await reconcile(self)

    # ---- events ----------------------------------------------------------------------------------

    def handle(self, ev: VenueEvent) -> None:
        """Process one venue event; network work it causes runs as tasks."""
        if isinstance(ev, BookUpdate):
            self._on_book(ev)
        elif isinstance(ev, FillReport):
            self._apply_fill(ev, react=True)
        elif isinstance(ev, OrderReport):
            self._apply_report(ev, react=True)
        elif isinstance(ev, TradeTick):
            if ev.instrument in self.instruments and self.gate is not None and not self._ban.active:
                trade = TradePrint(ev.instrument, ev.price, ev.qty, ev.aggressor, ev.ts_recv)
                self._act(self.strategy.on_trade(trade), None)
        elif isinstance(ev, BookInvalid) and self.gate is not None:
            inst = self.instruments.get(ev.instrument)
            if inst is None:
                return
            log.warning("book %s invalid: %s", ev.instrument, ev.reason)
            self._no_book(inst)

    def _no_book(self, inst: _Instrument) -> None:
        """Nothing trades off this instrument's book until the next update; the strategy sees it empty."""
        assert self.gate is not None
        self.gate.invalidate_reference(inst.gate_id)
        inst.bid = inst.ask = None
        now = self.clock.now_ns()
        self._act(self.strategy.on_book(BookTop(inst.symbol, None, 0, None, 0, now)), None)

    def _check_feeds(self, now_ns: int) -> None:
        """The feed watchdog: a stalled feed pulls our quotes on that instrument (F-MD-06)."""
        for symbol in self._feeds.newly_stale(now_ns):
            inst = self.instruments[symbol]
            self.summary.stale_feeds += 1
            log.warning(
                "feed %s stale: no book update for %.1fs: quotes pulled",
                symbol,
                self._feeds.threshold_s(symbol),
            )
            self._no_book(inst)
            mine = [
                o.client_id for o in self.ledger.live() if o.instrument == symbol and o.venue == self.venue
            ]
            self._act([Cancel(cid) for cid in mine], None)

    def _on_book(self, ev: BookUpdate) -> None:
        inst = self.instruments.get(ev.instrument)
        if inst is None or self.gate is None:
            return
        if self._feeds.on_update(inst.symbol, ev.ts_recv):  # our clock's read time: no second read
            log.warning("feed %s: book updates again, quoting resumes", inst.symbol)
        inst.bid, inst.ask = ev.bid, ev.ask
        if ev.bid is not None and ev.ask is not None and ev.bid < ev.ask:
            self.gate.set_reference(inst.gate_id, ev.bid, ev.ask, ev.ts_recv)
        if self._ban.active:
            return  # the venue is halted: the strategy saw an empty book and sees the next one after
        top = BookTop(ev.instrument, ev.bid, ev.bid_qty, ev.ask, ev.ask_qty, ev.ts_recv)
        # tick-to-order runs from our read of the message; in simulated time (a separate latency clock)
        # from the moment the engine took the event, since no wall clock stamped it
        tick = ev.ts_recv if self.latency_clock is self.clock else self.latency_clock.now_ns()
        self._act(self.strategy.on_book(top), tick)

    def _view(self, o: oms.Order) -> OwnOrder:
        return OwnOrder(o.client_id, o.instrument, o.side, o.price, o.remaining, o.is_live)

    def _gate_closed(self, client_id: str) -> None:
        """The order no longer counts: tell the gate once (a fully filled order already left it)."""
        key = self._keys.get(client_id)
        if key is None or client_id in self._gate_done or self.gate is None:
            return
        self._gate_done.add(client_id)
        with contextlib.suppress(UnknownOrderError):
            self.gate.on_closed(key)

    def _apply_fill(self, f: FillReport, *, react: bool) -> None:
        gate, _ = self._ready()
        inst = self.instruments.get(f.instrument)
        if inst is None:
            return
        position = inst.position
        order = self.ledger.orders.get(f.client_id)
        fee = str(f.fee)
        if order is None and self._other_session(f.client_id, "fill"):
            return  # another session's fill moves its accounting, not ours
        if order is None:  # not ours (placed elsewhere, liquidation): the position still moves
            log.warning("external fill %s on %s", f.trade_id, f.instrument)
            gate.on_external_fill(inst.gate_id, f.side, f.qty, f.price, fee=fee)
            position.apply_fill(f.side, f.qty, f.price, f.fee)
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
        position.apply_fill(order.side, f.qty, f.price, f.fee)
        inst.max_abs = max(inst.max_abs, abs(position.qty))
        if self.pre_trade is not None:
            self.pre_trade.on_fill(f.instrument, order.side, inst.spec.format_qty(f.qty), f.ts_event)
        self.summary.fills += 1
        own = OwnFill(f.client_id, f.instrument, order.side, f.price, f.qty, f.ts_recv)
        self.recent_fills = [*self.recent_fills[-9:], own]
        intents = self.strategy.on_fill(own)
        if not order.is_live:
            self._gate_done.add(f.client_id)  # the gate released it with the last fill
            self._resolver.forget(f.client_id)
            intents += self.strategy.on_order(self._view(order))
        self._act(intents, None)

    def _other_session(self, client_id: str, what: str) -> bool:
        """True for an order or fill of another trader session (logged once, then counted)."""
        if self.ledger.owner(client_id) is not Owner.SESSION:
            return False
        if not self._other_sessions:
            log.warning("%s: %s of another trader session's order %s: not ours", self.venue, what, client_id)
        self._other_sessions += 1
        return True

    def _apply_report(self, r: OrderReport, *, react: bool) -> None:
        order = self.ledger.orders.get(r.client_id)
        if order is None and self._other_session(r.client_id, "report"):
            return
        if order is None or r.instrument not in self.instruments:
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
        self._resolver.forget(r.client_id)
        key = self._keys.get(r.client_id)
        if order.is_live:
            if key is not None and self.gate is not None and r.client_id not in self._gate_done:
                with contextlib.suppress(UnknownOrderError):
                    self.gate.on_ack(key)
        else:
            self._gate_closed(r.client_id)
            if isinstance(event, oms.Canceled):
                self.summary.canceled += 1
        if react:
            self._act(self.strategy.on_order(self._view(order)), None)

    # ---- intents ---------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
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

    def _act(self, intents: list[Intent], tick_ns: int | None) -> None:
        while intents:
            intent = intents.pop(0)
            if isinstance(intent, Cancel):
                intents += self._cancel(intent.client_id)
            else:
                intents += self._place(intent, tick_ns)

    def _place(self, p: Place, tick_ns: int | None) -> list[Intent]:
        if self._closing:
            return []
        assert self.gate is not None
        inst = self.instruments.get(p.instrument)
        if inst is None:
            self.denials["UNKNOWN_INSTRUMENT"] += 1
            return self.strategy.on_denied(p, "UNKNOWN_INSTRUMENT")
        now = self.clock.now_ns()
        if self.pre_trade is not None:
            spec = inst.spec
            marks = {
                i.symbol: Decimal(i.spec.format_price(int(m)))
                for i in self.instruments.values()
                if (m := i.mark()) is not None
            }
            why = self.pre_trade.check(
                p.instrument, p.side, spec.format_price(p.price), spec.format_qty(p.qty), now, marks
            )
            if why is not None:
                self.denials[why] += 1
                return self.strategy.on_denied(p, why)
        verdict = self.gate.check(
            self._strat, inst.gate_id, p.side, p.price, p.qty, now, post_only=p.post_only
        )
        if not isinstance(verdict, Approval):
            reason = str(verdict.reason).rsplit(".", 1)[-1]
            self.denials[reason] += 1
            return self.strategy.on_denied(p, reason)
        order = self.ledger.create(
            self.strategy.name,
            self.venue,
            p.instrument,
            p.side,
            verdict.price,
            verdict.qty,
            now,
            submitted=True,
        )
        self._keys[order.client_id] = verdict.key
        if tick_ns is not None:
            self.latencies.append(self.latency_clock.now_ns() - tick_ns)
        self.summary.orders += 1
        self._spawn(self._send(order, verdict))
        return self.strategy.on_order(self._view(order))

    async def _send(self, order: oms.Order, approval: Approval) -> None:
        cid = order.client_id
        try:
            ack = await self.connector.submit(approval, cid, order.instrument)
        except UnknownOutcomeError as e:
            self._unknown(cid, approval, str(e))
            return
        except VenueError as e:  # a definitive reject, or not sent at all (refused, throttled, banned)
            self._venue_error(e)
            if self.ledger.apply(cid, oms.Rejected(str(e)), self.clock.now_ns()):
                self.summary.rejects += 1
                self._gate_closed(cid)
                self._act(self.strategy.on_order(self._view(order)), None)
            return
        except Exception as e:  # unclassified: it may have reached the venue, so it is asked about
            self._task_error(f"submit {cid}", e)
            self._unknown(cid, approval, f"submit failed: {type(e).__name__}")
            return
        now = self.clock.now_ns()  # a SubmitAck states no venue time: the ack's time is when we read it
        self._apply_report(
            OrderReport(
                cid,
                ack.venue_order_id,
                order.instrument,
                order.side,
                order.price,
                order.qty,
                0,
                OrderState.OPEN,
                ts_event=now,
                ts_recv=now,
            ),
            react=True,
        )

    def _unknown(self, cid: str, approval: Approval, reason: str) -> None:
        """The submit's outcome is unknown: it keeps counting and is asked of the venue, never resent."""
        now = self.clock.now_ns()
        self.summary.unknown_outcomes += 1
        if self.ledger.apply(cid, oms.OutcomeUnknown(reason), now) and self.gate is not None:
            with contextlib.suppress(UnknownOrderError):
                self.gate.on_unknown(approval.key)
            self._resolver.track(cid, now)

    def _cancel(self, client_id: str) -> list[Intent]:
        order = self.ledger.orders.get(client_id)
        if order is None or not order.is_live or order.status is oms.OrderStatus.CANCEL_PENDING:
            return []
        if order.status in (oms.OrderStatus.SUBMITTED, oms.OrderStatus.UNKNOWN, oms.OrderStatus.LOST):
            self._cancel_retry.add(client_id)  # cancel once the venue has it (or it is resolved)
            return []
        self.ledger.apply(client_id, oms.CancelRequested(), self.clock.now_ns())
        self._spawn(self._cancel_now(client_id))
        return []

    async def _cancel_now(self, client_id: str) -> None:
        """Cancel at the venue and record the outcome; transient failures are retried from the timer."""
        order = self.ledger.orders[client_id]
        if order.status is not oms.OrderStatus.CANCEL_PENDING:
            self.ledger.apply(client_id, oms.CancelRequested(), self.clock.now_ns())
        try:
            await self.connector.cancel(client_id)
        except OrderNotFoundError:
            await self._cancel_not_found(order)
            return
        except VenueError as e:
            self._venue_error(e)
            self.ledger.apply(client_id, oms.CancelRejected(str(e)), self.clock.now_ns())
            self._cancel_retry.add(client_id)
            return
        except Exception as e:  # unclassified: the order stays as it was, the cancel is retried
            self._task_error(f"cancel {client_id}", e)
            self.ledger.apply(client_id, oms.CancelRejected(type(e).__name__), self.clock.now_ns())
            self._cancel_retry.add(client_id)
            return
        self._cancel_retry.discard(client_id)
        await self._catch_up_fills(client_id)
        order = self.ledger.orders[client_id]
        now = self.clock.now_ns()  # the confirmed cancel: the venue's answer states no time
        self._apply_report(
            OrderReport(
                client_id,
                order.venue_order_id or "",
                order.instrument,
                order.side,
                order.price,
                order.qty,
                order.filled,
                OrderState.CANCELED,
                ts_event=now,
                ts_recv=now,
            ),
            react=True,
        )

    async def _cancel_not_found(self, order: oms.Order) -> None:
        """The venue has no open order by that id: already done (learn how), or never received."""
        cid = order.client_id
        try:
            report = await self.connector.query(cid)
        except VenueError as e:
            self._venue_error(e)
            self.ledger.apply(cid, oms.CancelRejected(f"cancel: not found; lookup: {e}"), self.clock.now_ns())
            self._cancel_retry.add(cid)
            return
        if report is not None:
            await self._catch_up_fills(cid)
            self._apply_report(report, react=True)
        elif order.venue_order_id is None and not order.filled:
            # never acknowledged: "not found" proves nothing yet (F-ORD-12); the resolver decides
            now = self.clock.now_ns()
            self.ledger.apply(cid, oms.CancelRejected("the venue does not know it yet"), now)
            self._resolver.track(cid, now)
            self._cancel_retry.add(cid)
        else:
            self.ledger.apply(cid, oms.Rejected("the venue does not know it"), self.clock.now_ns())
            self._gate_closed(cid)

    async def _catch_up_fills(self, client_id: str) -> None:
        """Fills the stream has not delivered yet for a closed order (the venue filled before it canceled)."""
        order = self.ledger.orders[client_id]
        try:
            report = await self.connector.query(client_id)
            if report is None or report.filled <= order.filled:
                return
            start = min((f.ts_ns for f in order.fills.values()), default=0)
            fills = await self.connector.fills_since(start)
        except VenueError as e:  # the stream or the next reconciliation brings them
            log.warning("fills of %s not fetched: %s", client_id, e)
            return
        for f in fills:
            if f.client_id == client_id:
                self._apply_fill(f, react=True)

    # ---- timer -----------------------------------------------------------------------------------

    async def on_timer(self) -> None:
        """Strategy timer, unknown-order resolution, cancel retries and the operator's kill switch."""
        now = self.clock.now_ns()
        self._check_feeds(now)
        self._ban.check(now)
        if self.journal.get_counter("kill") > self._kill_seen:
            self._kill_seen = self.journal.get_counter("kill")
            await self.kill("operator: trader kill")
        if not self._ban.active:  # banned: nothing would pass (and asking would prolong the ban)
            await self._retries(now)
        self._act(self.strategy.on_timer(now), None)

    async def _retries(self, now: int) -> None:
        """Ask about unknown orders; cancel again what the venue has now."""
        await self._resolver.run(now)
        for cid in list(self._cancel_retry):
            order = self.ledger.orders.get(cid)
            if order is None or not order.is_live:
                self._cancel_retry.discard(cid)
            elif order.status in (oms.OrderStatus.ACCEPTED, oms.OrderStatus.PARTIALLY_FILLED):
                self._cancel_retry.discard(cid)
                self._act([Cancel(cid)], None)

    def _venue_error(self, e: VenueError) -> None:
        """Every venue error the engine sees passes here: a ban halts the venue (`trader.engine.bans`)."""
        self._ban.on_error(e)

    # ---- control ---------------------------------------------------------------------------------

    async def kill(self, reason: str) -> None:
        """Latch the kill switch (no new orders), then cancel everything at the venue."""
        self._latch(reason)
        log.error("kill switch: %s", reason)
        await self.cancel_everything()

    def _latch(self, reason: str) -> None:
        """HALT the gate at once: nothing new is sent from here on."""
        assert self.gate is not None
        self.gate.kill(reason, self.clock.now_ns())
        self.summary.killed = True

    def _kill_signal(self) -> None:
        """SIGUSR1 from `trader kill`: the gate is HALTED here, in the signal's callback, before anything is
        awaited; the cancels follow as a task. (The timer's poll of the journal is the fallback.)"""
        if self.gate is None:
            return
        received = self.clock.monotonic_ns()
        self._latch("operator: trader kill")
        self.kill_halted_ns = self.clock.monotonic_ns()
        self.kill_latency_ns = self.kill_halted_ns - received
        self._kill_seen = max(self._kill_seen, self.journal.get_counter("kill"))
        log.error(
            "kill switch: operator: trader kill (HALTED %d µs after the engine got the signal)",
            self.kill_latency_ns // 1000,
        )
        self._spawn(self.cancel_everything())

    async def cancel_everything(self) -> None:
        """Cancel our orders: all at once when no other session shares the account, else one by one
        (never another session's; `trader kill --config` is the account-wide button)."""
        for symbol in self.symbols if not self._other_sessions else ():
            try:
                await self.connector.cancel_all(symbol)
            except VenueError as e:  # the per-order cancels follow
                self._venue_error(e)
        for o in self.ledger.live():
            if o.venue == self.venue:
                await self._cancel_now(o.client_id)

    async def settle(self) -> None:
        """Wait until no send or cancel is in flight."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _pump(self) -> None:
        """Venue events into `handle`; an error handling one event is counted and the next one follows.
        The stream itself failing ends the pump (and the session, loudly: `run`)."""
        async for ev in self.connector.events():
            try:
                self.handle(ev)
            except Exception as e:
                self._task_error(f"handling {type(ev).__name__}", e)

    async def _timer_loop(self) -> None:
        """`on_timer` every `timer_ms`, and the feed watchdog also at the moment a feed turns stale."""
        period = self.cfg.timer_ms * 1_000_000
        clock = self.clock
        next_tick = clock.monotonic_ns() + period
        while True:
            wake = next_tick
            if (deadline := self._feeds.next_deadline()) is not None:  # on our wall clock (ts_recv)
                wake = min(wake, clock.monotonic_ns() + max(deadline - clock.now_ns(), 1_000_000))
            await clock.sleep((wake - clock.monotonic_ns()) / 1e9)
            try:
                mono = clock.monotonic_ns()
                if mono >= next_tick:
                    next_tick = max(next_tick + period, mono + 1)
                    await self.on_timer()
                else:
                    self._check_feeds(clock.now_ns())
            except Exception as e:
                self._task_error("timer", e)

    async def _supervise(self, name: str, service: Callable[[Engine], Coroutine[Any, Any, None]]) -> None:
        """Run a service; when it fails, count it and start it again after a pause."""
        while True:
            try:
                await service(self)
                return
            except Exception as e:
                self._task_error(f"service {name}", e)
            await self.clock.sleep(1.0)

    def stop(self) -> None:
        self._stop.set()

    def deliver(self, call: Callable[[Any], list[Intent]]) -> None:
        """An input from outside the venue (a signal feed, a reward-scoring answer): `call(strategy)`
        returns the strategy's intents, which go through the gate like any other. Ignored before start
        and once shutdown began."""
        if self.gate is None or self._closing:
            return
        self._act(call(self.strategy), None)

    async def run(
        self,
        duration_s: float | None = None,
        on_tick: Callable[[Engine], None] | None = None,
        services: Sequence[Callable[[Engine], Coroutine[Any, Any, None]]] = (),
    ) -> Summary:
        """Start, trade until `duration_s` passes or `stop()` is called, then shut down. `services` run
        alongside (feeds that `deliver` inputs to the strategy) and are cancelled at shutdown."""
        await self.start()
        disarm = killswitch.arm(self.journal, self._kill_signal)  # `trader kill` wakes us (SIGUSR1)
        pump = asyncio.get_running_loop().create_task(self._pump())
        timer = asyncio.get_running_loop().create_task(self._timer_loop())
        self._services = [
            asyncio.get_running_loop().create_task(self._supervise(getattr(s, "__name__", "service"), s))
            for s in services
        ]
        try:
            loop = asyncio.get_running_loop()
            waiter = loop.create_task(self._stop.wait())
            end = None if duration_s is None else self.clock.monotonic_ns() + int(duration_s * 1e9)
            while not waiter.done() and not pump.done() and not timer.done():
                left = 0.25 if end is None else min(0.25, (end - self.clock.monotonic_ns()) / 1e9)
                if left <= 0:
                    break
                tick = loop.create_task(self.clock.sleep(left))
                await asyncio.wait({waiter, pump, timer, tick}, return_when=asyncio.FIRST_COMPLETED)
                tick.cancel()
                if on_tick is not None:
                    on_tick(self)
            waiter.cancel()
            for task, what in ((pump, "venue event stream"), (timer, "timer")):
                if task.done():  # neither ends on its own: stop loudly
                    why = "cancelled" if task.cancelled() else repr(task.exception() or "ended")
                    self.summary.failure = f"{what} stopped: {why}"
                    log.error("%s stopped (%s): shutting down, the session failed", what, why)
        finally:
            disarm()
            timer.cancel()
            summary = await self.shutdown()
            pump.cancel()
            await asyncio.gather(pump, timer, return_exceptions=True)
        return summary

    async def shutdown(self) -> Summary:
        """Cancel every open order, wait for the venue to confirm, summarize."""
        self._closing = True
        for service in self._services:
            service.cancel()
        await asyncio.gather(*self._services, return_exceptions=True)
        await self.settle()
        await self.cancel_everything()
        await self.settle()
        try:
            left = sum(r.client_id in self.ledger.orders for r in await self.connector.open_orders())
        except VenueError as e:  # cannot ask (a ban, an outage): our live orders are what may be left
            self._venue_error(e)
            left = sum(o.venue == self.venue for o in self.ledger.live())
            log.error("open orders not verified at shutdown (%s): %d may be left", e, left)
        return self.report(open_left=left)

    # ---- reporting -------------------------------------------------------------------------------

    def report(self, open_left: int = 0) -> Summary:
        """PnL and fees over every instrument (one quote currency); inventory of the primary one."""
        return summarize(self, open_left)

    def snapshot(self) -> Snapshot:
        return snapshot_of(self)
