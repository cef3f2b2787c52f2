"""OKX's error codes (okx.md §7), top-level `code` and per-item `sCode`, as typed errors: tables for the
shared classifier `trader.venues._errors.classify`."""

from __future__ import annotations

import orjson

from trader.errors import (
    AuthenticationError,
    ConfigError,
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

CLOCK = "50102"  # Timestamp request expired: our clock is off the venue's
NOT_FOUND = "51603"  # order does not exist
NOT_CANCELABLE = "51400"  # filled, canceled or unknown

EXACT: dict[str, type[VenueError]] = {
    **dict.fromkeys(
        ("50101", CLOCK, "50103", "50104", "50105", "50106", "50107", "50110", "50111", "50112", "50113"),
        AuthenticationError,
    ),
    **dict.fromkeys(
        ("60004", "60005", "60006", "60007", "60009", "60011", "60024", "59113"), AuthenticationError
    ),
    **dict.fromkeys((NOT_FOUND, NOT_CANCELABLE, "51401", "51402", "51503"), OrderNotFoundError),
    **dict.fromkeys(("50011", "50061", "60014"), RateLimitError),
    "50004": UnknownOutcomeError,  # endpoint timeout: the request may have been executed
    **dict.fromkeys(("50001", "50013", "50026"), VenueUnavailableError),
}
# 51008 and its sub-codes (51008_1000 ...): insufficient balance or margin
BROAD = (Broad(InsufficientFundsError, contains="insufficient"),)
TABLE = ErrorTable(exact=EXACT, broad=BROAD, default=InvalidOrderError)


def error_from(venue: str, code: int | str, msg: str) -> VenueError:
    """An OKX `code`/`sCode` and its message as a typed error."""
    c = str(code)
    if c.startswith("51008"):
        return InsufficientFundsError(str(msg)[:200], venue=venue, code=c)
    return classify(venue, c, msg, TABLE)


def decode_error(venue: str, resp: HttpResponse) -> VenueError | None:
    """The error an OKX HTTP answer's body states, or None when the body is not one."""
    try:
        body = orjson.loads(resp.body)
        code, msg = str(body["code"]), str(body["msg"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    return error_from(venue, code, msg)


class AccountModeError(ConfigError):
    """The OKX account is in a mode the connector does not trade in (`account/config`: `acctLv`,
    `posMode`); the message says what to change."""

    def __init__(self, msg: str, *, acct_lv: str, pos_mode: str) -> None:
        super().__init__(msg)
        self.acct_lv, self.pos_mode = acct_lv, pos_mode
