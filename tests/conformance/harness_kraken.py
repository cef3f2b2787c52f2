"""The Kraken spot simulator in the conformance suite (REST `/0/...`, WebSocket v2 `/v2`, `/ws-auth/v2`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, ClassVar

from tests.conformance.harness import WALL, HttpHarness, Live, Traits, started
from trader.clock import Clock
from trader.venues.base import Stream


class KrakenHarness(HttpHarness):
    """XBT/USD on the Kraken simulator, the demo key."""

    DEAD_MAN = "POST /0/private/CancelAllOrdersAfter"
    STREAM_PATHS: ClassVar[dict[Stream, tuple[str, ...]]] = {
        Stream.MARKET: ("/v2",),
        Stream.PRIVATE: ("/ws-auth/v2",),
    }
    rest_ticks, take_ticks, rest_lots, take_lots = 500, 50, 100_000, 50_000  # 0.001 / 0.0005 XBT

    def __init__(self) -> None:
        self.id = self.venue = "kraken"
        self.market = "spot"
        self.order_path = "POST /0/private/AddOrder"
        self.traits = Traits(
            rate_limit="Kraken states rate limits in its JSON body (EAPI:Rate limit exceeded), not as HTTP "
            "429 with Retry-After",
            ban="Kraken has no HTTP 418 ban (a temporary lockout is EGeneral:Temporary lockout)",
            clock_window="Kraken's private requests carry a nonce, not a timestamp with a receive window",
            sequenced_book="the WebSocket v2 book has no sequence numbers: a CRC32 checksum on every message "
            "(its mismatch is tested in tests/venues/kraken)",
        )

    def unconnected(self) -> Any:
        from trader.venues.kraken import loopback_connector

        return loopback_connector("http://127.0.0.1:9", symbols=["XBTUSD"], clock=WALL)

    def connector(self, url: str, clock: Clock, **options: Any) -> Any:
        from trader.venues.kraken import loopback_connector

        return loopback_connector(url, symbols=["XBTUSD"], clock=clock, **options)

    @asynccontextmanager
    async def open(self, clock: Clock = WALL, connected: bool = True, **options: Any) -> AsyncIterator[Live]:
        from trader.sim.kraken import KrakenSimServer

        async def live_of(server: Any, conn: Any) -> Live:
            return Live(server, conn, "XBTUSD", (await conn.instrument_info("XBTUSD")).spec(), clock)

        factory = lambda s: self.connector(s.url, clock, **options)  # noqa: E731
        async with started(
            KrakenSimServer(seed=13, step_ms=20, coins=Decimal(0)), factory, live_of, connected
        ) as live:
            yield live

    def engine_limits(self, live: Live) -> dict[str, Any]:
        return {
            "symbol": "XBTUSD",
            "collar_bps": 500,
            "max_order_qty": "0.01",
            "max_position": "0.02",
            "max_order_notional": "1000",
            "venue_max_gross_notional": "100000",
        }

    def dead_man_options(self) -> dict[str, Any]:
        return {"dead_man_s": 1, "dead_man_refresh_s": 0.1}

    def dead_man_armed(self, live: Live) -> bool:
        from trader.sim.kraken import DEMO_KEY

        return bool(live.server.state()["accounts"][DEMO_KEY]["dead_man"]["armed"])
