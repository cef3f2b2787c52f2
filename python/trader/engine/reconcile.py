"""Start-up reconciliation: before any strategy runs, the journal and the venue must agree.

Orders of ours the journal lacks are adopted first: an order whose client id carries this journal's
instance id and a number inside a block the journal reserved (durably, before any id in it was sent) may
have been sent by a process that died before its intent was written (`trader.engine.journal`); the venue
is asked about it, it is recorded from the venue's answer, its fills are accounted and, like every order
that outlived the process, it is canceled. Then the journal's live orders are asked of the venue, fills
the journal missed are applied, venue open orders the journal does not know and a position that does not
add up are mismatches (`ReconciliationError`: the
engine does not trade). Orders and fills of other trader sessions on the account (client ids with another
journal's instance id, `trader.engine.ledger`) are not ours: never claimed, canceled or counted in our
position; their fills only explain the account's position. Orders that survived a restart are then canceled:
the gate of a new process has not approved them and the strategy has no memory of them.
"""

from __future__ import annotations

import contextlib
import logging
import math
from decimal import Decimal
from typing import TYPE_CHECKING

from trader.engine import oms
from trader.engine.ledger import OtherSessions, Owner, parse_client_id, strategy_tag
from trader.errors import ReconciliationError, VenueError
from trader.venues.base import OrderReport

if TYPE_CHECKING:
    from trader.engine.engine import Engine
    from trader.engine.venue import VenueState

log = logging.getLogger("trader.engine")


async def reconcile(engine: Engine, v: VenueState) -> None:
    """Align the journal with one venue; raises `ReconciliationError` on what cannot be proven."""
    problems: list[str] = []
    await adopt(engine, v)
    live = await _ask_about_live_orders(engine, v, problems)
    withheld, others = await _apply_missed_fills(engine, v)
    engine.summary.reconciled_at_start += len(live)
    baselines = await _check_positions(engine, v, withheld, others, problems)
    await _check_open_orders(engine, v, problems, others)
    if problems:
        raise ReconciliationError(f"{v.name}: reconciliation failed, not trading: " + "; ".join(problems))
    _load_positions(engine, v, baselines, others)
    await _apply_funding(engine, v)
    await _cancel_leftovers(engine, v)


def journal_since(engine: Engine) -> int:
    """Since when the venue may hold orders and fills of this journal: its first record, or the first
    reservation of client ids if that came first (a journal cut back may hold no record of them)."""
    first = min((e.ts_ns for e in engine.journal.entries()), default=engine.clock.now_ns())
    ids = engine.journal.get_meta("client_ids_since_ns")
    return min(first, int(ids)) if ids is not None else first


async def adopt(engine: Engine, v: VenueState) -> int:
    """Adopt the orders of ours the venue has and the journal lacks (see the module docstring)."""
    ledger = engine.ledger
    found: dict[str, OrderReport | None] = {}

    def lost(instrument: str, cid: str) -> bool:
        return instrument in v.instruments and cid not in ledger.orders and ledger.reserved(cid)

    for r in await v.connector.open_orders():
        if lost(r.instrument, r.client_id):
            found[r.client_id] = r
    for f in await v.connector.fills_since(journal_since(engine)):
        if lost(f.instrument, f.client_id):
            found.setdefault(f.client_id, None)
    here = [n for n, st in engine.strategies.items() if not st.legs or any(g[0] == v.name for g in st.legs)]
    for cid in ledger.maybe_sent(here):  # done (canceled, expired) and never filled: asked one by one
        found.setdefault(cid, None)
    for cid, report in found.items():
        if report is None:
            report = await v.connector.query(cid)
        if report is None or report.instrument not in v.instruments:  # never sent (or not here)
            continue
        parsed = parse_client_id(cid)
        tag = parsed.tag if parsed is not None else ""
        owner = next((n for n in engine.strategies if strategy_tag(n) == tag), "")
        ledger.adopt(v.name, report, owner, engine.clock.now_ns())
        log.warning(
            "%s: order %s was sent but is not in the journal (the process died before writing it): "
            "adopted from the venue (%s)",
            v.name,
            cid,
            report.state.name,
        )
    return len(found)


async def _apply_funding(engine: Engine, v: VenueState) -> None:
    """Funding paid or received since the journal began (perpetuals): part of the PnL it reports."""
    first_ts = min((e.ts_ns for e in engine.journal.entries()), default=None)
    if first_ts is None:
        return
    for payment in await v.connector.funding_since(first_ts):
        engine._on_funding(payment, v)


