"""The IB Gateway / TWS simulator (TWS API socket protocol, server version 176): its state (`state.py`),
the wire format (`protocol.py`) and the server (`server.py`)."""

from __future__ import annotations

from trader.sim.ibkr.protocol import (
    DEPTH_RESET,
    LOST,
    MAX_MESSAGES_PER_SECOND,
    MIN_CLIENT_VERSION,
    RESTORED_KEPT,
    RESTORED_LOST,
    SERVER_VERSION,
    UNSET_DOUBLE,
    frame,
)
from trader.sim.ibkr.server import FAULT_PATHS, IbkrSimServer
from trader.sim.ibkr.state import (
    ACCOUNT_TAGS,
    CENT,
    DEFAULT_ACCOUNT,
    LISTINGS,
    MAX_ACTIVE_PER_SIDE,
    Account,
    Execution,
    IbOrder,
    Listing,
    Position,
    RejectError,
    commission,
    money,
    px,
)

__all__ = [
    "ACCOUNT_TAGS",
    "CENT",
    "DEFAULT_ACCOUNT",
    "DEPTH_RESET",
    "FAULT_PATHS",
    "LISTINGS",
    "LOST",
    "MAX_ACTIVE_PER_SIDE",
    "MAX_MESSAGES_PER_SECOND",
    "MIN_CLIENT_VERSION",
    "RESTORED_KEPT",
    "RESTORED_LOST",
    "SERVER_VERSION",
    "UNSET_DOUBLE",
    "Account",
    "Execution",
    "IbOrder",
    "IbkrSimServer",
    "Listing",
    "Position",
    "RejectError",
    "commission",
    "frame",
    "money",
    "px",
]
