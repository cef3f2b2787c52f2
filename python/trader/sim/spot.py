"""The Binance spot protocol alone, the built-in `sim` venue: a re-export of `trader.sim.binance`
(`SpotSimServer` is `BinanceSimServer` with the spot market only)."""

from trader.sim.binance import (
    DEMO_KEY,
    DEMO_SECRET,
    INSTRUMENTS,
    LIVE,
    SPOT,
    Account,
    ApiError,
    Order,
    SpotInstrument,
    SpotSimServer,
    UserKey,
)

__all__ = [
    "DEMO_KEY",
    "DEMO_SECRET",
    "INSTRUMENTS",
    "LIVE",
    "SPOT",
    "Account",
    "ApiError",
    "Order",
    "SpotInstrument",
    "SpotSimServer",
    "UserKey",
]
