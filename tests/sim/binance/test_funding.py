"""Funding on the futures simulator: every interval an open position pays (long, positive rate) or receives
(short) `position x mark x rate`, reported as Binance does on the user-data stream (`ACCOUNT_UPDATE`,
reason FUNDING_FEE, the balance change `bc`) and in `GET /fapi/v1/income` (signed, weight 30)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from tests.sim.binance.helpers import Client, Signer, run
from trader.sim.binance import DEMO_KEY, BinanceSimServer

UNIT = Decimal("0.00000001")


async def hold(c: Client, side: str, qty: str = "0.010") -> None:
    order = {
        "symbol": "BTCUSDT",
        "side": side,
        "type": "MARKET",
        "quantity": qty,
        "newOrderRespType": "RESULT",
    }
    body = await c.ok("POST", "/fapi/v1/order", order)
    assert body["status"] == "FILLED", body


async def funding_event(ws: Any) -> dict[str, Any]:
    while True:
        e = orjson.loads((await ws.receive(timeout=5)).data)
        if e["e"] == "ACCOUNT_UPDATE" and e["a"]["m"] == "FUNDING_FEE":
            return e  # type: ignore[no-any-return]


def test_funding_settles_on_a_long_and_is_reported_on_the_stream_and_in_the_income() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        lk = (await c.keyed("POST", "/fapi/v1/listenKey"))[1]["listenKey"]
        async with c.session.ws_connect(f"{server.ws_url}/private/ws?listenKey={lk}") as ws:
            await hold(c, "BUY")
            e = await funding_event(ws)
        fa = server.futures.accounts[DEMO_KEY]
        (row,) = server.funding.income[DEMO_KEY][:1]
        amount = Decimal(row["income"])
        mark = server.funding.marks[row["time"]]
        assert server.futures.mark() * Decimal("0.9") < mark < server.futures.mark() * Decimal("1.1")
        assert amount == (-Decimal("0.010") * mark * Decimal("0.0005")).quantize(UNIT)
        assert amount < 0, "a long pays when the rate is positive"
        (balance,) = e["a"]["B"]
        assert (balance["a"], Decimal(balance["bc"])) == ("USDT", amount)
        assert "P" not in e["a"], "a cross position's funding event carries balances only"
        assert e["T"] == row["time"]
        assert e["T"] % 500 == 0, "settled on the interval's boundary"
        fees = sum(
            Decimal(t["commission"]) for t in await c.ok("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
        )
        paid = sum(Decimal(r["income"]) for r in server.funding.income[DEMO_KEY])
        assert fa.wallet == Decimal(100_000) - fees + paid, "the wallet moves by exactly what was reported"
        assert row | {"tranId": 0} == {
            "symbol": "BTCUSDT", "incomeType": "FUNDING_FEE", "income": row["income"], "asset": "USDT",
            "info": "FUNDING_FEE", "time": row["time"], "tranId": 0, "tradeId": "",
        }  # fmt: skip
        got = await c.ok("GET", "/fapi/v1/income", {"symbol": "BTCUSDT", "incomeType": "FUNDING_FEE"})
        assert got[0] == row
        assert (
            await c.ok("GET", "/fapi/v1/income", {"startTime": row["time"] + 1, "endTime": row["time"] + 1})
            == []
        )
        assert await c.ok("GET", "/fapi/v1/income", {"incomeType": "COMMISSION"}) == []
        page = await c.ok("GET", "/fapi/v1/income", {"startTime": row["time"], "limit": 1})
        assert page == [row]
        status, body, _ = await c.call("GET", "/fapi/v1/income", {}, signer=Signer("wrong"))
        assert (status, body["code"]) == (400, -1022), "signed like every USER_DATA endpoint"
        status, body, _ = await c.call("GET", "/fapi/v1/income", {"limit": 1001})
        assert (status, body["code"]) == (400, -1100)
        assert server.used_weight("/fapi/v1/income")[0] >= 30

    run(t, funding_interval_s=0.5, funding_rate=Decimal("0.0005"))


def test_a_short_receives_funding_and_a_flat_account_pays_nothing() -> None:
    async def t(server: BinanceSimServer, c: Client) -> None:
        lk = (await c.keyed("POST", "/fapi/v1/listenKey"))[1]["listenKey"]
        async with c.session.ws_connect(f"{server.ws_url}/private/ws?listenKey={lk}") as ws:
            await c.ok("POST", "/fapi/v1/marginType", {"symbol": "BTCUSDT", "marginType": "ISOLATED"})
            await hold(c, "SELL", "0.005")
            e = await funding_event(ws)
        assert Decimal(e["a"]["B"][0]["bc"]) > 0, "a short receives when the rate is positive"
        (pos,) = e["a"]["P"]
        assert (pos["s"], pos["pa"], pos["mt"]) == ("BTCUSDT", "-0.005", "isolated")
        assert server.funding.income.get("nobody") is None
        assert await c.ok("GET", "/fapi/v1/income", {"symbol": "BTCUSDT"}) == server.funding.income[DEMO_KEY]

    run(t, funding_interval_s=0.5)
