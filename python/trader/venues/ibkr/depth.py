"""Market depth of IB stocks: IB's positional rows (SMART depth for SMART-routed stocks) kept as a
price-level core `Book` per instrument.

Rows are inserted, updated or deleted at a position (insert shifts the rows below down, delete shifts them
up; rows at one price add up). A 317 reset empties the rows (those that follow rebuild them); a row for a
position the ladder does not have is a gap: a new request (at most once a second); 1100/2103/a dropped
socket make the book not ready until a new request after 1101/1102/2104 or the reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from decimal import InvalidOperation
from typing import TYPE_CHECKING, Any

from ib_async import MktDepthData

from trader.core import Book, BookNotReadyError, BookState, InstrumentSpec, Side
from trader.errors import ConfigError, VenueError
from trader.venues.ibkr import parse
from trader.venues.ibkr.endpoints import DEPTH_RETRY_NS

if TYPE_CHECKING:
    from trader.venues.ibkr.connector import IbkrConnector

log = logging.getLogger("trader.venues.ibkr")


class DepthGapError(Exception):
    """A depth row addressed a position the ladder does not have: rows were lost."""

    def __init__(self, expected: int, got: int) -> None:
        super().__init__(f"row {got} of a {expected}-row ladder")
        self.expected, self.got = expected, got


@dataclass
class DepthRows:
    """One instrument's market depth: IB's positional rows (best first, per side, in integer units) as
    the Gateway sends them, and the price-level `Book` built from them after each batch."""

    rows: int
    smart: bool
    book: Book
    bids: list[tuple[int, int]] = field(default_factory=list)
    asks: list[tuple[int, int]] = field(default_factory=list)
    live: bool = False  # a depth request of this session is open at the Gateway
    accepting: bool = False  # rows arriving now belong to the current request
    pending: bool = False  # a re-subscription is scheduled or running
    reset: tuple[list[MktDepthData], int] | None = None  # (the batch's ticks, index just after a 317)
    requested_ns: int = 0  # monotonic time of the last request
    batches: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def apply(self, position: int, operation: int, side: int, row: tuple[int, int] | None) -> None:
        """One row change under IB's rules: insert shifts the rows below down, delete shifts them up."""
        ladder = self.bids if side == 1 else self.asks
        if operation == 0 and row is not None and 0 <= position <= len(ladder):
            ladder.insert(position, row)
        elif operation == 1 and row is not None and 0 <= position < len(ladder):
            ladder[position] = row
        elif operation == 2 and 0 <= position < len(ladder):
            del ladder[position]
        else:
            raise DepthGapError(len(ladder), position)

    def levels(self, side: int) -> list[tuple[int, int]]:
        """The side's rows as price levels (rows at one price, e.g. two market makers, add up)."""
        out: dict[int, int] = {}
        for price, qty in self.bids if side == 1 else self.asks:
            out[price] = out.get(price, 0) + qty
        return list(out.items())

    def lose(self) -> None:
        """Rows may be lost from here on: the book is rebuilt from a new request."""
        self.accepting = False
        self.book.begin_resync()


