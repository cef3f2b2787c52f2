"""The OKX account: the private `positions` and `account` channels (recorded pushes into values, and the
connector keeping positions and balances current from the simulator's pushes, REST agreeing), the account
mode checked at connect, batch amend and batch cancel with per-item errors, and the per-endpoint limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import gate_approval
from trader.clock import LiveClock, SimClock
from trader.core import InstrumentSpec, OkxSigner, Side
from trader.errors import ConfigError, OrderNotFoundError, RateLimitError
from trader.sim.okx import OkxSimServer
from trader.venues import registry
from trader.venues.base import BookUpdate, FillReport, OrderReport
from trader.venues.okx import AccountModeError, Endpoints, OkxConnector, parse
from trader.venues.okx import endpoints as ep

FIX = Path(__file__).parent / "fixtures"
CLOCK = LiveClock()
SWAP_SPEC = InstrumentSpec("0.1", "0.0001")  # BTC-USDT-SWAP in base: lot 0.01 contracts x ctVal 0.01
CT = Decimal("0.01")


def load(name: str) -> Any:
    return json.loads((FIX / name).read_text())


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(CLOCK.wait_for(body(), 20))


async def first(conn: OkxConnector, match: Callable[[Any], bool], timeout: float = 5) -> Any:
    async def wait() -> Any:
        async for ev in conn.events():
            if match(ev):
                return ev
        return None

    return await CLOCK.wait_for(wait(), timeout)


async def until(check: Callable[[], bool], timeout: float = 5) -> None:
    deadline = CLOCK.monotonic_ns() + int(timeout * 1e9)
    while not check():
        assert CLOCK.monotonic_ns() < deadline, "condition not met in time"
        await CLOCK.sleep(0.01)


# ---- recorded pushes --------------------------------------------------------------------------------


def test_a_positions_update_states_our_net_position_in_base_units() -> None:
    msg = load("positions_push.json")
    assert parse.position_push(msg, "BTC-USDT-SWAP", SWAP_SPEC, CT) == -250  # -2.5 contracts = -0.025 BTC
    assert parse.position_push(msg, "SOL-USDT-SWAP", SWAP_SPEC, CT) is None  # an update: says nothing of it


def test_a_positions_snapshot_without_our_instrument_means_flat() -> None:
    msg = load("positions_snapshot_flat.json")
    assert parse.position_push(msg, "BTC-USDT-SWAP", SWAP_SPEC, CT) == 0
    assert parse.position_push(msg, "ETH-USDT-SWAP", InstrumentSpec("0.01", "0.001"), CT) == 70
    paged = {**msg, "lastPage": False}
    assert parse.position_push(paged, "BTC-USDT-SWAP", SWAP_SPEC, CT) is None  # more pages follow


def test_an_account_push_states_cash_per_currency() -> None:
    cash = parse.account_push(load("account_push.json"))
    assert cash == {"USDT": Decimal("4750.426970691436"), "BTC": Decimal("0.50000123")}
    assert parse.account_push({"data": []}) == {}


def test_account_config() -> None:
    assert parse.account_config(load("account_config.json")["data"]) == ("2", "long_short_mode")


# ---- the connector on the simulator -----------------------------------------------------------------


async def started(**options: Any) -> OkxSimServer:
    server = OkxSimServer(seed=5, clock=CLOCK, step_ms=20, **options)
    await server.start(port=0)
    return server


def connector(server: OkxSimServer, market: str = "swap", **options: Any) -> OkxConnector:
    return registry.loopback_connector(  # type: ignore[no-any-return]
        server.url, symbol="BTC-USDT", clock=CLOCK, venue="okx", market=market, **options
    )


async def taker(conn: OkxConnector, side: Side, qty: int, cid: str) -> None:
    t: BookUpdate = await first(conn, lambda e: isinstance(e, BookUpdate) and bool(e.bid and e.ask))
    assert t.bid is not None
    assert t.ask is not None
    px = t.ask + 50 if side == Side.BUY else t.bid - 50
    a = gate_approval(conn.spec, "BTC-USDT", side, px, qty, bid=t.bid, ask=t.ask, now_ns=CLOCK.now_ns())
    await conn.submit(a, cid, "BTC-USDT")
    await first(conn, lambda e: isinstance(e, FillReport) and e.client_id == cid)


@pytest.mark.parametrize("market", ["swap", "spot"])
def test_streams_keep_positions_and_balances_current(market: str) -> None:
    async def body() -> None:
        server = await started()
        conn = connector(server, market)
        try:
            await conn.connect()
            await until(lambda: conn.account.pushes >= 1)  # the subscription snapshots
            start = conn.stream_balances()
            assert start["USDT"] == Decimal(1_000_000)
            held = conn.stream_positions().get("BTC-USDT", 0)
            await taker(conn, Side.BUY, 100, "acct1")
            await until(lambda: conn.stream_positions().get("BTC-USDT", 0) > held)
            await until(lambda: conn.stream_balances().get("USDT") != start["USDT"])
            streamed = conn.stream_positions()
            assert streamed == await conn.positions()  # REST, the reconciliation source, agrees
            assert conn.stream_balances()["USDT"] == (await conn.balances())["USDT"]
        finally:
            await conn.close()
            await server.stop()

    run(body)


def test_a_spot_mode_account_cannot_trade_swaps() -> None:
    async def body() -> None:
        server = await started(acct_lv="1")
        try:
            swap = connector(server)
            with pytest.raises(AccountModeError, match="acctLv=1") as e:
                await swap.connect()
            assert isinstance(e.value, ConfigError)
            await swap.close()
            spot = connector(server, "spot")  # spot trades in every account level
            await spot.connect()
            assert spot.account.acct_lv == "1"
            await spot.close()
        finally:
            await server.stop()

    run(body)


def test_a_long_short_account_is_refused_or_switched_when_configured() -> None:
    async def body() -> None:
        server = await started(pos_mode="long_short_mode")
        try:
            refused = connector(server)
            with pytest.raises(AccountModeError, match="long_short_mode"):
                await refused.connect()
            await refused.close()
            assert server.st.pos_mode == "long_short_mode"
            switched = connector(server, position_mode="net")
            await switched.connect()
            assert server.st.pos_mode == switched.account.pos_mode == "net_mode"
            await taker(switched, Side.BUY, 100, "net1")  # no posSide needed now
            await switched.close()
        finally:
            await server.stop()

    with pytest.raises(ValueError, match="position_mode"):
        OkxConnector(
            symbol="BTC-USDT",
            signer=OkxSigner("k", "s", "p"),
            endpoints=Endpoints.loopback("http://127.0.0.1:9"),
            clock=CLOCK,
            position_mode="hedge",
        )
    run(body)


@pytest.mark.parametrize("entry", ["rest", "ws"])
def test_batch_amend_and_batch_cancel_with_per_item_errors(entry: str) -> None:
    async def body() -> None:
        server = await started()
        conn = connector(server, "spot", order_entry=entry)
        try:
            await conn.connect()
            t: BookUpdate = await first(conn, lambda e: isinstance(e, BookUpdate) and bool(e.bid))
            assert t.bid is not None
            for cid in ("ba1", "ba2"):
                a = gate_approval(
                    conn.spec,
                    "BTC-USDT",
                    Side.BUY,
                    t.bid - 200,
                    20,
                    bid=t.bid,
                    ask=t.bid + 1,
                    now_ns=CLOCK.now_ns(),
                )
                await conn.submit(a, cid, "BTC-USDT")
            bid = t.bid
            out = await conn.amend_batch(
                [("ba1", bid - 300, None), ("ba2", None, 30), ("gone", bid - 300, None)]
            )
            assert out[:2] == [None, None]
            assert isinstance(out[2], OrderNotFoundError)
            assert out[2].code == "51503"
            moved: OrderReport = await first(
                conn, lambda e: isinstance(e, OrderReport) and e.client_id == "ba1" and e.price == bid - 300
            )
            assert moved.qty == 20
            grown = await conn.query("ba2")
            assert grown is not None
            assert grown.qty == 30
            await conn.amend("ba2", price=bid - 250)  # one amend, over the same order entry
            single = await conn.query("ba2")
            assert single is not None
            assert (single.price, single.qty) == (bid - 250, 30)
            with pytest.raises(OrderNotFoundError):
                await conn.amend("gone", price=bid - 250)
            gone = await conn.cancel_batch(["ba1", "ba2", "gone"])
            assert gone[:2] == [None, None]
            assert isinstance(gone[2], OrderNotFoundError)
            assert gone[2].code == "51400"
            assert await conn.open_orders() == []
        finally:
            await conn.close()
            await server.stop()

    run(body)


# ---- rate limits ------------------------------------------------------------------------------------


def test_each_endpoint_has_its_own_local_limit() -> None:
    """Place is refused locally past its own share (60 per 2 s x budget) while cancel still passes; batch
    endpoints count orders; a read waits its turn instead of failing; the window frees them again."""

    async def body() -> None:
        clock = SimClock()
        conn = OkxConnector(
            symbol="BTC-USDT",
            signer=OkxSigner("k", "s", "p"),
            endpoints=Endpoints.loopback("http://127.0.0.1:9"),
            clock=clock,
            budget=0.5,
        )
        place = f"POST {ep.ORDER}"
        for _ in range(30):  # 60 x 0.5
            await conn.endpoint_gate(place, mutating=True)
        with pytest.raises(RateLimitError) as e:
            await conn.endpoint_gate(place, mutating=True)
        assert e.value.code == "local"
        await conn.endpoint_gate(f"POST {ep.CANCEL}", mutating=True)  # another endpoint: its own quota
        for _ in range(7):  # 300 x 0.5 = 150 orders: seven batches of 20 ...
            await conn.endpoint_gate(f"POST {ep.BATCH_ORDERS}", 20, mutating=True)
        with pytest.raises(RateLimitError):  # ... and not an eighth
            await conn.endpoint_gate(f"POST {ep.BATCH_ORDERS}", 20, mutating=True)
        await conn.endpoint_gate(f"POST {ep.BATCH_ORDERS}", 10, mutating=True)  # 150 exactly
        for _ in range(5):  # balance: 10 x 0.5
            await conn.endpoint_gate(f"GET {ep.BALANCE}", mutating=False)
        waiting = asyncio.ensure_future(conn.endpoint_gate(f"GET {ep.BALANCE}", mutating=False))
        await CLOCK.sleep(0)  # one loop turn; the SimClock does not move
        assert not waiting.done()  # a read waits for the window ...
        clock.advance(ep.WINDOW_NS)
        await CLOCK.wait_for(waiting, 2)  # ... and goes when it frees
        await conn.endpoint_gate(place, mutating=True)  # the place window freed as well
        await conn.close()

    run(body)


def test_ws_order_entry_shares_the_rest_endpoint_limit() -> None:
    assert ep.WS_OPS["order"] == f"POST {ep.ORDER}"
    assert ep.WS_OPS["batch-amend-orders"] == f"POST {ep.AMEND_BATCH}"
    assert set(ep.WS_OPS.values()) <= set(ep.LIMITS)
