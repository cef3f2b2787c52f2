"""The venue template: copy this folder to `venues/<name>/` and fill it in (see README.md).

It is not registered: `trader.venues.registry` lists only real venues."""

from __future__ import annotations

from typing import Any

from trader.clock import Clock
from trader.config import VenueConfig
from trader.venues._template.connector import TemplateConnector
from trader.venues.base import Tier
from trader.venues.profile import Simulator, VenueProfile

PROFILE = VenueProfile(
    name="_template",
    tier=Tier.CRYPTO,
    summary="a template, not a venue",
    environments=("live", "paper", "sim"),
    default_symbol="BTCUSD",
    strategies=("mm",),
    built=False,
)


def build(cfg: VenueConfig, *, symbol: str, clock: Clock) -> TemplateConnector:
    """A connector from `[venues.<name>]`: choose endpoints by `cfg.environment`, resolve the secrets
    straight into the Rust signer, raise `ConfigError` naming the key that is wrong."""
    raise NotImplementedError("the template builds nothing: fill in venues/<name>/__init__.py")


def loopback(url: str, *, symbol: str, clock: Clock, **options: Any) -> TemplateConnector:
    """A connector to this venue's simulator at `url`, with the simulator's demo credentials."""
    raise NotImplementedError("the template builds nothing: fill in venues/<name>/__init__.py")


def simulator(*, seed: int, clock: Clock, **options: Any) -> Simulator:
    """`trader.sim.<name>`'s server, not started (import it here, lazily)."""
    raise NotImplementedError("the template has no simulator: write trader/sim/<name>/")


__all__ = ["PROFILE", "TemplateConnector", "build", "loopback", "simulator"]
