"""The Coinbase connector over loopback against `trader.sim.coinbase`: order bodies, GTD/FOK outcomes, stream
and REST fills that name one execution alike, lookups by client id, refused JWTs, config, and the CLI's
`paper` and `testnet` on the simulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import gate_approval
from trader.cli import EXIT_OK, main
from trader.clock import LiveClock
from trader.config import SecretRef, VenueConfig
from trader.core import Approval, OrderType, Side, TimeInForce
from trader.errors import AuthenticationError, ConfigError, InvalidOrderError
from trader.sim.coinbase import CoinbaseSimServer
from trader.venues import coinbase
from trader.venues.base import BookInvalid, BookUpdate, FillReport, OrderReport, OrderState, VenueEvent
from trader.venues.coinbase import CoinbaseConnector, Endpoints, loopback_connector

CLOCK = LiveClock()
SYMBOL = "BTC-USD"


@asynccontextmanager
async def opened(**options: Any) -> AsyncIterator[tuple[CoinbaseSimServer, CoinbaseConnector]]:
    server = CoinbaseSimServer(seed=21, step_ms=20)
    await server.start(port=0)
    conn = loopback_connector(server.url, symbols=[SYMBOL], clock=options.pop("clock", CLOCK), **options)
    try:
        await conn.connect()
        yield server, conn
    finally:
        await conn.close()
        await server.stop()


async def first(conn: CoinbaseConnector, match: Callable[[VenueEvent], bool], timeout: float = 5.0) -> Any:
    async def wait() -> Any:
        async for ev in conn.events():
            if match(ev):
                return ev
        raise AssertionError("stream ended")

    return await CLOCK.wait_for(wait(), timeout)


async def top(conn: CoinbaseConnector) -> tuple[int, int]:
    ev = await first(conn, lambda e: isinstance(e, BookUpdate) and None not in (e.bid, e.ask))
    return ev.bid, ev.ask


def approve(
    conn: CoinbaseConnector, side: Side, price: int, qty: int, ref: tuple[int, int], **kw: Any
) -> Approval:
    spec = conn.spec_of(SYMBOL)
    return gate_approval(spec, SYMBOL, side, price, qty, bid=ref[0], ask=ref[1], now_ns=CLOCK.now_ns(), **kw)


def test_order_bodies_follow_the_order_configurations() -> None:
    async def go() -> None:
        async with opened() as (server, conn):
            ref = await top(conn)
            bid = ref[0]

            def body(**kw: Any) -> dict[str, Any]:
                price = 0 if kw.get("order_type") is OrderType.MARKET else bid - 100
                return conn.order_body(approve(conn, Side.BUY, price, 100_000, ref, **kw), "c-1", SYMBOL)

            assert body(post_only=True)["order_configuration"] == {
                "limit_limit_gtc": {
                    "base_size": "0.00100000",
                    "limit_price": conn.spec_of(SYMBOL).format_price(bid - 100),
                    "post_only": True,
                }
            }
            gtd = body(tif=TimeInForce.GTD, expire_ns=1_800_000_000_500_000_000)["order_configuration"]
            assert gtd["limit_limit_gtd"]["end_time"] == "2027-01-15T08:00:00.500000000Z"
            assert list(body(tif=TimeInForce.IOC)["order_configuration"]) == ["sor_limit_ioc"]
            assert list(body(tif=TimeInForce.FOK)["order_configuration"]) == ["limit_limit_fok"]
            market = body(order_type=OrderType.MARKET, tif=TimeInForce.IOC)
            assert market["order_configuration"] == {"market_market_ioc": {"base_size": "0.00100000"}}
            assert (market["side"], market["product_id"], market["client_order_id"]) == ("BUY", SYMBOL, "c-1")
            sent = server.requests["POST /api/v3/brokerage/orders"]
            with pytest.raises(InvalidOrderError, match="post-only"):
                await conn.submit(
                    approve(conn, Side.BUY, bid - 100, 100_000, ref, tif=TimeInForce.IOC, post_only=True),
                    "c-2",
                    SYMBOL,
                )
            assert server.requests["POST /api/v3/brokerage/orders"] == sent

    asyncio.run(go())


def test_gtd_orders_expire_and_unfillable_fok_orders_end() -> None:
    async def go() -> None:
        async with opened() as (_, conn):
            ref = await top(conn)
            end = CLOCK.now_ns() + 300_000_000
            gtd = approve(conn, Side.BUY, ref[0] - 300, 100_000, ref, tif=TimeInForce.GTD, expire_ns=end)
            await conn.submit(gtd, "gtd-1", SYMBOL)
            done = await first(
                conn,
                lambda e: (
                    isinstance(e, OrderReport) and e.client_id == "gtd-1" and e.state is not OrderState.OPEN
                ),
            )
            assert done.state is OrderState.EXPIRED
            # 1.9 BTC at the bid: more than the bids hold there
            fok = approve(conn, Side.SELL, ref[0], 190_000_000, ref, tif=TimeInForce.FOK)
            await conn.submit(fok, "fok-1", SYMBOL)
            report = await conn.query("fok-1")
            assert report is not None
            assert (report.state, report.filled) == (OrderState.CANCELED, 0)

    asyncio.run(go())


def test_stream_fills_and_rest_fills_name_one_execution_alike() -> None:
    async def go() -> None:
        async with opened() as (_, conn):
            ref = await top(conn)
            since = CLOCK.now_ns() - 1_000_000_000
            before = (await conn.positions())[SYMBOL]
            take = approve(conn, Side.BUY, ref[1] + 5_000, 3_000_000, ref, tif=TimeInForce.IOC)
            await conn.submit(take, "take-1", SYMBOL)
            done = await first(
                conn,
                lambda e: (
                    isinstance(e, OrderReport) and e.client_id == "take-1" and e.state is not OrderState.OPEN
                ),
            )
            streamed = []
            while not conn._queue.empty():
                ev = conn._queue.get_nowait()
                if isinstance(ev, FillReport):
                    streamed.append(ev)
            rest = await conn.fills_since(since)
            assert sum(f.qty for f in rest) == done.filled > 0
            assert {f.trade_id for f in rest} >= {f.trade_id for f in streamed}
            assert all(not f.maker and f.fee > 0 and f.ts_event > 0 for f in rest)
            assert (await conn.positions())[SYMBOL] == before + done.filled

    asyncio.run(go())


def test_a_second_connector_finds_an_order_by_client_id_alone() -> None:
    async def go() -> None:
        async with opened() as (server, conn):
            ref = await top(conn)
            await conn.submit(approve(conn, Side.BUY, ref[0] - 500, 100_000, ref), "find-me", SYMBOL)
            other = loopback_connector(server.url, symbols=[SYMBOL], clock=CLOCK, market_data=False)
            try:
                found = await other.query("find-me")
                assert found is not None
                assert (found.client_id, found.state, found.qty) == ("find-me", OrderState.OPEN, 100_000)
                assert await other.query("never-sent") is None
            finally:
                await other.close()
            assert await conn.cancel_all(SYMBOL) == 1
            assert await conn.open_orders() == []
            gone = await first(conn, lambda e: isinstance(e, OrderReport) and e.state is OrderState.CANCELED)
            assert gone == await conn.query("find-me")  # heard on the stream and by REST: one order

    asyncio.run(go())


def test_a_jwt_of_an_unknown_key_is_refused_and_the_clock_measured_once() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from trader.core import CoinbaseSigner

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode()
    )

    async def go() -> None:
        server = CoinbaseSimServer(seed=2, step_ms=20)
        await server.start(port=0)
        ends = Endpoints.loopback(server.url)
        signer = CoinbaseSigner("organizations/x/apiKeys/y", pem, host=ends.host)
        conn = CoinbaseConnector(symbols=[SYMBOL], signer=signer, endpoints=ends, clock=CLOCK)
        try:
            with pytest.raises(AuthenticationError, match="Unauthorized"):
                await conn.connect()
            await CLOCK.sleep(0.1)
            assert server.requests["GET /api/v3/brokerage/time"] == 2  # at connect, then once after the 401
            assert (
                server.requests["GET /api/v3/brokerage/products/BTC-USD"] == 2
            )  # signed again once, then raised
            assert pem not in repr(signer)
        finally:
            await conn.close()
            await server.stop()

    asyncio.run(go())


def test_an_expired_jwt_measures_the_clock_again_and_is_signed_again_once() -> None:
    """Our clock steps 5 minutes ahead after connect: every JWT is outside the venue's nbf..exp window
    (401). The connector measures the venue's clock once for the requests refused meanwhile, signs each
    again once, and nothing is placed twice."""
    from trader.clock import ShiftedClock

    async def go() -> None:
        server = CoinbaseSimServer(seed=6, step_ms=20)
        await server.start(port=0)
        clock = ShiftedClock(CLOCK.now_ns())
        conn = loopback_connector(server.url, symbols=[SYMBOL], clock=clock, market_data=False)
        try:
            await conn.connect()
            ref = (await conn.reference())[1]
            spec = conn.spec_of(SYMBOL)
            bid = spec.price_to_units(str(ref)) - 50_000
            clock.set(clock.now_ns() + 300 * 1_000_000_000)
            placed = [
                conn.submit(approve(conn, Side.BUY, bid, 100_000, (bid, bid + 2)), f"late-{i}", SYMBOL)
                for i in range(3)
            ]
            acks = await asyncio.gather(*placed)
            assert len({a.venue_order_id for a in acks}) == 3
            assert server.requests["GET /api/v3/brokerage/time"] == 2  # at connect, then once for all three
            assert server.requests["POST /api/v3/brokerage/orders"] == 6  # each refused once, then accepted
            opened = [r.client_id for r in await conn.open_orders()]
            assert sorted(opened) == ["late-0", "late-1", "late-2"]  # each placed once
            assert -301_000 < conn.clock_offset_ms < -299_000
        finally:
            await conn.close()
            await server.stop()

    asyncio.run(go())


def test_an_unknown_product_is_refused_at_connect() -> None:
    async def go() -> None:
        server = CoinbaseSimServer(seed=2, step_ms=20)
        await server.start(port=0)
        conn = loopback_connector(server.url, symbols=["DOGE-USD"], clock=CLOCK)
        try:
            with pytest.raises(InvalidOrderError, match="unknown product DOGE-USD"):
                await conn.connect()
        finally:
            await conn.close()
            await server.stop()

    asyncio.run(go())


def test_build_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from trader.sim.coinbase import DEMO_KEY_NAME, DEMO_PRIVATE_KEY

    monkeypatch.setenv("CB_KEY", DEMO_KEY_NAME)
    monkeypatch.setenv("CB_PRIVATE", DEMO_PRIVATE_KEY)
    secrets = {"api_key": SecretRef("env", "CB_KEY"), "private_key": SecretRef("env", "CB_PRIVATE")}
    conn = coinbase.build(
        VenueConfig("coinbase", "sim", secrets, {"url": "http://127.0.0.1:9"}), symbol=SYMBOL, clock=CLOCK
    )
    assert conn.endpoints.host == "127.0.0.1:9"
    live = coinbase.build(VenueConfig("coinbase", "live", secrets), symbol=SYMBOL, clock=CLOCK)
    assert live.endpoints.rest == "https://api.coinbase.com"
    with pytest.raises(ConfigError, match="live and sim only"):
        coinbase.build(VenueConfig("coinbase", "paper", secrets), symbol=SYMBOL, clock=CLOCK)
    with pytest.raises(ConfigError, match="needs url"):
        coinbase.build(VenueConfig("coinbase", "sim", secrets), symbol=SYMBOL, clock=CLOCK)
    with pytest.raises(ConfigError, match="needs private_key"):
        coinbase.build(
            VenueConfig("coinbase", "live", {"api_key": secrets["api_key"]}), symbol=SYMBOL, clock=CLOCK
        )
    assert coinbase.PROFILE.client_id.pattern is not None
    assert coinbase.PROFILE.client_id.pattern.fullmatch("a" * 36)
    assert "watchdog" in coinbase.PROFILE.notes


def test_the_cli_tests_and_trades_on_the_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["testnet", "--exchange=coinbase", "--sim", "--order"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "order round trip  PASS" in out
    assert "FAIL" not in out
    (note,) = [line for line in out.splitlines() if "sandbox" in line]  # said once, with its reason
    assert note.startswith("note: coinbase has no testnet or sandbox (environments: live, sim) that trades (")
    assert "answers canned responses" in note
    assert "these checks ran against its local simulator, not the venue" in note
    assert main(["paper", "--exchange=coinbase", "--sim", "--duration=1.5", "--json"]) == EXIT_OK
    summary = json.loads(capsys.readouterr().out)
    assert summary["orders"] > 0
    assert summary["open_orders_after_shutdown"] == 0


def test_testnet_with_a_configured_venue_says_what_it_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from trader.sim.coinbase import DEMO_KEY_NAME, DEMO_PRIVATE_KEY
    from trader.sim.server import SimThread

    monkeypatch.setenv("CB_KEY", DEMO_KEY_NAME)
    monkeypatch.setenv("CB_PRIVATE", DEMO_PRIVATE_KEY)
    sim = SimThread(CoinbaseSimServer(seed=5, step_ms=20))
    try:
        cfg = tmp_path / "config.toml"
        cfg.write_text(
            '[risk]\nmax_gross_notional = "1000"\nmax_net_notional = "1000"\nmax_open_orders = 5\n'
            'max_orders_per_sec = 5\ndaily_loss_limit = "10"\n\n[venues.coinbase]\nenvironment = "sim"\n'
            f'url = "http://127.0.0.1:{sim.port}"\napi_key = "env:CB_KEY"\nprivate_key = "env:CB_PRIVATE"\n'
        )
        assert main(["testnet", "--exchange=coinbase", f"--config={cfg}"]) == EXIT_OK
    finally:
        sim.close()
    out = capsys.readouterr().out
    assert "auth              PASS" in out
    assert "note: coinbase has no testnet or sandbox" in out
    assert "these checks ran against its local simulator, not the venue" in out  # environment = "sim"


def test_an_ed25519_key_trades_too() -> None:
    import base64
    import os

    from trader.core import CoinbaseSigner

    raw = base64.b64encode(os.urandom(32)).decode()
    name = "organizations/trader-sim/apiKeys/ed"

    async def go() -> None:
        server = CoinbaseSimServer(seed=4, step_ms=20, keys={name: raw})
        await server.start(port=0)
        ends = Endpoints.loopback(server.url)
        signer = CoinbaseSigner(name, raw, host=ends.host)
        assert signer.algorithm == "EdDSA"
        conn = CoinbaseConnector(symbols=[SYMBOL], signer=signer, endpoints=ends, clock=CLOCK)
        try:
            await conn.connect()
            ref = await top(conn)
            await conn.submit(approve(conn, Side.BUY, ref[0] - 300, 100_000, ref), "ed-1", SYMBOL)
            opened = await first(conn, lambda e: isinstance(e, OrderReport) and e.client_id == "ed-1")
            assert opened.state is OrderState.OPEN  # the user channel authenticated with an EdDSA JWT too
            await conn.cancel("ed-1")
        finally:
            await conn.close()
            await server.stop()

    asyncio.run(go())


def test_a_malformed_frame_is_skipped_and_an_unreadable_level2_resyncs() -> None:
    """Garbage is skipped (logged); an `l2_data` message that cannot be read means the book missed it:
    the books are invalidated and level2 subscribed again, whose snapshot rebuilds them."""

    async def go() -> None:
        async with opened() as (server, conn):
            await top(conn)
            snapshots, sent = server.snapshots, server.requests["POST /api/v3/brokerage/orders"]
            for ws in list(server.ws_conns):
                server.send(ws, b"{not json")
                server.send(ws, b'{"channel":"market_trades","sequence_num":"x","events":[{"trades":[{}]}]}')
            await CLOCK.sleep(0.1)
            assert conn.resyncs == 0  # nothing of the book was lost
            for ws in list(server.ws_conns):
                server.send(ws, b'{"channel":"l2_data","events":[{"type":"update","product_id":"BTC-USD"}]}')
            invalid = await first(conn, lambda e: isinstance(e, BookInvalid))
            assert invalid.reason == "malformed level2"
            assert await top(conn)  # rebuilt from a new snapshot
            assert conn.resyncs == 1
            assert server.snapshots == snapshots + 1
            assert server.requests["POST /api/v3/brokerage/orders"] == sent  # nothing sent

    asyncio.run(go())


def test_a_market_buy_by_quote_size_spends_at_most_that() -> None:
    from decimal import Decimal

    async def go() -> None:
        async with opened() as (server, conn):
            ref = await top(conn)
            market: dict[str, Any] = {"order_type": OrderType.MARKET, "tif": TimeInForce.IOC}
            buy = approve(conn, Side.BUY, 0, 200_000, ref, **market)  # 0.002 BTC, its protective price set
            assert buy.notional > Decimal(100)
            body = conn.order_body(buy, "q-0", SYMBOL, quote_size=Decimal("100.00"))
            assert body["order_configuration"] == {"market_market_ioc": {"quote_size": "100.00"}}
            sent = server.requests["POST /api/v3/brokerage/orders"]
            sell = approve(conn, Side.SELL, 0, 200_000, ref, **market)
            limit = approve(conn, Side.BUY, ref[0] - 100, 200_000, ref)
            for a, quote, match in [
                (sell, Decimal(100), "market buys only"),
                (limit, Decimal(100), "market buys only"),
                (buy, Decimal("100.001"), "not a multiple"),
                (buy, Decimal("0.50"), "below the product's minimum"),
                (buy, (buy.notional + 1).quantize(Decimal("0.01")), "more than the approved notional"),
            ]:
                with pytest.raises(InvalidOrderError, match=match):
                    await conn.submit(a, "q-bad", SYMBOL, quote_size=quote)
            with pytest.raises(InvalidOrderError, match="unknown instrument DOGE-USD"):
                await conn.submit(limit, "q-doge", "DOGE-USD")
            assert server.requests["POST /api/v3/brokerage/orders"] == sent  # nothing was sent
            before = (await conn.positions())[SYMBOL]
            await conn.submit(buy, "q-1", SYMBOL, quote_size=Decimal("100.00"))
            done = await first(
                conn,
                lambda e: (
                    isinstance(e, OrderReport) and e.client_id == "q-1" and e.state is not OrderState.OPEN
                ),
            )
            assert done.state is OrderState.FILLED
            assert 0 < done.filled < buy.qty  # ~0.0017 BTC at ~60,000: what 100 USD buys
            order = (await conn._call("GET", f"/api/v3/brokerage/orders/historical/{done.venue_order_id}"))[
                "order"
            ]
            assert order["order_configuration"]["market_market_ioc"] == {"quote_size": "100.00"}
            assert order["size_inclusive_of_fees"] is True
            spent = Decimal(order["filled_value"]) + Decimal(order["total_fees"])
            assert Decimal("99") < spent <= Decimal(100)  # the fee is inside the quote size
            assert (await conn.positions())[SYMBOL] == before + done.filled

    asyncio.run(go())


def test_maker_and_taker_are_the_venues_word() -> None:
    """A plain (not post-only) limit order that rests and is hit is a maker: the user channel does not say,
    so the connector reads the order's REST fills (`liquidity_indicator`) before telling the fill."""

    async def go() -> None:
        async with opened() as (server, conn):
            bid, ask = await top(conn)
            assert ask - bid >= 2  # room inside the spread: our bid is alone at the top
            await conn.submit(approve(conn, Side.BUY, bid + 1, 100_000, (bid, ask)), "rest-1", SYMBOL)
            await first(conn, lambda e: isinstance(e, OrderReport) and e.client_id == "rest-1")
            hit = approve(conn, Side.SELL, bid + 1, 100_000, (bid, ask), tif=TimeInForce.IOC)
            await conn.submit(hit, "hit-1", SYMBOL)  # it trades with our own bid (no self-trade prevention)
            fills: dict[str, list[FillReport]] = {"rest-1": [], "hit-1": []}
            while sum(f.qty for f in fills["rest-1"]) < 100_000:
                f = await first(conn, lambda e: isinstance(e, FillReport))
                fills[f.client_id].append(f)
            assert all(f.maker for f in fills["rest-1"])  # not post-only, and still a maker
            listed = {f.trade_id: f for f in await conn.fills_since(CLOCK.now_ns() - 60_000_000_000)}
            for f in fills["rest-1"] + fills["hit-1"]:
                assert listed[f.trade_id].maker == f.maker  # the same word as REST's own
            assert server.requests["GET /api/v3/brokerage/orders/historical/fills"] >= 2

    asyncio.run(go())


