"""The simulator's market streams and the spot user stream, read with the official SDK's socket manager
(python-binance's `BinanceSocketManager`, unmodified, pointed at the simulator): every stream a client
library subscribes to, on the raw and the combined paths of both books."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.sim.binance.helpers import CLOCK, Client, run
from trader.sim.binance import DEMO_KEY, DEMO_SECRET, BinanceSimServer

SPOT = [
    "btcusdt@trade", "btcusdt@aggTrade", "btcusdt@miniTicker", "btcusdt@ticker", "btcusdt@kline_1m",
    "!miniTicker@arr", "!ticker@arr", "btcusdt@bookTicker",
]  # fmt: skip
FUTURES = [
    "btcusdt@trade", "btcusdt@aggTrade", "btcusdt@miniTicker", "btcusdt@ticker", "btcusdt@kline_1m",
    "btcusdt@markPrice",
]  # fmt: skip


async def _collect(socket: Any, streams: list[str], c: Client) -> dict[str, Any]:
    """The first event of each stream on a combined socket (with a trade on each book once it is open)."""
    seen: dict[str, Any] = {}

    async def read() -> None:
        async with socket as s:
            await _trade(c)
            while set(seen) != set(streams):
                msg = await s.recv()
                assert msg.get("e") != "error", msg
                seen.setdefault(msg["stream"], msg["data"])

    await CLOCK.wait_for(read(), 8)
    return seen


async def _trade(c: Client) -> None:
    """A market order on each book: public trades at once (the background market's come at random)."""
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}
    await c.ok("POST", "/api/v3/order", {**order, "quantity": "0.001"})
    await c.ok("POST", "/fapi/v1/order", {**order, "quantity": "0.010"})


def _quick(socket: Any) -> Any:
    """A socket whose read loop sees the close within 0.2 s (python-binance waits 10 s for a message)."""
    socket.TIMEOUT = 0.2
    return socket


def _manager(server: BinanceSimServer) -> tuple[Any, Any]:
    from binance import AsyncClient, BinanceSocketManager
    from binance.ws.websocket_api import WebsocketAPI

    client = AsyncClient(DEMO_KEY, DEMO_SECRET)
    client.ws_api = WebsocketAPI(url=f"{server.ws_url}/ws-api/v3")
    client.ws_api.TIMEOUT = 0.2  # how long its read loop waits before it sees the close (default 10 s)
    bsm = BinanceSocketManager(client)
    bsm.STREAM_URL = bsm.FSTREAM_URL = f"{server.ws_url}/"
    return client, bsm


def test_socket_manager_reads_every_spot_stream() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        await _trade(c)
        client, bsm = _manager(server)
        try:
            seen = await _collect(_quick(bsm.multiplex_socket(SPOT)), SPOT, c)  # /stream?streams=
            trade, agg = seen["btcusdt@trade"], seen["btcusdt@aggTrade"]
            assert (trade["e"], trade["s"], agg["e"]) == ("trade", "BTCUSDT", "aggTrade")
            assert set(agg) == {"e", "E", "s", "a", "p", "q", "f", "l", "T", "m"}
            mini, full = seen["btcusdt@miniTicker"], seen["btcusdt@ticker"]
            assert (mini["e"], full["e"]) == ("24hrMiniTicker", "24hrTicker")
            assert set(mini) == {"e", "E", "s", "c", "o", "h", "l", "v", "q"}
            assert {"p", "P", "w", "x", "c", "Q", "b", "B", "a", "A", "o", "h", "l", "v", "q"} <= set(full)
            assert full["n"] == full["L"] - full["F"] + 1 > 0
            assert seen["!ticker@arr"][0]["s"] == seen["!miniTicker@arr"][0]["s"] == "BTCUSDT"
            kline = seen["btcusdt@kline_1m"]["k"]
            assert (kline["i"], kline["x"], kline["T"] - kline["t"]) == ("1m", False, 59_999)
            assert Decimal(kline["l"]) <= Decimal(kline["c"]) <= Decimal(kline["h"])
            trades, aggs = _quick(bsm.trade_socket("BTCUSDT")), _quick(bsm.aggtrade_socket("BTCUSDT"))
            async with trades as raw, aggs as agg:  # /ws/<stream>
                await _trade(c)
                assert (await CLOCK.wait_for(raw.recv(), 5))["e"] == "trade"
                assert (await CLOCK.wait_for(agg.recv(), 5))["e"] == "aggTrade"
        finally:
            await client.close_connection()

    run(t)


def test_socket_manager_reads_every_futures_market_stream() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        await _trade(c)
        client, bsm = _manager(server)
        try:
            seen = await _collect(
                bsm.futures_multiplex_socket(FUTURES), FUTURES, c
            )  # /market/stream?streams=
            trade = seen["btcusdt@trade"]
            assert (trade["e"], trade["X"]) == ("trade", "MARKET")
            assert "M" not in seen["btcusdt@aggTrade"]
            full = seen["btcusdt@ticker"]
            assert "b" not in full
            assert full["e"] == "24hrTicker"
            assert seen["btcusdt@kline_1m"]["k"]["i"] == "1m"
            assert seen["btcusdt@markPrice"]["e"] == "markPriceUpdate"
            book = _quick(bsm.symbol_ticker_futures_socket("BTCUSDT"))  # /public/stream?streams=
            async with book as one:
                assert (await CLOCK.wait_for(one.recv(), 5))["data"]["e"] == "bookTicker"
        finally:
            await client.close_connection()

    run(t)


def test_socket_manager_user_stream_brings_balance_updates() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        client, bsm = _manager(server)
        try:
            async with _quick(bsm.user_socket()) as user:  # userDataStream.subscribe.signature on the WS API
                bid = server.engine.best_bid()
                assert bid is not None
                price = f"{Decimal(bid - 500) * server.tick:.2f}"
                order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
                await c.ok("POST", "/api/v3/order", {**order, "quantity": "0.010", "price": price})
                events = [await CLOCK.wait_for(user.recv(), 5) for _ in range(2)]
            assert [e["e"] for e in events] == ["executionReport", "outboundAccountPosition"]
            usdt = next(b for b in events[1]["B"] if b["a"] == "USDT")
            assert Decimal(usdt["l"]) == Decimal(price) * Decimal("0.010")
            assert {"E", "u"} <= set(events[1])
        finally:
            await client.close_connection()

    run(t, step_ms=600_000)
