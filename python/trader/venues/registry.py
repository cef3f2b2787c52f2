"""Which venues exist: a table of venue packages, and the venues still to come.

Every built venue is a package `trader.venues.<name>` exposing `PROFILE`, `build`, `loopback` and
`simulator` (the contract in `trader.venues.profile`). The CLI, `trader testnet`, the engine and embedding
code reach venues only through this module: they never import a concrete connector and never branch on a
venue's name. A venue without a connector says so (`NotBuiltError`); it is never stood in for by another.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Mapping
from typing import Any, cast

from trader.clock import Clock
from trader.config import VenueConfig
from trader.errors import ConfigError
from trader.venues.base import Capabilities, Connector, Tier
from trader.venues.binance import SIM_API_KEY, SIM_SECRET
from trader.venues.profile import STRICTEST, ClientIdRule, Counters, Simulator, VenuePackage, VenueProfile

__all__ = [
    "ALIASES",
    "ALIAS_SYMBOLS",
    "PACKAGES",
    "PLANNED",
    "SIM_API_KEY",
    "SIM_SECRET",
    "NotBuiltError",
    "alias_options",
    "build_connector",
    "client_id_rule",
    "environments",
    "loopback_connector",
    "names",
    "package",
    "profile",
    "simulator",
    "venue_symbol",
]

# venue id -> its package (each exposes PROFILE, build, loopback, simulator)
PACKAGES: dict[str, str] = {
    "ibkr": "trader.venues.ibkr",
    "alpaca": "trader.venues.alpaca",
    "binance": "trader.venues.binance",
    "coinbase": "trader.venues.coinbase",
    "bybit": "trader.venues.bybit",
    "polymarket": "trader.venues.polymarket",
    "kraken": "trader.venues.kraken",
    "okx": "trader.venues.okx",
    "sim": "trader.venues.sim",
}


# a venue is an account on one exchange and market: these venues are another venue's package with fixed
# options (Binance USD-M futures and margin are venues of their own to the gate, to health, to `kill --venue`)
ALIASES: dict[str, tuple[str, dict[str, str | int | bool]]] = {
    "binance-futures": ("binance", {"market": "futures"}),
    "binance-margin": ("binance", {"market": "margin"}),
    "okx-swap": ("okx", {"market": "swap"}),  # the spot/perpetual basis on one exchange: two venues
    "bybit-linear": ("bybit", {"market": "linear"}),
}
# what an alias trades by default when its market names instruments otherwise (else its base's default)
ALIAS_SYMBOLS: dict[str, str] = {"okx-swap": "BTC-USDT-SWAP"}


def _planned(name: str, signer: str, client_id: ClientIdRule) -> VenueProfile:
    return VenueProfile(
        name=name,
        tier=Tier.CRYPTO,
        summary=f"request signing ready ({signer}); connector not built yet",
        environments=(),
        built=False,
        client_id=client_id,
    )


# venues the mission names whose connectors are not built yet: listed, never pretended
PLANNED: dict[str, VenueProfile] = {}  # every venue the mission names is built now


class NotBuiltError(ConfigError):
    """The venue is known but has no connector (and no simulator) yet."""


def names() -> list[str]:
    """Every venue id, built ones first (each followed by its aliases), in a stable order."""
    out: list[str] = []
    for name in PACKAGES:
        out += [name, *(alias for alias, (base, _) in ALIASES.items() if base == name)]
    return [*out, *PLANNED]


def alias_options(name: str) -> dict[str, str | int | bool]:
    """The options an alias venue fixes (`binance-futures`: market = "futures"); {} for any other."""
    return dict(ALIASES[name][1]) if name in ALIASES else {}


def environments(cfg: VenueConfig) -> tuple[str, ...]:
    """The environments a configured venue offers for the market its options choose (Binance margin:
    live and sim only); () for a venue not built."""
    prof = profile(cfg.name)
    market = cfg.options.get("market")
    caps = prof.capabilities.get(str(market)) if market is not None else None
    return _environments(prof.environments, caps)


def _environments(envs: tuple[str, ...], caps: Capabilities | None) -> tuple[str, ...]:
    """An alias market's environments: without the test ones when the market has none (Binance margin)."""
    if caps is None or caps.paper_environment:
        return envs
    return tuple(e for e in envs if e in ("live", "sim"))


