"""USD-M futures on the simulator, raw protocol: public endpoints, weights, order rejections, the
`pu` depth chain, routed streams, the dead-man switch, self-trade prevention and user data."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import orjson
import pytest

from tests.sim.binance.helpers import (
    CLOCK,
    QUIET,
    Client,
    Signer,
    f_far_bid,
    f_limit,
    fpx,
    run,
)
from trader.clock import SimClock
from trader.sim.binance import DEMO_KEY, BinanceSimServer
from trader.sim.binance.errors import ApiError
from trader.sim.binance.limits import Limits
from trader.sim.binance.state import FUTURES_MARKET, Account


def test_futures_public_endpoints_and_usage_headers() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        status, info, headers = await c.public("/fapi/v1/exchangeInfo")
        assert status == 200
        limits = {
            (x["rateLimitType"], x["interval"], x["intervalNum"]): x["limit"] for x in info["rateLimits"]
        }
        assert limits == {
            ("REQUEST_WEIGHT", "MINUTE", 1): 2400,
            ("ORDERS", "MINUTE", 1): 1200,
            ("ORDERS", "SECOND", 10): 300,
        }
        assert headers["X-MBX-USED-WEIGHT-1M"] == "1"
        status, depth, headers = await c.public("/fapi/v1/depth", "symbol=BTCUSDT&limit=5")
        assert {"lastUpdateId", "E", "T", "bids", "asks"} <= set(depth)
        assert len(depth["bids"]) == 5
        assert Decimal(depth["bids"][0][0]) < Decimal(depth["asks"][0][0])
        assert headers["X-MBX-USED-WEIGHT-1M"] == "3", "futures weight is its own budget: 1 + 2"
        assert (await c.public("/fapi/v1/depth", "symbol=BTCUSDT&limit=7"))[1]["code"] == -1100
        assert (await c.public("/fapi/v1/depth", "symbol=BTCUSDT&limit=abc"))[1]["code"] == -1100
        _, _, headers = await c.call("POST", "/fapi/v1/order", f_limit("BUY", f_far_bid(server)))
        assert (headers["X-MBX-ORDER-COUNT-10S"], headers["X-MBX-ORDER-COUNT-1M"]) == ("1", "1")
        _, _, headers = await c.public("/api/v3/time")
        assert headers["X-MBX-USED-WEIGHT-1M"] == "1", "spot weight untouched by futures calls"

    run(t)


def test_futures_weight_limit_429_then_418() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        for _ in range(2):
            assert (await c.public("/fapi/v1/depth", "symbol=BTCUSDT&limit=1000"))[0] == 200
        status, body, headers = await c.public("/fapi/v1/depth", "symbol=BTCUSDT&limit=1000")
        assert (status, body["code"]) == (429, -1003)
        assert int(headers["Retry-After"]) >= 1
        assert (await c.public("/fapi/v1/ping"))[0] == 418
        assert (await c.public("/api/v3/ping"))[0] == 200, "the spot budget is separate"

    run(t, futures_weight_limit=50)


def test_futures_post_only_fok_and_reduce_only_rejections() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        ask = server.f_engine.best_ask()
        bid = server.f_engine.best_bid()
        assert ask is not None
        assert bid is not None
        # GTX that would take: -5022, not recorded
        status, body, _ = await c.call(
            "POST", "/fapi/v1/order", f_limit("BUY", fpx(ask), timeInForce="GTX", newClientOrderId="gtx-1")
        )
        assert (status, body["code"]) == (400, -5022)
        assert body["msg"].startswith(
            "Due to the order could not be executed as maker, the Post Only order will be rejected."
        )
        assert (await c.call("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "gtx-1"}))[
            1
        ]["code"] == -2013
        # GTX that would rest is fine
        gtx = await c.ok("POST", "/fapi/v1/order", f_limit("BUY", fpx(bid), timeInForce="GTX"))
        assert gtx["status"] == "NEW"
        # FOK that cannot fill completely: -5021
        assert (
            await c.call("POST", "/fapi/v1/order", f_limit("BUY", fpx(ask), qty="5.000", timeInForce="FOK"))
        )[1]["code"] == -5021
        # reduceOnly with no position: -2022
        reduce = {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "MARKET",
            "quantity": "0.010",
            "reduceOnly": "true",
        }
        status, body, _ = await c.call("POST", "/fapi/v1/order", reduce)
        assert (status, body["code"], body["msg"]) == (400, -2022, "ReduceOnly Order is rejected.")
        long = await c.ok(
            "POST",
            "/fapi/v1/order",
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "MARKET",
                "quantity": "0.010",
                "newOrderRespType": "RESULT",
            },
        )
        assert long["status"] == "FILLED"
        increase = {**reduce, "side": "BUY"}
        assert (await c.call("POST", "/fapi/v1/order", increase))[1]["code"] == -2022, "would increase"
        assert (await c.call("POST", "/fapi/v1/order", {**reduce, "quantity": "0.020"}))[1]["code"] == -2022
        closed = await c.ok(
            "POST", "/fapi/v1/order", {**reduce, "quantity": "0.005", "newOrderRespType": "RESULT"}
        )
        assert closed["status"] == "FILLED"
        assert closed["reduceOnly"] is True
        assert server.state()[DEMO_KEY]["futures"]["position"]["positionAmt"] == "0.005"

    run(t, step_ms=QUIET)


def test_futures_margin_filter_and_duplicate_rejections() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        ask = server.f_engine.best_ask()
        bid = server.f_engine.best_bid()
        assert ask is not None
        assert bid is not None
        # margin: 1x leverage and a notional beyond the wallet
        await c.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 1})
        big = f_limit("BUY", fpx(bid - 50), qty="3.000")
        status, body, _ = await c.call("POST", "/fapi/v1/order", big)
        assert (status, body["code"], body["msg"]) == (400, -2019, "Margin is insufficient.")
        await c.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 20})
        assert (await c.ok("POST", "/fapi/v1/order", big))["status"] == "NEW", "20x: the same order fits"
        # filters and duplicates
        assert (await c.call("POST", "/fapi/v1/order", f_limit("BUY", fpx(bid - 50), qty="0.001")))[1][
            "code"
        ] == -4164
        assert (
            await c.call(
                "POST", "/fapi/v1/order", f_limit("BUY", f"{Decimal(fpx(bid)) + Decimal('0.05'):.2f}")
            )
        )[1]["code"] == -4014
        assert (await c.call("POST", "/fapi/v1/order", f_limit("BUY", fpx(bid), qty="0.0101")))[1][
            "code"
        ] == -1111
        assert (await c.call("POST", "/fapi/v1/order", f_limit("BUY", fpx(ask * 11 // 10))))[1][
            "code"
        ] == -4016
        assert (await c.call("POST", "/fapi/v1/order", f_limit("SELL", fpx(bid * 9 // 10))))[1][
            "code"
        ] == -4024
        await c.ok("POST", "/fapi/v1/order", f_limit("BUY", fpx(bid - 60), newClientOrderId="dup"))
        status, body, _ = await c.call(
            "POST", "/fapi/v1/order", f_limit("BUY", fpx(bid - 60), newClientOrderId="dup")
        )
        assert (status, body["code"]) == (400, -4116)
        assert server.state()[DEMO_KEY]["futures"]["submissions"]["dup"] == 2
        stop = {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "STOP_MARKET",
            "quantity": "0.010",
            "stopPrice": "1",
        }
        assert (await c.call("POST", "/fapi/v1/order", stop))[1]["code"] == -4120
        assert (await c.call("POST", "/fapi/v1/order", f_limit("BUY", fpx(bid), positionSide="LONG")))[1][
            "code"
        ] == -4061
        assert (await c.call("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": 1}))[1][
            "code"
        ] == -2013
        assert (await c.call("GET", "/fapi/v2/account", signer=Signer("wrong")))[1]["code"] == -1022
        assert (await c.call("GET", "/fapi/v2/account", ts_ms=1000))[1]["code"] == -1021
        assert (await c.call("POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT", "marginType": "ISOLATED"}))[
            1
        ]["code"] == -4047

    run(t, step_ms=QUIET)


def apply_levels(book: dict[tuple[str, Decimal], Decimal], ev: dict[str, Any]) -> None:
    for side in ("b", "a"):
        for p, q in ev[side]:
            if Decimal(q) == 0:
                book.pop((side, Decimal(p)), None)
            else:
                book[(side, Decimal(p))] = Decimal(q)


def snapshot_book(snap: dict[str, Any]) -> dict[tuple[str, Decimal], Decimal]:
    book = {("b", Decimal(p)): Decimal(q) for p, q in snap["bids"]}
    book |= {("a", Decimal(p)): Decimal(q) for p, q in snap["asks"]}
    return book


def test_futures_depth_stream_pu_chain_continues_the_snapshot() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        async with c.session.ws_connect(f"{server.ws_url}/public/ws/btcusdt@depth@100ms") as ws:

            async def event() -> dict[str, Any]:
                ev: dict[str, Any] = orjson.loads((await ws.receive(timeout=5)).data)
                return ev

            buffered = [await event()]  # buffer from before the snapshot, as the docs say
            assert (buffered[0]["e"], buffered[0]["s"]) == ("depthUpdate", "BTCUSDT")
            assert {"E", "T", "U", "u", "pu"} <= set(buffered[0])
            _, snap, _ = await c.public("/fapi/v1/depth", "symbol=BTCUSDT&limit=1000")
            book, last_id = snapshot_book(snap), snap["lastUpdateId"]
            prev_u: int | None = None
            jumps = applied = 0
            while applied < 15:
                ev = buffered.pop(0) if buffered else await event()
                if ev["u"] < last_id:
                    continue
                if prev_u is None:
                    assert ev["U"] <= last_id <= ev["u"], "the first event spans the snapshot id"
                else:
                    assert ev["pu"] == prev_u, "pu chains to the previous event's u"
                    jumps += ev["U"] != prev_u + 1
                apply_levels(book, ev)
                prev_u = ev["u"]
                applied += 1
            assert jumps, "ids jump between events, so only pu can be trusted"
            # a fresh snapshot publishes its pending diff first, so it sits exactly on an event's u
            _, fresh, _ = await c.public("/fapi/v1/depth", "symbol=BTCUSDT&limit=1000")
            while prev_u < fresh["lastUpdateId"]:
                ev = await event()
                assert ev["pu"] == prev_u
                apply_levels(book, ev)
                prev_u = ev["u"]
            assert prev_u == fresh["lastUpdateId"]
            assert max(len(fresh["bids"]), len(fresh["asks"])) < 1000, "the snapshot is the whole book"
            assert book == snapshot_book(fresh)

    run(t)


def test_futures_gap_fault_breaks_the_pu_chain() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        async with c.session.ws_connect(f"{server.ws_url}/public/ws/btcusdt@depth@100ms") as ws:
            a = orjson.loads((await ws.receive(timeout=5)).data)
            server.faults.sequence_gap = True
            for _ in range(30):
                b = orjson.loads((await ws.receive(timeout=5)).data)
                if b["pu"] != a["u"]:
                    break
                a = b
            assert b["pu"] != a["u"], "one event never sent: its successor's pu names it"

    run(t)


def test_futures_routed_streams_book_ticker_agg_trade_mark_price() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        url = server.ws_url
        async with (
            c.session.ws_connect(f"{url}/public/ws/btcusdt@bookTicker") as bt,
            c.session.ws_connect(f"{url}/market/stream?streams=btcusdt@aggTrade/btcusdt@markPrice@1s") as mk,
            c.session.ws_connect(f"{url}/market/ws/btcusdt@bookTicker") as wrong_route,
            c.session.ws_connect(f"{url}/ws/btcusdt@bookTicker") as spot,
            c.session.ws_connect(
                f"{url}/public/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker"
            ) as both,
        ):
            ev = orjson.loads((await bt.receive(timeout=5)).data)
            assert ev["e"] == "bookTicker"
            assert Decimal(ev["b"]) < Decimal(ev["a"])
            assert {"u", "s", "B", "A", "T", "E"} <= set(ev)
            spot_ev = orjson.loads((await spot.receive(timeout=5)).data)
            assert set(spot_ev) == {"u", "s", "b", "B", "a", "A"}, "the spot bookTicker shape"
            streams: set[str] = set()
            while len(streams) < 2:
                streams.add(orjson.loads((await both.receive(timeout=5)).data)["stream"])
            assert streams == {"btcusdt@depth@100ms", "btcusdt@bookTicker"}
            # our own market order prints an aggTrade on the market route
            await c.ok(
                "POST",
                "/fapi/v1/order",
                {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"},
            )
            seen: set[str] = set()
            while len(seen) < 2:
                msg = orjson.loads((await mk.receive(timeout=5)).data)
                seen.add(msg["stream"])
                if msg["stream"] == "btcusdt@aggTrade":
                    assert msg["data"]["e"] == "aggTrade"
                    assert Decimal(msg["data"]["q"]) > 0
                else:
                    assert msg["data"]["e"] == "markPriceUpdate"
            with pytest.raises(asyncio.TimeoutError):
                await wrong_route.receive(timeout=0.3)  # book streams live on /public only

    run(t)


def test_countdown_cancel_all_fires_unless_refreshed() -> None:
    clock = SimClock(CLOCK.now_ns())

    async def t(server: BinanceSimServer, c: Client) -> None:
        bid = f_far_bid(server)
        o1 = await c.ok("POST", "/fapi/v1/order", f_limit("BUY", bid, newClientOrderId="dm-1"))
        armed = await c.ok(
            "POST", "/fapi/v1/countdownCancelAll", {"symbol": "BTCUSDT", "countdownTime": 5000}
        )
        assert armed == {"symbol": "BTCUSDT", "countdownTime": "5000"}
        clock.advance(4_000_000_000)
        server.on_step(0)
        assert (await c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": o1["orderId"]}))[
            "status"
        ] == "NEW"
        await c.ok(
            "POST", "/fapi/v1/countdownCancelAll", {"symbol": "BTCUSDT", "countdownTime": 5000}
        )  # heartbeat
        clock.advance(4_000_000_000)  # 8 s after the first arming, 4 s after the refresh
        server.on_step(0)
        assert (await c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": o1["orderId"]}))[
            "status"
        ] == "NEW"
        countdown = server.state()[DEMO_KEY]["futures"]["countdown"]
        assert (countdown["armed"], countdown["fired"]) == (True, 0)
        clock.advance(1_500_000_000)
        server.on_step(0)
        assert (await c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": o1["orderId"]}))[
            "status"
        ] == "CANCELED"
        countdown = server.state()[DEMO_KEY]["futures"]["countdown"]
        assert (countdown["armed"], countdown["fired"], countdown["canceled"]) == (False, 1, [o1["orderId"]])
        # disarmed with 0: nothing happens later
        o2 = await c.ok("POST", "/fapi/v1/order", f_limit("BUY", bid, newClientOrderId="dm-2"))
        await c.ok("POST", "/fapi/v1/countdownCancelAll", {"symbol": "BTCUSDT", "countdownTime": 1000})
        await c.ok("POST", "/fapi/v1/countdownCancelAll", {"symbol": "BTCUSDT", "countdownTime": 0})
        clock.advance(10_000_000_000)
        server.on_step(0)
        assert (await c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": o2["orderId"]}))[
            "status"
        ] == "NEW"
        assert server.state()[DEMO_KEY]["futures"]["countdown"]["fired"] == 1

    run(t, clock=clock)


def test_futures_self_trade_prevention() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        bid, ask = server.f_engine.best_bid(), server.f_engine.best_ask()
        assert bid is not None
        assert ask is not None
        own_ask = await c.ok(
            "POST", "/fapi/v1/order", f_limit("SELL", fpx(ask - 1) if ask - 1 > bid else fpx(ask))
        )
        # EXPIRE_TAKER: the buy stops before our own ask (nothing better in between), remainder expired
        taker = await c.ok(
            "POST",
            "/fapi/v1/order",
            f_limit("BUY", fpx(ask + 5), selfTradePreventionMode="EXPIRE_TAKER", newOrderRespType="RESULT"),
        )
        assert taker["status"] == "EXPIRED_IN_MATCH"
        assert (await c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": own_ask["orderId"]}))[
            "status"
        ] == "NEW"
        # EXPIRE_MAKER: our resting ask is expired, the buy trades with others
        taker = await c.ok(
            "POST",
            "/fapi/v1/order",
            f_limit("BUY", fpx(ask + 50), selfTradePreventionMode="EXPIRE_MAKER", newOrderRespType="RESULT"),
        )
        assert taker["status"] == "FILLED"
        maker = await c.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": own_ask["orderId"]})
        assert (maker["status"], maker["executedQty"]) == ("EXPIRED_IN_MATCH", "0.000")
        assert all(not t["maker"] for t in await c.ok("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"}))

    run(t, step_ms=QUIET)


# ---- futures user data ---------------------------------------------------------------------------------


# the fields of a futures ORDER_TRADE_UPDATE order ("o"), as Binance documents them
ORDER_UPDATE_KEYS = "s c S o f q p ap sp x X i l z L N n T t b a m R wt ot ps cp rp V pm gtd"


def test_futures_user_data_order_and_account_updates() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        status, body = await c.keyed("POST", "/fapi/v1/listenKey")
        assert status == 200
        lk = body["listenKey"]
        assert (await c.keyed("POST", "/fapi/v1/listenKey"))[1]["listenKey"] == lk, "the active key again"
        assert (await c.keyed("PUT", "/fapi/v1/listenKey"))[1] == {"listenKey": lk}
        assert (await c.keyed("POST", "/fapi/v1/listenKey", key="nobody"))[0] == 401
        events = "ORDER_TRADE_UPDATE/ACCOUNT_UPDATE"
        async with (
            c.session.ws_connect(f"{server.ws_url}/private/ws?listenKey={lk}&events={events}") as ws,
            c.session.ws_connect(f"{server.ws_url}/private/ws/{lk}") as all_events,
        ):
            await c.ok("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 10})
            config = orjson.loads((await all_events.receive(timeout=5)).data)
            assert (config["e"], config["ac"]) == ("ACCOUNT_CONFIG_UPDATE", {"s": "BTCUSDT", "l": 10})
            order = await c.ok(
                "POST",
                "/fapi/v1/order",
                {
                    "symbol": "BTCUSDT",
                    "side": "BUY",
                    "type": "MARKET",
                    "quantity": "0.010",
                    "newClientOrderId": "ud-1",
                },
            )
            assert order["status"] == "NEW", "ACK (the default) answers before matching"
            got: list[dict[str, Any]] = []

            def done() -> bool:
                filled = any(e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["X"] == "FILLED" for e in got)
                return filled and any(
                    e["e"] == "ACCOUNT_UPDATE" and e["a"]["P"][0]["pa"] == "0.010" for e in got
                )

            while not done():
                got.append(orjson.loads((await ws.receive(timeout=5)).data))
            updates = [e["o"] for e in got if e["e"] == "ORDER_TRADE_UPDATE"]
            assert (updates[0]["x"], updates[0]["X"], updates[0]["c"]) == ("NEW", "NEW", "ud-1")
            trades = [u for u in updates if u["x"] == "TRADE"]
            assert trades
            assert trades[-1]["X"] == "FILLED"
            assert trades[-1]["z"] == "0.010"
            assert sum(Decimal(u["l"]) for u in trades) == Decimal("0.010")
            assert all(u["N"] == "USDT" and Decimal(u["n"]) > 0 and u["m"] is False for u in trades)
            expected_keys = set(ORDER_UPDATE_KEYS.split())
            assert expected_keys <= set(updates[0])
            account = [e for e in got if e["e"] == "ACCOUNT_UPDATE"][-1]["a"]
            assert account["m"] == "ORDER"
            (position,) = account["P"]
            assert (position["s"], position["pa"], position["mt"], position["ps"]) == (
                "BTCUSDT",
                "0.010",
                "cross",
                "BOTH",
            )
            assert Decimal(position["ep"]) == Decimal(trades[-1]["ap"])
            (usdt,) = account["B"]
            assert usdt["a"] == "USDT"
            assert Decimal(usdt["wb"]) < 100_000
            assert {"wb", "cw", "bc"} <= set(usdt)
            assert {"ep", "cr", "up", "iw"} <= set(position)
            # the unfiltered socket saw the same order events
            seen = [orjson.loads((await all_events.receive(timeout=5)).data) for _ in range(len(got))]
            assert [e["e"] for e in seen] == [e["e"] for e in got]
        assert (await c.keyed("DELETE", "/fapi/v1/listenKey"))[0] == 200
        async with c.session.get(f"{server.url}/private/ws?listenKey={lk}") as r:
            assert (r.status, (await r.json())["code"]) == (400, -1125)

    run(t)


def test_order_windows_count_what_is_inside_them_and_forget_the_rest() -> None:
    """The order-rate windows (10 s, and 1 min for futures) count the orders inside them, as the headers
    say, refuse the one over a limit (-1015) and forget what left the longest window."""
    clock = SimClock(1_700_000_000_000_000_000)
    limits = Limits(
        clock, weight_limit=6000, orders_per_10s=3, futures_weight_limit=2400,
        futures_orders_per_10s=3, futures_orders_per_1m=4,
    )  # fmt: skip
    acct = Account(b"s", {})

    def order() -> None:
        now = limits.admit_order(FUTURES_MARKET, acct)  # as the books do: admitted, then recorded
        acct.order_times.append(now)

    def counts() -> list[int]:
        return [n for _, n in limits.order_counts(FUTURES_MARKET, acct)]

    for _ in range(3):
        order()
    assert counts() == [3, 3]
    with pytest.raises(ApiError) as e:
        order()
    assert e.value.code == -1015
    clock.advance(10_000_000_000)  # the 10 s window moves past them; the minute does not
    assert counts() == [0, 3]
    order()
    with pytest.raises(ApiError, match="current limit is 4 orders per MINUTE"):
        order()
    clock.advance(51_000_000_000)  # the first three leave the minute too
    assert counts() == [0, 1]
    order()
    assert counts() == [1, 2]
    assert len(acct.order_times) == 2, "what left the longest window is forgotten"
