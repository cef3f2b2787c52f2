"""What clients call besides trading, asked by the official SDK (python-binance, unmodified) of the
simulator: tickers, trades, klines, status, fees, leverage brackets, mark price and funding, position mode,
and a market order by quote amount. Shapes as the SDK's documented examples."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.sim.binance.helpers import Client, run, sdk_session
from trader.sim.binance import BinanceSimServer

SPOT_24HR = {
    "symbol", "priceChange", "priceChangePercent", "weightedAvgPrice", "prevClosePrice", "lastPrice",
    "lastQty", "bidPrice", "bidQty", "askPrice", "askQty", "openPrice", "highPrice", "lowPrice", "volume",
    "quoteVolume", "openTime", "closeTime", "firstId", "lastId", "count",
}  # fmt: skip
FUTURES_24HR = SPOT_24HR - {"prevClosePrice", "bidPrice", "bidQty", "askPrice", "askQty"}


async def _traded(server: BinanceSimServer, c: Client) -> None:
    """Public trades on both books at once: market orders (the background market's come at random)."""
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}
    for _ in range(3):
        await c.ok("POST", "/api/v3/order", {**order, "quantity": "0.001"})
        await c.ok("POST", "/fapi/v1/order", {**order, "quantity": "0.010"})
    assert len(server.spot_tape.prints) >= 3
    assert len(server.futures_tape.prints) >= 3


def _check_klines(rows: list[list[Any]]) -> None:
    assert rows
    for row in rows:
        assert len(row) == 12
        open_ms, o, h, lo, c, v, close_ms = row[:7]
        assert close_ms == open_ms + 59_999
        assert Decimal(lo) <= min(Decimal(o), Decimal(c)) <= max(Decimal(o), Decimal(c)) <= Decimal(h)
        assert Decimal(v) > 0
        assert row[8] > 0


def test_python_binance_reads_the_spot_tape_status_and_fees() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        await _traded(server, c)

        def body(client: Any) -> None:
            ticker = client.get_ticker(symbol="BTCUSDT")
            assert set(ticker) == SPOT_24HR
            assert Decimal(ticker["lowPrice"]) <= Decimal(ticker["lastPrice"]) <= Decimal(ticker["highPrice"])
            assert ticker["count"] == ticker["lastId"] - ticker["firstId"] + 1 > 0
            assert [t["symbol"] for t in client.get_ticker()] == ["BTCUSDT"]  # every symbol: a list
            book = client.get_orderbook_ticker(symbol="BTCUSDT")
            depth = client.get_order_book(symbol="BTCUSDT", limit=5)
            assert (book["bidPrice"], book["askPrice"]) == (depth["bids"][0][0], depth["asks"][0][0])
            assert Decimal(client.get_symbol_ticker(symbol="BTCUSDT")["price"]) > 0
            aggs = client.get_aggregate_trades(symbol="BTCUSDT", limit=3)
            assert len(aggs) == 3
            assert set(aggs[0]) == {"a", "p", "q", "f", "l", "T", "m", "M"}
            assert [a["a"] for a in client.get_aggregate_trades(symbol="BTCUSDT", fromId=aggs[0]["a"])][
                :3
            ] == [a["a"] for a in aggs]
            recent = client.get_recent_trades(symbol="BTCUSDT", limit=2)
            assert set(recent[0]) == {"id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"}
            _check_klines(client.get_klines(symbol="BTCUSDT", interval="1m"))
            assert client.get_system_status() == {"status": 0, "msg": "normal"}
            assert client.get_trade_fee(symbol="BTCUSDT") == [
                {"symbol": "BTCUSDT", "makerCommission": "0", "takerCommission": "0.0005"}
            ]

        await sdk_session(server, body)
        commission = await c.ok("GET", "/api/v3/account/commission", {"symbol": "BTCUSDT"})
        assert commission["standardCommission"] == {
            "maker": "0.00000000",
            "taker": "0.00050000",
            "buyer": "0.00000000",
            "seller": "0.00000000",
        }
        assert set(commission) == {
            "symbol",
            "standardCommission",
            "specialCommission",
            "taxCommission",
            "discount",
        }
        status, err, _ = await c.public("/api/v3/klines", "symbol=BTCUSDT&interval=7m")
        assert (status, err["code"]) == (400, -1120)

    run(t)


