"""Secrets stay inside the signers: not in reprs, errors or attributes; bad keys get typed errors."""

import pytest

from trader.core import (
    BinanceSigner,
    BybitSigner,
    CredentialError,
    InvalidInputError,
    KrakenSigner,
    OkxSigner,
    TraderError,
)

CANARY = "CANARYsecret0123456789"
PASSPHRASE = "CANARYpassphrase"


def test_no_secret_in_repr_or_attributes() -> None:
    signers = [
        BinanceSigner("key1", CANARY),
        BybitSigner("key2", CANARY),
        OkxSigner("key3", CANARY, PASSPHRASE),
        KrakenSigner("key4", "Q0FOQVJZc2VjcmV0MDEyMzQ1Njc4OQ=="),
    ]
    for s in signers:
        text = repr(s) + str(s) + " ".join(str(getattr(s, a, "")) for a in dir(s) if not a.startswith("__"))
        assert "CANARY" not in text
        assert "key" not in repr(s)
    r = OkxSigner("key3", CANARY, PASSPHRASE).sign("GET", "/api/v5/account/balance", [], 1_700_000_000_000)
    assert PASSPHRASE in dict(r.headers)["OK-ACCESS-PASSPHRASE"]  # it must be sent...
    assert PASSPHRASE not in repr(r)  # ...but never shown
    assert "key3" not in repr(r)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: BinanceSigner("", CANARY), "binance api key is empty"),
        (lambda: BinanceSigner("a key", CANARY), "characters a header cannot carry"),
        (lambda: BinanceSigner("k", ""), "binance api secret is empty"),
        (lambda: BybitSigner("k", ""), "bybit api secret is empty"),
        (lambda: OkxSigner("k", CANARY, ""), "okx passphrase is empty"),
        (lambda: KrakenSigner("k", "not base64 " + CANARY), "kraken api secret is not valid base64"),
        (lambda: KrakenSigner("k", ""), "kraken api secret is empty"),
    ],
)
def test_bad_credentials(make: object, message: str) -> None:
    with pytest.raises(CredentialError, match=message) as e:
        make()  # type: ignore[operator]
    assert isinstance(e.value, TraderError)
    assert isinstance(e.value, ValueError)
    assert CANARY not in str(e.value)


def test_bad_requests() -> None:
    s = BinanceSigner("k", CANARY)
    with pytest.raises(InvalidInputError, match="unsupported HTTP method"):
        s.sign("FETCH", "/api/v3/order", [], 1)
    with pytest.raises(InvalidInputError, match="request path"):
        s.sign("GET", "/api/v3/order?x=1", [], 1)
    with pytest.raises(InvalidInputError, match="set by the signer"):
        s.sign("GET", "/api/v3/order", [("timestamp", "1")], 1)
    with pytest.raises(InvalidInputError, match="must be str, int or bool"):
        s.sign("GET", "/api/v3/order", [("price", 1.5)], 1)  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="does not fit 64 bits"):
        s.sign("GET", "/api/v3/order", [("n", 2**70)], 1)
    with pytest.raises(InvalidInputError, match="set by the signer"):
        KrakenSigner("k", "c2VjcmV0").sign("/0/private/Balance", [("nonce", 1)], 1)
    r = BybitSigner("k", CANARY).sign(
        "POST", "/v5/order/create", [("qty", "1"), ("n", 3), ("reduceOnly", True)], 1
    )
    assert r.body == b'{"qty": "1", "n": 3, "reduceOnly": true}'  # pybit's json.dumps form
