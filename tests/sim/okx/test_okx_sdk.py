"""The OKX simulator against the official SDK (python-okx) as the oracle: its REST clients, pointed at the
simulator, read the market and place, query and cancel an order; its signature is checked by the simulator
with the standard library; a wrong secret is refused with OKX's code."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from trader.sim.okx import DEMO_KEY, DEMO_PASSPHRASE, DEMO_SECRET, OkxSimServer
from trader.sim.server import SimThread

okx_trade = pytest.importorskip("okx.Trade")
okx_market = pytest.importorskip("okx.MarketData")
okx_account = pytest.importorskip("okx.Account")
okx_public = pytest.importorskip("okx.PublicData")

# the SDK posts its JSON body as httpx `data=` (deprecated in httpx, not our concern)
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    t = SimThread(OkxSimServer(seed=3, step_ms=20))
    try:
        yield t
    finally:
        t.close()


def _url(sim: SimThread) -> str:
    return f"http://127.0.0.1:{sim.port}"


@pytest.fixture
def opened() -> Iterator[list[Any]]:
    """SDK clients a test opened (httpx clients: closed after it)."""
    clients: list[Any] = []
    yield clients
    for c in clients:
        c.close()


def test_sdk_reads_the_book(sim: SimThread, opened: list[Any]) -> None:
    md = okx_market.MarketAPI(flag="1", domain=_url(sim))
    opened.append(md)
    r = md.get_orderbook("BTC-USDT", sz="5")
    assert r["code"] == "0"
    book = r["data"][0]
    assert Decimal(book["bids"][0][0]) < Decimal(book["asks"][0][0])
    assert len(book["bids"]) == 5


def test_sdk_places_queries_and_cancels(sim: SimThread, opened: list[Any]) -> None:
    trade = okx_trade.TradeAPI(DEMO_KEY, DEMO_SECRET, DEMO_PASSPHRASE, flag="1", domain=_url(sim))
    opened.append(trade)
    r = trade.place_order("BTC-USDT", "cash", "buy", "limit", "0.01", clOrdId="sdk1", px="40000")
    assert r["code"] == "0", r
    assert r["data"][0]["sCode"] == "0"
    ord_id = r["data"][0]["ordId"]
    got = trade.get_order("BTC-USDT", clOrdId="sdk1")
    assert got["code"] == "0"
    assert got["data"][0]["ordId"] == ord_id
    assert got["data"][0]["state"] == "live"
    pending = trade.get_order_list(instId="BTC-USDT")
    assert [o["clOrdId"] for o in pending["data"]] == ["sdk1"]
    c = trade.cancel_order("BTC-USDT", clOrdId="sdk1")
    assert c["code"] == "0"
    assert c["data"][0]["sCode"] == "0"
    assert trade.get_order("BTC-USDT", ordId=ord_id)["data"][0]["state"] == "canceled"
    again = trade.cancel_order("BTC-USDT", clOrdId="sdk1")
    assert again["code"] == "1"
    assert again["data"][0]["sCode"] == "51400"


def test_sdk_market_order_fills_and_balance_moves(sim: SimThread, opened: list[Any]) -> None:
    account = okx_account.AccountAPI(DEMO_KEY, DEMO_SECRET, DEMO_PASSPHRASE, flag="1", domain=_url(sim))
    opened.append(account)
    before = {d["ccy"]: Decimal(d["cashBal"]) for d in account.get_account_balance()["data"][0]["details"]}
    trade = okx_trade.TradeAPI(DEMO_KEY, DEMO_SECRET, DEMO_PASSPHRASE, flag="1", domain=_url(sim))
    opened.append(trade)
    r = trade.place_order("BTC-USDT", "cash", "sell", "market", "0.001", clOrdId="sdk2")
    assert r["data"][0]["sCode"] == "0"
    o = trade.get_order("BTC-USDT", clOrdId="sdk2")["data"][0]
    assert o["state"] == "filled"
    after = {d["ccy"]: Decimal(d["cashBal"]) for d in account.get_account_balance()["data"][0]["details"]}
    assert after["BTC"] == before["BTC"] - Decimal("0.001")
    assert after["USDT"] > before["USDT"]
    fills = trade.get_fills(instType="SPOT", instId="BTC-USDT")["data"]
    assert fills
    assert {f["clOrdId"] for f in fills} == {"sdk2"}
    assert all(Decimal(f["fee"]) < 0 for f in fills)  # paid: negative, in the quote on a sell


def test_wrong_secret_is_refused(sim: SimThread, opened: list[Any]) -> None:
    trade = okx_trade.TradeAPI(DEMO_KEY, "not-the-secret", DEMO_PASSPHRASE, flag="1", domain=_url(sim))
    opened.append(trade)
    r = trade.get_order("BTC-USDT", clOrdId="x")
    assert r["code"] == "50113"


def test_sdk_trades_the_swap_and_reads_its_position(sim: SimThread, opened: list[Any]) -> None:
    public = okx_public.PublicAPI(flag="1", domain=_url(sim))
    opened.append(public)
    inst = public.get_instruments("SWAP", instId="BTC-USDT-SWAP")["data"][0]
    assert (inst["ctVal"], inst["settleCcy"], inst["lotSz"]) == ("0.01", "USDT", "0.01")
    assert Decimal(public.get_funding_rate("BTC-USDT-SWAP")["data"][0]["fundingRate"]) > 0
    trade = okx_trade.TradeAPI(DEMO_KEY, DEMO_SECRET, DEMO_PASSPHRASE, flag="1", domain=_url(sim))
    opened.append(trade)
    account = okx_account.AccountAPI(DEMO_KEY, DEMO_SECRET, DEMO_PASSPHRASE, flag="1", domain=_url(sim))
    opened.append(account)
    r = trade.place_order("BTC-USDT-SWAP", "cross", "buy", "market", "2", clOrdId="sdkswap1")
    assert r["data"][0]["sCode"] == "0", r
    rows = account.get_positions(instType="SWAP", instId="BTC-USDT-SWAP")["data"]
    assert [(p["pos"], p["posSide"]) for p in rows] == [("2.00", "net")]
    cash = trade.place_order("BTC-USDT-SWAP", "cash", "buy", "limit", "1", px="40000", clOrdId="sdkswap2")
    assert cash["code"] == "1"
    assert cash["data"][0]["sCode"] == "51000"  # tdMode cash is for spot
    ro = trade.place_order(
        "BTC-USDT-SWAP", "cross", "buy", "market", "1", reduceOnly="true", clOrdId="sdkswap3"
    )
    assert ro["data"][0]["sCode"] == "51169"  # a buy cannot reduce a long


def test_sdk_reads_the_account_config_and_amends_and_cancels_in_batch(
    sim: SimThread, opened: list[Any]
) -> None:
    account = okx_account.AccountAPI(DEMO_KEY, DEMO_SECRET, DEMO_PASSPHRASE, flag="1", domain=_url(sim))
    trade = okx_trade.TradeAPI(DEMO_KEY, DEMO_SECRET, DEMO_PASSPHRASE, flag="1", domain=_url(sim))
    opened.extend([account, trade])
    config = account.get_account_config()["data"][0]
    assert (config["acctLv"], config["posMode"]) == ("2", "net_mode")
    bad = account.set_position_mode("hedge")
    assert bad["code"] == "51000"
    for cid in ("sdkam1", "sdkam2"):
        r = trade.place_order("BTC-USDT", "cash", "buy", "limit", "0.01", clOrdId=cid, px="40000")
        assert r["data"][0]["sCode"] == "0", r
    amends = [
        {"instId": "BTC-USDT", "clOrdId": "sdkam1", "newPx": "39000"},
        {"instId": "BTC-USDT", "clOrdId": "sdkam2", "newSz": "0.02"},
        {"instId": "BTC-USDT", "clOrdId": "sdk-none", "newPx": "39000"},
    ]
    r = trade.amend_multiple_orders(amends)
    assert r["code"] == "2"  # some items failed, each says why
    assert [i["sCode"] for i in r["data"]] == ["0", "0", "51503"]
    assert trade.get_order("BTC-USDT", clOrdId="sdkam1")["data"][0]["px"] == "39000.0"
    assert trade.get_order("BTC-USDT", clOrdId="sdkam2")["data"][0]["sz"] == "0.0200"
    gone = trade.cancel_multiple_orders([{"instId": "BTC-USDT", "clOrdId": c} for c in ("sdkam1", "sdkam2")])
    assert [i["sCode"] for i in gone["data"]] == ["0", "0"]
