"""Where the `sim` venue answers: only on loopback (`trader sim` or `simulator()`), with every endpoint of
the Binance protocol under one base URL, and the simulator's published demo account."""

from __future__ import annotations

from trader.venues.binance.endpoints import SIM_API_KEY, SIM_SECRET, Endpoints

__all__ = ["DEFAULT_URL", "SIM_API_KEY", "SIM_SECRET", "loopback"]

DEFAULT_URL = "http://127.0.0.1:8765"  # `trader sim`'s documented default; tests use port 0


def loopback(url: str) -> Endpoints:
    """Every endpoint of a simulator listening at `url` (http://127.0.0.1:PORT)."""
    return Endpoints.loopback(url)
