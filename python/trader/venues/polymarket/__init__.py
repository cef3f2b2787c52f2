"""Polymarket (CLOB V2, pUSD collateral): one binary market, both outcome tokens, one wallet.

The venue package contract (trader/venues/profile.py): `PROFILE`, `build`, `loopback`, `simulator`.
Files: endpoints.py (hosts, contracts, quotas), errors.py (error table), parse.py (pure payload parsers),
connector.py (the Protocol's methods), streams.py (market and user channels), heartbeat.py (the dead-man
switch), orders.py (tracking and the order log), signing.py (an order's signed request), funds.py
(balance checks), chain.py (Polygon JSON-RPC), gamma.py (market metadata), markets.py (CTF and Protocol V2
markets' ids), approvals.py (`trader approve`)."""

from __future__ import annotations

import dataclasses
import secrets
from typing import TYPE_CHECKING, Any

from trader.clock import Clock
from trader.errors import ConfigError
from trader.venues.base import Tier
from trader.venues.polymarket import approvals
from trader.venues.polymarket.chain import ChainBalance
from trader.venues.polymarket.connector import PolymarketConnector
from trader.venues.polymarket.endpoints import (
    COLLATERAL,
    CTF,
    ENDPOINTS,
    EXCHANGE,
    LOT,
    MAX_BATCH,
    MICRO,
    NEG_RISK_EXCHANGE,
    RATE_LIMITS,
    Endpoints,
    capabilities,
)
from trader.venues.polymarket.errors import (
    HeartbeatFailedError,
    MarketMetadataError,
    MetadataMismatchError,
    ProtocolVersionError,
    decode_error,
    error_from,
)
from trader.venues.polymarket.parse import MarketMetadata, parse_gamma_market
from trader.venues.profile import ClientIdRule, VenueProfile

if TYPE_CHECKING:
    from trader.config import VenueConfig
    from trader.sim.polymarket import PolymarketSimServer

__all__ = [
    "COLLATERAL",
    "CTF",
    "ENDPOINTS",
    "EXCHANGE",
    "LOT",
    "MAX_BATCH",
    "MICRO",
    "NEG_RISK_EXCHANGE",
    "PROFILE",
    "RATE_LIMITS",
    "ChainBalance",
    "Endpoints",
    "HeartbeatFailedError",
    "MarketMetadata",
    "MarketMetadataError",
    "MetadataMismatchError",
    "PolymarketConnector",
    "ProtocolVersionError",
    "build",
    "decode_error",
    "error_from",
    "loopback",
    "parse_gamma_market",
    "simulator",
]

PROFILE = VenueProfile(
    name="polymarket",
    tier=Tier.PREDICTION,
    summary=(
        "CLOB V2 connector, CTF and Protocol V2 markets, both tokens; "
        "`trader paper --exchange=polymarket --sim`"
    ),
    environments=("live", "sim"),  # the venue has no testnet
    capabilities={"prediction": capabilities()},
    default_symbol="{condition_id}:YES",  # a market is chosen by its condition id (config option)
    strategies=("binary-mm", "rewards", "event"),
    client_id=ClientIdRule("", None, "no client id: the connector maps ours to the order's hash"),
    notes="heartbeats are the dead-man switch: the venue cancels every order when they stop",
    approve=approvals.approve,  # pUSD and token approvals to the exchanges: `trader approve`
)


def build(cfg: VenueConfig, *, symbol: str, clock: Clock) -> PolymarketConnector:
    """A wallet key (a keystore: `keystore:PATH`) trading one market's two tokens (`condition_id`)."""
    del symbol  # the market is the config's condition_id
    o = cfg.options
    if "condition_id" not in o:
        raise ConfigError('[venues.polymarket] needs condition_id = "0x..." (the market to trade)')
    if "private_key" not in cfg.secrets:
        raise ConfigError('[venues.polymarket] needs private_key = "keystore:PATH" (or "env:NAME")')
    if cfg.environment == "sim":
        if "url" not in o:
            raise ConfigError('[venues.polymarket] environment = "sim" needs url = "http://127.0.0.1:PORT"')
        endpoints = Endpoints.loopback(str(o["url"]))
    elif cfg.environment == "live":
        endpoints = ENDPOINTS["live"]
    else:
        raise ConfigError("[venues.polymarket] environment must be live or sim (the venue has no testnet)")
    rpc_url = cfg.url("rpc_url")
    if rpc_url is not None:
        endpoints = dataclasses.replace(endpoints, rpc=rpc_url)
    try:
        return PolymarketConnector(
            condition_id=str(o["condition_id"]),
            private_key=cfg.secrets["private_key"].resolve(),
            clock=clock,
            endpoints=endpoints,
            signature_type=int(o.get("signature_type", 0)),
            funder=str(o["funder"]) if "funder" in o else None,
            order_log=str(o["order_log"]) if "order_log" in o else None,
        )
    except ValueError as e:
        raise ConfigError(f"[venues.polymarket] {e}") from None


def loopback(url: str, *, symbol: str, clock: Clock, **options: Any) -> PolymarketConnector:
    """A connector to the simulator at `url` (the simulator funds new addresses): a fresh wallet unless
    `private_key` is given; the market is `condition_id`, else the one `symbol` names (`0x..` or
    `0x..:YES`). Other options go to `PolymarketConnector`."""
    condition_id = str(options.pop("condition_id", "") or symbol.split(":", 1)[0])
    if not condition_id:
        raise ConfigError("polymarket: a loopback connector needs condition_id (or a symbol naming it)")
    private_key = options.pop("private_key", None) or "0x" + secrets.token_hex(32)
    return PolymarketConnector(
        condition_id=condition_id,
        private_key=private_key,
        clock=clock,
        endpoints=Endpoints.loopback(url),
        **options,
    )


def simulator(*, seed: int, clock: Clock, **options: Any) -> PolymarketSimServer:
    """The Polymarket simulator (not yet started: `await server.start(port=0)`; `server.url`)."""
    from trader.sim.polymarket import PolymarketSimServer

    return PolymarketSimServer(seed=seed, clock=clock, **options)
