"""Polymarket: (token, price, size, side) -> signed, postable JSON body and L2 headers, against
py-clob-client-v2's `create_order` (coincurve installed, so eth-account signs through libsecp256k1)
and against a bare `sign_recoverable` through coincurve, all in the same run."""

from typing import Any

import coincurve
import pytest

from trader.core import PolymarketSigner, Side

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"


@pytest.mark.benchmark(group="sign.polymarket_order")
def test_ours_polymarket_post_order(benchmark: Any) -> None:
    s = PolymarketSigner(KEY)
    s.set_api_creds("api-key", SECRET, "passphrase")

    def run() -> tuple[Any, Any]:
        return s.post_order(
            TOKEN,
            "0.52",
            "100",
            Side.BUY,
            tick_size="0.01",
            neg_risk=False,
            salt=123456789,
            timestamp_ms=1_700_000_000_000,
            timestamp_s=1_700_000_000,
        )

    benchmark.extra_info.update(role="ours")
    order, req = benchmark(run)
    assert req.body == order.body("api-key").encode()


@pytest.mark.benchmark(group="sign.polymarket_order")
def test_py_clob_client_v2_create_order(benchmark: Any) -> None:
    from py_clob_client_v2.client import ClobClient
    from py_clob_client_v2.clob_types import ApiCreds, OrderArgsV2, PartialCreateOrderOptions

    c = ClobClient(
        "http://127.0.0.1:9", key=KEY, chain_id=137, creds=ApiCreds("api-key", SECRET, "passphrase")
    )
    c._ClobClient__tick_sizes[TOKEN] = "0.01"  # as after the SDK's first /tick-size lookup
    options = PartialCreateOrderOptions(tick_size="0.01", neg_risk=False, version=2)
    benchmark.extra_info.update(role="baseline", min_ratio=25)
    order = benchmark(lambda: c.create_order(OrderArgsV2(TOKEN, 0.52, 100.0, "BUY"), options))
    assert order.signature.startswith("0x")


@pytest.mark.benchmark(group="sign.polymarket_order")
def test_coincurve_sign_recoverable(benchmark: Any) -> None:
    """The floor: one secp256k1 recoverable signature through coincurve. Goal: ours within 1.5x of it."""
    pk = coincurve.PrivateKey(bytes.fromhex(KEY[2:]))
    digest = bytes(range(32))
    benchmark.extra_info.update(role="baseline", min_ratio=round(1 / 1.5, 3))
    assert len(benchmark(pk.sign_recoverable, digest, hasher=None)) == 65
