"""Kraken signing against the documented vector and krakenex (the oracle)."""

import base64

import krakenex
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import load_vector
from tests.sign.strategies import api_keys, params
from trader.core import KrakenSigner

VECTOR = load_vector("signing.json")["kraken"]
secrets_b64 = st.binary(min_size=16, max_size=64).map(lambda b: base64.b64encode(b).decode())


def test_documented_vector() -> None:
    s = KrakenSigner("key", VECTOR["secret"])
    assert s.signature(VECTOR["path"], VECTOR["nonce"], VECTOR["payload"].encode()) == VECTOR["signature"]
    params = [tuple(kv.split("=")) for kv in VECTOR["payload"].split("&")[1:]]
    r = s.sign(VECTOR["path"], params, VECTOR["nonce"] * 1_000_000)
    assert r.body == VECTOR["payload"].encode()
    assert ("API-Sign", VECTOR["signature"]) in r.headers


@settings(max_examples=200, deadline=None)
@given(api_keys, secrets_b64, params, st.integers(min_value=1, max_value=2**62))
def test_matches_krakenex(key: str, secret: str, p: dict[str, str], now_ns: int) -> None:
    ours = KrakenSigner(key, secret).sign("/0/private/AddOrder", list(p.items()), now_ns)
    nonce = now_ns // 1_000_000 or 1
    data = {"nonce": nonce, **p}
    sdk = krakenex.API(key, secret)
    assert ours.body.decode() == "&".join(f"{k}={v}" for k, v in data.items())
    assert dict(ours.headers)["API-Sign"] == sdk._sign(data, "/0/private/AddOrder")
    assert dict(ours.headers)["API-Key"] == key


def test_nonce_survives_clock_steps_and_restarts() -> None:
    s = KrakenSigner("key", VECTOR["secret"])
    a = s.sign("/0/private/Balance", [], 2_000_000_000_000_000)
    b = s.sign("/0/private/Balance", [], 1_000_000_000_000_000)  # the clock stepped back
    n1, n2 = (int(r.body.decode().split("=")[1]) for r in (a, b))
    assert n2 == n1 + 1 == s.last_nonce
    restarted = KrakenSigner("key", VECTOR["secret"], last_nonce=s.last_nonce)
    c = restarted.sign("/0/private/Balance", [], 0)
    assert int(c.body.decode().split("=")[1]) == n2 + 1
