"""The Kraken spot simulator: REST `/0/public`, `/0/private` (`rest.py`), WebSocket v2 (`ws.py`), its state
(`state.py`), Kraken's rate counters (`limits.py`) and the server that ties them (`server.py`)."""

from __future__ import annotations

from trader.sim.kraken.server import KrakenSimServer
from trader.sim.kraken.state import DEMO_KEY, DEMO_SECRET, ORDER_PATHS, PAIRS, KrakenError, Pair
from trader.sim.kraken.ws import checksum

__all__ = [
    "DEMO_KEY",
    "DEMO_SECRET",
    "ORDER_PATHS",
    "PAIRS",
    "KrakenError",
    "KrakenSimServer",
    "Pair",
    "checksum",
]
