"""Cross-venue strategies in a session: cross-exchange arbitrage (`xarb`) and spot/perpetual basis
(`basis`), with the market maker (`mm`) beside them, under one gate.

`trader paper --sim --strategy=xarb --exchange=binance,coinbase` (two or more crypto exchanges: one
arbitrage over their spot books), `trader paper --sim --strategy=basis --exchange=binance` (each exchange
with a perpetual: its spot book against it; binance: spot + USD-M futures, okx: spot + swap, bybit:
spot + linear), and any mix, `--strategy=mm,xarb,basis` (the market maker on every spot book too: what
`make demo` runs). Each exchange's simulator runs once; its spot and perpetual markets are two venues of
the engine (`binance` and `binance-futures`, `okx` and `okx-swap`, `bybit` and `bybit-linear`).

The simulators of one session follow one fair price (`trader.sim.fair`): each its own latency and noise,
the perpetuals their premium, so spreads between venues and the basis open and close. Funding settles
every `FUNDING_REHEARSAL_S` seconds in a rehearsal (the venues' 8 hours compressed, at the venues' rate per
settlement), so a run of minutes shows it in the PnL.

Instruments are named canonically: every spot book is `BTC-USDT` (Coinbase's and Kraken's BTC/USD too:
the rehearsal takes USD and USDT at par), every perpetual `BTC-USDT-PERP`. Each leg is charged, and each
edge computed with, its venue's default-tier fees (`FEES`).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from trader.cli.plan import CrossPlanned, Planned
from trader.cli.run import scaled
from trader.clock import Clock, LiveClock
from trader.config import Config, RiskLimits
from trader.engine.engine import DEFAULT_RISK, Engine, EngineConfig, StrategySetup, Summary, VenueSetup
from trader.engine.journal import Journal
from trader.engine.paper import sized_market_maker
from trader.engine.services import Service
from trader.errors import ConfigError, TraderError
from trader.monitoring.session import Monitor
from trader.strategies.base import Strategy
from trader.strategies.basis import Basis, BasisParams
from trader.strategies.legs import Leg
from trader.strategies.market_maker import MarketMaker
from trader.strategies.xarb import XArb, XArbParams
from trader.venues import registry
from trader.venues.base import Connector, InstrumentInfo, Tier
from trader.venues.profile import Simulator

log = logging.getLogger("trader.cli.crossvenue")

CROSS = frozenset({"xarb", "basis"})
KINDS = frozenset({"mm", *CROSS})
SPOT, PERP = "BTC-USDT", "BTC-USDT-PERP"
FUNDING_REHEARSAL_S = 60.0
FUNDING_BPS = Fraction(1)  # the simulators' rate per settlement (0.01 %), longs pay

# default (lowest-volume) tier, maker / taker bps, as each venue publishes it; a leg is charged these by
# its simulator and the strategies compute every edge with them
FEES: dict[str, tuple[Fraction, Fraction]] = {
    "binance": (Fraction(10), Fraction(10)),  # spot VIP 0: 0.10 % / 0.10 %
    "binance-margin": (Fraction(10), Fraction(10)),
    "binance-futures": (Fraction(2), Fraction(5)),  # USD-M: 0.02 % / 0.05 %
    "sim": (Fraction(10), Fraction(10)),  # speaks Binance spot's protocol, charges its schedule
    "coinbase": (Fraction(60), Fraction(120)),  # Advanced Trade, < $1K a month: 0.60 % / 1.20 %
    "kraken": (Fraction(25), Fraction(40)),  # Pro spot: 0.25 % / 0.40 %
    "okx": (Fraction(8), Fraction(10)),  # spot Lv1: 0.08 % / 0.10 %
    "okx-swap": (Fraction(2), Fraction(5)),  # SWAP: 0.02 % / 0.05 %
    "bybit": (Fraction(10), Fraction(10)),  # spot non-VIP: 0.10 % / 0.10 %
    "bybit-linear": (Fraction(2), Fraction(11, 2)),  # USDT perpetuals: 0.02 % / 0.055 %
}


@dataclass(frozen=True)
class Perp:
    """An exchange's perpetual as a venue of its own (a registry alias: its market and default instrument
    are the registry's), and the simulator option that sets its funding interval (and that option's unit
    per second)."""

    venue: str
    funding_option: str
    per_second: float = 1.0
    funding_polled: bool = False  # its connector does not stream funding: asked for it (`funding_poll`)


PERPS: dict[str, Perp] = {
    "binance": Perp("binance-futures", "funding_interval_s"),
    "okx": Perp("okx-swap", "funding_interval_ms", 1000.0),
    "bybit": Perp("bybit-linear", "funding_interval_s", funding_polled=True),
}

# [strategies.X.params] of the cross-venue kinds, and what they are
XARB_PARAMS: dict[str, str] = {
    "qty": "number: base asset per arbitrage and per quote (default 0.002)",
    "max_inventory": "number: base asset each venue may hold either way (default 5 x qty)",
    "min_edge_bps": "number: edge after both venues' fees to trade (default 2)",
    "mode": "string: taker, maker or both (default both)",
    "maker_venue": "string: the venue maker-taker quotes on (default: the highest taker fee)",
    "leg_timeout_s": "number: an open delta is hedged within this, more aggressively after (default 2)",
    "hedge_slippage_bps": "number: how far through the touch a hedge may go (default 10)",
}
BASIS_PARAMS: dict[str, str] = {
    "qty": "number: base asset per leg (default 0.01)",
    "entry_bps": "number: basis + expected funding - round-trip fees to enter (default 2)",
    "exit_bps": "number: the basis to exit at, once converged past it (default -10)",
    "stop_bps": "number: how far against the entry the basis may run (default 40)",
    "funding_bps": "number: expected funding per settlement, bps (default 1)",
    "hold_s": "number: expected holding, for the funding it earns (default 20 funding intervals)",
    "max_hold_s": "number: exit after this long (default 0: no limit)",
    "delta_tolerance": "number: base asset of delta allowed (default one lot)",
    "leg_timeout_s": "number: an incomplete entry is unwound after this (default 3)",
    "slippage_bps": "number: how far through the touch a completion or exit may go (default 10)",
    "reverse": "bool: also short spot (selling what the spot account holds) / long the perp (default true)",
}


def _number(where: str, params: Mapping[str, object], key: str, default: Fraction) -> Fraction:
    value = params.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ConfigError(f"{where} params: {key} must be a number, got {value!r}")
    return Fraction(value)


def check_params(where: str, kind: str, params: Mapping[str, object]) -> None:
    """`ConfigError` naming an unknown parameter of a cross-venue kind."""
    known = XARB_PARAMS if kind == "xarb" else BASIS_PARAMS
    unknown = sorted(set(params) - set(known))
    if unknown:
        listed = "; ".join(f"{k} ({v})" for k, v in known.items())
        raise ConfigError(f"{where} params: unknown {', '.join(unknown)} (known: {listed})")


def leg(venue: str, canonical: str, info: InstrumentInfo, *, perp: bool = False) -> Leg:
    """A leg from the venue's stated rules and its default-tier fees."""
    if venue not in FEES:
        raise ConfigError(f"{venue}: no fee schedule known for a cross-venue strategy")
    maker, taker = FEES[venue]
    spec = info.spec()
    return Leg(
        venue,
        canonical,
        Fraction(Decimal(info.price_unit or info.tick_size)),
        Fraction(Decimal(info.qty_unit or info.lot_size)),
        maker,
        taker,
        tick=spec.tick,
        lot=spec.lot,
        min_qty=max(spec.min_qty, 1),
        min_notional=Fraction(Decimal(info.min_notional or "0")),
        reduce_only=perp,
    )


