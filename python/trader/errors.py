"""One error hierarchy for the whole package.

The core's exceptions are created in Rust (`rust/py/errors.rs`) and re-exported here; errors that
only Python code raises derive from the same `TraderError`. Each class also derives from the builtin
a caller would already catch (`ValueError`, `LookupError`) where that fits.
"""

from trader.core import (
    BookNotReadyError,
    CredentialError,
    InvalidInputError,
    KillSwitchLatchedError,
    ParseError,
    SequenceGapError,
    TraderError,
    UnknownInstrumentError,
    UnknownNameError,
    UnknownOrderError,
)


class ConfigError(TraderError, ValueError):
    """A configuration file or value is malformed, missing or out of range."""


class VenueError(TraderError):
    """A venue answered with an error, or could not be reached.

    `venue` is the venue id, `code` the venue's own error code (or HTTP status) as a string, and
    `retryable` whether sending the same request again later may succeed. Messages never carry secrets.
    """

    retryable = False

    def __init__(self, message: str, *, venue: str, code: str = "") -> None:
        super().__init__(f"{venue}: {message}" + (f" (code {code})" if code else ""))
        self.venue = venue
        self.code = code


class AuthenticationError(VenueError):
    """Bad key, signature, permissions or timestamp window."""


class InsufficientFundsError(VenueError):
    """Balance, margin or allowance too small for the order."""


class InvalidOrderError(VenueError):
    """The venue rejected the order itself (filters, post-only would take, FOK not filled...)."""


class OrderNotFoundError(VenueError, LookupError):
    """The venue does not know the order (already closed, or never arrived)."""


class VenueUnavailableError(VenueError):
    """A transient failure before the venue acted (connection refused, 503 before acceptance)."""

    retryable = True


class RateLimitError(VenueError):
    """429-style throttling: wait until `retry_after_ns` (absolute, if the venue said) and slow down."""

    retryable = True

    def __init__(
        self, message: str, *, venue: str, code: str = "", retry_after_ns: int | None = None
    ) -> None:
        super().__init__(message, venue=venue, code=code)
        self.retry_after_ns = retry_after_ns


class BannedError(RateLimitError):
    """An IP or key ban (Binance 418, Bybit 403): nothing goes to the venue before `retry_after_ns`."""


class UnknownOutcomeError(VenueError):
    """A timeout or 5xx on an order request: the order may or may not exist. Never resend it; ask the
    venue by client order id until the outcome is known."""


class ReconciliationError(TraderError):
    """At start-up the journal and the venue disagree (unknown open orders, a position that does not add
    up, an order the venue lost). The engine does not trade until an operator resolves it."""


__all__ = [
    "AuthenticationError",
    "BannedError",
    "BookNotReadyError",
    "ConfigError",
    "CredentialError",
    "InsufficientFundsError",
    "InvalidInputError",
    "InvalidOrderError",
    "KillSwitchLatchedError",
    "OrderNotFoundError",
    "ParseError",
    "RateLimitError",
    "ReconciliationError",
    "SequenceGapError",
    "TraderError",
    "UnknownInstrumentError",
    "UnknownNameError",
    "UnknownOrderError",
    "UnknownOutcomeError",
    "VenueError",
    "VenueUnavailableError",
]
