"""One harness per venue for the conformance suite: how to start the venue's simulator on loopback, build
the connector on it, trade on it and cause each fault. The cases (`test_*.py` next to this file) are
written once against `Harness` and run for every venue:

    binance-spot, binance-futures, binance-margin   the Binance simulator, one market each
    sim                                             the built-in venue (the Binance protocol, named "sim")
    polymarket, alpaca, ibkr                        each venue's own simulator

Each case names the capabilities it needs (`Need`); `cases.py` turns a (case, venue) pair the venue
cannot run into an `n/a` test that asserts the lack. What a venue offers is read from its `Capabilities`
(the venue package's PROFILE, or the connector while there is none: `PROFILE PLUG-IN` below, the one place)
plus a few facts `Capabilities` does not hold yet (`Traits`, each with its reason).

Simulator attributes and hooks used (public names only): `start(port=0)`, `stop()`, `url`, `port`,
`requests`, `faults` (a `trader.sim.faults.Faults`), `sockets`, `close_sockets()`, `drop_streams(*paths)`,
`state()`; Binance: `ban(seconds)`; Polymarket: `markets`, `heartbeat_timeout_ms=`; Alpaca: `clock=`;
IBKR: `drop_farm()`, `restore_farm(data_lost)`, `drop_connections()`, `state()["accounts"|"clients"]`.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tests.helpers import gate_approval
from trader.clock import Clock, LiveClock
from trader.core import Approval, InstrumentSpec, OrderType, Side, TimeInForce
from trader.venues.base import BookUpdate, Capabilities, Stream, VenueEvent
from trader.venues.profile import VenueProfile

WALL = LiveClock()


class SteppedClock(LiveClock):
    """Wall time plus `step_ns`: an NTP step of the host clock."""

    def __init__(self) -> None:
        self.step_ns = 0

    def now_ns(self) -> int:
        return super().now_ns() + self.step_ns


# ---- what a case needs ---------------------------------------------------------------------------------


class Need(enum.StrEnum):
    LIMIT = "limit orders resting (GTC)"
    POST_ONLY = "post-only limit orders"
    IOC = "immediate-or-cancel orders"
    MARKET = "market orders"
    CANCEL_ALL = "cancel-all"
    DEAD_MAN = "a venue dead-man switch"
    LOST_ANSWER = "order requests whose answer can be lost after the venue acted (timeout, dropped socket)"
    SERVER_ERROR = "order requests the venue can fail before acting (HTTP 5xx)"
    LATE_ACK = "order acknowledgements that can arrive after the order's fills"
    RATE_LIMIT = "venue rate limits answered with 429 and Retry-After"
    BAN = "a venue ban (418) after rate-limit violations"
    CLOCK_WINDOW = "signed requests the venue refuses outside a time window"
    SEQUENCED_BOOK = "a depth feed with sequence numbers (a gap is detectable)"
    STALE_FEED = "a market-data feed that can go silent or be lost"


@dataclass(frozen=True)
class Traits:
    """What the suite needs to know beyond `Capabilities` (each False names why)."""

    lost_answer: str = ""  # "" when the order path can lose an answer; else why not
    server_error: str = ""
    late_ack: str = ""
    rate_limit: str = ""
    ban: str = ""
    clock_window: str = ""
    sequenced_book: str = ""
    stale_feed: str = ""


def _from_capabilities(caps: Capabilities, need: Need) -> str:
    """'' when `caps` offer `need`, else the reason (None when `Capabilities` does not say)."""
    verdicts = {
        Need.LIMIT: ("LIMIT" in caps.order_types and "GTC" in caps.time_in_force, "no GTC limit orders"),
        Need.POST_ONLY: (caps.post_only, "capabilities.post_only is False"),
        Need.IOC: ("IOC" in caps.time_in_force, "IOC is not in capabilities.time_in_force"),
        Need.MARKET: ("MARKET" in caps.order_types, "MARKET is not in capabilities.order_types"),
        Need.CANCEL_ALL: (caps.cancel_all, "capabilities.cancel_all is False"),
        Need.DEAD_MAN: (caps.dead_man_switch, "capabilities.dead_man_switch is False"),
    }
    ok, why = verdicts[need]
    return "" if ok else why


def lacks(caps: Capabilities, traits: Traits, need: Need) -> str:
    """Why a venue with `caps` and `traits` cannot run a case that needs `need` ('' when it can)."""
    by_trait = {
        Need.LOST_ANSWER: traits.lost_answer,
        Need.SERVER_ERROR: traits.server_error,
        Need.LATE_ACK: traits.late_ack,
        Need.RATE_LIMIT: traits.rate_limit,
        Need.BAN: traits.ban,
        Need.CLOCK_WINDOW: traits.clock_window,
        Need.SEQUENCED_BOOK: traits.sequenced_book,
        Need.STALE_FEED: traits.stale_feed,
    }
    if need in by_trait:
        return by_trait[need]
    return _from_capabilities(caps, need)


# ---- a running venue -------------------------------------------------------------------------------------


@dataclass
class Live:
    """A simulator and a connected connector on it."""

    server: Any
    conn: Any
    symbol: str
    spec: InstrumentSpec
    clock: Clock
    extra: dict[str, Any] = field(default_factory=dict)


async def next_event(
    conn: Any, match: Callable[[VenueEvent], bool], timeout: float = 5.0
) -> Any:  # the first event that matches (earlier ones are dropped)
    async def wait() -> Any:
        async for ev in conn.events():
            if match(ev):
                return ev
        raise AssertionError("stream ended")

    return await LiveClock().wait_for(wait(), timeout)


async def until(cond: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = WALL.monotonic_ns() + int(timeout * 1e9)
    while not cond():
        if WALL.monotonic_ns() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await WALL.sleep(0.02)


class Harness:
    """The suite's view of one venue (one market of it). Subclasses fill in the venue's specifics."""

    id: str = ""
    venue: str = ""
    market: str = "spot"  # the key of the venue profile's `capabilities`
    traits: Traits = Traits()
    rest_ticks = 50  # how far below the bid a resting buy goes
    take_ticks = 20  # how far through the ask a marketable buy goes
    rest_lots = 10
    take_lots = 5
    clock_error = ""  # what the venue's refusal of a request stamped outside its window contains
    resigns_after_clock_error = False  # True: a refused request is signed again once, the clock re-measured
    # the venue's request budget is per key and per wall-clock second, shared by every session of the key:
    # a process restarted within the same second inherits the last one's usage (and our limiter, fed
    # the venue's usage headers, refuses an order over it). A restart case starts the next process in
    # the next second, as a real restart would.
    rate_window_per_second = False
    collar_bps = 9000  # the test gate's collar: a market order's protective price is the reference +- it

    # -- identity and capabilities (PROFILE PLUG-IN: see `capabilities`) --

    def unconnected(self) -> Any:
        """A connector built on a dead loopback address (never connected): its capabilities only."""
        raise NotImplementedError

    def profile(self) -> VenueProfile:
        """The venue package's `PROFILE`, through the registry."""
        from trader.venues import registry

        return registry.profile(self.venue)

    def capabilities(self) -> Capabilities:
        # The one place the suite learns what a venue offers: its profile (per market where it has several);
        # `test_capabilities.py` holds the profile and the connector equal. What `Capabilities` does not
        # state stays in `traits`, each with its reason.
        caps = self.profile().capabilities
        if self.market in caps:
            return caps[self.market]
        (only,) = caps.values()
        return only

    def lacks(self, need: Need) -> str:
        return lacks(self.capabilities(), self.traits, need)

    # -- lifecycle --

    def open(self, **options: Any) -> Any:
        """`async with h.open(**connector_options) as live:` a started simulator and a connected connector."""
        raise NotImplementedError

    def connect_again(self, live: Live, **options: Any) -> Any:
        """A second connector on the same simulator and account (not yet connected)."""
        raise NotImplementedError

    # -- orders --

    def approve(
        self,
        live: Live,
        side: Side,
        price: int,
        qty: int,
        *,
        ref: tuple[int, int] | None = None,
        order_type: OrderType = OrderType.LIMIT,
        tif: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
    ) -> Approval:
        bid, ask = ref if ref is not None else (price, price + live.spec.tick)
        return gate_approval(
            live.spec, live.symbol, side, 0 if order_type is OrderType.MARKET else price, qty,
            bid=bid, ask=ask, now_ns=live.clock.now_ns(), order_type=order_type, tif=tif,
            post_only=post_only, collar_bps=self.collar_bps,
        )  # fmt: skip

    async def top(self, live: Live, conn: Any = None) -> tuple[int, int]:
        """A valid top of book from the stream of `conn` (the live connector by default): (bid, ask)."""
        ev = await next_event(
            conn or live.conn,
            lambda e: (
                isinstance(e, BookUpdate) and e.instrument == live.symbol and None not in (e.bid, e.ask)
            ),
            timeout=10,
        )
        return ev.bid, ev.ask

    def rest_price(self, live: Live, top: tuple[int, int], k: int = 0) -> int:
        return top[0] - (self.rest_ticks + k) * live.spec.tick

    def take_price(self, live: Live, top: tuple[int, int]) -> int:
        return top[1] + self.take_ticks * live.spec.tick

    def rest_qty(self, live: Live) -> int:
        return live.spec.lot * self.rest_lots

    def take_qty(self, live: Live) -> int:
        return live.spec.lot * self.take_lots

    def max_buy_fill(self, qty: int, limit: int, fill_prices: list[int]) -> int:
        """The most a buy of `qty` limited at `limit` may fill (the order's quantity on most venues)."""
        return qty

    async def provide_liquidity(self, live: Live, top: tuple[int, int]) -> None:
        """Make sure a marketable buy of `take_qty` at `take_price` fills (most venues: the background)."""

    async def refused_order(self, live: Live, top: tuple[int, int]) -> Approval:
        """An order this venue refuses for good (after any setup it needs): by default a buy far beyond
        what the demo account can pay for."""
        return self.approve(live, Side.BUY, self.rest_price(live, top), self.rest_qty(live) * 100_000)

    def order_requests(self, live: Live) -> int:
        """How many order submissions the simulator received."""
        raise NotImplementedError

    async def position(self, live: Live, conn: Any = None) -> int:
        return int((await (conn or live.conn).positions()).get(live.symbol, 0))

    async def probe_position(self, live: Live) -> int:
        """The position, read on a connector of its own (when the live one belongs to an engine)."""
        conn = self.connect_again(live)
        try:
            await conn.connect()
            return await self.position(live, conn)
        finally:
            await conn.close()

    def engine_limits(self, live: Live) -> dict[str, Any]:
        """EngineConfig fields for a small test engine on this venue."""
        return {"symbol": live.symbol, "collar_bps": 500, "max_order_qty": "1", "max_position": "1"}

    # -- faults (only those the venue's traits admit are called) --

    def drop_order_responses(self, live: Live) -> None:
        raise NotImplementedError

    def fail_orders_5xx(self, live: Live) -> None:
        raise NotImplementedError

    def delay_order_acks(self, live: Live, ms: int) -> None:
        raise NotImplementedError

    def rate_limit_orders(self, live: Live) -> None:
        raise NotImplementedError

    def clear_faults(self, live: Live) -> None:
        raise NotImplementedError

    def ban(self, live: Live) -> None:
        raise NotImplementedError

    def requests_total(self, live: Live) -> int:
        raise NotImplementedError

    async def cut_streams(self, live: Live) -> None:
        raise NotImplementedError

    def streams(self, live: Live) -> int:
        """How many stream connections (WebSocket, or API sessions) the simulator holds open now."""
        raise NotImplementedError

    shared_session = False  # True when one connection carries both streams (dropping one drops both)

    async def drop_stream(self, live: Live, stream: Stream) -> None:
        """Cut the connection of one of the connector's streams at the simulator, as the network would."""
        raise NotImplementedError

    def go_stale(self, live: Live) -> None:
        raise NotImplementedError

    def come_back(self, live: Live) -> None:
        raise NotImplementedError

    def stale_options(self) -> dict[str, Any]:
        """Connector options for the stale-feed case (a short silence threshold)."""
        return {}

    # the sequenced book
    def gap(self, live: Live) -> None:
        raise NotImplementedError

    def snapshots(self, live: Live) -> int:
        raise NotImplementedError

    # the clock window
    def time_syncs(self, live: Live) -> int:
        raise NotImplementedError

    # the dead-man switch
    def dead_man_options(self) -> dict[str, Any]:
        return {}

    def dead_man_armed(self, live: Live) -> bool:
        raise NotImplementedError

    def dead_man_refreshes(self, live: Live) -> int:
        raise NotImplementedError

    def stop_dead_man_refreshes(self, live: Live) -> None:
        raise NotImplementedError


