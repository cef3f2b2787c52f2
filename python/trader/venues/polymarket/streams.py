"""Polymarket's two WebSocket channels for one connector.

Market channel (`/ws/market`): the subscription's `book` snapshots, then `price_change` (absolute level
sizes), `last_trade_price` (`TradeTick`), `tick_size_change`, `market_resolved`. One `Book` per token; book
levels go into it from the raw message in Rust (`Book.apply_polymarket_book` / `apply_polymarket_changes`).
After a disconnect, a stale feed or any inconsistency (crossed book, best bid/ask differing from the
venue's, a malformed message) the token gets `BookInvalid` and is resynced from REST `/book` while its
stream messages are buffered and replayed. Its messages are handled as they are read (`market_message`,
the transport's `on_message`): with the connector's `EventQueue`, a book frame is applied and its top
handed to the engine in the call that read it; only the REST resync runs as a task.

User channel (`/ws/user`): `order` events -> `OrderReport`, `trade` events -> `FillReport`, handled as
they are read too (`user_message`, the transport's `on_message`): a fill of ours reaches the waiting
engine in the call that read it. After every reconnect (and after a FAILED trade), open orders and trades
are reconciled by REST, in a task.

Health: a channel's drop or silence is `StreamStatus(down)`; it is back up (`StreamStatus(up)`) when every
book is live again (market) or the reconciliation after the reconnect is done (user).

The functions take the connector (`c`) whose state they keep; they are its stream half, split out by
concept."""

from __future__ import annotations

import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from websockets.frames import Frame

from trader.core import Book, BookState, InstrumentSpec, InvalidInputError
from trader.errors import VenueError, VenueUnavailableError
from trader.venues._status import lost
from trader.venues._ws import OnMessage, WsClient, WsConnected, WsDisconnected, WsMessage, WsStale
from trader.venues.base import BookInvalid, BookUpdate, FillReport, OrderState, Stream
from trader.venues.polymarket import parse, signing
from trader.venues.polymarket.endpoints import LOT

if TYPE_CHECKING:
    from trader.venues.polymarket.connector import PolymarketConnector

log = logging.getLogger("trader.venues.polymarket")

_BOOK_ERRORS = (KeyError, TypeError, ValueError, InvalidInputError)  # ParseError is a ValueError


class BookMismatchError(Exception):
    """The local book disagrees with the venue's (crossed, or other best prices than announced)."""


class Phase(enum.Enum):
    WAITING = "waiting"  # no snapshot yet (first connect)
    LIVE = "live"
    RESYNC = "resync"  # REST snapshot in flight, stream events buffered
    FROZEN = "frozen"  # the tick became finer than the price unit: not representable


class RedactAuthFrames(logging.Filter):
    """websockets logs every frame at DEBUG: the user channel's subscribe frame carries the API secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if any(isinstance(a, Frame) and b'"auth"' in bytes(a.data) for a in args):
            record.msg, record.args = "> TEXT <user channel subscription, redacted>", ()
        return True


REDACT = RedactAuthFrames()


# ---- plumbing --------------------------------------------------------------------------------------


async def pinger(c: PolymarketConnector, ws: WsClient) -> None:
    """The venue's keep-alive: a text PING every `ping_interval_s`, answered by PONG."""
    while not ws.closed():
        await c.clock.sleep(c._ping_interval_s)
        with contextlib.suppress(VenueUnavailableError):
            await ws.send("PING")


def ws_client(
    c: PolymarketConnector,
    path: str,
    on_connect: Callable[[WsClient], Awaitable[None]],
    on_message: OnMessage | None = None,
) -> WsClient:
    ws = WsClient(
        c.venue,
        f"{c.endpoints.ws.rstrip('/')}{path}",
        clock=c.clock,
        on_connect=on_connect,
        on_message=on_message,
        stale_after_s=c._stale_after_s,
    )
    c._clients.append(ws)
    c._spawn(pinger(c, ws))
    return ws


def frames(data: bytes) -> list[dict[str, Any]]:
    msg = orjson.loads(data)
    items = msg if isinstance(msg, list) else [msg]
    return [m for m in items if isinstance(m, dict)]


# ---- market channel --------------------------------------------------------------------------------


async def market_subscribe(c: PolymarketConnector, ws: WsClient) -> None:
    sub = {"assets_ids": list(c._tokens.values()), "type": "market", "custom_feature_enabled": True}
    await ws.send(orjson.dumps(sub))


async def market_loop(c: PolymarketConnector) -> None:
    """The market channel's life (connects, drops, silence); its messages go to `market_message`."""
    ws = ws_client(c, "/ws/market", lambda ws: market_subscribe(c, ws), lambda d, t: market_message(c, d, t))
    async for ev in ws.events():
        if isinstance(ev, WsConnected):
            if ev.attempt > 1:
                for s in c.symbols:
                    resync(c, s, "reconnected")
        elif isinstance(ev, WsDisconnected | WsStale):
            c._health.down(Stream.MARKET, lost(ev))
            for s in c.symbols:
                invalidate(c, s, f"market channel {type(ev).__name__}")


