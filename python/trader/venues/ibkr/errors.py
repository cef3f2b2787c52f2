"""TWS API error codes: what an error on an order means (a table for `trader.venues._errors.classify`),
and the codes the connector reacts to (connectivity, pacing, depth resets)."""

from __future__ import annotations

from trader.errors import (
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    VenueError,
    VenueUnavailableError,
)
from trader.venues._errors import Broad, ErrorTable, classify

VENUE = "ibkr"

PACING = 100  # a message over the 50/s pacing limit was dropped
CANCELED = 202  # "Order Canceled": the confirmation of a cancel we asked for
CONTRACT_NOT_FOUND = 200
DEPTH_RESET = 317  # the depth rows are reset; the ones that follow rebuild them
LOST = 1100  # the Gateway lost its connection to IB
RESTORED_LOST = 1101  # restored, market-data subscriptions lost
RESTORED_KEPT = 1102  # restored, subscriptions kept
FARM_BROKEN = 2103  # a market-data farm connection is broken
FARM_OK = 2104  # a market-data farm connection is OK

INFO_CODES = frozenset({399, 10167} | set(range(2100, 2200)))  # warnings and farm notices, not rejections

_MONEY = ("margin", "equity", "buying power", "insufficient")

TABLE = ErrorTable(
    exact={
        "10147": OrderNotFoundError,  # the order to cancel was not found
        "10148": OrderNotFoundError,  # the order to cancel cannot be canceled (already done)
        "135": OrderNotFoundError,  # no order with that id
        str(PACING): RateLimitError,
        str(LOST): VenueUnavailableError,
        "1300": VenueUnavailableError,  # the socket port was reset
        "2110": VenueUnavailableError,  # TWS lost its connection to the server
        "161": VenueUnavailableError,  # cancel attempted while the order is not cancellable yet
    },
    broad=tuple(Broad(InsufficientFundsError, code="201", contains=w) for w in _MONEY),
    default=InvalidOrderError,
)


def is_rejection(code: int) -> bool:
    """Whether an error for an order id refuses something (not a notice, not a cancel confirmation)."""
    return code not in INFO_CODES and code != CANCELED


def error_from(code: int, text: str) -> VenueError:
    """An IB error code on an order as a typed error."""
    return classify(VENUE, code, text, TABLE)


class UnknownContractError(InvalidOrderError):
    """The Gateway has no contract matching the instrument's description (error 200)."""


class AmbiguousContractError(InvalidOrderError):
    """The description matches several contracts; `candidates` names them. Nothing was sent."""

    def __init__(self, message: str, *, venue: str, candidates: list[str]) -> None:
        super().__init__(message, venue=venue, code="ambiguous")
        self.candidates = candidates
