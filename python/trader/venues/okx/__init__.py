"""OKX v5 (spot, and USDT-margined perpetual swaps with `market = "swap"`): the venue package contract of
`trader.venues.profile` (PROFILE, build, loopback, simulator). `connector.py` trades over REST and reads
the public and private WebSockets; `parse.py` turns OKX's JSON into `trader` values; `errors.py` holds its
error table; `endpoints.py` its URLs, paths and quotas. The loopback simulator is `trader.sim.okx`. Demo
trading (`environment = "paper"`) is the live REST host with `x-simulated-trading: 1` and the wspap
WebSocket hosts, on a demo API key. Options under `[venues.okx]`: `market` ("spot" | "swap"), `order_entry`
("rest" | "ws"), `leverage` (swap), `position_mode` ("" refuses an account in long/short mode, "net" switches
it to net mode at connect)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from trader.clock import Clock
from trader.config import VenueConfig
from trader.core import Keystore, OkxSigner
from trader.errors import ConfigError
from trader.venues.base import Tier
from trader.venues.okx.connector import CAPABILITIES, SWAP_CAPABILITIES, OkxConnector, loopback_connector
from trader.venues.okx.endpoints import ENDPOINTS, Endpoints
from trader.venues.okx.errors import AccountModeError, decode_error, error_from
from trader.venues.profile import ClientIdRule, VenueProfile

if TYPE_CHECKING:
    from trader.sim.okx import OkxSimServer

VENUE = "okx"

PROFILE = VenueProfile(
    name=VENUE,
    tier=Tier.CRYPTO,
    summary="spot and USDT swaps (REST; books/trades, orders/positions/account WebSockets); "
    "`trader paper --exchange=okx --sim`",
    environments=("live", "paper", "sim"),
    capabilities={"spot": CAPABILITIES, "swap": SWAP_CAPABILITIES},
    default_symbol="BTC-USDT",
    strategies=("mm",),
    client_id=ClientIdRule("clOrdId", re.compile(r"[A-Za-z0-9]{1,32}"), "v5: 1-32 alnum"),
    notes="dead-man switch: cancel-all-after, armed and refreshed while orders rest",
)


def _secrets(cfg: VenueConfig) -> tuple[str, str | Keystore, str | Keystore]:
    try:
        refs = cfg.secrets["api_key"], cfg.secrets["secret"], cfg.secrets["passphrase"]
    except KeyError as e:
        raise ConfigError(f'[venues.{cfg.name}] needs {e.args[0]} = "env:NAME" or "keystore:PATH"') from None
    key = refs[0].resolve()
    if not isinstance(key, str):
        raise ConfigError(f"[venues.{cfg.name}] api_key must be an env: reference (it is not a secret)")
    return key, refs[1].resolve(), refs[2].resolve()


def build(cfg: VenueConfig, *, symbol: str, clock: Clock) -> OkxConnector:
    """Live, paper (demo trading) or a running simulator (`environment = "sim"`, `url`)."""
    o = cfg.options
    if cfg.environment == "sim":
        if "url" not in o:
            raise ConfigError('[venues.okx] environment = "sim" needs url = "http://127.0.0.1:PORT"')
        endpoints = Endpoints.loopback(str(o["url"]))
    else:
        endpoints = ENDPOINTS["live" if cfg.environment == "live" else "paper"]
    key, secret, passphrase = _secrets(cfg)
    try:
        return OkxConnector(
            symbol=symbol,
            signer=OkxSigner(key, secret, passphrase, simulated=endpoints.simulated),
            endpoints=endpoints,
            clock=clock,
            venue=cfg.name,
            market=str(o.get("market", "spot")),
            order_entry=str(o.get("order_entry", "rest")),
            leverage=int(o["leverage"]) if "leverage" in o else None,
            position_mode=str(o.get("position_mode", "")),
        )
    except ValueError as e:
        raise ConfigError(f"[venues.okx] {e}") from None


def loopback(url: str, *, symbol: str, clock: Clock, **options: Any) -> OkxConnector:
    """A connector to a `trader.sim.okx` server at `url` (http://127.0.0.1:PORT), on its demo account."""
    return loopback_connector(url, symbol=symbol, clock=clock, **options)


def simulator(*, seed: int, clock: Clock, **options: Any) -> OkxSimServer:
    """The OKX simulator (spot), not yet started."""
    from trader.sim.okx import OkxSimServer

    return OkxSimServer(seed=seed, clock=clock, **options)


__all__ = [
    "CAPABILITIES",
    "ENDPOINTS",
    "PROFILE",
    "SWAP_CAPABILITIES",
    "VENUE",
    "AccountModeError",
    "Endpoints",
    "OkxConnector",
    "build",
    "decode_error",
    "error_from",
    "loopback",
    "loopback_connector",
    "simulator",
]
