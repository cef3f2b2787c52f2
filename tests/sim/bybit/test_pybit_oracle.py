"""The official SDK (pybit) as the oracle: its HTTP client, pointed at the simulator, reads the market,
places, finds and cancels an order; a wrong key and a wrong signature get Bybit's retCodes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from trader.sim.bybit import DEMO_KEY, DEMO_SECRET, BybitSimServer
from trader.sim.server import SimThread

pybit_http = pytest.importorskip("pybit.unified_trading")
pybit_errors = pytest.importorskip("pybit.exceptions")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    t = SimThread(BybitSimServer(seed=3))
    yield t
    t.close()


def _session(sim: SimThread, key: str = DEMO_KEY, secret: str = DEMO_SECRET) -> object:
    s = pybit_http.HTTP(api_key=key, api_secret=secret, max_retries=1)
    s.endpoint = f"http://127.0.0.1:{sim.port}"  # pybit builds https://api.bybit.com; the path stays its own
    return s


def test_pybit_places_queries_and_cancels(sim: SimThread) -> None:
    s = _session(sim)
    info = s.get_instruments_info(category="spot", symbol="BTCUSDT")  # type: ignore[attr-defined]
    assert info["result"]["list"][0]["priceFilter"]["tickSize"] == "0.01"
    book = s.get_orderbook(category="spot", symbol="BTCUSDT", limit=5)  # type: ignore[attr-defined]
    best_bid = book["result"]["b"][0][0]
    price = f"{float(best_bid) - 500:.2f}"
    placed = s.place_order(  # type: ignore[attr-defined]
        category="spot",
        symbol="BTCUSDT",
        side="Buy",
        orderType="Limit",
        qty="0.001",
        price=price,
        orderLinkId="pybit-1",
        timeInForce="GTC",
    )
    assert placed["retCode"] == 0
    assert placed["result"]["orderLinkId"] == "pybit-1"
    got = s.get_open_orders(category="spot", symbol="BTCUSDT", orderLinkId="pybit-1")  # type: ignore[attr-defined]
    row = got["result"]["list"][0]
    assert (row["orderStatus"], row["price"], row["qty"]) == ("New", price, "0.001")
    cancelled = s.cancel_order(category="spot", symbol="BTCUSDT", orderLinkId="pybit-1")  # type: ignore[attr-defined]
    assert cancelled["result"]["orderId"] == placed["result"]["orderId"]
    again = s.get_open_orders(category="spot", symbol="BTCUSDT", orderLinkId="pybit-1")  # type: ignore[attr-defined]
    assert again["result"]["list"][0]["orderStatus"] == "Cancelled"
    wallet = s.get_wallet_balance(accountType="UNIFIED")  # type: ignore[attr-defined]
    assert {c["coin"] for c in wallet["result"]["list"][0]["coin"]} >= {"BTC", "USDT"}


def test_pybit_sees_bybit_error_codes(sim: SimThread) -> None:
    with pytest.raises(pybit_errors.InvalidRequestError) as bad_sign:
        _session(sim, secret="wrong").get_open_orders(category="spot")  # type: ignore[attr-defined]
    assert bad_sign.value.status_code == 10004
    with pytest.raises(pybit_errors.InvalidRequestError) as bad_key:
        _session(sim, key="nobody").get_open_orders(category="spot")  # type: ignore[attr-defined]
    assert bad_key.value.status_code == 10003
    with pytest.raises(pybit_errors.InvalidRequestError) as missing:
        _session(sim).cancel_order(category="spot", symbol="BTCUSDT", orderLinkId="never")  # type: ignore[attr-defined]
    assert missing.value.status_code == 170213  # spot: order does not exist
    with pytest.raises(pybit_errors.InvalidRequestError) as poor:
        _session(sim).place_order(  # type: ignore[attr-defined]
            category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="70", price="60000"
        )
    assert poor.value.status_code == 110007


def test_pybit_amends_and_batches(sim: SimThread) -> None:
    s = _session(sim)
    bid = float(s.get_orderbook(category="spot", symbol="BTCUSDT")["result"]["b"][0][0])  # type: ignore[attr-defined]
    far = [f"{bid - 400 - i:.2f}" for i in range(3)]
    s.place_order(category="spot", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.001", price=far[0],  # type: ignore[attr-defined]
                  orderLinkId="pybit-amend")  # fmt: skip
    s.amend_order(category="spot", symbol="BTCUSDT", orderLinkId="pybit-amend", price=far[1], qty="0.002")  # type: ignore[attr-defined]
    row = s.get_open_orders(category="spot", symbol="BTCUSDT", orderLinkId="pybit-amend")["result"]["list"][0]  # type: ignore[attr-defined]
    assert (row["price"], row["qty"], row["orderStatus"]) == (far[1], "0.002", "New")
    batch = s.place_batch_order(  # type: ignore[attr-defined]
        category="spot",
        request=[
            {
                "symbol": "BTCUSDT",
                "side": "Buy",
                "orderType": "Limit",
                "qty": qty,
                "price": far[2],
                "orderLinkId": cid,
            }
            for qty, cid in (("0.001", "pybit-b1"), ("90", "pybit-b2"))
        ],
    )
    assert [r["orderLinkId"] for r in batch["result"]["list"]] == ["pybit-b1", "pybit-b2"]
    assert [c["code"] for c in batch["retExtInfo"]["list"]] == [
        0,
        110007,
    ]  # 90 BTC: more than the account pays for
    cancelled = s.cancel_batch_order(  # type: ignore[attr-defined]
        category="spot",
        request=[{"symbol": "BTCUSDT", "orderLinkId": x} for x in ("pybit-b1", "pybit-amend")],
    )
    assert [c["code"] for c in cancelled["retExtInfo"]["list"]] == [0, 0]
    with pytest.raises(pybit_errors.InvalidRequestError) as gone:
        s.amend_order(category="spot", symbol="BTCUSDT", orderLinkId="pybit-amend", price=far[0])  # type: ignore[attr-defined]
    assert gone.value.status_code == 110001


def test_the_simulator_trades_only_what_it_lists() -> None:
    assert BybitSimServer(symbol="ETHUSDT").default_symbol == "ETHUSDT"
    with pytest.raises(ValueError, match="not listed"):
        BybitSimServer(symbol="XRPUSDT")
