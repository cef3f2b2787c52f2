"""What a configured session trades on each venue: the `[strategies.NAME]` tables whose legs are on the
venues of `--exchange`, each as the rig request of its venue (`trader.cli.rigs`); a venue no table names
trades its default strategy. Strategies with legs on several venues (cross-exchange arbitrage, spot/perp
basis) are refused until they are built, in one line naming the table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from trader.cli.rigs import RigRequest, strategies
from trader.config import Config, RiskLimits, StrategyConfig, VenueConfig
from trader.engine.equity import DEFAULT_RULE, day_trading_rule
from trader.errors import ConfigError
from trader.venues import registry

# the parameters a configured strategy may set, and what they are
PARAMS: dict[str, str] = {
    "min_spread_bps": "number: the narrowest quoted spread (crypto market makers)",
    "signal": "string: the probability feed of an event strategy (a file or an http(s) URL)",
}
SINGLE_VENUE = frozenset({"mm", "pairs", "binary-mm", "rewards", "event"})


@dataclass(frozen=True)
class Planned:
    venue: str
    request: RigRequest
    label: str  # the strategy's name in the engine (and its client ids' tag)
    orders_per_second: int | None = None


def default_request(vcfg: VenueConfig, risk: RiskLimits) -> RigRequest:
    """The venue's first strategy, sized from its own filters."""
    o = vcfg.options
    return RigRequest(
        strategy=strategies(registry.profile(vcfg.name))[0],
        symbol=registry.venue_symbol(vcfg),
        risk=risk,
        min_spread_bps=10.0,
        sized=True,
        allow_short=bool(o.get("allow_short", False)),
        extended_hours=bool(o.get("extended_hours", False)),
        day_trading=day_trading_rule(o.get("day_trading_rule", DEFAULT_RULE.value)),
    )


def plan(config: Config, venues: Sequence[str]) -> list[Planned]:
    """One strategy per venue: the configured one, else the venue's default. `ConfigError` naming the
    `[strategies.X]` table that cannot run here."""
    assert config.risk is not None
    chosen: dict[str, Planned] = {}
    for sc in config.strategies.values():
        if not all(v in venues for v, _ in sc.legs):
            continue  # trades venues this session does not
        p = _planned(config, sc, config.risk)
        if p.venue in chosen:
            raise ConfigError(
                f"[strategies.{sc.name}] and [strategies.{chosen[p.venue].label}] both trade {p.venue}: "
                "one strategy per venue"
            )
        chosen[p.venue] = p
    out = []
    for name in venues:
        if name in chosen:
            out.append(chosen[name])
        else:
            req = default_request(config.venues[name], config.risk)
            out.append(Planned(name, req, f"{req.strategy}@{name}"))
    return out


def _planned(config: Config, sc: StrategyConfig, risk: RiskLimits) -> Planned:
    where = f"[strategies.{sc.name}]"
    venues = {v for v, _ in sc.legs}
    if sc.kind not in SINGLE_VENUE or len(venues) > 1:
        raise ConfigError(
            f"{where} kind = {sc.kind!r} with legs on {', '.join(sorted(venues))}: cross-venue "
            "strategies (xarb, basis) are not built yet; run each leg's venue on its own"
        )
    unknown = sorted(set(sc.params) - set(PARAMS))
    if unknown:
        known = "; ".join(f"{k} ({v})" for k, v in PARAMS.items())
        raise ConfigError(f"{where} params: unknown {', '.join(unknown)} (known: {known})")
    venue = sc.legs[0][0]
    symbols = [config.venue_symbol(venue, s) for _, s in sc.legs]
    base = default_request(config.venues[venue], risk)
    spread = sc.params.get("min_spread_bps", Decimal(str(base.min_spread_bps)))
    signal = sc.params.get("signal")
    if isinstance(spread, bool) or not isinstance(spread, int | Decimal) or spread <= 0:
        raise ConfigError(f"{where} params: min_spread_bps must be a number > 0, got {spread!r}")
    if signal is not None and not isinstance(signal, str):
        raise ConfigError(f"{where} params: signal must be a string, got {signal!r}")
    req = RigRequest(
        strategy=sc.kind,
        symbol=symbols[0],
        risk=risk,
        also=tuple(symbols[1:]),
        signal=signal,
        min_spread_bps=float(spread),
        sized=True,
        allow_short=base.allow_short,
        extended_hours=base.extended_hours,
        day_trading=base.day_trading,
    )
    if sc.kind not in strategies(registry.profile(venue)):
        raise ConfigError(
            f"{where} kind = {sc.kind!r} is not available on {venue} "
            f"(available: {', '.join(strategies(registry.profile(venue)))})"
        )
    return Planned(venue, req, sc.name, sc.orders_per_second)
