"""Order entry over Bybit's trade WebSocket (`/v5/trade`) and the batch operations (REST and WebSocket),
connector against the simulator; pybit's `WebSocketTrading` (the oracle) against the simulator's desk."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.venues.bybit.test_connector import approve, next_of, sync, venue, watch_limit_folds
from trader.clock import LiveClock
from trader.core import Side
from trader.errors import InvalidOrderError, OrderNotFoundError, UnknownOutcomeError, VenueError
from trader.sim.bybit import DEMO_KEY, DEMO_SECRET, BybitSimServer
from trader.sim.server import SimThread
from trader.venues.base import BookUpdate, OrderReport, OrderState, SubmitAck

trading = pytest.importorskip("pybit._websocket_trading")
unified = pytest.importorskip("pybit.unified_trading")


@sync
async def test_orders_go_over_the_trade_websocket() -> None:
    async with venue(order_entry="ws") as (server, conn):
        folds = watch_limit_folds(conn)
        assert conn.capabilities.ws_order_entry
        top = await next_of(conn, BookUpdate, lambda b: b.bid is not None)
        assert top.bid is not None
        price = top.bid - 50_000
        ack = await conn.submit(approve(conn, Side.BUY, price, 1000), "ws-1", "BTCUSDT")
        assert ack.venue_order_id
        await next_of(conn, OrderReport, lambda r: r.client_id == "ws-1" and r.state is OrderState.OPEN)
        await conn.amend("ws-1", price=price - 100)
        await next_of(conn, OrderReport, lambda r: r.client_id == "ws-1" and r.price == price - 100)
        await conn.cancel("ws-1")
        await next_of(conn, OrderReport, lambda r: r.client_id == "ws-1" and r.state is OrderState.CANCELED)
        assert server.trade.ops == 3
        assert server.requests["POST /v5/order/create"] == 0, "nothing went over REST"
        with pytest.raises(OrderNotFoundError):
            await conn.cancel("ws-1")
        with pytest.raises(InvalidOrderError):  # 110072: the orderLinkId was used
            await conn.submit(approve(conn, Side.BUY, price, 1000), "ws-1", "BTCUSDT")
        assert folds, "the trade answers carried X-Bapi-Limit headers"
        assert all(local >= header >= 1 for header, local in folds), f"folded into the limiter: {folds}"


@sync
async def test_a_lost_trade_answer_is_an_unknown_outcome_resolved_by_query() -> None:
    async with venue(order_entry="ws", market_data=False, timeout_s=0.3) as (server, conn):
        server.trade.drop_answers = 1
        with pytest.raises(UnknownOutcomeError):
            await conn.submit(approve(conn, Side.BUY, 4_000_000, 1000), "ws-lost", "BTCUSDT")
        found = await conn.query("ws-lost")
        assert found is not None
        assert found.state is OrderState.OPEN, "the venue acted; the answer was lost"


@pytest.mark.parametrize("order_entry", ["rest", "ws"])
def test_batches_answer_per_item(order_entry: str) -> None:
    @sync
    async def run() -> None:
        async with venue(order_entry=order_entry, market_data=False) as (server, conn):
            orders = [(approve(conn, Side.BUY, 4_000_000 - i * 100, 1000), f"b-{i}") for i in range(3)]
            orders.append((approve(conn, Side.BUY, 4_000_000, 1000), "b-0"))  # a duplicate link id
            out = await conn.submit_batch(orders)
            assert [type(x) for x in out[:3]] == [SubmitAck] * 3
            assert isinstance(out[3], VenueError)
            assert out[3].code == "110072"
            amended = await conn.amend_batch([("b-0", 3_999_000, None), ("nope", 3_999_000, None)])
            assert amended[0] is None
            assert isinstance(amended[1], OrderNotFoundError)
            row = await conn.query("b-0")
            assert row is not None
            assert row.price == 3_999_000
            cancelled = await conn.cancel_batch(["b-0", "b-1", "b-2", "nope"])
            assert cancelled[:3] == [None, None, None]
            assert isinstance(cancelled[3], OrderNotFoundError)
            assert await conn.open_orders() == []
            path = "/v5/order/create-batch"
            assert server.requests[f"POST {path}"] == (1 if order_entry == "rest" else 0)

    run()


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    t = SimThread(BybitSimServer(seed=9, step_ms=20))
    yield t
    t.close()


def _answer(calls: list[dict[str, Any]], done: threading.Event) -> Any:
    def keep(m: dict[str, Any]) -> None:
        calls.append(m)
        done.set()

    return keep


def test_pybit_trades_over_the_simulators_trade_websocket(
    sim: SimThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trading, "TRADE_WSS", f"ws://127.0.0.1:{sim.port}/v5/trade")
    ws = unified.WebSocketTrading(testnet=False, api_key=DEMO_KEY, api_secret=DEMO_SECRET, recv_window=5000)
    answers: list[dict[str, Any]] = []
    try:
        deadline = LiveClock().monotonic_ns() + 3_000_000_000
        while not ws.auth and LiveClock().monotonic_ns() < deadline:
            time.sleep(0.02)
        assert ws.auth, "pybit's login accepted"
        for op, kw in (
            ("place_order", {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
                             "qty": "0.001", "price": "40000.00", "orderLinkId": "pybit-t-1"}),
            ("amend_order", {"category": "spot", "symbol": "BTCUSDT", "orderLinkId": "pybit-t-1",
                             "price": "39990.00"}),
            ("cancel_order", {"category": "spot", "symbol": "BTCUSDT", "orderLinkId": "pybit-t-1"}),
            ("cancel_order", {"category": "spot", "symbol": "BTCUSDT", "orderLinkId": "pybit-t-1"}),
            ("place_batch_order", {"category": "spot", "request": [
                {"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001",
                 "price": "40000.00", "orderLinkId": "pybit-b-1"}]}),
        ):  # fmt: skip
            done = threading.Event()
            getattr(ws, op)(_answer(answers, done), error_callback=_answer(answers, done), **kw)
            assert done.wait(3), f"{op}: no answer"
    finally:
        ws.exit()
    placed, amended, cancelled, again, batch = answers
    for m in (placed, amended, cancelled, batch):
        assert (m["retCode"], m["retMsg"]) == (0, "OK")
        assert {
            "X-Bapi-Limit",
            "X-Bapi-Limit-Status",
            "X-Bapi-Limit-Reset-Timestamp",
            "Traceid",
            "Timenow",
        } <= set(m["header"])
        assert m["connId"]
    assert placed["op"] == "order.create"
    assert placed["data"]["orderLinkId"] == "pybit-t-1"
    assert cancelled["data"]["orderId"] == placed["data"]["orderId"]
    assert again["retCode"] == 170213, "cancelling twice: the order does not exist"
    assert batch["data"]["list"][0]["orderLinkId"] == "pybit-b-1"
    assert batch["retExtInfo"]["list"] == [{"code": 0, "msg": "OK"}]
    assert len({m["reqId"] for m in answers}) == len(answers)


def test_the_trade_desk_refuses_what_the_venue_refuses(sim: SimThread) -> None:
    """Its ping answer (`op: pong`), a duplicate reqId (20006), an unknown op (10404), a stale timestamp
    (10002), an op before the login, a repeated login (20001), a bad signature (10004)."""
    from websockets.sync.client import connect

    from trader.core import BybitSigner

    server = sim.server
    assert isinstance(server, BybitSimServer)
    now = LiveClock().now_ns() // 1_000_000
    item = {"category": "spot", "symbol": "BTCUSDT", "orderLinkId": "never"}

    def op(c: Any, rid: str, name: str = "order.cancel", ts: int = now) -> dict[str, Any]:
        header = {"X-BAPI-TIMESTAMP": str(ts), "X-BAPI-RECV-WINDOW": "5000"}
        c.send(json.dumps({"reqId": rid, "header": header, "op": name, "args": [item]}))
        return dict(json.loads(c.recv(timeout=3)))

    with connect(f"ws://127.0.0.1:{sim.port}/v5/trade") as c:
        c.send(json.dumps({"op": "ping"}))
        pong = json.loads(c.recv(timeout=3))
        assert (pong["op"], pong["retCode"], len(pong["data"])) == ("pong", 0, 1)
        assert op(c, "r0")["retCode"] == 10003
        key, expires, sig = BybitSigner(DEMO_KEY, "wrong").ws_auth(now + 10_000)
        c.send(json.dumps({"op": "auth", "args": [key, expires, sig]}))
        assert json.loads(c.recv(timeout=3))["retCode"] == 10004
        key, expires, sig = BybitSigner(DEMO_KEY, DEMO_SECRET).ws_auth(now + 10_000)
        for want in (0, 20001):
            c.send(json.dumps({"reqId": "a", "op": "auth", "args": [key, expires, sig]}))
            assert json.loads(c.recv(timeout=3))["retCode"] == want
        assert op(c, "r1")["retCode"] == 170213
        assert op(c, "r1")["retCode"] == 20006
        assert op(c, "r2", "order.explode")["retCode"] == 10404
        assert op(c, "r3", ts=now - 60_000)["retCode"] == 10002
