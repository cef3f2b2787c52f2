"""The Bybit v5 simulator for the conformance suite: spot, and linear perpetuals (`bybit-linear`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from tests.conformance.harness import WALL, HttpHarness, Live, Traits, started
from trader.clock import Clock
from trader.core import Approval, Side
from trader.venues.base import Stream


class BybitHarness(HttpHarness):
    """Bybit on its simulator, one category: spot (0.01 tick, lot 0.000001 BTC) or linear (0.10 tick,
    lot 0.001 BTC)."""

    rest_ticks, take_ticks, rest_lots, take_lots = 5000, 2000, 2000, 1000
    refused_qty = 70_000_000  # spot: 70 BTC (under the 71.7 BTC maximum) costs more than the account holds
    STREAM_PATHS: ClassVar[dict[Stream, tuple[str, ...]]] = {
        Stream.MARKET: ("/v5/public/",),
        Stream.PRIVATE: ("/v5/private",),
    }
    clock_error = "10002"  # the request time exceeds the time window

    def __init__(self, market: str = "spot") -> None:
        self.venue = "bybit"
        self.id = "bybit" if market == "spot" else f"bybit-{market}"
        self.market = market
        if market == "linear":
            self.rest_ticks, self.take_ticks, self.rest_lots, self.take_lots = 500, 200, 10, 5
            self.refused_qty = 1_000_000  # 1000 BTC: its margin at 10x is more than the account holds
        self.order_path = "POST /v5/order/create"
        self.traits = Traits(
            ban="Bybit answers IP breaches with HTTP 403 and UID breaches with 10006: no 418 ban"
        )

    def unconnected(self) -> Any:
        from trader.venues.bybit import loopback

        return loopback("http://127.0.0.1:9", symbol="BTCUSDT", clock=WALL, category=self.market)

    def connector(self, url: str, clock: Clock, **options: Any) -> Any:
        from trader.venues.bybit import loopback

        return loopback(
            url, symbol="BTCUSDT", clock=clock, **({"poll_s": 0.1, "category": self.market} | options)
        )

    @asynccontextmanager
    async def open(self, clock: Clock = WALL, connected: bool = True, **options: Any) -> AsyncIterator[Live]:
        from trader.sim.bybit import BybitSimServer

        async def live_of(server: Any, conn: Any) -> Live:
            return Live(server, conn, "BTCUSDT", (await conn.instrument_info("BTCUSDT")).spec(), clock)

        factory = lambda s: self.connector(s.url, clock, **options)  # noqa: E731
        async with started(
            BybitSimServer(seed=11, step_ms=20, clock=WALL), factory, live_of, connected
        ) as live:
            yield live

    async def refused_order(self, live: Live, top: tuple[int, int]) -> Approval:
        """A buy under the order maximum that costs (spot) or margins (linear) more than the account holds."""
        return self.approve(live, Side.BUY, self.rest_price(live, top), self.refused_qty)

    def gap(self, live: Live) -> None:
        self._faults(live, sequence_gap=True)

    def snapshots(self, live: Live) -> int:
        return int(live.server.snapshots)

    def time_syncs(self, live: Live) -> int:
        return int(live.server.requests["GET /v5/market/time"])

    def engine_limits(self, live: Live) -> dict[str, Any]:
        return {"symbol": "BTCUSDT", "collar_bps": 500, "max_order_qty": "0.1", "max_position": "0.2"}
