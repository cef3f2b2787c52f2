"""Polymarket signing against py-clob-client-v2 (the oracle) and eth-account (signature recovery)."""

import json
import math
import random
import time

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st
from py_clob_client_v2.clob_types import ApiCreds, CreateOrderOptions, OrderArgsV1, OrderArgsV2, RequestArgs
from py_clob_client_v2.headers.headers import create_level_1_headers, create_level_2_headers
from py_clob_client_v2.order_builder.builder import ROUNDING_CONFIG, OrderBuilder
from py_clob_client_v2.order_utils.model.order_data_v1 import order_to_json_v1
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from py_clob_client_v2.signer import Signer

from trader.core import CredentialError, InvalidInputError, PolymarketSigner, Side

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
SAFE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
TICKS = sorted(ROUNDING_CONFIG, key=float)

keys = st.binary(min_size=32, max_size=32).filter(
    lambda b: (
        0 < int.from_bytes(b, "big") < 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    )
)


def test_l2_vector_and_headers() -> None:
    s = PolymarketSigner(KEY)
    with pytest.raises(CredentialError, match="no polymarket api credentials"):
        s.l2_headers(1, "GET", "/data/orders")
    s.set_api_creds("api-key", SECRET, "pass")
    ours = dict(s.l2_headers(1_000_000, "POST", "/order", b'{"a":1}'))
    sdk = create_level_2_headers(
        Signer(KEY, 137),
        ApiCreds("api-key", SECRET, "pass"),
        RequestArgs("POST", "/order", serialized_body='{"a":1}'),
        timestamp=1_000_000,
    )
    assert ours == sdk


@settings(max_examples=25, deadline=None)
@given(keys, st.integers(min_value=0, max_value=4_000_000_000), st.integers(min_value=0, max_value=2**64 - 1))
def test_l1_headers_match_sdk_and_recover(key: bytes, ts: int, nonce: int) -> None:
    pk = "0x" + key.hex()
    ours = dict(PolymarketSigner(pk).l1_headers(ts, nonce))
    assert ours == create_level_1_headers(Signer(pk, 137), nonce=nonce, timestamp=ts)
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            "ClobAuth": [
                {"name": "address", "type": "address"},
                {"name": "timestamp", "type": "string"},
                {"name": "nonce", "type": "uint256"},
                {"name": "message", "type": "string"},
            ],
        },
        "primaryType": "ClobAuth",
        "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": 137},
        "message": {
            "address": ours["POLY_ADDRESS"],
            "timestamp": str(ts),
            "nonce": nonce,
            "message": "This message attests that I control the given wallet",
        },
    }
    recovered = Account.recover_message(
        encode_typed_data(full_message=typed), signature=ours["POLY_SIGNATURE"]
    )
    assert recovered == ours["POLY_ADDRESS"] == Account.from_key(pk).address


def _sdk_order(
    pk: str,
    sig_type: int,
    funder: str | None,
    args: OrderArgsV2,
    tick: str,
    neg_risk: bool,
    salt_r: float,
    now_ms: int,
    version: int = 2,
) -> object:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(time, "time_ns", lambda: now_ms * 1_000_000)
        mp.setattr(random, "random", lambda: salt_r)
        return OrderBuilder(Signer(pk, 137), sig_type, funder).build_order(
            args, CreateOrderOptions(tick_size=tick, neg_risk=neg_risk), version=version
        )


