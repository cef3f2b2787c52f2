"""The simulator's JWT check (PyJWT, independent of the core's signer): what it accepts and refuses."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from trader.core import CoinbaseSigner
from trader.sim.coinbase import DEMO_KEY_NAME, DEMO_PRIVATE_KEY, ApiError, verify_jwt
from trader.sim.coinbase.server import public_key_of

KEYS = {DEMO_KEY_NAME: public_key_of(DEMO_PRIVATE_KEY)}
NOW = 1_733_000_000
URI = "POST 127.0.0.1:1/api/v3/brokerage/orders"


def token(claims: dict[str, Any], key: Any = None, kid: str = DEMO_KEY_NAME) -> str:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    private: Any = key or load_pem_private_key(DEMO_PRIVATE_KEY.encode(), password=None)
    base = {"sub": kid, "iss": "cdp", "nbf": NOW, "exp": NOW + 120, "uri": URI}
    return jwt.encode({**base, **claims}, private, algorithm="ES256", headers={"kid": kid, "nonce": "ab"})


def test_the_core_signers_tokens_pass() -> None:
    signer = CoinbaseSigner(DEMO_KEY_NAME, DEMO_PRIVATE_KEY, host="127.0.0.1:1")
    assert verify_jwt(signer.jwt(URI, NOW, "n1"), KEYS, NOW, URI) == DEMO_KEY_NAME
    assert verify_jwt(signer.jwt(None, NOW, "n2"), KEYS, NOW + 60, None) == DEMO_KEY_NAME


@pytest.mark.parametrize(
    ("claims", "now", "uri"),
    [
        ({}, NOW, "GET 127.0.0.1:1/api/v3/brokerage/orders"),  # another request's token
        ({}, NOW, None),  # a REST token on the WebSocket
        ({}, NOW + 200, URI),  # expired
        ({}, NOW - 10, URI),  # not yet valid (our clock ahead of the venue's)
        ({"iss": "coinbase-cloud"}, NOW, URI),
        ({"sub": "someone-else"}, NOW, URI),
        ({"exp": NOW + 3600}, NOW, URI),  # longer-lived than 120 s
    ],
)
def test_tokens_refused(claims: dict[str, Any], now: int, uri: str | None) -> None:
    with pytest.raises(ApiError) as e:
        verify_jwt(token(claims), KEYS, now, uri)
    assert e.value.status == 401


def test_an_unknown_key_or_a_forged_signature_is_refused() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ApiError):
        verify_jwt(token({}, key=other), KEYS, NOW, URI)  # right name, wrong key
    with pytest.raises(ApiError):
        verify_jwt(token({}, key=other, kid="organizations/x/apiKeys/y"), KEYS, NOW, URI)
    with pytest.raises(ApiError):
        verify_jwt("not.a.jwt", KEYS, NOW, URI)
