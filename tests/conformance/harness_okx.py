"""The OKX simulator (spot, and the BTC-USDT-SWAP perpetual) for the conformance suite: HTTP faults on
OKX's order path, the public and private WebSockets, `cancel-all-after` as the dead-man switch, and a
tightened timestamp window so that a 2 s clock step is refused (OKX's own window is 30 s; the simulator's
`time_window_ms` makes it testable)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from tests.conformance.harness import WALL, HttpHarness, Live, Traits, started
from trader.clock import Clock
from trader.core import Approval, Side
from trader.venues.base import Stream

SYMBOLS = {"spot": "BTC-USDT", "swap": "BTC-USDT-SWAP"}


class OkxHarness(HttpHarness):
    DEAD_MAN = "POST /api/v5/trade/cancel-all-after"
    STREAM_PATHS: ClassVar[dict[Stream, tuple[str, ...]]] = {
        Stream.MARKET: ("/ws/v5/public",),
        Stream.PRIVATE: ("/ws/v5/private",),
    }
    clock_error = "50102"  # Timestamp request expired
    rest_ticks, take_ticks, rest_lots, take_lots = 50, 20, 10, 5

    def __init__(self, market: str = "spot") -> None:
        self.venue, self.market = "okx", market
        self.id = "okx" if market == "spot" else f"okx-{market}"
        self.symbol = SYMBOLS[market]
        self.order_path = "POST /api/v5/trade/order"
        self.traits = Traits(ban="OKX throttles with 50011 / HTTP 429; it has no 418 ban")

    def unconnected(self) -> Any:
        from trader.venues.registry import loopback_connector

        return loopback_connector(
            "http://127.0.0.1:9", symbol=self.symbol, clock=WALL, venue="okx", market=self.market
        )

    def connector(self, url: str, clock: Clock, **options: Any) -> Any:
        from trader.venues.registry import loopback_connector

        return loopback_connector(
            url, symbol=self.symbol, clock=clock, venue="okx", market=self.market, **options
        )

    @asynccontextmanager
    async def open(self, clock: Clock = WALL, connected: bool = True, **options: Any) -> AsyncIterator[Live]:
        from trader.venues import registry

        async def live_of(server: Any, conn: Any) -> Live:
            return Live(server, conn, self.symbol, (await conn.instrument_info(self.symbol)).spec(), clock)

        server = registry.simulator(
            "okx", seed=13, clock=WALL, step_ms=20, time_window_ms=1000, dead_man_min_s=1
        )
        factory = lambda s: self.connector(s.url, clock, **options)  # noqa: E731
        async with started(server, factory, live_of, connected) as live:
            yield live

    async def refused_order(self, live: Live, top: tuple[int, int]) -> Approval:
        """A buy the demo account cannot pay for: on the swap (10x margin) ten times the spot's size."""
        scale = 100_000 if self.market == "spot" else 1_000_000
        return self.approve(live, Side.BUY, self.rest_price(live, top), self.rest_qty(live) * scale)

    def _faults(self, live: Live, **kw: Any) -> None:
        from trader.sim.faults import Faults

        kw.setdefault("paths", live.server.faults.paths)
        live.server.faults = Faults(**kw)

    def clear_faults(self, live: Live) -> None:
        from trader.sim.faults import Faults

        live.server.faults = Faults(paths=("POST /api/v5/trade/order", "POST /api/v5/trade/cancel-order"))

    def gap(self, live: Live) -> None:
        self._faults(live, sequence_gap=True)

    def snapshots(self, live: Live) -> int:
        return int(live.server.book_snapshots)

    def time_syncs(self, live: Live) -> int:
        return int(live.server.requests["GET /api/v5/public/time"])

    def dead_man_options(self) -> dict[str, Any]:
        return {"dead_man_s": 2, "dead_man_refresh_s": 1.0}  # OKX: one cancel-all-after per second

    def dead_man_armed(self, live: Live) -> bool:
        return bool(live.server.state()["dead_man"]["armed"])
