"""The Polymarket CLOB V2 connector against the loopback simulator (`trader.sim.polymarket`), which checks
every signature independently (stdlib hmac, eth-account): connect and metadata, orders, fills between two
accounts (plain and complementary), unknown outcomes, funds, the dead-man switch, the book and the user
channel across reconnects."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.helpers import gate_approval
from trader.clock import LiveClock
from trader.core import Approval, Keystore, OrderType, Side, TimeInForce
from trader.errors import (
    ConfigError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    UnknownOutcomeError,
    VenueUnavailableError,
)
from trader.sim.polymarket import EXCHANGE, NEG_RISK_EXCHANGE, Market, PolymarketSimServer
from trader.venues.base import (
    BookInvalid,
    BookUpdate,
    Connector,
    FillReport,
    OrderReport,
    OrderState,
    TradeTick,
    VenueEvent,
)
from trader.venues.polymarket import (
    ENDPOINTS,
    Endpoints,
    HeartbeatFailedError,
    MarketMetadataError,
    MetadataMismatchError,
    PolymarketConnector,
    ProtocolVersionError,
)
from trader.venues.polymarket.parse import fee as _fee
from trader.venues.polymarket.parse import iso_ns as _iso_ns

CLOCK = LiveClock()
SHARE = 1_000_000  # qty units (micro-shares) per share


def key(name: str) -> str:
    return "0x" + hashlib.sha256(f"polymarket-connector-test/{name}".encode()).hexdigest()


def same_fills(got: list[FillReport], want: list[FillReport]) -> bool:
    """The same fills, learned at other times (by REST and by the stream: `ts_recv` is ours and differs);
    each `ts_recv` is still a reading of our clock, not the venue's time."""
    assert all(f.ts_recv > 0 for f in got + want)

    def bare(fills: list[FillReport]) -> list[FillReport]:
        return [dataclasses.replace(f, ts_recv=0) for f in fills]

    return bare(got) == bare(want)


def coin(server: PolymarketSimServer) -> Market:
    m = next(iter(server.markets.values()))
    assert (m.tick, m.neg_risk) == (100, False)
    return m


@asynccontextmanager
async def sim(**kw: Any) -> AsyncIterator[PolymarketSimServer]:
    server = PolymarketSimServer(**{"seed": 5, "step_ms": 20, "background": False, **kw})
    await server.start(port=0)
    try:
        yield server
    finally:
        await server.stop()


def run(test: Callable[[PolymarketSimServer, AsyncExitStack], Awaitable[None]], **kw: Any) -> None:
    async def go() -> None:
        async with sim(**kw) as server, AsyncExitStack() as stack:
            await test(server, stack)

    asyncio.run(go())


async def connected(
    server: PolymarketSimServer, stack: AsyncExitStack, name: str, market: Market | None = None, **kw: Any
) -> PolymarketConnector:
    conn = PolymarketConnector(
        condition_id=(market or coin(server)).condition_id,
        private_key=kw.pop("private_key", key(name)),
        clock=CLOCK,
        endpoints=kw.pop("endpoints", Endpoints.loopback(server.url)),
        **kw,
    )
    stack.push_async_callback(conn.close)
    await conn.connect()
    return conn


def approve(
    conn: PolymarketConnector,
    symbol: str,
    side: Side,
    price: str,
    qty: str,
    *,
    order_type: OrderType = OrderType.LIMIT,
    tif: TimeInForce = TimeInForce.GTC,
    post_only: bool = False,
    expire_ns: int = 0,
) -> Approval:
    """An approval from a fresh risk gate that knows the connector's trading spec."""
    spec = conn.trading_spec()
    ref = spec.price_to_units(price if order_type == OrderType.LIMIT else "0.5")
    units = spec.price_to_units(price) if order_type == OrderType.LIMIT else 0
    return gate_approval(
        spec, symbol, side, units, spec.qty_to_units(qty), bid=ref - spec.tick, ask=ref + spec.tick,
        now_ns=CLOCK.now_ns(), order_type=order_type, tif=tif, post_only=post_only, expire_ns=expire_ns,
        collar_bps=9000,
    )  # fmt: skip


async def next_event(
    conn: PolymarketConnector, match: Callable[[VenueEvent], bool], timeout: float = 2.0
) -> VenueEvent:
    """The next event that matches (the ones before it are dropped)."""

    async def wait() -> VenueEvent:
        async for ev in conn.events():
            if match(ev):
                return ev
        raise AssertionError("stream ended")

    return await asyncio.wait_for(wait(), timeout)


async def collect(
    conn: PolymarketConnector, done: Callable[[list[VenueEvent]], bool], timeout: float = 2.0
) -> list[VenueEvent]:
    """Events until `done` says the list is complete."""
    seen: list[VenueEvent] = []

    async def wait() -> list[VenueEvent]:
        async for ev in conn.events():
            seen.append(ev)
            if done(seen):
                return seen
        raise AssertionError("stream ended")

    return await asyncio.wait_for(wait(), timeout)


def drain(conn: PolymarketConnector) -> list[VenueEvent]:
    out: list[VenueEvent] = []
    q = conn._queue
    while not q.empty():
        out.append(q.get_nowait())
    return out