def xarb(legs: Sequence[Leg], params: Mapping[str, object], where: str = "xarb") -> XArb:
    check_params(where, "xarb", params)
    qty = _number(where, params, "qty", Fraction(1, 500))
    mode = str(params.get("mode", "both"))
    try:
        return XArb(
            XArbParams(
                tuple(legs),
                qty=qty,
                max_inventory=_number(where, params, "max_inventory", 5 * qty),
                min_edge_bps=_number(where, params, "min_edge_bps", Fraction(2)),
                mode=mode,  # type: ignore[arg-type]  # checked by XArbParams
                maker_venue=str(params.get("maker_venue", "")),
                leg_timeout_s=float(_number(where, params, "leg_timeout_s", Fraction(2))),
                hedge_slippage_bps=_number(where, params, "hedge_slippage_bps", Fraction(10)),
            )
        )
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def basis(
    spot: Leg, perp: Leg, params: Mapping[str, object], funding_interval_s: float, where: str = "basis"
) -> Basis:
    check_params(where, "basis", params)

    def n(key: str, default: Fraction | int) -> Fraction:
        return _number(where, params, key, Fraction(default))

    try:
        return Basis(
            BasisParams(
                spot,
                perp,
                qty=n("qty", Fraction(1, 100)),
                entry_bps=n("entry_bps", 2),
                exit_bps=n("exit_bps", -10),
                stop_bps=n("stop_bps", 40),
                funding_bps=n("funding_bps", FUNDING_BPS),
                funding_interval_s=funding_interval_s,
                hold_s=float(n("hold_s", Fraction(20 * funding_interval_s))),
                max_hold_s=float(n("max_hold_s", 0)),
                delta_tolerance=n("delta_tolerance", 0),
                leg_timeout_s=float(n("leg_timeout_s", 3)),
                slippage_bps=n("slippage_bps", 10),
                reverse=bool(params.get("reverse", True)),
            )
        )
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def widened(cfg: EngineConfig, qty: Fraction, price: Decimal, inventory: Fraction) -> EngineConfig:
    """`cfg` with per-instrument limits wide enough for orders of `qty` and a position of `inventory`
    (what another strategy on the venue sized stays if it is wider)."""
    q = Decimal(qty.numerator) / Decimal(qty.denominator)
    inv = Decimal(inventory.numerator) / Decimal(inventory.denominator)
    return dataclasses.replace(
        cfg,
        max_order_qty=str(max(Decimal(cfg.max_order_qty), 2 * q)),
        max_order_notional=str(max(Decimal(cfg.max_order_notional), (2 * q * price).quantize(Decimal(1)))),
        max_position=str(max(Decimal(cfg.max_position), inv + 2 * q)),
    )