async def resync(engine: Engine, v: VenueState) -> None:
    """After a venue's streams were down: ask about our live orders there and apply the fills the
    streams missed (duplicates are absorbed), so trading resumes on what the venue did meanwhile."""
    since = v.health.down_since() or engine.clock.now_ns()
    for o in [o for o in _mine(engine, v) if o.is_live]:
        with contextlib.suppress(VenueError):
            report = await v.connector.query(o.client_id)
            if report is not None:
                engine._apply_report(report, v, react=True)
    try:
        fills = await v.connector.fills_since(since - 60 * 1_000_000_000)  # a minute of slack for clocks
    except VenueError as e:
        log.warning("%s: fills since the disconnect not fetched (%s): the next lookups bring them", v.name, e)
        return
    for f in fills:
        if f.client_id in engine.ledger.orders:
            engine._apply_fill(f, v, react=True)


def _mine(engine: Engine, v: VenueState) -> list[oms.Order]:
    return [o for o in engine.ledger.orders.values() if o.venue == v.name and o.instrument in v.instruments]


def _never_acknowledged(o: oms.Order) -> bool:
    """Nothing from the venue ever showed this order exists (no ack, no fill), whatever its state: in
    flight, unknown, lost, or with a cancel pending that never got an answer."""
    pre_ack = (oms.OrderStatus.SUBMITTED, oms.OrderStatus.UNKNOWN, oms.OrderStatus.LOST)
    return o.status in pre_ack or (o.venue_order_id is None and not o.filled)


async def _ask_about_live_orders(engine: Engine, v: VenueState, problems: list[str]) -> list[oms.Order]:
    live = [o for o in _mine(engine, v) if o.is_live]
    sent_at: dict[str, int] = {}
    if live:
        for e in engine.journal.entries():
            sent_at.setdefault(e.client_id, e.ts_ns)
    for o in live:
        report = await v.connector.query(o.client_id)
        if report is None and _never_acknowledged(o):
            report = await _not_found_for_long_enough(engine, v, o, sent_at.get(o.client_id, 0))
            if report is None:
                now = engine.clock.now_ns()
                engine.ledger.apply(o.client_id, oms.Rejected("never reached the venue"), now)
                continue
        if report is None:
            problems.append(f"{o.client_id}: the journal has it {o.status}, the venue does not know it")
            continue
        engine._apply_report(report, v, react=False)
    return live


async def _not_found_for_long_enough(
    engine: Engine, v: VenueState, o: oms.Order, sent_ns: int
) -> OrderReport | None:
    """A venue may not know an order for a while after it was sent (F-ORD-12): an order sent less than
    `never_received_after_s` ago is asked again until then. None: never received."""
    until = sent_ns + int(v.cfg.never_received_after_s * 1e9)
    if engine.clock.now_ns() < until:
        log.warning(
            "order %s was sent %.1fs ago and the venue does not know it yet: asking until %.0fs have passed",
            o.client_id,
            (engine.clock.now_ns() - sent_ns) / 1e9,
            v.cfg.never_received_after_s,
        )
    while (left := until - engine.clock.now_ns()) > 0:
        await engine.clock.sleep(min(left / 1e9, 1.0))
        with contextlib.suppress(VenueError):  # could not ask: no answer, ask again
            report = await v.connector.query(o.client_id)
            if report is not None:
                return report
    return None


async def _apply_missed_fills(engine: Engine, v: VenueState) -> tuple[dict[str, Decimal], OtherSessions]:
    """Apply the fills of our orders the journal missed. Fills of other sessions' orders (another
    journal's instance id) are not claimed: only summed, since they moved the account's position.
    Returns the base-asset fees the venue withheld, per instrument, and the other sessions' net."""
    first_ts = journal_since(engine)
    taken = {  # when each instrument's baseline was taken (journals before that record: first entry)
        s: int(engine.journal.get_meta(f"baseline_ns:{v.name}:{s}") or first_ts) for s in v.symbols
    }
    withheld: dict[str, Decimal] = {}
    others = OtherSessions()
    for f in await v.connector.fills_since(min([first_ts, *taken.values()])):
        if f.instrument not in v.instruments:
            continue
        if f.client_id in engine.ledger.orders:
            engine._apply_fill(f, v, react=False)
        elif engine.ledger.owner(f.client_id) is Owner.SESSION and f.ts_event >= taken[f.instrument]:
            others.add_fill(f.instrument, f.side, f.qty)
        else:
            continue
        withheld[f.instrument] = withheld.get(f.instrument, Decimal(0)) + f.base_fee
    return withheld, others


