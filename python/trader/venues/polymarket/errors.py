"""Polymarket's errors: its own exception classes and the table that turns an HTTP status and an error
message (`{"error": ...}`, a batch item's `errorMsg`) into a typed `VenueError`.

The CLOB has no error codes, only messages and statuses, so the whole table is broad rules, tried in
order: the code compared is the HTTP status."""

from __future__ import annotations

import orjson

from trader.errors import (
    AuthenticationError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    VenueError,
    VenueUnavailableError,
)
from trader.venues._errors import Broad, ErrorTable, classify
from trader.venues._http import HttpResponse


class ProtocolVersionError(VenueError):
    """The CLOB does not speak the protocol version this connector signs for (V2)."""


class MarketMetadataError(VenueError):
    """Gamma has no usable metadata for the market: not listed, not binary, or malformed."""


class MetadataMismatchError(MarketMetadataError):
    """Gamma and the CLOB disagree on the market being traded (token ids, tick or neg risk): which of
    them is stale is unknown, so nothing built on the metadata should be trusted. `fields` names what
    differs (`tokens`, `tick_size`, `neg_risk`)."""

    def __init__(self, message: str, *, venue: str, fields: tuple[str, ...]) -> None:
        super().__init__(message, venue=venue, code="metadata_mismatch")
        self.fields = fields


class HeartbeatFailedError(VenueUnavailableError):
    """The dead-man switch could not be armed or refreshed: no new order is sent until a heartbeat
    succeeds again (cancels and queries still are)."""


TABLE = ErrorTable(
    exact={},
    broad=(
        Broad(AuthenticationError, code="401"),
        Broad(AuthenticationError, contains="api key"),
        Broad(AuthenticationError, contains="invalid signature"),
        Broad(AuthenticationError, contains="l1 request"),
        Broad(InsufficientFundsError, contains="balance"),
        Broad(InsufficientFundsError, contains="allowance"),
        Broad(ProtocolVersionError, contains="order_version_mismatch"),
        Broad(OrderNotFoundError, code="404"),
        Broad(OrderNotFoundError, contains="not found"),
        # the matching engine is restarting [UNVERIFIED]: nothing was done
        Broad(VenueUnavailableError, code="425"),
    ),
    default=InvalidOrderError,
)


def error_from(venue: str, msg: str, status: int = 400) -> VenueError:
    """A venue error message (HTTP `{"error": ...}` or a batch item's `errorMsg`) as a typed error."""
    return classify(venue, status, msg, TABLE)


def decode_error(venue: str, resp: HttpResponse) -> VenueError | None:
    try:
        body = orjson.loads(resp.body)
        msg = str(body["error"] if isinstance(body, dict) else body)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return error_from(venue, msg, resp.status)
