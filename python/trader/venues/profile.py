"""What every venue package exposes, so the registry, the CLI and the engine never name a venue.

Each `trader/venues/<name>/__init__.py` (the fixed file set: `endpoints.py`, `errors.py`, `parse.py`,
`connector.py`, stream modules only where the venue has streams) exports exactly these names:

    PROFILE: VenueProfile
        What the venue is and offers (tier, environments, markets, capabilities per market, defaults).
    def build(cfg: VenueConfig, *, symbol: str, clock: Clock) -> Connector
        A connector from the operator's config section `[venues.<name>]` (live, paper/testnet, or a running
        simulator with `environment = "sim"` and `url`). Secrets are resolved here, straight into the
        signer; config mistakes raise `ConfigError` naming the key. A venue that must keep a counter across
        restarts (Kraken's nonce) also takes `counters: Counters | None = None`: the session's journal,
        which `registry.build_connector` hands only to a `build` that names it.
    def loopback(url: str, *, symbol: str, clock: Clock, **options: Any) -> Connector
        A connector to this venue's simulator listening at `url` (`trader sim <name>` or `simulator()`),
        with the simulator's demo credentials.
    def simulator(*, seed: int, clock: Clock, **options: Any) -> Simulator
        This venue's local simulator, not yet started (`await server.start(port=0)`; `server.url`).

Every connector also answers `venue_time()`: the venue's own clock, for `trader testnet`'s clock check and
for venue sessions (equity market hours follow the broker's clock).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from trader.venues.base import Capabilities, Tier, VenueTime

__all__ = [
    "STRICTEST",
    "ApproveHook",
    "ClientIdRule",
    "Counters",
    "Simulator",
    "VenuePackage",
    "VenueProfile",
    "VenueTime",
]


@dataclass(frozen=True)
class ClientIdRule:
    """What a venue accepts as a client order id (`pattern` is matched in full): the engine's ids
    (`trader.engine.ledger`) are checked against it before anything is sent."""

    field: str  # the wire field our id travels in
    pattern: re.Pattern[str] | None  # None: the venue has no client id (the connector maps ours)
    source: str  # where the rule comes from


# every venue's rule at once: what an id must obey on a venue that states none
STRICTEST = ClientIdRule("", re.compile(r"[A-Za-z0-9]{1,18}"), "every venue's rule at once")


@dataclass(frozen=True)
class VenueProfile:
    """The registry's view of one venue."""

    name: str  # the venue id: folder, registry key, fixtures, simulator and test ids
    tier: Tier
    summary: str  # one line for `trader venues`: what is built and how to try it
    environments: tuple[str, ...]  # values of `environment` in [venues.<name>]: "live", "paper", "sim"
    capabilities: dict[str, Capabilities] = field(default_factory=dict)  # per market ("spot", ...)
    default_symbol: str = ""  # what `trader paper` / `trader testnet` trade when none is given
    strategies: tuple[str, ...] = ()  # `--strategy` values its paper session runs
    built: bool = True  # False: request signing only, no connector yet (the registry says so)
    client_id: ClientIdRule = STRICTEST  # the venue's rule for client order ids
    notes: str = ""  # operator-facing caveats (e.g. no venue dead-man switch: the engine's watchdog)
    no_testnet: str = (
        ""  # a venue with a test environment that does not trade: why `trader testnet` does not use it
    )
    approve: ApproveHook | None = None  # on-chain approvals trading needs (`trader approve`); None: none

    @property
    def markets(self) -> tuple[str, ...]:
        return tuple(self.capabilities) or ("spot",)


class ApproveHook(Protocol):
    """`trader approve --exchange=NAME`: show the approvals (allowances) the venue's wallet needs before it
    trades, and with `confirm` send the missing ones; `wrap` also converts that amount of the deposit
    asset into the venue's collateral. Lines go to `out`; True when nothing is missing afterwards."""

    async def __call__(
        self, cfg: Any, *, clock: Any, confirm: bool, out: Callable[[str], None], wrap: str | None = None
    ) -> bool: ...


class Counters(Protocol):
    """Durable named counters that never go down (the engine's journal): what a venue keeps across
    restarts, such as the last nonce a key signed."""

    def get_counter(self, counter: str) -> int: ...

    def set_counter_at_least(self, counter: str, value: int) -> None: ...


class Simulator(Protocol):
    """A local venue simulator on loopback (see `trader.sim`)."""

    @property
    def url(self) -> str: ...

    @property
    def default_symbol(self) -> str: ...

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int: ...

    async def stop(self) -> None: ...


class VenuePackage(Protocol):
    """The module `trader.venues.<name>` (checked by the registry's tests)."""

    PROFILE: VenueProfile

    def build(self, cfg: Any, *, symbol: str, clock: Any) -> Any: ...

    def loopback(self, url: str, *, symbol: str, clock: Any, **options: Any) -> Any: ...

    def simulator(self, *, seed: int, clock: Any, **options: Any) -> Simulator: ...
