"""Kraken's error strings (`E<Category>:<message>` in the envelope's `error` list, HTTP 200; kraken.md
section 7) as a table for `trader.venues._errors.classify`. The code is the whole string."""

from __future__ import annotations

from trader.errors import (
    AuthenticationError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    UnknownOutcomeError,
    VenueError,
    VenueUnavailableError,
)
from trader.venues._errors import Broad, ErrorTable, classify

INVALID_NONCE = "EAPI:Invalid nonce"
UNKNOWN_ORDER = "EOrder:Unknown order"

EXACT: dict[str, type[VenueError]] = {
    **dict.fromkeys(
        (
            "EAPI:Invalid key",
            "EAPI:Invalid signature",
            INVALID_NONCE,
            "EAPI:Bad request",
            "EGeneral:Permission denied",
            "EAccount:Invalid permissions",
            "EGeneral:Temporary lockout",
        ),
        AuthenticationError,
    ),
    **dict.fromkeys((UNKNOWN_ORDER, "EOrder:Invalid order"), OrderNotFoundError),
    **dict.fromkeys(("EOrder:Insufficient funds", "EOrder:Insufficient margin"), InsufficientFundsError),
    **dict.fromkeys(("EAPI:Rate limit exceeded", "EOrder:Rate limit exceeded"), RateLimitError),
    "EGeneral:Internal error": UnknownOutcomeError,  # the order may have been placed: ask
    **dict.fromkeys(("EService:Unavailable", "EService:Busy"), VenueUnavailableError),
}
BROAD = (
    Broad(RateLimitError, contains="EService: Throttled"),
    Broad(RateLimitError, contains="EService:Throttled"),
    Broad(VenueUnavailableError, contains="EService:Market in cancel_only mode"),
    Broad(VenueUnavailableError, contains="EService:Unavailable"),
    Broad(AuthenticationError, contains="EAPI:Invalid"),
)
TABLE = ErrorTable(exact=EXACT, broad=BROAD, default=InvalidOrderError)


def error_from(venue: str, error: str) -> VenueError:
    """One of Kraken's error strings as a typed error (its code: the string up to any detail)."""
    return classify(venue, error.strip(), error, TABLE)