@asynccontextmanager
async def started(
    server: Any, conn_factory: Callable[[Any], Any], live_of: Any, connected: bool = True
) -> AsyncIterator[Live]:
    """Start `server`, connect the connector `conn_factory(server)` builds, yield `live_of(server, conn)`.
    With `connected=False` the live connector is a fresh one, never connected (for an engine to connect),
    and the instrument's spec comes from a first connection made and closed here."""
    await server.start(port=0)
    conn = None
    try:
        conn = conn_factory(server)
        await conn.connect()
        live = await live_of(server, conn)
        if not connected:
            await conn.close()
            conn = None
            live.conn = conn_factory(server)
        yield live
    finally:
        if conn is not None:
            await conn.close()
        await server.stop()


# ---- venues on HTTP simulators (`trader.sim.server.VenueServer`: `faults`, `requests`, `sockets`) --------


class HttpHarness(Harness):
    """What the three HTTP simulators share: faults on a path (`trader.sim.faults.Faults`), request
    counts, WebSocket streams."""

    order_path = ""  # "METHOD /path" of order submission
    DEAD_MAN = ""  # "METHOD /path" that arms or refreshes the dead-man switch
    STREAM_PATHS: ClassVar[dict[Stream, tuple[str, ...]]] = {}  # the WebSocket paths of each stream

    def connector(self, url: str, clock: Clock, **options: Any) -> Any:
        raise NotImplementedError

    def connect_again(self, live: Live, **options: Any) -> Any:
        return self.connector(live.server.url, live.clock, **options)

    def order_requests(self, live: Live) -> int:
        return int(live.server.requests[self.order_path])

    def _faults(self, live: Live, **kw: Any) -> None:
        from trader.sim.faults import Faults

        live.server.faults = Faults(**kw)

    def drop_order_responses(self, live: Live) -> None:
        self._faults(live, paths=(self.order_path,), drop_response_rate=1.0)

    def fail_orders_5xx(self, live: Live) -> None:
        self._faults(live, paths=(self.order_path,), error_5xx_rate=1.0)

    def delay_order_acks(self, live: Live, ms: int) -> None:
        self._faults(live, paths=(self.order_path,), ack_delay_ms=ms)

    def rate_limit_orders(self, live: Live) -> None:
        self._faults(live, paths=(self.order_path,), rate_429_rate=1.0)

    def clear_faults(self, live: Live) -> None:
        self._faults(live)

    def requests_total(self, live: Live) -> int:
        return sum(live.server.requests.values())

    async def cut_streams(self, live: Live) -> None:
        await live.server.close_sockets()

    def streams(self, live: Live) -> int:
        return sum(not ws.closed for ws in live.server.sockets)

    async def drop_stream(self, live: Live, stream: Stream) -> None:
        assert live.server.drop_streams(*self.STREAM_PATHS[stream]) >= 1, f"no {stream} connection to cut"

    def go_stale(self, live: Live) -> None:
        self._faults(live, stale_feed=True)

    def come_back(self, live: Live) -> None:
        self._faults(live)

    def stale_options(self) -> dict[str, Any]:
        return {"stale_after_s": 0.3}

    def dead_man_refreshes(self, live: Live) -> int:
        return int(live.server.requests[self.DEAD_MAN])

    def stop_dead_man_refreshes(self, live: Live) -> None:
        self._faults(live, paths=(self.DEAD_MAN,), error_5xx_rate=1.0)


