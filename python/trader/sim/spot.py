"""The Binance spot protocol alone: a re-export of `trader.sim.binance` (`SpotSimServer` is
`BinanceSimServer` with the spot market only), kept so that `from trader.sim.spot import ...` works."""

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
