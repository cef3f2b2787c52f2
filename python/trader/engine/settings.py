"""The engine's configuration: limits and timings (`EngineConfig`), the default global risk limits, and
the gate's price collar narrowed to a venue's own price band."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from trader.config import KillThresholds, RiskLimits, VenueConfig
from trader.engine.health import HealthRules
from trader.venues.base import InstrumentInfo

DEFAULT_RISK = RiskLimits(
    max_gross_notional=Decimal(200_000),
    max_net_notional=Decimal(100_000),
    max_open_orders=20,
    max_orders_per_sec=50,
    daily_loss_limit=Decimal(500),
    daily_loss_halt=Decimal(500),
)


def collar_bps(configured: int, info: InstrumentInfo) -> int:
    """The gate's price collar: the configured one, narrowed to the venue's own price band
    (PERCENT_PRICE multipliers) so an order the venue would reject never leaves the gate."""
    bps = configured
    if info.percent_up:
        bps = min(bps, int((Decimal(info.percent_up) - 1) * 10_000))
    if info.percent_down:
        bps = min(bps, int((1 - Decimal(info.percent_down)) * 10_000))
    return max(bps, 1)


@dataclass(frozen=True)
class EngineConfig:
    """Limits and timings. Per-instrument limits are in the instrument's own units (e.g. BTC, USDT)."""

    symbol: str = "BTCUSDT"  # the primary instrument (summary, live view)
    also: tuple[str, ...] = ()  # more instruments of the same venue the strategy trades (pairs, YES/NO)
    risk: RiskLimits = DEFAULT_RISK
    venue_max_gross_notional: str = "150000"
    venue_max_open_orders: int = 10
    strategy_max_orders_per_sec: int = 20
    max_order_qty: str = "1"
    max_order_notional: str = "60000"
    max_position: str = "2"
    max_open_orders: int = 6
    collar_bps: int = 50
    timer_ms: int = 250
    unknown_timeout_s: float = 10.0
    not_found_checks: int = 3  # an UNKNOWN order the venue denies at least this many times...
    never_received_after_s: float = 30.0  # ...over this long from the first unknown was never placed
    shutdown_timeout_s: float = 10.0
    restart_cancel_attempts: int = 5  # cancels of orders left from before a restart, with backoff...
    restart_cancel_within_s: float = 10.0  # ...within this long
    # feed watchdog: no book update for max(stale_min_s, stale_rate_factor x the median gap between
    # updates), at most stale_max_s (or a fixed stale_after_s) -> quotes on that instrument are pulled
    stale_after_s: float | None = None
    stale_min_s: float = 2.0
    stale_max_s: float = 5.0
    stale_rate_factor: float = 20.0
    # a ban (HTTP 418): the venue is HALTED until Retry-After (rounded up) plus this margin
    ban_margin_s: float = 1.0
    ban_default_s: float = 120.0  # a ban without Retry-After (Binance's shortest)
    # per venue, besides its gross notional and open orders: its order rate and daily loss (None: only
    # the aggregate's apply)
    venue_orders_per_second: int | None = None
    venue_max_net_notional: str | None = None
    venue_daily_loss_limit: str | None = None
    venue_daily_loss_halt: str | None = None
    # orders sent before control returns to the event loop (`trader.engine.eager`); None: in real time
    # (a `LiveClock`), not in simulated time (tests and `--fast` keep their task order)
    eager_send: bool | None = None


def venue_config(base: EngineConfig, vcfg: VenueConfig) -> EngineConfig:
    """One venue's settings: what its rig sized (`base`), narrowed by `[venues.X.risk]` where given
    (per-instrument limits: the tighter of the two; the venue's own limits: the configured ones)."""
    r = vcfg.risk
    if vcfg.orders_per_second is not None:
        base = replace(base, venue_orders_per_second=vcfg.orders_per_second)
    if r is None:
        return base

    def given(value: Decimal | None, sized: str) -> str:
        """The tighter of what the rig sized for its strategy and what the operator configured."""
        return sized if value is None else str(min(value, Decimal(sized)))

    return replace(
        base,
        venue_max_gross_notional=str(r.max_gross_notional),
        venue_max_open_orders=r.max_open_orders,
        max_position=given(r.max_position, base.max_position),
        max_order_qty=given(r.max_order_qty, base.max_order_qty),
        max_order_notional=given(r.max_order_notional, base.max_order_notional),
        collar_bps=base.collar_bps if r.collar_bps is None else r.collar_bps,
        venue_daily_loss_limit=str(r.daily_loss_limit),
        venue_max_net_notional=None if r.max_net_notional is None else str(r.max_net_notional),
        venue_daily_loss_halt=str(r.daily_loss_halt),
    )


def health_rules(kill: KillThresholds) -> HealthRules:
    """`[venues.X.kill]` as the engine's per-venue health rules."""
    return HealthRules(
        max_loss=kill.max_loss,
        max_reject_rate=kill.max_reject_rate,
        reject_window=kill.reject_window,
        max_unknown=kill.max_unknown,
        max_disconnected_s=kill.max_disconnected_s,
        watchdog_s=kill.watchdog_s,
    )