# ---- Binance (spot, futures, margin) and the built-in `sim` venue -------------------------------------


class BinanceHarness(HttpHarness):
    """The Binance simulator, one market; `venue="sim"` is the built-in venue (the same protocol)."""

    ORDER: ClassVar[dict[str, str]] = {
        "spot": "/api/v3/order",
        "futures": "/fapi/v1/order",
        "margin": "/sapi/v1/margin/order",
    }
    TIME: ClassVar[dict[str, str]] = {
        "spot": "/api/v3/time",
        "futures": "/fapi/v1/time",
        "margin": "/api/v3/time",
    }
    DEPTH: ClassVar[dict[str, str]] = {
        "spot": "/api/v3/depth",
        "futures": "/fapi/v1/depth",
        "margin": "/api/v3/depth",
    }
    DEAD_MAN = "POST /fapi/v1/countdownCancelAll"
    STREAM_PATHS: ClassVar[dict[Stream, tuple[str, ...]]] = {
        Stream.MARKET: ("/ws/", "/stream", "/public/", "/market/"),
        Stream.PRIVATE: ("/ws-api/", "/private/", "/ws-fapi/"),  # spot/margin: the WebSocket API
    }
    clock_error = "1021"  # -1021: timestamp outside recvWindow

    def __init__(self, market: str = "spot", venue: str = "binance") -> None:
        self.market, self.venue = market, venue
        self.id = venue if venue == "sim" else f"binance-{market}"
        self.order_path = f"POST {self.ORDER[market]}"
        self.traits = Traits()

    def unconnected(self) -> Any:
        from trader.venues.registry import loopback_connector

        return loopback_connector(
            "http://127.0.0.1:9", symbol="BTCUSDT", clock=WALL, venue=self.venue, market=self.market
        )

    def server(self, **kw: Any) -> Any:
        from trader.venues import registry

        return registry.simulator(self.venue, seed=11, clock=WALL, step_ms=20, **kw)

    def connector(self, url: str, clock: Clock, **options: Any) -> Any:
        from trader.venues.registry import loopback_connector

        return loopback_connector(
            url, symbol="BTCUSDT", clock=clock, venue=self.venue, market=self.market, **options
        )

    @asynccontextmanager
    async def open(self, clock: Clock = WALL, connected: bool = True, **options: Any) -> AsyncIterator[Live]:
        async def live_of(server: Any, conn: Any) -> Live:
            return Live(server, conn, "BTCUSDT", (await conn.instrument_info("BTCUSDT")).spec(), clock)

        factory = lambda s: self.connector(s.url, clock, **options)  # noqa: E731
        async with started(self.server(), factory, live_of, connected) as live:
            yield live

    def ban(self, live: Live) -> None:
        live.server.ban(seconds=60)

    def gap(self, live: Live) -> None:
        self._faults(live, sequence_gap=True)

    def snapshots(self, live: Live) -> int:
        return int(live.server.requests[f"GET {self.DEPTH[self.market]}"])

    def time_syncs(self, live: Live) -> int:
        return int(live.server.requests[f"GET {self.TIME[self.market]}"])

    def dead_man_options(self) -> dict[str, Any]:
        return {"dead_man_ms": 600, "dead_man_refresh_s": 0.1}

    def dead_man_armed(self, live: Live) -> bool:
        from trader.venues.registry import SIM_API_KEY

        return bool(live.server.state()[SIM_API_KEY]["futures"]["countdown"]["armed"])


