"""Credentials: one place that reads them, and they go straight into the Rust signers.

Secrets are stored as keystore v3 files (Web3 Secret Storage: scrypt, AES-128-CTR), the format
eth-account writes for wallet keys; API secrets use the same format. `load_keystore` decrypts in Rust and
returns a `Keystore` handle that signers accept in place of a `str`; the plaintext never becomes a Python
object. Alpaca's key headers and IBKR's (secret-free) socket settings are built here too.
"""

import os
from pathlib import Path

from trader.core import Keystore
from trader.errors import ConfigError

# scrypt n = 2^18, r = 8, p = 1: the work factor eth-keyfile uses (../shared/RELIABILITY.md §7).
DEFAULT_LOG_N = 18


def load_keystore(path: str | Path, password: str) -> Keystore:
    """Decrypt a keystore v3 file: `CredentialError` on a wrong password, `ConfigError` if unreadable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read keystore {path}: {e.strerror}") from None
    return Keystore.decrypt(text, password)


def write_keystore(path: str | Path, plaintext: str, password: str, *, log_n: int = DEFAULT_LOG_N) -> None:
    """Encrypt `plaintext` (an API secret or a hex private key) into a new keystore v3 file (mode 0600)."""
    data = Keystore.encrypt(plaintext, password, salt=os.urandom(32), iv=os.urandom(16), log_n=log_n)
    target = Path(path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(data)


def alpaca_headers(key_id: str, secret: str | Keystore) -> list[tuple[str, str]]:
    """Alpaca authenticates with two headers, the secret sent as is (it must leave the process)."""
    from trader.core import AlpacaSigner

    return AlpacaSigner(key_id, secret).headers()