class DepthBooks:
    """The connector's depth subscriptions (one `DepthRows` per instrument) and their requests."""

    def __init__(self, conn: IbkrConnector) -> None:
        self._conn = conn
        self.by_name: dict[str, DepthRows] = {}

    # ---- what the connector offers -------------------------------------------------------------------

    async def subscribe(self, symbol: str, rows: int) -> None:
        if rows < 1:
            raise ConfigError("depth rows must be at least 1")
        c = self._conn
        contract = await c.qualify(symbol)
        c._require_connected()
        d = self.by_name.get(symbol)
        if d is None:
            d = self.by_name[symbol] = DepthRows(rows, contract.exchange == "SMART", Book(c._specs[symbol]))
        d.rows = rows
        await self.request(symbol)

    async def unsubscribe(self, symbol: str) -> None:
        d = self.by_name.pop(symbol, None)
        if d is None:
            return
        c = self._conn
        async with d.lock:  # after a request under way
            if d.live and c.ib.isConnected():
                await c._pace(priority=True)
                c.ib.cancelMktDepth(c._contracts[symbol], isSmartDepth=d.smart)
            d.live = d.accepting = False

    def book(self, symbol: str) -> Book:
        d = self.by_name.get(symbol)
        if d is None:
            raise BookNotReadyError(f"no depth subscription for {symbol}")
        return d.book

    def depth(self, symbol: str, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        book = self.book(symbol)
        if book.state != BookState.VALID:
            raise BookNotReadyError(f"{symbol} depth is being rebuilt ({book.state})")
        return book.depth(Side.BUY, n), book.depth(Side.SELL, n)

    # ---- requests ------------------------------------------------------------------------------------

    async def request(self, name: str) -> None:
        """A new depth request for `name` (the open one, if any, canceled first)."""
        d = self.by_name.get(name)
        if d is None:
            return  # unsubscribed meanwhile
        c = self._conn
        async with d.lock:
            d.lose()
            contract = c._contracts[name]
            if d.live and c.ib.isConnected():
                await c._pace()
                c.ib.cancelMktDepth(contract, isSmartDepth=d.smart)
                d.live = False
                # the Gateway answers in order: every row of the old request has arrived (and been
                # ignored) once this answer is in
                await c._ask(c.ib.reqCurrentTimeAsync, "reqCurrentTimeAsync")
            await c._pace()
            c._require_connected()
            d.bids.clear()
            d.asks.clear()
            d.reset = None
            c.ib.reqMktDepth(contract, numRows=d.rows, isSmartDepth=d.smart)
            d.live = d.accepting = True
            d.requested_ns = c.clock.monotonic_ns()

    def resubscribe(self, name: str, *, after_gap: bool = False) -> None:
        """Schedule a new depth request for `name` (once, however many causes ask for it)."""
        d = self.by_name.get(name)
        if d is None or d.pending or self._conn._closing:
            return
        d.pending = True
        self._conn._spawn(self._redo(name, d, after_gap))

    async def _redo(self, name: str, d: DepthRows, after_gap: bool = False) -> None:
        clock = self._conn.clock
        try:
            if after_gap:
                wait = d.requested_ns + DEPTH_RETRY_NS - clock.monotonic_ns()
                if wait > 0:
                    await clock.sleep(wait / 1e9)
            if self.by_name.get(name) is d:
                await self.request(name)
        except (TimeoutError, ConnectionError, VenueError) as e:
            log.warning("ibkr: depth of %s not re-subscribed: %s", name, e)
        finally:
            d.pending = False

    async def request_all(self) -> None:
        """After a reconnect: the old requests died with the socket."""
        for name in list(self.by_name):
            try:
                await self.request(name)
            except (TimeoutError, ConnectionError, VenueError) as e:
                log.warning("ibkr: depth of %s not re-subscribed: %s", name, e)

    # ---- the Gateway's news --------------------------------------------------------------------------

    def lose_all(self) -> None:
        for d in self.by_name.values():
            d.lose()

    def on_disconnected(self) -> None:
        for d in self.by_name.values():
            d.live = False  # requests die with the socket

    def on_restored(self, *, data_lost: bool) -> None:
        """1101/1102: a new request, whatever came meanwhile (1101: the Gateway dropped the request)."""
        for name, d in self.by_name.items():
            if data_lost:
                d.live = False  # nothing to cancel
            d.lose()
            self.resubscribe(name)

    def on_farm_ok(self) -> None:
        """2104 after a 2103 alone: depth rows were lost meanwhile (a request that died with the socket is
        renewed by the reconnect instead)."""
        for name, d in self.by_name.items():
            if d.live and not d.accepting:
                self.resubscribe(name)

    def on_reset(self, contract: Any) -> None:
        """Error 317: empty the rows; the ones the Gateway sends after it rebuild them."""
        c = self._conn
        name = c._by_con.get(getattr(contract, "conId", 0))
        d = self.by_name.get(name) if name is not None else None
        ticker = c.ib.ticker(contract)
        if d is None or not d.accepting or ticker is None:
            return
        # the SDK has appended its own deletes for the reset: what follows them in this batch is new
        d.reset = (ticker.domTicks, len(ticker.domTicks))
        d.book.begin_resync()
        log.warning("ibkr: depth of %s reset by the Gateway (317)", name)

    def on_ticks(self, name: str, spec: InstrumentSpec, ticks: list[MktDepthData]) -> None:
        """One batch of depth rows: applied to the ladder, then published into the book as price levels."""
        d = self.by_name.get(name)
        if d is None or not (ticks or d.reset is not None):
            return
        start = 0
        if d.reset is not None:
            batch, at = d.reset
            d.reset = None
            start = at if batch is ticks else 0  # a reset from an earlier batch: these rows are all new
            d.bids.clear()
            d.asks.clear()
        if not d.accepting:
            return
        applied = False
        for tick in ticks[start:]:
            try:
                r = None if tick.operation == 2 else parse.row(spec, tick.price, tick.size)
                d.apply(tick.position, tick.operation, tick.side, r)
            except DepthGapError as gap:
                log.warning("ibkr: depth of %s has a gap (%s): requesting it again", name, gap)
                self._restart(name, d, gap.expected, gap.got)
                return
            except (ValueError, InvalidOperation, VenueError) as e:
                log.warning("ibkr: depth row of %s not usable (%s): requesting it again", name, e)
                self._restart(name, d, 0, tick.position)
                return
            applied = True
        if applied:
            d.batches += 1
            d.book.apply_snapshot(d.levels(1), d.levels(0), d.batches)

    def _restart(self, name: str, d: DepthRows, expected: int, got: int) -> None:
        d.accepting = False
        d.book.mark_invalid(expected, got)
        self.resubscribe(name, after_gap=True)