@settings(max_examples=150, deadline=None)
@given(
    keys,
    st.sampled_from(TICKS),
    st.integers(min_value=1, max_value=9999),
    st.integers(min_value=1, max_value=10_000_000),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.booleans(),
    st.integers(min_value=0, max_value=2**256 - 1),
    st.floats(min_value=0.0, max_value=0.999),
    st.integers(min_value=1_700_000_000_000, max_value=1_900_000_000_000),
    st.sampled_from([0, 1, 2, 3]),
    st.sampled_from([2, 3]),
)
def test_orders_match_sdk_byte_for_byte(
    key: bytes,
    tick: str,
    tick_count: int,
    cents: int,
    side: Side,
    neg_risk: bool,
    token: int,
    salt_r: float,
    now_ms: int,
    sig_type: int,
    version: int,
) -> None:
    """Version 2: a CTF market's token id (the market's V2 exchange); version 3: a Protocol V2 market's
    position id, which py-clob-client-v2 signs for ExchangeV3 (domain version "3")."""
    pk = "0x" + key.hex()
    n_ticks = round(1 / float(tick))
    k = 1 + tick_count % (n_ticks - 1)  # tick <= price <= 1 - tick
    dp = len(tick.split(".")[1])
    price = f"{k * float(tick):.{dp}f}"
    size = f"{cents // 100}.{cents % 100:02d}"
    funder = None if sig_type == 0 else SAFE
    salt = int(salt_r * now_ms)
    ours = PolymarketSigner(pk, signature_type=sig_type, funder=funder).order(
        str(token), price, size, side, tick_size=tick, neg_risk=neg_risk, salt=salt, timestamp_ms=now_ms,
        version=version,
    )  # fmt: skip
    side_s = "BUY" if side == Side.BUY else "SELL"
    args = (
        OrderArgsV2(str(token), float(price), float(size), side_s)
        if version == 2
        else OrderArgsV2(price=float(price), size=float(size), side=side_s, position_id=str(token))
    )
    sdk = _sdk_order(pk, sig_type, funder, args, tick, neg_risk, salt_r, now_ms, version)
    if (int(sdk.makerAmount), int(sdk.takerAmount)) != (ours.maker_amount, ours.taker_amount):  # type: ignore[attr-defined]
        # The SDK floors sizes with binary floats: floor(0.29 * 100) == 28. We compute exactly; any
        # disagreement must be that artifact (or the same for the price), never a different rule.
        assert math.floor(float(size) * 100) != cents or round(float(price) * 10**dp) != k
        return
    assert ours.signature == sdk.signature  # type: ignore[attr-defined]
    assert (ours.maker, ours.signer, ours.salt, ours.timestamp_ms) == (
        sdk.maker,  # type: ignore[attr-defined]
        sdk.signer,  # type: ignore[attr-defined]
        int(sdk.salt),  # type: ignore[attr-defined]
        int(sdk.timestamp),  # type: ignore[attr-defined]
    )
    sdk_body = json.dumps(
        order_to_json_v2(sdk, "owner-uuid", "GTC"), separators=(",", ":"), ensure_ascii=False
    )
    assert ours.body("owner-uuid", "GTC") == sdk_body
    if sig_type == 3:  # ERC-1271: the wallet contract verifies it; the SDK's bytes above are the oracle
        return
    assert Account._recover_hash(
        bytes.fromhex(ours.hash[2:]), signature=bytes.fromhex(ours.signature[2:])
    ) == (Account.from_key(pk).address)


def test_post_order_signs_the_exact_body() -> None:
    s = PolymarketSigner(KEY)
    s.set_api_creds("api-key", SECRET, "pass")
    order, req = s.post_order(
        "1234",
        "0.52",
        "100",
        Side.BUY,
        tick_size="0.01",
        neg_risk=False,
        salt=7,
        timestamp_ms=1,
        timestamp_s=2,
    )
    assert (order.maker_amount, order.taker_amount) == (52_000_000, 100_000_000)
    assert req.method == "POST"
    assert req.path == "/order"
    assert req.body == order.body("api-key").encode()
    headers = dict(req.headers)
    assert headers["POLY_SIGNATURE"] == dict(s.l2_headers(2, "POST", "/order", req.body))["POLY_SIGNATURE"]
    assert "pass" not in repr(req)
    # a Protocol V2 market's position id: the same body shape, signed for ExchangeV3 (domain "3")
    kw = {"tick_size": "0.01", "neg_risk": False, "salt": 7, "timestamp_ms": 1}
    v3, v3_req = s.post_order("256", "0.52", "100", Side.BUY, timestamp_s=2, version=3, **kw)  # type: ignore[arg-type]
    assert v3.version == 3
    assert v3.hash == s.order("256", "0.52", "100", Side.BUY, version=3, **kw).hash  # type: ignore[arg-type]
    assert v3.hash != s.order("256", "0.52", "100", Side.BUY, version=2, **kw).hash  # type: ignore[arg-type]
    assert v3_req.body == v3.body("api-key").encode()
    with pytest.raises(InvalidInputError, match="post-only"):
        s.post_order(
            "1",
            "0.5",
            "1",
            Side.BUY,
            tick_size="0.01",
            neg_risk=False,
            salt=1,
            timestamp_ms=1,
            timestamp_s=1,
            order_type="FOK",
            post_only=True,
        )