# ---- Polymarket -------------------------------------------------------------------------------------------


class PolymarketHarness(HttpHarness):
    """The Polymarket CLOB simulator (its background market gives the first market's YES token a book);
    HTTP faults as on Binance, on Polymarket's paths."""

    DEAD_MAN = "POST /v1/heartbeats"
    STREAM_PATHS: ClassVar[dict[Stream, tuple[str, ...]]] = {
        Stream.MARKET: ("/ws/market",),
        Stream.PRIVATE: ("/ws/user",),
    }
    rest_ticks, take_ticks = 10, 3
    collar_bps = 2000  # prices live in (0, 1)

    def __init__(self) -> None:
        self.id = self.venue = "polymarket"
        self.market = "spot"
        self.order_path = "POST /order"
        self.traits = Traits(
            ban="Polymarket throttles with 429 (Cloudflare queues first); it has no 418 ban",
            clock_window="L1/L2 signature timestamps are not refused by age (no receive window)",
            sequenced_book="the market channel has no sequence numbers (the book is checked against "
            "the venue's best bid/ask instead)",
        )

    @staticmethod
    def key(name: str = "conformance") -> str:
        import hashlib

        return "0x" + hashlib.sha256(f"polymarket-conformance/{name}".encode()).hexdigest()

    def unconnected(self) -> Any:
        from trader.venues.polymarket import Endpoints, PolymarketConnector

        return PolymarketConnector(
            condition_id="0x" + "00" * 32,
            private_key=self.key(),
            clock=WALL,
            endpoints=Endpoints.loopback("http://127.0.0.1:9"),
        )

    def _build(self, url: str, extra: dict[str, Any], clock: Clock, **options: Any) -> Any:
        from trader.venues.polymarket import Endpoints, PolymarketConnector

        return PolymarketConnector(
            condition_id=extra["condition_id"],
            private_key=self.key(),
            clock=clock,
            endpoints=Endpoints.loopback(url),
            **{**extra["options"], **options},
        )

    def connect_again(self, live: Live, **options: Any) -> Any:
        return self._build(live.server.url, live.extra, live.clock, **options)

    @asynccontextmanager
    async def open(self, clock: Clock = WALL, connected: bool = True, **options: Any) -> AsyncIterator[Live]:
        from trader.sim.polymarket import PolymarketSimServer

        server = PolymarketSimServer(seed=5, step_ms=20, heartbeat_timeout_ms=600)
        extra = {"condition_id": next(iter(server.markets.values())).condition_id, "options": options}

        async def live_of(server: Any, conn: Any) -> Live:
            symbol = conn.symbols[0]
            return Live(server, conn, symbol, (await conn.instrument_info(symbol)).spec(), clock, extra)

        factory = lambda s: self._build(s.url, extra, clock)  # noqa: E731
        async with started(server, factory, live_of, connected) as live:
            yield live

    def rest_price(self, live: Live, top: tuple[int, int], k: int = 0) -> int:
        return max(live.spec.tick * (1 + k), top[0] - (self.rest_ticks + k) * live.spec.tick)

    def take_price(self, live: Live, top: tuple[int, int]) -> int:
        return top[1] + self.take_ticks * live.spec.tick

    def rest_qty(self, live: Live) -> int:
        return int(live.spec.qty_to_units("10"))

    def take_qty(self, live: Live) -> int:
        return int(live.spec.qty_to_units("5"))

    def max_buy_fill(self, qty: int, limit: int, fill_prices: list[int]) -> int:
        # a FAK buy is an amount of collateral (qty x limit): at a better price it buys more shares
        return qty * limit // min(fill_prices)

    def engine_limits(self, live: Live) -> dict[str, Any]:
        return {
            "symbol": live.symbol,
            "collar_bps": 3000,
            "max_order_qty": "20",
            "max_order_notional": "20",
            "max_position": "50",
            "venue_max_gross_notional": "10000",
        }

    def dead_man_options(self) -> dict[str, Any]:
        return {"heartbeat_interval_s": 0.05, "heartbeat_timeout_s": 1.0}

    def dead_man_armed(self, live: Live) -> bool:
        keys = live.server.state()["keys"].values()
        return any(k["heartbeat"] for k in keys if k["address"].lower() == live.conn.address.lower())


