"""The venue's error codes as typed errors: tables only, decided by the shared classifier."""

from __future__ import annotations

from trader.errors import (
    AuthenticationError,
    InsufficientFundsError,
    OrderNotFoundError,
    RateLimitError,
    VenueError,
)
from trader.venues._errors import Broad, ErrorTable, classify

TABLE = ErrorTable(
    exact={"401": AuthenticationError, "404": OrderNotFoundError, "429": RateLimitError},
    broad=(Broad(InsufficientFundsError, contains="insufficient"),),
)


def error_from(venue: str, code: int | str, msg: str) -> VenueError:
    return classify(venue, code, msg, TABLE)