@pytest.mark.parametrize(
    ("price", "size", "tick", "message"),
    [
        ("0.525", "1", "0.01", "not a multiple"),
        ("1", "1", "0.01", "outside"),
        ("0", "1", "0.01", "outside"),
        ("0.5", "0.001", "0.01", "rounds down to 0"),
        ("0.5", "1", "0.02", "unsupported tick size"),
        ("0.5", "-1", "0.01", "size must be > 0"),
    ],
)
def test_bad_orders(price: str, size: str, tick: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        PolymarketSigner(KEY).order(
            "1", price, size, Side.BUY, tick_size=tick, neg_risk=False, salt=1, timestamp_ms=1
        )


def test_bad_keys_and_wallets() -> None:
    for bad in ["", "0x12", "zz" * 32, "00" * 32]:
        with pytest.raises(CredentialError):
            PolymarketSigner(bad)
    with pytest.raises(InvalidInputError, match="funder"):
        PolymarketSigner(KEY, signature_type=2)
    with pytest.raises(InvalidInputError, match="signature_type"):
        PolymarketSigner(KEY, signature_type=7)
    with pytest.raises(InvalidInputError, match="checksum"):
        PolymarketSigner(KEY, signature_type=1, funder=SAFE.replace("C51812dc", "c51812dc"))
    s = PolymarketSigner(KEY)
    assert s.address == s.funder == ADDRESS
    assert KEY[2:] not in repr(s)
    with pytest.raises(CredentialError, match="base64"):
        s.set_api_creds("k", "not base64!!", "p")


@settings(max_examples=60, deadline=None)
@given(
    keys,
    st.sampled_from(["0.01", "0.001"]),
    st.integers(min_value=1, max_value=99),
    st.integers(min_value=100, max_value=1_000_000),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.booleans(),
    st.integers(min_value=0, max_value=2**255),
    st.floats(min_value=0.0, max_value=0.999),
    st.integers(min_value=0, max_value=200),
    st.sampled_from([0, 1, 2]),
)
def test_legacy_v1_orders_match_sdk(
    key: bytes,
    tick: str,
    pct: int,
    cents: int,
    side: Side,
    neg_risk: bool,
    token: int,
    salt_r: float,
    fee: int,
    sig_type: int,
) -> None:
    """V1 (the legacy exchange, domain version "1"), against py-clob-client-v2's V1 builder (the same code
    py-clob-client with py-order-utils runs)."""
    pk = "0x" + key.hex()
    price = f"{pct / 100:.2f}"
    size = f"{cents // 100}.{cents % 100:02d}"
    funder = None if sig_type == 0 else SAFE
    now_ms = 1_800_000_000_000
    ours = PolymarketSigner(pk, signature_type=sig_type, funder=funder).order(
        str(token),
        price,
        size,
        side,
        tick_size=tick,
        neg_risk=neg_risk,
        salt=int(salt_r * now_ms),
        timestamp_ms=now_ms,
        version=1,
        fee_rate_bps=fee,
    )
    side_s = "BUY" if side == Side.BUY else "SELL"
    args = OrderArgsV1(
        token_id=str(token), price=float(price), size=float(size), side=side_s, fee_rate_bps=fee
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(time, "time_ns", lambda: now_ms * 1_000_000)
        mp.setattr(random, "random", lambda: salt_r)
        sdk = OrderBuilder(Signer(pk, 137), sig_type, funder).build_order(
            args, CreateOrderOptions(tick_size=tick, neg_risk=neg_risk), version=1, fee_rate_bps=fee
        )
    if (int(sdk.makerAmount), int(sdk.takerAmount)) != (ours.maker_amount, ours.taker_amount):
        assert math.floor(float(size) * 100) != cents  # the SDK's binary-float floor, as in V2
        return
    assert ours.version == 1
    assert ours.signature == sdk.signature
    sdk_body = json.dumps(order_to_json_v1(sdk, "owner", "GTC"), separators=(",", ":"), ensure_ascii=False)
    assert ours.body("owner") == sdk_body


class _FixedNow:
    @staticmethod
    def now() -> "_FixedNow":
        return _FixedNow()

    def replace(self, **_: object) -> "_FixedNow":
        return self

    def timestamp(self) -> float:
        return 1_800_000_000.0


@settings(max_examples=40, deadline=None)
@given(
    keys, st.integers(min_value=1, max_value=99), st.integers(min_value=100, max_value=100_000), st.booleans()
)
def test_legacy_v1_signature_matches_py_clob_client(key: bytes, pct: int, cents: int, neg_risk: bool) -> None:
    """The V1 oracle the issue names: py-clob-client with py-order-utils."""
    import py_order_utils.utils as pou
    from py_clob_client.clob_types import CreateOrderOptions as V1Options
    from py_clob_client.clob_types import OrderArgs as V1Args
    from py_clob_client.order_builder.builder import OrderBuilder as V1Builder
    from py_clob_client.signer import Signer as V1Signer

    pk = "0x" + key.hex()
    price, size = f"{pct / 100:.2f}", f"{cents // 100}.{cents % 100:02d}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pou, "random", lambda: 0.5)
        mp.setattr(pou, "datetime", _FixedNow)
        sdk = V1Builder(V1Signer(pk, 137)).create_order(
            V1Args(token_id="1234", price=float(price), size=float(size), side="BUY"),
            V1Options(tick_size="0.01", neg_risk=neg_risk),
        )
    ours = PolymarketSigner(pk).order(
        "1234",
        price,
        size,
        Side.BUY,
        tick_size="0.01",
        neg_risk=neg_risk,
        salt=900_000_000,
        timestamp_ms=0,
        version=1,
    )
    if (int(sdk.order["makerAmount"]), int(sdk.order["takerAmount"])) != (
        ours.maker_amount,
        ours.taker_amount,
    ):
        assert math.floor(float(size) * 100) != cents
        return
    assert sdk.order["salt"] == ours.salt
    assert sdk.signature == ours.signature
