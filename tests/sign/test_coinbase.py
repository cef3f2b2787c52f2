"""Coinbase JWTs: verified with PyJWT against the public key; header and claims equal
coinbase-advanced-py's for the same key, time and nonce; Ed25519 tokens are byte-identical."""

import base64
import secrets

import jwt as pyjwt
import pytest
from coinbase import jwt_generator
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from trader.core import CoinbaseSigner, CredentialError, InvalidInputError

KEY_NAME = "organizations/0000/apiKeys/1111"


def _ec_pem() -> tuple[str, ec.EllipticCurvePrivateKey]:
    k = ec.generate_private_key(ec.SECP256R1())
    pem = k.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return pem, k


def _sdk_jwt(secret: str, uri: str | None, now: int, nonce: str, mp: pytest.MonkeyPatch) -> str:
    mp.setattr(jwt_generator.time, "time", lambda: now)
    mp.setattr(jwt_generator.secrets, "token_hex", lambda: nonce)
    token = (
        jwt_generator.build_rest_jwt(uri, KEY_NAME, secret)
        if uri
        else jwt_generator.build_ws_jwt(KEY_NAME, secret)
    )
    return str(token)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(min_value=1_600_000_000, max_value=4_000_000_000),
    st.sampled_from(["GET", "POST", "DELETE"]),
    st.sampled_from(["/api/v3/brokerage/accounts", "/api/v3/brokerage/orders", None]),
)
def test_es256_matches_sdk_claims_and_verifies(now: int, method: str, path: str | None) -> None:
    pem, key = _ec_pem()
    nonce = secrets.token_hex()
    uri = f"{method} api.coinbase.com{path}" if path else None
    ours = CoinbaseSigner(KEY_NAME, pem).jwt(uri, now, nonce)
    with pytest.MonkeyPatch.context() as mp:
        sdk = _sdk_jwt(pem, uri, now, nonce, mp)
    # header and claims byte for byte; the ECDSA signature itself is randomized in the SDK
    assert ours.split(".")[:2] == sdk.split(".")[:2]
    claims = pyjwt.decode(
        ours, key.public_key(), algorithms=["ES256"], options={"verify_exp": False, "verify_nbf": False}
    )
    assert claims == {
        "sub": KEY_NAME,
        "iss": "cdp",
        "nbf": now,
        "exp": now + 120,
        **({"uri": uri} if uri else {}),
    }
    assert pyjwt.get_unverified_header(ours) == {
        "alg": "ES256",
        "kid": KEY_NAME,
        "nonce": nonce,
        "typ": "JWT",
    }


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.integers(min_value=1_600_000_000, max_value=4_000_000_000))
def test_ed25519_is_byte_identical(seed: bytes, now: int) -> None:
    secret = base64.b64encode(seed).decode()
    nonce = "ab" * 32
    uri = "GET api.coinbase.com/api/v3/brokerage/accounts"
    ours = CoinbaseSigner(KEY_NAME, secret).jwt(uri, now, nonce)
    with pytest.MonkeyPatch.context() as mp:
        assert ours == _sdk_jwt(secret, uri, now, nonce, mp)
    public = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
    pyjwt.decode(ours, public, algorithms=["EdDSA"], options={"verify_exp": False, "verify_nbf": False})


def test_request_shape_and_errors() -> None:
    pem, _ = _ec_pem()
    s = CoinbaseSigner(KEY_NAME, pem)
    assert s.algorithm == "ES256"
    r = s.sign(
        "POST", "/api/v3/brokerage/orders", [("product_id", "BTC-USD"), ("side", "BUY")], 1_700_000_000, "n1"
    )
    assert r.body == b'{"product_id":"BTC-USD","side":"BUY"}'
    token = dict(r.headers)["Authorization"].removeprefix("Bearer ")
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert claims["uri"] == "POST api.coinbase.com/api/v3/brokerage/orders"
    assert "BEGIN" not in repr(s)
    with pytest.raises(CredentialError, match="neither PEM nor valid base64"):
        CoinbaseSigner(KEY_NAME, "not a key!")
    with pytest.raises(CredentialError, match="32 or 64 bytes"):
        CoinbaseSigner(KEY_NAME, base64.b64encode(b"x" * 10).decode())
    wrong_curve = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    with pytest.raises(CredentialError, match="P-256"):
        CoinbaseSigner(KEY_NAME, wrong_curve.decode())
    with pytest.raises(InvalidInputError, match="nonce"):
        s.jwt(None, 1, "")