def kinds_of(strategy: str | None) -> list[str]:
    """`--strategy` as a list (comma-separated); `ConfigError` for a kind this path does not run."""
    kinds = [k.strip() for k in (strategy or "").split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or len(set(kinds)) != len(kinds):
        raise ConfigError(f"--strategy={strategy}: with xarb or basis, name each of mm, xarb, basis once")
    return kinds


def check_exchanges(exchanges: Sequence[str], kinds: Sequence[str]) -> None:
    """Before anything starts: crypto exchanges only, two of them for xarb, a perpetual for basis."""
    for name in exchanges:
        prof = registry.profile(name)
        if prof.tier not in (Tier.CRYPTO, Tier.SIMULATED) or name in registry.ALIASES:
            raise ConfigError(
                f"--strategy={','.join(kinds)} trades crypto exchanges by name (binance, coinbase, kraken, "
                f"okx, bybit, sim); {name} is not one"
            )
    if "xarb" in kinds and len(exchanges) < 2:
        raise ConfigError("--strategy=xarb needs two or more exchanges (e.g. --exchange=binance,coinbase)")
    if "basis" in kinds and not any(e in PERPS for e in exchanges):
        raise ConfigError(f"--strategy=basis needs an exchange with a perpetual ({', '.join(PERPS)})")


@dataclass(frozen=True)
class Configured:
    """A config's strategies in a cross-venue paper session (`trader paper --config --sim`): its
    cross-venue tables, and its single-venue ones by venue (market makers on the spot exchanges)."""

    crosses: tuple[CrossPlanned, ...]
    singles: Mapping[str, Planned]


def configured_session(exchanges: Sequence[str], configured: Configured) -> tuple[list[str], list[str]]:
    """The spot exchanges and the kinds of a paper session that rehearses a config's cross-venue tables
    on one fair price; `ConfigError` for what such a rehearsal cannot hold (a perpetual without its
    exchange, a basis across two exchanges, a single-venue strategy other than a market maker)."""
    perps = {p.venue: spot for spot, p in PERPS.items()}
    spots = [e for e in exchanges if e not in perps]
    for e in exchanges:
        if e in perps and perps[e] not in spots:
            raise ConfigError(f"{e} is rehearsed on its exchange's simulator: add {perps[e]} to --exchange")
    for c in configured.crosses:
        if c.kind == "basis" and (c.legs[0][0] not in PERPS or PERPS[c.legs[0][0]].venue != c.legs[1][0]):
            raise ConfigError(
                f"[strategies.{c.label}]: a rehearsal pairs a spot leg with its own exchange's perpetual "
                f"({', '.join(f'{s} with {p.venue}' for s, p in PERPS.items())})"
            )
    for venue, single in configured.singles.items():
        if single.request.strategy != "mm" or venue not in spots:
            raise ConfigError(
                f"[strategies.{single.label}] ({single.request.strategy} on {venue}) does not run beside the "
                "cross-venue strategies' rehearsal (market makers on its spot exchanges only): leave "
                f"{venue} out of --exchange"
            )
    kinds = sorted({c.kind for c in configured.crosses}) + (["mm"] if configured.singles else [])
    check_exchanges(spots, kinds)
    return spots, kinds


@dataclass
class _Book:
    """One venue of the session: its connector, the leg, its engine settings."""

    venue: str
    symbol: str
    connector: Connector
    info: InstrumentInfo
    mid: Decimal
    config: EngineConfig
    leg: Leg


class CrossSession:
    """The simulators, connectors, strategies and engine of one cross-venue paper session."""

    def __init__(
        self,
        args: argparse.Namespace,
        exchanges: Sequence[str],
        kinds: Sequence[str],
        configured: Configured | None = None,
    ) -> None:
        self.args, self.exchanges, self.kinds = args, list(exchanges), list(kinds)
        self.configured = configured  # the config's strategies, else each kind's defaults
        self.servers: list[Simulator] = []
        self.books: dict[str, _Book] = {}
        self.strategies: list[StrategySetup] = []

    async def open(self, clock: Clock, risk: RiskLimits) -> None:
        from trader.sim import fair

        fair.install(fair.FairWorld(self.args.seed, clock))
        try:
            for name in self.exchanges:
                await self._exchange(name, clock, risk)
        finally:
            fair.uninstall()  # the markets built keep their anchors; later simulators do not follow
        self._strategies(risk)

    async def _exchange(self, name: str, clock: Clock, risk: RiskLimits) -> None:
        pkg = registry.package(name)
        if self.configured is None:
            wants_perp = "basis" in self.kinds
        else:  # a perpetual only under a configured basis
            wants_perp = any(c.kind == "basis" and c.legs[0][0] == name for c in self.configured.crosses)
        perp = PERPS.get(name) if wants_perp else None
        options: dict[str, Any] = {}
        if perp is not None:
            options[perp.funding_option] = type_of(perp, FUNDING_REHEARSAL_S)
        server = pkg.simulator(seed=self.args.seed, clock=clock, **options)
        await server.start(port=0)
        self.servers.append(server)
        symbol = server.default_symbol or registry.profile(name).default_symbol
        await self._book(name, SPOT, pkg.loopback(server.url, symbol=symbol, clock=clock), symbol, risk)
        if perp is not None:
            perp_symbol = registry.profile(perp.venue).default_symbol
            conn = registry.package(perp.venue).loopback(server.url, symbol=perp_symbol, clock=clock)
            await self._book(perp.venue, PERP, conn, perp_symbol, risk)

    async def _book(self, venue: str, canonical: str, conn: Connector, symbol: str, risk: RiskLimits) -> None:
        info, mid = await _reference(venue, conn)
        cfg = EngineConfig(symbol=symbol, risk=risk)
        self.books[venue] = _Book(
            venue, symbol, conn, info, mid, cfg, leg(venue, canonical, info, perp=canonical == PERP)
        )

    def _add(
        self,
        strategy: Strategy,
        venues: Sequence[str],
        label: str,
        qty: Fraction,
        inv: Fraction,
        orders_per_second: int | None = None,
    ) -> None:
        for v in venues:
            b = self.books[v]
            b.config = widened(b.config, qty, b.mid, inv)
        legs = tuple((v, self.books[v].leg.instrument) for v in venues)
        self.strategies.append(StrategySetup(strategy, legs, label, orders_per_second))

    def _mm(self, venue: str, risk: RiskLimits, min_spread_bps: float, label: str, ops: int | None) -> None:
        b = self.books[venue]
        # wider than the cross-venue strategies' IOCs reach (touch + 10 bps): our quotes do not stand in
        # their way (the gate refuses an order that would trade with our own)
        mm, cfg = sized_market_maker(b.info, b.mid, min_spread_bps=min_spread_bps, risk=risk)
        b.config = dataclasses.replace(cfg, symbol=b.symbol)
        # on one fair price with jumps: a short horizon and a quickly forgotten jump, or the model's
        # inventory skew (lots x gamma x sigma^2 x tau) quotes far from the market after each jump
        # requoting on every tick of a fast fair price would spend the venues' request quotas
        requote = max(1, int(b.mid * Decimal("0.0002") / Decimal(b.info.tick_size)))  # 2 bps
        params = dataclasses.replace(
            mm.params, instrument=SPOT, tau_s=1.0, sigma_halflife_s=5.0, requote_ticks=requote
        )
        self.strategies.append(StrategySetup(BandedMarketMaker(params), ((venue, SPOT),), label, ops))

    def _strategies(self, risk: RiskLimits) -> None:
        if self.configured is not None:
            self._configured_strategies(risk, self.configured)
            return
        spots = [e for e in self.exchanges if e in self.books]
        if "mm" in self.kinds:
            for v in spots:
                self._mm(v, risk, 30.0, f"mm@{v}", None)
        if "xarb" in self.kinds:
            x = xarb([self.books[v].leg for v in spots], {})
            self._add(x, spots, "xarb", x.params.qty, x.params.max_inventory)
        if "basis" in self.kinds:
            for e in spots:
                if e in PERPS:
                    bs = basis(self.books[e].leg, self.books[PERPS[e].venue].leg, {}, FUNDING_REHEARSAL_S)
                    self._add(bs, (e, PERPS[e].venue), f"basis@{e}", bs.params.qty, 2 * bs.params.qty)

    def _configured_strategies(self, risk: RiskLimits, configured: Configured) -> None:
        """The config's strategies on the session's books, under their names and rates (the legs on the
        simulators' instruments)."""
        for venue, single in configured.singles.items():
            self._mm(venue, risk, single.request.min_spread_bps, single.label, single.orders_per_second)
        for c in configured.crosses:
            where, venues = f"[strategies.{c.label}]", [v for v, _ in c.legs]
            legs = [self.books[v].leg for v in venues]
            if c.kind == "xarb":
                x = xarb(legs, c.params, where)
                self._add(x, venues, c.label, x.params.qty, x.params.max_inventory, c.orders_per_second)
            else:
                bs = basis(legs[0], legs[1], c.params, FUNDING_REHEARSAL_S, where)
                self._add(bs, venues, c.label, bs.params.qty, 2 * bs.params.qty, c.orders_per_second)

    def engine(self, journal: Journal, clock: Clock, risk: RiskLimits) -> Engine:
        venues = [
            VenueSetup(b.connector, b.config, canonical={b.symbol: b.leg.instrument}, name=b.venue)
            for b in self.books.values()
        ]
        return Engine(venues, self.strategies, journal=journal, clock=clock, config=EngineConfig(risk=risk))

    async def close(self) -> None:
        for b in self.books.values():
            await b.connector.close()
        for server in self.servers:
            await server.stop()

    def notes(self) -> list[str]:
        """What each cross-venue strategy did, beyond the engine's summary."""
        out = []
        for setup in self.strategies:
            s, label = setup.strategy, setup.label
            if isinstance(s, XArb):
                mean = sum(s.edges_bps, Fraction(0)) / len(s.edges_bps) if s.edges_bps else Fraction(0)
                out.append(
                    f"{label}: {s.arbs} arbitrages (mean expected edge {float(mean):.1f} bps after fees), "
                    f"{s.quote_fills} quote fills, {s.hedges} hedges, longest open delta "
                    f"{s.unhedged_max_ns / 1e9:.2f} s, delta now {float(s.desk.delta()):g}"
                )
            elif isinstance(s, Basis):
                out.append(
                    f"{label}: {s.entries} entries, {s.exits} exits ({s.stops} stops, {s.unwinds} unwinds), "
                    f"phase {s.phase.value}, largest delta {float(s.max_delta):g}, "
                    f"outside tolerance {s.delta_breach_ns / 1e9:.2f} s"
                )
        return out


@dataclass
class BandedMarketMaker(MarketMaker):
    """The market maker with its quotes kept within `band_bps` of the mid. Its variance estimate (squared
    mid changes over time) jumps with the fair price, and the model's spread and inventory skew with it:
    unbounded, a quote would rest far from any price (harmless to the gate, which guards against
    crossing, not against resting away)."""

    band_bps: float = 100.0

    def quotes(self, mid: float) -> tuple[int | None, int | None]:
        bid, ask = super().quotes(mid)
        tick, band = self.params.tick, mid * self.band_bps / 10_000
        if bid is not None:
            bid = max(bid, math.ceil((mid - band) / tick) * tick)
        if ask is not None:
            ask = min(ask, math.floor((mid + band) / tick) * tick)
        return bid, ask


def funding_poll(venue: str, poll_s: float = 5.0) -> Service:
    """Ask `venue` for the funding settled on our position every `poll_s` and hand it to the engine: a
    venue that does not stream its funding (Bybit's private events come by REST, without it) is heard this
    way; the engine counts a payment it already has once."""

    async def run(engine: Engine) -> None:
        v = engine.venues[venue]
        since = engine.clock.now_ns()
        while True:
            await engine.clock.sleep(poll_s)
            try:
                payments = await v.connector.funding_since(since)
            except TraderError as e:
                log.warning("%s: funding not read: %s", venue, e)
                continue
            for p in payments:
                engine.handle(p, v)

    run.__name__ = f"funding@{venue}"
    return run


async def live_cross(
    config: Config, plans: Sequence[CrossPlanned], conns: Mapping[str, Connector], setups: list[VenueSetup]
) -> tuple[list[VenueSetup], list[StrategySetup], list[Service]]:
    """`trader live`: the configured cross-venue strategies on the session's connectors. Each leg is named
    as its venue's setup names the instrument; a venue only they trade gets a setup of its own (its
    `[venues.X.risk]` and kill thresholds applied); per-instrument limits widen to the legs' orders."""
    from trader.engine.settings import health_rules, venue_config

    assert config.risk is not None
    by_name = {s.venue: s for s in setups}
    strategies: list[StrategySetup] = []
    services: list[Service] = []
    mids: dict[str, Decimal] = {}
    for p in plans:
        legs: list[Leg] = []
        for i, (venue, symbol) in enumerate(p.legs):
            info, mids[venue] = await _reference(venue, conns[venue])
            s = by_name.get(venue)
            if s is None:
                vcfg = config.venues[venue]
                base = venue_config(EngineConfig(symbol=symbol, risk=config.risk), vcfg)
                s = VenueSetup(conns[venue], base, health=health_rules(vcfg.kill), name=venue)
            if symbol != s.config.symbol and symbol not in s.config.also:
                s = dataclasses.replace(
                    s, config=dataclasses.replace(s.config, also=(*s.config.also, symbol))
                )
            perp = p.kind == "basis" and i == 1
            legs.append(leg(venue, s.canonical.get(symbol, symbol), info, perp=perp))
            by_name[venue] = s
            if perp and registry.ALIASES.get(venue, (venue, {}))[0] == "bybit":
                services.append(funding_poll(venue))
        where = f"[strategies.{p.label}]"
        strategy: XArb | Basis
        if p.kind == "xarb":
            strategy = xarb(legs, p.params, where)
            qty, inventory = strategy.params.qty, strategy.params.max_inventory
        else:
            strategy = basis(legs[0], legs[1], p.params, 8 * 3600.0, where)
            qty, inventory = strategy.params.qty, 2 * strategy.params.qty
        for venue, _ in p.legs:
            s = by_name[venue]
            by_name[venue] = dataclasses.replace(s, config=widened(s.config, qty, mids[venue], inventory))
        names = tuple((lg.venue, lg.instrument) for lg in legs)
        strategies.append(StrategySetup(strategy, names, p.label, p.orders_per_second))
    return list(by_name.values()), strategies, services


async def _reference(venue: str, conn: Connector) -> tuple[InstrumentInfo, Decimal]:
    reference = getattr(conn, "reference", None)
    if reference is None:
        raise ConfigError(f"{venue} cannot price its instrument before trading it")
    info, mid = await reference()
    return info, Decimal(mid)


def type_of(perp: Perp, seconds: float) -> float | int:
    """The funding interval in the simulator option's unit (OKX counts milliseconds, as an int)."""
    value = seconds * perp.per_second
    return int(value) if perp.per_second != 1.0 else value


async def paper_cross(
    args: argparse.Namespace,
    exchanges: Sequence[str],
    kinds: Sequence[str],
    risk: RiskLimits | None,
    monitor: Monitor | None = None,
    configured: Configured | None = None,
) -> tuple[Summary, list[str]]:
    """The exchanges' simulators on one fair price, their spot (and perpetual) venues, the strategies of
    `kinds` (or the config's, `configured`), one engine; in real time over loopback. Returns the summary
    and a line per strategy."""
    import sys

    from trader.cli.run import run_engine

    check_exchanges(exchanges, kinds)
    clock = LiveClock()
    session = CrossSession(args, exchanges, kinds, configured)
    journal = Journal(args.journal if args.journal is not None else ":memory:")
    try:
        n = len(exchanges) + sum(e in PERPS for e in exchanges) * ("basis" in kinds)
        total = risk or scaled(DEFAULT_RISK, n)
        await session.open(clock, total)
        engine = session.engine(journal, clock, total)
        show = not args.json and not args.no_view and sys.stdout.isatty()
        polls = [
            funding_poll(p.venue) for p in PERPS.values() if p.venue in session.books and p.funding_polled
        ]
        view = ",".join(session.books) if show else None
        summary = await run_engine(engine, polls, args.duration, view, monitor)
        return summary, session.notes()
    finally:
        journal.close()
        await session.close()
