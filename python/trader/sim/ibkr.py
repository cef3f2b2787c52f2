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
import struct
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from trader.clock import Clock, LiveClock
from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.matching import MatchingEngine, Side, SimOrder, Tif, Trade

SERVER_VERSION = 176
MIN_CLIENT_VERSION = 157
MAX_MESSAGES_PER_SECOND = 50
DEFAULT_ACCOUNT = "DU1234567"
UNSET_DOUBLE = "1.7976931348623157E308"  # what TWS sends for "no value" in doubles (e.g. realizedPNL)
MAX_ACTIVE_PER_SIDE = 20  # active orders per contract per side per account

LOST = "Connectivity between IB and Trader Workstation has been lost."
RESTORED_LOST = "Connectivity between IB and Trader Workstation has been restored - data lost."
RESTORED_KEPT = "Connectivity between IB and Trader Workstation has been restored - data maintained."
DEPTH_RESET = (
    "Market depth data has been RESET. Please empty deep book contents before applying any new entries."
)

CENT = Decimal("0.01")
ACCOUNT_TAGS = (
    "NetLiquidation",
    "TotalCashValue",
    "SettledCash",
    "BuyingPower",
    "AvailableFunds",
    "ExcessLiquidity",
    "EquityWithLoanValue",
    "GrossPositionValue",
    "InitMarginReq",
    "MaintMarginReq",
    "RealizedPnL",
    "UnrealizedPnL",
)


@dataclass(frozen=True)
class Listing:
    con_id: int
    symbol: str
    primary: str  # primary listing exchange
    exchanges: tuple[str, ...]  # routable exchanges, SMART first
    long_name: str
    stock_type: str
    mid_cents: int  # where the background market starts
    currency: str = "USD"


_US = ("SMART", "AMEX", "NYSE", "CBOE", "ARCA", "ISLAND", "BATS", "IEX")
LISTINGS: tuple[Listing, ...] = (
    Listing(756733, "SPY", "ARCA", _US, "SPDR S&P 500 ETF TRUST", "ETF", 60_000),
    Listing(320227571, "QQQ", "NASDAQ", (*_US, "NASDAQ"), "INVESCO QQQ TRUST SERIES 1", "ETF", 52_000),
    Listing(265598, "AAPL", "NASDAQ", (*_US, "NASDAQ"), "APPLE INC", "COMMON", 23_000),
    Listing(272093, "MSFT", "NASDAQ", (*_US, "NASDAQ"), "MICROSOFT CORP", "COMMON", 42_000),
    Listing(8314, "IBM", "NYSE", _US, "INTL BUSINESS MACHINES CORP", "COMMON", 25_000),
)


