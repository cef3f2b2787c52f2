"""The built-in simulated venue as a connector: the in-process matching engine and background market
behind the same `Connector` contract every real venue implements (`trader.sim.session.PaperSession`).
The loopback `sim` venue (the same engine behind the Binance protocol) is `BinanceConnector` named
"sim": see this package's `build` and `loopback`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

from trader.clock import Clock
from trader.core import Approval, Side, TimeInForce
from trader.sim import matching
from trader.sim.market import BackgroundMarket
from trader.venues.base import (
    Capabilities,
    FillReport,
    FundingPayment,
    InstrumentInfo,
    OrderReport,
    OrderState,
    SubmitAck,
    Tier,
    VenueEvent,
    require_approval,
)
from trader.venues.profile import VenueTime
from trader.venues.sim import errors, parse

CAPABILITIES = Capabilities(
    venue="sim",
    tier=Tier.SIMULATED,
    order_types=frozenset({"LIMIT", "MARKET"}),
    time_in_force=frozenset({"GTC", "IOC", "FOK"}),
    post_only=True,
    reduce_only=False,
    cancel_all=True,
    dead_man_switch=False,
    ws_order_entry=False,
    max_batch=1,
    paper_environment=True,
    needs_credentials=False,
)


_TIF = {int(TimeInForce.IOC): matching.Tif.IOC, int(TimeInForce.FOK): matching.Tif.FOK}


class SimConnector:
    venue = "sim"
    capabilities = CAPABILITIES

    def __init__(
        self,
        engine: matching.MatchingEngine,
        market: BackgroundMarket,
        instrument: str,
        clock: Clock,
        info: InstrumentInfo | None = None,
    ) -> None:
        self.engine = engine
        self.market = market
        self.instrument = instrument
        self.clock = clock
        self.info = info or InstrumentInfo(instrument, "BTC", "USDT", "0.01", "0.001", "0.001", "5")
        self._orders: dict[str, OrderReport] = {}
        self._by_sim_id: dict[int, str] = {}
        self._fills: list[FillReport] = []
        self._queue: asyncio.Queue[VenueEvent] = asyncio.Queue()
        self._next_id = 1
        self._connected = False

    async def connect(self) -> None:
        self._connected = True

    async def close(self) -> None:
        self._connected = False

    async def instrument_info(self, symbol: str) -> InstrumentInfo:
        if symbol != self.instrument:
            raise errors.error_from(self.venue, errors.UNKNOWN_SYMBOL, f"unknown instrument {symbol}")
        return self.info

    def _set(self, report: OrderReport) -> None:
        """Record the order's new state and publish it, as a venue's private stream would."""
        self._orders[report.client_id] = report
        self._queue.put_nowait(report)

    async def venue_time(self) -> VenueTime:
        """The simulator's clock is ours (nanoseconds)."""
        return VenueTime(self.clock.now_ns(), 1)

    def _record_trades(self, trades: tuple[matching.Trade, ...] | list[matching.Trade]) -> None:
        for t in trades:
            for oid, maker in ((t.maker_order_id, True), (t.taker_order_id, False)):
                cid = self._by_sim_id.get(oid)
                if cid is None:
                    continue
                r = self._orders[cid]
                now = self.clock.now_ns()
                f = parse.fill(t, r, maker=maker, ts_ns=now)
                self._fills.append(f)
                self._queue.put_nowait(f)
                self._set(parse.filled(r, t.qty, now))

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        a = require_approval(approval)
        if client_id in self._orders:
            raise errors.error_from(self.venue, errors.DUPLICATE, "duplicate client order id")
        sim_id = self._next_id
        self._next_id += 1
        side = parse.matching_side(a.side)
        result = self.engine.submit(
            matching.SimOrder(
                sim_id,
                client_id,
                side,
                a.price,
                a.qty,
                _TIF.get(int(a.tif), matching.Tif.GTC),
                post_only=a.post_only,
                client_id=client_id,
            )
        )
        if not result.accepted:
            raise errors.error_from(self.venue, errors.REJECTED, result.reason)
        self._by_sim_id[sim_id] = client_id
        now = self.clock.now_ns()  # the simulator's clock is ours: venue time and receive time are one
        self._set(
            OrderReport(
                client_id,
                str(sim_id),
                instrument,
                a.side,
                a.price,
                a.qty,
                0,
                OrderState.OPEN,
                ts_event=now,
                ts_recv=now,
            )
        )
        self._record_trades(result.trades)
        r = self._orders[client_id]
        if not result.resting and r.state is OrderState.OPEN:  # IOC/FOK/market remainder
            now = self.clock.now_ns()
            self._set(replace(r, state=OrderState.EXPIRED, ts_event=now, ts_recv=now))
        return SubmitAck(client_id, str(sim_id))

    async def cancel(self, client_id: str) -> None:
        r = self._orders.get(client_id)
        if r is None or self.engine.cancel(int(r.venue_order_id)) is None:
            raise errors.error_from(self.venue, errors.NOT_FOUND, "unknown or closed order")
        now = self.clock.now_ns()
        self._set(replace(r, state=OrderState.CANCELED, ts_event=now, ts_recv=now))

    async def cancel_all(self, instrument: str | None = None) -> int:
        n = 0
        for r in list(self._orders.values()):
            if r.state is OrderState.OPEN and (instrument is None or r.instrument == instrument):
                await self.cancel(r.client_id)
                n += 1
        return n

    async def query(self, client_id: str) -> OrderReport | None:
        r = self._orders.get(client_id)
        return None if r is None else replace(r, ts_recv=self.clock.now_ns())  # read now

    async def open_orders(self) -> list[OrderReport]:
        now = self.clock.now_ns()
        return [replace(r, ts_recv=now) for r in self._orders.values() if r.state is OrderState.OPEN]

    async def fills_since(self, ts_ns: int) -> list[FillReport]:
        return [f for f in self._fills if f.ts_event >= ts_ns]

    async def funding_since(self, ts_ns: int) -> list[FundingPayment]:
        return []  # the simulated venue trades no perpetual

    async def positions(self) -> dict[str, int]:
        pos: dict[str, int] = {}
        for f in self._fills:
            pos[f.instrument] = pos.get(f.instrument, 0) + (f.qty if f.side == Side.BUY else -f.qty)
        return pos

    def step(self, dt_ns: int) -> None:
        """Advance the background market (simulated time) and publish a book update."""
        self._record_trades(self.market.step(dt_ns))
        bids, asks = self.engine.depth(1)
        self._queue.put_nowait(parse.top_of_book(self.instrument, bids, asks, self.clock.now_ns()))

    def drain(self) -> list[VenueEvent]:
        """Take every queued event at once (for drivers in simulated time)."""
        out: list[VenueEvent] = []
        while not self._queue.empty():
            out.append(self._queue.get_nowait())
        return out

    async def events(self) -> AsyncIterator[VenueEvent]:
        while True:
            yield await self._queue.get()
