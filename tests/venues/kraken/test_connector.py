"""The Kraken connector over loopback (the Kraken simulator): orders by cl_ord_id, fills, balances, the
v2 book's checksum (a mismatch invalidates and re-subscribes), stream status, the dead-man switch and the
nonce (strictly increasing across a clock stepping back and a restart; a refused nonce is typed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import gate_approval
from trader.clock import LiveClock
from trader.core import Side, TimeInForce
from trader.errors import AuthenticationError, InvalidOrderError, OrderNotFoundError, RateLimitError
from trader.sim.kraken import DEMO_KEY, KrakenSimServer
from trader.venues.base import (
    BookInvalid,
    BookUpdate,
    FillReport,
    OrderState,
    Stream,
    StreamStatus,
    VenueEvent,
)
from trader.venues.kraken import JournalNonces, KrakenConnector, NonceFile, loopback_connector

WALL = LiveClock()


class BackClock(LiveClock):
    """Wall time minus `back_ns`: a host clock stepped back."""

    def __init__(self) -> None:
        self.back_ns = 0

    def now_ns(self) -> int:
        return super().now_ns() - self.back_ns


@asynccontextmanager
async def venue(**options: Any) -> AsyncIterator[tuple[KrakenSimServer, KrakenConnector]]:
    sim = KrakenSimServer(seed=5, step_ms=20)
    await sim.start(port=0)
    conn = loopback_connector(sim.url, symbols=["XBTUSD"], clock=options.pop("clock", WALL), **options)
    try:
        await conn.connect()
        yield sim, conn
    finally:
        await conn.close()
        await sim.stop()


async def next_event(conn: KrakenConnector, match: Callable[[VenueEvent], bool], timeout: float = 5.0) -> Any:
    async def wait() -> Any:
        async for ev in conn.events():
            if match(ev):
                return ev
        raise AssertionError("stream ended")

    return await WALL.wait_for(wait(), timeout)


async def top(conn: KrakenConnector) -> tuple[int, int]:
    ev = await next_event(conn, lambda e: isinstance(e, BookUpdate) and None not in (e.bid, e.ask))
    return ev.bid, ev.ask


def run(body: Callable[[], Any]) -> None:
    asyncio.run(WALL.wait_for(body(), 20))


def test_orders_by_client_id_fills_and_balances() -> None:
    async def body() -> None:
        async with venue() as (sim, conn):
            bid, ask = await top(conn)
            spec = conn.spec("XBTUSD")
            assert conn.market is not None
            assert conn.market.checked >= 1  # the checksum matched
            rest = gate_approval(
                spec, "XBTUSD", Side.BUY, bid - 500, 100_000, bid=bid, ask=ask, now_ns=WALL.now_ns()
            )
            ack = await conn.submit(rest, "k-rest", "XBTUSD")
            assert ack.venue_order_id.startswith("O")
            assert sim.orders[ack.venue_order_id].cl_ord_id == "k-rest"
            seen = await next_event(conn, lambda e: getattr(e, "client_id", "") == "k-rest")
            assert seen.state is OrderState.OPEN
            fresh = loopback_connector(sim.url, symbols=["XBTUSD"], clock=WALL, market_data=False)
            try:  # another connector finds it by cl_ord_id alone
                await fresh.connect()
                found = await fresh.query("k-rest")
                assert found is not None
                assert (found.state, found.qty) == (OrderState.OPEN, 100_000)
                assert await fresh.query("never-sent") is None
            finally:
                await fresh.close()
            assert [r.client_id for r in await conn.open_orders()] == ["k-rest"]
            await conn.cancel("k-rest")
            r = await conn.query("k-rest")
            assert r is not None
            assert r.state is OrderState.CANCELED
            with pytest.raises(OrderNotFoundError):
                await conn.cancel("k-rest")
            before = (await conn.positions())["XBTUSD"]
            take = gate_approval(
                spec,
                "XBTUSD",
                Side.BUY,
                ask + 100,
                50_000,
                bid=bid,
                ask=ask,
                now_ns=WALL.now_ns(),
                tif=TimeInForce.IOC,
            )
            t0 = WALL.now_ns()
            await conn.submit(take, "k-take", "XBTUSD")
            fill = await next_event(conn, lambda e: isinstance(e, FillReport))
            assert (fill.client_id, fill.maker, fill.qty) == ("k-take", False, 50_000)
            assert fill.fee > 0
            assert [f.trade_id for f in await conn.fills_since(t0)] == [fill.trade_id]
            assert (await conn.positions())["XBTUSD"] == before + 50_000

    run(body)


def test_what_kraken_spot_cannot_do_is_refused_before_sending() -> None:
    async def body() -> None:
        async with venue(market_data=False) as (sim, conn):
            spec = conn.spec("XBTUSD")
            fok = gate_approval(
                spec,
                "XBTUSD",
                Side.BUY,
                500_000,
                100_000,
                bid=500_000,
                ask=500_001,
                now_ns=WALL.now_ns(),
                tif=TimeInForce.FOK,
            )
            with pytest.raises(InvalidOrderError, match="FOK"):
                await conn.submit(fok, "k-fok", "XBTUSD")
            assert sim.requests["POST /0/private/AddOrder"] == 0
            gtc = gate_approval(
                spec, "XBTUSD", Side.BUY, 500_000, 100_000, bid=500_000, ask=500_001, now_ns=WALL.now_ns()
            )
            params = dict(conn.order_params(gtc, "k-1", "XBTUSD"))
            assert params == {
                "ordertype": "limit",
                "type": "buy",
                "volume": "0.00100000",
                "pair": "XBTUSD",
                "cl_ord_id": "k-1",
                "price": "50000.0",
            }

    run(body)


def test_a_checksum_mismatch_invalidates_the_book_and_resubscribes() -> None:
    async def body() -> None:
        async with venue() as (sim, conn):
            await top(conn)
            assert conn.market is not None
            sim.corrupt_checksum()
            bad = await next_event(conn, lambda e: isinstance(e, BookInvalid))
            assert bad.reason == "checksum mismatch"
            await top(conn)  # valid again, from a fresh snapshot
            assert conn.market.resubscribes == 1

    run(body)


def test_a_dropped_private_stream_is_reported_and_caught_up() -> None:
    async def body() -> None:
        async with venue(market_data=False) as (sim, conn):
            assert sim.drop_streams("/ws-auth/v2") == 1
            down = await next_event(conn, lambda e: isinstance(e, StreamStatus))
            assert (down.stream, down.up) == (Stream.PRIVATE, False)
            up = await next_event(conn, lambda e: isinstance(e, StreamStatus))
            assert (up.stream, up.up) == (Stream.PRIVATE, True)

    run(body)


def test_the_dead_man_switch_is_armed_while_orders_rest_and_disarmed_after() -> None:
    async def body() -> None:
        async with venue(market_data=False, dead_man_s=5, dead_man_refresh_s=0.05) as (sim, conn):
            spec = conn.spec("XBTUSD")
            bid, _ = sim.top()
            a = gate_approval(
                spec, "XBTUSD", Side.BUY, bid - 500, 100_000, bid=bid, ask=bid + 1, now_ns=WALL.now_ns()
            )
            await conn.submit(a, "k-dm", "XBTUSD")

            def armed() -> bool:
                return bool(sim.state()["accounts"][DEMO_KEY]["dead_man"]["armed"])

            while not armed():
                await WALL.sleep(0.02)
            await conn.cancel("k-dm")
            while armed():
                await WALL.sleep(0.02)

    run(body)


def test_nonces_grow_across_a_clock_step_back_and_a_restart(tmp_path: Path) -> None:
    async def body() -> None:
        clock = BackClock()
        store = NonceFile(tmp_path / "kraken.nonce")
        async with venue(market_data=False, clock=clock, nonce_store=store.store) as (sim, conn):
            first = conn.last_nonce
            clock.back_ns = 3_600_000_000_000  # an hour back
            await conn.positions()
            assert conn.last_nonce > first
            assert store.load() == conn.last_nonce
            assert sim.state()["accounts"][DEMO_KEY]["last_nonce"] == conn.last_nonce
            restarted = loopback_connector(
                sim.url, symbols=["XBTUSD"], clock=clock, last_nonce=store.load(), market_data=False
            )
            try:
                await restarted.connect()  # still an hour behind: the persisted nonce carries it
                assert restarted.last_nonce > first
            finally:
                await restarted.close()
            forgetful = loopback_connector(sim.url, symbols=["XBTUSD"], clock=clock, market_data=False)
            with pytest.raises(AuthenticationError, match="Invalid nonce"):
                await forgetful.connect()  # no persisted nonce and a clock an hour back: refused, typed

    run(body)


def test_the_order_counter_is_kept_locally() -> None:
    async def body() -> None:
        async with venue(market_data=False, dead_man_s=0, rate_tier="starter") as (sim, conn):
            spec = conn.spec("XBTUSD")
            bid, _ = sim.top()

            async def place(n: int) -> None:
                a = gate_approval(
                    spec,
                    "XBTUSD",
                    Side.BUY,
                    bid - 500 - n,
                    10_000,
                    bid=bid,
                    ask=bid + 1,
                    now_ns=WALL.now_ns(),
                )
                await conn.submit(a, f"k-{n}", "XBTUSD")

            sent = 0
            refused: RateLimitError | None = None
            while refused is None:  # the starter tier's threshold is 60
                try:
                    await place(sent)
                    sent += 1
                except RateLimitError as e:
                    refused = e
            assert refused.code == "local"
            # 60 less the margin and the room kept for a young order's cancel (8), plus what decayed
            assert 50 <= sent <= 53
            assert sim.requests["POST /0/private/AddOrder"] == sent  # the next never left

    run(body)


def test_the_journal_keeps_the_last_nonce_across_restarts() -> None:
    from trader.engine.journal import Journal

    async def body() -> None:
        journal = Journal(":memory:")
        nonces = JournalNonces(journal, DEMO_KEY)
        async with venue(market_data=False, nonce_store=nonces.store) as (_, conn):
            await conn.positions()
            assert nonces.load() == conn.last_nonce > 0
            used = conn.last_nonce
        nonces.store(used - 10)  # never lowered
        assert nonces.load() == used
        assert DEMO_KEY not in nonces.name  # the key is not written in the clear

    run(body)


def test_orders_over_the_websocket() -> None:
    async def body() -> None:
        async with venue(market_data=False, ws_orders=True) as (sim, conn):
            spec = conn.spec("XBTUSD")
            bid, _ = sim.top()
            a = gate_approval(
                spec, "XBTUSD", Side.BUY, bid - 500, 12_345, bid=bid, ask=bid + 1, now_ns=WALL.now_ns()
            )
            ack = await conn.submit(a, "k-ws", "XBTUSD")
            o = sim.orders[ack.venue_order_id]
            assert (o.cl_ord_id, o.vol, o.price) == ("k-ws", 12_345, bid - 500)  # exact decimals on the wire
            assert sim.requests["POST /0/private/AddOrder"] == 0
            await conn.cancel("k-ws")
            assert o.status == "canceled"
            with pytest.raises(OrderNotFoundError):
                await conn.cancel("k-ws")
            r = await conn.query("k-ws")
            assert r is not None
            assert r.state is OrderState.CANCELED

    run(body)


def test_bad_input_is_skipped_or_typed() -> None:
    async def body() -> None:
        async with venue() as (sim, conn):
            await top(conn)
            for ws in list(sim.public):  # garbage, and a book message without its checksum
                sim.send(ws, b"{not json")
                sim.send(ws, b'{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[]}]}')
                sim.send(
                    ws,
                    b'{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","asks":[{"price":"x"}]}]}',
                )
            await top(conn)  # the stream carries on
            assert conn.market is not None
            assert conn.market.resubscribes == 0
            nope = loopback_connector(sim.url, symbols=["NOPEUSD"], clock=WALL, market_data=False)
            with pytest.raises(InvalidOrderError, match="Unknown asset pair"):
                await nope.connect()

    run(body)


def test_a_session_journal_keeps_the_nonce_across_a_restart_with_the_clock_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI hands its session journal to `registry.build_connector(..., counters=journal)`: Kraken's
    build keeps the last nonce in it, so a restart with the host clock an hour back still signs above it."""
    from trader.config import SecretRef, VenueConfig
    from trader.engine.journal import Journal
    from trader.sim.kraken import DEMO_SECRET
    from trader.venues import registry

    monkeypatch.setenv("K_KEY", DEMO_KEY)
    monkeypatch.setenv("K_SECRET", DEMO_SECRET)

    async def body() -> None:
        sim = KrakenSimServer(seed=5, step_ms=20)
        await sim.start(port=0)
        cfg = VenueConfig(
            "kraken",
            "sim",
            secrets={"api_key": SecretRef("env", "K_KEY"), "secret": SecretRef("env", "K_SECRET")},
            options={"url": sim.url, "dead_man_s": 0},
        )
        clock, db = BackClock(), tmp_path / "journal.db"
        try:
            for back_s in (0, 3600):  # a first session, then a restart an hour behind
                clock.back_ns = back_s * 1_000_000_000
                journal = Journal(db)
                before = JournalNonces(journal, DEMO_KEY).load()
                conn = registry.build_connector(cfg, symbol="XBTUSD", clock=clock, counters=journal)
                assert isinstance(conn, KrakenConnector)
                try:
                    await conn.connect()  # refused (EAPI:Invalid nonce) if a nonce were reused
                    await conn.positions()
                    assert conn.last_nonce > before
                    assert JournalNonces(journal, DEMO_KEY).load() == conn.last_nonce
                    assert sim.state()["accounts"][DEMO_KEY]["last_nonce"] == conn.last_nonce
                finally:
                    await conn.close()
                    journal.close()
            forgetful = registry.build_connector(cfg, symbol="XBTUSD", clock=clock)  # no journal
            assert isinstance(forgetful, KrakenConnector)
            with pytest.raises(AuthenticationError, match="Invalid nonce"):
                await forgetful.connect()
        finally:
            await sim.stop()

    run(body)