def market_message(c: PolymarketConnector, data: bytes, ts_recv: int) -> bool:
    """One market-channel message, handled as it is read (the transport's `on_message`: in the call that
    read it when the engine waits for events, no trip through the event loop). It takes every message:
    a malformed one is logged and skipped, never raised (that would end the channel); a resync's REST
    snapshot runs as a task of its own."""
    if data.strip() in (b"PONG", b""):
        return True
    try:
        items = frames(data)
    except orjson.JSONDecodeError:
        log.warning("%s: non-JSON market message skipped", c.venue)
        return True
    try:
        on_market(c, items, WsMessage(data, ts_recv))
    except (*_BOOK_ERRORS, AttributeError) as e:
        log.warning("%s: malformed market message skipped: %s", c.venue, type(e).__name__)
    return True


def _tokens_in(items: list[dict[str, Any]], kind: str) -> set[str]:
    """The asset ids a message's `book` events, or its `price_change` entries, are about."""
    if kind == "book":
        return {str(m.get("asset_id")) for m in items if m.get("event_type") == "book"}
    return {
        str(ch.get("asset_id"))
        for m in items
        if m.get("event_type") == "price_change"
        for ch in m.get("price_changes") or []
        if isinstance(ch, dict)
    }


def on_market(c: PolymarketConnector, items: list[dict[str, Any]], ev: WsMessage) -> None:
    """One market-channel message (an event or an array of them). Book levels are applied from the raw
    bytes by token; the other events are handled one by one."""
    for kind in ("book", "changes"):
        tokens = _tokens_in(items, "book" if kind == "book" else "price_change")
        for symbol in c.symbols:
            if c._tokens[symbol] in tokens:
                stream(c, symbol, kind, ev.data, ev.ts_recv)
    for m in items:
        event = m.get("event_type")
        if event == "last_trade_price":
            on_trade_price(c, m, ev.ts_recv)
        elif event == "tick_size_change":
            on_tick_size(c, parse.norm(m.get("new_tick_size")))
        elif event == "market_resolved":
            c._closed = True
            for s in c.symbols:
                invalidate(c, s, f"market resolved (winner {m.get('winning_outcome', '?')})", force=True)
                c._phase[s] = Phase.FROZEN


def on_trade_price(c: PolymarketConnector, m: dict[str, Any], ts_recv: int) -> None:
    symbol = c._symbol_of.get(str(m.get("asset_id")))
    if symbol is None or c.spec is None:
        return
    try:
        c._queue.put_nowait(parse.trade_tick(m, c.spec, symbol, ts_recv))
    except (KeyError, ValueError, InvalidInputError) as e:
        log.warning("%s: malformed last_trade_price skipped: %s", c.venue, type(e).__name__)


def stream(c: PolymarketConnector, symbol: str, kind: str, raw: bytes, ts_recv: int) -> None:
    phase = c._phase.get(symbol)
    if phase is Phase.RESYNC:
        c._buffer.setdefault(symbol, []).append((kind, raw))
        return
    if phase is Phase.FROZEN:
        return
    if kind == "changes" and phase is not Phase.LIVE:
        return  # no snapshot yet: the subscription's snapshot comes first
    try:
        if kind == "book":
            snapshot(c, symbol, raw)
        else:
            changes(c, symbol, raw, check=True)
    except (*_BOOK_ERRORS, BookMismatchError) as e:
        resync(c, symbol, f"inconsistent book: {e}")
        return
    c._phase[symbol] = Phase.LIVE
    emit_top(c, symbol, ts_recv)
    market_live(c)


def market_live(c: PolymarketConnector) -> None:
    """Every token's book is live: the market channel is ready (and, after a drop, back up)."""
    if all(c._phase.get(s) is Phase.LIVE for s in c.symbols):
        c._market_ready.set()
        c._health.up(Stream.MARKET)


def snapshot(c: PolymarketConnector, symbol: str, raw: bytes) -> None:
    """Replace the token's book from a `book` event or a REST `/book` answer (raw bytes)."""
    book = c.books[symbol]
    if book.apply_polymarket_book(raw, c._tokens[symbol]) is None:
        raise BookMismatchError(f"no book of {symbol} in the message")
    if book.is_crossed():
        raise BookMismatchError("crossed snapshot")


