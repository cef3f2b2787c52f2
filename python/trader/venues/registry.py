"""Which venues exist, and how to build a connector for one from configuration.

One place maps a venue id and environment to endpoints and credentials; the CLI, `trader testnet` and
embedding code all build connectors here.
"""

from __future__ import annotations

from dataclasses import dataclass

from trader.clock import Clock
from trader.config import VenueConfig
from trader.core import BinanceSigner
from trader.errors import ConfigError
from trader.venues.binance import BinanceSpot

# The loopback simulator's public demo account (documented; it exists only inside `trader sim`).
SIM_API_KEY = "sim-demo-key"
SIM_SECRET = "sim-demo-secret"  # noqa: S105 - a published demo credential of the local simulator


@dataclass(frozen=True)
class VenueInfo:
    name: str
    tier: str
    status: str


VENUES = {
    "ibkr": VenueInfo("ibkr", "broker", "signing/credentials ready; connector not built yet"),
    "alpaca": VenueInfo("alpaca", "broker", "key headers ready; connector not built yet"),
    "binance": VenueInfo(
        "binance", "crypto", "spot connector (REST + WebSocket); `--sim` rehearses it offline"
    ),
    "coinbase": VenueInfo("coinbase", "crypto", "request signing ready; connector not built yet"),
    "kraken": VenueInfo("kraken", "crypto", "request signing ready; connector not built yet"),
    "okx": VenueInfo("okx", "crypto", "request signing ready; connector not built yet"),
    "bybit": VenueInfo("bybit", "crypto", "request signing ready; connector not built yet"),
    "polymarket": VenueInfo("polymarket", "prediction", "order signing ready; connector not built yet"),
    "sim": VenueInfo("sim", "simulated", "built in: loopback simulator of the Binance spot protocol"),
}

BINANCE_ENDPOINTS = {
    "live": (
        "https://api.binance.com",
        "wss://stream.binance.com:9443",
        "wss://ws-api.binance.com:443/ws-api/v3",
    ),
    "testnet": (
        "https://testnet.binance.vision",
        "wss://stream.testnet.binance.vision",
        "wss://ws-api.testnet.binance.vision/ws-api/v3",
    ),
}


def loopback_connector(url: str, *, symbol: str, clock: Clock, venue: str = "sim") -> BinanceSpot:
    """A connector to a `trader sim` server at `url` (http://127.0.0.1:PORT) with the demo account."""
    base = url.rstrip("/")
    ws = "ws" + base[len("http") :] if base.startswith("http") else base
    return BinanceSpot(
        symbol=symbol,
        signer=BinanceSigner(SIM_API_KEY, SIM_SECRET),
        rest_url=base,
        stream_url=ws,
        ws_api_url=f"{ws}/ws-api/v3",
        clock=clock,
        venue=venue,
    )


def build_connector(cfg: VenueConfig, *, symbol: str, clock: Clock) -> BinanceSpot:
    """A connector for a configured venue. Secrets are resolved here, straight into the signer."""
    if cfg.name != "binance":
        raise ConfigError(
            f"no connector for {cfg.name} yet ({VENUES[cfg.name].status})"
            if cfg.name in VENUES
            else f"unknown venue {cfg.name!r}"
        )
    if cfg.environment not in BINANCE_ENDPOINTS:
        raise ConfigError(
            f"[venues.binance] environment {cfg.environment!r} has no endpoints (use live or testnet)"
        )
    try:
        key_ref, secret_ref = cfg.secrets["api_key"], cfg.secrets["secret"]
    except KeyError as e:
        raise ConfigError(f'[venues.binance] needs {e.args[0]} = "env:NAME" or "keystore:PATH"') from None
    key = key_ref.resolve()
    if not isinstance(key, str):
        raise ConfigError("[venues.binance] api_key must be an env: reference (it is not a secret)")
    rest, stream, ws_api = BINANCE_ENDPOINTS[cfg.environment]
    return BinanceSpot(
        symbol=symbol,
        signer=BinanceSigner(key, secret_ref.resolve()),
        rest_url=rest,
        stream_url=stream,
        ws_api_url=ws_api,
        clock=clock,
    )