async def _check_positions(
    engine: Engine, v: VenueState, withheld: dict[str, Decimal], others: OtherSessions, problems: list[str]
) -> dict[str, int]:
    """Positions: the journal's fills on top of the venue position it started from. Returns, per
    instrument, that starting position (stored in the journal the first time)."""
    insts = v.instruments
    for o in _mine(engine, v):
        for fill in o.fills.values():
            insts[o.instrument].position.apply_fill(o.side, fill.qty, fill.price, fill.fee)
            engine._strategy_position(o.strategy, v, insts[o.instrument]).apply_fill(
                o.side, fill.qty, fill.price, fill.fee
            )
    venue_positions = await v.connector.positions()
    baselines: dict[str, int] = {}
    for inst in insts.values():
        journal_net = inst.position.qty
        venue_pos = venue_positions.get(inst.symbol, 0)
        key = f"baseline:{v.name}:{inst.symbol}"
        stored = engine.journal.get_meta(key)
        if stored is None:
            baselines[inst.symbol] = venue_pos - journal_net
            engine.journal.set_meta(key, str(baselines[inst.symbol]))
            engine.journal.set_meta(f"baseline_ns:{v.name}:{inst.symbol}", str(engine.clock.now_ns()))
            continue
        baselines[inst.symbol] = int(stored)
        # fees withheld in the base asset (spot) lower the venue's balance, not our fills: the
        # difference may be that much, in whole units, plus one for the venue's rounding
        fee_units = withheld.get(inst.symbol, Decimal(0)) / Decimal(inst.spec.qty_unit)
        slack = math.ceil(fee_units) + 1 if fee_units else 0
        other = others.net.get(inst.symbol, 0)  # other sessions on the account moved it too
        if not 0 <= int(stored) + journal_net + other - venue_pos <= slack:
            problems.append(
                f"position {inst.symbol}: the venue has {venue_pos} units, the journal accounts for "
                f"{int(stored) + journal_net + other} ({stored} at the start + {journal_net} filled"
                + (f" + {other} by other sessions)" if other else ")")
            )
    return baselines


async def _check_open_orders(
    engine: Engine, v: VenueState, problems: list[str], others: OtherSessions
) -> None:
    """Venue open orders the journal does not know are mismatches, unless another session sent them."""
    for r in await v.connector.open_orders():
        if r.instrument not in v.instruments or r.client_id in engine.ledger.orders:
            continue
        if engine.ledger.owner(r.client_id) is Owner.SESSION:
            others.orders += 1
        else:
            problems.append(
                f"open order {r.client_id or r.venue_order_id} at the venue is not in the journal"
            )
    if others.orders or others.fills:
        v.other_sessions += others.orders + others.fills
        log.warning(
            "%s: other trader sessions use this account (%d open orders, %d fills since this journal "
            "began): not ours, left alone and not counted in our position",
            v.name,
            others.orders,
            others.fills,
        )


def _load_positions(engine: Engine, v: VenueState, baselines: dict[str, int], others: OtherSessions) -> None:
    gate = engine.gate
    assert gate is not None
    for inst in v.instruments.values():
        if inst.position.qty:
            gate.set_position(inst.gate_id, inst.position.qty, round(inst.position.avg_price))
        if v.pre_trade is not None:  # the account's holding: other sessions' fills included
            account = baselines[inst.symbol] + inst.position.qty + others.net.get(inst.symbol, 0)
            v.pre_trade.load_position(inst.symbol, account)


async def _cancel_leftovers(engine: Engine, v: VenueState) -> None:
    """Orders that outlived the previous process: cancel them before the strategy starts. A venue that
    fails a cancel is asked again with backoff, `restart_cancel_attempts` times within
    `restart_cancel_within_s`; then the restart fails with one line."""
    cfg = v.cfg
    deadline = engine.clock.monotonic_ns() + int(cfg.restart_cancel_within_s * 1e9)
    delay_s = 0.25
    left = _leftovers(engine, v)
    for attempt in range(1, cfg.restart_cancel_attempts + 1):
        for o in left:
            await engine._cancel_now(o.client_id)
        left = _leftovers(engine, v)
        wait_ns = deadline - engine.clock.monotonic_ns()
        if not left or attempt == cfg.restart_cancel_attempts or wait_ns <= 0:
            break
        log.warning(
            "%d orders left from before the restart not canceled yet; again in %.2fs", len(left), delay_s
        )
        await engine.clock.sleep(min(delay_s, wait_ns / 1e9))
        delay_s *= 2
    left = [o for o in engine.ledger.live() if o.venue == v.name]
    if left:
        ids = ", ".join(o.client_id for o in left)
        raise ReconciliationError(
            f"{v.name}: could not cancel {len(left)} orders left from before the restart ({ids}) in "
            f"{attempt} attempts over {cfg.restart_cancel_within_s:g}s; "
            f"last answer: {left[-1].reason or 'none'}"
        )


def _leftovers(engine: Engine, v: VenueState) -> list[oms.Order]:
    return [o for o in engine.ledger.live() if o.venue == v.name and o.instrument in v.instruments]
