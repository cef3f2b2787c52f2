"""Kraken (spot): the venue package.

`connector.py` trades over REST (`/0/public`, `/0/private`, signed by the core's `KrakenSigner`) or,
with `order_entry = "ws"`, the authenticated WebSocket; `streams.py` reads WebSocket v2 (`book` applied
and checksummed in the core from the raw bytes, `trade`, `executions`) and carries the socket's order
entry; `ratelimit.py` keeps Kraken's rate counters locally; `parse.py` turns Kraken's JSON into `trader`
values; `errors.py` holds its error strings; `endpoints.py` its URLs, paths and asset names. The loopback
simulator is `trader.sim.kraken`. Kraken has no spot testnet.

Config (`[venues.kraken]`): `environment` live or sim (`url`), `api_key` / `secret` references,
`rate_tier` (starter | intermediate | pro | none; live default starter), `order_entry` (rest | ws;
default rest), `dead_man_s`, `book_depth`, `nonce_file`; a live or paper session also keeps the last
nonce in its journal.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trader.clock import Clock
from trader.config import VenueConfig
from trader.core import Keystore
from trader.errors import ConfigError
from trader.venues.base import Tier
from trader.venues.kraken.connector import CAPABILITIES, KrakenConnector, loopback_connector
from trader.venues.kraken.endpoints import ENDPOINTS, Endpoints, asset, v2_symbol
from trader.venues.kraken.errors import TABLE, error_from
from trader.venues.kraken.parse import PairInfo
from trader.venues.profile import ClientIdRule, Counters, VenueProfile

if TYPE_CHECKING:
    from trader.sim.kraken import KrakenSimServer

VENUE = "kraken"

PROFILE = VenueProfile(
    name=VENUE,
    tier=Tier.CRYPTO,
    summary="connector (REST, WebSocket v2 book/trade/executions); `trader paper --exchange=kraken --sim`",
    environments=("live", "sim"),
    capabilities={"spot": CAPABILITIES},
    default_symbol="XBTUSD",
    strategies=("mm",),
    client_id=ClientIdRule("cl_ord_id", re.compile(r"[\x21-\x7e]{1,18}"), "free text <= 18 (else a UUID)"),
    notes="no spot testnet or sandbox exists (Kraken Futures' demo is futures only): `trader testnet` can "
    "check a live key read-only or the simulator; the dead-man switch is CancelAllOrdersAfter; orders go "
    'over REST unless order_entry = "ws" (the conformance suite\'s fault injection drives the REST order '
    "path, and it keeps working while the private socket reconnects)",
)


class NonceFile:
    """The last Kraken nonce used, kept in a file so a restart never reuses one (`nonce_file` option)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> int:
        try:
            return int(self.path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0

    def store(self, nonce: int) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(str(nonce))
        tmp.replace(self.path)


class JournalNonces:
    """The last Kraken nonce of one API key kept in the journal's counters (`Journal.get_counter` /
    `set_counter_at_least`, which never lowers it): `build(..., counters=journal)` passes `load()` as
    `last_nonce` and `store` as `nonce_store` to the connector."""

    def __init__(self, journal: Counters, api_key: str) -> None:
        self._journal = journal
        self.name = f"kraken_nonce:{hashlib.sha256(api_key.encode()).hexdigest()[:16]}"

    def load(self) -> int:
        return int(self._journal.get_counter(self.name))

    def store(self, nonce: int) -> None:
        self._journal.set_counter_at_least(self.name, nonce)


def _endpoints(cfg: VenueConfig) -> Endpoints:
    o = cfg.options
    if cfg.environment == "sim":
        if "url" not in o:
            raise ConfigError('[venues.kraken] environment = "sim" needs url = "http://127.0.0.1:PORT"')
        return Endpoints.loopback(str(o["url"]))
    if cfg.environment == "live":
        return ENDPOINTS["live"]
    raise ConfigError(
        f"[venues.kraken] environment {cfg.environment!r}: Kraken has no spot testnet (live, sim)"
    )


def _credentials(cfg: VenueConfig) -> tuple[str, str | Keystore]:
    try:
        key_ref, secret_ref = cfg.secrets["api_key"], cfg.secrets["secret"]
    except KeyError as e:
        raise ConfigError(f'[venues.kraken] needs {e.args[0]} = "env:NAME" or "keystore:PATH"') from None
    key = key_ref.resolve()
    if not isinstance(key, str):
        raise ConfigError("[venues.kraken] api_key must be an env: reference (it is not a secret)")
    return key, secret_ref.resolve()


def _nonces(cfg: VenueConfig, key: str, counters: Counters | None) -> dict[str, Any]:
    """`last_nonce` and `nonce_store` over the journal's counters and/or the `nonce_file` option."""
    stores: list[NonceFile | JournalNonces] = []
    if counters is not None:
        stores.append(JournalNonces(counters, key))
    if "nonce_file" in cfg.options:
        stores.append(NonceFile(str(cfg.options["nonce_file"])))
    if not stores:
        return {}

    def store(nonce: int) -> None:
        for s in stores:
            s.store(nonce)

    return {"last_nonce": max(s.load() for s in stores), "nonce_store": store}


def build(
    cfg: VenueConfig, *, symbol: str, clock: Clock, counters: Counters | None = None
) -> KrakenConnector:
    """Live, or a simulator (`environment = "sim"`, `url`). Kraken has no spot testnet. The last nonce
    signed is kept in `counters` (the session's journal) and/or the `nonce_file` option: a restart, even
    with the clock stepped back, starts above the largest kept."""
    o = cfg.options
    endpoints = _endpoints(cfg)
    key, secret = _credentials(cfg)  # before any counter is read: a refused secret touches nothing
    # Kraken's verification tier; "none": no local counters (the default on a simulator: it keeps none)
    tier = str(o.get("rate_tier", "starter" if cfg.environment == "live" else "none"))
    options: dict[str, Any] = {
        "rate_tier": None if tier == "none" else tier,
        "order_entry": str(o.get("order_entry", "rest")),  # "ws": the authenticated WebSocket
    }
    for name in ("dead_man_s", "book_depth"):  # the dead-man switch's timeout (0: off), the book's depth
        if name in o:
            options[name] = int(o[name])
    options.update(_nonces(cfg, key, counters))
    try:
        return KrakenConnector(
            symbols=[symbol], api_key=key, secret=secret, endpoints=endpoints, clock=clock, **options
        )
    except ValueError as e:
        raise ConfigError(f"[venues.kraken] {e}") from None


def loopback(url: str, *, symbol: str, clock: Clock, **options: Any) -> KrakenConnector:
    """A connector to a `trader.sim.kraken` server at `url`, on its demo key."""
    return loopback_connector(url, symbols=[symbol], clock=clock, **options)


def simulator(*, seed: int, clock: Clock, **options: Any) -> KrakenSimServer:
    """The Kraken simulator (REST, WebSocket v2), not yet started."""
    from trader.sim.kraken import KrakenSimServer

    return KrakenSimServer(seed=seed, clock=clock, **options)


__all__ = [
    "CAPABILITIES",
    "ENDPOINTS",
    "PROFILE",
    "TABLE",
    "VENUE",
    "Endpoints",
    "JournalNonces",
    "KrakenConnector",
    "NonceFile",
    "PairInfo",
    "asset",
    "build",
    "error_from",
    "loopback",
    "loopback_connector",
    "simulator",
    "v2_symbol",
]
