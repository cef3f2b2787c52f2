"""Which venues exist, and how to build a connector for one from configuration.

One place maps a venue id and environment to endpoints and credentials; the CLI, `trader testnet` and
embedding code all build connectors here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trader.clock import Clock
from trader.config import VenueConfig
from trader.core import AlpacaSigner, BinanceSigner, Keystore
from trader.errors import ConfigError
from trader.venues.base import Connector
from trader.venues.binance import ENDPOINTS, BinanceConnector, Endpoints, Market

# The loopback simulator's public demo account (documented; it exists only inside `trader sim`).
SIM_API_KEY = "sim-demo-key"
SIM_SECRET = "sim-demo-secret"  # noqa: S105 - a published demo credential of the local simulator


@dataclass(frozen=True)
class VenueInfo:
    name: str
    tier: str
    status: str


VENUES = {
    "ibkr": VenueInfo(
        "ibkr", "broker", "connector on ib_async (TWS / IB Gateway); `trader paper --exchange=ibkr [--sim]`"
    ),
    "alpaca": VenueInfo(
        "alpaca",
        "broker",
        "connector (REST, trade_updates, market data); `trader paper --exchange=alpaca --sim`",
    ),
    "binance": VenueInfo(
        "binance",
        "crypto",
        "spot, USD-M futures, margin (REST or WebSocket API orders); `--sim` rehearses it offline",
    ),
    "coinbase": VenueInfo("coinbase", "crypto", "request signing ready; connector not built yet"),
    "kraken": VenueInfo("kraken", "crypto", "request signing ready; connector not built yet"),
    "okx": VenueInfo("okx", "crypto", "request signing ready; connector not built yet"),
    "bybit": VenueInfo("bybit", "crypto", "request signing ready; connector not built yet"),
    "polymarket": VenueInfo(
        "polymarket",
        "prediction",
        "CLOB V2 connector, both tokens; `trader paper --exchange=polymarket --sim`",
    ),
    "sim": VenueInfo("sim", "simulated", "built in: loopback simulator of the Binance protocol"),
}


def loopback_connector(
    url: str,
    *,
    symbol: str,
    clock: Clock,
    venue: str = "sim",
    market: Market | str = Market.SPOT,
    order_entry: str = "rest",
    **options: Any,
) -> BinanceConnector:
    """A connector to a `trader sim` server at `url` (http://127.0.0.1:PORT) with the demo account."""
    return BinanceConnector(
        symbol=symbol,
        signer=BinanceSigner(SIM_API_KEY, SIM_SECRET),
        endpoints=Endpoints.loopback(url),
        clock=clock,
        market=Market(market),
        venue=venue,
        order_entry=order_entry,
        **options,
    )


def venue_symbol(cfg: VenueConfig, default: str) -> str:
    sym = cfg.options.get("symbol", default)
    return str(sym)


def build_connector(cfg: VenueConfig, *, symbol: str, clock: Clock) -> Connector:
    """A connector for a configured venue. Secrets are resolved here, straight into the signer."""
    if cfg.name == "alpaca":
        return _alpaca(cfg, symbol, clock)
    if cfg.name == "ibkr":
        return _ibkr(cfg, symbol, clock)
    if cfg.name == "polymarket":
        return _polymarket(cfg, clock)
    if cfg.name != "binance":
        raise ConfigError(
            f"no connector for {cfg.name} yet ({VENUES[cfg.name].status})"
            if cfg.name in VENUES
            else f"unknown venue {cfg.name!r}"
        )
    o = cfg.options
    try:
        market = Market(str(o.get("market", "spot")))
    except ValueError:
        raise ConfigError(
            f"[venues.binance] market must be spot, futures or margin, not {o['market']!r}"
        ) from None
    if cfg.environment == "sim":
        if "url" not in o:
            raise ConfigError('[venues.binance] environment = "sim" needs url = "http://127.0.0.1:PORT"')
        endpoints = Endpoints.loopback(str(o["url"]))
    else:
        env = "testnet" if cfg.environment == "paper" else cfg.environment
        endpoints = ENDPOINTS[env]
    try:
        key_ref, secret_ref = cfg.secrets["api_key"], cfg.secrets["secret"]
    except KeyError as e:
        raise ConfigError(f'[venues.binance] needs {e.args[0]} = "env:NAME" or "keystore:PATH"') from None
    key = key_ref.resolve()
    if not isinstance(key, str):
        raise ConfigError("[venues.binance] api_key must be an env: reference (it is not a secret)")
    key_type = str(o.get("key_type", "hmac"))
    if key_type == "ed25519":
        signer = BinanceSigner.ed25519(key, secret_ref.resolve())
    elif key_type == "hmac":
        signer = BinanceSigner(key, secret_ref.resolve())
    else:
        raise ConfigError(f"[venues.binance] key_type must be hmac or ed25519, not {key_type!r}")
    try:
        return BinanceConnector(
            symbol=symbol,
            signer=signer,
            endpoints=endpoints,
            clock=clock,
            market=market,
            order_entry=str(o.get("order_entry", "rest")),
            stp_mode=str(o.get("stp_mode", "EXPIRE_MAKER")),
            isolated=bool(o.get("isolated", False)),
            side_effect=str(o.get("side_effect", "NO_SIDE_EFFECT")),
            leverage=int(o["leverage"]) if "leverage" in o else None,
            margin_type=str(o["margin_type"]) if "margin_type" in o else None,
        )
    except ValueError as e:
        raise ConfigError(f"[venues.binance] {e}") from None


def _key_and_secret(cfg: VenueConfig) -> tuple[str, str | Keystore]:
    try:
        key_ref, secret_ref = cfg.secrets["api_key"], cfg.secrets["secret"]
    except KeyError as e:
        raise ConfigError(f'[venues.{cfg.name}] needs {e.args[0]} = "env:NAME" or "keystore:PATH"') from None
    key = key_ref.resolve()
    if not isinstance(key, str):
        raise ConfigError(f"[venues.{cfg.name}] api_key must be an env: reference (it is not a secret)")
    return key, secret_ref.resolve()


def _alpaca(cfg: VenueConfig, symbol: str, clock: Clock) -> Connector:
    from trader.venues import alpaca

    o = cfg.options
    if cfg.environment == "sim":
        if "url" not in o:
            raise ConfigError('[venues.alpaca] environment = "sim" needs url = "http://127.0.0.1:PORT"')
        endpoints = alpaca.Endpoints.loopback(str(o["url"]))
    else:
        endpoints = alpaca.ENDPOINTS["live" if cfg.environment == "live" else "paper"]
    key, secret = _key_and_secret(cfg)
    try:
        return alpaca.AlpacaConnector(
            symbols=[symbol],
            signer=AlpacaSigner(key, secret),
            endpoints=endpoints,
            clock=clock,
            feed=str(o.get("feed", "iex")),
        )
    except ValueError as e:
        raise ConfigError(f"[venues.alpaca] {e}") from None


def _ibkr(cfg: VenueConfig, symbol: str, clock: Clock) -> Connector:
    """No secrets: TWS / IB Gateway holds the session; the config says where it listens."""
    from trader.venues import ibkr

    o = cfg.options
    live = cfg.environment == "live"
    port = int(o.get("port", ibkr.LIVE_GATEWAY_PORT if live else ibkr.PAPER_GATEWAY_PORT))
    return ibkr.IbkrConnector(
        instruments=[symbol],
        clock=clock,
        host=str(o.get("host", "127.0.0.1")),
        port=port,
        client_id=int(o.get("client_id", 1)),
        account_id=str(o.get("account_id", "")),
        paper=not live,
    )


def _polymarket(cfg: VenueConfig, clock: Clock) -> Connector:
    """A wallet key (a keystore: `keystore:PATH`) trading one market's two tokens."""
    from trader.venues import polymarket

    return polymarket.build(cfg, symbol="", clock=clock)
