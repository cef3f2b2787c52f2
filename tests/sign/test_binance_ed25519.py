"""Binance Ed25519 keys: signatures identical to python-binance's (Ed25519 is deterministic)."""

import pytest
from binance.client import Client
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings

from tests.sign.strategies import params, timestamps_ms
from trader.core import BinanceSigner, CredentialError


def _pem() -> str:
    k = ed25519.Ed25519PrivateKey.generate()
    return k.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@settings(max_examples=50, deadline=None)
@given(params, timestamps_ms)
def test_matches_python_binance(p: dict[str, str], ts: int) -> None:
    pem = _pem()
    sdk = Client("key", private_key=pem, ping=False)
    data: dict[str, object] = {**p, "recvWindow": 5000, "timestamp": ts}
    sdk_query = "&".join(f"{k}={v}" for k, v in sdk._order_params(data))
    ours = BinanceSigner.ed25519("key", pem)
    r = ours.sign("POST", "/api/v3/order", list(p.items()), ts, 5000)
    assert r.query == f"{sdk_query}&signature={sdk._generate_signature(data)}"
    assert ours.signature(sdk_query.encode()) == sdk._ed25519_signature(sdk_query)


def test_bad_key() -> None:
    with pytest.raises(CredentialError, match="Ed25519 PKCS#8"):
        BinanceSigner.ed25519("key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