class RejectError(Exception):
    """An IB error answer to one request: code and text, sent with the request's id."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


def px(cents: int) -> str:
    return f"{Decimal(cents) * CENT:f}"


def money(d: Decimal) -> str:
    return f"{d.quantize(CENT):f}"


def frame(*fields: object) -> bytes:
    payload = "".join(f"{'' if f is None else f}\0" for f in fields).encode()
    return struct.pack(">I", len(payload)) + payload


def commission(shares: int, cents: int) -> Decimal:
    """IBKR fixed pricing for US stocks: USD 0.005 a share, at least 1.00, at most 1% of trade value."""
    value = Decimal(shares * cents) * CENT
    return min(max(Decimal("0.005") * shares, Decimal(1)), value / 100).quantize(Decimal("0.0001"))


@dataclass
class Position:
    qty: int = 0
    cost: Decimal = Decimal(0)  # signed cost basis including commissions

    @property
    def avg_cost(self) -> Decimal:
        return self.cost / self.qty if self.qty else Decimal(0)

    def apply(self, signed: int, price: Decimal, fee: Decimal) -> Decimal:
        """Book a fill; returns the realized PnL (None of it when the fill only opens or adds)."""
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            self.qty += signed
            self.cost += signed * price + fee
            return Decimal(0)
        closing = max(-abs(self.qty), min(abs(self.qty), signed))  # the part that reduces the position
        avg = self.avg_cost
        realized = (avg - price) * closing - fee
        self.qty += closing
        self.cost = avg * self.qty
        rest = signed - closing
        if rest:
            self.qty += rest
            self.cost = rest * price
        return realized


@dataclass
class Account:
    name: str
    cash: Decimal
    positions: dict[int, Position] = field(default_factory=dict)
    realized: Decimal = Decimal(0)


@dataclass
class IbOrder:
    perm_id: int
    order_id: int
    client_id: int
    account: str
    listing: Listing
    exchange: str
    action: str  # BUY / SELL
    qty: int
    order_type: str  # LMT / MKT
    lmt: int | None  # cents
    tif: str
    order_ref: str
    status: str = "Submitted"
    filled: int = 0
    notional: int = 0  # sum of cents * shares filled
    last_fill: int = 0
    done_ns: int = 0

    @property
    def remaining(self) -> int:
        return self.qty - self.filled if self.status not in ("Cancelled", "Filled", "Inactive") else 0

    @property
    def is_open(self) -> bool:
        return self.status in ("Submitted", "PreSubmitted")

    def avg_price(self) -> str:
        return f"{(Decimal(self.notional) * CENT / self.filled):f}" if self.filled else "0"


@dataclass
class Execution:
    exec_id: str
    order: IbOrder
    shares: int
    price: int  # cents
    ts_ns: int
    cum_qty: int
    avg_price: str
    liquidity: int  # 1 added, 2 removed
    commission: Decimal
    realized: Decimal | None


@dataclass
class _Book:
    listing: Listing
    engine: MatchingEngine
    market: BackgroundMarket
    last: int = 0
    last_size: int = 0
    volume: int = 0
    top: tuple[int, int, int, int] = (0, 0, 0, 0)  # bid, bid size, ask, ask size (cents, shares)
    sent_trade: tuple[int, int] = (0, 0)  # (volume, last) last published


class _Conn:
    def __init__(self, server: IbkrSimServer, writer: asyncio.StreamWriter) -> None:
        self.server, self.writer = server, writer
        self.client_id: int | None = None
        self.version = 0
        self.pace_api = False
        self.times: deque[int] = deque()  # admitted messages in the last second
        self.seen: deque[int] = deque()  # every message in the last second
        self.dropped = 0
        self.mkt: dict[int, int] = {}  # reqId -> conId
        self.depth: dict[int, tuple[int, int, bool]] = {}  # reqId -> conId, rows, smart
        self.depth_sent: dict[int, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {}
        self.positions_sub = False
        self.account_sub = ""
        self.multi: dict[int, str] = {}  # reqId -> account
        self.summary: dict[int, list[str]] = {}  # reqId -> tags

    def send(self, *fields: object) -> None:
        if not self.writer.is_closing():
            self.writer.write(frame(*fields))

    def error(self, req_id: int, code: int, text: str) -> None:
        self.send(4, 2, req_id, code, text, "")


def _contract(f: list[str], i: int) -> dict[str, str]:
    keys: tuple[str, ...] = (
        "conId",
        "symbol",
        "secType",
        "lastTrade",
        "strike",
        "right",
        "multiplier",
        "exchange",
    )
    keys += ("primaryExchange", "currency", "localSymbol", "tradingClass")
    return {k: (f[i + n] if i + n < len(f) else "") for n, k in enumerate(keys)}


def _int(s: str, default: int = 0) -> int:
    try:
        return int(s) if s else default
    except ValueError:
        return default


class IbkrSimServer:
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
        self.seed, self.step_ms = seed, step_ms
        self.clock: Clock = clock or LiveClock()
        self.max_mps, self.pacing_disconnect_after = max_messages_per_second, pacing_disconnect_after
        self.accounts = {a: Account(a, cash) for a in accounts}
        self.listings = {x.con_id: x for x in listings}
        self.books: dict[int, _Book] = {}
        for n, x in enumerate(self.listings.values()):
            engine = MatchingEngine(maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(0), unit_notional=CENT)
            params = MarketParams(mid=x.mid_cents, volatility_ticks=3.0, min_qty=100, max_qty=500)
            market = BackgroundMarket(engine, params, seed=seed * 1000 + n)
            market.seed_book(20)
            self.books[x.con_id] = book = _Book(x, engine, market)
            book.top = self._top(book)
        self.orders: dict[int, IbOrder] = {}  # permId -> order
        self.by_client: dict[tuple[int, int], IbOrder] = {}  # (clientId, orderId) -> order
        self.next_order_id: dict[int, int] = {}
        self.executions: list[Execution] = []
        self.conns: set[_Conn] = set()
        self.farm_down = False
        self.dropped_messages = 0
        self._perm = itertools.count(1_000_001)
        self._exec = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._stepper: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0
        self._dispatch: dict[int, Callable[[_Conn, list[str]], object]] = {
            1: self._req_mkt_data,
            2: self._cancel_mkt_data,
            3: self._place_order,
            4: self._cancel_order,
            5: self._req_open_orders,
            6: self._req_account_updates,
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
            61: self._req_positions,
            62: self._req_account_summary,
            63: lambda c, f: c.summary.pop(_int(f[2]), None),
            64: self._cancel_positions,
            74: self._req_positions_multi,
            75: lambda c, f: None,
            76: self._req_account_updates_multi,
            77: lambda c, f: c.multi.pop(_int(f[2]), None),
            99: self._req_completed_orders,
        }

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.step_ms > 0:
            self._stepper = asyncio.get_running_loop().create_task(self._step_loop())
        return self.port

    async def stop(self) -> None:
        if self._stepper is not None:
            self._stepper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stepper
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

    async def _step_loop(self) -> None:
        while True:
            await self.clock.sleep(self.step_ms / 1000)
            self.step(self.step_ms * 1_000_000)

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
        out: dict[str, Any] = {}
        for name, a in self.accounts.items():
            out[name] = {
                "cash": money(a.cash),
                "realized": money(a.realized),
                "positions": {
                    self.listings[cid].symbol: {"qty": p.qty, "avgCost": f"{p.avg_cost:.6f}"}
                    for cid, p in a.positions.items()
                },
                "orders": [
                    {
                        "permId": o.perm_id,
                        "orderId": o.order_id,
                        "clientId": o.client_id,
                        "symbol": o.listing.symbol,
                        "action": o.action,
                        "type": o.order_type,
                        "tif": o.tif,
                        "price": px(o.lmt) if o.lmt is not None else "",
                        "qty": o.qty,
                        "filled": o.filled,
                        "status": o.status,
                        "orderRef": o.order_ref,
                    }
                    for o in self.orders.values()
                    if o.account == name
                ],
                "executions": [
                    {
                        "execId": x.exec_id,
                        "permId": x.order.perm_id,
                        "symbol": x.order.listing.symbol,
                        "side": "BOT" if x.order.action == "BUY" else "SLD",
                        "shares": x.shares,
                        "price": px(x.price),
                        "commission": f"{x.commission:f}",
                        "orderRef": x.order.order_ref,
                    }
                    for x in self.executions
                    if x.order.account == name
                ],
            }
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
        conn = _Conn(self, writer)
        try:
            if await reader.readexactly(4) != b"API\0":
                return
            hello = (await self._read(reader)).decode(errors="replace")
            versions, _, options = hello.partition(" ")
            lo, _, hi = versions.lstrip("v").partition("..")
            if _int(hi or lo) < SERVER_VERSION or _int(lo) > SERVER_VERSION:
                return  # only the layouts of version 176 are served
            conn.version, conn.pace_api = SERVER_VERSION, "+PACEAPI" in options
            writer.write(frame(SERVER_VERSION, self._tws_time()))
            self.conns.add(conn)
            while True:
                fields = (await self._read(reader)).decode(errors="replace").split("\0")[:-1]
                if not fields or not await self._admit(conn):
                    continue
                if conn.client_id is None:
                    if fields[0] == "71" and not self._start_api(conn, fields):
                        return
                    continue
                handler = self._dispatch.get(_int(fields[0], -1))
                if handler is not None:
                    try:
                        handler(conn, fields)
                    except IndexError:
                        conn.error(-1, 320, "Error reading request: message too short.")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self.conns.discard(conn)
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> bytes:
        (n,) = struct.unpack(">I", await reader.readexactly(4))
        return await reader.readexactly(n)

    async def _admit(self, c: _Conn) -> bool:
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

    def _start_api(self, c: _Conn, f: list[str]) -> bool:
        client_id = _int(f[2], -1)
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

    def _ready(self) -> list[_Conn]:
        return [c for c in self.conns if c.client_id is not None]

    def _owners(self, o: IbOrder) -> list[_Conn]:
        return [c for c in self.conns if c.client_id == o.client_id]

    def _next_id(self, c: _Conn) -> int:
        return self.next_order_id.get(c.client_id or 0, 1)

    def _tws_time(self, ns: int | None = None) -> str:
        t = dt.datetime.fromtimestamp((self.clock.now_ns() if ns is None else ns) / 1e9, dt.UTC)
        return t.strftime("%Y%m%d %H:%M:%S UTC")

    # ---- contracts ---------------------------------------------------------------------------------

    def _listing(self, symbol: str) -> Listing:
        for x in self.listings.values():
            if x.symbol == symbol:
                return x
        raise KeyError(symbol)

    def _match(self, k: dict[str, str]) -> list[tuple[Listing, str]]:
        """Listings (with the exchange each detail names) that a request's contract fields describe."""
        con_id = _int(k["conId"])
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

    def _req_contract_details(self, c: _Conn, f: list[str]) -> None:
        req_id = _int(f[2])
        found = self._match(_contract(f, 3))
        if not found:
            c.error(req_id, 200, "No security definition has been found for the request")
            return
        for x, exchange in found:
            c.send(
                10, req_id, x.symbol, "STK", "", "0", "", exchange, x.currency, x.symbol,  # ..localSymbol
                "NMS", x.symbol, x.con_id, "0.01", "",  # marketName, tradingClass, conId, minTick, multiplier
                "ACTIVETIM,AD,ALERT,ALLOC,DAY,GTC,IOC,LMT,MKT,NONALGO", ",".join(x.exchanges),
                1, 0, x.long_name, x.primary, "", "", "", "",  # priceMagnifier .. subcategory
                "US/Eastern", "20260101:0400-20260101:2000", "20260101:0930-20260101:1600",
                "", "", 0, 1, "", "",  # evRule, evMultiplier, secIdList, aggGroup, underSymbol/SecType
                ",".join("26" for _ in x.exchanges), "", x.stock_type,  # marketRuleIds .. stockType
                "0.0001", "0.0001", "100",  # minSize, sizeIncrement, suggestedSizeIncrement
            )  # fmt: skip
        c.send(52, 1, req_id)

    # ---- orders ------------------------------------------------------------------------------------

    def _place_order(self, c: _Conn, f: list[str]) -> None:
        order_id = _int(f[1])
        client_id = c.client_id or 0
        try:
            if self.farm_down:
                raise RejectError(201, f"Order rejected - reason:{LOST}")
            listing, exchange = self._resolve(_contract(f, 2))
            action, qty_s, order_type, lmt_s, tif = f[16], f[17], f[18].upper(), f[19], f[21].upper()
            account, order_ref = f[23] or "", f[26]
            if action not in ("BUY", "SELL"):
                raise RejectError(321, f"Error validating request.-'bN' : cause - Invalid side {action}")
            if order_type not in ("LMT", "MKT"):
                raise RejectError(387, "Unsupported order type for this exchange and security type.")
            if tif not in ("DAY", "GTC", "IOC", ""):
                raise RejectError(
                    321, f"Error validating request.-'bN' : cause - Invalid time in force {tif}"
                )
            try:
                qty_d = Decimal(qty_s or "0")
            except InvalidOperation:
                raise RejectError(
                    321, "Error validating request.-'bN' : cause - Invalid order size"
                ) from None
            if qty_d <= 0:
                raise RejectError(434, "The order size cannot be zero.")
            if qty_d != qty_d.to_integral_value():
                raise RejectError(10243, "Fractional-sized order cannot be placed via API.")
            lmt: int | None = None
            if order_type == "LMT":
                try:
                    price = Decimal(lmt_s)
                except InvalidOperation:
                    raise RejectError(201, "Order rejected - reason:Missing or invalid limit price") from None
                if not price.is_finite() or price <= 0:
                    raise RejectError(201, "Order rejected - reason:Missing or invalid limit price")
                if price % CENT:
                    raise RejectError(
                        110, "The price does not conform to the minimum price variation for this contract."
                    )
                lmt = int(price / CENT)
            if not account:
                if len(self.accounts) > 1:
                    raise RejectError(
                        436, "You must specify an allocation (either a single account, group, or profile)."
                    )
                account = next(iter(self.accounts))
            if account not in self.accounts:
                raise RejectError(
                    321, f"Error validating request.-'bN' : cause - Invalid account code {account}"
                )
            existing = self.by_client.get((client_id, order_id))
            if existing is not None:
                self._modify(existing, listing, action, int(qty_d), order_type, lmt)
                return
            if order_id < self._next_id(c):
                raise RejectError(103, "Duplicate order id")
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
            action,
            int(qty_d),
            order_type,
            lmt,
            tif or "DAY",
            order_ref,
        )
        self.orders[o.perm_id] = o
        self.by_client[(client_id, order_id)] = o
        self._report(o)
        self._submit(o, o.qty)

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

    def _cancel_order(self, c: _Conn, f: list[str]) -> None:
        order_id = _int(f[2])
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

    def _req_global_cancel(self, c: _Conn, f: list[str]) -> None:
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
            c.send(*self._open_order_fields(o))
            self._send_status(c, o)

    def _send_status(self, c: _Conn, o: IbOrder) -> None:
        c.send(
            3, o.order_id, o.status, o.filled, o.qty - o.filled if o.is_open else 0, o.avg_price(),
            o.perm_id, 0, px(o.last_fill) if o.last_fill else "0", o.client_id, "", "0",
        )  # fmt: skip

    def _settle(self, book: _Book, trades: Iterable[Trade]) -> None:
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
            c.send(*self._exec_fields(-1, x))
            c.send(*self._open_order_fields(o))
            self._send_status(c, o)
            c.send(*self._commission_fields(x))
        self._account_changed(account, o.listing.con_id)

    # ---- order, execution and position messages ---------------------------------------------------

    @staticmethod
    def _contract11(x: Listing, exchange: str) -> tuple[object, ...]:
        return (x.con_id, x.symbol, "STK", "", "0", "", "", exchange, x.currency, x.symbol, x.symbol)

    def _open_order_fields(self, o: IbOrder) -> list[object]:
        lmt = px(o.lmt) if o.lmt is not None else ""
        f: list[object] = [5, o.order_id, *self._contract11(o.listing, o.exchange)]
        f += [o.action, o.qty, o.order_type, lmt, "", o.tif, "", o.account, "", 0, o.order_ref, o.client_id]
        f += [o.perm_id, 0, 0, "0", "", "", "", "", "", ""]  # ... outsideRth .. faPercentage, faProfile
        f += [""] * 29  # modelCode .. deltaNeutralAuxPrice (no delta-neutral order type)
        f += [""] * 7  # continuousUpdate .. comboLegsDescrip
        f += [0, 0, 0]  # combo legs, order combo legs, smart combo routing params
        f += ["", "", ""]  # scale init/subs level size, price increment
        f += [""]  # hedgeType
        f += ["", "", "", "0", 0]  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, dnc
        f += [""]  # algoStrategy
        f += ["0", "0", o.status] + [""] * 14 + ["0", "0"]  # solicited, whatIf, state, ..., randomize
        f += [0]  # conditions
        f += [""] * 16  # adjustedOrderType .. usePriceMgmtAlgo
        f += ["", "", ""]  # duration, postToAts, autoCancelParent
        f += [""] * 5  # minTradeQty .. midOffsetAtHalf
        return f

    def _completed_order_fields(self, o: IbOrder) -> list[object]:
        lmt = px(o.lmt) if o.lmt is not None else ""
        f: list[object] = [101, *self._contract11(o.listing, o.exchange)]
        f += [o.action, o.qty, o.order_type, lmt, "", o.tif, "", o.account, "", 0, o.order_ref]
        f += [o.perm_id, 0, 0, "0", "", "", "", "", ""]  # permId .. faPercentage, faProfile
        f += [""] * 23  # modelCode .. deltaNeutralAuxPrice
        f += [""] * 5  # continuousUpdate .. comboLegsDescrip
        f += [0, 0, 0, "", "", "", ""]  # legs, params, scale sizes and increment, hedgeType
        f += ["", "", "0", 0, ""]  # clearingAccount, clearingIntent, notHeld, dnc, algoStrategy
        f += ["0", o.status, "0", "0", 0]  # solicited, status, randomize size/price, conditions
        f += [""] * 6 + [o.filled, "", "", "", "", "", ""]  # trailStopPrice .. parentPermId
        f += [self._tws_time(o.done_ns), o.status]  # completedTime, completedStatus
        f += [""] * 5
        return f

    def _exec_fields(self, req_id: int, x: Execution) -> list[object]:
        o = x.order
        return [
            11, req_id, o.order_id, *self._contract11(o.listing, o.exchange), x.exec_id,
            self._tws_time(x.ts_ns), o.account, o.exchange if o.exchange != "SMART" else o.listing.primary,
            "BOT" if o.action == "BUY" else "SLD", x.shares, px(x.price), o.perm_id, o.client_id, 0,
            x.cum_qty, x.avg_price, o.order_ref, "", "", "", x.liquidity,
        ]  # fmt: skip

    @staticmethod
    def _commission_fields(x: Execution) -> list[object]:
        realized = f"{x.realized.quantize(Decimal('0.0001')):f}" if x.realized is not None else UNSET_DOUBLE
        return [59, 1, x.exec_id, f"{x.commission:f}", "USD", realized, UNSET_DOUBLE, ""]

    def _req_open_orders(self, c: _Conn, f: list[str]) -> None:
        self._send_open(c, [o for o in self.orders.values() if o.is_open and o.client_id == c.client_id])

    def _req_all_open_orders(self, c: _Conn, f: list[str]) -> None:
        self._send_open(c, [o for o in self.orders.values() if o.is_open])

    def _send_open(self, c: _Conn, orders: list[IbOrder]) -> None:
        for o in orders:
            c.send(*self._open_order_fields(o))
            self._send_status(c, o)
        c.send(53, 1)

    def _req_completed_orders(self, c: _Conn, f: list[str]) -> None:
        for o in self.orders.values():
            if not o.is_open:
                c.send(*self._completed_order_fields(o))
        c.send(102)

    def _req_executions(self, c: _Conn, f: list[str]) -> None:
        req_id, client_id, acct, since = _int(f[2]), _int(f[3]), f[4], f[5]
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
            c.send(*self._exec_fields(req_id, x))
            c.send(*self._commission_fields(x))
        c.send(55, 1, req_id)

    # ---- positions and account values -------------------------------------------------------------

    def _mark(self, con_id: int) -> Decimal:
        book = self.books[con_id]
        bid, _, ask, _ = book.top
        if bid and ask:
            return Decimal(bid + ask) * CENT / 2
        return Decimal(book.last or book.listing.mid_cents) * CENT

    def _values(self, a: Account) -> dict[str, Decimal]:
        gross = sum((abs(p.qty * self._mark(cid)) for cid, p in a.positions.items()), Decimal(0))
        value = sum((p.qty * self._mark(cid) for cid, p in a.positions.items()), Decimal(0))
        unrealized = sum((p.qty * self._mark(cid) - p.cost for cid, p in a.positions.items()), Decimal(0))
        nlv = a.cash + value
        init = gross / 4
        return {
            "NetLiquidation": nlv,
            "TotalCashValue": a.cash,
            "SettledCash": a.cash,
            "BuyingPower": (nlv - init) * 4,
            "AvailableFunds": nlv - init,
            "ExcessLiquidity": nlv - init,
            "EquityWithLoanValue": nlv,
            "GrossPositionValue": gross,
            "InitMarginReq": init,
            "MaintMarginReq": init,
            "RealizedPnL": a.realized,
            "UnrealizedPnL": unrealized,
        }

    def _position_fields(self, a: Account, con_id: int) -> list[object]:
        p, x = a.positions[con_id], self.listings[con_id]
        return [61, 3, a.name, *self._contract11(x, x.primary), p.qty, f"{p.avg_cost:f}"]

    def _portfolio_fields(self, a: Account, con_id: int) -> list[object]:
        p, x = a.positions[con_id], self.listings[con_id]
        mark = self._mark(con_id)
        return [
            7, 8, *self._contract11(x, x.primary), p.qty, f"{mark:f}", money(p.qty * mark), f"{p.avg_cost:f}",
            money(p.qty * mark - p.cost), money(a.realized), a.name,
        ]  # fmt: skip

    def _req_positions(self, c: _Conn, f: list[str]) -> None:
        c.positions_sub = True
        for a in self.accounts.values():
            for con_id in a.positions:
                c.send(*self._position_fields(a, con_id))
        c.send(62, 1)

    def _cancel_positions(self, c: _Conn, f: list[str]) -> None:
        c.positions_sub = False

    def _req_positions_multi(self, c: _Conn, f: list[str]) -> None:
        req_id, acct, model = _int(f[2]), f[3], f[4]
        for a in self.accounts.values():
            if acct in ("", "All", a.name):
                for con_id, p in a.positions.items():
                    x = self.listings[con_id]
                    c.send(
                        71,
                        1,
                        req_id,
                        a.name,
                        *self._contract11(x, x.primary),
                        p.qty,
                        f"{p.avg_cost:f}",
                        model,
                    )
        c.send(72, 1, req_id)

    def _req_account_updates(self, c: _Conn, f: list[str]) -> None:
        subscribe, acct = f[2] == "1", f[3] or next(iter(self.accounts))
        if not subscribe:
            c.account_sub = ""
            return
        a = self.accounts.get(acct)
        if a is None:
            c.error(-1, 321, f"Error validating request.-'bN' : cause - Invalid account code {acct}")
            return
        c.account_sub = acct
        self._send_account(c, a)
        c.send(54, 1, acct)

    def _send_account(self, c: _Conn, a: Account, con_id: int | None = None) -> None:
        for tag, v in self._values(a).items():
            c.send(6, 2, tag, money(v), "USD", a.name)
        for cid in a.positions if con_id is None else [con_id]:
            c.send(*self._portfolio_fields(a, cid))
        c.send(8, 1, self._tws_time()[9:14])

    def _req_account_updates_multi(self, c: _Conn, f: list[str]) -> None:
        req_id, acct, model = _int(f[2]), f[3], f[4]
        for a in self.accounts.values():
            if acct in ("", "All", a.name):
                c.multi[req_id] = a.name
                for tag, v in self._values(a).items():
                    c.send(73, 1, req_id, a.name, model, tag, money(v), "USD")
        c.send(74, 1, req_id)

    def _req_account_summary(self, c: _Conn, f: list[str]) -> None:
        req_id, tags = _int(f[2]), [t for t in f[4].split(",") if t]
        c.summary[req_id] = tags
        for a in self.accounts.values():
            c.send(63, 1, req_id, a.name, "AccountType", "INDIVIDUAL", "")
            values = self._values(a)
            for tag in tags:
                if tag in values:
                    c.send(63, 1, req_id, a.name, tag, money(values[tag]), "USD")
        c.send(64, 1, req_id)

    def _account_changed(self, a: Account, con_id: int) -> None:
        for c in self._ready():
            if c.positions_sub:
                c.send(*self._position_fields(a, con_id))
            if c.account_sub == a.name:
                self._send_account(c, a, con_id)
            values = self._values(a)
            for req_id, name in c.multi.items():
                if name == a.name:
                    for tag, v in values.items():
                        c.send(73, 1, req_id, a.name, "", tag, money(v), "USD")

    # ---- market data -------------------------------------------------------------------------------

    @staticmethod
    def _top(book: _Book) -> tuple[int, int, int, int]:
        bids, asks = book.engine.depth(1)
        b, a = bids[0] if bids else (0, 0), asks[0] if asks else (0, 0)
        return b[0], b[1], a[0], a[1]

    def _req_mkt_data(self, c: _Conn, f: list[str]) -> None:
        req_id = _int(f[2])
        found = self._match(_contract(f, 3))
        if len(found) != 1:
            c.error(req_id, 200, "No security definition has been found for the request")
            return
        book = self.books[found[0][0].con_id]
        snapshot = len(f) > 17 and f[17] == "1"
        c.send(58, 1, req_id, 1)
        bid, bid_size, ask, ask_size = book.top
        if not self.farm_down:
            c.send(1, 6, req_id, 1, px(bid), bid_size, 0)
            c.send(1, 6, req_id, 2, px(ask), ask_size, 0)
            if book.last:
                c.send(1, 6, req_id, 4, px(book.last), book.last_size, 0)
            c.send(2, 6, req_id, 8, book.volume)
        if snapshot:
            c.send(57, 1, req_id)
        else:
            c.mkt[req_id] = book.listing.con_id

    def _cancel_mkt_data(self, c: _Conn, f: list[str]) -> None:
        c.mkt.pop(_int(f[2]), None)

    def _req_mkt_depth(self, c: _Conn, f: list[str]) -> None:
        req_id = _int(f[2])
        found = self._match(_contract(f, 3))
        if len(found) != 1:
            c.error(req_id, 200, "No security definition has been found for the request")
            return
        rows = max(1, min(_int(f[15], 5), 10))
        c.depth[req_id] = (found[0][0].con_id, rows, f[16] == "1")
        c.depth_sent[req_id] = ([], [])
        self._send_depth(c, req_id, self.books[found[0][0].con_id])

    def _cancel_mkt_depth(self, c: _Conn, f: list[str]) -> None:
        c.depth.pop(_int(f[2]), None)
        c.depth_sent.pop(_int(f[2]), None)

    def _send_depth(self, c: _Conn, req_id: int, book: _Book) -> None:
        _, rows, smart = c.depth[req_id]
        new = book.engine.depth(rows)
        old = c.depth_sent[req_id]
        for side, (n, o) in ((1, (new[0], old[0])), (0, (new[1], old[1]))):
            for pos in range(max(len(n), len(o)) - 1, -1, -1):  # deletes from the back first
                if pos >= len(n):
                    self._depth_row(c, req_id, smart, book, pos, 2, side, o[pos])
            for pos, level in enumerate(n):
                if pos >= len(o):
                    self._depth_row(c, req_id, smart, book, pos, 0, side, level)
                elif o[pos] != level:
                    self._depth_row(c, req_id, smart, book, pos, 1, side, level)
        c.depth_sent[req_id] = (list(new[0]), list(new[1]))

    @staticmethod
    def _depth_row(
        c: _Conn, req_id: int, smart: bool, book: _Book, pos: int, op: int, side: int, level: tuple[int, int]
    ) -> None:
        if smart:
            c.send(13, 1, req_id, pos, book.listing.primary, op, side, px(level[0]), level[1], 1)
        else:
            c.send(12, 1, req_id, pos, op, side, px(level[0]), level[1])

    def _publish(self, book: _Book, force: bool = False) -> None:
        if self.farm_down:
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
