"""The official SDK (python-binance, unmodified) trading futures and margin on the simulator, with
HMAC and Ed25519 keys."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.sim.binance.helpers import (
    ED_KEY,
    Client,
    run,
    sdk_session,
)
from trader.sim.binance import DEMO_KEY, BinanceSimServer


def test_python_binance_trades_futures() -> None:
    from binance.exceptions import BinanceAPIException

    async def t(server: BinanceSimServer, c: Client) -> None:
        def body(client: Any) -> None:
            assert client.futures_ping() == {}
            info = client.futures_exchange_info()
            sym = info["symbols"][0]
            assert (sym["symbol"], sym["contractType"]) == ("BTCUSDT", "PERPETUAL")
            filters = {f["filterType"]: f for f in sym["filters"]}
            assert filters["MIN_NOTIONAL"]["notional"] == "100"
            assert filters["PERCENT_PRICE"]["multiplierDecimal"] == "4"
            book = client.futures_order_book(symbol="BTCUSDT", limit=5)
            bid = Decimal(book["bids"][0][0])
            order = client.futures_create_order(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.010",
                price=f"{bid - 20:.1f}",
                newClientOrderId="fut-1",
            )
            assert (order["status"], order["positionSide"], order["clientOrderId"]) == (
                "NEW",
                "BOTH",
                "fut-1",
            )
            got = client.futures_get_order(symbol="BTCUSDT", origClientOrderId="fut-1")
            assert (got["orderId"], got["status"]) == (order["orderId"], "NEW")
            assert (
                client.futures_cancel_order(symbol="BTCUSDT", orderId=order["orderId"])["status"]
                == "CANCELED"
            )
            with pytest.raises(BinanceAPIException) as err:
                client.futures_cancel_order(symbol="BTCUSDT", orderId=order["orderId"])
            assert err.value.code == -2011
            lev = client.futures_change_leverage(symbol="BTCUSDT", leverage=5)
            assert (lev["leverage"], lev["symbol"]) == (5, "BTCUSDT")
            assert client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED")["code"] == 200
            with pytest.raises(BinanceAPIException) as err:
                client.futures_change_margin_type(symbol="BTCUSDT", marginType="ISOLATED")
            assert (err.value.code, err.value.message) == (-4046, "No need to change margin type.")
            taken = client.futures_create_order(
                symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.020", newOrderRespType="RESULT"
            )
            assert (taken["status"], taken["executedQty"]) == ("FILLED", "0.020")
            avg = Decimal(taken["avgPrice"])
            (pos,) = client.futures_position_information(symbol="BTCUSDT")
            assert Decimal(pos["positionAmt"]) == Decimal("0.020")
            assert Decimal(pos["entryPrice"]) == avg
            assert Decimal(pos["isolatedWallet"]) == avg * Decimal("0.020") / 5, "isolated: notional/leverage"
            (bal,) = client.futures_account_balance()
            fee = sum(Decimal(t["commission"]) for t in client.futures_account_trades(symbol="BTCUSDT"))
            assert fee > 0
            assert Decimal(bal["balance"]) == Decimal(100_000) - fee
            account = client.futures_account()
            assert Decimal(account["totalWalletBalance"]) == Decimal(bal["balance"])

        await sdk_session(server, body)
        venue = server.state()[DEMO_KEY]["futures"]
        assert (venue["leverage"], venue["marginType"]) == (5, "ISOLATED")
        assert venue["position"]["positionAmt"] == "0.020"
        assert [o["status"] for o in venue["orders"]] == ["CANCELED", "FILLED"]

    run(t)


def test_python_binance_trades_margin() -> None:
    from binance.exceptions import BinanceAPIException

    async def t(server: BinanceSimServer, c: Client) -> None:
        def body(client: Any) -> None:
            account = client.get_margin_account()
            assert account["marginLevel"] == "999.00000000"
            assert Decimal(account["totalLiabilityOfBtc"]) == 0
            assert client.create_margin_loan(asset="BTC", amount="0.1")["tranId"] > 0
            account = client.get_margin_account()
            btc = next(a for a in account["userAssets"] if a["asset"] == "BTC")
            assert (Decimal(btc["borrowed"]), Decimal(btc["free"])) == (Decimal("0.1"), Decimal("0.1"))
            assert Decimal(account["totalLiabilityOfBtc"]) == Decimal("0.1")
            assert Decimal(account["marginLevel"]) == (
                Decimal(10_000) / server.mid() + Decimal("0.1")
            ) / Decimal("0.1"), "margin level = assets / liabilities"
            with pytest.raises(BinanceAPIException) as err:
                client.create_margin_loan(asset="BTC", amount="1")  # far past 3x
            assert err.value.code == -3006
            client.repay_margin_loan(asset="BTC", amount="0.1")
            assert client.get_margin_account()["marginLevel"] == "999.00000000"
            bid = Decimal(client.get_order_book(symbol="BTCUSDT", limit=5)["bids"][0][0])
            order = client.create_margin_order(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.010",
                price=f"{bid - 5:.2f}",
                newClientOrderId="mg-1",
            )
            assert (order["status"], order["isIsolated"]) == ("NEW", False)
            got = client.get_margin_order(symbol="BTCUSDT", origClientOrderId="mg-1")
            assert (got["status"], got["orderId"]) == ("NEW", order["orderId"])
            usdt = next(a for a in client.get_margin_account()["userAssets"] if a["asset"] == "USDT")
            assert Decimal(usdt["locked"]) == (bid - 5) * Decimal("0.010")
            with pytest.raises(BinanceAPIException) as err:
                client.get_order(symbol="BTCUSDT", origClientOrderId="mg-1")
            assert err.value.code == -2013, "a margin order is not a spot order"
            assert (
                client.cancel_margin_order(symbol="BTCUSDT", orderId=order["orderId"])["status"] == "CANCELED"
            )
            tran = client.margin_borrow_repay(
                asset="USDT", amount="100", isIsolated="TRUE", symbol="BTCUSDT", type="BORROW"
            )
            assert tran["tranId"] > 0
            iso = client.get_isolated_margin_account(symbols="BTCUSDT")["assets"][0]
            assert (iso["symbol"], iso["quoteAsset"]["borrowed"]) == ("BTCUSDT", "100.00000000")

        await sdk_session(server, body)
        margin = server.state()[DEMO_KEY]["margin"]
        assert margin["MARGIN"]["assets"]["BTC"]["borrowed"] == "0.00000000"
        assert [o["status"] for o in margin["MARGIN"]["orders"]] == ["CANCELED"]
        assert margin["ISOLATED:BTCUSDT"]["assets"]["USDT"]["borrowed"] == "100.00000000"
        assert server.state()[DEMO_KEY]["orders"] == [], "the spot account saw none of it"

    run(t)


def test_python_binance_with_an_ed25519_key() -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    async def t(server: BinanceSimServer, c: Client) -> None:
        def body(client: Any) -> None:
            assert Decimal(client.futures_account_balance()[0]["balance"]) == Decimal(100_000)
            order = client.futures_create_order(
                symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.005", newOrderRespType="RESULT"
            )
            assert order["status"] == "FILLED"
            assert Decimal(client.futures_position_information()[0]["positionAmt"]) == Decimal("-0.005")

        await sdk_session(server, body, api_key=ED_KEY, api_secret=None, private_key=pem)
        assert server.state()[ED_KEY]["futures"]["position"]["positionAmt"] == "-0.005"

    run(t, ed25519_accounts={ED_KEY: public})
