"""The one importer of the compiled core `trader._core`.

Everything else in the package (and users) import the native types from here, so the boundary has
one seam.
"""

from trader._core import (
    Approval,
    Book,
    BookNotReadyError,
    BookState,
    Denial,
    DenyReason,
    InstrumentSpec,
    InvalidInputError,
    KillSwitchLatchedError,
    OrderType,
    ParseError,
    RateLimiter,
    RiskGate,
    SequenceGapError,
    Side,
    TimeInForce,
    TraderError,
    TradingState,
    UnknownInstrumentError,
    UnknownNameError,
    UnknownOrderError,
    Window,
    kraken_checksum,
    okx_checksum,
)
from trader._core import __version__ as core_version

__all__ = [
    "Approval",
    "Book",
    "BookNotReadyError",
    "BookState",
    "Denial",
    "DenyReason",
    "InstrumentSpec",
    "InvalidInputError",
    "KillSwitchLatchedError",
    "OrderType",
    "ParseError",
    "RateLimiter",
    "RiskGate",
    "SequenceGapError",
    "Side",
    "TimeInForce",
    "TraderError",
    "TradingState",
    "UnknownInstrumentError",
    "UnknownNameError",
    "UnknownOrderError",
    "Window",
    "core_version",
    "kraken_checksum",
    "okx_checksum",
]
