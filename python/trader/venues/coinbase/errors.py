"""Coinbase's errors as tables for `trader.venues._errors.classify`.

Two shapes: a refused order is HTTP 200 with `success: false` and `error_response.error` (a FailureReason
such as INSUFFICIENT_FUND); every other error is an HTTP status with a gRPC-style body
`{"error": "NOT_FOUND", "code": 5, "message": ...}`. A cancel's refusal is a per-order `failure_reason`.
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

TABLE = ErrorTable(
    exact={
        "INSUFFICIENT_FUND": InsufficientFundsError,
        "INSUFFICIENT_FUNDS": InsufficientFundsError,
        "UNAUTHENTICATED": AuthenticationError,
        "PERMISSION_DENIED": AuthenticationError,
        "NOT_FOUND": OrderNotFoundError,
        "UNKNOWN_CANCEL_ORDER": OrderNotFoundError,
        "COMMANDER_REJECTED_CANCEL_ORDER": OrderNotFoundError,
        "RESOURCE_EXHAUSTED": RateLimitError,
        "401": AuthenticationError,
        "403": AuthenticationError,
        "404": OrderNotFoundError,
    },
    broad=(
        Broad(InsufficientFundsError, contains="insufficient"),
        Broad(AuthenticationError, contains="unauthorized"),
    ),
    default=InvalidOrderError,
)


def error_from(venue: str, code: str, msg: str) -> VenueError:
    """A Coinbase error (a FailureReason, a gRPC status name or an HTTP status) as a typed error."""
    return classify(venue, code, msg, TABLE)


def decode_error(venue: str, resp: HttpResponse) -> VenueError | None:
    """The typed error of a non-2xx response: its gRPC-style body, else its HTTP status."""
    try:
        body = orjson.loads(resp.body)
        code, message = str(body.get("error") or resp.status), str(body.get("message", ""))
    except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
        if resp.status in (401, 403, 404):
            return error_from(venue, str(resp.status), resp.body[:120].decode("utf-8", "replace"))
        return None
    if code not in TABLE.exact and str(resp.status) in TABLE.exact:
        code = str(resp.status)
    return error_from(venue, code, message)
