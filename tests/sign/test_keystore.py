"""Keystores: eth-account wallet files and our API-secret files decrypt in Rust and sign."""

import json
import os
from pathlib import Path
from typing import Literal

import pytest
from eth_account import Account

from tests.conftest import load_vector
from trader.core import (
    AlpacaSigner,
    BinanceSigner,
    CredentialError,
    InvalidInputError,
    Keystore,
    KrakenSigner,
    PolymarketSigner,
)
from trader.errors import ConfigError
from trader.secrets import alpaca_headers, load_keystore, write_keystore

KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")


@pytest.mark.parametrize("kdf", ["scrypt", "pbkdf2"])
def test_eth_account_wallet_file(tmp_path: Path, kdf: Literal["scrypt", "pbkdf2"]) -> None:
    doc = Account.encrypt(KEY, "hunter2", kdf=kdf, iterations=2**10 if kdf == "scrypt" else 1000)
    path = tmp_path / "wallet.json"
    path.write_text(json.dumps(doc))
    ks = load_keystore(path, "hunter2")
    assert repr(ks) == "Keystore(***)"
    signer = PolymarketSigner(ks)
    assert signer.address == Account.from_key(KEY).address
    with pytest.raises(CredentialError, match="wrong password"):
        load_keystore(path, "wrong")


def test_default_work_factor_file_from_eth_account(tmp_path: Path) -> None:
    """eth-account's defaults (scrypt n = 2^18): the file a user actually has."""
    doc = Account.encrypt(KEY, "pw")
    assert doc["crypto"]["kdfparams"]["n"] == 2**18
    ks = Keystore.decrypt(json.dumps(doc), "pw")
    assert PolymarketSigner(ks).address == Account.from_key(KEY).address


def test_api_secret_files(tmp_path: Path) -> None:
    v = load_vector("signing.json")
    path = tmp_path / "binance.json"
    write_keystore(path, v["binance"][0]["secret"], "pw", log_n=10)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert v["binance"][0]["secret"] not in path.read_text()
    signer = BinanceSigner("key", load_keystore(path, "pw"))
    assert signer.signature(v["binance"][0]["payload"].encode()) == v["binance"][0]["signature"]
    kpath = tmp_path / "kraken.json"
    write_keystore(kpath, v["kraken"]["secret"], "pw", log_n=10)
    k = KrakenSigner("key", load_keystore(kpath, "pw"))
    assert (
        k.signature(v["kraken"]["path"], v["kraken"]["nonce"], v["kraken"]["payload"].encode())
        == (v["kraken"]["signature"])
    )
    with pytest.raises(FileExistsError):
        write_keystore(path, "x", "pw", log_n=10)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read keystore"):
        load_keystore(tmp_path / "missing.json", "pw")
    with pytest.raises(CredentialError, match="not JSON"):
        Keystore.decrypt("nope", "pw")
    with pytest.raises(CredentialError, match="version 3"):
        Keystore.decrypt('{"version": 1}', "pw")
    with pytest.raises(InvalidInputError, match="salt must be 32 bytes"):
        Keystore.encrypt("x", "pw", salt=b"short", iv=os.urandom(16))
    with pytest.raises(InvalidInputError, match="str or a Keystore"):
        BinanceSigner("key", b"bytes")  # type: ignore[arg-type]


def test_alpaca_headers() -> None:
    assert alpaca_headers("AKID", "s3cret") == [
        ("APCA-API-KEY-ID", "AKID"),
        ("APCA-API-SECRET-KEY", "s3cret"),
    ]
    assert "s3cret" not in repr(AlpacaSigner("AKID", "s3cret"))
    with pytest.raises(CredentialError, match="alpaca api secret is empty"):
        AlpacaSigner("AKID", "")


def test_eth_account_wallet_file_whose_iv_lost_its_leading_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """eth-keyfile writes the iv as an integer, so one wallet file in 256 states a 15-byte iv (its leading
    zero byte dropped); eth-account decrypts it, and so must we."""
    from Crypto import Random  # what eth-keyfile draws its salt and iv from

    draws = iter([bytes(range(16, 32)), b"\x00" + bytes(range(1, 16))])  # the salt, then the iv
    monkeypatch.setattr(Random, "get_random_bytes", lambda n: next(draws)[:n])
    doc = Account.encrypt(KEY, "hunter2", kdf="pbkdf2", iterations=1000)
    assert len(bytes.fromhex(doc["crypto"]["cipherparams"]["iv"])) == 15
    assert bytes(Account.decrypt(doc, "hunter2")) == KEY
    ks = Keystore.decrypt(json.dumps(doc), "hunter2")
    assert PolymarketSigner(ks).address == Account.from_key(KEY).address
