"""Alpaca (US stocks): the venue package.

`connector.py` trades over the Trading API v2; `streams.py` reads trade_updates and the stock market-data
stream; `parse.py` turns Alpaca's JSON into `trader` values; `errors.py` holds its error table;
`endpoints.py` its URLs, paths and rate limit. The loopback simulator is `trader.sim.alpaca`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from trader.clock import Clock
from trader.config import VenueConfig
from trader.core import AlpacaSigner, Keystore
from trader.errors import ConfigError
from trader.venues.alpaca.connector import CAPABILITIES, AlpacaConnector, loopback_connector
from trader.venues.alpaca.endpoints import ENDPOINTS, PRICE_UNIT, RATE_LIMIT_PER_MIN, TICK, Endpoints
from trader.venues.alpaca.errors import decode_error, error_from
from trader.venues.alpaca.parse import AccountInfo, MarketClock, format_time, parse_time
from trader.venues.base import Tier
from trader.venues.profile import ClientIdRule, VenueProfile

if TYPE_CHECKING:
    from trader.sim.alpaca import AlpacaSimServer

VENUE = "alpaca"

PROFILE = VenueProfile(
    name=VENUE,
    tier=Tier.BROKER,
    summary="connector (REST, trade_updates, market data); `trader paper --exchange=alpaca --sim`",
    environments=("live", "paper", "sim"),
    capabilities={"spot": CAPABILITIES},
    default_symbol="SPY",
    strategies=("mm",),
    client_id=ClientIdRule("client_order_id", re.compile(r"[\x21-\x7e]{1,48}"), "<= 128 (older docs: 48)"),
    notes="no venue dead-man switch: the engine's watchdog cancels on a lost session",
)


def _key_and_secret(cfg: VenueConfig) -> tuple[str, str | Keystore]:
    try:
        key_ref, secret_ref = cfg.secrets["api_key"], cfg.secrets["secret"]
    except KeyError as e:
        raise ConfigError(f'[venues.{cfg.name}] needs {e.args[0]} = "env:NAME" or "keystore:PATH"') from None
    key = key_ref.resolve()
    if not isinstance(key, str):
        raise ConfigError(f"[venues.{cfg.name}] api_key must be an env: reference (it is not a secret)")
    return key, secret_ref.resolve()


def build(cfg: VenueConfig, *, symbol: str, clock: Clock) -> AlpacaConnector:
    """Live or paper (different key pairs), or a simulator (`environment = "sim"`, `url`)."""
    o = cfg.options
    if cfg.environment == "sim":
        if "url" not in o:
            raise ConfigError('[venues.alpaca] environment = "sim" needs url = "http://127.0.0.1:PORT"')
        endpoints = Endpoints.loopback(str(o["url"]))
    else:
        endpoints = ENDPOINTS["live" if cfg.environment == "live" else "paper"]
    key, secret = _key_and_secret(cfg)
    try:
        return AlpacaConnector(
            symbols=[symbol],
            signer=AlpacaSigner(key, secret),
            endpoints=endpoints,
            clock=clock,
            feed=str(o.get("feed", "iex")),
        )
    except ValueError as e:
        raise ConfigError(f"[venues.alpaca] {e}") from None


def loopback(url: str, *, symbol: str, clock: Clock, **options: Any) -> AlpacaConnector:
    """A connector to a `trader.sim.alpaca` server at `url` (http://127.0.0.1:PORT), on its demo key."""
    return loopback_connector(url, symbols=[symbol], clock=clock, **options)


def simulator(*, seed: int, clock: Clock, **options: Any) -> AlpacaSimServer:
    """The Alpaca simulator (REST, trade_updates, market data), not yet started."""
    from trader.sim.alpaca import AlpacaSimServer

    return AlpacaSimServer(seed=seed, clock=clock, **options)


__all__ = [
    "CAPABILITIES",
    "ENDPOINTS",
    "PRICE_UNIT",
    "PROFILE",
    "RATE_LIMIT_PER_MIN",
    "TICK",
    "VENUE",
    "AccountInfo",
    "AlpacaConnector",
    "Endpoints",
    "MarketClock",
    "build",
    "decode_error",
    "error_from",
    "format_time",
    "loopback",
    "loopback_connector",
    "parse_time",
    "simulator",
]
