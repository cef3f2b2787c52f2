"""Binance's error codes as typed errors (binance.md §8), for REST and the WebSocket API: tables for the
shared classifier `trader.venues._errors.classify`."""

from __future__ import annotations

import orjson

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
from trader.venues._http import HttpResponse

EXACT: dict[str, type[VenueError]] = {
    **dict.fromkeys(("-1021", "-1022", "-2014", "-2015", "-1002", "-1099"), AuthenticationError),
    **dict.fromkeys(("-2011", "-2013"), OrderNotFoundError),
    "-2019": InsufficientFundsError,  # futures: margin is insufficient
    **dict.fromkeys(("-1003", "-1015"), RateLimitError),
    **dict.fromkeys(("-1006", "-1007"), UnknownOutcomeError),  # backend timeout: status unknown
    **dict.fromkeys(("-1001", "-1008"), VenueUnavailableError),
}
# -2010 (NEW_ORDER_REJECTED) means several things; only its balance message is insufficient funds.
BROAD = (Broad(InsufficientFundsError, code="-2010", contains="insufficient balance"),)
TABLE = ErrorTable(exact=EXACT, broad=BROAD, default=InvalidOrderError)


def error_from(venue: str, code: int, msg: str) -> VenueError:
    """A Binance `{"code", "msg"}` error as a typed error (binance.md §8), for REST and the WS API."""
    return classify(venue, code, msg, TABLE)


def decode_error(venue: str, resp: HttpResponse) -> VenueError | None:
    """The error a Binance HTTP answer's body states, or None when the body is not one."""
    try:
        body = orjson.loads(resp.body)
        code, msg = int(body["code"]), str(body["msg"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    return error_from(venue, code, msg)
