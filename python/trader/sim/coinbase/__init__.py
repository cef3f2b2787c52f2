"""The Coinbase Advanced Trade simulator: REST (`rest.py`), the WebSocket channels (`ws.py`), its state and
JWT check (`state.py`) and the server that ties them (`server.py`)."""

from __future__ import annotations

from trader.sim.coinbase.server import CoinbaseSimServer
from trader.sim.coinbase.state import (
    DEMO_KEY_NAME,
    DEMO_PRIVATE_KEY,
    MAKER_BPS,
    ORDER_PATHS,
    PREFIX,
    PRODUCTS,
    TAKER_BPS,
    ApiError,
    Order,
    Product,
    verify_jwt,
)

__all__ = [
    "DEMO_KEY_NAME",
    "DEMO_PRIVATE_KEY",
    "MAKER_BPS",
    "ORDER_PATHS",
    "PREFIX",
    "PRODUCTS",
    "TAKER_BPS",
    "ApiError",
    "CoinbaseSimServer",
    "Order",
    "Product",
    "verify_jwt",
]
