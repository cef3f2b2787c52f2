"""A loopback OKX v5 simulator (spot): REST with OK-ACCESS-* signatures, the public and private
WebSockets, default-tier fees, `cancel-all-after`. The official SDK (python-okx) trades on it."""

from trader.sim.okx.rest import sign_b64
from trader.sim.okx.server import OkxSimServer
from trader.sim.okx.state import (
    DEMO_KEY,
    DEMO_PASSPHRASE,
    DEMO_SECRET,
    INSTRUMENTS,
    ApiError,
    Instrument,
    State,
)

__all__ = [
    "DEMO_KEY",
    "DEMO_PASSPHRASE",
    "DEMO_SECRET",
    "INSTRUMENTS",
    "ApiError",
    "Instrument",
    "OkxSimServer",
    "State",
    "sign_b64",
]
