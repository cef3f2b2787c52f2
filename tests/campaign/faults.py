"""The fault campaign of issue 13 in simulated time: the real `Engine` (its `run`: event pump, timer loop,
feed watchdog, shutdown) against the in-process venue of `tests.engine.rig`, under a fault mix, for a
number of submissions, then >= 30 s of calm with every fault cleared. Measured per mix and seed:

- duplicates: client ids the venue was sent more than once (`Venue.submissions`), target 0;
- unresolved: orders still UNKNOWN or LOST 30 s (plus one timer period) after the last fault, target 0;
- disagreements: orders whose state or filled quantity in the engine differs from the venue's, and the
  engine's position against the venue's, target 0;
- timer alive: the timer kept running rounds through the calm, no background error, no failure;
- stale detection: feed stalls during the mix, from the last book update to the watchdog firing and to
  the venue holding no quote of ours (simulated seconds).

A fault mix (`Mix`): each submit dropped after the venue processed it (`p_drop`: the response is lost),
failed before (`p_5xx`: the outcome is unknown to us, the venue never saw it) or refused outright
(`p_refused`); cancels failing before or after processing; lookups failing; private-stream events
delayed (per order, in order) and delivered twice.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

from tests.engine.rig import STEP, T0, Denied, Venue
from trader.clock import SimClock
from trader.engine import oms
from trader.engine.engine import DEFAULT_RISK, Engine, EngineConfig, Summary
from trader.engine.journal import Journal
from trader.errors import UnknownOutcomeError, VenueError, VenueUnavailableError
from trader.strategies.base import Intent
from trader.venues.base import OrderState, VenueEvent

S = 1_000_000_000
MS = 1_000_000
CALM_S = 30.0  # F-ORD-12's window: every unknown is resolved within it once the faults stop
TIMER_S = 0.25


@dataclass(frozen=True)
class Mix:
    name: str
    p_drop: float = 0.0  # submit processed, the response lost (a timeout)
    p_5xx: float = 0.0  # submit failed before the venue processed it (5xx / timeout: outcome unknown)
    p_refused: float = 0.0  # connection refused: definitively not sent
    p_cancel_fail: float = 0.0  # cancel failed before the venue processed it (5xx)
    p_cancel_drop: float = 0.0  # cancel processed, the response lost
    p_query_fail: float = 0.0  # order lookups answered 503
    p_delay: float = 0.0  # a private-stream event held back...
    max_delay_s: float = 0.0  # ...up to this long (an order's events stay in order)
    p_dup: float = 0.0  # a private-stream event delivered twice


MIXES: dict[str, Mix] = {
    m.name: m
    for m in (
        Mix("calm"),
        Mix("drop30+5xx30", p_drop=0.30, p_5xx=0.30),
        Mix("drop50+5xx30", p_drop=0.50, p_5xx=0.30),
        Mix("cancel+query", p_drop=0.10, p_cancel_fail=0.30, p_cancel_drop=0.15, p_query_fail=0.30),
        Mix("stream", p_drop=0.20, p_delay=0.30, max_delay_s=20.0, p_dup=0.20),
        Mix(
            "everything",
            p_drop=0.25,
            p_5xx=0.20,
            p_refused=0.05,
            p_cancel_fail=0.20,
            p_cancel_drop=0.10,
            p_query_fail=0.30,
            p_delay=0.20,
            max_delay_s=20.0,
            p_dup=0.10,
        ),
    )
}

# the demo market maker with room for the unknown orders a fault mix leaves counting against the limits
CONFIG = EngineConfig(
    risk=replace(DEFAULT_RISK, max_open_orders=80),
    venue_max_open_orders=60,
    max_open_orders=40,
    venue_max_gross_notional="190000",
)


class FaultVenue(Venue):
    """The rig's venue with a fault mix drawn from a seeded generator, and a private stream that can lag
    and repeat itself. `faulty = False` clears every fault (the calm)."""

    def __init__(self, seed: int, clock: SimClock, mix: Mix) -> None:
        super().__init__(seed, clock)
        self.mix = mix
        self.faulty = True
        self.rng = random.Random(f"{mix.name}/{seed}")
        self.fault = self._submit_fault
        self.cancel_fault = self._cancel_fault
        self.query_hook = self._query_fault
        self._held: list[tuple[int, int, VenueEvent]] = []
        self._order_of: dict[str, int] = {}  # client id -> release time of its last held event
        self._seq = itertools.count()
        self._inbox: asyncio.Queue[VenueEvent] = asyncio.Queue()

    def _submit_fault(self, cid: str) -> str | None:
        m, u = self.mix, self.rng.random()
        if not self.faulty:
            return None
        if u < m.p_drop:
            return "drop"
        if u < m.p_drop + m.p_5xx:
            return "lose"
        if u < m.p_drop + m.p_5xx + m.p_refused:
            return "down"
        return None

    def _cancel_fault(self, cid: str) -> VenueError | None:
        if self.faulty and self.rng.random() < self.mix.p_cancel_fail:
            return VenueUnavailableError("503 service unavailable", venue="sim")
        return None

    async def cancel(self, client_id: str) -> None:
        await super().cancel(client_id)
        if self.faulty and self.rng.random() < self.mix.p_cancel_drop:
            raise UnknownOutcomeError("timeout", venue="sim")

    async def _query_fault(self, cid: str) -> None:
        if self.faulty and self.rng.random() < self.mix.p_query_fail:
            raise VenueUnavailableError("503 service unavailable", venue="sim")

    def deliver(self) -> int:
        """Move what the venue published to the engine's stream, with the mix's lag and repeats; the
        number of events delivered now."""
        now = self.sim_clock.now_ns()
        m = self.mix
        for ev in super().drain():
            cid: str | None = getattr(ev, "client_id", None)
            if cid is None:  # the public feed (book updates) is on time
                heapq.heappush(self._held, (now, next(self._seq), ev))
                continue
            release = now
            if self.faulty and self.rng.random() < m.p_delay:
                release += int(self.rng.uniform(0, m.max_delay_s) * S)
            release = max(release, self._order_of.get(cid, 0))
            self._order_of[cid] = release
            heapq.heappush(self._held, (release, next(self._seq), ev))
            if self.faulty and self.rng.random() < m.p_dup:
                heapq.heappush(self._held, (release, next(self._seq), ev))
        n = 0
        while self._held and self._held[0][0] <= now:
            self._inbox.put_nowait(heapq.heappop(self._held)[2])
            n += 1
        return n

    def pending(self) -> bool:
        """Something is due on the stream now (held events not yet due are not)."""
        due = bool(self._held) and self._held[0][0] <= self.sim_clock.now_ns()
        return due or not self._inbox.empty() or not self._queue.empty()

    async def events(self) -> AsyncIterator[VenueEvent]:
        """The private stream as delivered (`deliver`), not as published."""
        while True:
            yield await self._inbox.get()


class Timed(Denied):
    """The rig's market maker, counting the timer rounds that reach it (the end of `Engine.on_timer`)."""

    def __init__(self) -> None:
        super().__init__()
        self.rounds = 0

    def on_timer(self, now_ns: int) -> list[Intent]:
        self.rounds += 1
        return super().on_timer(now_ns)


