"""Bybit's errors: every answer is `{"retCode", "retMsg", ...}` (retCode 0 = OK), as a table for
`trader.venues._errors.classify` (bybit.md §7)."""

from __future__ import annotations

import orjson

from trader.errors import (
    AuthenticationError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    VenueError,
    VenueUnavailableError,
)
from trader.venues._errors import Broad, ErrorTable, classify
from trader.venues._http import HttpResponse

ORDER_NOT_EXISTS = "110001"

TABLE = ErrorTable(
    exact={
        "10002": AuthenticationError,  # outside the recv window (clock skew)
        "10003": AuthenticationError,  # invalid key (or another environment's)
        "10004": AuthenticationError,  # error sign
        "10005": AuthenticationError,  # permission denied
        "10010": AuthenticationError,  # unmatched IP
        "10006": RateLimitError,  # too many visits (per UID)
        "10016": VenueUnavailableError,  # server error
        "110001": OrderNotFoundError,
        "170213": OrderNotFoundError,  # spot: order does not exist
        "110008": OrderNotFoundError,  # already completed or cancelled
        "110010": OrderNotFoundError,  # already cancelled
        "110004": InsufficientFundsError,
        "110007": InsufficientFundsError,
        "110012": InsufficientFundsError,
        "170131": InsufficientFundsError,  # spot: insufficient balance
    },
    broad=(Broad(InsufficientFundsError, contains="insufficient"),),
    default=InvalidOrderError,
)


def error_from(venue: str, code: int | str, msg: str) -> VenueError:
    return classify(venue, code, msg, TABLE)


def decode_error(venue: str, resp: HttpResponse) -> VenueError | None:
    """The typed error of an HTTP error answer, or None if its body is not Bybit's envelope."""
    try:
        body = orjson.loads(resp.body)
        code, msg = int(body["retCode"]), str(body.get("retMsg", ""))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    return error_from(venue, code, msg) if code else None
