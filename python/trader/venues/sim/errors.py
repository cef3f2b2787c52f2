"""The in-process simulator's refusals as typed errors (the loopback `sim` venue speaks Binance's codes:
`trader.venues.binance.errors`)."""

from __future__ import annotations

from trader.errors import InvalidOrderError, OrderNotFoundError, VenueError
from trader.venues._errors import ErrorTable, classify

UNKNOWN_SYMBOL = "SYMBOL"
DUPLICATE = "DUPLICATE"
REJECTED = "REJECTED"  # the matching engine refused (e.g. a post-only order that would take)
NOT_FOUND = "NOT_FOUND"

EXACT: dict[str, type[VenueError]] = {
    UNKNOWN_SYMBOL: InvalidOrderError,
    DUPLICATE: InvalidOrderError,
    REJECTED: InvalidOrderError,
    NOT_FOUND: OrderNotFoundError,
}
TABLE = ErrorTable(exact=EXACT, default=InvalidOrderError)


def error_from(venue: str, code: str, msg: str) -> VenueError:
    return classify(venue, code, msg, TABLE)