@dataclass
class Result:
    mix: str
    seed: int
    submissions: int = 0
    duplicates: int = 0
    unknown_outcomes: int = 0
    unresolved: int = 0
    disagreements: list[str] = field(default_factory=list)
    position: tuple[int, int] = (0, 0)  # (engine, venue)
    timer_alive: bool = False
    stale_detect_s: list[float] = field(default_factory=list)
    stale_pulled_s: list[float] = field(default_factory=list)
    task_errors: int = 0
    failure: str = ""
    sim_s: float = 0.0
    stalled: bool = False  # the engine stopped sending orders before the target (the limits full)

    @property
    def ok(self) -> bool:
        return (
            not self.stalled
            and self.duplicates == 0
            and self.unresolved == 0
            and not self.disagreements
            and self.position[0] == self.position[1]
            and self.timer_alive
            and self.task_errors == 0
            and all(s != float("inf") for s in self.stale_pulled_s)
        )


class Campaign:
    """One mix, one seed: the engine runs (`Engine.run`) while this drives simulated time."""

    def __init__(
        self,
        mix: Mix,
        seed: int,
        submissions: int,
        *,
        stall_every_s: float = 60.0,
        engine: type[Engine] = Engine,
    ) -> None:
        self.clock = SimClock(T0)
        self.venue = FaultVenue(seed, self.clock, mix)
        self.strategy = Timed()
        self.engine = engine(
            self.venue, self.strategy, journal=Journal(":memory:"), clock=self.clock, config=CONFIG
        )
        self.target = submissions
        self.stall_every_ns = int(stall_every_s * S)
        self.result = Result(mix.name, seed)

    async def _settle(self) -> None:
        """Let the pump, the timer and the sends and cancels they started run until quiet."""
        for i in range(200):
            self.venue.deliver()
            await self.clock.sleep(0)
            if i >= 4 and not self.engine._tasks and not self.venue.pending():
                return

    async def _step(self, dt: int = STEP, market: bool = True) -> None:
        self.clock.advance(dt)
        if market:
            self.venue.step(dt)
        await self._settle()

    async def _stall(self) -> None:
        """The feed stalls (no book update, the socket up) until our quotes are off the venue."""
        last = self.clock.now_ns()
        seen = self.engine.summary.stale_feeds
        detected = None
        while self.clock.now_ns() - last < 15 * S:
            await self._step(10 * MS, market=False)
            if detected is None and self.engine.summary.stale_feeds > seen:
                detected = (self.clock.now_ns() - last) / S
            if detected is not None and not await self.venue.open_orders():
                self.result.stale_detect_s.append(detected)
                self.result.stale_pulled_s.append((self.clock.now_ns() - last) / S)
                return
        self.result.stale_detect_s.append(detected if detected is not None else float("inf"))
        self.result.stale_pulled_s.append(float("inf"))

    async def run(self) -> Result:
        engine, venue, r = self.engine, self.venue, self.result
        session = asyncio.get_running_loop().create_task(engine.run())
        while engine.gate is None and not session.done():
            await self._step()
        await self._faults(session)
        venue.faulty = False
        calm_from, rounds = self.clock.now_ns(), self.strategy.rounds
        while self.clock.now_ns() - calm_from < int((CALM_S + 2 * TIMER_S) * S) and not session.done():
            await self._step()
        calm_rounds = self.strategy.rounds - rounds
        r.timer_alive = not session.done() and calm_rounds >= int(CALM_S / TIMER_S * 0.9)
        unresolved = (oms.OrderStatus.UNKNOWN, oms.OrderStatus.LOST)
        r.unresolved = sum(o.status in unresolved for o in self._orders())
        await self._agreement()
        engine.stop()
        while not session.done():
            await self._step()
        summary: Summary = session.result()
        r.submissions = len(venue.submissions)
        r.duplicates = len(venue.submissions) - len(set(venue.submissions))
        r.unknown_outcomes = summary.unknown_outcomes
        r.task_errors, r.failure = summary.task_errors, summary.failure
        r.timer_alive = r.timer_alive and not summary.failure
        r.sim_s = (self.clock.now_ns() - T0) / S
        engine.journal.close()
        return r

    async def _faults(self, session: asyncio.Task[Summary]) -> None:
        """The market runs under the mix until the venue was sent `target` orders; the feed stalls now
        and then."""
        next_stall = self.clock.now_ns() + self.stall_every_ns
        give_up = self.clock.now_ns() + int(max(600.0, 3.0 * self.target) * S)  # the orders stopped
        while len(self.venue.submissions) < self.target and not session.done():
            if self.clock.now_ns() >= give_up:
                self.result.stalled = True
                return
            await self._step()
            if self.clock.now_ns() >= next_stall:
                await self._stall()
                next_stall = self.clock.now_ns() + self.stall_every_ns

    def _orders(self) -> list[oms.Order]:
        return list(self.engine.ledger.orders.values())

    async def _agreement(self) -> None:
        """After the calm the engine and the venue agree on every order and on the position."""
        r, venue = self.result, self.venue
        for o in self._orders():
            at_venue = await venue.query(o.client_id)
            if at_venue is None:
                ok = o.status is oms.OrderStatus.REJECTED and not o.filled
            elif at_venue.state is OrderState.OPEN:
                ok = o.status in (oms.OrderStatus.ACCEPTED, oms.OrderStatus.PARTIALLY_FILLED)
            else:
                ok = not o.is_live
            if not ok or (at_venue is not None and at_venue.filled != o.filled):
                where = "never received" if at_venue is None else f"{at_venue.state} {at_venue.filled}"
                r.disagreements.append(f"{o.client_id}: engine {o.status} {o.filled}, venue {where}")
        engine_qty = self.engine.instruments[self.engine.symbol].position.qty
        r.position = (engine_qty, (await venue.positions()).get(self.engine.symbol, 0))


def run_mix(mix: Mix, seed: int, submissions: int, engine: type[Engine] = Engine) -> Result:
    """One mix and seed until the venue was sent `submissions` orders, then the calm; its figures."""
    return asyncio.run(Campaign(mix, seed, submissions, engine=engine).run())
