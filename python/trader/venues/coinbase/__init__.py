"""Coinbase Advanced Trade (spot): the venue package.

`connector.py` trades over REST (/api/v3/brokerage, a fresh JWT per request from the core's
`CoinbaseSigner`); `streams.py` reads the WebSocket (level2 with sequence numbers checked, market_trades,
heartbeats, user); `parse.py` turns Coinbase's JSON into `trader` values; `errors.py` holds its error table;
`endpoints.py` its hosts, paths and rate limit. The loopback simulator is `trader.sim.coinbase`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from trader.clock import Clock
from trader.config import VenueConfig
from trader.core import CoinbaseSigner, Keystore
from trader.errors import ConfigError
from trader.venues.base import Tier
from trader.venues.coinbase.connector import CAPABILITIES, CoinbaseConnector, loopback_connector
from trader.venues.coinbase.endpoints import ENDPOINTS, RATE_LIMIT_PER_S, Endpoints
from trader.venues.coinbase.errors import TABLE, decode_error, error_from
from trader.venues.profile import ClientIdRule, VenueProfile

if TYPE_CHECKING:
    from trader.sim.coinbase import CoinbaseSimServer

VENUE = "coinbase"

PROFILE = VenueProfile(
    name=VENUE,
    tier=Tier.CRYPTO,
    summary="connector (REST + JWT, level2/user/market_trades); `trader paper --exchange=coinbase --sim`",
    environments=("live", "sim"),
    capabilities={"spot": CAPABILITIES},
    default_symbol="BTC-USD",
    strategies=("mm",),
    client_id=ClientIdRule(
        "client_order_id", re.compile(r"[A-Za-z0-9_-]{1,36}"), "UUID-sized; limit unstated"
    ),
    notes=(
        "no venue dead-man switch: the engine's watchdog cancels all when a stream or the feed is lost too "
        "long; no paper environment: Coinbase's sandbox (api-sandbox.coinbase.com) answers static canned "
        "responses without auth and has no WebSocket, so `testnet` checks the simulator or live read-only"
    ),
    no_testnet=(
        "its sandbox, api-sandbox.coinbase.com, answers canned responses without auth or WebSocket: it "
        "would check nothing of ours (keys, JWT, orders, streams)"
    ),
)


def _credentials(cfg: VenueConfig) -> tuple[str, str | Keystore]:
    key_ref = cfg.secrets.get("api_key")
    private_ref = cfg.secrets.get("private_key") or cfg.secrets.get("secret")  # the template's name: secret
    if key_ref is None or private_ref is None:
        name = "api_key" if key_ref is None else "private_key"
        raise ConfigError(f'[venues.{cfg.name}] needs {name} = "env:NAME" or "keystore:PATH"')
    key = key_ref.resolve()
    if not isinstance(key, str):
        raise ConfigError(f"[venues.{cfg.name}] api_key (the CDP key name) must be an env: reference")
    return key, private_ref.resolve()


def build(cfg: VenueConfig, *, symbol: str, clock: Clock) -> CoinbaseConnector:
    """Live, or a simulator (`environment = "sim"`, `url`). Secrets: `api_key` (the CDP key name,
    organizations/.../apiKeys/...) and `private_key` (or `secret`: its EC PEM or Ed25519 base64),
    straight into the Rust signer."""
    o = cfg.options
    if cfg.environment == "sim":
        if "url" not in o:
            raise ConfigError('[venues.coinbase] environment = "sim" needs url = "http://127.0.0.1:PORT"')
        endpoints = Endpoints.loopback(str(o["url"]))
    elif cfg.environment == "live":
        endpoints = ENDPOINTS["live"]
    else:
        raise ConfigError(
            f"[venues.coinbase] environment {cfg.environment!r}: Coinbase has live and sim only (its sandbox "
            "serves canned responses and cannot trade)"
        )
    key, private = _credentials(cfg)
    try:
        signer = CoinbaseSigner(key, private, host=endpoints.host)
        return CoinbaseConnector(symbols=[symbol], signer=signer, endpoints=endpoints, clock=clock)
    except ValueError as e:
        raise ConfigError(f"[venues.coinbase] {e}") from None


def loopback(url: str, *, symbol: str, clock: Clock, **options: Any) -> CoinbaseConnector:
    """A connector to a `trader.sim.coinbase` server at `url` (http://127.0.0.1:PORT), on its demo key."""
    return loopback_connector(url, symbols=[symbol], clock=clock, **options)


def simulator(*, seed: int, clock: Clock, **options: Any) -> CoinbaseSimServer:
    """The Coinbase simulator (REST, WebSocket), not yet started."""
    from trader.sim.coinbase import CoinbaseSimServer

    return CoinbaseSimServer(seed=seed, clock=clock, **options)


__all__ = [
    "CAPABILITIES",
    "ENDPOINTS",
    "PROFILE",
    "RATE_LIMIT_PER_S",
    "TABLE",
    "VENUE",
    "CoinbaseConnector",
    "Endpoints",
    "build",
    "decode_error",
    "error_from",
    "loopback",
    "loopback_connector",
    "simulator",
]
