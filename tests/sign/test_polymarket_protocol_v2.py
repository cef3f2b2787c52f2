"""Polymarket orders against the official SDK `polymarket-client` (the oracle, PyPI; repo Polymarket/py-sdk):
CTF markets (token ids: CTF Exchange V2 or Neg Risk CTF Exchange V2, EIP-712 domain version "2") and
Protocol V2 markets (position ids: ExchangeV3, domain version "3"), every signature type the SDK signs.
The SDK's typed data (`build_order_typed_data`), signed by eth-account as the SDK signs it, must give our
Rust signer's signature byte for byte, and its EIP-712 digest our order hash."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st
from polymarket._internal.actions.orders.context import resolve_order_exchange_address
from polymarket._internal.actions.orders.typed_data import build_order_signature, build_order_typed_data
from polymarket._internal.actions.orders.types import BYTES32_ZERO, UnsignedOrder
from polymarket._internal.environment import PRODUCTION_CONFIG
from polymarket._internal.protocol import is_v2_position_id
from polymarket.types import EvmAddress, HexString

from trader.core import PolymarketSigner, Side
from trader.venues.polymarket.markets import is_position_id, position_ids

WALLET = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

keys = st.binary(min_size=32, max_size=32).filter(
    lambda b: (
        0 < int.from_bytes(b, "big") < 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    )
)
# a Protocol V2 market's condition id: module 01 (binary) or 02 (neg risk), 16 bytes, 14 zero bytes, then
# the 00 the market id is padded with (polymarket-client `models/types.py` to_market_condition_id)
v2_conditions = st.tuples(st.sampled_from(["01", "02"]), st.binary(min_size=16, max_size=16)).map(
    lambda t: "0x" + t[0] + t[1].hex() + "00" * 14 + "00"
)
ctf_tokens = st.binary(min_size=32, max_size=32).map(lambda b: str(int.from_bytes(keccak(b), "big")))


def _sdk_signature(pk: str, o: UnsignedOrder) -> str:
    """The signature exactly as `SecureClient._sign_order` makes it for an OWNER signer."""
    signed = Account.from_key(pk).sign_typed_data(full_message=build_order_typed_data(o))
    raw = signed.signature.hex()
    return str(build_order_signature(o, HexString(raw if raw.startswith("0x") else "0x" + raw)))


@settings(max_examples=60, deadline=None)
@given(
    keys,
    st.one_of(v2_conditions.flatmap(lambda c: st.sampled_from(position_ids(c))), ctf_tokens),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=1, max_value=99),
    st.integers(min_value=1, max_value=100_000),
    st.booleans(),
    st.integers(min_value=0, max_value=2**53 - 1),
    st.integers(min_value=1_700_000_000_000, max_value=1_900_000_000_000),
    st.sampled_from([0, 1, 2, 3]),
)
def test_orders_match_polymarket_client(
    key: bytes,
    asset: str,
    side: Side,
    cents: int,
    size_cents: int,
    neg_risk: bool,
    salt: int,
    now_ms: int,
    sig_type: int,
) -> None:
    pk = "0x" + key.hex()
    v2 = is_v2_position_id(asset)
    assert is_position_id(asset) == v2  # our reading of the id namespace is the SDK's
    version = 3 if v2 else 2
    funder = None if sig_type == 0 else WALLET
    ours = PolymarketSigner(pk, signature_type=sig_type, funder=funder).order(
        asset, f"0.{cents:02d}", f"{size_cents // 100}.{size_cents % 100:02d}", side,
        tick_size="0.01", neg_risk=neg_risk, salt=salt, timestamp_ms=now_ms, version=version,
    )  # fmt: skip
    address = Account.from_key(pk).address
    unsigned = UnsignedOrder(
        chain_id=137,
        builder=BYTES32_ZERO,
        exchange_address=resolve_order_exchange_address(PRODUCTION_CONFIG, asset_id=asset, neg_risk=neg_risk),
        expiration=0,
        maker=EvmAddress(funder or address),
        maker_amount=ours.maker_amount,
        metadata=BYTES32_ZERO,
        order_type="GTC",
        salt=salt,
        side="BUY" if side == Side.BUY else "SELL",
        signature_type=sig_type,
        signer=EvmAddress(WALLET if sig_type == 3 else address),  # POLY_1271: the wallet signs
        taker_amount=ours.taker_amount,
        timestamp=now_ms,
        token_id=asset,
        protocol_version="3" if v2 else "2",
    )
    sdk_sig = _sdk_signature(pk, unsigned)
    assert ours.version == version
    assert ours.signature == sdk_sig
    assert ours.signer == unsigned.signer
    if sig_type != 3:  # the plain EIP-712 digest is the order id (POLY_1271 signs a TypedDataSign wrapper)
        digest = _digest(build_order_typed_data(unsigned))
        assert ours.hash == digest
        assert Account._recover_hash(bytes.fromhex(digest[2:]), signature=ours.signature) == address


def _digest(typed: dict[str, object]) -> str:
    m = encode_typed_data(full_message=typed)
    return "0x" + keccak(b"\x19" + m.version + m.header + m.body).hex()


def test_exchange_addresses_are_the_sdks() -> None:
    """ExchangeV3 for position ids whatever neg risk says; the V2 exchanges for CTF token ids."""
    from trader.venues.polymarket import endpoints

    assert PRODUCTION_CONFIG.exchange_v3 == endpoints.EXCHANGE_V3
    assert PRODUCTION_CONFIG.standard_exchange == endpoints.EXCHANGE
    assert PRODUCTION_CONFIG.neg_risk_exchange == endpoints.NEG_RISK_EXCHANGE
    assert PRODUCTION_CONFIG.collateral_token == endpoints.COLLATERAL
    assert PRODUCTION_CONFIG.conditional_tokens == endpoints.CTF
    assert PRODUCTION_CONFIG.position_manager == endpoints.POSITION_MANAGER
    assert PRODUCTION_CONFIG.protocol_v2_router == endpoints.PROTOCOL_V2_ROUTER
    assert PRODUCTION_CONFIG.collateral_adapter == endpoints.COLLATERAL_ADAPTER
    assert PRODUCTION_CONFIG.neg_risk_adapter == endpoints.NEG_RISK_ADAPTER
