"""The one classifier every venue's `errors.py` feeds: a venue error code and message become a typed
`VenueError` (ccxt's taxonomy: exact codes first, then broad rules, then a default).

A venue's `errors.py` holds only tables:

    EXACT: dict[str, type[VenueError]] = {"-2011": OrderNotFoundError, ...}   # code -> class
    BROAD: tuple[Broad, ...] = (Broad(InsufficientFundsError, code="-2010", contains="insufficient"), ...)
    DEFAULT = InvalidOrderError

and one line `def error_from(venue, code, msg) -> VenueError: return classify(venue, code, msg, TABLE)`.
Messages are cut to 200 characters and never carry request headers, queries or bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from trader.errors import InvalidOrderError, VenueError


@dataclass(frozen=True)
class Broad:
    """A rule for codes the exact table does not settle: `code` (if given) must match, and the message
    must contain `contains` (case-insensitive; "" matches any message)."""

    error: type[VenueError]
    code: str | None = None
    contains: str = ""


@dataclass(frozen=True)
class ErrorTable:
    exact: Mapping[str, type[VenueError]]
    broad: tuple[Broad, ...] = ()
    default: type[VenueError] = InvalidOrderError


def classify(venue: str, code: int | str, msg: str, table: ErrorTable) -> VenueError:
    """The typed error for a venue's `code` and `msg`: the exact code's class, else the first broad rule
    that matches, else the table's default. (A code whose meaning depends on the message belongs in
    `broad`, not in `exact`.)"""
    c, text = str(code), str(msg)[:200]
    cls = table.exact.get(c)
    if cls is None:
        low = text.lower()
        cls = next(
            (
                r.error
                for r in table.broad
                if (r.code is None or r.code == c) and (not r.contains or r.contains.lower() in low)
            ),
            table.default,
        )
    return cls(text, venue=venue, code=c)
