"""The built-in `sim` venue: the simulated exchange speaking the Binance protocol on loopback
(`trader sim`), and `SimConnector`, the same matching engine in process (`trader.engine.paper`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from trader.clock import Clock
from trader.config import VenueConfig
from trader.errors import ConfigError
from trader.venues import binance
from trader.venues.base import Tier
from trader.venues.binance import BinanceConnector
from trader.venues.profile import ClientIdRule, VenueProfile
from trader.venues.sim.connector import CAPABILITIES, SimConnector

if TYPE_CHECKING:
    from trader.sim.binance import BinanceSimServer

__all__ = ["CAPABILITIES", "PROFILE", "SimConnector", "build", "loopback", "simulator"]

PROFILE = VenueProfile(
    name="sim",
    tier=Tier.SIMULATED,
    summary="built in: loopback simulator of the Binance protocol",
    environments=("sim",),
    capabilities={"spot": CAPABILITIES},
    default_symbol="BTCUSDT",
    strategies=("mm",),
    client_id=ClientIdRule(
        "newClientOrderId", re.compile(r"[.A-Z:/a-z0-9_-]{1,36}"), "speaks the Binance protocol"
    ),
)


def build(cfg: VenueConfig, *, symbol: str, clock: Clock) -> BinanceConnector:
    """`[venues.sim]` with `environment = "sim"` and `url`: the running simulator, with its demo account
    (no secrets: the demo key is published)."""
    if cfg.environment != "sim":
        raise ConfigError(f'[venues.sim] environment must be "sim", not {cfg.environment!r}')
    if "url" not in cfg.options:
        raise ConfigError('[venues.sim] needs url = "http://127.0.0.1:PORT" (a running `trader sim`)')
    return loopback(str(cfg.options["url"]), symbol=symbol, clock=clock)


def loopback(url: str, *, symbol: str, clock: Clock, **options: Any) -> BinanceConnector:
    """A Binance-protocol connector named "sim" to the simulator at `url`, with the demo account."""
    options.setdefault("venue", "sim")
    options.setdefault("tier", Tier.SIMULATED)
    return binance.loopback(url, symbol=symbol, clock=clock, **options)


def simulator(*, seed: int, clock: Clock, **options: Any) -> BinanceSimServer:
    """The loopback simulator under the venue name "sim", not yet started."""
    from trader.sim.binance import BinanceSimServer

    options.setdefault("venue", "sim")
    return BinanceSimServer(seed=seed, clock=clock, **options)
