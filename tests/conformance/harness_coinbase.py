"""The Coinbase Advanced Trade simulator for the conformance suite: HTTP faults on `POST /orders`, the
market WebSocket (`/ws/market`: level2 with sequence numbers, market_trades, heartbeats) and the user one
(`/ws/user`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from tests.conformance.harness import WALL, HttpHarness, Live, Traits, started
from trader.clock import Clock
from trader.venues.base import Stream

SYMBOL = "BTC-USD"


class CoinbaseHarness(HttpHarness):
    """BTC-USD on the simulator's demo key: prices in cents, sizes in satoshi (0.001 BTC is 100,000 lots)."""

    clock_error = "Unauthorized"  # 401: the JWT is outside its nbf..exp window
    resigns_after_clock_error = True  # the connector measures the clock again and signs once more
    rate_window_per_second = True  # 30 private requests per key per second (x-ratelimit-* headers)
    rest_ticks, take_ticks, rest_lots, take_lots = 300, 50, 100_000, 50_000
    STREAM_PATHS: ClassVar[dict[Stream, tuple[str, ...]]] = {
        Stream.MARKET: ("/ws/market",),
        Stream.PRIVATE: ("/ws/user",),
    }

    def __init__(self) -> None:
        self.id = self.venue = "coinbase"
        self.market = "spot"
        self.order_path = "POST /api/v3/brokerage/orders"
        self.traits = Traits(
            ban="Coinbase answers 429 only; it has no ban (418)",
        )

    def unconnected(self) -> Any:
        from trader.venues.coinbase import loopback_connector

        return loopback_connector("http://127.0.0.1:9", symbols=[SYMBOL], clock=WALL)

    def connector(self, url: str, clock: Clock, **options: Any) -> Any:
        from trader.venues.coinbase import loopback_connector

        return loopback_connector(url, symbols=[SYMBOL], clock=clock, **options)

    @asynccontextmanager
    async def open(self, clock: Clock = WALL, connected: bool = True, **options: Any) -> AsyncIterator[Live]:
        from trader.sim.coinbase import CoinbaseSimServer

        async def live_of(server: Any, conn: Any) -> Live:
            return Live(server, conn, SYMBOL, (await conn.instrument_info(SYMBOL)).spec(), clock)

        factory = lambda s: self.connector(s.url, clock, **options)  # noqa: E731
        async with started(CoinbaseSimServer(seed=13, step_ms=20), factory, live_of, connected) as live:
            yield live

    def gap(self, live: Live) -> None:
        self._faults(live, sequence_gap=True)

    def time_syncs(self, live: Live) -> int:
        return int(live.server.requests["GET /api/v3/brokerage/time"])

    def snapshots(self, live: Live) -> int:
        return int(live.server.snapshots)

    def engine_limits(self, live: Live) -> dict[str, Any]:
        return {
            "symbol": SYMBOL,
            "collar_bps": 500,
            "max_order_qty": "0.002",
            "max_position": "0.01",
            "max_order_notional": "1000",
            "venue_max_gross_notional": "100000",
        }