class _AliasPackage:
    """An alias venue's package: its base package with the alias's options filled in (unless the config
    sets them) and the connector named after the alias."""

    def __init__(self, name: str, base: VenuePackage, options: Mapping[str, str | int | bool]) -> None:
        self.name, self._base, self._options = name, base, dict(options)
        base_profile = base.PROFILE
        market = str(self._options.get("market", ""))
        caps = base_profile.capabilities
        self.PROFILE = dataclasses.replace(
            base_profile,
            name=name,
            summary=f"{base_profile.name} {market} market as a venue of its own".replace("  ", " "),
            capabilities={market: caps[market]} if market in caps else caps,
            environments=_environments(base_profile.environments, caps.get(market)),
            default_symbol=ALIAS_SYMBOLS.get(name, base_profile.default_symbol),
        )

    def build(self, cfg: VenueConfig, *, symbol: str, clock: Clock, **counters: Any) -> Any:
        filled = dataclasses.replace(cfg, options=self._options | cfg.options)
        if counters and "counters" in inspect.signature(self._base.build).parameters:
            return self._base.build(filled, symbol=symbol, clock=clock, **counters)
        return self._base.build(filled, symbol=symbol, clock=clock)

    def loopback(self, url: str, *, symbol: str, clock: Clock, **options: Any) -> Any:
        params = inspect.signature(self._base.loopback).parameters.values()
        if any(p.name == "venue" or p.kind is p.VAR_KEYWORD for p in params):  # named after the alias
            options.setdefault("venue", self.name)
        return self._base.loopback(url, symbol=symbol, clock=clock, **(self._options | options))

    def simulator(self, *, seed: int, clock: Clock, **options: Any) -> Simulator:
        return self._base.simulator(seed=seed, clock=clock, **options)


def package(name: str) -> VenuePackage:
    """The venue's package. `NotBuiltError` for a planned venue, `ConfigError` for an unknown one."""
    if name in PLANNED:
        raise NotBuiltError(f"no connector for {name} yet: {PLANNED[name].summary}")
    if name in ALIASES:
        base, options = ALIASES[name]
        return cast(VenuePackage, _AliasPackage(name, package(base), options))
    if name not in PACKAGES:
        raise ConfigError(f"unknown venue {name!r} (venues: {', '.join(names())})")
    return cast(VenuePackage, importlib.import_module(PACKAGES[name]))


def profile(name: str) -> VenueProfile:
    """The venue's profile, built or planned (`ConfigError` for an unknown venue)."""
    if name in PLANNED:
        return PLANNED[name]
    return package(name).PROFILE


def build_connector(
    cfg: VenueConfig, *, symbol: str, clock: Clock, counters: Counters | None = None
) -> Connector:
    """A connector for a configured venue. Secrets are resolved by the venue's package, straight into
    its signer; an alias venue's options fill the config's unless it sets them. `counters` (the session's
    journal) goes to a venue whose `build` keeps counters across restarts (Kraken's nonce)."""
    build: Any = package(cfg.name).build  # `counters` is an optional part of the contract
    if counters is not None and "counters" in inspect.signature(build).parameters:
        return cast(Connector, build(cfg, symbol=symbol, clock=clock, counters=counters))
    return cast(Connector, build(cfg, symbol=symbol, clock=clock))


def simulator(name: str, *, seed: int, clock: Clock, **options: Any) -> Simulator:
    """The venue's local simulator, not started."""
    return package(name).simulator(seed=seed, clock=clock, **options)


def loopback_connector(url: str, *, symbol: str, clock: Clock, venue: str = "sim", **options: Any) -> Any:
    """A connector to the simulator of `venue` at `url` (`trader sim <venue>`), with its demo account."""
    return package(venue).loopback(url, symbol=symbol, clock=clock, **options)


def venue_symbol(cfg: VenueConfig, default: str = "") -> str:
    """The instrument a configured venue trades: its `symbol` option, else `default`, else the profile's
    default, whose `{option}` fields come from the config (Polymarket: "{condition_id}:YES")."""
    chosen = str(cfg.options.get("symbol", "") or default or profile(cfg.name).default_symbol)
    try:
        return chosen.format(**cfg.options)
    except (KeyError, IndexError, ValueError) as e:
        raise ConfigError(f"[venues.{cfg.name}] needs {e} (or symbol = ...) to name the instrument") from None


def client_id_rule(name: str) -> ClientIdRule:
    """The venue's rule for client order ids; a venue the registry does not know: the strictest rule."""
    try:
        return profile(name).client_id
    except ConfigError:
        return STRICTEST