def changes(c: PolymarketConnector, symbol: str, raw: bytes, *, check: bool) -> None:
    """Apply a `price_change` message's levels of this token; with `check`, the book must not be crossed
    and its best prices must be those the venue states."""
    book = c.books[symbol]
    applied, top = book.apply_polymarket_changes(raw, c._tokens[symbol])
    if not check or not applied:
        return
    if book.is_crossed():
        raise BookMismatchError("crossed book")
    if top is None:
        return
    have_bid, have_ask = book.best_bid(), book.best_ask()
    have = (have_bid[0] if have_bid else None, have_ask[0] if have_ask else None)
    if have != top:
        raise BookMismatchError(f"best bid/ask {have_bid}/{have_ask} != the venue's {top[0]}/{top[1]}")


def emit_top(c: PolymarketConnector, symbol: str, ts_recv: int) -> None:
    book = c.books[symbol]
    bid, ask = book.best_bid(), book.best_ask()
    c._queue.put_nowait(
        BookUpdate(
            symbol,
            bid[0] if bid else None,
            bid[1] if bid else 0,
            ask[0] if ask else None,
            ask[1] if ask else 0,
            ts_recv,  # ts_event: a top built from snapshot and changes has no one venue stamp
            ts_recv,
        )
    )


def invalidate(c: PolymarketConnector, symbol: str, reason: str, *, force: bool = False) -> None:
    book = c.books.get(symbol)
    if book is None:
        return
    if book.state == BookState.VALID or force:
        c._queue.put_nowait(BookInvalid(symbol, reason, ts_recv=c.clock.now_ns()))
    book.begin_resync()
    if c._phase.get(symbol) is Phase.LIVE:
        c._phase[symbol] = Phase.WAITING


def resync(c: PolymarketConnector, symbol: str, reason: str) -> None:
    """Invalidate the book and rebuild it from REST `/book`, buffering stream events meanwhile."""
    if c._phase.get(symbol) in (Phase.RESYNC, Phase.FROZEN):
        return
    log.info("%s: resync %s: %s", c.venue, symbol, reason)
    invalidate(c, symbol, reason)
    c._phase[symbol] = Phase.RESYNC
    c._buffer[symbol] = []
    c._spawn(rest_snapshot(c, symbol))


def _replay(c: PolymarketConnector, symbol: str, raw: bytes) -> None:
    """The REST snapshot, then the stream messages buffered while it was in flight."""
    snapshot(c, symbol, raw)
    for kind, payload in c._buffer.pop(symbol, []):
        if kind == "book":
            snapshot(c, symbol, payload)
        else:
            changes(c, symbol, payload, check=False)
    if c.books[symbol].is_crossed():
        raise BookMismatchError("crossed after replay")


async def rest_snapshot(c: PolymarketConnector, symbol: str) -> None:
    delay = 0.05
    while True:
        try:
            raw = await c._public_raw("/book", {"token_id": c._tokens[symbol]})
            if c._phase.get(symbol) is not Phase.RESYNC:
                return  # frozen (tick change, resolution) meanwhile
            ts_recv = c.clock.now_ns()
            _replay(c, symbol, raw)
        except (VenueError, *_BOOK_ERRORS, BookMismatchError) as e:
            log.warning("%s: %s snapshot failed (%s); retrying", c.venue, symbol, e)
            c._buffer[symbol] = []
            await c.clock.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        c._phase[symbol] = Phase.LIVE
        emit_top(c, symbol, ts_recv)
        market_live(c)
        return


def on_tick_size(c: PolymarketConnector, tick: str) -> None:
    if tick == c._tick or c.spec is None:
        return
    if parse.dec(tick) <= 0:
        raise ValueError(f"tick size {tick}")  # (before any state changes: the message is skipped)
    old, c._tick = c._tick, tick
    spec = c.spec
    if not signing.tick_representable(c):
        for s in c.symbols:
            invalidate(
                c, s, f"tick size {old} -> {tick}, finer than the price unit {spec.price_unit}: reconnect "
                f"with price_unit={tick}", force=True,
            )  # fmt: skip
            c._phase[s] = Phase.FROZEN
        return
    c.spec = InstrumentSpec(
        tick, LOT, min_qty=c._min_size, price_unit=spec.price_unit, qty_unit=spec.qty_unit
    )
    for s in c.symbols:
        invalidate(c, s, f"tick size {old} -> {tick}", force=True)
        c.books[s] = Book(c.spec)
        if c._phase.get(s) is not Phase.RESYNC and not c._closed:
            c._phase[s] = Phase.WAITING  # (a pending REST snapshot fills the new book)
        resync(c, s, "tick size changed")


# ---- user channel ----------------------------------------------------------------------------------


