"""The OKX connector over loopback against `trader.sim.okx`: the order path by clOrdId, fills and the
position, batch cancel-all, local refusals, typed venue errors, the package contract (build, paper =
demo trading), and `trader testnet` end to end."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest

from tests.helpers import gate_approval
from trader.clock import LiveClock
from trader.config import SecretRef, VenueConfig
from trader.core import OkxSigner, Side, TimeInForce
from trader.errors import (
    AuthenticationError,
    ConfigError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
)
from trader.venues import registry
from trader.venues.base import BookUpdate, FillReport, OrderReport, OrderState
from trader.venues.okx import ENDPOINTS, PROFILE, Endpoints, OkxConnector, build

SYMBOL = "BTC-USDT"
CLOCK = LiveClock()


@asynccontextmanager
async def venue(**options: Any) -> AsyncIterator[tuple[Any, OkxConnector]]:
    server = registry.simulator("okx", seed=5, clock=CLOCK, step_ms=20)
    await server.start(port=0)
    conn = registry.loopback_connector(server.url, symbol=SYMBOL, clock=CLOCK, venue="okx", **options)
    try:
        await conn.connect()
        yield server, conn
    finally:
        await conn.close()
        await server.stop()


async def first(conn: OkxConnector, match: Callable[[Any], bool]) -> Any:
    async def wait() -> Any:
        async for ev in conn.events():
            if match(ev):
                return ev
        return None

    return await CLOCK.wait_for(wait(), 5)


async def top(conn: OkxConnector) -> BookUpdate:
    ev: BookUpdate = await first(conn, lambda e: isinstance(e, BookUpdate) and bool(e.bid and e.ask))
    return ev


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(CLOCK.wait_for(body(), 20))


def test_order_round_trip_by_client_id() -> None:
    async def body() -> None:
        async with venue() as (server, conn):
            info = await conn.instrument_info(SYMBOL)
            assert (info.tick_size, info.lot_size) == ("0.1", "0.0001")
            assert (await conn.venue_time()).resolution_ns == 1_000_000
            t = await top(conn)
            assert t.bid is not None
            a = gate_approval(
                conn.spec, SYMBOL, Side.BUY, t.bid - 100, 20, bid=t.bid, ask=t.bid + 1, now_ns=CLOCK.now_ns()
            )
            ack = await conn.submit(a, "okx1", SYMBOL)
            live = await first(conn, lambda e: isinstance(e, OrderReport) and e.client_id == "okx1")
            assert (live.state, live.venue_order_id, live.qty, live.price) == (
                OrderState.OPEN,
                ack.venue_order_id,
                20,
                t.bid - 100,
            )
            assert [o.client_id for o in await conn.open_orders()] == ["okx1"]
            await conn.cancel("okx1")
            done = await conn.query("okx1")
            assert done is not None
            assert done.state is OrderState.CANCELED
            with pytest.raises(OrderNotFoundError):
                await conn.cancel("okx1")
            assert await conn.query("never") is None
            assert server.state()["submits"] == {"okx1": 1}

    run(body)


def test_a_taker_fill_by_stream_and_rest_moves_the_position() -> None:
    async def body() -> None:
        async with venue() as (_server, conn):
            before = (await conn.positions())[SYMBOL]
            t = await top(conn)
            assert t.ask is not None
            a = gate_approval(
                conn.spec,
                SYMBOL,
                Side.BUY,
                t.ask + 50,
                10,
                bid=t.ask - 1,
                ask=t.ask,
                now_ns=CLOCK.now_ns(),
                tif=TimeInForce.IOC,
            )
            await conn.submit(a, "take1", SYMBOL)
            f: FillReport = await first(conn, lambda e: isinstance(e, FillReport) and e.client_id == "take1")
            assert (f.side, f.maker) == (Side.BUY, False)
            assert f.fee > 0  # the default tier's taker fee, in the quote
            rest = await conn.fills_since(f.ts_event)
            assert f.trade_id in {r.trade_id for r in rest}
            filled = sum(r.qty for r in rest if r.client_id == "take1")
            assert (await conn.positions())[SYMBOL] == before + filled
            assert await conn.funding_since(0) == []

    run(body)


def test_cancel_all_in_batches_and_local_refusals() -> None:
    async def body() -> None:
        async with venue() as (_server, conn):
            t = await top(conn)
            assert t.bid is not None
            for k in range(3):
                a = gate_approval(
                    conn.spec,
                    SYMBOL,
                    Side.BUY,
                    t.bid - 100 - k,
                    10,
                    bid=t.bid,
                    ask=t.bid + 1,
                    now_ns=CLOCK.now_ns(),
                )
                await conn.submit(a, f"all{k}", SYMBOL)
            assert await conn.cancel_all() == 3
            assert await conn.open_orders() == []
            now = CLOCK.now_ns()
            gtd = gate_approval(
                conn.spec, SYMBOL, Side.BUY, t.bid - 100, 10, bid=t.bid, ask=t.bid + 1, now_ns=now,
                tif=TimeInForce.GTD, expire_ns=now + 10**12,
            )  # fmt: skip
            with pytest.raises(InvalidOrderError, match="GTD"):
                await conn.submit(gtd, "gtd1", SYMBOL)
            huge = gate_approval(
                conn.spec,
                SYMBOL,
                Side.BUY,
                t.bid - 100,
                10**7,
                bid=t.bid,
                ask=t.bid + 1,
                now_ns=CLOCK.now_ns(),
            )
            with pytest.raises(InsufficientFundsError):
                await conn.submit(huge, "huge1", SYMBOL)
            with pytest.raises(TypeError):
                await conn.submit("not an approval", "x", SYMBOL)  # type: ignore[arg-type]

    run(body)


def test_wrong_credentials_are_an_authentication_error() -> None:
    async def body() -> None:
        server = registry.simulator("okx", seed=5, clock=CLOCK, step_ms=20)
        await server.start(port=0)
        from trader.sim.okx import DEMO_KEY, DEMO_PASSPHRASE

        conn = OkxConnector(symbol=SYMBOL, signer=OkxSigner(DEMO_KEY, "wrong", DEMO_PASSPHRASE),
                            endpoints=Endpoints.loopback(server.url), clock=CLOCK)  # fmt: skip
        try:
            with pytest.raises(AuthenticationError, match="50113"):
                await conn.connect()
        finally:
            await conn.close()
            await server.stop()

    run(body)


def test_reference_prices_before_connecting() -> None:
    async def body() -> None:
        server = registry.simulator("okx", seed=5, clock=CLOCK, step_ms=20)
        await server.start(port=0)
        conn = registry.loopback_connector(server.url, symbol=SYMBOL, clock=CLOCK, venue="okx")
        try:
            info, mid = await conn.reference()
            assert info.symbol == SYMBOL
            assert 40_000 < mid < 60_000
        finally:
            await conn.close()
            await server.stop()

    run(body)


def test_build_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKX_KEY", "k")
    monkeypatch.setenv("OKX_SECRET", "s")
    monkeypatch.setenv("OKX_PASS", "p")
    secrets = {
        n: SecretRef("env", v)
        for n, v in (("api_key", "OKX_KEY"), ("secret", "OKX_SECRET"), ("passphrase", "OKX_PASS"))
    }
    paper = build(VenueConfig("okx", "paper", secrets), symbol=SYMBOL, clock=CLOCK)
    assert paper.endpoints is ENDPOINTS["paper"]
    assert "wspap" in paper.endpoints.public_ws
    headers = dict(paper.signer.sign("GET", "/api/v5/account/balance", [], 0).headers)
    assert headers["x-simulated-trading"] == "1"  # demo trading
    live = build(VenueConfig("okx", "live", secrets), symbol=SYMBOL, clock=CLOCK)
    assert dict(live.signer.sign("GET", "/x", [], 0).headers)["x-simulated-trading"] == "0"
    with pytest.raises(ConfigError, match="passphrase"):
        build(
            VenueConfig("okx", "live", {k: v for k, v in secrets.items() if k != "passphrase"}),
            symbol=SYMBOL,
            clock=CLOCK,
        )
    with pytest.raises(ConfigError, match="url"):
        build(VenueConfig("okx", "sim", secrets), symbol=SYMBOL, clock=CLOCK)
    swap = build(
        VenueConfig("okx", "live", secrets, {"market": "swap", "position_mode": "net"}),
        symbol=SYMBOL,
        clock=CLOCK,
    )
    assert (swap.market, swap.inst_id, swap._position_mode) == ("swap", "BTC-USDT-SWAP", "net")
    with pytest.raises(ConfigError, match="position_mode"):
        build(VenueConfig("okx", "live", secrets, {"position_mode": "hedge"}), symbol=SYMBOL, clock=CLOCK)
    assert "s" not in repr(secrets["secret"]).replace("SecretRef", "").replace("OKX_SECRET", "")


def test_profile_and_registry() -> None:
    assert "okx" in registry.PACKAGES
    assert "okx" not in registry.PLANNED
    assert registry.profile("okx") is PROFILE
    assert PROFILE.capabilities["spot"].dead_man_switch
    assert registry.client_id_rule("okx").field == "clOrdId"


def test_trader_testnet_on_the_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    from trader.cli import main

    assert main(["testnet", "--exchange=okx", "--sim", "--order"]) == 0
    out = capsys.readouterr().out
    assert "order round trip  PASS" in out
    assert "0 failed" in out


def test_batch_place_and_amend() -> None:
    async def body() -> None:
        async with venue() as (server, conn):
            t = await top(conn)
            assert t.bid is not None
            now = CLOCK.now_ns()
            good = gate_approval(
                conn.spec, SYMBOL, Side.BUY, t.bid - 200, 10, bid=t.bid, ask=t.bid + 1, now_ns=now
            )
            huge = gate_approval(
                conn.spec, SYMBOL, Side.BUY, t.bid - 200, 10**7, bid=t.bid, ask=t.bid + 1, now_ns=now
            )
            acks = await conn.submit_batch([(good, "b1"), (huge, "b2"), (good, "b3")])
            assert [type(a).__name__ for a in acks] == ["SubmitAck", "InsufficientFundsError", "SubmitAck"]
            assert sorted(o.client_id for o in await conn.open_orders()) == ["b1", "b3"]
            await conn.amend("b1", price=t.bid - 300, qty=20)
            amended = await conn.query("b1")
            assert amended is not None
            assert (amended.price, amended.qty, amended.state) == (t.bid - 300, 20, OrderState.OPEN)
            with pytest.raises(InvalidOrderError):
                await conn.amend("b1")
            await conn.cancel("b1")
            with pytest.raises(OrderNotFoundError):
                await conn.amend("b1", qty=30)
            assert server.requests["POST /api/v5/trade/batch-orders"] == 1

    run(body)


def test_order_entry_over_the_private_websocket() -> None:
    async def body() -> None:
        async with venue(order_entry="ws") as (server, conn):
            t = await top(conn)
            assert t.bid is not None
            now = CLOCK.now_ns()
            a = gate_approval(
                conn.spec, SYMBOL, Side.BUY, t.bid - 100, 10, bid=t.bid, ask=t.bid + 1, now_ns=now
            )
            ack = await conn.submit(a, "ws1", SYMBOL)
            found = await conn.query("ws1")
            assert found is not None
            assert (found.venue_order_id, found.state) == (ack.venue_order_id, OrderState.OPEN)
            await conn.cancel("ws1")
            done = await conn.query("ws1")
            assert done is not None
            assert done.state is OrderState.CANCELED
            huge = gate_approval(
                conn.spec, SYMBOL, Side.BUY, t.bid - 100, 10**7, bid=t.bid, ask=t.bid + 1, now_ns=now
            )
            with pytest.raises(InsufficientFundsError):
                await conn.submit(huge, "ws2", SYMBOL)
            with pytest.raises(OrderNotFoundError):
                await conn.cancel("ws1")
            acks = await conn.submit_batch([(a, "ws3"), (huge, "ws4")])
            assert [type(x).__name__ for x in acks] == ["SubmitAck", "InsufficientFundsError"]
            assert server.requests["POST /api/v5/trade/order"] == 0  # nothing went over REST
            assert server.requests["POST /api/v5/trade/batch-orders"] == 0

    run(body)


def test_a_sweep_pushes_every_fill_and_the_stream_reports_each() -> None:
    """A taker that takes several resting orders: OKX pushes one `orders` row per fill (its own fillSz,
    tradeId, and the order's accFillSz after it), then the IOC's rest canceled; the connector reports every
    fill from the stream, the ones REST lists (the simulator used to push the last fill only, once per
    fill)."""

    async def body() -> None:
        async with venue() as (server, conn):
            rows: list[dict[str, str]] = []
            fan = server._fan

            def spy(subs: Any, msg: dict[str, Any] | None, raw: bytes = b"") -> None:
                if subs is server.order_subs and msg is not None:
                    rows.extend(r for r in msg["data"] if r["clOrdId"] == "sweep1")
                fan(subs, msg, raw)

            server._fan = spy
            t = await top(conn)
            assert t.ask is not None
            a = gate_approval(
                conn.spec, SYMBOL, Side.BUY, t.ask + 2000, 5000,
                bid=t.ask - 1, ask=t.ask, now_ns=CLOCK.now_ns(), tif=TimeInForce.IOC,
            )  # fmt: skip
            await conn.submit(a, "sweep1", SYMBOL)
            rest = [r for r in await conn.fills_since(0) if r.client_id == "sweep1"]
            assert len(rest) >= 2, "the order took more than one resting order"
            fills = [r for r in rows if r["tradeId"]]
            assert len(fills) == len({r["tradeId"] for r in fills}) == len(rest), "a push per fill"
            acc = [Decimal(r["accFillSz"]) for r in fills]
            assert acc == sorted(set(acc)), "each pushed after its own fill"
            assert [Decimal(r["fillSz"]) for r in fills] == [
                acc[0],
                *(b - a for a, b in itertools.pairwise(acc)),
            ]
            assert rows[-1]["state"] == "canceled", "then the IOC's rest"
            reported: list[FillReport] = []
            while sum(f.qty for f in reported) < sum(r.qty for r in rest):
                reported.append(
                    await first(conn, lambda e: isinstance(e, FillReport) and e.client_id == "sweep1")
                )
            assert sorted(f.trade_id for f in reported) == sorted(r.trade_id for r in rest)

    run(body)