def test_a_fill_rest_does_not_list_goes_out_from_the_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    from trader.venues.coinbase import connector as module

    monkeypatch.setattr(module, "FILL_RETRY_S", 0.01)
    monkeypatch.setattr(module, "FILL_TRIES", 2)  # each read is retried by the HTTP client on a 503 too

    async def go() -> None:
        async with opened() as (server, conn):
            bid, ask = await top(conn)
            assert ask - bid >= 2  # room inside the spread: our bid is alone at the top
            # a plain limit order that rests and fills at its limit: only REST can say maker or taker
            await conn.submit(approve(conn, Side.BUY, bid + 1, 100_000, (bid, ask)), "rest-2", SYMBOL)
            await first(conn, lambda e: isinstance(e, OrderReport) and e.client_id == "rest-2")
            server.faults.paths = ("GET /api/v3/brokerage/orders/historical/fills",)
            server.faults.error_5xx_rate = 1.0
            hit = approve(conn, Side.SELL, bid + 1, 100_000, (bid, ask), tif=TimeInForce.IOC)
            await conn.submit(hit, "hit-2", SYMBOL)  # it trades with our own bid
            got: list[FillReport] = []
            while sum(f.qty for f in got) < 100_000:
                got.append(await first(conn, lambda e: isinstance(e, FillReport) and e.client_id == "rest-2"))
            assert (
                server.requests["GET /api/v3/brokerage/orders/historical/fills"] >= module.FILL_TRIES
            )  # (+ retries)
            assert not any(f.maker for f in got)  # inferred: not post-only (though it rested)
            server.faults.error_5xx_rate = 0.0
            listed = [
                f for f in await conn.fills_since(CLOCK.now_ns() - 60_000_000_000) if f.client_id == "rest-2"
            ]
            assert sum(f.qty for f in listed) == 100_000
            assert all(f.maker for f in listed)  # what REST would have said

    asyncio.run(go())
