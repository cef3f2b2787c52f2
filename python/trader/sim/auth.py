"""Signature checks for the loopback simulators, independent of the core under test: the standard
library's `hmac` and `cryptography`'s Ed25519, never `trader._core`.

- `hmac_sha256_hex`: HMAC-SHA256 over the payload, lowercase or uppercase hex (Binance, and any venue
  that signs the raw query/body with a shared secret).
- `ed25519_b64`: an Ed25519 signature in base64 over the payload (Binance Ed25519 API keys).
- `hmac_sha256_b64url`: HMAC-SHA256 under a base64url secret, the signature in base64url (Polymarket's L2
  headers).
- `same_secret`: a secret sent as is (Alpaca's key headers and stream auth), compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:  # `cryptography` is needed only when Ed25519 keys are configured
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def hmac_sha256_hex(secret: bytes, payload: str, signature: str) -> bool:
    """Whether `signature` is the hex HMAC-SHA256 of `payload` under `secret` (case-insensitive)."""
    good = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(good, signature.lower())


def hmac_sha256_b64url(secret_b64url: str, payload: bytes, signature: str) -> bool:
    """Whether `signature` is the base64url HMAC-SHA256 of `payload` under the base64url `secret`."""
    try:
        key = base64.urlsafe_b64decode(secret_b64url)
    except (binascii.Error, ValueError):
        return False
    good = base64.urlsafe_b64encode(hmac.new(key, payload, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(good, signature)


def same_secret(expected: bytes | str, given: bytes | str) -> bool:
    """Whether a secret sent in the clear (a header, a stream's auth message) is the expected one."""
    a = expected.encode() if isinstance(expected, str) else expected
    b = given.encode() if isinstance(given, str) else given
    return hmac.compare_digest(a, b)


def ed25519_b64(public_key: Ed25519PublicKey, payload: str, signature: str) -> bool:
    """Whether `signature` (base64, URL-encoded or not) is an Ed25519 signature of `payload`."""
    from cryptography.exceptions import InvalidSignature

    if "%" in signature:  # URL-encoded where it should not have been (a JSON field)
        signature = unquote(signature)
    try:
        public_key.verify(base64.b64decode(signature, validate=True), payload.encode())
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def load_ed25519_public_key(pem: str, name: str) -> Ed25519PublicKey:
    """The Ed25519 public key in `pem`; `ValueError` naming `name` for any other kind of key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    public = load_pem_public_key(pem.encode())
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError(f"the public key of {name!r} is not an Ed25519 key")
    return public
