"""What a configured session trades on each venue: the `[strategies.NAME]` tables whose legs are on the
venues of `--exchange`, each as the rig request of its venue (`trader.cli.rigs`); a venue no table names
trades its default strategy. Cross-venue strategies (`xarb`: cross-exchange arbitrage, `basis`: spot
against a perpetual) are planned on their own (`cross_plans`): each trades its legs' venues beside
whatever single-venue strategy those run (`trader.cli.crossvenue` builds them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from trader.cli.rigs import RigRequest, strategies
from trader.config import Config, RiskLimits, StrategyConfig, VenueConfig
from trader.engine.equity import DEFAULT_RULE, day_trading_rule
from trader.errors import ConfigError
from trader.venues import registry
from trader.venues.base import Tier

# the parameters a configured strategy may set, and what they are
PARAMS: dict[str, str] = {
    "min_spread_bps": "number: the narrowest quoted spread (crypto market makers)",
    "signal": "string: the probability feed of an event strategy (a file or an http(s) URL)",
}
SINGLE_VENUE = frozenset({"mm", "pairs", "binary-mm", "rewards", "event"})
CROSS_VENUE = frozenset({"xarb", "basis"})


@dataclass(frozen=True)
class Planned:
    venue: str
    request: RigRequest
    label: str  # the strategy's name in the engine (and its client ids' tag)
    orders_per_second: int | None = None


@dataclass(frozen=True)
class CrossPlanned:
    """A cross-venue strategy of the config: its kind, its legs as (venue, the venue's symbol), params."""

    kind: str
    label: str
    legs: tuple[tuple[str, str], ...]
    params: dict[str, object]
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
    """One strategy per venue: the configured one, else the venue's default (none for a venue that only a
    cross-venue strategy names: it trades that alone). `ConfigError` naming the `[strategies.X]` table
    that cannot run here."""
    assert config.risk is not None
    chosen = configured(config, venues, config.risk)
    crossed = {v for c in cross_plans(config, venues) for v, _ in c.legs}
    out = []
    for name in venues:
        if name in chosen:
            out.append(chosen[name])
        elif name not in crossed:  # a venue only a cross-venue strategy names trades that alone
            req = default_request(config.venues[name], config.risk)
            out.append(Planned(name, req, f"{req.strategy}@{name}"))
    return out


def configured(config: Config, venues: Sequence[str], risk: RiskLimits) -> dict[str, Planned]:
    """The single-venue `[strategies.NAME]` tables on `venues`, by venue (`trader paper --config`
    rehearses these as `trader live` trades them). `ConfigError` naming a table that cannot run there."""
    chosen: dict[str, Planned] = {}
    for sc in config.strategies.values():
        if not all(v in venues for v, _ in sc.legs) or sc.kind in CROSS_VENUE:
            continue  # trades venues this session does not, or several (planned by `cross_plans`)
        p = _planned(config, sc, risk)
        if p.venue in chosen:
            raise ConfigError(
                f"[strategies.{sc.name}] and [strategies.{chosen[p.venue].label}] both trade {p.venue}: "
                "one strategy per venue"
            )
        chosen[p.venue] = p
    return chosen


def cross_plans(config: Config, venues: Sequence[str]) -> list[CrossPlanned]:
    """The cross-venue strategies whose legs are all on `venues`. `ConfigError` naming the table whose
    legs or parameters cannot work (xarb: distinct venues; basis: a spot and a perpetual leg)."""
    from trader.cli.crossvenue import check_params

    out = []
    for sc in config.strategies.values():
        if sc.kind not in CROSS_VENUE or not all(v in venues for v, _ in sc.legs):
            continue
        where = f"[strategies.{sc.name}]"
        names = [v for v, _ in sc.legs]
        if len(set(names)) != len(names):
            raise ConfigError(f"{where} kind = {sc.kind!r}: one leg per venue, got {', '.join(names)}")
        if sc.kind == "basis" and len(names) != 2:
            raise ConfigError(f"{where} kind = 'basis': two legs, the spot first and the perpetual second")
        for venue, _ in sc.legs:
            if registry.profile(venue).tier not in (Tier.CRYPTO, Tier.SIMULATED):
                raise ConfigError(f"{where} kind = {sc.kind!r}: {venue} is not a crypto venue")
        check_params(where, sc.kind, sc.params)
        legs = tuple((v, config.venue_symbol(v, s)) for v, s in sc.legs)
        out.append(CrossPlanned(sc.kind, sc.name, legs, dict(sc.params), sc.orders_per_second))
    return out


def _planned(config: Config, sc: StrategyConfig, risk: RiskLimits) -> Planned:
    where = f"[strategies.{sc.name}]"
    venues = {v for v, _ in sc.legs}
    if sc.kind not in SINGLE_VENUE or len(venues) > 1:
        raise ConfigError(
            f"{where} kind = {sc.kind!r} with legs on {', '.join(sorted(venues))}: a single-venue strategy "
            "trades one venue"
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
