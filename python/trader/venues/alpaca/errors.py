"""Alpaca's errors: an HTTP status and a JSON body `{"code": 40310000, "message": "..."}`, as a table for
`trader.venues._errors.classify`.

Alpaca's 8-digit codes start with the HTTP status (40310000 is a 403); the table is keyed by the status,
which is the error's class, and the message refines it. Two codes settle the class whatever the status.
"""

from __future__ import annotations

import orjson

from trader.errors import (
    AuthenticationError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    VenueError,
)
from trader.venues._errors import Broad, ErrorTable, classify
from trader.venues._http import HttpResponse

UNAUTHORIZED = 40110000
NOT_FOUND = 40410000
NOT_CANCELABLE = 42210000  # the code our cancel reports when the order was already closed

BY_CODE = {UNAUTHORIZED: 401, NOT_FOUND: 404}  # codes that settle the class whatever the status

TABLE = ErrorTable(
    exact={"401": AuthenticationError, "404": OrderNotFoundError, "429": RateLimitError},
    broad=(
        Broad(InsufficientFundsError, code="403", contains="insufficient"),
        Broad(InvalidOrderError, code="403", contains="wash trade"),
        Broad(AuthenticationError, code="403"),  # forbidden: the key may not do this
        Broad(OrderNotFoundError, code="422", contains="is already in"),  # cancel: already filled/canceled
    ),
    default=InvalidOrderError,
)


def error_from(venue: str, status: int, code: int, message: str) -> VenueError:
    """An Alpaca `{"code", "message"}` error as a typed error (carrying Alpaca's code)."""
    msg = message[:200]
    cls = type(classify(venue, BY_CODE.get(code, status), msg, TABLE))
    return cls(msg, venue=venue, code=str(code))


def decode_error(venue: str, resp: HttpResponse) -> VenueError | None:
    """The typed error of an error response, or None if its body is not Alpaca's error JSON."""
    try:
        body = orjson.loads(resp.body)
        code, message = int(body.get("code", 0)), str(body["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None
    return error_from(venue, resp.status, code, message)
