"""Binance signing against the documented vectors and python-binance (the oracle)."""

from binance.client import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import load_vector
from tests.sign.strategies import api_keys, params, secrets, timestamps_ms
from trader.core import BinanceSigner

VECTORS = load_vector("signing.json")["binance"]


def test_documented_vectors() -> None:
    for case in VECTORS:
        s = BinanceSigner("key", case["secret"])
        assert s.signature(case["payload"].encode()) == case["signature"], case["case"]


@settings(max_examples=200, deadline=None)
@given(api_keys, secrets, params, timestamps_ms, st.integers(min_value=1, max_value=60_000))
def test_matches_python_binance(key: str, secret: str, p: dict[str, str], ts: int, recv: int) -> None:
    sdk = Client(key, secret, ping=False)
    data: dict[str, object] = {**p, "recvWindow": recv, "timestamp": ts}
    sdk_query = "&".join(f"{k}={v}" for k, v in sdk._order_params(data))
    sdk_sig = sdk._generate_signature(data)
    ours = BinanceSigner(key, secret).sign("POST", "/api/v3/order", list(p.items()), ts, recv)
    assert ours.query == f"{sdk_query}&signature={sdk_sig}"
    assert ours.headers == [("X-MBX-APIKEY", key)]
    assert ours.body == b""
    assert ours.target == f"/api/v3/order?{ours.query}"


@settings(max_examples=100, deadline=None)
@given(api_keys, secrets, params, timestamps_ms)
def test_ws_params_match_python_binance(key: str, secret: str, p: dict[str, str], ts: int) -> None:
    import json

    sdk = Client(key, secret, ping=False)
    data: dict[str, object] = {**p, "apiKey": key, "timestamp": ts}
    sdk_params = sdk._sign_ws_params(dict(data), sdk._generate_ws_api_signature)
    ours = BinanceSigner(key, secret).ws_params(list(p.items()), ts)
    assert list(json.loads(ours).items()) == list(sdk_params.items())


def test_ws_params_refuse_the_names_the_signer_sets() -> None:
    import pytest

    from trader.core import InvalidInputError

    signer = BinanceSigner("key", "secret")
    for name in ("apiKey", "timestamp", "signature"):
        with pytest.raises(InvalidInputError, match="set by the signer"):
            signer.ws_params([(name, "x")], 1_700_000_000_000)
