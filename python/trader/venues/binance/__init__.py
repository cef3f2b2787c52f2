"""Binance: spot, USD-M futures and cross/isolated margin (`connector.BinanceConnector`), the venue package
contract of `trader.venues.profile` (PROFILE, build, loopback, simulator)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from trader.clock import Clock
from trader.config import VenueConfig
from trader.core import BinanceSigner
from trader.errors import ConfigError
from trader.venues.base import Tier
from trader.venues.binance.connector import BinanceConnector, capabilities
from trader.venues.binance.endpoints import (
    ENDPOINTS,
    MARGIN_TEST_ENVIRONMENT,
    SIDE_EFFECTS,
    SIM_API_KEY,
    SIM_SECRET,
    STP_MODES,
    Endpoints,
    Market,
    endpoints_of,
)
from trader.venues.binance.errors import decode_error, error_from
from trader.venues.profile import ClientIdRule, VenueProfile

if TYPE_CHECKING:
    from trader.sim.binance import BinanceSimServer

__all__ = [
    "ENDPOINTS",
    "PROFILE",
    "SIDE_EFFECTS",
    "SIM_API_KEY",
    "SIM_SECRET",
    "STP_MODES",
    "BinanceConnector",
    "Endpoints",
    "Market",
    "build",
    "decode_error",
    "error_from",
    "loopback",
    "simulator",
]

PROFILE = VenueProfile(
    name="binance",
    tier=Tier.CRYPTO,
    summary="spot, USD-M futures, margin (REST or WebSocket API orders); `--sim` rehearses it offline",
    environments=("live", "paper", "testnet", "demo", "sim"),  # paper = testnet
    capabilities={
        Market.SPOT.value: capabilities(Market.SPOT, ws_orders=True),
        Market.FUTURES.value: capabilities(Market.FUTURES, ws_orders=True),
        Market.MARGIN.value: capabilities(Market.MARGIN, ws_orders=False),  # margin orders go over REST
    },
    default_symbol="BTCUSDT",
    strategies=("mm",),
    notes=(
        "environment = testnet (older name: paper) is the spot and USD-M testnets, demo is Binance's demo "
        "trading (demo-api / demo-fapi); margin has neither: rehearse it with --sim"
    ),
    client_id=ClientIdRule(
        "newClientOrderId", re.compile(r"[.A-Z:/a-z0-9_-]{1,36}"), "API docs: <= 36 of [.A-Z:/a-z0-9_-]"
    ),
)


def _signer(cfg: VenueConfig) -> BinanceSigner:
    """The signer of `[venues.binance]`: `api_key` (env:), `secret` (env: or keystore:), `key_type`."""
    try:
        key_ref, secret_ref = cfg.secrets["api_key"], cfg.secrets["secret"]
    except KeyError as e:
        raise ConfigError(f'[venues.binance] needs {e.args[0]} = "env:NAME" or "keystore:PATH"') from None
    key = key_ref.resolve()
    if not isinstance(key, str):
        raise ConfigError("[venues.binance] api_key must be an env: reference (it is not a secret)")
    key_type = str(cfg.options.get("key_type", "hmac"))
    if key_type == "ed25519":
        return BinanceSigner.ed25519(key, secret_ref.resolve())
    if key_type == "hmac":
        return BinanceSigner(key, secret_ref.resolve())
    raise ConfigError(f"[venues.binance] key_type must be hmac or ed25519, not {key_type!r}")


def _endpoints(cfg: VenueConfig) -> Endpoints:
    if cfg.environment == "sim":
        if "url" not in cfg.options:
            raise ConfigError('[venues.binance] environment = "sim" needs url = "http://127.0.0.1:PORT"')
        return Endpoints.loopback(str(cfg.options["url"]))
    if cfg.environment not in PROFILE.environments:
        raise ConfigError(
            f"[venues.{cfg.name}] environment must be one of {', '.join(PROFILE.environments)}, "
            f"not {cfg.environment!r}"
        )
    return endpoints_of(cfg.environment)


def build(cfg: VenueConfig, *, symbol: str, clock: Clock) -> BinanceConnector:
    """A connector from `[venues.binance]`: live, testnet (or its older name paper), demo, or a running
    simulator (`environment = "sim"`, `url`). Margin has no test environment: refused with one line
    (`MARGIN_TEST_ENVIRONMENT`). Secrets are resolved here, straight into the signer."""
    o = cfg.options
    try:
        market = Market(str(o.get("market", "spot")))
    except ValueError:
        raise ConfigError(
            f"[venues.binance] market must be spot, futures or margin, not {o['market']!r}"
        ) from None
    if market is Market.MARGIN and cfg.environment not in ("live", "sim"):
        raise ConfigError(f"[venues.{cfg.name}] environment = {cfg.environment!r}: {MARGIN_TEST_ENVIRONMENT}")
    endpoints = _endpoints(cfg)
    signer = _signer(cfg)
    try:
        return BinanceConnector(
            symbol=symbol,
            signer=signer,
            endpoints=endpoints,
            clock=clock,
            market=market,
            venue=cfg.name,  # "binance", or an alias venue ("binance-futures") named after its market
            order_entry=str(o.get("order_entry", "rest")),
            stp_mode=str(o.get("stp_mode", "EXPIRE_MAKER")),
            isolated=bool(o.get("isolated", False)),
            side_effect=str(o.get("side_effect", "NO_SIDE_EFFECT")),
            leverage=int(o["leverage"]) if "leverage" in o else None,
            margin_type=str(o["margin_type"]) if "margin_type" in o else None,
        )
    except ValueError as e:
        raise ConfigError(f"[venues.binance] {e}") from None


def loopback(
    url: str,
    *,
    symbol: str,
    clock: Clock,
    venue: str = "binance",
    market: Market | str = Market.SPOT,
    order_entry: str = "rest",
    **options: Any,
) -> BinanceConnector:
    """A connector to a `trader sim` server at `url` (http://127.0.0.1:PORT) with the demo account. On
    margin it borrows what an order needs and repays with what a fill brings, unless told otherwise
    (`side_effect`): a rehearsal's market maker quotes both sides from a small balance."""
    if Market(market) is Market.MARGIN:
        options.setdefault("side_effect", "AUTO_BORROW_REPAY")
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


def simulator(*, seed: int, clock: Clock, **options: Any) -> BinanceSimServer:
    """The Binance simulator (spot, futures, margin), not yet started."""
    from trader.sim.binance import BinanceSimServer

    options.setdefault("venue", "binance")
    return BinanceSimServer(seed=seed, clock=clock, **options)
