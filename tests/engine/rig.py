"""The engine against the in-process simulated venue, in simulated time, with scriptable faults."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

from trader.clock import SimClock
from trader.core import Approval
from trader.engine import oms
from trader.engine.engine import Engine, EngineConfig
from trader.engine.journal import Journal
from trader.errors import BannedError, UnknownOutcomeError, VenueError, VenueUnavailableError
from trader.sim import matching
from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.session import drain
from trader.strategies.base import Intent, Place
from trader.strategies.market_maker import MarketMaker, MarketMakerParams
from trader.venues.base import OrderReport, OrderState, SubmitAck, VenueEvent
from trader.venues.sim import SimConnector

T0 = 1_700_000_000_000_000_000
STEP = 100_000_000


class Venue(SimConnector):
    """The simulated venue with scriptable faults on submit, cancel and query, and a record of every
    submission."""

    def __init__(self, seed: int, clock: SimClock) -> None:
        eng = matching.MatchingEngine(
            maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(5), unit_notional=Decimal("0.00001")
        )
        mkt = BackgroundMarket(eng, MarketParams(mid=5_000_000, max_qty=200), seed=seed)
        mkt.seed_book(20)
        super().__init__(eng, mkt, "BTCUSDT", clock)
        self.sim_clock = clock
        self.submissions: list[str] = []
        self.fault: Callable[[str], str | None] = lambda cid: None  # -> "drop" | "lose" | "down" | None
        self.cancel_fault: Callable[[str], VenueError | None] = lambda cid: None
        self.query_hook: Callable[[str], Awaitable[None]] | None = None  # awaited before answering
        self.queries: list[str] = []
        self.banned_until = 0  # an IP ban (HTTP 418) until then: every request refused
        self.bans_answered = 0
        self.muted: set[str] = set()  # client ids whose private-stream events are held back
        self.held: list[VenueEvent] = []

    def ban(self, seconds: float) -> None:
        self.banned_until = self.sim_clock.now_ns() + int(seconds * 1e9)

    def _refuse_if_banned(self) -> None:
        now = self.sim_clock.now_ns()
        if now < self.banned_until:
            self.bans_answered += 1
            left_s = (self.banned_until - now) // 1_000_000_000  # Retry-After: whole seconds, rounded down
            raise BannedError(
                "banned (418)", venue="sim", code="418", retry_after_ns=now + left_s * 1_000_000_000
            )

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        self._refuse_if_banned()
        self.submissions.append(client_id)
        fault = self.fault(client_id)
        if fault == "down":
            raise VenueUnavailableError("connection refused", venue="sim")
        if fault == "lose":  # the request timed out before the venue saw it
            raise UnknownOutcomeError("timeout", venue="sim")
        ack = await super().submit(approval, client_id, instrument)
        if fault == "drop":  # placed, but the response never arrived
            raise UnknownOutcomeError("timeout", venue="sim")
        return ack

    async def cancel(self, client_id: str) -> None:
        self._refuse_if_banned()
        err = self.cancel_fault(client_id)
        if err is not None:
            raise err
        await super().cancel(client_id)

    async def cancel_all(self, instrument: str | None = None) -> int:
        self._refuse_if_banned()
        n = 0
        for r in list(self._orders.values()):
            if r.state is OrderState.OPEN and (instrument is None or r.instrument == instrument):
                await self.cancel(r.client_id)
                n += 1
        return n

    async def query(self, client_id: str) -> OrderReport | None:
        self._refuse_if_banned()
        self.queries.append(client_id)
        if self.query_hook is not None:
            await self.query_hook(client_id)
        return await super().query(client_id)

    async def open_orders(self) -> list[OrderReport]:
        self._refuse_if_banned()
        return await super().open_orders()

    def drain(self) -> list[VenueEvent]:
        out: list[VenueEvent] = []
        for ev in super().drain():
            if getattr(ev, "client_id", None) in self.muted:
                self.held.append(ev)
            else:
                out.append(ev)
        return out


class Denied(MarketMaker):
    def __init__(self) -> None:
        super().__init__(MarketMakerParams("BTCUSDT", tick=1, order_qty=50, max_inventory=400, gamma=0.05))
        self.denied: list[tuple[Place, str]] = []

    def on_denied(self, place: Place, reason: str) -> list[Intent]:
        self.denied.append((place, reason))
        return super().on_denied(place, reason)


class Rig:
    def __init__(
        self, journal: Journal, venue: Venue | None = None, config: EngineConfig | None = None, seed: int = 1
    ) -> None:
        self.venue = venue or Venue(seed, SimClock(T0))
        self.clock = self.venue.sim_clock
        self.strategy = Denied()
        self.engine = Engine(
            self.venue, self.strategy, journal=journal, clock=self.clock, config=config or EngineConfig()
        )

    async def drain(self) -> None:
        await drain(self.venue, self.engine)

    async def steps(self, n: int) -> None:
        for i in range(n):
            self.clock.advance(STEP)
            self.venue.step(STEP)
            await self.drain()
            if i % 3 == 2:
                await self.engine.on_timer()
                await self.drain()

    async def idle(self, seconds: float) -> None:
        """Time passes with the timer running and no market data (a stalled feed, an outage)."""
        for _ in range(round(seconds * 1e9 / STEP)):
            self.clock.advance(STEP)
            await self.engine.on_timer()
            await self.drain()


def status(order: oms.Order) -> oms.OrderStatus:
    return order.status  # a call, so the type checker does not narrow across awaits


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(coro())  # type: ignore[arg-type]
