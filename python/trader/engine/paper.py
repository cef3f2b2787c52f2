"""A paper-trading session in simulated time against the in-process exchange-in-a-box.

Market data -> core book -> strategy -> risk gate -> ledger (journal first) -> simulated venue, and the
venue's acks and fills back through the ledger, the gate and the strategy. No credentials, no network,
deterministic for a seed. The loopback HTTP/WebSocket simulators and real connectors plug in at the venue
seam later; this session is what `trader paper` and `make demo` run today.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from trader.clock import LiveClock, SimClock
from trader.config import RiskLimits
from trader.core import Approval, Book, InstrumentSpec, RiskGate, Side
from trader.engine import oms
from trader.engine.journal import Journal
from trader.engine.ledger import OrderLedger
from trader.engine.portfolio import Portfolio, to_decimal
from trader.sim import matching
from trader.sim.market import BackgroundMarket, MarketParams
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place
from trader.strategies.market_maker import MarketMaker, MarketMakerParams

INSTRUMENT = "BTCUSDT"
VENUE = "sim"
STRATEGY_OWNER = "strategy"


@dataclass
class Summary:
    simulated_seconds: float
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
    tick_to_order_p50_us: float = 0.0
    tick_to_order_p99_us: float = 0.0
    open_orders_after_shutdown: int = 0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class PaperConfig:
    seed: int = 7
    duration_s: float = 60.0
    step_ms: int = 100
    journal: Path | None = None
    risk: RiskLimits | None = None  # global limits; defaults sized for the demo


class PaperSession:
    def __init__(self, config: PaperConfig) -> None:
        self.cfg = config
        self.clock = SimClock(start_ns=1_700_000_000_000_000_000)
        self.spec = InstrumentSpec("0.01", "0.001", min_qty="0.001", min_notional="5")
        self.unit_notional = Decimal("0.00001")  # one price unit x one qty unit, in USDT
        self.engine = matching.MatchingEngine(
            maker_fee_bps=Decimal("0"), taker_fee_bps=Decimal("5"), unit_notional=self.unit_notional
        )
        self.market = BackgroundMarket(
            self.engine, MarketParams(mid=5_000_000, max_qty=200), seed=config.seed
        )
        self.market.seed_book(20)
        self.book = Book(self.spec)
        r = config.risk or RiskLimits(
            max_gross_notional=Decimal(200_000),
            max_net_notional=Decimal(100_000),
            max_open_orders=20,
            max_orders_per_sec=50,
            daily_loss_limit=Decimal(500),
            daily_loss_halt=Decimal(500),
        )
        self.gate = RiskGate(
            max_gross_notional=r.max_gross_notional,
            max_net_notional=r.max_net_notional,
            max_open_orders=r.max_open_orders,
            max_orders_per_sec=r.max_orders_per_sec,
            daily_loss_limit=r.daily_loss_limit,
            daily_loss_halt=r.daily_loss_halt,
        )
        venue = self.gate.add_venue(VENUE, max_gross_notional="150000", max_open_orders=10)
        self.strategy_id = self.gate.add_strategy("mm", max_orders_per_sec=20)
        self.instrument_id = self.gate.add_instrument(
            venue,
            INSTRUMENT,
            self.spec,
            max_order_qty="1",
            max_order_notional="60000",
            max_position="2",
            max_open_orders=6,
            collar_bps=50,
        )
        self.strategy = MarketMaker(
            MarketMakerParams(instrument=INSTRUMENT, tick=1, order_qty=50, max_inventory=400, gamma=0.05)
        )
        path = config.journal if config.journal is not None else Path(":memory:")
        self.ledger = OrderLedger(Journal(path))
        self.by_sim_id: dict[int, str] = {}
        self.gate_keys: dict[str, int] = {}
        self.summary = Summary(simulated_seconds=config.duration_s)
        self.cash = Decimal(0)
        self.fees = Decimal(0)
        self.inventory = 0
        self.max_abs_inventory = 0
        self.portfolio = Portfolio()
        self.latencies: list[int] = []
        self.denials: Counter[str] = Counter()
        self._wall = LiveClock()

    # ---- venue events ------------------------------------------------------------------------

    def _on_fill(self, client_id: str, side: Side, trade: matching.Trade, is_maker: bool) -> list[Intent]:
        now = self.clock.now_ns()
        fee = trade.maker_fee if is_maker else trade.taker_fee
        fill = oms.Fill(f"{trade.trade_id}", trade.qty, trade.price, fee, now)
        if not self.ledger.apply(client_id, oms.Filled(fill), now):
            return []
        self.gate.on_fill(self.gate_keys[client_id], trade.qty, trade.price, fee=str(fee))
        sign = 1 if side == Side.BUY else -1
        self.inventory += sign * trade.qty
        self.max_abs_inventory = max(self.max_abs_inventory, abs(self.inventory))
        self.cash -= sign * Decimal(trade.price * trade.qty) * self.unit_notional + fee
        self.portfolio.position(VENUE, INSTRUMENT, self.unit_notional).apply_fill(
            side, trade.qty, trade.price, fee
        )
        self.fees += fee
        self.summary.fills += 1
        order = self.ledger.orders[client_id]
        intents = self.strategy.on_fill(OwnFill(client_id, INSTRUMENT, side, trade.price, trade.qty, now))
        if not order.is_live:
            intents += self.strategy.on_order(self._view(order))
        return intents

    def _view(self, o: oms.Order) -> OwnOrder:
        return OwnOrder(o.client_id, o.instrument, o.side, o.price, o.remaining, o.is_live)

    # ---- intents -----------------------------------------------------------------------------

    def _act(self, intents: list[Intent], tick_ns: int) -> None:
        while intents:
            intent = intents.pop(0)
            now = self.clock.now_ns()
            if isinstance(intent, Cancel):
                intents += self._cancel(intent.client_id, now)
                continue
            intents += self._place(intent, now, tick_ns)

    def _cancel(self, client_id: str, now: int) -> list[Intent]:
        order = self.ledger.orders.get(client_id)
        if order is None or not order.is_live:
            return []
        self.ledger.apply(client_id, oms.CancelRequested(), now)
        sim_id = self.gate_keys[client_id]
        if self.engine.cancel(sim_id) is not None:
            self.ledger.apply(client_id, oms.Canceled(), now)
            self.summary.canceled += 1
        else:
            self.ledger.apply(client_id, oms.CancelRejected("unknown order"), now)
        if not self.ledger.orders[client_id].is_live:
            self.gate.on_closed(sim_id)
        return self.strategy.on_order(self._view(order))

    def _place(self, p: Place, now: int, tick_ns: int) -> list[Intent]:
        verdict = self.gate.check(
            self.strategy_id, self.instrument_id, p.side, p.price, p.qty, now, post_only=True
        )
        if not isinstance(verdict, Approval):
            self.denials[str(verdict.reason).rsplit(".", 1)[-1]] += 1
            return []
        order = self.ledger.create("mm", VENUE, INSTRUMENT, p.side, verdict.price, verdict.qty, now)
        self.gate_keys[order.client_id] = verdict.key
        self.by_sim_id[verdict.key] = order.client_id
        self.ledger.apply(order.client_id, oms.Submitted(), now)
        self.latencies.append(self._wall.monotonic_ns() - tick_ns)
        self.summary.orders += 1
        side = matching.Side.BUY if p.side == Side.BUY else matching.Side.SELL
        result = self.engine.submit(
            matching.SimOrder(
                verdict.key, STRATEGY_OWNER, side, verdict.price, verdict.qty, post_only=p.post_only
            )
        )
        if not result.accepted:
            self.ledger.apply(order.client_id, oms.Rejected(result.reason), now)
            self.gate.on_closed(verdict.key)
            self.summary.rejects += 1
            return self.strategy.on_order(self._view(order))
        self.ledger.apply(order.client_id, oms.Accepted(str(verdict.key)), now)
        self.gate.on_ack(verdict.key)
        intents = self.strategy.on_order(self._view(order))
        for t in result.trades:
            intents += self._on_fill(order.client_id, p.side, t, is_maker=False)
        return intents

    # ---- the loop ----------------------------------------------------------------------------

    def _top(self) -> BookTop:
        bids, asks = self.engine.depth(20)
        self.book.apply_snapshot(bids, asks, 0)
        bid, ask = self.book.best_bid(), self.book.best_ask()
        now = self.clock.now_ns()
        if bid is not None and ask is not None:
            self.gate.set_reference(self.instrument_id, bid[0], ask[0], now)
        return BookTop(
            INSTRUMENT,
            bid[0] if bid else None,
            bid[1] if bid else 0,
            ask[0] if ask else None,
            ask[1] if ask else 0,
            now,
        )

    def step(self) -> None:
        dt = self.cfg.step_ms * 1_000_000
        self.clock.advance(dt)
        intents: list[Intent] = []
        for t in self.market.step(dt):
            if t.maker_owner == STRATEGY_OWNER and t.maker_order_id in self.by_sim_id:
                cid = self.by_sim_id[t.maker_order_id]
                intents += self._on_fill(cid, self.ledger.orders[cid].side, t, is_maker=True)
        tick_ns = self._wall.monotonic_ns()
        intents += self.strategy.on_book(self._top())
        self._act(intents, tick_ns)

    def run(self) -> Summary:
        steps = int(self.cfg.duration_s * 1000 / self.cfg.step_ms)
        for _ in range(steps):
            self.step()
        return self.shutdown()

    def shutdown(self) -> Summary:
        """Cancel everything still open, then summarize."""
        now = self.clock.now_ns()
        for o in self.ledger.live():
            self._cancel(o.client_id, now)
        bid, ask = self.engine.best_bid(), self.engine.best_ask()
        mid = Decimal(bid + ask) / 2 if bid is not None and ask is not None else Decimal(0)
        qty_unit = Decimal("0.001")
        s = self.summary
        s.fees = str(self.fees)
        s.pnl = str(self.cash + Decimal(self.inventory) * mid * self.unit_notional)
        pos = self.portfolio.position(VENUE, INSTRUMENT, self.unit_notional)
        s.realized_pnl = str(to_decimal(pos.realized))
        s.unrealized_pnl = str(
            to_decimal(pos.unrealized(Fraction(bid + ask, 2)) if bid and ask else Fraction(0))
        )
        s.inventory = str(Decimal(self.inventory) * qty_unit)
        s.max_inventory = str(Decimal(self.max_abs_inventory) * qty_unit)
        s.filled_qty = str(
            sum((Decimal(f.qty) for o in self.ledger.orders.values() for f in o.fills.values()), Decimal(0))
            * qty_unit
        )
        s.denials = dict(self.denials)
        if self.latencies:
            lat = sorted(self.latencies)
            s.tick_to_order_p50_us = round(statistics.median(lat) / 1000, 1)
            s.tick_to_order_p99_us = round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1000, 1)
        s.open_orders_after_shutdown = len(self.ledger.live())
        return s
