"""The OKX simulator's WebSockets against python-okx's WebSocket clients: the public books channel (a
snapshot, then updates chained by seqId/prevSeqId) and the private one (the SDK's login, the orders
channel, order entry by `order` and `cancel-order`). The SDK's connection factory insists on TLS; on the
loopback it connects without."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import orjson
import pytest

from trader.clock import LiveClock
from trader.sim.okx import DEMO_KEY, DEMO_PASSPHRASE, DEMO_SECRET, OkxSimServer
from trader.sim.server import SimThread

ws_public = pytest.importorskip("okx.websocket.WsPublicAsync")
ws_private = pytest.importorskip("okx.websocket.WsPrivateAsync")
ws_factory = pytest.importorskip("okx.websocket.WebSocketFactory")
CLOCK = LiveClock()


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    t = SimThread(OkxSimServer(seed=4, step_ms=20))
    try:
        yield t
    finally:
        t.close()


@contextlib.asynccontextmanager
async def private_client(sim: SimThread, secret: str) -> AsyncIterator[tuple[Any, list[dict[str, Any]]]]:
    """python-okx's private WebSocket client on the simulator, consuming, and the messages it received."""
    seen: list[dict[str, Any]] = []
    url = f"ws://127.0.0.1:{sim.port}/ws/v5/private"
    client = ws_private.WsPrivateAsync(DEMO_KEY, DEMO_PASSPHRASE, secret, url)
    await client.connect()
    client.callback = lambda m: seen.append(orjson.loads(m))
    task = asyncio.get_running_loop().create_task(client.consume())
    try:
        yield client, seen
    finally:
        task.cancel()
        await client.factory.close()


@pytest.fixture(autouse=True)
def plain_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    import websockets

    async def connect(self: Any) -> Any:
        self.websocket = await websockets.connect(self.url)
        return self.websocket

    monkeypatch.setattr(ws_factory.WebSocketFactory, "connect", connect)


async def until(seen: list[dict[str, Any]], cond: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            for m in seen:
                if cond(m):
                    return m
            await CLOCK.sleep(0.01)

    return await CLOCK.wait_for(wait(), 5)


def test_sdk_streams_the_book_in_sequence(sim: SimThread) -> None:
    async def body() -> None:
        seen: list[dict[str, Any]] = []
        client = ws_public.WsPublicAsync(url=f"ws://127.0.0.1:{sim.port}/ws/v5/public")
        await client.connect()
        await client.subscribe(
            [{"channel": "books", "instId": "BTC-USDT"}], lambda m: seen.append(orjson.loads(m))
        )
        task = asyncio.get_running_loop().create_task(client.consume())
        try:
            snap = await until(seen, lambda m: m.get("action") == "snapshot")
            first = snap["data"][0]
            assert first["prevSeqId"] == -1
            update = await until(seen, lambda m: m.get("action") == "update")
            assert update["data"][0]["prevSeqId"] == first["seqId"]
        finally:
            task.cancel()
            await client.factory.close()

    asyncio.run(body())


def test_sdk_logs_in_places_and_cancels_over_the_private_socket(sim: SimThread) -> None:
    async def body() -> None:
        async with private_client(sim, DEMO_SECRET) as (client, seen):
            await client.login()
            await until(seen, lambda m: m.get("event") == "login" and m.get("code") == "0")
            await client.send("subscribe", [{"channel": "orders", "instType": "ANY"}])
            await until(seen, lambda m: m.get("event") == "subscribe")
            order = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
                     "px": "30000", "sz": "0.001", "clOrdId": "sdkws1"}  # fmt: skip
            await client.place_order([order], id="7")
            placed = await until(seen, lambda m: m.get("id") == "7")
            assert (placed["op"], placed["code"], placed["data"][0]["sCode"]) == ("order", "0", "0")
            live = await until(seen, lambda m: m.get("arg", {}).get("channel") == "orders" and "data" in m)
            assert (live["data"][0]["clOrdId"], live["data"][0]["state"]) == ("sdkws1", "live")
            await client.cancel_order([{"instId": "BTC-USDT", "clOrdId": "sdkws1"}], id="8")
            canceled = await until(seen, lambda m: m.get("id") == "8")
            assert canceled["data"][0]["sCode"] == "0"
            again = {"instId": "BTC-USDT", "clOrdId": "sdkws1"}
            await client.cancel_order([again], id="9")
            refused = await until(seen, lambda m: m.get("id") == "9")
            assert (refused["code"], refused["data"][0]["sCode"]) == ("1", "51400")

    asyncio.run(body())


def test_a_wrong_login_is_refused(sim: SimThread) -> None:
    async def body() -> None:
        async with private_client(sim, "wrong-secret") as (client, seen):
            await client.login()
            refused = await until(seen, lambda m: m.get("event") == "error")
            assert refused["code"] == "60009"

    asyncio.run(body())


def test_sdk_streams_positions_and_account_and_amends_in_batch(sim: SimThread) -> None:
    async def body() -> None:
        async with private_client(sim, DEMO_SECRET) as (client, seen):

            def push(channel: str, event: str) -> Callable[[dict[str, Any]], bool]:
                return lambda m: m.get("arg", {}).get("channel") == channel and m.get("eventType") == event

            await client.login()
            await until(seen, lambda m: m.get("event") == "login" and m.get("code") == "0")
            channels = [{"channel": "positions", "instType": "ANY"}, {"channel": "account"}]
            await client.send("subscribe", channels)
            account = await until(seen, push("account", "snapshot"))
            assert {d["ccy"] for d in account["data"][0]["details"]} >= {"USDT", "BTC"}
            await until(seen, push("positions", "snapshot"))
            swap = {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "sell", "ordType": "market",
                    "sz": "1", "clOrdId": "sdkwspos"}  # fmt: skip
            await client.place_order([swap], id="20")
            moved = await until(
                seen,
                lambda m: push("positions", "event_update")(m) and m["data"][0]["instId"] == "BTC-USDT-SWAP",
            )
            assert moved["data"][0]["posSide"] == "net"
            await until(seen, push("account", "event_update"))
            rest = {"instId": "BTC-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit",
                    "px": "30000", "sz": "0.001", "clOrdId": "sdkwsam"}  # fmt: skip
            await client.place_order([rest], id="21")
            await until(seen, lambda m: m.get("id") == "21")
            amends = [{"instId": "BTC-USDT", "clOrdId": "sdkwsam", "newPx": "30100"},
                      {"instId": "BTC-USDT", "clOrdId": "sdkws-none", "newPx": "30100"}]  # fmt: skip
            await client.batch_amend_orders(amends, id="22")
            amended = await until(seen, lambda m: m.get("id") == "22")
            assert (amended["op"], amended["code"]) == ("batch-amend-orders", "2")
            assert [i["sCode"] for i in amended["data"]] == ["0", "51503"]
            await client.batch_cancel_orders([{"instId": "BTC-USDT", "clOrdId": "sdkwsam"}], id="23")
            canceled = await until(seen, lambda m: m.get("id") == "23")
            assert canceled["data"][0]["sCode"] == "0"

    asyncio.run(body())
