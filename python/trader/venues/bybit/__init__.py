"""Bybit v5 (unified account): the venue package, categories `spot` and `linear` (USDT perpetuals).

`connector.py` trades over REST (or the trade WebSocket, `trade.py`); `streams.py` reads the public book
and trades; `private.py` the private stream (order, execution, position, wallet) with REST catch-up;
`parse.py` turns Bybit's JSON into `trader` values; `errors.py` maps `retCode`s; `endpoints.py` holds URLs,
paths and rate limits. The loopback simulator is `trader.sim.bybit`.

Options of `[venues.bybit]`: `category` (spot | linear), `order_entry` (rest | ws: the trade WebSocket),
`private_stream` (true; false polls the private events by REST), `dcp` (true: use Bybit's disconnect cancel
protection where the account has it; false: the engine's watchdog only), `dcp_window_s` (3..300: set the
DCP window; else the account's).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from trader.clock import Clock
from trader.config import VenueConfig
from trader.core import BybitSigner, Keystore
from trader.errors import ConfigError
from trader.venues.base import Tier
from trader.venues.bybit.connector import (
    CAPABILITIES,
    LINEAR_CAPABILITIES,
    SPOT_CAPABILITIES,
    BybitConnector,
    loopback_connector,
)
from trader.venues.bybit.endpoints import ENDPOINTS, Endpoints
from trader.venues.bybit.errors import TABLE, decode_error, error_from
from trader.venues.profile import ClientIdRule, VenueProfile

if TYPE_CHECKING:
    from trader.sim.bybit import BybitSimServer

VENUE = "bybit"

PROFILE = VenueProfile(
    name=VENUE,
    tier=Tier.CRYPTO,
    summary=(
        "spot and linear perpetuals (REST or trade WebSocket orders, public book and private streams); "
        "`--sim` offline"
    ),
    environments=("live", "paper", "demo", "sim"),
    capabilities={"spot": SPOT_CAPABILITIES, "linear": LINEAR_CAPABILITIES},
    default_symbol="BTCUSDT",
    strategies=("mm",),
    client_id=ClientIdRule("orderLinkId", re.compile(r"[A-Za-z0-9_-]{1,36}"), "v5 create-order: <= 36"),
    notes=(
        "paper = testnet (environment = demo: Bybit's demo trading, which has no trade WebSocket); "
        "dead-man switch: Bybit's DCP where Bybit enabled it on the account (query-dcp-info at connect; "
        "the connector then states it), otherwise the engine's watchdog cancels on a lost session"
    ),
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


def _endpoints(cfg: VenueConfig) -> Endpoints:
    if cfg.environment == "sim":
        if "url" not in cfg.options:
            raise ConfigError(f'[venues.{cfg.name}] environment = "sim" needs url = "http://127.0.0.1:PORT"')
        return Endpoints.loopback(str(cfg.options["url"]))
    if cfg.environment in ("live", "paper", "demo"):
        return ENDPOINTS[cfg.environment]
    raise ConfigError(f"[venues.{cfg.name}] environment must be live, paper (testnet), demo or sim")


def build(cfg: VenueConfig, *, symbol: str, clock: Clock) -> BybitConnector:
    """Live, paper (testnet), demo trading, or a running simulator (`environment = "sim"`, `url`)."""
    endpoints = _endpoints(cfg)
    key, secret = _key_and_secret(cfg)
    o = cfg.options
    try:
        return BybitConnector(
            symbol=symbol,
            signer=BybitSigner(key, secret),
            endpoints=endpoints,
            clock=clock,
            venue=cfg.name,
            category=str(o.get("category", o.get("market", "spot"))),
            order_entry=str(o.get("order_entry", "rest")),
            private_stream=bool(o.get("private_stream", True)),
            dcp=bool(o.get("dcp", True)),
            dcp_window_s=int(o["dcp_window_s"]) if "dcp_window_s" in o else None,
        )
    except (ValueError, TypeError) as e:
        raise ConfigError(f"[venues.{cfg.name}] {e}") from None


def loopback(url: str, *, symbol: str, clock: Clock, **options: Any) -> BybitConnector:
    """A connector to a `trader.sim.bybit` server at `url` (http://127.0.0.1:PORT), on its demo key
    (`market` is accepted for `category`, as `trader paper --market` says it)."""
    if "market" in options:
        options.setdefault("category", options.pop("market"))
    try:
        return loopback_connector(url, symbol=symbol, clock=clock, **options)
    except ValueError as e:
        raise ConfigError(f"bybit: {e}") from None


def simulator(*, seed: int, clock: Clock, **options: Any) -> BybitSimServer:
    """The Bybit simulator (spot and linear REST, public, private and trade streams), not yet started."""
    from trader.sim.bybit import BybitSimServer

    return BybitSimServer(seed=seed, clock=clock, **options)


__all__ = [
    "CAPABILITIES",
    "ENDPOINTS",
    "LINEAR_CAPABILITIES",
    "PROFILE",
    "SPOT_CAPABILITIES",
    "TABLE",
    "VENUE",
    "BybitConnector",
    "Endpoints",
    "build",
    "decode_error",
    "error_from",
    "loopback",
    "loopback_connector",
    "simulator",
]
