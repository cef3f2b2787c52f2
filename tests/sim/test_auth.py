"""The simulators' shared signature checks (`trader.sim.auth`): HMAC-SHA256 hex and Ed25519 base64,
computed here independently with the standard library and `cryptography`."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trader.sim.auth import ed25519_b64, hmac_sha256_hex, load_ed25519_public_key

PAYLOAD = "symbol=BTCUSDT&side=BUY&timestamp=1700000000000"


def test_hmac_sha256_hex_any_case_and_only_the_exact_payload() -> None:
    sig = hmac.new(b"secret", PAYLOAD.encode(), hashlib.sha256).hexdigest()
    assert hmac_sha256_hex(b"secret", PAYLOAD, sig)
    assert hmac_sha256_hex(b"secret", PAYLOAD, sig.upper())
    assert not hmac_sha256_hex(b"other", PAYLOAD, sig)
    assert not hmac_sha256_hex(b"secret", PAYLOAD + "&x=1", sig)
    assert not hmac_sha256_hex(b"secret", PAYLOAD, "")


def _pem(private: Ed25519PrivateKey) -> str:
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public.decode()


def test_ed25519_base64_plain_or_url_encoded() -> None:
    private = Ed25519PrivateKey.generate()
    public = load_ed25519_public_key(_pem(private), "k")
    sig = base64.b64encode(private.sign(PAYLOAD.encode())).decode()
    assert ed25519_b64(public, PAYLOAD, sig)
    assert ed25519_b64(public, PAYLOAD, quote(sig, safe=""))
    assert not ed25519_b64(public, PAYLOAD + "&x=1", sig)
    other = base64.b64encode(Ed25519PrivateKey.generate().sign(PAYLOAD.encode())).decode()
    assert not ed25519_b64(public, PAYLOAD, other)
    assert not ed25519_b64(public, PAYLOAD, "not base64!")


def test_only_ed25519_public_keys_load() -> None:
    ec = generate_private_key(SECP256R1()).public_key()
    pem = ec.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ValueError, match="'ec-key' is not an Ed25519 key"):
        load_ed25519_public_key(pem.decode(), "ec-key")


def test_hmac_sha256_b64url_and_secrets_in_the_clear() -> None:
    import base64
    import hashlib
    import hmac

    from trader.sim.auth import hmac_sha256_b64url, same_secret

    secret = base64.urlsafe_b64encode(b"k" * 32).decode()
    good = base64.urlsafe_b64encode(hmac.new(b"k" * 32, b"1700GET/orders", hashlib.sha256).digest()).decode()
    assert hmac_sha256_b64url(secret, b"1700GET/orders", good)
    assert not hmac_sha256_b64url(secret, b"1700GET/order", good)
    assert not hmac_sha256_b64url("not base64!", b"x", good)
    assert same_secret(b"s3cret", "s3cret")
    assert not same_secret("s3cret", b"s3cre7")