async def until(cond: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await LiveClock().sleep(0.01)


async def admin(server: PolymarketSimServer, path: str, body: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as session, session.post(f"{server.url}{path}", json=body) as r:
        assert r.status == 200, await r.text()


# ---- connect, metadata, credentials --------------------------------------------------------------


def test_connect_detects_v2_creates_creds_and_reads_market_rules() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        conn = await connected(server, stack, "alice")
        assert isinstance(conn, Connector)
        yes, no = conn.symbols
        assert (yes, no) == (f"{m.condition_id}:YES", f"{m.condition_id}:NO")
        info = await conn.instrument_info(yes)
        assert (info.symbol, info.base, info.quote) == (yes, m.yes, "pUSD")
        assert (info.tick_size, info.lot_size, info.min_qty) == ("0.01", "0.01", "5")
        assert (await conn.instrument_info(m.no)).symbol == no, "the token id is an alias"
        with pytest.raises(InvalidOrderError, match="unknown instrument"):
            await conn.instrument_info("0xdead:YES")
        spec = conn.trading_spec()
        assert (spec.tick, spec.lot, spec.min_qty) == (1, 10_000, 5 * SHARE)
        assert conn.neg_risk is False
        assert conn.exchange == EXCHANGE

        # one API key, made by L1 for this wallet; the secrets went into the signer, not into Python
        [api_key] = server.keys.values()
        assert api_key.address == conn.address
        state = repr(vars(conn))
        assert api_key.secret not in state
        assert api_key.passphrase not in state
        assert server.requests["GET /version"] == 1

        # a second connector for the same wallet derives the existing key
        again = await connected(server, stack, "alice")
        assert len(server.keys) == 1
        assert server.requests["GET /auth/derive-api-key"] >= 1
        assert again.address == conn.address

        # the 0.001-tick market and the neg-risk market
        _, rate, neg = server.markets.values()
        fine = await connected(server, stack, "alice", rate)
        assert (await fine.instrument_info(fine.symbols[0])).tick_size == "0.001"
        assert fine.trading_spec().price_to_units("0.123") == 123
        negative = await connected(server, stack, "alice", neg)
        assert negative.neg_risk is True
        assert negative.exchange != EXCHANGE

    run(t)


def test_no_secret_reaches_the_logs_even_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    """The user channel's subscribe frame carries the API secret: websockets' frame log is redacted."""
    caplog.set_level(logging.DEBUG)

    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        conn = await connected(server, stack, "alice")
        yes = conn.symbols[0]
        await conn.submit(approve(conn, yes, Side.BUY, "0.40", "10"), "c1", yes)
        await conn.cancel("c1")
        [api_key] = server.keys.values()
        assert "user channel subscription, redacted" in caplog.text, "the frame log was seen and redacted"
        assert "> TEXT" in caplog.text, "other frames are still logged"
        for secret in (api_key.secret, api_key.passphrase):
            for i in range(0, len(secret) - 8):  # websockets logs frames truncated: not even a piece
                assert secret[i : i + 8] not in caplog.text

    run(t)


def test_keystore_key_and_a_v1_venue_is_refused() -> None:
    class V1(PolymarketSimServer):
        def routes(self) -> list[web.RouteDef]:
            async def v1(request: web.Request) -> web.Response:
                return web.json_response({"version": 1})

            return [web.get("/version", v1), *(r for r in super().routes() if r.path != "/version")]

    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        ks = Keystore.decrypt(
            Keystore.encrypt(key("carol"), "pw", salt=os.urandom(32), iv=os.urandom(16), log_n=10), "pw"
        )
        conn = await connected(server, stack, "carol", private_key=ks)
        [api_key] = server.keys.values()
        assert api_key.address == conn.address

        old = V1(seed=5, step_ms=20)
        await old.start(port=0)
        stack.push_async_callback(old.stop)
        with pytest.raises(ProtocolVersionError, match="V2"):
            await connected(old, stack, "carol")
        assert old.requests["POST /auth/api-key"] == 0, "nothing signed for a venue of another version"

    run(t)


# ---- Gamma metadata -------------------------------------------------------------------------------


def test_metadata_from_gamma_for_a_normal_and_a_neg_risk_market() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        conn = await connected(server, stack, "alice")
        assert server.requests["GET /gamma/markets"] == 1, "fetched and cross-checked at connect"
        at_connect = conn.market_metadata
        assert at_connect is not None
        md = await conn.metadata()
        assert md == at_connect
        assert server.requests["GET /gamma/markets"] == 2, "a fresh fetch per call"
        assert (md.condition_id, md.gamma_id, md.question, md.slug) == (
            m.condition_id, m.gamma_id, m.question, m.slug,
        )  # fmt: skip
        assert md.outcomes == ("Yes", "No")
        assert (md.yes_token, md.no_token) == (m.yes, m.no) == (conn.token_id(conn.symbols[0]), m.no)
        assert (md.tick_size, md.min_order_size, md.neg_risk) == (Decimal("0.01"), Decimal(5), False)
        assert isinstance(md.tick_size, Decimal)
        assert str(md.tick_size) == "0.01", "exact, not through a float"
        assert (md.rewards_min_size, md.rewards_max_spread) == (Decimal(20), Decimal("3.5"))
        assert md.rewards_daily_rate == Decimal(100)
        assert (md.active, md.closed, md.accepting_orders) == (True, False, True)
        now = CLOCK.now_ns()
        assert md.end_ns == m.end_s * 1_000_000_000
        left = md.until_end_ns(now)
        assert left is not None
        assert 29 * 86_400 * 10**9 < left <= 31 * 86_400 * 10**9, "about a month ahead"

        # the end date moves: the next fetch says so; resolution closes it
        await admin(
            server, "/sim/end-date", {"condition_id": m.condition_id, "end_date": "2031-01-02T03:04:05Z"}
        )
        assert (await conn.metadata()).end_ns == _iso_ns("2031-01-02T03:04:05+00:00")
        server.resolve(m.condition_id, "Yes")
        closed = await conn.metadata()
        assert (closed.closed, closed.accepting_orders, closed.active) == (True, False, False)

        # the neg-risk market: Gamma and the CLOB agree it is neg risk (orders go to the other exchange)
        _, rate, neg = server.markets.values()
        negative = await connected(server, stack, "bob", neg)
        nmd = negative.market_metadata
        assert nmd is not None
        assert nmd.neg_risk is True
        assert negative.neg_risk is True
        assert negative.exchange == NEG_RISK_EXCHANGE
        assert (nmd.yes_token, nmd.no_token, nmd.question) == (neg.yes, neg.no, neg.question)
        fine = await connected(server, stack, "bob", rate)
        assert fine.market_metadata is not None
        assert str(fine.market_metadata.tick_size) == "0.001"

    run(t)


def test_gamma_disagreeing_with_the_clob_is_a_typed_error() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        conn = await connected(server, stack, "alice")
        good = conn.market_metadata
        assert good is not None

        # Gamma's tick lags the CLOB's (a numeric string, as some Gamma answers carry)
        await admin(
            server,
            "/sim/gamma-override",
            {"condition_id": m.condition_id, "fields": {"orderPriceMinTickSize": "0.001"}},
        )
        with pytest.raises(MetadataMismatchError, match=r"tick Gamma 0\.001 != CLOB 0\.01") as e:
            await conn.metadata()
        assert e.value.fields == ("tick_size",)
        assert conn.market_metadata is good, "a rejected answer replaces nothing"

        # swapped token ids and another neg-risk flag: both named
        server.set_gamma_override(
            m.condition_id, {"clobTokenIds": json.dumps([m.no, m.yes]), "negRisk": True}
        )
        with pytest.raises(MetadataMismatchError) as e:
            await conn.metadata()
        assert e.value.fields == ("tokens", "tick_size", "neg_risk")

        # a new connection to a market whose metadata disagrees is refused, unless told not to check
        with pytest.raises(MetadataMismatchError):
            await connected(server, stack, "bob")
        unchecked = await connected(server, stack, "carol", check_metadata=False)
        assert unchecked.market_metadata is None
        with pytest.raises(MetadataMismatchError):
            await unchecked.metadata()

        # Gamma agrees again (a tick change reaches both): the check passes
        server.set_gamma_override(m.condition_id, {})
        assert await conn.metadata() == good
        server.set_tick_size(m.condition_id, Decimal("0.001"))
        await until(lambda: conn._tick == "0.001")
        assert (await conn.metadata()).tick_size == Decimal("0.001")

    run(t)


def test_metadata_without_gamma_or_without_the_market(caplog: pytest.LogCaptureFixture) -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        # Gamma unreachable: the connection still comes up (trading needs only the CLOB)
        dead = dataclasses.replace(Endpoints.loopback(server.url), gamma="http://127.0.0.1:9")
        conn = await connected(server, stack, "alice", endpoints=dead)
        assert conn.market_metadata is None
        assert "no Gamma metadata at connect" in caplog.text
        with pytest.raises(VenueUnavailableError):
            await conn.metadata()

        no_gamma = await connected(
            server, stack, "alice", endpoints=dataclasses.replace(Endpoints.loopback(server.url), gamma=None)
        )
        assert no_gamma.market_metadata is None
        with pytest.raises(ConfigError, match="Gamma"):
            await no_gamma.metadata()
        assert ENDPOINTS["live"].gamma == "https://gamma-api.polymarket.com"
        assert Endpoints.loopback(server.url).gamma == f"{server.url}/gamma"

        # Gamma lists something else: asked once more with closed=true, then a typed error
        conn = await connected(server, stack, "alice")
        before = server.requests["GET /gamma/markets"]
        server.set_gamma_override(m.condition_id, {"conditionId": "0x" + "ab" * 32})
        with pytest.raises(MarketMetadataError, match="lists no market"):
            await conn.metadata()
        assert server.requests["GET /gamma/markets"] == before + 1, "the filter found it: no second ask"
        server.set_gamma_override(m.condition_id, {"conditionId": m.condition_id, "clobTokenIds": '["1"]'})
        with pytest.raises(MarketMetadataError, match="not binary"):
            await conn.metadata()
        server.set_gamma_override(
            m.condition_id, {"clobTokenIds": json.dumps([m.yes, m.no]), "endDate": "soon"}
        )
        with pytest.raises(MarketMetadataError, match="malformed"):
            await conn.metadata()

    run(t)


def test_a_closed_market_gamma_lists_only_on_request_is_found() -> None:
    """Gamma's default for `closed` is contested (docs: false; observed: true on /events): a Gamma that
    leaves closed markets out unless `closed=true` still yields the metadata, on the second ask."""

    class OpenByDefault(PolymarketSimServer):
        def gamma_markets(self, call: Any) -> list[dict[str, Any]]:
            if "closed" not in call.query:
                call.query["closed"] = "false"
            return super().gamma_markets(call)

    async def t(_: PolymarketSimServer, stack: AsyncExitStack) -> None:
        server = OpenByDefault(seed=5, step_ms=20, background=False)
        await server.start(port=0)
        stack.push_async_callback(server.stop)
        m = coin(server)
        conn = await connected(server, stack, "alice")
        assert server.requests["GET /gamma/markets"] == 1
        server.resolve(m.condition_id, "No")
        md = await conn.metadata()
        assert server.requests["GET /gamma/markets"] == 3, "empty without closed=true, then asked with it"
        assert (md.closed, md.condition_id) == (True, m.condition_id)

    run(t)


def test_gamma_times_parse_exactly() -> None:
    assert _iso_ns("1970-01-01T00:00:01Z") == 1_000_000_000
    assert _iso_ns("2026-12-31T00:00:00Z") == 1_798_675_200 * 1_000_000_000
    assert _iso_ns("2025-07-11T18:36:02.893Z") == 1_752_258_962_893_000_000
    assert _iso_ns("2024-11-06 00:00:00+00") == _iso_ns("2024-11-06T00:00:00Z"), "Gamma's closedTime form"
    assert _iso_ns("2024-11-06T02:00:00+02:00") == _iso_ns("2024-11-06T00:00:00Z")
    assert _iso_ns("2024-11-06T00:00:00") == _iso_ns("2024-11-06T00:00:00Z"), "no offset: UTC"


# ---- orders --------------------------------------------------------------------------------------


def test_place_query_cancel_and_open_orders() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        conn = await connected(server, stack, "alice")
        yes, no = conn.symbols
        ack = await conn.submit(approve(conn, yes, Side.BUY, "0.42", "10", post_only=True), "c1", yes)
        assert ack.client_id == "c1"
        assert ack.venue_order_id in server.orders, "the precomputed EIP-712 hash is the venue's order id"
        assert conn.order_id("c1") == ack.venue_order_id
        venue_order = server.orders[ack.venue_order_id]
        assert (venue_order.token, venue_order.side, venue_order.price, venue_order.size) == (
            m.yes,
            "BUY",
            4200,
            10 * SHARE,
        )
        assert (venue_order.order_type, venue_order.post_only) == ("GTC", True)
        placed = await next_event(conn, lambda e: isinstance(e, OrderReport))
        assert placed == OrderReport(
            "c1", ack.venue_order_id, yes, Side.BUY, 42, 10 * SHARE, 0, OrderState.OPEN
        )
        assert await conn.query("c1") == placed
        assert await conn.open_orders() == [placed]

        # a NO sell needs NO shares; a GTD order carries the expiry plus the venue's 60 s threshold
        server.fund(conn.address, tokens={m.no: 20})
        expire_ns = CLOCK.now_ns() + 3_600 * 10**9
        gtd = approve(conn, no, Side.SELL, "0.70", "20", tif=TimeInForce.GTD, expire_ns=expire_ns)
        ack2 = await conn.submit(gtd, "c2", m.no)  # the token id works as the instrument too
        assert server.orders[ack2.venue_order_id].expiration == -(-expire_ns // 10**9) + 60
        assert server.orders[ack2.venue_order_id].order_type == "GTD"
        assert {r.client_id for r in await conn.open_orders()} == {"c1", "c2"}

        # post-only that would cross (our own 0.42 bid) is the venue's definitive reject
        server.fund(conn.address, tokens={m.yes: 5})
        with pytest.raises(InvalidOrderError, match="post-only"):
            await conn.submit(approve(conn, yes, Side.SELL, "0.40", "5", post_only=True), "c3", yes)
        assert await conn.query("c3") is None, "the venue never kept it"
        assert server.requests["POST /order"] == 3

        await conn.cancel("c1")
        assert (await conn.query("c1")).state is OrderState.CANCELED  # type: ignore[union-attr]
        with pytest.raises(OrderNotFoundError, match="already canceled"):
            await conn.cancel("c1")
        with pytest.raises(OrderNotFoundError):
            await conn.cancel("never-sent")
        assert await conn.query("never-sent") is None
        with pytest.raises(InvalidOrderError, match="already used"):
            await conn.submit(approve(conn, yes, Side.BUY, "0.40", "5"), "c1", yes)

        # cancel_all is scoped to this market (and to one token when asked)
        other = await connected(server, stack, "alice", list(server.markets.values())[1])
        await other.submit(
            approve(other, other.symbols[0], Side.BUY, "0.100", "5"), "elsewhere", other.symbols[0]
        )
        await conn.submit(approve(conn, yes, Side.BUY, "0.20", "5"), "c4", yes)
        assert await conn.cancel_all(yes) == 1
        assert [r.client_id for r in await conn.open_orders()] == ["c2"]
        assert await conn.cancel_all() == 1
        assert await conn.open_orders() == []
        assert [r.client_id for r in await other.open_orders()] == ["elsewhere"]
        await conn.submit(approve(conn, yes, Side.BUY, "0.20", "5"), "c5", yes)
        assert await conn.cancel_account() == 2, "DELETE /cancel-all: every market of the key"
        assert await other.open_orders() == []

    run(t)


def fills_of(conn: PolymarketConnector) -> Callable[[VenueEvent], bool]:
    return lambda e: isinstance(e, FillReport)


def test_crossing_pair_between_two_accounts_fills_both_and_moves_positions() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        alice, bob = await connected(server, stack, "alice"), await connected(server, stack, "bob")
        yes, no = alice.symbols
        server.fund(bob.address, tokens={m.yes: 10})
        ack = await alice.submit(approve(alice, yes, Side.BUY, "0.50", "10"), "a1", yes)
        bob_ack = await bob.submit(approve(bob, yes, Side.SELL, "0.50", "6"), "b1", yes)

        a_fill = await next_event(alice, fills_of(alice))
        b_fill = await next_event(bob, fills_of(bob))
        assert isinstance(a_fill, FillReport)
        assert isinstance(b_fill, FillReport)
        assert (a_fill.client_id, a_fill.instrument, a_fill.side, a_fill.price, a_fill.qty, a_fill.maker) == (
            "a1",
            yes,
            Side.BUY,
            50,
            6 * SHARE,
            True,
        )
        assert (b_fill.client_id, b_fill.instrument, b_fill.side, b_fill.price, b_fill.qty, b_fill.maker) == (
            "b1",
            yes,
            Side.SELL,
            50,
            6 * SHARE,
            False,
        )
        assert a_fill.fee == b_fill.fee == Decimal(0)
        assert a_fill.trade_id != b_fill.trade_id, "the maker's fill id names its order"
        assert abs(a_fill.ts_event - CLOCK.now_ns()) < 5 * 10**9

        assert await alice.positions() == {yes: 6 * SHARE, no: 0}
        assert await bob.positions() == {yes: 4 * SHARE, no: 0}
        assert await alice.collateral() == Decimal(1000) - Decimal(3)
        assert await bob.collateral() == Decimal(1003)
        report = await alice.query("a1")
        assert report is not None
        assert (report.venue_order_id, report.filled, report.state) == (
            ack.venue_order_id,
            6 * SHARE,
            OrderState.OPEN,
        )
        bob_report = await bob.query("b1")
        assert bob_report is not None
        assert (bob_report.venue_order_id, bob_report.state) == (bob_ack.venue_order_id, OrderState.FILLED)

        # the same fills by REST (reconciliation), attributed the same way
        assert same_fills(await alice.fills_since(CLOCK.now_ns() - 60 * 10**9), [a_fill])
        assert same_fills(await bob.fills_since(CLOCK.now_ns() - 60 * 10**9), [b_fill])
        # and a FOK that cannot fill (no asks at all) is refused, nothing moves
        with pytest.raises(InvalidOrderError, match="FOK"):
            await bob.submit(approve(bob, yes, Side.BUY, "0.60", "5", tif=TimeInForce.FOK), "b2", yes)
        assert await bob.positions() == {yes: 4 * SHARE, no: 0}

    run(t)


def test_complementary_fills_are_attributed_to_our_own_order() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        alice, bob = await connected(server, stack, "alice"), await connected(server, stack, "bob")
        yes, no = alice.symbols
        # mint: alice's YES bid 0.45 rests; bob buys NO at 0.55 (= a YES ask at 0.45): both BUY
        await alice.submit(approve(alice, yes, Side.BUY, "0.45", "10"), "a-yes", yes)
        await bob.submit(approve(bob, no, Side.BUY, "0.55", "10"), "b-no", no)
        a_fill = await next_event(alice, fills_of(alice))
        b_fill = await next_event(bob, fills_of(bob))
        assert isinstance(a_fill, FillReport)
        assert isinstance(b_fill, FillReport)
        assert (a_fill.client_id, a_fill.instrument, a_fill.side, a_fill.price, a_fill.qty, a_fill.maker) == (
            "a-yes",
            yes,
            Side.BUY,
            45,
            10 * SHARE,
            True,
        )
        assert (b_fill.client_id, b_fill.instrument, b_fill.side, b_fill.price, b_fill.qty, b_fill.maker) == (
            "b-no",
            no,
            Side.BUY,
            55,
            10 * SHARE,
            False,
        )
        assert await alice.positions() == {yes: 10 * SHARE, no: 0}
        assert await bob.positions() == {yes: 0, no: 10 * SHARE}
        assert await alice.collateral() == Decimal("995.5")
        assert await bob.collateral() == Decimal("994.5")
        assert same_fills(await alice.fills_since(0), [a_fill])
        assert same_fills(await bob.fills_since(0), [b_fill])

        # merge: bob's NO sell at 0.55 rests (= a YES bid at 0.45); alice sells YES at 0.45 into it
        await bob.submit(approve(bob, no, Side.SELL, "0.55", "5"), "b-sell", no)
        await alice.submit(approve(alice, yes, Side.SELL, "0.45", "5"), "a-sell", yes)
        a2 = await next_event(alice, fills_of(alice))
        b2 = await next_event(bob, fills_of(bob))
        assert isinstance(a2, FillReport)
        assert isinstance(b2, FillReport)
        assert (a2.client_id, a2.instrument, a2.side, a2.price, a2.qty, a2.maker) == (
            "a-sell",
            yes,
            Side.SELL,
            45,
            5 * SHARE,
            False,
        )
        assert (b2.client_id, b2.instrument, b2.side, b2.price, b2.qty, b2.maker) == (
            "b-sell",
            no,
            Side.SELL,
            55,
            5 * SHARE,
            True,
        )
        assert await alice.positions() == {yes: 5 * SHARE, no: 0}
        assert await bob.positions() == {yes: 0, no: 5 * SHARE}
        assert await alice.collateral() == Decimal("995.5") + Decimal("2.25")
        assert await bob.collateral() == Decimal("994.5") + Decimal("2.75")

    run(t)


def test_dropped_response_is_an_unknown_outcome_resolved_by_the_precomputed_id(tmp_path: Path) -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        log = tmp_path / "orders.jsonl"
        conn = await connected(server, stack, "alice", order_log=log)
        yes = conn.symbols[0]
        await admin(server, "/sim/faults", {"drop_response_rate": 1.0})
        with pytest.raises(UnknownOutcomeError):
            await conn.submit(approve(conn, yes, Side.BUY, "0.40", "10"), "lost-ack", yes)
        await admin(server, "/sim/faults/reset", {})
        oid = conn.order_id("lost-ack")
        assert oid is not None
        report = await conn.query("lost-ack")
        assert report is not None
        assert (report.client_id, report.venue_order_id, report.state, report.qty) == (
            "lost-ack",
            oid,
            OrderState.OPEN,
            10 * SHARE,
        )
        assert server.requests["POST /order"] == 1, "never resent"
        assert list(server.orders) == [oid], "exactly one order at the venue"
        assert [r.venue_order_id for r in await conn.open_orders()] == [oid]

        # the map was written before the order left: another process resolves the same client id
        restarted = await connected(server, stack, "alice", order_log=log)
        again = await restarted.query("lost-ack")
        assert again is not None
        assert (again.venue_order_id, again.state) == (oid, OrderState.OPEN)
        await restarted.cancel("lost-ack")
        assert server.orders[oid].status == "CANCELED"

    run(t)


def test_insufficient_funds_are_refused_before_anything_is_sent() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        conn = await connected(server, stack, "alice", balance_ttl_s=0.0)
        yes, no = conn.symbols
        server.fund(conn.address, collateral=Decimal(6))
        with pytest.raises(InsufficientFundsError, match="pUSD"):
            await conn.submit(approve(conn, yes, Side.BUY, "0.70", "10"), "too-big", yes)  # 7 > 6
        assert server.requests["POST /order"] == 0
        assert conn.order_id("too-big") is None
        await conn.submit(approve(conn, yes, Side.BUY, "0.50", "10"), "fits", yes)  # holds 5 of 6
        with pytest.raises(InsufficientFundsError):
            await conn.submit(approve(conn, no, Side.BUY, "0.20", "10"), "second", no)  # 2 > 1 free
        with pytest.raises(InsufficientFundsError, match="NO shares"):
            await conn.submit(approve(conn, no, Side.SELL, "0.50", "5"), "no-shares", no)
        assert server.requests["POST /order"] == 1
        await conn.cancel("fits")
        await conn.submit(approve(conn, no, Side.BUY, "0.20", "10"), "second", no)
        assert server.requests["POST /order"] == 2

        # a missing allowance is refused the same way
        server.set_allowance(conn.address, EXCHANGE, Decimal(1))
        with pytest.raises(InsufficientFundsError, match="not approved"):
            await conn.submit(approve(conn, yes, Side.BUY, "0.30", "10"), "no-allowance", yes)  # 3 > 1
        assert server.requests["POST /order"] == 2

        # the wallet as Polygon sees it (eth_call through the JSON-RPC endpoint)
        server.fund(conn.address, tokens={m.yes: Decimal("2.5")})
        chain = await conn.chain_balance()
        assert chain.address == conn.funder
        assert (chain.collateral, chain.allowance, chain.approved) == (6 * SHARE, 1 * SHARE, True)
        assert chain.tokens == {yes: 2_500_000, no: 0}

    run(t)


# ---- the dead-man switch -------------------------------------------------------------------------


def test_heartbeat_failure_refuses_new_orders_until_a_heartbeat_succeeds() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        conn = await connected(server, stack, "alice", heartbeat_interval_s=0.05, heartbeat_timeout_s=1.0)
        yes = conn.symbols[0]
        [api_key] = server.keys.values()

        def armed() -> bool:
            return api_key.heartbeat_deadline_ms > 0

        assert not armed(), "not armed before there is an order"
        await conn.submit(approve(conn, yes, Side.BUY, "0.40", "10"), "resting", yes)
        assert armed(), "armed before the first order left"
        beats = server.requests["POST /v1/heartbeats"]
        await until(lambda: server.requests["POST /v1/heartbeats"] >= beats + 3)  # refreshed while it rests

        await admin(server, "/sim/faults", {"error_5xx_rate": 1.0, "paths": ["POST /v1/heartbeats"]})
        await until(lambda: not conn.heartbeat_ok)
        sent = server.requests["POST /order"]
        with pytest.raises(HeartbeatFailedError):
            await conn.submit(approve(conn, yes, Side.BUY, "0.41", "10"), "refused", yes)
        assert server.requests["POST /order"] == sent, "nothing sent while heartbeats fail"
        assert conn.order_id("refused") is None
        report = await conn.query("resting")
        assert report is not None, "queries still work"
        await conn.cancel("resting")  # and cancels

        await admin(server, "/sim/faults/reset", {})
        await until(lambda: conn.heartbeat_ok)
        await conn.submit(approve(conn, yes, Side.BUY, "0.41", "10"), "accepted", yes)
        assert server.requests["POST /order"] == sent + 1

    run(t)


def test_resting_orders_die_with_the_process_that_stopped_heartbeating() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        conn = await connected(server, stack, "alice", heartbeat_interval_s=0.05, heartbeat_timeout_s=0.6)
        yes = conn.symbols[0]
        ack = await conn.submit(approve(conn, yes, Side.BUY, "0.40", "10"), "resting", yes)
        await LiveClock().sleep(0.8)  # longer than the venue's timeout: the refreshes keep it alive
        assert server.orders[ack.venue_order_id].status == "LIVE"
        await conn.close()
        await until(lambda: server.orders[ack.venue_order_id].status == "CANCELED", timeout=2.0)

    run(t, heartbeat_timeout_ms=600)


# ---- market and user channels --------------------------------------------------------------------


def book_of(symbol: str) -> Callable[[VenueEvent], bool]:
    return lambda e: isinstance(e, BookUpdate) and e.instrument == symbol


def test_book_snapshot_updates_trades_and_resync_after_a_dropped_socket() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        alice, bob = await connected(server, stack, "alice"), await connected(server, stack, "bob")
        yes, no = alice.symbols
        assert alice.books[yes].best_bid() is None, "the subscription's snapshot: an empty book"
        drain(alice)

        await bob.submit(approve(bob, yes, Side.BUY, "0.40", "20"), "b1", yes)
        up = await next_event(alice, book_of(yes))
        assert isinstance(up, BookUpdate)
        assert (up.bid, up.bid_qty, up.ask, up.ask_qty) == (40, 20 * SHARE, None, 0)
        mirror = await next_event(alice, book_of(no))
        assert isinstance(mirror, BookUpdate)
        assert (mirror.bid, mirror.ask, mirror.ask_qty) == (None, 60, 20 * SHARE), "a YES bid is a NO ask"

        # a trade: the public print, then the book after it
        server.fund(alice.address, tokens={m.yes: 5})
        await alice.submit(approve(alice, yes, Side.SELL, "0.40", "5"), "a1", yes)
        tick = await next_event(alice, lambda e: isinstance(e, TradeTick) and e.instrument == yes)
        assert isinstance(tick, TradeTick)
        assert (tick.price, tick.qty, tick.aggressor) == (40, 5 * SHARE, Side.SELL)
        await until(lambda: alice.books[yes].best_bid() == (40, 15 * SHARE))

        # the sockets drop; meanwhile the book changes: BookInvalid, then the REST resync sees the change
        drain(alice)
        await server.close_sockets()
        invalid = await next_event(alice, lambda e: isinstance(e, BookInvalid))
        assert isinstance(invalid, BookInvalid)
        await bob.submit(approve(bob, yes, Side.BUY, "0.41", "7"), "b2", yes)
        resynced = await next_event(alice, lambda e: isinstance(e, BookUpdate) and e.bid == 41)
        assert isinstance(resynced, BookUpdate)
        assert (resynced.instrument, resynced.bid_qty) == (yes, 7 * SHARE)
        assert alice.books[yes].depth(Side.BUY, 5) == [(41, 7 * SHARE), (40, 15 * SHARE)]
        assert server.requests["GET /book"] >= 2, "both tokens were fetched by REST"

        # and it keeps following the stream afterwards
        await bob.cancel("b2")
        after = await next_event(
            alice, lambda e: isinstance(e, BookUpdate) and e.instrument == yes and e.bid == 40
        )
        assert isinstance(after, BookUpdate)
        assert after.bid_qty == 15 * SHARE
        assert alice.books[yes].depth(Side.BUY, 5) == [(40, 15 * SHARE)]

    run(t)


def test_a_book_that_disagrees_with_the_venue_is_invalidated_and_resynced() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        alice, bob = await connected(server, stack, "alice"), await connected(server, stack, "bob")
        yes = alice.symbols[0]
        await bob.submit(approve(bob, yes, Side.BUY, "0.40", "20"), "b1", yes)
        await until(lambda: alice.books[yes].best_bid() == (40, 20 * SHARE))
        drain(alice)
        alice.books[yes].set_level(Side.BUY, 45, SHARE)  # a level the venue never had
        await bob.submit(approve(bob, yes, Side.BUY, "0.30", "5"), "b2", yes)  # its best_bid says 0.40
        invalid = await next_event(alice, lambda e: isinstance(e, BookInvalid))
        assert isinstance(invalid, BookInvalid)
        assert (invalid.instrument, "best bid/ask" in invalid.reason) == (yes, True)
        fixed = await next_event(alice, book_of(yes))
        assert isinstance(fixed, BookUpdate)
        assert (fixed.bid, fixed.bid_qty) == (40, 20 * SHARE)
        assert alice.books[yes].depth(Side.BUY, 5) == [(40, 20 * SHARE), (30, 5 * SHARE)]

    run(t)


def test_user_channel_reports_orders_and_a_fill_missed_while_disconnected_arrives_once() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        alice, bob = await connected(server, stack, "alice"), await connected(server, stack, "bob")
        yes = alice.symbols[0]
        ack = await alice.submit(approve(alice, yes, Side.BUY, "0.50", "10"), "a1", yes)
        placed = await next_event(alice, lambda e: isinstance(e, OrderReport))
        assert isinstance(placed, OrderReport)
        assert (placed.client_id, placed.venue_order_id, placed.state) == (
            "a1",
            ack.venue_order_id,
            OrderState.OPEN,
        )

        # the user channel drops and cannot resubscribe (its L1 key derivation fails) while a fill happens
        await admin(server, "/sim/faults", {"error_5xx_rate": 1.0, "paths": ["GET /auth/derive-api-key"]})
        await server.close_sockets()
        server.fund(bob.address, tokens={m.yes: 10})
        await bob.submit(approve(bob, yes, Side.SELL, "0.50", "10"), "b1", yes)
        await LiveClock().sleep(0.2)
        assert not [e for e in drain(alice) if isinstance(e, FillReport)], "the stream is down"
        trades_before = server.requests["GET /data/trades"]
        await admin(server, "/sim/faults/reset", {})

        def fills(evs: list[VenueEvent]) -> list[FillReport]:
            return [e for e in evs if isinstance(e, FillReport)]

        def filled(evs: list[VenueEvent]) -> list[OrderReport]:
            return [e for e in evs if isinstance(e, OrderReport) and e.state is OrderState.FILLED]

        events = await collect(alice, lambda evs: bool(fills(evs) and filled(evs)), timeout=2.5)
        [fill] = fills(events)
        assert (fill.client_id, fill.side, fill.price, fill.qty, fill.maker) == (
            "a1",
            Side.BUY,
            50,
            10 * SHARE,
            True,
        )
        assert (filled(events)[0].client_id, filled(events)[0].filled) == ("a1", 10 * SHARE)
        assert server.requests["GET /data/trades"] > trades_before, "reconciled by REST after the reconnect"
        await LiveClock().sleep(0.2)
        assert not [e for e in drain(alice) if isinstance(e, FillReport)], "the same fill only once"
        assert server.requests["GET /auth/derive-api-key"] >= 2, "the channel re-subscribed"

    run(t)


def test_fee_is_charged_in_collateral_on_the_cheaper_side() -> None:
    assert _fee(Decimal(10), Decimal("0.30"), "100") == Decimal("0.03")  # 1 % x min(0.3, 0.7) x 10
    assert _fee(Decimal(10), Decimal("0.80"), 50) == Decimal("0.01")  # 0.5 % x 0.2 x 10
    assert _fee(Decimal(10), Decimal("0.5"), "0") == Decimal(0)


# ---- order types, batches, limits, market changes ------------------------------------------------


def test_ioc_fak_and_market_orders() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        alice, bob = await connected(server, stack, "alice"), await connected(server, stack, "bob")
        yes = alice.symbols[0]
        server.fund(bob.address, tokens={m.yes: 30})
        await bob.submit(approve(bob, yes, Side.SELL, "0.50", "30"), "ask", yes)

        def closed(evs: list[VenueEvent]) -> bool:
            return any(isinstance(e, OrderReport) and e.state is not OrderState.OPEN for e in evs)

        # IOC -> FAK: 5 shares at 0.50 spend exactly 2.50
        await alice.submit(approve(alice, yes, Side.BUY, "0.50", "5", tif=TimeInForce.IOC), "ioc", yes)
        events = await collect(alice, lambda evs: closed(evs) and any(isinstance(e, FillReport) for e in evs))
        [fill] = [e for e in events if isinstance(e, FillReport)]
        assert (fill.client_id, fill.qty, fill.price, fill.maker) == ("ioc", 5 * SHARE, 50, False)
        [done] = [e for e in events if isinstance(e, OrderReport)]
        assert (done.state, done.filled) == (OrderState.FILLED, 5 * SHARE)

        # a market BUY is a FAK at the protective price: the venue spends qty x price, so with the book
        # better than that price it buys more shares than qty (the fill reports the true amount)
        market = approve(alice, yes, Side.BUY, "0", "5", order_type=OrderType.MARKET, tif=TimeInForce.IOC)
        assert market.price > 50
        await alice.submit(market, "mkt", yes)
        order = server.orders[alice.order_id("mkt") or ""]
        assert order.order_type == "FAK"
        events = await collect(alice, lambda evs: any(isinstance(e, FillReport) for e in evs))
        [fill] = [e for e in events if isinstance(e, FillReport)]
        assert (fill.client_id, fill.price) == ("mkt", 50)
        assert fill.qty == 5 * SHARE * market.price // 50 == order.matched

        # a FAK sell larger than the bids: the rest is canceled (EXPIRED), the fill is what matched
        await bob.submit(approve(bob, yes, Side.BUY, "0.45", "6"), "bid", yes)
        await alice.submit(approve(alice, yes, Side.SELL, "0.45", "10", tif=TimeInForce.IOC), "fak", yes)
        events = await collect(
            alice,
            lambda evs: (
                any(isinstance(e, OrderReport) and e.client_id == "fak" for e in evs)
                and any(isinstance(e, FillReport) and e.client_id == "fak" for e in evs)
            ),
        )
        [rest] = [e for e in events if isinstance(e, OrderReport) and e.client_id == "fak"]
        assert (rest.state, rest.filled, rest.qty) == (OrderState.EXPIRED, 6 * SHARE, 10 * SHARE)
        report = await alice.query("fak")
        assert report is not None
        assert (report.state, report.filled) == (OrderState.EXPIRED, 6 * SHARE)

    run(t)


def test_batch_of_orders_with_a_per_order_reject() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        conn = await connected(server, stack, "alice")
        yes, no = conn.symbols
        server.fund(conn.address, tokens={m.yes: 5})
        results = await conn.submit_batch(
            [
                (approve(conn, yes, Side.BUY, "0.40", "10"), "k1", yes),
                (approve(conn, no, Side.BUY, "0.30", "10"), "k2", no),
                (approve(conn, yes, Side.SELL, "0.40", "5", post_only=True), "k3", yes),  # crosses k1
            ]
        )
        assert server.requests["POST /orders"] == 1
        ok1, ok2, refused = results
        assert not isinstance(ok1, Exception)
        assert not isinstance(ok2, Exception)
        assert (ok1.client_id, ok2.client_id) == ("k1", "k2")
        assert {ok1.venue_order_id, ok2.venue_order_id} == set(server.orders)
        assert isinstance(refused, InvalidOrderError)
        assert "post-only" in str(refused)
        assert sorted(r.client_id for r in await conn.open_orders()) == ["k1", "k2"]
        assert await conn.cancel_many(["k1", "k2", "nope"]) == {"nope": "unknown client order id"}
        assert await conn.open_orders() == []
        too_many = [(approve(conn, yes, Side.BUY, "0.10", "5"), f"x{i}", yes) for i in range(16)]
        with pytest.raises(InvalidOrderError, match="1 to 15"):
            await conn.submit_batch(too_many)
        assert server.requests["POST /orders"] == 1

    run(t)


def test_local_rate_limit_refuses_before_sending() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        conn = await connected(server, stack, "alice", rate_limits={"POST /order": [(2, 10.0)]}, budget=1.0)
        yes = conn.symbols[0]
        for i in range(2):
            await conn.submit(approve(conn, yes, Side.BUY, "0.30", "5"), f"r{i}", yes)
        with pytest.raises(RateLimitError) as e:
            await conn.submit(approve(conn, yes, Side.BUY, "0.30", "5"), "r2", yes)
        assert e.value.code == "local"
        assert e.value.retry_after_ns is not None
        assert server.requests["POST /order"] == 2
        assert await conn.cancel_all() == 2, "cancels are not charged to the order quota"

    run(t)


def test_tick_size_change_and_resolution() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        coarse = await connected(server, stack, "alice")
        fine = await connected(server, stack, "bob", price_unit="0.001")
        yes = fine.symbols[0]
        assert fine.trading_spec().tick == 10
        drain(coarse)
        drain(fine)
        server.set_tick_size(m.condition_id, Decimal("0.001"))

        stuck = await next_event(coarse, lambda e: isinstance(e, BookInvalid))
        assert isinstance(stuck, BookInvalid)
        assert "finer than the price unit" in stuck.reason
        moved = await next_event(fine, lambda e: isinstance(e, BookInvalid))
        assert isinstance(moved, BookInvalid)
        assert "0.01 -> 0.001" in moved.reason
        await next_event(fine, book_of(yes))
        assert fine.trading_spec().tick == 1
        assert (await fine.instrument_info(yes)).tick_size == "0.001"
        ack = await fine.submit(approve(fine, yes, Side.BUY, "0.455", "10"), "f1", yes)
        assert server.orders[ack.venue_order_id].price == 4550
        # the coarse connector still trades its own (coarser) prices, signed for the new tick
        await coarse.submit(
            approve(coarse, coarse.symbols[0], Side.BUY, "0.44", "10"), "c1", coarse.symbols[0]
        )

        drain(fine)
        server.resolve(m.condition_id, "Yes")
        resolved = await next_event(fine, lambda e: isinstance(e, BookInvalid))
        assert isinstance(resolved, BookInvalid)
        assert "resolved" in resolved.reason
        with pytest.raises(InvalidOrderError, match="closed"):
            await fine.submit(approve(fine, yes, Side.BUY, "0.500", "10"), "f2", yes)
        report = await fine.query("f1")
        assert report is not None
        assert (report.state, report.reason) == (OrderState.CANCELED, "market resolved")

    run(t)


def test_orders_scoring_says_which_resting_orders_earn_rewards() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = coin(server)
        alice = await connected(server, stack, "alice")
        bob = await connected(server, stack, "bob")
        yes, _ = alice.symbols
        server.fund(bob.address, tokens={m.yes: 100})
        # a two-sided book 0.42 / 0.44: midpoint 0.43, the reward band is 3.5 cents each way
        await alice.submit(approve(alice, yes, Side.BUY, "0.42", "30", post_only=True), "near", yes)
        await alice.submit(approve(alice, yes, Side.BUY, "0.20", "30", post_only=True), "far", yes)
        await alice.submit(approve(alice, yes, Side.BUY, "0.41", "5", post_only=True), "small", yes)
        await bob.submit(approve(bob, yes, Side.SELL, "0.44", "30", post_only=True), "ask", yes)
        answers = await alice.orders_scoring(["near", "far", "small", "never-sent"])
        assert answers == {"near": True, "far": False, "small": False}  # below the 20-share minimum

    run(t)


@pytest.mark.parametrize("signature_type", [1, 2])
def test_proxy_and_safe_wallets_sign_for_their_funder(signature_type: int) -> None:
    """POLY_PROXY (1) and POLY_GNOSIS_SAFE (2): the EOA signs, the funder wallet's balances move."""

    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        funder = "0x" + f"{signature_type:02x}" * 20
        conn = await connected(server, stack, "carol", signature_type=signature_type, funder=funder)
        yes, _ = conn.symbols
        ack = await conn.submit(approve(conn, yes, Side.BUY, "0.30", "10", post_only=True), "p1", yes)
        order = server.orders[ack.venue_order_id]
        assert order.maker.lower() == funder
        assert order.signer.lower() == conn.address.lower()
        assert order.signer.lower() != funder
        seen = await conn.query("p1")
        assert seen is not None
        assert seen.state is OrderState.OPEN
        await conn.cancel("p1")

    run(t)


def test_orders_on_a_neg_risk_market_are_signed_for_the_neg_risk_exchange() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        market = next(m for m in server.markets.values() if m.neg_risk)
        conn = await connected(server, stack, "dave", market=market)
        yes, _ = conn.symbols
        # the simulator recovers the signer against the Neg Risk CTF Exchange's EIP-712 domain
        ack = await conn.submit(approve(conn, yes, Side.BUY, "0.25", "10", post_only=True), "n1", yes)
        order = server.orders[ack.venue_order_id]
        assert order.market.neg_risk
        assert order.signer.lower() == conn.address.lower()
        await conn.cancel("n1")

    run(t)
