"""The engine's order paths after the gate: send once, record the outcome, cancel, catch up fills.

The orders a market event produced are sent when the engine is done with that event (`send_approved`): in
real time each send starts eagerly (`trader.engine.eager`), so its bytes are on the socket before control
returns to the event loop, and the journal then writes their intents in one group commit
(`Journal.flush`); in simulated time the intents are written first and the sends run as tasks.

A timeout or 5xx on the send leaves the order UNKNOWN: it keeps counting against every limit and is
resolved by asking the venue by client order id (`trader.engine.resolve`), never by sending it again.
A cancel the venue cannot take yet (the order is in flight or unknown) is retried from the timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from typing import TYPE_CHECKING

from trader.core import Approval, UnknownOrderError
from trader.engine import eager, oms
from trader.errors import BannedError, OrderNotFoundError, RateLimitError, UnknownOutcomeError, VenueError
from trader.strategies.base import Intent
from trader.venues import _wire
from trader.venues.base import OrderReport, OrderState

if TYPE_CHECKING:
    from trader.engine.engine import Engine
    from trader.engine.venue import VenueState

log = logging.getLogger("trader.engine")


def send_approved(engine: Engine) -> None:
    """Send the orders approved while handling one event (in real time each went out as it was
    approved), then write their intents (see the docstring), then record and send the cancels it asked
    for."""
    send_out(engine)
    engine.journal.flush()
    if engine._cancels:
        _send_cancels(engine)


def send_out(engine: Engine) -> None:
    """Start the sends of the approved orders (in simulated time their intents are written first)."""
    sends, engine._outbox = engine._outbox, []
    if not engine.eager:
        engine.journal.flush()
    for order, approval, tick_ns in sends:
        probe = _wire.WireProbe()
        ctx = contextvars.copy_context()
        ctx.run(_wire.PROBE.set, probe)
        coro = send(engine, order, approval, probe, tick_ns)
        if engine.eager:
            task = eager.start(coro, ctx)  # its bytes are on the socket now (or it failed)
            engine._tasks.add(task)
            task.add_done_callback(engine._task_done)
        else:
            engine._spawn(coro, ctx)


async def send(
    engine: Engine,
    order: oms.Order,
    approval: Approval,
    probe: _wire.WireProbe | None = None,
    tick_ns: int | None = None,
) -> None:
    acked: list[int] = []
    try:
        await _submit(engine, order, approval, acked)
    finally:
        if probe is not None and engine.latency_clock is engine.clock:
            engine.lat.on_sent(tick_ns, probe.wire_ns, acked[0] if acked else None)


async def _submit(engine: Engine, order: oms.Order, approval: Approval, acked: list[int]) -> None:
    cid = order.client_id
    v = engine.venues[order.venue]
    try:
        ack = await v.connector.submit(approval, cid, order.instrument)
        acked.append(engine.clock.now_ns())
    except UnknownOutcomeError as e:
        engine._unknown(cid, approval, str(e))
        return
    except VenueError as e:  # a definitive reject, or not sent at all (refused, throttled, banned)
        engine._venue_error(v, e)
        if engine.ledger.apply(cid, oms.Rejected(str(e)), engine.clock.now_ns()):
            engine.summary.rejects += 1
            v.rejects += 1
            v.health.on_outcome(rejected=True)
            engine._gate_closed(cid)
            engine._tell_order(order)
        return
    except Exception as e:  # unclassified: it may have reached the venue, so it is asked about
        engine._task_error(f"submit {cid}", e)
        engine._unknown(cid, approval, f"submit failed: {type(e).__name__}")
        return
    v.health.on_outcome(rejected=False)
    now = acked[0]  # a SubmitAck states no venue time: the ack's time is when we read it
    engine._apply_report(
        OrderReport(
            cid,
            ack.venue_order_id,
            order.instrument,
            order.side,
            order.price,
            order.qty,
            0,
            OrderState.OPEN,
            ts_event=now,
            ts_recv=now,
        ),
        v,
        react=True,
    )


def unknown(engine: Engine, cid: str, approval: Approval, reason: str) -> None:
    """The submit's outcome is unknown: it keeps counting and is asked of the venue, never resent."""
    now = engine.clock.now_ns()
    order = engine.ledger.orders[cid]
    v = engine.venues[order.venue]
    engine.summary.unknown_outcomes += 1
    v.unknown_outcomes += 1
    if engine.ledger.apply(cid, oms.OutcomeUnknown(reason), now) and engine.gate is not None:
        with contextlib.suppress(UnknownOrderError):
            engine.gate.on_unknown(approval.key)
        v.resolver.track(cid, now)


