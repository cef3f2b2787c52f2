"""trader: one engine that trades on brokers, crypto exchanges and a prediction market.

The hot path (order book, rate limiter, risk gate) is the compiled core `trader._core`; import it
through `trader.core`. This module stays light: it imports nothing heavy.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("trader")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