async def user_subscribe(c: PolymarketConnector, ws: WsClient) -> None:
    """Subscribe with the API credentials (the channel wants the secret itself): derived again by L1
    for this frame only, never kept. A PING after it: its PONG proves the subscription was read."""
    c._user_ready.clear()
    try:
        creds = await c._l1("GET", "/auth/derive-api-key")
    except VenueError as e:
        raise VenueUnavailableError(f"user channel: API key: {type(e).__name__}", venue=c.venue) from None
    if str(creds["apiKey"]) != c._api_key:
        log.error("%s: the derived API key differs from the one in use", c.venue)
    frame = orjson.dumps(
        {
            "markets": [c.condition_id],
            "type": "user",
            "auth": {
                "apiKey": str(creds["apiKey"]),
                "secret": str(creds.get("secret", "")),
                "passphrase": str(creds.get("passphrase", "")),
            },
        }
    )
    del creds
    c._await_pong = True
    await ws.send(frame)
    del frame
    await ws.send("PING")


async def user_loop(c: PolymarketConnector) -> None:
    """The user channel's life (connects, drops, silence); its messages go to `user_message`. The
    reconciliation after a reconnect runs as a task of its own."""
    ws = ws_client(c, "/ws/user", lambda ws: user_subscribe(c, ws), lambda d, t: user_message(c, d, t))
    async for ev in ws.events():
        if isinstance(ev, WsConnected):
            if ev.attempt > 1:
                c._spawn(reconcile(c, reconnected=True))
        elif isinstance(ev, WsDisconnected | WsStale):
            c._health.down(Stream.PRIVATE, lost(ev))
            c._user_ready.clear()
            log.warning("%s: user channel %s; will reconcile after reconnect", c.venue, type(ev).__name__)


def user_message(c: PolymarketConnector, data: bytes, ts_recv: int) -> bool:
    """One user-channel message, handled as it is read (the transport's `on_message`: in the call that
    read it when the engine waits for events, no trip through the event loop): the subscription's PONG,
    `order` events (`OrderReport`) and `trade` events (`FillReport`). It takes every message: a malformed
    one is logged and skipped, never raised (that would end the channel); the reconciliation after a
    failed trade runs as a task of its own."""
    data = data.strip()
    if data == b"PONG":
        if c._await_pong:  # the answer to the PING after the subscription: it was read
            c._await_pong = False
            c._user_ready.set()
        return True
    try:
        items = frames(data)
    except orjson.JSONDecodeError:
        log.warning("%s: non-JSON user message skipped", c.venue)
        return True
    for m in items:
        try:
            if m.get("event_type") == "order":
                on_order_event(c, m, ts_recv)
            elif m.get("event_type") == "trade":
                on_trade_event(c, m, ts_recv)
        except (KeyError, TypeError, ValueError, AttributeError, InvalidInputError) as e:
            log.warning("%s: malformed user event skipped: %s", c.venue, type(e).__name__)
    return True


def on_order_event(c: PolymarketConnector, m: dict[str, Any], ts_recv: int) -> None:
    if str(m.get("asset_id")) not in c._symbol_of:
        return
    c._queue.put_nowait(c._report(m, ts_recv))


def emit_fills(c: PolymarketConnector, fills: list[FillReport]) -> None:
    for f in fills:
        if f.trade_id in c._seen_fills:
            continue
        c._seen_fills[f.trade_id] = None
        if len(c._seen_fills) > 100_000:
            c._seen_fills.popitem(last=False)
        c._last_fill_ns = max(c._last_fill_ns, f.ts_event)
        oid = c._by_client.get(f.client_id)
        tracked = c._orders.get(oid) if oid else None
        if tracked is not None and tracked.state is None:
            tracked.state = OrderState.OPEN  # it reached the venue
        c._balances.clear()
        c._queue.put_nowait(f)


def on_trade_event(c: PolymarketConnector, m: dict[str, Any], ts_recv: int) -> None:
    """A `trade` event read at `ts_recv`: our fills in it, each once; a FAILED one starts a
    reconciliation (a task: this runs in the read)."""
    if str(m.get("status", "")).upper() == "FAILED":
        log.error("%s: trade %s FAILED on chain; reconciling", c.venue, m.get("id"))
        c._spawn(reconcile(c))
        return
    emit_fills(c, c._fills_of(m, ts_recv))


async def reconcile(c: PolymarketConnector, *, reconnected: bool = False) -> None:
    """After a user-channel reconnect (then the channel is reported back up) or a failed trade: open
    orders, orders that closed meanwhile, and trades."""
    try:
        reports = await c.open_orders()
        open_ids = {r.venue_order_id for r in reports}
        for r in reports:
            c._queue.put_nowait(r)
        for o in [o for o in c._orders.values() if o.live and o.order_id not in open_ids]:
            closed = await c.query(o.client_id)
            if closed is not None:
                c._queue.put_nowait(closed)
        since = max(0, c._last_fill_ns - 60_000_000_000)
        emit_fills(c, await c.fills_since(since))
    except VenueError as e:
        log.warning("%s: reconciliation after reconnect failed: %s", c.venue, e)
        return
    if reconnected:
        c._health.up(Stream.PRIVATE)
