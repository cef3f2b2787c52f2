"""The Bybit v5 simulator (spot): state (`state.py`), the exchange (`exchange.py`: matching, balances,
the private events) and the server (`server.py`: REST /v5 in Bybit's envelope, public and private
streams)."""

from __future__ import annotations

from trader.sim.bybit.server import BybitSimServer
from trader.sim.bybit.state import DEMO_KEY, DEMO_SECRET, INSTRUMENTS, ApiError, Instrument, Order

__all__ = ["DEMO_KEY", "DEMO_SECRET", "INSTRUMENTS", "ApiError", "BybitSimServer", "Instrument", "Order"]
