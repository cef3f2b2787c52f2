"""`trader testnet`: per venue, is it reachable, is our clock close to its clock, do our keys work, does
market data flow, and (with `--order`) does a tiny far-from-market order round-trip (place, see, cancel)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

from trader.clock import Clock, LiveClock
from trader.config import Config
from trader.core import Approval, InstrumentSpec, RiskGate, Side
from trader.errors import ConfigError, TraderError
from trader.venues.base import BookUpdate, Connector
from trader.venues.profile import VenueTime

MAX_CLOCK_OFFSET_MS = 1000
REHEARSE = "rehearse without one against the local simulators: `trader testnet --sim --exchange=binance`"


@dataclass(frozen=True)
class Check:
    venue: str
    name: str
    ok: bool | None  # None: skipped
    detail: str

    @property
    def verdict(self) -> str:
        return "SKIP" if self.ok is None else ("PASS" if self.ok else "FAIL")


def venue_list(text: str | None) -> list[str]:
    """`--exchange=a,b,c` as venue ids (each one the registry knows); [] when not given."""
    from trader.venues import registry

    if text is None:
        return []
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise ConfigError(
            f"--exchange={text!r} names an empty venue (a comma-separated list: binance,alpaca)"
        )
    for name in names:
        registry.profile(name)  # an unknown venue: ConfigError naming the known ones
    return list(dict.fromkeys(names))


def no_test_environment(name: str, *, sim: bool) -> str:
    """ "" for a venue with a paper/testnet environment (or only a simulator); else what `trader testnet`
    checks of it and what it cannot (from the venue's profile: live and a simulator, nothing between)."""
    from trader.venues import registry

    prof = registry.profile(name)
    envs = prof.environments
    if "paper" in envs or "live" not in envs:
        return ""
    where = (
        "these checks ran against its local simulator, not the venue"
        if sim
        else "a live key is checked read-only (reachability, clock, auth, market data)"
    )
    why = f" that trades ({prof.no_testnet})" if prof.no_testnet else ""
    return (
        f"{name} has no testnet or sandbox (environments: {', '.join(envs)}){why}: {where}; not checked: "
        "an order on a real test venue (--order with a live key places a real order)"
    )


def _configured(config: Path, names: list[str]) -> Config:
    """The config, when it exists and configures every venue asked for; otherwise how to get one
    (`ConfigError`)."""
    from trader.config import load_config

    path = config.expanduser()
    if not path.exists():
        notes = [n for n in (no_test_environment(name, sim=False) for name in names) if n]
        raise ConfigError(
            f"no config at {path}: `trader config init` writes one (then set the env: "
            f"references it names), or {REHEARSE}" + "".join(f"; {n}" for n in notes)
        )
    loaded = load_config(path)
    venues = loaded.venues
    if not venues:
        raise ConfigError(
            f"{path} configures no venue ([venues.NAME]; `trader config init` writes every one), "
            f"or {REHEARSE}"
        )
    for name in names:
        if name not in venues:
            raise ConfigError(f"{path} has no [venues.{name}] table (configured: {', '.join(venues)})")
    return loaded


async def run_checks(args: argparse.Namespace) -> tuple[list[Check], list[str]]:
    """`trader testnet`: the checks of each venue `--exchange` names (comma-separated), else of every
    configured venue; with `--sim`, of those venues' simulators (default: sim). With them, a note for
    each venue checked that has no test environment (`notes`)."""
    from trader.cli.run import testnet_checks

    names = venue_list(args.venue)
    config = None if args.sim else _configured(args.config, names)
    out: list[Check] = []
    each: list[str | None] = [*names] or [None]  # None: every configured venue
    for name in each:
        out += await testnet_checks(argparse.Namespace(**{**vars(args), "venue": name}), config)
    return out, notes(out, sim=args.sim, config=config)


def notes(checks: list[Check], *, sim: bool, config: Config | None = None) -> list[str]:
    """For each venue checked that has no test environment: what was and was not checked (its simulator,
    with `--sim` or a configured `environment = "sim"`; else the live venue, read-only)."""
    venues = dict.fromkeys(c.venue.split("/")[0] for c in checks)
    configured = {} if sim or config is None else config.venues
    on_sim = {v: sim or (v in configured and configured[v].environment == "sim") for v in venues}
    return [n for n in (no_test_environment(v, sim=on_sim[v]) for v in venues) if n]


async def _first_book(
    conn: Connector, clock: Clock, timeout_s: float, symbol: str | None = None
) -> BookUpdate:
    async def wait() -> BookUpdate:
        async for ev in conn.events():
            if (
                isinstance(ev, BookUpdate)
                and ev.bid is not None
                and ev.ask is not None
                and (symbol is None or ev.instrument == symbol)
            ):
                return ev
        raise TraderError("event stream ended")

    return await clock.wait_for(wait(), timeout_s)


async def check_connector(
    conn: Connector, symbol: str, *, order: bool, clock: Clock | None = None, timeout_s: float = 10.0
) -> list[Check]:
    """The checks of every venue, in order; a failed step skips the steps that depend on it:
    reachability and clock (the venue's time), auth (connect, the instrument, an account read), market
    data, and with `order` the round trip."""
    clock = clock or LiveClock()
    out: list[Check] = []

    def add(name: str, ok: bool | None, detail: str) -> None:
        out.append(Check(conn.venue, name, ok, detail))

    if not await _reach_and_clock(conn, clock, timeout_s, add):
        for name in ("auth", "market data", "order round trip"):
            add(name, None, "venue unreachable")
        return out
    try:
        await clock.wait_for(conn.connect(), timeout_s)
        info = await conn.instrument_info(symbol)
        positions = await conn.positions()
    except (TraderError, TimeoutError, OSError) as e:
        add("auth", False, str(e) or type(e).__name__)
        for name in ("market data", "order round trip"):
            add(name, None, "auth failed")
        return out
    add("auth", True, f"account readable ({len(positions)} positions)")
    extra = getattr(conn, "extra_checks", None)  # a venue's own checks (e.g. a chain RPC it relies on)
    for name, ok, detail in await extra() if extra is not None else []:
        add(name, ok, detail)
    await _market_and_order(conn, info.spec(), symbol, order, clock, timeout_s, add)
    return out


async def _reach_and_clock(
    conn: Connector, clock: Clock, timeout_s: float, add: Callable[[str, bool | None, str], object]
) -> bool:
    """Ask the venue its time: it answers (reachable), and its clock is within the limit of ours."""
    t0, m0 = clock.now_ns(), clock.monotonic_ns()
    try:
        vt: VenueTime = await clock.wait_for(conn.venue_time(), timeout_s)
    except (TraderError, TimeoutError, OSError) as e:
        add("reachability", False, str(e) or type(e).__name__)
        add("clock", None, "venue unreachable")
        return False
    rtt_ms = (clock.monotonic_ns() - m0) / 1e6
    add("reachability", True, f"{rtt_ms:.1f} ms round trip")
    offset_ms = (vt.ts_ns - (t0 + clock.now_ns()) // 2) // 1_000_000
    limit = MAX_CLOCK_OFFSET_MS + vt.resolution_ns // 1_000_000
    add("clock", abs(offset_ms) <= limit, f"offset {offset_ms:+d} ms (limit ±{limit} ms)")
    return True


async def _market_and_order(
    conn: Connector,
    spec: InstrumentSpec,
    symbol: str,
    order: bool,
    clock: Clock,
    timeout_s: float,
    add: Callable[[str, bool | None, str], object],
) -> None:
    """The last two checks of every venue: a two-sided book arrives, then (with `order`) the round trip."""
    try:
        top = await _first_book(conn, clock, timeout_s, symbol)
    except (TraderError, TimeoutError) as e:
        add("market data", False, str(e) or "no book update in time")
        add("order round trip", None, "no market data")
        return
    add("market data", True, f"book {spec.format_price(top.bid or 0)} / {spec.format_price(top.ask or 0)}")
    if not order:
        add("order round trip", None, "not requested (--order)")
        return
    try:
        add("order round trip", True, await _round_trip(conn, spec, symbol, top.bid or 0, clock))
    except TraderError as e:
        add("order round trip", False, str(e))


async def _round_trip(conn: Connector, spec: InstrumentSpec, symbol: str, best_bid: int, clock: Clock) -> str:
    """A buy 10% under the best bid (post-only where the venue has it), at the smallest size the venue
    takes, then its cancel. It passes a risk gate sized for exactly this order, like every order does."""
    tick, lot = Decimal(spec.price_unit), Decimal(spec.qty_unit)
    price = (best_bid * 9 // 10) // spec.tick * spec.tick
    px = Decimal(price) * tick
    qty_dec = max(Decimal(spec.min_qty) * lot, Decimal(spec.min_notional) * Decimal("1.1") / px)
    qty = int((qty_dec / lot).to_integral_value(ROUND_CEILING))
    qty = -(-qty // spec.lot) * spec.lot
    notional = spec.notional(price, qty)
    limit = str(notional * 2)
    gate = RiskGate(
        max_gross_notional=limit,
        max_net_notional=limit,
        max_open_orders=1,
        max_orders_per_sec=1,
        daily_loss_limit=limit,
    )
    venue = gate.add_venue(conn.venue, max_gross_notional=limit, max_open_orders=1)
    strategy = gate.add_strategy("testnet", max_orders_per_sec=1)
    inst = gate.add_instrument(
        venue,
        symbol,
        spec,
        max_order_qty=str(Decimal(qty) * lot),
        max_order_notional=limit,
        max_position=str(Decimal(qty) * lot),
        max_open_orders=1,
        collar_bps=5000,
    )
    gate.set_reference(inst, best_bid, best_bid + spec.tick, clock.now_ns())
    post_only = conn.capabilities.post_only
    approval = gate.check(strategy, inst, Side.BUY, price, qty, clock.now_ns(), post_only=post_only)
    if not isinstance(approval, Approval):
        raise TraderError(f"the risk gate refused the test order: {approval.detail}")
    from trader.engine.ledger import check_fits, format_client_id, new_instance_id

    cid = format_client_id(new_instance_id(), "testnet", 1)  # letters and digits: fits every venue
    check_fits(cid, conn.venue)
    t0 = clock.monotonic_ns()
    await conn.submit(approval, cid, symbol)
    placed = (clock.monotonic_ns() - t0) / 1e6
    seen = await conn.query(cid)
    if seen is None:
        raise TraderError(f"order {cid} was acknowledged but the venue does not show it")
    await conn.cancel(cid)
    after = await conn.query(cid)
    if after is None or after.state.value != "canceled":
        raise TraderError(f"order {cid} is not canceled after the cancel ({after})")
    return f"{spec.format_qty(qty)} @ {spec.format_price(price)} placed in {placed:.1f} ms, then canceled"
