"""A loopback simulator of an IB Gateway / TWS speaking the TWS API socket protocol (server version 176).

Wire: the client sends `API\\0` and a length-prefixed `v<min>..<max>[ +PACEAPI]`; the server answers with
its version and connection time; every later message is a 4-byte big-endian length and NUL-terminated text
fields. After `startApi` (71) the server sends `nextValidId` (9), `managedAccounts` (15) and the usual
farm-status notices (2104/2106/2158). Field layouts are those ib_async 2.1 and ib_insync 0.9.86 decode at
server version 176 (both accept it; from 178 on ib_async adds fields ib_insync cannot parse).

Served: the startup sync of `IB.connect()` (positions, open and completed orders, account updates and
account-updates-multi, executions), contract details (US stocks on SMART and their listing exchanges; a
request without an exchange returns one detail per exchange, so it is ambiguous), placeOrder (LMT, MKT;
DAY, GTC, IOC; modify by re-sending an open order id), cancelOrder, reqGlobalCancel, openOrder /
orderStatus / execDetails / commissionReport, positions, account values and summary, market data
(bid/ask/last, sizes, volume; snapshots) and market depth. Errors carry IB's codes.

Matching: one seeded background market per stock (`trader.sim.market`) on the pure-Python engine
(`trader.sim.matching`); prices are integer cents, sizes whole shares, money `Decimal`. Marketable orders
fill at the touch; resting limits fill when the market trades through them.

Pacing: more than 50 messages in one second from a client gets error 100 and the message is dropped
(with `+PACEAPI` it is delayed instead); after `pacing_disconnect_after` dropped messages the connection is
closed, as TWS does.

Admin hooks for tests: `state()`, `drop_farm()` (error 1100 and 2103 to every client, market frozen,
orders and cancels refused), `restore_farm(data_lost)` (1101 and market-data subscriptions dropped, or
1102 with subscriptions kept), `reset_depth(symbol)` (error 317 on its depth requests, then every row
again), `drop_connections()`, `hit()` (another participant's order), `step()`.

Shared with the HTTP simulators (`trader.sim.server.VenueServer`): the clock, seeding, the step loop, the
request counts (`requests["TWS <message id>"]`) and `faults`: `latency_ms` and `drop_response_rate` (the
message is processed, its answers are lost and the socket drops) on the messages of `faults.paths`
(`FAULT_PATHS`: placeOrder and cancelOrder), and `stale_feed` (sockets stay open, no market data). The
HTTP faults (429, 5xx) have no TWS counterpart; the admin HTTP API is not served (call the methods).

Deviations from the real gateway: DAY behaves like GTC (no session calendar); a market order's unfilled
remainder is canceled instead of working; commissions follow IBKR's fixed US-stock schedule per execution
(USD 0.005/share, min 1.00, max 1% of value) rather than per order; margin values are a flat 25% of gross
position value; FX, options, futures, what-if orders, algos, OCA groups and FA allocations are not served;
order and execution events go to the owning client only (no master client id); depth rows change as
updates of the rows that differ plus inserts and deletes at the end of the ladder (never a mid-ladder
insert or delete, which the Gateway also sends), one aggregated row per price; the error texts for codes
201 (rejections), 321 and 10147/10148 follow the shape of IB's texts, not a recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import partial
from typing import Any

from trader.clock import Clock
from trader.sim.ibkr import account, protocol
from trader.sim.ibkr.account import account_changed
from trader.sim.ibkr.protocol import (
    DEPTH_RESET,
    LOST,
    MAX_MESSAGES_PER_SECOND,
    RESTORED_KEPT,
    RESTORED_LOST,
    SERVER_VERSION,
    Conn,
    contract_fields,
    decode_order,
    frame,
    read_frame,
    to_int,
    tws_time,
)
from trader.sim.ibkr.state import (
    CENT,
    DEFAULT_ACCOUNT,
    LISTINGS,
    MAX_ACTIVE_PER_SIDE,
    Account,
    Book,
    Execution,
    IbOrder,
    Listing,
    Position,
    RejectError,
    account_state,
    commission,
    px,
)
from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.matching import MatchingEngine, Side, SimOrder, Tif, Trade
from trader.sim.server import VenueServer

FAULT_PATHS = ("TWS 3", "TWS 4")  # faults apply to placeOrder and cancelOrder messages by default


class IbkrSimServer(VenueServer):
    """The simulated Gateway. Shares the base server's clock, seeding, step loop, faults and request
    counts; its transport is the TWS socket, not HTTP (`url` is `tcp://127.0.0.1:PORT`)."""

    FAULT_PATHS = FAULT_PATHS

    venue = "ibkr"

    def __init__(
        self,
        *,
        seed: int = 7,
        clock: Clock | None = None,
        step_ms: int = 100,
        accounts: Iterable[str] = (DEFAULT_ACCOUNT,),
        cash: Decimal = Decimal(1_000_000),
        max_messages_per_second: int = MAX_MESSAGES_PER_SECOND,
        pacing_disconnect_after: int = 100,
        listings: Iterable[Listing] = LISTINGS,
    ) -> None:
        super().__init__(seed=seed, clock=clock, step_ms=step_ms)
        self.max_mps, self.pacing_disconnect_after = max_messages_per_second, pacing_disconnect_after
        self.accounts = {a: Account(a, cash) for a in accounts}
        self.listings = {x.con_id: x for x in listings}
        self.books: dict[int, Book] = {}
        for n, x in enumerate(self.listings.values()):
            engine = MatchingEngine(maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(0), unit_notional=CENT)
            params = MarketParams(mid=x.mid_cents, volatility_ticks=3.0, min_qty=100, max_qty=500)
            market = BackgroundMarket(engine, params, seed=seed * 1000 + n)
            market.seed_book(20)
            self.books[x.con_id] = book = Book(x, engine, market)
            book.top = self._top(book)
        self.orders: dict[int, IbOrder] = {}  # permId -> order
        self.by_client: dict[tuple[int, int], IbOrder] = {}  # (clientId, orderId) -> order
        self.next_order_id: dict[int, int] = {}
        self.executions: list[Execution] = []
        self.conns: set[Conn] = set()
        self.farm_down = False
        self.dropped_messages = 0
        self._perm = itertools.count(1_000_001)
        self._exec = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._dispatch: dict[int, Callable[[Conn, list[str]], object]] = {
            1: self._req_mkt_data,
            2: self._cancel_mkt_data,
            3: self._place_order,
            4: self._cancel_order,
            5: self._req_open_orders,
            6: partial(account.req_account_updates, self),
            7: self._req_executions,
            8: lambda c, f: c.send(9, 1, self._next_id(c)),
            9: self._req_contract_details,
            10: self._req_mkt_depth,
            11: self._cancel_mkt_depth,
            15: lambda c, f: None,  # reqAutoOpenOrders: manual TWS orders do not exist here
            16: self._req_all_open_orders,
            17: lambda c, f: c.send(15, 1, ",".join(self.accounts)),
            49: lambda c, f: c.send(49, 1, self.clock.now_ns() // 1_000_000_000),
            58: self._req_global_cancel,
            59: lambda c, f: None,  # reqMarketDataType: live data is always available here
            61: partial(account.req_positions, self),
            62: partial(account.req_account_summary, self),
            63: lambda c, f: c.summary.pop(to_int(f[2]), None),
            64: partial(account.cancel_positions, self),
            74: partial(account.req_positions_multi, self),
            75: lambda c, f: None,
            76: partial(account.req_account_updates_multi, self),
            77: lambda c, f: c.multi.pop(to_int(f[2]), None),
            99: self._req_completed_orders,
        }

    # ---- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen for API clients; the base step loop moves the market (not with `step_ms=0`: tests step
        it by hand)."""
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.step_ms > 0:
            self._stepper = asyncio.get_running_loop().create_task(self._step_loop())
        return self.port

    async def stop(self) -> None:
        await super().stop()  # the step loop
        if self._server is not None:
            self._server.close()
        await self.drop_connections()
        for task in list(self._handlers):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def drop_connections(self) -> int:
        """Close every API socket now (the gateway restarting or the network dropping)."""
        conns = list(self.conns)
        self.conns.clear()
        for c in conns:
            c.writer.close()
        for c in conns:
            with contextlib.suppress(ConnectionError, OSError):
                await c.writer.wait_closed()
        return len(conns)

    def on_step(self, dt_ns: int) -> None:
        self.step(dt_ns)

    # ---- admin hooks -------------------------------------------------------------------------------

    def step(self, dt_ns: int) -> None:
        """Advance every background market by `dt_ns` and publish what changed (frozen while the farm is
        down)."""
        if self.farm_down:
            return
        for book in self.books.values():
            trades = book.market.step(dt_ns)
            self._settle(book, trades)
            self._publish(book)

    def hit(self, symbol: str, action: str, qty: int, price: Decimal | None = None) -> None:
        """Another participant's order (limit at `price`, or market): lets a test trade through a level."""
        book = self.books[self._listing(symbol).con_id]
        side = Side.BUY if action == "BUY" else Side.SELL
        cents = None if price is None else int(price / CENT)
        o = SimOrder(book.market._id(), "market", side, cents, qty, Tif.IOC)
        self._settle(book, book.engine.submit(o).trades)
        self._publish(book)

    def top(self, symbol: str) -> tuple[Decimal, Decimal]:
        """Best bid and ask now."""
        bid, _, ask, _ = self._top(self.books[self._listing(symbol).con_id])
        return Decimal(bid) * CENT, Decimal(ask) * CENT

    def account_values(self, a: Account) -> dict[str, Decimal]:
        """The account's values by tag, as the Gateway reports them (NetLiquidation, BuyingPower, ...)."""
        return account.account_values(self, a)

    def drop_farm(self) -> None:
        self.farm_down = True
        for c in self._ready():
            c.error(-1, 1100, LOST)
            c.error(-1, 2103, "Market data farm connection is broken:usfarm")

    def restore_farm(self, data_lost: bool = False) -> None:
        self.farm_down = False
        for c in self._ready():
            if data_lost:
                c.mkt.clear()
                c.depth.clear()
                c.depth_sent.clear()
                c.error(-1, 1101, RESTORED_LOST)
            else:
                c.error(-1, 1102, RESTORED_KEPT)
            c.error(-1, 2104, "Market data farm connection is OK:usfarm")
        for book in self.books.values():
            self._publish(book, force=not data_lost)

    def reset_depth(self, symbol: str) -> int:
        """Error 317 to every depth request of `symbol`, then its rows again from scratch as inserts (the
        request stays open, as the Gateway's does when its depth source restarts). Returns how many
        requests were reset."""
        book = self.books[self._listing(symbol).con_id]
        n = 0
        for c in self._ready():
            for req_id, (con_id, _, _) in list(c.depth.items()):
                if con_id == book.listing.con_id:
                    c.error(req_id, 317, DEPTH_RESET)
                    c.depth_sent[req_id] = ([], [])
                    if not self.farm_down:  # else the rows follow once the farm is back
                        self._send_depth(c, req_id, book)
                    n += 1
        return n

    def state(self) -> dict[str, Any]:
        orders, executions = list(self.orders.values()), self.executions
        out = {name: account_state(a, self.listings, orders, executions) for name, a in self.accounts.items()}
        return {
            "accounts": out,
            "clients": sorted(c.client_id for c in self.conns if c.client_id is not None),
            "dropped_messages": self.dropped_messages,
            "farm_down": self.farm_down,
        }

    # ---- the socket --------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        conn = Conn(writer)
        try:
            if await reader.readexactly(4) != b"API\0":
                return
            hello = (await read_frame(reader)).decode(errors="replace")
            versions, _, options = hello.partition(" ")
            lo, _, hi = versions.lstrip("v").partition("..")
            if to_int(hi or lo) < SERVER_VERSION or to_int(lo) > SERVER_VERSION:
                return  # only the layouts of version 176 are served
            conn.version, conn.pace_api = SERVER_VERSION, "+PACEAPI" in options
            writer.write(frame(SERVER_VERSION, tws_time(self.clock.now_ns())))
            self.conns.add(conn)
            while True:
                fields = (await read_frame(reader)).decode(errors="replace").split("\0")[:-1]
                if not fields or not await self._admit(conn):
                    continue
                if conn.client_id is None:
                    if fields[0] == "71" and not self._start_api(conn, fields):
                        return
                    continue
                await self._handle(conn, fields)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self.conns.discard(conn)
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    async def _handle(self, c: Conn, fields: list[str]) -> None:
        """One request of a started client, with the injected faults of its message id (`TWS <id>`)."""
        msg_id = to_int(fields[0], -1)
        name = f"TWS {msg_id}"
        self.requests[name] += 1
        f = self.faults
        hit = f.applies("TWS", str(msg_id))
        if hit and f.latency_ms:
            await self.clock.sleep(f.latency_ms / 1000)
        c.muted = hit and f.roll(f.drop_response_rate)  # processed, but the client never hears back
        handler = self._dispatch.get(msg_id)
        if handler is not None:
            try:
                handler(c, fields)
            except IndexError:
                c.error(-1, 320, "Error reading request: message too short.")
        if c.muted:
            c.writer.transport.abort()

    async def _admit(self, c: Conn) -> bool:
        """The 50 messages/s pacing rule: drop with error 100 (or wait, with +PACEAPI)."""
        now = self.clock.monotonic_ns()
        for q in (c.times, c.seen):
            while q and now - q[0] >= 1_000_000_000:
                q.popleft()
        c.seen.append(now)
        if len(c.times) < self.max_mps:
            c.times.append(now)
            return True
        if c.pace_api:
            c.seen.pop()
            await self.clock.sleep((c.times[0] + 1_000_000_000 - now) / 1e9)
            return await self._admit(c)
        c.dropped += 1
        self.dropped_messages += 1
        text = f"Max rate of messages per second has been exceeded:max={self.max_mps} rec={len(c.seen)} (1)"
        c.error(-1, 100, text)
        if c.dropped > self.pacing_disconnect_after:
            self.conns.discard(c)
            c.writer.close()
        return False

    def _start_api(self, c: Conn, f: list[str]) -> bool:
        client_id = to_int(f[2], -1)
        if any(o.client_id == client_id for o in self._ready()):
            c.error(
                -1,
                326,
                "Unable to connect as the client id is already in use. Retry with a unique client id.",
            )
            return False
        c.client_id = client_id
        c.send(15, 1, ",".join(self.accounts))
        c.send(9, 1, self._next_id(c))
        c.error(-1, 2104, "Market data farm connection is OK:usfarm")
        c.error(-1, 2106, "HMDS data farm connection is OK:ushmds")
        c.error(-1, 2158, "Sec-def data farm connection is OK:secdefil")
        if self.farm_down:
            c.error(-1, 1100, LOST)
        return True

    def _ready(self) -> list[Conn]:
        return [c for c in self.conns if c.client_id is not None]

    def _owners(self, o: IbOrder) -> list[Conn]:
        return [c for c in self.conns if c.client_id == o.client_id]

    def _next_id(self, c: Conn) -> int:
        return self.next_order_id.get(c.client_id or 0, 1)

    def _tws_time(self, ns: int | None = None) -> str:
        return tws_time(self.clock.now_ns() if ns is None else ns)

    # ---- contracts ---------------------------------------------------------------------------------

    def _listing(self, symbol: str) -> Listing:
        for x in self.listings.values():
            if x.symbol == symbol:
                return x
        raise KeyError(symbol)

    def _match(self, k: dict[str, str]) -> list[tuple[Listing, str]]:
        """Listings (with the exchange each detail names) that a request's contract fields describe."""
        con_id = to_int(k["conId"])
        out: list[tuple[Listing, str]] = []
        for x in self.listings.values():
            if con_id and x.con_id != con_id:
                continue
            if not con_id and k["symbol"].upper() != x.symbol and k["localSymbol"].upper() != x.symbol:
                continue
            if k["secType"] not in ("", "STK") or k["currency"] not in ("", x.currency):
                continue
            if k["primaryExchange"] not in ("", x.primary):
                continue
            exchange = k["exchange"]
            if exchange:
                if exchange in x.exchanges or exchange == x.primary:
                    out.append((x, exchange))
            elif con_id:
                out.append((x, "SMART"))
            else:
                out.extend((x, e) for e in dict.fromkeys((*x.exchanges, x.primary)))
        return out

    def _resolve(self, k: dict[str, str]) -> tuple[Listing, str]:
        if not k["exchange"]:
            raise RejectError(321, "Error validating request.-'bN' : cause - Missing order exchange")
        found = self._match(k)
        if not found:
            raise RejectError(200, "No security definition has been found for the request")
        if len(found) > 1:
            raise RejectError(200, f"The contract description specified for {k['symbol']} is ambiguous.")
        return found[0]

    def _req_contract_details(self, c: Conn, f: list[str]) -> None:
        req_id = to_int(f[2])
        found = self._match(contract_fields(f, 3))
        if not found:
            c.error(req_id, 200, "No security definition has been found for the request")
            return
        for x, exchange in found:
            c.send(*protocol.contract_details_fields(req_id, x, exchange))
        c.send(52, 1, req_id)

    # ---- orders ------------------------------------------------------------------------------------

    def _place_order(self, c: Conn, f: list[str]) -> None:
        order_id = to_int(f[1])
        client_id = c.client_id or 0
        try:
            if self.farm_down:
                raise RejectError(201, f"Order rejected - reason:{LOST}")
            listing, exchange = self._resolve(contract_fields(f, 2))
            t = decode_order(f)
            account = self._order_account(t.account)
            existing = self.by_client.get((client_id, order_id))
            if existing is not None:
                self._modify(existing, listing, t.action, t.qty, t.order_type, t.lmt)
                return
            if order_id < self._next_id(c):
                raise RejectError(103, "Duplicate order id")
            self._check_active(account, listing, t.action)
        except RejectError as e:
            c.error(order_id, e.code, e.text)
            return
        self.next_order_id[client_id] = max(self._next_id(c), order_id + 1)
        o = IbOrder(
            next(self._perm),
            order_id,
            client_id,
            account,
            listing,
            exchange,
            t.action,
            t.qty,
            t.order_type,
            t.lmt,
            t.tif or "DAY",
            t.order_ref,
        )
        self.orders[o.perm_id] = o
        self.by_client[(client_id, order_id)] = o
        self._report(o)
        self._submit(o, o.qty)

    def _order_account(self, account: str) -> str:
        """The order's account: the one named, or the only one of the login."""
        if not account:
            if len(self.accounts) > 1:
                raise RejectError(
                    436, "You must specify an allocation (either a single account, group, or profile)."
                )
            account = next(iter(self.accounts))
        if account not in self.accounts:
            raise RejectError(321, f"Error validating request.-'bN' : cause - Invalid account code {account}")
        return account

    def _check_active(self, account: str, listing: Listing, action: str) -> None:
        """At most MAX_ACTIVE_PER_SIDE active orders per contract, side and account."""
        side_open = [
            o
            for o in self.orders.values()
            if o.is_open and o.account == account and o.listing is listing and o.action == action
        ]
        if len(side_open) >= MAX_ACTIVE_PER_SIDE:
            raise RejectError(
                201,
                f"Order rejected - reason:The number of active orders for {listing.symbol} on the "
                f"{action} side exceeds the limit of {MAX_ACTIVE_PER_SIDE}.",
            )

    def _submit(self, o: IbOrder, qty: int) -> None:
        book = self.books[o.listing.con_id]
        side = Side.BUY if o.action == "BUY" else Side.SELL
        ioc = o.tif == "IOC" or o.lmt is None
        r = book.engine.submit(SimOrder(o.perm_id, "api", side, o.lmt, qty, Tif.IOC if ioc else Tif.GTC))
        self._settle(book, r.trades)
        if o.is_open and not r.resting:
            self._finish(o, "Cancelled")
        self._publish(book)

    def _modify(
        self, o: IbOrder, listing: Listing, action: str, qty: int, order_type: str, lmt: int | None
    ) -> None:
        if not o.is_open:
            raise RejectError(103, "Duplicate order id")
        if listing is not o.listing or action != o.action or order_type != o.order_type:
            raise RejectError(105, "Order being modified does not match original order.")
        if qty <= o.filled:
            raise RejectError(434, "The order size cannot be zero.")
        self.books[o.listing.con_id].engine.cancel(o.perm_id)
        o.qty, o.lmt = qty, lmt
        self._report(o)
        self._submit(o, qty - o.filled)

    def _cancel_order(self, c: Conn, f: list[str]) -> None:
        order_id = to_int(f[2])
        o = self.by_client.get((c.client_id or 0, order_id))
        if o is None:
            c.error(order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found.")
        elif self.farm_down:
            c.error(
                order_id,
                161,
                f"Cancel attempted when order is not in a cancellable state. Order permId ={o.perm_id}",
            )
        elif not o.is_open:
            c.error(
                order_id,
                10148,
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {o.status}.",
            )
        else:
            self._cancel(o)

    def _cancel(self, o: IbOrder) -> None:
        book = self.books[o.listing.con_id]
        book.engine.cancel(o.perm_id)
        self._finish(o, "Cancelled")
        for c in self._owners(o):
            c.error(o.order_id, 202, "Order Canceled - reason:")
        self._publish(book)

    def _req_global_cancel(self, c: Conn, f: list[str]) -> None:
        if self.farm_down:
            c.error(-1, 161, "Cancel attempted when order is not in a cancellable state.")
            return
        for o in list(self.orders.values()):
            if o.is_open:
                self._cancel(o)

    def _finish(self, o: IbOrder, status: str) -> None:
        o.status = status
        o.done_ns = self.clock.now_ns()
        self._report(o)

    def _report(self, o: IbOrder) -> None:
        for c in self._owners(o):
            c.send(*protocol.open_order_fields(o))
            self._send_status(c, o)

    def _send_status(self, c: Conn, o: IbOrder) -> None:
        c.send(*protocol.status_fields(o))

    def _settle(self, book: Book, trades: Iterable[Trade]) -> None:
        for t in trades:
            book.last, book.last_size = t.price, t.qty
            book.volume += t.qty
            for oid, liquidity in ((t.maker_order_id, 1), (t.taker_order_id, 2)):
                o = self.orders.get(oid)
                if o is not None:
                    self._fill(o, t.price, t.qty, liquidity)

    def _fill(self, o: IbOrder, cents: int, qty: int, liquidity: int) -> None:
        o.filled += qty
        o.notional += cents * qty
        o.last_fill = cents
        fee = commission(qty, cents)
        account = self.accounts[o.account]
        signed = qty if o.action == "BUY" else -qty
        price = Decimal(cents) * CENT
        pos = account.positions.setdefault(o.listing.con_id, Position())
        was = pos.qty
        realized = pos.apply(signed, price, fee)
        account.realized += realized
        account.cash -= signed * price + fee
        closing = was != 0 and (was > 0) != (signed > 0)
        x = Execution(
            f"{next(self._exec):08x}.{o.perm_id:08x}.01.01",
            o,
            qty,
            cents,
            self.clock.now_ns(),
            o.filled,
            o.avg_price(),
            liquidity,
            fee,
            realized if closing else None,
        )
        self.executions.append(x)
        if o.filled >= o.qty:
            o.status, o.done_ns = "Filled", x.ts_ns
        for c in self._owners(o):
            c.send(*protocol.exec_fields(-1, x))
            c.send(*protocol.open_order_fields(o))
            self._send_status(c, o)
            c.send(*protocol.commission_fields(x))
        account_changed(self, account, o.listing.con_id)

    # ---- order, execution and position messages ---------------------------------------------------

    def _req_open_orders(self, c: Conn, f: list[str]) -> None:
        self._send_open(c, [o for o in self.orders.values() if o.is_open and o.client_id == c.client_id])

    def _req_all_open_orders(self, c: Conn, f: list[str]) -> None:
        self._send_open(c, [o for o in self.orders.values() if o.is_open])

    def _send_open(self, c: Conn, orders: list[IbOrder]) -> None:
        for o in orders:
            c.send(*protocol.open_order_fields(o))
            self._send_status(c, o)
        c.send(53, 1)

    def _req_completed_orders(self, c: Conn, f: list[str]) -> None:
        for o in self.orders.values():
            if not o.is_open:
                c.send(*protocol.completed_order_fields(o))
        c.send(102)

    def _req_executions(self, c: Conn, f: list[str]) -> None:
        req_id, client_id, acct, since = to_int(f[2]), to_int(f[3]), f[4], f[5]
        symbol, sec_type, exchange, side = f[6], f[7], f[8], f[9]
        since_ns = 0
        if since:
            with contextlib.suppress(ValueError):
                t = dt.datetime.strptime(since.replace("-", " ")[:17] + " +0000", "%Y%m%d %H:%M:%S %z")
                since_ns = int(t.timestamp()) * 1_000_000_000
        for x in self.executions:
            o = x.order
            if (
                (client_id and o.client_id != client_id)
                or (acct and o.account != acct)
                or x.ts_ns < since_ns
                or (symbol and o.listing.symbol != symbol)
                or sec_type not in ("", "STK")
                or (exchange and exchange not in (o.exchange, o.listing.primary))
                or (side and side[:1] != ("B" if o.action == "BUY" else "S"))
            ):
                continue
            c.send(*protocol.exec_fields(req_id, x))
            c.send(*protocol.commission_fields(x))
        c.send(55, 1, req_id)

    # ---- market data -------------------------------------------------------------------------------

    @staticmethod
    def _top(book: Book) -> tuple[int, int, int, int]:
        bids, asks = book.engine.depth(1)
        b, a = bids[0] if bids else (0, 0), asks[0] if asks else (0, 0)
        return b[0], b[1], a[0], a[1]

    def _req_mkt_data(self, c: Conn, f: list[str]) -> None:
        req_id = to_int(f[2])
        found = self._match(contract_fields(f, 3))
        if len(found) != 1:
            c.error(req_id, 200, "No security definition has been found for the request")
            return
        book = self.books[found[0][0].con_id]
        snapshot = len(f) > 17 and f[17] == "1"
        c.send(58, 1, req_id, 1)
        bid, bid_size, ask, ask_size = book.top
        if not (self.farm_down or self.faults.stale_feed):
            c.send(1, 6, req_id, 1, px(bid), bid_size, 0)
            c.send(1, 6, req_id, 2, px(ask), ask_size, 0)
            if book.last:
                c.send(1, 6, req_id, 4, px(book.last), book.last_size, 0)
            c.send(2, 6, req_id, 8, book.volume)
        if snapshot:
            c.send(57, 1, req_id)
        else:
            c.mkt[req_id] = book.listing.con_id

    def _cancel_mkt_data(self, c: Conn, f: list[str]) -> None:
        c.mkt.pop(to_int(f[2]), None)

    def _req_mkt_depth(self, c: Conn, f: list[str]) -> None:
        req_id = to_int(f[2])
        found = self._match(contract_fields(f, 3))
        if len(found) != 1:
            c.error(req_id, 200, "No security definition has been found for the request")
            return
        rows = max(1, min(to_int(f[15], 5), 10))
        c.depth[req_id] = (found[0][0].con_id, rows, f[16] == "1")
        c.depth_sent[req_id] = ([], [])
        if not self.faults.stale_feed:  # else the rows come with the first update after it
            self._send_depth(c, req_id, self.books[found[0][0].con_id])

    def _cancel_mkt_depth(self, c: Conn, f: list[str]) -> None:
        c.depth.pop(to_int(f[2]), None)
        c.depth_sent.pop(to_int(f[2]), None)

    def _send_depth(self, c: Conn, req_id: int, book: Book) -> None:
        _, rows, smart = c.depth[req_id]
        new = book.engine.depth(rows)
        old = c.depth_sent[req_id]
        for side, (n, o) in ((1, (new[0], old[0])), (0, (new[1], old[1]))):
            for pos in range(max(len(n), len(o)) - 1, -1, -1):  # deletes from the back first
                if pos >= len(n):
                    c.send(*protocol.depth_row(smart, req_id, book.listing.primary, pos, 2, side, o[pos]))
            for pos, level in enumerate(n):
                if pos >= len(o):
                    c.send(*protocol.depth_row(smart, req_id, book.listing.primary, pos, 0, side, level))
                elif o[pos] != level:
                    c.send(*protocol.depth_row(smart, req_id, book.listing.primary, pos, 1, side, level))
        c.depth_sent[req_id] = (list(new[0]), list(new[1]))

    def _publish(self, book: Book, force: bool = False) -> None:
        if self.farm_down or self.faults.stale_feed:  # a stale feed: sockets open, no market data
            return
        top, old = self._top(book), book.top
        book.top = top
        traded = book.volume > 0 and (book.volume, book.last) != book.sent_trade
        book.sent_trade = (book.volume, book.last)
        for c in self._ready():
            for req_id, con_id in c.mkt.items():
                if con_id != book.listing.con_id:
                    continue
                if force or top[:2] != old[:2]:
                    c.send(1, 6, req_id, 1, px(top[0]), top[1], 0)
                if force or top[2:] != old[2:]:
                    c.send(1, 6, req_id, 2, px(top[2]), top[3], 0)
                if traded:
                    c.send(1, 6, req_id, 4, px(book.last), book.last_size, 0)
                    c.send(2, 6, req_id, 8, book.volume)
            for req_id, (con_id, _, _) in c.depth.items():
                if con_id == book.listing.con_id:
                    self._send_depth(c, req_id, book)