def cancel(engine: Engine, client_id: str) -> list[Intent]:
    """Cancel an order: recorded and sent once the orders of the event being handled are on the wire
    (`send_approved`; at once outside an event), the record always before the cancel goes out."""
    order = engine.ledger.orders.get(client_id)
    if order is None or not order.is_live or order.status is oms.OrderStatus.CANCEL_PENDING:
        return []
    if client_id in engine._cancels:
        return []
    if order.status in (oms.OrderStatus.SUBMITTED, oms.OrderStatus.UNKNOWN, oms.OrderStatus.LOST):
        engine._cancel_retry.add(client_id)  # cancel once the venue has it (or it is resolved)
        return []
    engine._cancels.append(client_id)
    if not engine._acting:
        send_approved(engine)
    return []


def _send_cancels(engine: Engine) -> None:
    cancels, engine._cancels = engine._cancels, []
    for client_id in cancels:
        order = engine.ledger.orders[client_id]
        if order.is_live and order.status is not oms.OrderStatus.CANCEL_PENDING:
            engine.ledger.apply(client_id, oms.CancelRequested(), engine.clock.now_ns())
            engine._spawn(engine._cancel_now(client_id))


async def cancel_now(engine: Engine, client_id: str) -> None:
    """Cancel at the venue and record the outcome; transient failures are retried from the timer."""
    order = engine.ledger.orders[client_id]
    v = engine.venues[order.venue]
    if order.status is not oms.OrderStatus.CANCEL_PENDING:
        engine.ledger.apply(client_id, oms.CancelRequested(), engine.clock.now_ns())
    try:
        await v.connector.cancel(client_id)
    except OrderNotFoundError:
        await cancel_not_found(engine, order, v)
        return
    except VenueError as e:
        engine._venue_error(v, e)
        now = engine.clock.now_ns()
        engine.ledger.apply(client_id, oms.CancelRejected(str(e)), now)
        engine._cancel_retry.add(client_id)
        if isinstance(e, RateLimitError) and not isinstance(e, BannedError):  # ours or the venue's pacing
            engine.cancel_throttled[client_id] = e.retry_after_ns or now + 1_000_000_000
        return
    except Exception as e:  # unclassified: the order stays as it was, the cancel is retried
        engine._task_error(f"cancel {client_id}", e)
        engine.ledger.apply(client_id, oms.CancelRejected(type(e).__name__), engine.clock.now_ns())
        engine._cancel_retry.add(client_id)
        return
    engine._cancel_retry.discard(client_id)
    await engine._catch_up_fills(client_id)
    order = engine.ledger.orders[client_id]
    now = engine.clock.now_ns()  # the confirmed cancel: the venue's answer states no time
    engine._apply_report(
        OrderReport(
            client_id,
            order.venue_order_id or "",
            order.instrument,
            order.side,
            order.price,
            order.qty,
            order.filled,
            OrderState.CANCELED,
            ts_event=now,
            ts_recv=now,
        ),
        v,
        react=True,
    )


