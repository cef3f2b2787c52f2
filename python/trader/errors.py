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


__all__ = [
    "BookNotReadyError",
    "ConfigError",
    "CredentialError",
    "InvalidInputError",
    "KillSwitchLatchedError",
    "ParseError",
    "SequenceGapError",
    "TraderError",
    "UnknownInstrumentError",
    "UnknownNameError",
    "UnknownOrderError",
]