# ---- Alpaca -----------------------------------------------------------------------------------------------


class AlpacaHarness(HttpHarness):
    """The Alpaca simulator inside regular trading hours (a clock fixed relative to a chosen Tuesday)."""

    rest_ticks, take_ticks, rest_lots, take_lots = 300, 20, 2, 5
    STREAM_PATHS: ClassVar[dict[Stream, tuple[str, ...]]] = {
        Stream.MARKET: ("/v2/",),  # the market-data stream, /v2/iex or /v2/sip
        Stream.PRIVATE: ("/stream",),  # trade_updates
    }

    def __init__(self) -> None:
        self.id = self.venue = "alpaca"
        self.market = "spot"
        self.order_path = "POST /v2/orders"
        self.traits = Traits(
            ban="Alpaca answers 429 only; it has no ban (418)",
            clock_window="Alpaca authenticates with key headers: requests carry no timestamp",
            sequenced_book="Alpaca's data stream sends quotes (top of book), not a sequenced depth feed",
        )

    def unconnected(self) -> Any:
        from trader.venues.alpaca import loopback_connector

        return loopback_connector("http://127.0.0.1:9", symbols=["SPY"], clock=WALL)

    def connector(self, url: str, clock: Clock, **options: Any) -> Any:
        from trader.venues.alpaca import loopback_connector

        return loopback_connector(url, symbols=["SPY"], clock=clock, **options)

    @asynccontextmanager
    async def open(
        self, clock: Clock | None = None, connected: bool = True, **options: Any
    ) -> AsyncIterator[Live]:
        from trader.clock import ShiftedClock
        from trader.sim.alpaca import AlpacaSimServer, eastern_ns

        venue_clock = ShiftedClock(eastern_ns(2024, 1, 9, 10, 0))  # a Tuesday, 10:00 in New York
        at = clock or venue_clock  # ours: the venue's, unless a case brings its own (a stepped host clock)

        async def live_of(server: Any, conn: Any) -> Live:
            return Live(server, conn, "SPY", (await conn.instrument_info("SPY")).spec(), at)

        factory = lambda s: self.connector(s.url, at, **options)  # noqa: E731
        server = AlpacaSimServer(seed=9, step_ms=20, clock=venue_clock)
        async with started(server, factory, live_of, connected) as live:
            yield live

    def engine_limits(self, live: Live) -> dict[str, Any]:
        return {
            "symbol": "SPY",
            "collar_bps": 500,
            "max_order_qty": "10",
            "max_position": "20",
            "max_order_notional": "10000",
            "venue_max_gross_notional": "100000",
        }