def test_python_binance_reads_the_futures_tape_mark_price_funding_and_modes() -> None:
    from binance.exceptions import BinanceAPIException

    async def t(server: BinanceSimServer, c: Client) -> None:
        await _traded(server, c)

        def body(client: Any) -> None:
            ticker = client.futures_ticker(symbol="BTCUSDT")
            assert set(ticker) == FUTURES_24HR
            assert ticker["count"] > 0
            book = client.futures_orderbook_ticker(symbol="BTCUSDT")
            assert Decimal(book["bidPrice"]) < Decimal(book["askPrice"])
            assert "time" in book
            assert Decimal(client.futures_symbol_ticker(symbol="BTCUSDT")["price"]) > 0  # /fapi/v2
            aggs = client.futures_aggregate_trades(symbol="BTCUSDT", limit=2)
            assert set(aggs[0]) == {"a", "p", "q", "f", "l", "T", "m"}
            assert set(client.futures_recent_trades(symbol="BTCUSDT", limit=1)[0]) == {
                "id", "price", "qty", "quoteQty", "time", "isBuyerMaker",
            }  # fmt: skip
            _check_klines(client.futures_klines(symbol="BTCUSDT", interval="1m"))
            mark = client.futures_mark_price(symbol="BTCUSDT")
            assert mark["lastFundingRate"] == "0.00010000"
            assert mark["nextFundingTime"] % (8 * 3600 * 1000) == 0
            assert Decimal(mark["markPrice"]) > 0
            assert client.futures_funding_rate(symbol="BTCUSDT") == []  # no settlement yet
            assert client.futures_commission_rate(symbol="BTCUSDT") == {
                "symbol": "BTCUSDT",
                "makerCommissionRate": "0.0002",
                "takerCommissionRate": "0.0005",
            }
            (brackets,) = client.futures_leverage_bracket()
            assert [b["initialLeverage"] for b in brackets["brackets"]] == [125, 100, 50, 20]
            assert client.futures_leverage_bracket(symbol="BTCUSDT")["symbol"] == "BTCUSDT"
            assert client.futures_get_position_mode() == {"dualSidePosition": False}
            with pytest.raises(BinanceAPIException) as err:
                client.futures_change_position_mode(dualSidePosition="false")
            assert (err.value.code, err.value.message) == (-4059, "No need to change position side.")
            with pytest.raises(BinanceAPIException, match="one-way"):
                client.futures_change_position_mode(dualSidePosition="true")
            lev = client.futures_change_leverage(symbol="BTCUSDT", leverage=60)
            assert lev["maxNotionalValue"] == "800000"  # the bracket of 60x

        await sdk_session(server, body)

    run(t)


def test_funding_history_lists_each_settlement() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        server.funding.marks[8 * 3600 * 1000] = Decimal("50000.1")
        status, rows, _ = await c.public("/fapi/v1/fundingRate", "symbol=BTCUSDT")
        assert status == 200
        assert rows == [
            {
                "symbol": "BTCUSDT",
                "fundingRate": "0.00010000",
                "fundingTime": 8 * 3600 * 1000,
                "markPrice": "50000.10000000",
            }
        ]

    run(t)


def test_market_orders_by_quote_amount() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        def body(client: Any) -> None:
            before = {b["asset"]: Decimal(b["free"]) for b in client.get_account()["balances"]}
            order = client.order_market_buy(symbol="BTCUSDT", quoteOrderQty="1000")
            spent = Decimal(order["cummulativeQuoteQty"])
            assert order["status"] == "FILLED"
            assert Decimal(1000) - 60 < spent <= Decimal(1000), "as much as 1000 USDT buys, in whole lots"
            assert Decimal(order["executedQty"]) > 0
            assert client.get_order(symbol="BTCUSDT", orderId=order["orderId"])["origQuoteOrderQty"] == (
                "1000.00000000"
            )
            after = {b["asset"]: Decimal(b["free"]) for b in client.get_account()["balances"]}
            fees = sum(Decimal(f["commission"]) for f in order["fills"])
            assert after["USDT"] == before["USDT"] - spent - fees
            sold = client.order_market_sell(symbol="BTCUSDT", quoteOrderQty="500")
            assert Decimal(500) - 60 < Decimal(sold["cummulativeQuoteQty"]) <= Decimal(500)

        await sdk_session(server, body)
        both = {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "MARKET",
            "quantity": "0.01",
            "quoteOrderQty": "10",
        }
        status, err, _ = await c.call("POST", "/api/v3/order", both)
        assert (status, err["code"]) == (400, -1106)

    run(t, step_ms=600_000)


def test_tape_parameters() -> None:
    """`type=MINI`, a time range of aggregate trades (at most an hour), klines from `startTime`."""

    async def t(server: BinanceSimServer, c: Client) -> None:
        await _traded(server, c)
        now = server.now_ms()
        status, mini, _ = await c.public("/api/v3/ticker/24hr", "symbol=BTCUSDT&type=MINI")
        assert status == 200
        assert set(mini) == {
            "symbol", "openPrice", "highPrice", "lowPrice", "lastPrice", "volume", "quoteVolume",
            "openTime", "closeTime", "firstId", "lastId", "count",
        }  # fmt: skip
        q = f"symbol=BTCUSDT&startTime={now - 7_200_000}&endTime={now}"
        status, err, _ = await c.public("/api/v3/aggTrades", q)
        assert (status, err["code"]) == (400, -1127)
        status, aggs, _ = await c.public("/fapi/v1/aggTrades", f"symbol=BTCUSDT&startTime={now - 60_000}")
        assert status == 200
        assert aggs
        assert all(a["T"] >= now - 60_000 for a in aggs)
        status, rows, _ = await c.public(
            "/api/v3/klines", f"symbol=BTCUSDT&interval=1s&startTime={now - 5000}"
        )
        assert status == 200
        assert rows[0][0] >= now - 5000
        assert rows[0][6] == rows[0][0] + 999
        status, err, _ = await c.public("/api/v3/ticker/24hr", "symbol=ETHUSDT")
        assert (status, err["code"]) == (400, -1121)

    run(t)
