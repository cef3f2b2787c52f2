"""Small strategies and an engine runner for the cases that go through the Engine (fills before acks,
duplicate fills, quotes pulled on an invalid book, restart reconciliation)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tests.conformance.harness import WALL, Harness, Live, until
from trader.core import Side
from trader.engine.engine import Engine, EngineConfig
from trader.engine.journal import Journal
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place


class Idle:
    """Does nothing on any callback."""

    name = "idle"

    def on_book(self, top: BookTop) -> list[Intent]:
        return []

    def on_order(self, order: OwnOrder) -> list[Intent]:
        return []

    def on_fill(self, fill: OwnFill) -> list[Intent]:
        return []

    def on_trade(self, trade: Any) -> list[Intent]:
        return []

    def on_timer(self, now_ns: int) -> list[Intent]:
        return []

    def on_denied(self, place: Place, reason: str) -> list[Intent]:
        return []


class TakeOnce(Idle):
    """Buys `qty` once with a limit `ticks` through the ask, then does nothing."""

    name = "take"

    def __init__(self, instrument: str, qty: int, ticks: int) -> None:
        self.instrument, self.qty, self.ticks, self.sent = instrument, qty, ticks, False

    def on_book(self, top: BookTop) -> list[Intent]:
        if self.sent or top.ask is None or top.instrument != self.instrument:
            return []
        self.sent = True
        return [Place(self.instrument, Side.BUY, top.ask + self.ticks, self.qty, post_only=False)]


class RestOne(Idle):
    """Keeps one buy `ticks` below the bid while the book is valid; pulls it when the book is not."""

    name = "rest"

    def __init__(self, instrument: str, qty: int, ticks: int) -> None:
        self.instrument, self.qty, self.ticks = instrument, qty, ticks
        self.resting: str | None = None
        self.placed = False
        self.pulled = 0

    def on_book(self, top: BookTop) -> list[Intent]:
        if top.instrument != self.instrument:
            return []
        if top.bid is None or top.ask is None:
            if self.resting is None:
                return []
            self.pulled += 1
            client_id, self.resting = self.resting, None
            return [Cancel(client_id)]
        if self.placed:
            return []
        self.placed = True
        return [Place(self.instrument, Side.BUY, top.bid - self.ticks, self.qty, post_only=False)]

    def on_order(self, order: OwnOrder) -> list[Intent]:
        if self.placed and self.resting is None and self.pulled == 0:
            self.resting = order.client_id
        return []


async def stop_after_fill(e: Engine, settle_s: float = 0.2) -> None:
    """Let the engine run until its first fill (and `settle_s` more), then stop it."""
    await until(lambda: e.summary.fills >= 1, timeout=5.0, what="a fill")
    await WALL.sleep(settle_s)
    e.stop()


def engine(h: Harness, live: Live, conn: Any, strategy: Any, journal: Journal, **limits: Any) -> Engine:
    config = EngineConfig(**{**h.engine_limits(live), **limits})
    return Engine(conn, strategy, journal=journal, clock=live.clock, config=config)


async def run_engine(
    e: Engine, seconds: float, during: Callable[[Engine], Awaitable[None]] | None = None
) -> Engine:
    task = asyncio.get_running_loop().create_task(e.run(seconds))
    try:
        if during is not None:
            await during(e)
    finally:
        await task
    return e
