"""The loopback Alpaca simulator: the official SDK (alpaca-py) trades and streams against it unmodified;
raw protocol checks (auth, errors, rate limit, the streams' JSON and msgpack modes), market hours, faults.

Requests carry the key headers as any client sends them; msgpack frames are checked with the `msgpack`
library (the SDK's), independently of the simulator's own codec.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
import msgpack
import orjson
import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.live.stock import StockDataStream
from alpaca.data.models import Quote, Trade
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order, TradeUpdate
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest
from alpaca.trading.stream import TradingStream

from trader.clock import LiveClock, ShiftedClock
from trader.sim.alpaca import (
    DEMO_KEY,
    DEMO_SECRET,
    AlpacaSimServer,
    MsgpackTimestamp,
    eastern_iso,
    eastern_ns,
    next_session_time,
    packb,
    parse_rfc3339,
    rfc3339,
    session,
    unpackb,
)
from trader.sim.faults import Faults

OPEN = eastern_ns(2024, 1, 9, 10, 0)  # a Tuesday, 10:00 in New York
HEADERS = {"APCA-API-KEY-ID": DEMO_KEY, "APCA-API-SECRET-KEY": DEMO_SECRET}


@asynccontextmanager
async def sim(start_ns: int = OPEN, **kw: Any) -> AsyncIterator[AlpacaSimServer]:
    server = AlpacaSimServer(seed=5, step_ms=20, clock=ShiftedClock(start_ns), **kw)
    await server.start(port=0)
    try:
        yield server
    finally:
        await server.stop()


class Rest:
    def __init__(self, server: AlpacaSimServer, session: aiohttp.ClientSession) -> None:
        self.url, self.session = server.url, session

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, **params: str
    ) -> tuple[int, Any, dict[str, str]]:
        data = orjson.dumps(body) if body is not None else None
        async with self.session.request(
            method,
            f"{self.url}{path}",
            data=data,
            params=params or None,
            headers=HEADERS if headers is None else headers,
        ) as r:
            raw = await r.read()
            return r.status, orjson.loads(raw) if raw else None, dict(r.headers)


def run(test: Callable[[AlpacaSimServer, Rest], Awaitable[None]], **kw: Any) -> None:
    async def go() -> None:
        async with sim(**kw) as server, aiohttp.ClientSession() as session:
            await test(server, Rest(server, session))

    asyncio.run(go())


def limit(price: Decimal | str, qty: int = 2, side: str = "buy", **extra: Any) -> dict[str, Any]:
    return {
        "symbol": "SPY",
        "qty": str(qty),
        "side": side,
        "type": "limit",
        "time_in_force": "day",
        "limit_price": str(price),
        **extra,
    }


async def until(cond: Callable[[], bool], timeout: float = 3.0) -> None:
    async def wait() -> None:
        while not cond():
            await LiveClock().sleep(0.01)

    await LiveClock().wait_for(wait(), timeout)


# ---- codec and calendar ------------------------------------------------------------------------------


def test_msgpack_codec_agrees_with_the_msgpack_library() -> None:
    values: list[Any] = [
        None, True, False, 0, 1, 127, 128, 255, 256, 65535, 65536, 2**32, 2**64 - 1, -1, -32, -33, -128,
        -129, -32768, -32769, -(2**31), -(2**63), 450.12, "", "q", "x" * 31, "y" * 32, "z" * 300, "é" * 40000,
        b"\x00\x01", [], list(range(20)), {"T": "q", "S": "SPY", "c": ["R"]}, {str(i): i for i in range(20)},
    ]  # fmt: skip
    for v in values:
        assert msgpack.packb(v, use_bin_type=True) == packb(v), v
        assert unpackb(msgpack.packb(v, use_bin_type=True)) == (list(v) if isinstance(v, tuple) else v)
    for ns in (1_704_469_282_000_000_000, 1_704_469_282_123_456_789, 2**34 * 10**9 + 5, -(10**9) - 1):
        ours = packb({"t": MsgpackTimestamp(ns)})
        theirs = msgpack.unpackb(ours)["t"]
        assert isinstance(theirs, msgpack.Timestamp)
        assert theirs.to_unix_nano() == ns
        assert unpackb(msgpack.packb({"t": msgpack.Timestamp.from_unix_nano(ns)})) == {
            "t": MsgpackTimestamp(ns)
        }
    for bad in (b"", b"\x92\x01", b"\x01\x02", b"\xc1", b"\xa5abc"):
        with pytest.raises(ValueError, match="msgpack"):
            unpackb(bad)


def test_eastern_calendar_and_times() -> None:
    # EST in January, EDT in July; the DST switches of 2024 (10 March, 3 November)
    assert rfc3339(eastern_ns(2024, 1, 9, 9, 30)) == "2024-01-09T14:30:00.000000000Z"
    assert rfc3339(eastern_ns(2024, 7, 9, 9, 30)) == "2024-07-09T13:30:00.000000000Z"
    assert rfc3339(eastern_ns(2024, 3, 11, 9, 30)) == "2024-03-11T13:30:00.000000000Z"
    assert rfc3339(eastern_ns(2024, 3, 8, 9, 30)) == "2024-03-08T14:30:00.000000000Z"
    assert rfc3339(eastern_ns(2024, 11, 4, 9, 30)) == "2024-11-04T14:30:00.000000000Z"
    assert eastern_iso(eastern_ns(2024, 7, 9, 16, 0)) == "2024-07-09T16:00:00.000000000-04:00"
    tuesday = (2024, 1, 9)
    assert session(eastern_ns(*tuesday, 3, 59)) == "closed"
    assert session(eastern_ns(*tuesday, 4, 0)) == "pre"
    assert session(eastern_ns(*tuesday, 9, 29)) == "pre"
    assert session(eastern_ns(*tuesday, 9, 30)) == "regular"
    assert session(eastern_ns(*tuesday, 15, 59)) == "regular"
    assert session(eastern_ns(*tuesday, 16, 0)) == "post"
    assert session(eastern_ns(*tuesday, 20, 0)) == "closed"
    assert session(eastern_ns(2024, 1, 13, 12, 0)) == "closed"  # Saturday
    friday_close = eastern_ns(2024, 1, 12, 16, 0)
    assert next_session_time(friday_close, 9, 30) == eastern_ns(2024, 1, 15, 9, 30)  # Monday
    assert next_session_time(friday_close - 1, 16, 0) == friday_close
    assert parse_rfc3339("2024-01-09T10:00:00.5-05:00") == OPEN + 500_000_000
    assert parse_rfc3339("2024-01-09") == eastern_ns(2024, 1, 8, 19, 0)
    for bad in ("yesterday", "2024-01-09T10:00:00", "2024-01-09T10:00:00.Z", "2024-01-09T10:00:00+5"):
        with pytest.raises(ValueError, match="RFC 3339"):
            parse_rfc3339(bad)


# ---- the SDK as the oracle --------------------------------------------------------------------------


def test_trading_client_trades_against_the_simulator() -> None:
    async def t(server: AlpacaSimServer, _: Rest) -> None:
        c = TradingClient(DEMO_KEY, DEMO_SECRET, paper=True, url_override=server.url)

        async def sdk(fn: Callable[..., Any], *args: Any) -> Any:
            return await asyncio.to_thread(fn, *args)

        account = await sdk(c.get_account)
        assert (account.cash, account.buying_power, account.currency) == ("100000.00", "100000.00", "USD")
        clock = await sdk(c.get_clock)
        assert clock.is_open
        assert clock.next_close.hour == 16
        asset = await sdk(c.get_asset, "SPY")
        assert (asset.symbol, asset.exchange.value, asset.tradable) == ("SPY", "ARCA", True)
        bid, ask = server.top("SPY")
        far = bid - Decimal(5)
        lim = await sdk(
            c.submit_order,
            LimitOrderRequest(
                symbol="SPY", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                limit_price=float(far), client_order_id="lim-1",
            ),
        )  # fmt: skip
        assert lim.status in (OrderStatus.PENDING_NEW, OrderStatus.NEW)
        assert lim.limit_price == f"{far:.2f}"
        mkt = await sdk(
            c.submit_order,
            MarketOrderRequest(symbol="SPY", qty=3, side=OrderSide.BUY, time_in_force=TimeInForce.DAY),
        )
        got = await sdk(c.get_order_by_id, lim.id)
        assert (got.status, got.client_order_id, got.qty) == (OrderStatus.NEW, "lim-1", "2")
        by_cid = await sdk(c.get_order_by_client_id, "lim-1")
        assert by_cid.id == lim.id
        filled = await sdk(c.get_order_by_id, mkt.id)
        assert (filled.status, filled.filled_qty) == (OrderStatus.FILLED, "3")
        assert Decimal(str(filled.filled_avg_price)) >= ask
        positions = await sdk(c.get_all_positions)
        assert [(p.symbol, p.qty, p.side.value) for p in positions] == [("SPY", "3", "long")]
        account = await sdk(c.get_account)
        spent = Decimal(3) * Decimal(str(filled.filled_avg_price))
        assert Decimal(account.cash) == Decimal(100_000) - spent
        assert Decimal(account.buying_power) == Decimal(account.cash) - 2 * far
        # duplicate client order id, insufficient buying power, unknown asset
        with pytest.raises(APIError) as dup:
            await sdk(
                c.submit_order,
                LimitOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                                  limit_price=float(far), client_order_id="lim-1"),
            )  # fmt: skip
        assert (dup.value.status_code, dup.value.code, dup.value.message) == (
            422,
            40010001,
            "client_order_id must be unique",
        )
        with pytest.raises(APIError) as poor:
            await sdk(
                c.submit_order,
                LimitOrderRequest(symbol="QQQ", qty=1000, side=OrderSide.BUY, time_in_force=TimeInForce.GTC,
                                  limit_price=370.0),
            )  # fmt: skip
        assert (poor.value.status_code, poor.value.code) == (403, 40310000)
        assert poor.value.message == "insufficient buying power"
        await sdk(c.cancel_order_by_id, lim.id)
        assert (await sdk(c.get_order_by_id, lim.id)).status == OrderStatus.CANCELED
        with pytest.raises(APIError) as again:
            await sdk(c.cancel_order_by_id, lim.id)
        assert (again.value.status_code, again.value.code) == (422, 42210000)
        everything = await sdk(c.get_orders, GetOrdersRequest(status=QueryOrderStatus.ALL))
        assert {o.client_order_id for o in everything} == {"lim-1", mkt.client_order_id}
        assert await sdk(c.get_orders) == []  # default: open
        rest = await sdk(
            c.submit_order,
            LimitOrderRequest(symbol="QQQ", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC,
                              limit_price=300.0),
        )  # fmt: skip
        canceled = await sdk(c.cancel_orders)
        assert [(r.id, r.status) for r in canceled] == [(rest.id, 200)]
        assert server.state()[DEMO_KEY]["submissions"]["lim-1"] == 2

    run(t)


def test_stock_data_stream_receives_quotes_and_trades_in_msgpack() -> None:
    async def t(server: AlpacaSimServer, _: Rest) -> None:
        quotes: list[Quote] = []
        trades: list[Trade] = []
        stream = StockDataStream(DEMO_KEY, DEMO_SECRET, url_override=f"{server.ws_url}/v2/iex")

        async def on_quote(q: Quote | dict[Any, Any]) -> None:
            assert isinstance(q, Quote)
            quotes.append(q)

        async def on_trade(tr: Trade | dict[Any, Any]) -> None:
            assert isinstance(tr, Trade)
            trades.append(tr)

        stream.subscribe_quotes(on_quote, "SPY")
        stream.subscribe_trades(on_trade, "SPY", "QQQ")
        thread = threading.Thread(target=stream.run, daemon=True)
        thread.start()
        try:
            await until(lambda: len(quotes) >= 3 and len(trades) >= 1)
        finally:
            await asyncio.to_thread(stream.stop)
            await server.close_sockets()  # wakes the SDK's receive loop so it sees the stop
            await asyncio.to_thread(thread.join, 5)
        assert not thread.is_alive()
        q = quotes[-1]
        assert q.symbol == "SPY"
        assert 0 < q.bid_price < q.ask_price
        assert q.bid_size > 0
        assert q.bid_exchange == "V"
        assert abs(q.timestamp.timestamp() * 1e9 - server.now_ns()) < 5e9
        assert {tr.symbol for tr in trades} <= {"SPY", "QQQ"}
        assert all(tr.size > 0 and tr.price > 0 for tr in trades)
        assert all(q.symbol == "SPY" for q in quotes)

    run(t)


def test_trading_stream_receives_trade_updates() -> None:
    async def t(server: AlpacaSimServer, _: Rest) -> None:
        updates: list[TradeUpdate] = []
        stream = TradingStream(DEMO_KEY, DEMO_SECRET, paper=True, url_override=f"{server.ws_url}/stream")

        async def on_update(u: TradeUpdate) -> None:
            updates.append(u)

        stream.subscribe_trade_updates(on_update)
        thread = threading.Thread(target=stream.run, daemon=True)
        thread.start()
        c = TradingClient(DEMO_KEY, DEMO_SECRET, paper=True, url_override=server.url)
        try:
            await until(lambda: bool(server.trade_subs))
            order = await asyncio.to_thread(
                c.submit_order,
                MarketOrderRequest(symbol="QQQ", qty=4, side=OrderSide.BUY, time_in_force=TimeInForce.DAY),
            )
            assert isinstance(order, Order)
            await until(lambda: any(u.event == "fill" for u in updates))
        finally:
            await asyncio.to_thread(stream.stop)
            await server.close_sockets()
            await asyncio.to_thread(thread.join, 5)
        assert not thread.is_alive()
        assert updates[0].event == "new"
        fills = [u for u in updates if u.event in ("fill", "partial_fill")]
        assert sum(f.qty or 0 for f in fills) == 4
        assert fills[-1].order.id == order.id
        assert fills[-1].order.status == OrderStatus.FILLED
        assert fills[-1].position_qty == 4
        assert fills[-1].execution_id is not None

    run(t)


# ---- raw protocol ------------------------------------------------------------------------------------


def test_auth_errors_and_validation() -> None:
    async def t(server: AlpacaSimServer, c: Rest) -> None:
        for headers in (
            {},
            {**HEADERS, "APCA-API-SECRET-KEY": "wrong"},
            {**HEADERS, "APCA-API-KEY-ID": "who"},
        ):
            status, body, _ = await c.call("GET", "/v2/account", headers=headers)
            assert (status, body) == (401, {"code": 40110000, "message": "request is not authorized"})
        bid, _ = server.top("SPY")
        cases: list[tuple[dict[str, Any], int, int, str]] = [
            (limit("450.123"), 422, 42210000, "sub-penny"),
            (limit(bid, extended_hours=True, time_in_force="gtc"), 422, 42210000, "extended hours"),
            ({**limit(bid), "symbol": "NOPE"}, 422, 40010001, 'asset "NOPE" not found'),
            ({**limit(bid), "qty": "1.5"}, 422, 40010001, "fractional"),
            ({**limit(bid), "type": "stop"}, 422, 40010001, "not supported"),
            ({**limit(bid), "time_in_force": "week"}, 422, 40010001, "time_in_force"),
            ({k: v for k, v in limit(bid).items() if k != "limit_price"}, 422, 40010001, "limit_price"),
            (limit(bid, side="sell"), 403, 40310000, "insufficient qty available"),
        ]
        for body, status, code, text in cases:
            got_status, got, _ = await c.call("POST", "/v2/orders", body)
            assert (got_status, got["code"]) == (status, code), body
            assert text in got["message"]
        async with c.session.post(f"{c.url}/v2/orders", data=b"{nope", headers=HEADERS) as r:
            assert r.status == 400
            assert (await r.json())["code"] == 40010000
        status, body, _ = await c.call("GET", "/v2/orders/4b5c3a1e-0000-4000-8000-000000000000")
        assert (status, body["code"]) == (404, 40410000)
        status, body, _ = await c.call("GET", "/v2/orders/not-a-uuid")
        assert (status, body["code"]) == (422, 40010001)
        status, body, _ = await c.call("GET", "/v2/orders:by_client_order_id", client_order_id="never")
        assert (status, body["code"]) == (404, 40410000)
        status, body, _ = await c.call("GET", "/v2/assets/NOPE")
        assert status == 404
        # a numeric JSON price is taken exactly as written
        status, body, _ = await c.call(
            "POST", "/v2/orders", {**limit(bid), "qty": 1, "limit_price": float(bid)}
        )
        assert (status, body["limit_price"], body["qty"]) == (200, f"{bid:.2f}", "1")
        # an order that could trade with our own resting order is refused
        _, ask = server.top("SPY")
        status, body, _ = await c.call("POST", "/v2/orders", limit(ask + 1, qty=1, side="buy"))
        assert status == 200
        await until(lambda: server.state()[DEMO_KEY]["positions"].get("SPY") == "1")
        status, body, _ = await c.call("POST", "/v2/orders", limit(bid - 1, qty=1, side="sell"))
        assert (status, body["code"]) == (403, 40310000)
        assert "wash trade" in body["message"]

    run(t)


def test_rate_limit_is_per_account_per_minute() -> None:
    async def t(server: AlpacaSimServer, c: Rest) -> None:
        for n in range(1, 6):
            status, _, headers = await c.call("GET", "/v2/clock")
            assert status == 200
            assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("5", str(5 - n))
        status, body, headers = await c.call("GET", "/v2/clock")
        assert (status, body["code"], body["message"]) == (429, 42910000, "rate limit exceeded")
        reset = int(headers["X-RateLimit-Reset"])
        assert reset % 60 == 0
        assert 0 < reset - server.now_ns() // 1_000_000_000 <= 60
        server.clock.set(reset * 1_000_000_000)  # type: ignore[attr-defined]
        assert (await c.call("GET", "/v2/clock"))[0] == 200

    run(t, rate_limit=5)


def test_orders_wait_for_market_hours_and_day_orders_expire() -> None:
    saturday = eastern_ns(2024, 1, 13, 12, 0)

    async def t(server: AlpacaSimServer, c: Rest) -> None:
        clock = server.clock
        assert isinstance(clock, ShiftedClock)
        _, now, _ = await c.call("GET", "/v2/clock")
        assert now["is_open"] is False
        assert now["next_open"].startswith("2024-01-15T09:30:00")
        mkt = {"symbol": "SPY", "qty": "2", "side": "buy", "type": "market", "time_in_force": "day"}
        _, placed, _ = await c.call("POST", "/v2/orders", mkt)
        assert placed["status"] == "accepted"
        bid, _ = server.top("SPY")
        _, ext, _ = await c.call(
            "POST", "/v2/orders", limit(bid - 2, extended_hours=True, client_order_id="x")
        )
        _, gtc, _ = await c.call(
            "POST", "/v2/orders", limit(bid - 2, time_in_force="gtc", client_order_id="g")
        )
        await LiveClock().sleep(0.1)  # steps pass: nothing may route on a Saturday
        assert (await c.call("GET", f"/v2/orders/{placed['id']}"))[1]["status"] == "accepted"
        assert parse_rfc3339(ext["expires_at"]) == eastern_ns(2024, 1, 15, 20, 0)
        # Monday pre-market: only the extended-hours order routes
        clock.set(eastern_ns(2024, 1, 15, 8, 0))
        await until(lambda: server.orders[ext["id"]].status == "new")
        assert server.orders[placed["id"]].status == "accepted"
        assert server.orders[gtc["id"]].status == "accepted"
        # the open: the market order fills, the GTC limit rests
        clock.set(eastern_ns(2024, 1, 15, 9, 30))
        await until(lambda: server.orders[placed["id"]].status == "filled")
        await until(lambda: server.orders[gtc["id"]].status == "new")
        # the close: the regular DAY order would expire, the extended one lives until 20:00; GTC is parked
        _, day, _ = await c.call("POST", "/v2/orders", limit(bid - 3, client_order_id="d"))
        await until(lambda: server.orders[day["id"]].status == "new")
        clock.set(eastern_ns(2024, 1, 15, 16, 0))
        await until(lambda: server.orders[day["id"]].status == "expired")
        assert server.orders[ext["id"]].status == "new"
        assert server.orders[gtc["id"]].status == "new"
        assert server.orders[gtc["id"]].engine_id == 0
        clock.set(eastern_ns(2024, 1, 15, 20, 0))
        await until(lambda: server.orders[ext["id"]].status == "expired")
        _, expired, _ = await c.call("GET", f"/v2/orders/{day['id']}")
        assert expired["expired_at"] is not None
        _, open_orders, _ = await c.call("GET", "/v2/orders")
        assert [o["client_order_id"] for o in open_orders] == ["g"]

    run(t, start_ns=saturday)


def test_ioc_fok_and_resting_fills_from_the_background_market() -> None:
    async def t(server: AlpacaSimServer, c: Rest) -> None:
        bid, ask = server.top("SPY")
        _, fok, _ = await c.call("POST", "/v2/orders", limit(ask, qty=100, time_in_force="fok"))
        _, ioc, _ = await c.call("POST", "/v2/orders", limit(bid - 5, qty=1, time_in_force="ioc"))
        await until(lambda: server.orders[ioc["id"]].status == "canceled")
        assert server.orders[fok["id"]].status in ("filled", "canceled")
        # a resting buy gets hit by another participant selling through it
        _, rest, _ = await c.call("POST", "/v2/orders", limit(bid, qty=3, client_order_id="r"))
        await until(lambda: server.orders[rest["id"]].status == "new")
        bids, _ = server.depth("SPY")
        through = sum(q for p, q in bids if p >= int(bid * 100))
        server.hit("SPY", "sell", through, bid)
        assert server.orders[rest["id"]].status == "filled"
        _, acts, _ = await c.call("GET", "/v2/account/activities/FILL", direction="asc")
        mine = [a for a in acts if a["order_id"] == rest["id"]]
        assert sum(int(a["qty"]) for a in mine) == 3
        assert mine[-1]["cum_qty"] == "3"
        assert all(a["price"] == f"{bid:.2f}" for a in mine)
        page = (await c.call("GET", "/v2/account/activities/FILL", direction="asc", page_size="1"))[1]
        assert len(page) == 1
        nxt = (await c.call("GET", "/v2/account/activities/FILL", direction="asc", page_token=page[0]["id"]))[
            1
        ]
        assert [a["id"] for a in nxt] == [a["id"] for a in acts[1:]]

    run(t)


def test_data_stream_json_mode_errors_and_connection_limit() -> None:
    async def t(server: AlpacaSimServer, c: Rest) -> None:
        url = f"{server.ws_url}/v2/sip"
        async with c.session.ws_connect(url) as ws:
            assert orjson.loads(await ws.receive_str()) == [{"T": "success", "msg": "connected"}]
            await ws.send_str('{"action":"subscribe","quotes":["SPY"]}')
            assert orjson.loads(await ws.receive_str()) == [
                {"T": "error", "code": 401, "msg": "not authenticated"}
            ]
            await ws.send_str("not json")
            assert orjson.loads(await ws.receive_str())[0]["code"] == 400
            await ws.send_str(
                orjson.dumps({"action": "auth", "key": DEMO_KEY, "secret": DEMO_SECRET}).decode()
            )
            assert orjson.loads(await ws.receive_str()) == [{"T": "success", "msg": "authenticated"}]
            async with c.session.ws_connect(url) as second:
                await second.receive_str()
                await second.send_str(
                    orjson.dumps({"action": "auth", "key": DEMO_KEY, "secret": DEMO_SECRET}).decode()
                )
                assert orjson.loads(await second.receive_str())[0]["code"] == 406
            await ws.send_str('{"action":"subscribe","quotes":["SPY"],"trades":["*"]}')
            ack = orjson.loads(await ws.receive_str())[0]
            assert (ack["T"], ack["quotes"], ack["trades"], ack["corrections"]) == (
                "subscription",
                ["SPY"],
                ["*"],
                ["*"],
            )
            seen: dict[str, dict[str, Any]] = {}
            while len(seen) < 2:
                for m in orjson.loads(await LiveClock().wait_for(ws.receive_str(), 3)):
                    seen[m["T"]] = m
            q = seen["q"]
            assert q["S"] == "SPY"
            assert q["bx"] == "P"  # SIP: the listing exchange, NYSE Arca
            assert Decimal(str(q["bp"])) < Decimal(str(q["ap"]))
            assert abs(parse_rfc3339(q["t"]) - server.now_ns()) < 5_000_000_000
            assert isinstance(seen["t"]["s"], int)
            await ws.send_str('{"action":"unsubscribe","quotes":["SPY"],"trades":["*"]}')
            while True:  # frames already in flight may come first
                msg = orjson.loads(await ws.receive_str())[0]
                if msg["T"] == "subscription":
                    assert msg["quotes"] == msg["trades"] == []
                    break
        async with c.session.ws_connect(url) as bad:
            await bad.receive_str()
            await bad.send_bytes(msgpack.packb({"action": "auth", "key": DEMO_KEY, "secret": "nope"}))
            assert orjson.loads(await bad.receive_str()) == [
                {"T": "error", "code": 402, "msg": "auth failed"}
            ]
            assert (await bad.receive()).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

    run(t)


def test_trade_stream_raw_auth_and_msgpack_mode() -> None:
    async def t(server: AlpacaSimServer, c: Rest) -> None:
        url = f"{server.ws_url}/stream"
        async with c.session.ws_connect(url) as ws:
            await ws.send_str('{"action":"authenticate","data":{"key_id":"who","secret_key":"x"}}')
            reply = orjson.loads(await ws.receive_bytes())
            assert reply["data"]["status"] == "unauthorized"
        headers = {"Content-Type": "application/msgpack"}
        async with c.session.ws_connect(url, headers=headers) as ws:
            await ws.send_bytes(msgpack.packb({"action": "auth", "key": DEMO_KEY, "secret": DEMO_SECRET}))
            assert msgpack.unpackb(await ws.receive_bytes())["data"]["status"] == "authorized"
            await ws.send_bytes(msgpack.packb({"action": "listen", "data": {"streams": ["trade_updates"]}}))
            assert msgpack.unpackb(await ws.receive_bytes()) == {
                "stream": "listening",
                "data": {"streams": ["trade_updates"]},
            }
            bid, _ = server.top("QQQ")
            _, placed, _ = await c.call("POST", "/v2/orders", {**limit(bid - 1), "symbol": "QQQ"})
            update = msgpack.unpackb(await LiveClock().wait_for(ws.receive_bytes(), 3))
            assert update["stream"] == "trade_updates"
            assert (update["data"]["event"], update["data"]["order"]["id"]) == ("new", placed["id"])

    run(t)


def test_dropped_order_response_leaves_one_order_and_admin_faults() -> None:
    async def t(server: AlpacaSimServer, c: Rest) -> None:
        async with c.session.post(f"{c.url}/sim/faults", json={"drop_response_rate": 1.0}) as r:
            assert r.status == 200
        bid, _ = server.top("SPY")
        with pytest.raises(aiohttp.ClientError):
            await c.call("POST", "/v2/orders", limit(bid - 1, client_order_id="lost"))
        assert (await c.call("GET", "/v2/clock"))[0] == 200  # other paths are not faulted
        async with c.session.post(f"{c.url}/sim/faults/reset") as r:
            assert r.status == 200
        assert server.faults == Faults(seed=server.seed, paths=("POST /v2/orders", "DELETE /v2/orders"))
        status, found, _ = await c.call("GET", "/v2/orders:by_client_order_id", client_order_id="lost")
        assert (status, found["status"]) == (200, "new")
        state = server.state()[DEMO_KEY]
        assert state["submissions"] == {"lost": 1}
        assert [o["client_order_id"] for o in state["orders"]] == ["lost"]
        assert "secret" not in repr(server.accounts[DEMO_KEY]).lower()
        assert DEMO_SECRET not in repr(server.accounts[DEMO_KEY])

    run(t)