# ---- IBKR -------------------------------------------------------------------------------------------------


class IbkrHarness(Harness):
    """The IB Gateway simulator (the TWS socket protocol). Its faults: a lost data farm (1100/1102) and
    dropped connections; the socket has no HTTP responses to drop, fail or rate-limit."""

    id = venue = "ibkr"
    rest_ticks, take_ticks, rest_lots, take_lots = 50, 10, 10, 10
    traits = Traits(
        server_error="orders go over the TWS socket: there is no HTTP status, so no 5xx before the Gateway "
        "acts (a lost answer is a dropped socket, which is tested)",
        late_ack="the Gateway answers an order on the session in order (openOrder before its execDetails): "
        "there is no separate acknowledgement that fills can overtake",
        rate_limit="the TWS API paces messages (error 100, no 429 or Retry-After); the connector paces "
        "itself below the limit",
        ban="the TWS API has no ban",
        clock_window="the TWS session is not signed per request",
        sequenced_book="TWS depth rows carry no sequence numbers",
    )

    def unconnected(self) -> Any:
        from trader.venues.ibkr import IbkrConnector

        return IbkrConnector(instruments=["SPY"], clock=WALL, port=9, client_id=11)

    def connector(self, port: int, clock: Clock, **options: Any) -> Any:
        from trader.venues.ibkr import IbkrConnector

        opts = {"timeout_s": 2.0, "reconnect_delay_s": 0.05, "client_id": 11, **options}
        return IbkrConnector(instruments=["SPY"], clock=clock, port=port, **opts)

    @asynccontextmanager
    async def open(self, clock: Clock = WALL, connected: bool = True, **options: Any) -> AsyncIterator[Live]:
        from trader.sim.ibkr import IbkrSimServer

        async def live_of(server: Any, conn: Any) -> Live:
            return Live(server, conn, "SPY", (await conn.instrument_info("SPY")).spec(), clock)

        factory = lambda s: self.connector(s.port, clock, **options)  # noqa: E731
        async with started(IbkrSimServer(seed=3, step_ms=20), factory, live_of, connected) as live:
            yield live

    def connect_again(self, live: Live, **options: Any) -> Any:
        # another API client of the same account (one client id is one session at a time)
        return self.connector(live.server.port, live.clock, **{"client_id": 12, **options})

    def drop_order_responses(self, live: Live) -> None:
        from trader.sim.faults import Faults
        from trader.sim.ibkr.server import FAULT_PATHS

        live.server.faults = Faults(paths=FAULT_PATHS, drop_response_rate=1.0)

    def clear_faults(self, live: Live) -> None:
        from trader.sim.faults import Faults
        from trader.sim.ibkr.server import FAULT_PATHS

        live.server.faults = Faults(paths=FAULT_PATHS)

    def order_requests(self, live: Live) -> int:
        from trader.sim.ibkr import DEFAULT_ACCOUNT

        return len(live.server.state()["accounts"][DEFAULT_ACCOUNT]["orders"])

    async def refused_order(self, live: Live, top: tuple[int, int]) -> Approval:
        # the Gateway's own rule: at most 20 active orders per contract, side and account (error 201)
        for n in range(20):
            a = self.approve(live, Side.BUY, self.rest_price(live, top, n), 1)
            await live.conn.submit(a, f"fill-up-{n}", live.symbol)
        return self.approve(live, Side.BUY, self.rest_price(live, top, 20), 1)

    def engine_limits(self, live: Live) -> dict[str, Any]:
        return {
            "symbol": "SPY",
            "collar_bps": 500,
            "max_order_qty": "20",
            "max_position": "40",
            "max_order_notional": "100000",
            "venue_max_gross_notional": "100000",
        }

    async def cut_streams(self, live: Live) -> None:
        await live.server.drop_connections()

    shared_session = True  # one API session carries market data and orders

    async def drop_stream(self, live: Live, stream: Stream) -> None:
        assert await live.server.drop_connections() >= 1

    def streams(self, live: Live) -> int:
        return len(live.server.state()["clients"])

    def go_stale(self, live: Live) -> None:
        live.server.drop_farm()  # error 1100: the data farm is lost, the market freezes

    def come_back(self, live: Live) -> None:
        live.server.restore_farm(data_lost=False)  # 1102: restored, data maintained
