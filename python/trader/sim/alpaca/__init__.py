"""The Alpaca simulator: Trading API v2 (`rest.py`), trade_updates and the msgpack/JSON market-data
stream (`ws.py`, `msgpack.py`), its state (`state.py`), the US/Eastern session calendar
(`market_hours.py`) and the server that ties them (`server.py`)."""

from __future__ import annotations

from trader.sim.alpaca.market_hours import (
    eastern_iso,
    eastern_ns,
    eastern_offset_s,
    next_session_time,
    parse_rfc3339,
    rfc3339,
    session,
)
from trader.sim.alpaca.msgpack import MsgpackTimestamp, packb, unpackb
from trader.sim.alpaca.server import AlpacaSimServer
from trader.sim.alpaca.state import (
    CENT,
    CHANNELS,
    DEMO_KEY,
    DEMO_SECRET,
    LISTINGS,
    LIVE,
    ORDER_PATHS,
    RATE_LIMIT,
    Account,
    ApiError,
    Order,
)

__all__ = [
    "CENT",
    "CHANNELS",
    "DEMO_KEY",
    "DEMO_SECRET",
    "LISTINGS",
    "LIVE",
    "ORDER_PATHS",
    "RATE_LIMIT",
    "Account",
    "AlpacaSimServer",
    "ApiError",
    "MsgpackTimestamp",
    "Order",
    "eastern_iso",
    "eastern_ns",
    "eastern_offset_s",
    "next_session_time",
    "packb",
    "parse_rfc3339",
    "rfc3339",
    "session",
    "unpackb",
]
