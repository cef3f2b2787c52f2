"""Request signing: typed params in, signed request out, against each venue's official SDK doing the
same in the same run (and ccxt's `sign()` for Binance when installed)."""

import base64
import importlib.util
from typing import Any

import pytest

from trader.core import BinanceSigner, BybitSigner, CoinbaseSigner, KrakenSigner, OkxSigner

KEY = "k" * 64
SECRET = "s" * 64
TS = 1_700_000_000_000
ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.01",
    "price": "50000.00",
    "newClientOrderId": "mm-123",
}
ITEMS = list(ORDER.items())


@pytest.mark.benchmark(group="sign.binance")
def test_ours_binance(benchmark: Any) -> None:
    s = BinanceSigner(KEY, SECRET)
    benchmark.extra_info.update(role="ours")
    r = benchmark(s.sign, "POST", "/api/v3/order", ITEMS, TS, 5000)
    assert r.query.endswith("&signature=" + s.signature(r.query.rsplit("&signature=", 1)[0].encode()))


@pytest.mark.benchmark(group="sign.binance")
def test_python_binance_sign(benchmark: Any) -> None:
    from binance.client import Client

    c = Client(KEY, SECRET, ping=False)
    benchmark.extra_info.update(role="baseline", min_ratio=5)
    kwargs = benchmark(lambda: c._get_request_kwargs("post", True, data=dict(ORDER)))
    assert kwargs["data"][-1][0] == "signature"


@pytest.mark.skipif(
    importlib.util.find_spec("ccxt") is None, reason="bench-only dependency: `make bench` installs ccxt"
)
@pytest.mark.benchmark(group="sign.binance")
def test_ccxt_binance_sign(benchmark: Any) -> None:
    import ccxt

    ex = ccxt.binance({"apiKey": KEY, "secret": SECRET})
    benchmark.extra_info.update(role="baseline", min_ratio=10)
    r = benchmark(lambda: ex.sign("order", ["private"], "POST", dict(ORDER)))
    assert "signature=" in r["body"]


@pytest.mark.benchmark(group="sign.bybit")
def test_ours_bybit(benchmark: Any) -> None:
    s = BybitSigner(KEY, SECRET)
    benchmark.extra_info.update(role="ours")
    r = benchmark(s.sign, "POST", "/v5/order/create", ITEMS, TS, 5000)
    assert dict(r.headers)["X-BAPI-SIGN"] == s.signature(TS, 5000, r.body)


@pytest.mark.benchmark(group="sign.bybit")
def test_pybit_sign(benchmark: Any) -> None:
    from pybit.unified_trading import HTTP

    sdk = HTTP(api_key=KEY, api_secret=SECRET)

    def run() -> dict[str, str]:
        payload = sdk.prepare_payload("POST", dict(ORDER))
        headers: dict[str, str] = sdk._prepare_headers(payload, 5000)
        return headers

    benchmark.extra_info.update(role="baseline")
    assert "X-BAPI-SIGN" in benchmark(run)


@pytest.mark.benchmark(group="sign.okx")
def test_ours_okx(benchmark: Any) -> None:
    s = OkxSigner(KEY, SECRET, "passphrase")
    benchmark.extra_info.update(role="ours")
    r = benchmark(s.sign, "POST", "/api/v5/trade/order", ITEMS, TS)
    assert dict(r.headers)["OK-ACCESS-TIMESTAMP"] == "2023-11-14T22:13:20.000Z"


@pytest.mark.benchmark(group="sign.okx")
def test_python_okx_sign(benchmark: Any) -> None:
    import json

    from okx import utils

    def run() -> dict[str, str]:
        ts = utils.get_timestamp()
        body = json.dumps(ORDER)
        sign = utils.sign(utils.pre_hash(ts, "POST", "/api/v5/trade/order", body, False), SECRET)
        headers: dict[str, str] = utils.get_header(KEY, sign, ts, "passphrase", "0", False)
        return headers

    benchmark.extra_info.update(role="baseline")
    assert "OK-ACCESS-SIGN" in benchmark(run)


KRAKEN_SECRET = base64.b64encode(b"s" * 64).decode()
KRAKEN_ORDER = {"ordertype": "limit", "pair": "XBTUSD", "price": "37500", "type": "buy", "volume": "1.25"}


@pytest.mark.benchmark(group="sign.kraken")
def test_ours_kraken(benchmark: Any) -> None:
    s = KrakenSigner(KEY, KRAKEN_SECRET)
    items = list(KRAKEN_ORDER.items())
    benchmark.extra_info.update(role="ours")
    r = benchmark(s.sign, "/0/private/AddOrder", items, TS * 1_000_000)
    assert r.body.startswith(b"nonce=")


@pytest.mark.benchmark(group="sign.kraken")
def test_krakenex_sign(benchmark: Any) -> None:
    import krakenex

    api = krakenex.API(KEY, KRAKEN_SECRET)

    def run() -> dict[str, str]:
        data: dict[str, object] = dict(KRAKEN_ORDER)
        data["nonce"] = api._nonce()
        return {"API-Key": api.key, "API-Sign": api._sign(data, "/0/private/AddOrder")}

    benchmark.extra_info.update(role="baseline")
    assert benchmark(run)["API-Sign"]


def _ec_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    fmt = serialization.PrivateFormat.TraditionalOpenSSL
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


@pytest.mark.benchmark(group="sign.coinbase_jwt")
def test_ours_coinbase_jwt(benchmark: Any) -> None:
    s = CoinbaseSigner("organizations/0/apiKeys/1", _ec_pem())
    benchmark.extra_info.update(role="ours")
    r = benchmark(s.sign, "GET", "/api/v3/brokerage/accounts", [], 1_700_000_000, "f" * 64)
    assert dict(r.headers)["Authorization"].startswith("Bearer ")


@pytest.mark.benchmark(group="sign.coinbase_jwt")
def test_coinbase_advanced_py_jwt(benchmark: Any) -> None:
    from coinbase import jwt_generator

    uri = jwt_generator.format_jwt_uri("GET", "/api/v3/brokerage/accounts")
    benchmark.extra_info.update(role="baseline")
    token = benchmark(jwt_generator.build_rest_jwt, uri, "organizations/0/apiKeys/1", _ec_pem())
    assert token.count(".") == 2
