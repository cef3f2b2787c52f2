"""Signature checks for the loopback simulators, independent of the core under test: the standard
library's `hmac` and `cryptography`'s Ed25519, never `trader._core`.

- `hmac_sha256_hex`: HMAC-SHA256 over the payload, lowercase or uppercase hex (Binance, and any venue
  that signs the raw query/body with a shared secret).
- `ed25519_b64`: an Ed25519 signature in base64 over the payload (Binance Ed25519 API keys).
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