async def cancel_not_found(engine: Engine, order: oms.Order, v: VenueState) -> None:
    """The venue has no open order by that id: already done (learn how), or never received."""
    cid = order.client_id
    try:
        report = await v.connector.query(cid)
    except VenueError as e:
        engine._venue_error(v, e)
        engine.ledger.apply(cid, oms.CancelRejected(f"cancel: not found; lookup: {e}"), engine.clock.now_ns())
        engine._cancel_retry.add(cid)
        return
    if report is not None:
        await engine._catch_up_fills(cid)
        engine._apply_report(report, v, react=True)
    elif order.venue_order_id is None and not order.filled:
        # never acknowledged: "not found" proves nothing yet (F-ORD-12); the resolver decides
        now = engine.clock.now_ns()
        engine.ledger.apply(cid, oms.CancelRejected("the venue does not know it yet"), now)
        v.resolver.track(cid, now)
        engine._cancel_retry.add(cid)
    else:
        engine.ledger.apply(cid, oms.Rejected("the venue does not know it"), engine.clock.now_ns())
        engine._gate_closed(cid)


async def catch_up_fills(engine: Engine, client_id: str) -> None:
    """Fills the stream has not delivered yet for a closed order (the venue filled before it canceled)."""
    order = engine.ledger.orders[client_id]
    v = engine.venues[order.venue]
    try:
        report = await v.connector.query(client_id)
        if report is None or report.filled <= order.filled:
            return
        start = min((f.ts_ns for f in order.fills.values()), default=0)
        fills = await v.connector.fills_since(start)
    except VenueError as e:  # the stream or the next reconciliation brings them
        log.warning("fills of %s not fetched: %s", client_id, e)
        return
    for f in fills:
        if f.client_id == client_id:
            engine._apply_fill(f, v, react=True)


async def cancel_everything(engine: Engine, venue: str | None = None) -> None:
    """Cancel our orders (at one venue, or all): all at once where no other session shares the
    account, else one by one (never another session's; `trader kill --config` is the account-wide
    button). Venues are canceled side by side: a kill does not wait on the slowest."""
    targets = [engine.venues[venue]] if venue is not None else list(engine.venues.values())
    await asyncio.gather(*(cancel_venue(engine, v) for v in targets))


async def cancel_venue(engine: Engine, v: VenueState) -> None:
    if v.failed:  # it did not start or reconcile: what is open there is not known to be ours
        return
    for symbol in v.symbols if not v.other_sessions else ():
        try:
            await v.connector.cancel_all(symbol)
        except VenueError as e:  # the per-order cancels follow
            engine._venue_error(v, e)
        except Exception as e:  # a dead connection: the per-order cancels follow (and are retried)
            engine._task_error(f"{v.name}: cancel all {symbol}", e)
    for o in engine.ledger.live():
        if o.venue == v.name:
            await engine._cancel_now(o.client_id)


async def settle(engine: Engine) -> None:
    """Wait until no send or cancel is in flight."""
    while engine._tasks:
        await asyncio.gather(*list(engine._tasks), return_exceptions=True)


def throttled_live(engine: Engine) -> dict[str, int]:
    """Live orders whose cancel a rate limit refused (not a ban), and when each may be tried again."""
    return {
        cid: at
        for cid, at in engine.cancel_throttled.items()
        if (o := engine.ledger.orders.get(cid)) is not None and o.is_live
    }


async def left_open(engine: Engine, v: VenueState, deadline_ns: int) -> int:
    """Our orders the venue still lists as open (asked again while rate-limited, until the deadline)."""
    if v.failed:  # never traded this session, and nothing of it touched (`cancel_venue`)
        return 0
    while True:
        try:
            return sum(r.client_id in engine.ledger.orders for r in await v.connector.open_orders())
        except RateLimitError as e:
            if isinstance(e, BannedError) or engine.clock.monotonic_ns() >= deadline_ns:
                error: VenueError = e
                break
            await engine.clock.sleep(0.25)
        except VenueError as e:  # cannot ask (an outage): our live orders are what may be left
            error = e
            break
    engine._venue_error(v, error)
    left = sum(o.venue == v.name for o in engine.ledger.live())
    log.error("%s: open orders not verified at shutdown (%s): %d may be left", v.name, error, left)
    return left
