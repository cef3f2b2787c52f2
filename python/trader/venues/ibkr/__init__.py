"""Interactive Brokers (US stocks) through a running IB Gateway or TWS: the venue package.

`connector.py` trades on ib_async; `orders.py` builds the SDK orders; `depth.py` keeps the SMART depth
book; `parse.py` turns what the SDK decoded into `trader` values; `errors.py` holds the TWS error codes;
`endpoints.py` the ports and pacing.
The loopback simulator is `trader.sim.ibkr` (the TWS socket protocol).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from trader.clock import Clock
from trader.config import VenueConfig
from trader.errors import ConfigError
from trader.venues.base import Tier
from trader.venues.ibkr.connector import IbkrConnector
from trader.venues.ibkr.depth import DepthBooks, DepthGapError, DepthRows
from trader.venues.ibkr.endpoints import (
    DEFAULT_HOST,
    LIVE_GATEWAY_PORT,
    LIVE_TWS_PORT,
    MAX_MESSAGES_PER_SECOND,
    PAPER_GATEWAY_PORT,
    PAPER_TWS_PORT,
    live_port,
    paper_port,
)
from trader.venues.ibkr.errors import VENUE, AmbiguousContractError, UnknownContractError, error_from
from trader.venues.ibkr.orders import CAPABILITIES
from trader.venues.ibkr.parse import IbExecution, StockSpec, base_currency_values, exact
from trader.venues.profile import ClientIdRule, VenueProfile, VenueTime

if TYPE_CHECKING:
    from trader.sim.ibkr import IbkrSimServer

_Depth = DepthRows  # the names the connector tests know
_DepthGapError = DepthGapError

PROFILE = VenueProfile(
    name=VENUE,
    tier=Tier.BROKER,
    summary="connector on ib_async (TWS / IB Gateway); `trader paper --exchange=ibkr [--sim]`",
    environments=("live", "paper", "sim"),
    capabilities={"spot": CAPABILITIES},
    default_symbol="SPY",
    strategies=("mm", "pairs"),
    client_id=ClientIdRule(
        "orderRef", re.compile(r"[\x21-\x7e]{1,40}"), "a free string; the integer order id is the API's"
    ),
    notes="no venue dead-man switch (the TWS API has no cancel-on-disconnect): the engine's watchdog",
)


def _host_port(url: str) -> tuple[str, int]:
    """`tcp://HOST:PORT` (or `HOST:PORT`) as a host and a port: the TWS API is not HTTP."""
    scheme, sep, _ = url.partition("://")
    host, _, port = url.rpartition("//")[2].partition(":")
    if (sep and scheme != "tcp") or not host or not port.isdigit():
        raise ConfigError(f'[venues.ibkr] url must be "tcp://HOST:PORT", not {url!r}')
    return host, int(port)


def build(cfg: VenueConfig, *, symbol: str, clock: Clock) -> IbkrConnector:
    """No secrets: TWS / IB Gateway holds the session; the config says where it listens
    (`host`/`port`, or `url = "tcp://127.0.0.1:PORT"` for a simulator)."""
    o = cfg.options
    live = cfg.environment == "live"
    host = str(o.get("host", DEFAULT_HOST))
    port = int(o.get("port", LIVE_GATEWAY_PORT if live else PAPER_GATEWAY_PORT))
    if cfg.environment == "sim" and "url" in o:
        host, port = _host_port(str(o["url"]))
    also = [s for s in str(o.get("also", "")).split(",") if s]  # more instruments (pairs: the other leg)
    return IbkrConnector(
        instruments=[symbol, *also],
        clock=clock,
        host=host,
        port=port,
        client_id=int(o.get("client_id", 1)),
        account_id=str(o.get("account_id", "")),
        paper=not live,
    )


def loopback(url: str, *, symbol: str, clock: Clock, **options: Any) -> IbkrConnector:
    """A connector to a `trader.sim.ibkr` server at `tcp://127.0.0.1:PORT`, on its demo paper account."""
    from trader.sim.ibkr import DEFAULT_ACCOUNT

    host, port = _host_port(url)
    options.setdefault("account_id", DEFAULT_ACCOUNT)
    also = tuple(options.pop("also", ()))  # more instruments (pairs: the other leg)
    return IbkrConnector(instruments=[symbol, *also], clock=clock, host=host, port=port, **options)


def simulator(*, seed: int, clock: Clock, **options: Any) -> IbkrSimServer:
    """The TWS API simulator, not yet started (`port = await server.start(port=0)`)."""
    from trader.sim.ibkr import IbkrSimServer

    return IbkrSimServer(seed=seed, clock=clock, **options)


__all__ = [
    "CAPABILITIES",
    "LIVE_GATEWAY_PORT",
    "LIVE_TWS_PORT",
    "MAX_MESSAGES_PER_SECOND",
    "PAPER_GATEWAY_PORT",
    "PAPER_TWS_PORT",
    "PROFILE",
    "VENUE",
    "AmbiguousContractError",
    "DepthBooks",
    "DepthGapError",
    "DepthRows",
    "IbExecution",
    "IbkrConnector",
    "StockSpec",
    "UnknownContractError",
    "VenueTime",
    "_Depth",
    "_DepthGapError",
    "base_currency_values",
    "build",
    "error_from",
    "exact",
    "live_port",
    "loopback",
    "paper_port",
    "simulator",
]
