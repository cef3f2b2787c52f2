"""Every venue the conformance suite runs, one harness each. A venue's harness lives in `harness.py` (the
first ones) or in `harness_<venue>.py`; adding a venue is adding its harness here."""

from tests.conformance.harness import AlpacaHarness, BinanceHarness, Harness, IbkrHarness, PolymarketHarness
from tests.conformance.harness_bybit import BybitHarness
from tests.conformance.harness_coinbase import CoinbaseHarness
from tests.conformance.harness_kraken import KrakenHarness
from tests.conformance.harness_okx import OkxHarness

HARNESSES: list[Harness] = [
    BinanceHarness("spot"),
    BinanceHarness("futures"),
    BinanceHarness("margin"),
    BinanceHarness("spot", venue="sim"),
    PolymarketHarness(),
    AlpacaHarness(),
    IbkrHarness(),
    CoinbaseHarness(),
    KrakenHarness(),
    *(BybitHarness(market) for market in ("spot", "linear")),
    OkxHarness(),
    OkxHarness("swap"),
]
