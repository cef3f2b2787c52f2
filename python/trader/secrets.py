"""Credentials: one place that reads them, and they go straight into the Rust signers.

Secrets are stored as keystore v3 files (Web3 Secret Storage: scrypt, AES-128-CTR), the format
eth-account writes for wallet keys; API secrets use the same format. `load_keystore` decrypts in Rust and
returns a `Keystore` handle that signers accept in place of a `str`; the plaintext never becomes a Python
object. Alpaca's key headers and IBKR's (secret-free) socket settings are built here too.
"""

import json
import os
from pathlib import Path
from typing import Any

from trader.core import Keystore
from trader.errors import ConfigError

# scrypt n = 2^18, r = 8, p = 1: the work factor eth-keyfile uses (../shared/RELIABILITY.md §7).
DEFAULT_LOG_N = 18

# What real wallets write (geth "standard" scrypt n = 2^18, "light" 2^12; eth-keyfile n = 2^18 and
# pbkdf2 c = 10^6; r = 8, p = 1, dklen = 32), with headroom. Anything beyond is refused *before* the KDF
# runs: scrypt needs 128·n·r bytes (n = 2^30 would abort the process allocating) and the KDF holds the
# interpreter (a PBKDF2 with c = 4·10^9 would run for hours, deaf to Ctrl-C).
SCRYPT_MAX_N = 2**20
SCRYPT_MAX_R = 8
SCRYPT_MAX_P = 16
SCRYPT_MAX_COST = 2**20 * 8  # n·r·p: time (and, through n·r, memory), four times geth's standard
PBKDF2_MAX_C = 10_000_000
DKLEN = 32
MAX_KEYSTORE_BYTES = 64 * 1024  # a keystore is well under 1 KiB


def _int(params: dict[str, Any], key: str, path: str | Path, low: int, high: int) -> int:
    v = params.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise ConfigError(
            f"keystore {path}: kdfparams {key} = {v!r} is outside what wallets use ({low}..{high})"
        )
    return v


def check_keystore(text: str, path: str | Path = "<keystore>") -> None:
    """Refuse a keystore that is not v3 JSON or whose KDF parameters are beyond what wallets use
    (`ConfigError`), without running the KDF or allocating for it."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise ConfigError(f"keystore {path} is not JSON") from None
    crypto = doc.get("crypto", doc.get("Crypto")) if isinstance(doc, dict) else None
    params = crypto.get("kdfparams") if isinstance(crypto, dict) else None
    if not isinstance(crypto, dict) or not isinstance(params, dict) or doc.get("version") != 3:
        raise ConfigError(f"keystore {path} is not a version 3 keystore with kdfparams")
    _int(params, "dklen", path, DKLEN, DKLEN)
    kdf = crypto.get("kdf")
    if kdf == "scrypt":
        n = _int(params, "n", path, 2, SCRYPT_MAX_N)
        r = _int(params, "r", path, 1, SCRYPT_MAX_R)
        p = _int(params, "p", path, 1, SCRYPT_MAX_P)
        if n & (n - 1) or n * r * p > SCRYPT_MAX_COST:
            raise ConfigError(
                f"keystore {path}: scrypt n = {n}, r = {r}, p = {p} is beyond what wallets use "
                f"(n a power of two, n·r·p <= {SCRYPT_MAX_COST})"
            )
    elif kdf == "pbkdf2":
        _int(params, "c", path, 1, PBKDF2_MAX_C)
    else:
        raise ConfigError(f"keystore {path}: kdf must be scrypt or pbkdf2, got {kdf!r}")


def load_keystore(path: str | Path, password: str) -> Keystore:
    """Decrypt a keystore v3 file: `CredentialError` on a wrong password, `ConfigError` if unreadable,
    malformed or with KDF parameters beyond what wallets use (checked before the KDF runs)."""
    try:
        with Path(path).open("rb") as f:
            data = f.read(MAX_KEYSTORE_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"cannot read keystore {path}: {e.strerror}") from None
    if len(data) > MAX_KEYSTORE_BYTES:
        raise ConfigError(f"keystore {path} is larger than {MAX_KEYSTORE_BYTES} bytes; not a keystore")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"keystore {path} is not UTF-8 JSON") from None
    check_keystore(text, path)
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
