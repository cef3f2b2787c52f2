"""The Polymarket connector against the simulator: connect, orders, funds, heartbeats, batches, wallets
(py-clob-client-v2 fidelity is in tests/sim/)."""

from __future__ import annotations

import logging
import os
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

from tests.venues.polymarket.helpers import (
    CLOCK,
    SHARE,
    admin,
    approve,
    coin,
    collect,
    connected,
    fills_of,
    key,
    next_event,
    run,
    same_fills,
    until,
)
from trader.clock import LiveClock
from trader.core import Keystore, OrderType, Side, TimeInForce
from trader.errors import (
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    UnknownOutcomeError,
)
from trader.sim.polymarket import EXCHANGE, PolymarketSimServer
from trader.venues.base import (
    Connector,
    FillReport,
    OrderReport,
    OrderState,
    VenueEvent,
)
from trader.venues.polymarket import (
    HeartbeatFailedError,
    ProtocolVersionError,
)


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
        _, rate, neg, *_ = server.markets.values()  # then the Protocol V2 market
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
            "c1", ack.venue_order_id, yes, Side.BUY, 42, 10 * SHARE, 0, OrderState.OPEN, ts_event=0, ts_recv=0
        )
        assert 0 < placed.ts_recv <= CLOCK.now_ns()  # our clock when the event was read
        assert abs(placed.ts_event - placed.ts_recv) < 5 * 10**9  # the venue's stamp of the event
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
