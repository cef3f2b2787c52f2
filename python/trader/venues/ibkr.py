"""Interactive Brokers through a running IB Gateway or TWS (the TWS API socket protocol), on ib_async.

The Gateway holds the login; this connector holds one API session (host, port, client id) and trades US
stocks in one account. The loopback simulator `trader.sim.ibkr` speaks the same protocol.

- Contracts are qualified (`reqContractDetails`) before anything is sent for them: no match raises
  `UnknownContractError`, several matches `AmbiguousContractError`, and no order leaves the process.
- Orders: LIMIT and MARKET; GTC and IOC. The client order id travels in `Order.orderRef`, so open orders,
  completed orders and executions map back to it after a reconnect. `submit` waits for the Gateway's first
  answer (an order status with a permId, or an error for that order id); no answer in `timeout_s`, or the
  socket dropping first, is an unknown outcome (`UnknownOutcomeError`): nothing is ever resent here.
- Money: a limit price leaves as an exact decimal string (the SDK formats fields with `str()`, and it is
  handed a `Decimal`), quantities as whole shares; the SDK decodes incoming prices to floats, which are
  turned back into the wire's decimal text through their shortest repr before becoming integer units.
- Pacing: IB allows 50 messages a second per client (error 100, then a disconnect). Every request this
  connector sends is charged to a core `RateLimiter` window of `max_messages_per_second` (40 by default)
  with a reserve for cancels; a new order over budget raises `RateLimitError` (nothing sent), other
  requests wait for their turn. An error 100 from the Gateway blocks the limiter for a second.
- Connectivity: 1100 (Gateway lost IB) and 2103 (market-data farm broken) make every book invalid
  (`BookInvalid`) and pause order entry (`VenueUnavailableError`, nothing sent); 1101 (restored, data
  lost) and 1102 (restored, data kept) re-subscribe market data (a fresh top at once) and reconcile: open
  orders and executions are fetched and reported again (the engine de-duplicates fills by execution id).
  A dropped socket does the same after an automatic reconnect with the same client id.
- Account and executions: `account_values()` is the account's numeric values in its base currency
  (from the account-updates subscription the session opens at connect), `executions(since_ns)` the
  account's executions as the Gateway reports them (`IbExecution`: order ref, shares, price, commission).
- Depth: `subscribe_depth(symbol, rows)` opens a depth request (SMART depth for SMART-routed stocks) and
  keeps a core `Book` per symbol from IB's positional rows (insert / update / delete at a row; rows at one
  price add up); `depth(symbol, n)` is its best levels, or `BookNotReadyError` while it is rebuilt. A 317
  reset empties the rows (those that follow rebuild them); a row for a position the ladder does not have
  is a gap: a new request (at most once a second); 1100/2103/a dropped socket make it not ready until a new
  request after 1101/1102/2104 or the reconnect. The engine's BookUpdates still come from the top ticks.
- Paper first: with `paper=True` (the default) the connector refuses an account that is not a paper
  account (ids starting with "D", e.g. DU1234567); the default ports are the paper ones.
- `cancel_all()` without an instrument is `reqGlobalCancel` (every open order of the account, whichever
  client placed it), then verified with `reqAllOpenOrders` until nothing is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from ib_async import (
    IB,
    AccountValue,
    CommissionReport,
    Contract,
    ContractDetails,
    ExecutionFilter,
    Fill,
    MktDepthData,
    Order,
    Stock,
    Ticker,
    Trade,
)

from trader.clock import Clock
from trader.core import (
    Approval,
    Book,
    BookNotReadyError,
    BookState,
    InstrumentSpec,
    OrderType,
    RateLimiter,
    Side,
    TimeInForce,
    Window,
)
from trader.errors import (
    AuthenticationError,
    ConfigError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    UnknownOutcomeError,
    VenueError,
    VenueUnavailableError,
)
from trader.venues.base import (
    BookInvalid,
    BookUpdate,
    Capabilities,
    FillReport,
    InstrumentInfo,
    OrderReport,
    OrderState,
    SubmitAck,
    Tier,
    VenueEvent,
    require_approval,
)

log = logging.getLogger("trader.venues.ibkr")


class _CancelConfirmations(logging.Filter):
    """ib_async logs IB's code 202 ("Order Canceled") at ERROR level although it confirms a cancel we
    asked for; the connector reports cancels itself, so these lines are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Error 202,")


logging.getLogger("ib_async.wrapper").addFilter(_CancelConfirmations())
_T = TypeVar("_T")

VENUE = "ibkr"
LIVE_GATEWAY_PORT = 4001
PAPER_GATEWAY_PORT = 4002
LIVE_TWS_PORT = 7496
PAPER_TWS_PORT = 7497
MAX_MESSAGES_PER_SECOND = 50  # the Gateway's limit per API client

CAPABILITIES = Capabilities(
    venue=VENUE,
    tier=Tier.BROKER,
    order_types=frozenset({"LIMIT", "MARKET"}),
    time_in_force=frozenset({"GTC", "IOC"}),
    post_only=False,
    reduce_only=False,
    cancel_all=True,
    dead_man_switch=False,  # the TWS API has no cancel-on-disconnect
    ws_order_entry=False,
    max_batch=1,
    paper_environment=True,
    needs_credentials=False,  # the Gateway holds the login
)

_OPEN = {"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted", "PendingCancel"}
_ACKED = {"PreSubmitted", "Submitted", "Filled", "Cancelled", "ApiCancelled", "Inactive"}
_INFO_CODES = {399, 10167} | set(range(2100, 2200))  # warnings and farm notices, not rejections
_NOT_FOUND = {10147, 10148, 135}
_LOST, _FARM_BROKEN, _RESTORED_LOST, _RESTORED_KEPT = 1100, 2103, 1101, 1102
_FEE_WAIT_S = 1.0  # how long an order report waits for the commission report of its fill
_DEPTH_RESET, _FARM_OK = 317, 2104
_DEPTH_RETRY_NS = 1_000_000_000  # a depth stream that keeps breaking is asked for again at most this often
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class UnknownContractError(InvalidOrderError):
    """The Gateway has no contract matching the instrument's description (error 200)."""


class AmbiguousContractError(InvalidOrderError):
    """The description matches several contracts; `candidates` names them. Nothing was sent."""

    def __init__(self, message: str, *, venue: str, candidates: list[str]) -> None:
        super().__init__(message, venue=venue, code="ambiguous")
        self.candidates = candidates


@dataclass(frozen=True)
class StockSpec:
    """How an instrument name maps to an IB stock contract. An empty exchange asks for every listing
    (ambiguous on purpose: qualification refuses it)."""

    symbol: str
    exchange: str = "SMART"
    currency: str = "USD"
    primary_exchange: str = ""


@dataclass(frozen=True)
class IbExecution:
    """One execution as the Gateway reports it (`reqExecutions`), with its commission report."""

    exec_id: str
    order_ref: str  # the client order id the order carried ("" for an order placed elsewhere)
    symbol: str  # the configured instrument name (the contract's symbol if it is not configured)
    side: Side
    shares: Decimal
    price: Decimal
    commission: Decimal | None  # None while the Gateway has sent no commission report for it
    commission_currency: str
    time_ns: int  # the Gateway's execution time (whole seconds)
    perm_id: int


class _DepthGapError(Exception):
    """A depth row addressed a position the ladder does not have: rows were lost."""

    def __init__(self, expected: int, got: int) -> None:
        super().__init__(f"row {got} of a {expected}-row ladder")
        self.expected, self.got = expected, got


@dataclass
class _Depth:
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
            raise _DepthGapError(len(ladder), position)

    def levels(self, side: int) -> list[tuple[int, int]]:
        """The side's rows as price levels (rows at one price, e.g. two market makers, add up)."""
        out: dict[int, int] = {}
        for price, qty in self.bids if side == 1 else self.asks:
            out[price] = out.get(price, 0) + qty
        return list(out.items())


def paper_port(gateway: bool = True) -> int:
    return PAPER_GATEWAY_PORT if gateway else PAPER_TWS_PORT


def live_port(gateway: bool = True) -> int:
    return LIVE_GATEWAY_PORT if gateway else LIVE_TWS_PORT


def exact(x: float | Decimal) -> Decimal:
    """A float the SDK decoded from the wire, back to the wire's decimal text (a `Decimal` we handed the
    SDK ourselves stays as it is)."""
    if isinstance(x, Decimal):
        return x
    if not math.isfinite(x):
        raise ValueError("not a finite number")
    return Decimal(repr(x))


def error_from(code: int, text: str) -> VenueError:
    """An IB error code on an order as a typed error."""
    msg = text[:200]
    if code in _NOT_FOUND:
        return OrderNotFoundError(msg, venue=VENUE, code=str(code))
    if code == 100:
        return RateLimitError(msg, venue=VENUE, code="100")
    if code in (1100, 1300, 2110, 161):
        return VenueUnavailableError(msg, venue=VENUE, code=str(code))
    if code == 201 and any(w in msg.lower() for w in ("margin", "equity", "buying power", "insufficient")):
        return InsufficientFundsError(msg, venue=VENUE, code="201")
    return InvalidOrderError(msg, venue=VENUE, code=str(code))


class IbkrConnector:
    """US stocks in one IB account through one API session of an IB Gateway / TWS."""

    venue = VENUE
    capabilities = CAPABILITIES

    def __init__(
        self,
        *,
        instruments: Mapping[str, StockSpec] | Iterable[str],
        clock: Clock,
        host: str = "127.0.0.1",
        port: int = PAPER_GATEWAY_PORT,
        client_id: int = 1,
        account_id: str = "",
        paper: bool = True,
        timeout_s: float = 4.0,
        max_messages_per_second: int = 40,
        market_data: bool = True,
        reconnect: bool = True,
        reconnect_delay_s: float = 0.2,
    ) -> None:
        if not 0 < max_messages_per_second <= MAX_MESSAGES_PER_SECOND:
            raise ConfigError(f"max_messages_per_second must be in (0, {MAX_MESSAGES_PER_SECOND}]")
        if paper and port in (LIVE_GATEWAY_PORT, LIVE_TWS_PORT):
            raise ConfigError(f"port {port} is a live trading port; pass paper=False to trade live")
        if isinstance(instruments, Mapping):
            self.instruments = dict(instruments)
        else:
            self.instruments = {name: StockSpec(name) for name in instruments}
        self.clock = clock
        self.host, self.port, self.client_id = host, port, client_id
        self.account = account_id
        self.paper = paper
        self._timeout_s = timeout_s
        self._market_data = market_data
        self._reconnect = reconnect
        self._reconnect_delay_s = reconnect_delay_s
        self.ib = IB()
        self._limiter = RateLimiter()
        reserve = max(1, max_messages_per_second // 8)
        self._quota = self._limiter.add_quota(
            "messages", [Window(max_messages_per_second, 1_000_000_000, rolling=True, reserve=reserve)]
        )
        self._contracts: dict[str, Contract] = {}
        self._details: dict[str, ContractDetails] = {}
        self._specs: dict[str, InstrumentSpec] = {}
        self._by_con: dict[int, str] = {}
        self._tickers: dict[str, Ticker] = {}
        self._tops: dict[str, tuple[int | None, int, int | None, int]] = {}
        self._queue: asyncio.Queue[VenueEvent] = asyncio.Queue()
        self._trades: dict[str, Trade] = {}  # client order id -> the SDK's live trade
        self._reported: dict[str, tuple[OrderState, int]] = {}
        self._fills_sent: set[str] = set()
        self._fill_qty: dict[str, int] = {}  # client order id -> shares in the FillReports sent
        self._deferred: dict[str, OrderReport] = {}  # reports waiting for their fills' fees
        self._rejected: dict[str, str] = {}  # client order id -> why
        self._cancel_asked: set[str] = set()
        self._order_errors: dict[int, asyncio.Future[VenueError]] = {}
        self._depth: dict[str, _Depth] = {}
        self._farm_ok = True
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        ib = self.ib
        ib.errorEvent += self._on_error
        ib.orderStatusEvent += self._on_status
        ib.commissionReportEvent += self._on_commission
        ib.pendingTickersEvent += self._on_tickers
        ib.disconnectedEvent += self._on_disconnected

    # ---- lifecycle -----------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the session (once), qualify every configured instrument, subscribe their market data."""
        if not self.ib.isConnected():
            await self._open()
        for name in self.instruments:
            await self.qualify(name)
        if self._market_data and len(self._tickers) < len(self._contracts):
            await self._subscribe_all()

    async def venue_time(self) -> int:
        """The gateway's clock (whole seconds), in ns: the venue's time, for sessions and clock checks."""
        try:
            t = await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), self._timeout_s)
        except TimeoutError:
            raise VenueUnavailableError("the gateway did not tell its time", venue=VENUE) from None
        return int(t.timestamp()) * 1_000_000_000

    async def _open(self) -> None:
        try:
            await self.ib.connectAsync(
                self.host, self.port, clientId=self.client_id, timeout=self._timeout_s, account=self.account
            )
        except (OSError, TimeoutError, ConnectionError) as e:
            self.ib.disconnect()
            raise VenueUnavailableError(
                f"cannot open an API session on {self.host}:{self.port}: {type(e).__name__}", venue=VENUE
            ) from None
        accounts = self.ib.managedAccounts()
        if not self.account:
            if len(accounts) != 1:
                self.ib.disconnect()
                raise AuthenticationError(
                    f"the login manages {len(accounts)} accounts: set account_id", venue=VENUE
                )
            self.account = accounts[0]
        if self.account not in accounts:
            self.ib.disconnect()
            raise AuthenticationError(f"account {self.account} is not managed by this login", venue=VENUE)
        if self.paper and not self.account.startswith("D"):
            self.ib.disconnect()
            raise AuthenticationError(
                f"paper=True but {self.account} is not a paper account; pass paper=False to trade live",
                venue=VENUE,
            )
        self._farm_ok = True
        self._adopt_trades()

    async def close(self) -> None:
        self._closing = True
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self.ib.disconnect()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- contracts -----------------------------------------------------------------------------------

    async def qualify(self, instrument: str) -> Contract:
        """The instrument's unique contract (asked once, then kept)."""
        c = self._contracts.get(instrument)
        if c is not None:
            return c
        spec = self.instruments.get(instrument)
        if spec is None:
            raise UnknownContractError(f"instrument {instrument} is not configured", venue=VENUE)
        wanted = Stock(spec.symbol, spec.exchange, spec.currency, primaryExchange=spec.primary_exchange)
        details = await self._ask(lambda: self.ib.reqContractDetailsAsync(wanted), "reqContractDetailsAsync")
        if not details:
            raise UnknownContractError(f"no contract matches {instrument}", venue=VENUE, code="200")
        if len(details) > 1:
            names = sorted({self._describe(d.contract) for d in details if d.contract is not None})
            raise AmbiguousContractError(
                f"{instrument} matches {len(details)} contracts: {', '.join(names)}",
                venue=VENUE,
                candidates=names,
            )
        d = details[0]
        assert d.contract is not None
        c = d.contract
        if spec.exchange == "SMART":
            c.exchange = "SMART"
        self._contracts[instrument], self._details[instrument] = c, d
        self._by_con[c.conId] = instrument
        tick = exact(d.minTick).normalize()
        self._specs[instrument] = InstrumentSpec(f"{tick:f}", "1", min_qty="1")
        return c

    @staticmethod
    def _describe(c: Contract) -> str:
        return f"{c.symbol}/{c.secType}/{c.exchange or '-'}/{c.primaryExchange or '-'}/{c.currency}#{c.conId}"

    async def instrument_info(self, symbol: str) -> InstrumentInfo:
        await self.qualify(symbol)
        c, spec = self._contracts[symbol], self._specs[symbol]
        return InstrumentInfo(symbol, c.symbol, c.currency, spec.tick_size, "1", "1", "0")

    def trading_spec(self, instrument: str | None = None) -> InstrumentSpec:
        name = instrument or next(iter(self.instruments))
        spec = self._specs.get(name)
        if spec is None:
            raise VenueError(f"{name} is not qualified yet (connect first)", venue=VENUE)
        return spec

    # ---- pacing --------------------------------------------------------------------------------------

    async def _pace(self, cost: int = 1, *, priority: bool = False, wait: bool = True) -> None:
        while True:
            now = self.clock.now_ns()
            retry = self._limiter.try_acquire(self._quota, cost, now, priority)
            if retry is None:
                return
            if not wait:
                raise RateLimitError(
                    "message pacing (local, below the Gateway's 50/s)",
                    venue=VENUE,
                    code="local",
                    retry_after_ns=retry,
                )
            await self.clock.sleep(max(retry - now, 1_000_000) / 1e9)

    async def _ask(self, request: Callable[[], Awaitable[_T]], what: str, *, priority: bool = False) -> _T:
        """One paced request and its answer; no session or no answer in time is `VenueUnavailableError`."""
        await self._pace(priority=priority)
        try:
            return await asyncio.wait_for(request(), self._timeout_s)
        except (TimeoutError, ConnectionError) as e:
            raise VenueUnavailableError(f"{what}: {type(e).__name__}", venue=VENUE) from None

    def rate_usage(self) -> list[tuple[int, int, int]]:
        return self._limiter.usage(self._quota, self.clock.now_ns())

    def _require_session(self) -> None:
        if not self.ib.isConnected():
            raise VenueUnavailableError("no API session (reconnecting)", venue=VENUE)
        if not self._farm_ok:
            raise VenueUnavailableError(
                "the Gateway lost its connection to IB (1100)", venue=VENUE, code="1100"
            )

    # ---- orders --------------------------------------------------------------------------------------

    def build_order(self, approval: Approval, client_id: str, instrument: str) -> Order:
        """The SDK order for one approval (exact decimal price and quantity)."""
        a = require_approval(approval)
        spec = self.trading_spec(instrument)
        if a.post_only or a.reduce_only:
            raise InvalidOrderError(
                "post-only and reduce-only orders are not offered for stocks", venue=VENUE
            )
        tif = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC"}.get(a.tif)
        if tif is None:
            raise InvalidOrderError(f"time in force {a.tif} is not supported", venue=VENUE)
        o = Order(
            action="BUY" if a.side == Side.BUY else "SELL",
            totalQuantity=int(Decimal(spec.format_qty(a.qty))),  # whole shares (lot 1)
            tif=tif,
            orderRef=client_id,
            account=self.account,
        )
        if a.order_type == OrderType.MARKET:
            o.orderType = "MKT"
        else:
            o.orderType = "LMT"
            o.lmtPrice = Decimal(spec.format_price(a.price))
        return o

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        require_approval(approval)
        if client_id in self._trades:
            raise InvalidOrderError(f"client order id {client_id} was already used", venue=VENUE)
        contract = await self.qualify(instrument)
        order = self.build_order(approval, client_id, instrument)
        self._require_session()
        await self._pace(wait=False)
        trade = self.ib.placeOrder(contract, order)
        self._trades[client_id] = trade
        error: asyncio.Future[VenueError] = asyncio.get_running_loop().create_future()
        self._order_errors[order.orderId] = error
        try:
            await self._until(
                lambda: trade.orderStatus.status in _ACKED and trade.orderStatus.permId > 0, error
            )
        except TimeoutError:
            raise UnknownOutcomeError(
                f"no answer to order {client_id} in {self._timeout_s}s", venue=VENUE
            ) from None
        except VenueError as e:
            if isinstance(e, VenueUnavailableError):
                raise UnknownOutcomeError(
                    f"session lost before order {client_id} was answered", venue=VENUE
                ) from None
            self._rejected[client_id] = str(e)
            raise
        finally:
            self._order_errors.pop(order.orderId, None)
        return SubmitAck(client_id, str(trade.orderStatus.permId))

    async def _until(self, cond: Any, error: asyncio.Future[VenueError] | None = None) -> None:
        """Wait until `cond()` holds, an order error arrives, the session drops, or `timeout_s` passes."""
        deadline = self.clock.monotonic_ns() + int(self._timeout_s * 1e9)
        while not cond():
            if error is not None and error.done():
                raise error.result()
            if not self.ib.isConnected():
                raise VenueUnavailableError("the API session dropped", venue=VENUE)
            if self.clock.monotonic_ns() > deadline:
                raise TimeoutError
            await self.clock.sleep(0.002)

    async def _find(self, client_id: str) -> Trade | None:
        """The order as the Gateway knows it: from this session, else from its open and completed orders.
        An order the Gateway never acknowledged (no permId) is looked up again, and is None if unknown."""
        trade = self._trades.get(client_id)
        if trade is not None and _perm_id(trade):
            return trade
        if self.ib.isConnected():
            for t in await self._ask(self.ib.reqOpenOrdersAsync, "reqOpenOrdersAsync"):
                self._adopt(t)
            trade = self._trades.get(client_id)
            if trade is None or not _perm_id(trade):
                for t in await self._ask(
                    lambda: self.ib.reqCompletedOrdersAsync(False), "reqCompletedOrdersAsync"
                ):
                    self._adopt(t)
        trade = self._trades.get(client_id)
        return trade if trade is not None and _perm_id(trade) else None

    async def cancel(self, client_id: str) -> None:
        trade = await self._find(client_id)
        if trade is None or trade.orderStatus.status not in _OPEN:
            raise OrderNotFoundError(f"order {client_id} is not open", venue=VENUE)
        self._require_session()
        await self._pace(priority=True)
        error: asyncio.Future[VenueError] = asyncio.get_running_loop().create_future()
        self._order_errors[trade.order.orderId] = error
        self._cancel_asked.add(client_id)
        self.ib.cancelOrder(trade.order)
        try:
            await self._until(lambda: trade.orderStatus.status not in _OPEN, error)
        except TimeoutError:
            raise UnknownOutcomeError(f"no answer to the cancel of {client_id}", venue=VENUE) from None
        finally:
            self._order_errors.pop(trade.order.orderId, None)
        if trade.orderStatus.status == "Filled":
            raise OrderNotFoundError(f"order {client_id} filled before the cancel", venue=VENUE)

    async def cancel_all(self, instrument: str | None = None) -> int:
        self._require_session()
        if instrument is not None:
            con_id = (await self.qualify(instrument)).conId
            trades = await self._ask(self.ib.reqOpenOrdersAsync, "reqOpenOrdersAsync")
            mine = [t for t in trades if t.contract.conId == con_id and t.orderStatus.status in _OPEN]
            n = 0
            for t in mine:
                self._adopt(t)
                if t.order.orderRef:
                    with contextlib.suppress(OrderNotFoundError):
                        await self.cancel(t.order.orderRef)
                        n += 1
            return n
        before = await self._ask(self.ib.reqAllOpenOrdersAsync, "reqAllOpenOrdersAsync", priority=True)
        count = len([t for t in before if t.orderStatus.status in _OPEN])
        for t in before:
            if t.order.orderRef:
                self._cancel_asked.add(t.order.orderRef)
        await self._pace(priority=True)
        self.ib.reqGlobalCancel()  # type: ignore[no-untyped-call]  # ib_async 2.1 leaves it unannotated
        deadline = self.clock.monotonic_ns() + int(self._timeout_s * 1e9)
        while True:  # verify: nothing of the account is open any more
            await self.clock.sleep(0.01)
            left = await self._ask(self.ib.reqAllOpenOrdersAsync, "reqAllOpenOrdersAsync", priority=True)
            if not [t for t in left if t.orderStatus.status in _OPEN]:
                return count
            if self.clock.monotonic_ns() > deadline:
                raise UnknownOutcomeError(
                    f"{len(left)} orders still open after the global cancel", venue=VENUE
                )

    # ---- queries -------------------------------------------------------------------------------------

    def _state(self, client_id: str, trade: Trade) -> OrderState:
        status = trade.orderStatus.status
        if status in _OPEN:
            return OrderState.OPEN
        if status == "Filled":
            return OrderState.FILLED
        if client_id in self._rejected or status == "Inactive":
            return OrderState.REJECTED
        if trade.order.tif == "IOC" and client_id not in self._cancel_asked:
            return OrderState.EXPIRED
        return OrderState.CANCELED

    def _report(self, client_id: str, trade: Trade) -> OrderReport:
        instrument = self._by_con.get(trade.contract.conId, trade.contract.symbol)
        spec = self._specs.get(instrument) or InstrumentSpec("0.01", "1")
        o, st = trade.order, trade.orderStatus
        price = (
            spec.price_to_units(f"{exact(o.lmtPrice):f}")
            if o.orderType == "LMT" and o.lmtPrice is not None and _finite(o.lmtPrice)
            else 0
        )
        filled = (
            int(exact(st.filled)) if st.filled else sum(int(exact(f.execution.shares)) for f in trade.fills)
        )
        if not filled and st.status == "Filled":  # a completed order from before this session
            q = o.filledQuantity if _finite(o.filledQuantity) else o.totalQuantity
            filled = int(exact(q))
        state = self._state(client_id, trade)
        return OrderReport(
            client_id,
            str(st.permId or o.permId or ""),
            instrument,
            Side.BUY if o.action == "BUY" else Side.SELL,
            price,
            int(exact(o.totalQuantity)),
            filled,
            state,
            self._rejected.get(client_id, "") if state is OrderState.REJECTED else "",
        )

    async def query(self, client_id: str) -> OrderReport | None:
        trade = await self._find(client_id)
        if trade is None and client_id in self._rejected:
            trade = self._trades.get(client_id)  # refused by the Gateway: it never got a permId
        return None if trade is None else self._report(client_id, trade)

    async def open_orders(self) -> list[OrderReport]:
        """This client id's open orders in the account (placed by this session or an earlier one)."""
        self._require_connected()
        trades = await self._ask(self.ib.reqOpenOrdersAsync, "reqOpenOrdersAsync")
        out = []
        for t in trades:
            if t.order.account not in ("", self.account) or t.orderStatus.status not in _OPEN:
                continue
            self._adopt(t)
            out.append(self._report(t.order.orderRef, t))
        return out

    async def _account_fills(self) -> list[Fill]:
        """The account's executions the Gateway reports now, each with its commission report if one came.
        No time in the filter (its time zone depends on the Gateway's settings): callers filter."""
        self._require_connected()
        flt = ExecutionFilter(acctCode=self.account)
        fills = await self._ask(lambda: self.ib.reqExecutionsAsync(flt), "reqExecutionsAsync")
        known = {f.execution.execId: f for f in self.ib.fills()}
        return [known.get(f.execution.execId, f) for f in fills]

    async def fills_since(self, ts_ns: int) -> list[FillReport]:
        out = []
        for f in await self._account_fills():
            report = self._fill_report(f)
            if report is not None and report.ts_event >= ts_ns - 1_000_000_000:
                out.append(report)
        return out

    async def executions(self, since_ns: int = 0) -> list[IbExecution]:
        """The account's executions as the Gateway reports them, with their commissions, from `since_ns`
        on (the Gateway stamps executions to the second, so `since_ns` counts from the start of its
        second)."""
        since = since_ns - since_ns % 1_000_000_000
        out = []
        for f in await self._account_fills():
            x = self._execution(f)
            if x.time_ns >= since:
                out.append(x)
        return out

    def _execution(self, f: Fill) -> IbExecution:
        x, cr = f.execution, f.commissionReport
        reported = bool(cr.execId) and _finite(cr.commission)
        return IbExecution(
            x.execId,
            x.orderRef,
            self._by_con.get(f.contract.conId, f.contract.symbol),
            Side.BUY if x.side == "BOT" else Side.SELL,
            exact(x.shares),
            exact(x.price),
            exact(cr.commission) if reported else None,
            cr.currency if reported else "",
            _time_ns(x.time),
            x.permId,
        )

    async def account_values(self) -> dict[str, Decimal]:
        """The configured account's values by tag (NetLiquidation, TotalCashValue, BuyingPower,
        AvailableFunds, ExcessLiquidity, GrossPositionValue, ...) in its base currency.

        Read from the account-updates subscription the session opened at connect (the Gateway pushes
        changes; IB refreshes most values about every three minutes and on position changes); only if
        it holds nothing for the account is the account summary asked for once (then kept updated).
        """
        self._require_connected()
        values = [v for v in self.ib.accountValues(self.account) if not v.modelCode]
        if not values:
            summary = await self._ask(
                lambda: self.ib.accountSummaryAsync(self.account), "accountSummaryAsync"
            )
            values = [v for v in summary if v.account == self.account]
        return base_currency_values(values)

    async def positions(self) -> dict[str, int]:
        self._require_connected()
        out = {name: 0 for name in self.instruments}
        for p in await self._ask(self.ib.reqPositionsAsync, "reqPositionsAsync"):
            if p.account == self.account:
                out[self._by_con.get(p.contract.conId, p.contract.symbol)] = int(exact(p.position))
        return out

    def _require_connected(self) -> None:
        if not self.ib.isConnected():
            raise VenueUnavailableError("no API session (reconnecting)", venue=VENUE)

    # ---- events --------------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[VenueEvent]:
        while True:
            yield await self._queue.get()

    def _adopt(self, trade: Trade) -> None:
        """Track an order the Gateway reported (after a reconnect or a query) under its client order id."""
        cid = trade.order.orderRef
        if cid and (cid not in self._trades or self._trades[cid] is not trade):
            self._trades[cid] = trade

    def _adopt_trades(self) -> None:
        for t in self.ib.trades():
            self._adopt(t)

    def _fill_report(self, f: Fill) -> FillReport | None:
        x = f.execution
        instrument = self._by_con.get(f.contract.conId, f.contract.symbol)
        spec = self._specs.get(instrument) or InstrumentSpec("0.01", "1")
        try:
            price = spec.price_to_units(f"{exact(x.price):f}")
        except (ValueError, InvalidOperation, VenueError):
            log.warning("fill %s at an off-tick price skipped", x.execId)
            return None
        ts = x.time if isinstance(x.time, dt.datetime) else dt.datetime.fromtimestamp(0, dt.UTC)
        fee = exact(f.commissionReport.commission) if f.commissionReport.execId else Decimal(0)
        return FillReport(
            x.orderRef,
            x.execId,
            instrument,
            Side.BUY if x.side == "BOT" else Side.SELL,
            price,
            int(exact(x.shares)),
            fee,
            int(ts.timestamp()) * 1_000_000_000,
            x.lastLiquidity == 1,
            ts_recv=self.clock.now_ns(),
        )

    def _on_status(self, trade: Trade) -> None:
        cid = trade.order.orderRef
        if not cid:
            return
        self._adopt(trade)
        report = self._report(cid, trade)
        key = (report.state, report.filled)
        if self._reported.get(cid) == key:
            return
        self._reported[cid] = key
        if report.filled > self._fill_qty.get(cid, 0):
            # IB sends the commission (our fill's fee) after the status: report the fill first
            self._deferred[cid] = report
            asyncio.get_running_loop().call_later(_FEE_WAIT_S, self._flush, cid)
            return
        self._deferred.pop(cid, None)
        self._queue.put_nowait(report)

    def _flush(self, cid: str) -> None:
        report = self._deferred.pop(cid, None)
        if report is not None:
            self._queue.put_nowait(report)

    def _emit_fill(self, fill: Fill) -> None:
        x = fill.execution
        if x.execId in self._fills_sent:
            return
        r = self._fill_report(fill)
        if r is None:
            return
        self._fills_sent.add(x.execId)
        self._queue.put_nowait(r)
        if r.client_id:
            self._fill_qty[r.client_id] = self._fill_qty.get(r.client_id, 0) + r.qty
            deferred = self._deferred.get(r.client_id)
            if deferred is not None and deferred.filled <= self._fill_qty[r.client_id]:
                self._flush(r.client_id)

    def _on_commission(self, trade: Trade, fill: Fill, report: CommissionReport) -> None:
        self._emit_fill(fill)

    def _on_error(self, req_id: int, code: int, text: str, contract: Any) -> None:
        if req_id in self._order_errors and code not in _INFO_CODES and code != 202:
            fut = self._order_errors[req_id]
            if not fut.done():
                fut.set_result(error_from(code, text))
        if req_id > 0 and code not in _INFO_CODES and code != 202:
            for cid, t in self._trades.items():
                # only an order the Gateway never accepted is rejected; later errors (a refused cancel)
                # leave a live order live
                if t.order.orderId == req_id and t.order.clientId == self.client_id and not _perm_id(t):
                    self._rejected.setdefault(cid, f"{code}: {text[:200]}")
        if code == 100:
            self._limiter.block_until(self._quota, self.clock.now_ns() + 1_000_000_000)
            log.error("ibkr: the Gateway dropped a message for pacing (error 100)")
        elif code in (_LOST, _FARM_BROKEN):
            if code == _LOST:
                self._farm_ok = False
            self._invalidate(f"{code}: {text[:120]}")
        elif code in (_RESTORED_LOST, _RESTORED_KEPT):
            self._farm_ok = True
            # 1102 keeps the Gateway's subscriptions, but what the book did meanwhile is unknown: a fresh
            # subscription brings the current top at once (1101 lost them anyway)
            for name, d in self._depth.items():  # depth too: a new request, whatever came meanwhile
                if code == _RESTORED_LOST:
                    d.live = False  # the Gateway dropped the request: nothing to cancel
                d.accepting = False
                d.book.begin_resync()
                self._resubscribe_depth(name)
            self._spawn(self._resync(resubscribe=True))
        elif code == _FARM_OK and self._farm_ok:
            # the market-data farm is back after a 2103 alone (no 1100): depth rows were lost meanwhile
            # (a request that died with the socket is renewed by the reconnect instead)
            for name, d in self._depth.items():
                if d.live and not d.accepting:
                    self._resubscribe_depth(name)
        elif code == _DEPTH_RESET and contract is not None:
            self._on_depth_reset(contract)

    def _on_disconnected(self) -> None:
        for fut in self._order_errors.values():
            if not fut.done():
                fut.set_result(VenueUnavailableError("the API session dropped", venue=VENUE))
        for d in self._depth.values():
            d.live = False  # requests die with the socket
        self._invalidate("API session dropped")
        if self._reconnect and not self._closing:
            self._spawn(self._reconnect_loop())

    def _invalidate(self, reason: str) -> None:
        for name in self.instruments:
            self._tops.pop(name, None)
            self._queue.put_nowait(BookInvalid(name, reason))
        for d in self._depth.values():  # rows may be lost from here on: rebuilt from a new request
            d.accepting = False
            d.book.begin_resync()

    async def _reconnect_loop(self) -> None:
        delay = self._reconnect_delay_s
        while not self._closing:
            await self.clock.sleep(delay)
            try:
                await self._open()
            except VenueError as e:
                log.warning("ibkr: reconnect failed: %s", e)
                delay = min(delay * 2, 5.0)
                continue
            self._tickers.clear()
            for name in list(self._depth):  # the old requests died with the socket
                try:
                    await self._request_depth(name)
                except (TimeoutError, ConnectionError, VenueError) as e:
                    log.warning("ibkr: depth of %s not re-subscribed: %s", name, e)
            await self._resync(resubscribe=True)
            return

    async def _resync(self, *, resubscribe: bool) -> None:
        """After a restore or a reconnect: market data again if it was lost, then every order and
        execution of ours reported again from the Gateway's view."""
        try:
            if resubscribe and self._market_data:
                await self._subscribe_all()
            for t in await self._ask(self.ib.reqOpenOrdersAsync, "reqOpenOrdersAsync"):
                self._adopt(t)
            for cid, t in list(self._trades.items()):
                self._reported.pop(cid, None)
                self._on_status(t)
            for f in await self._ask(self.ib.reqExecutionsAsync, "reqExecutionsAsync"):
                full = next((k for k in self.ib.fills() if k.execution.execId == f.execution.execId), f)
                if full.execution.orderRef:
                    self._emit_fill(full)
        except (TimeoutError, ConnectionError, VenueError) as e:
            log.warning("ibkr: resync failed: %s", e)

    # ---- market data ---------------------------------------------------------------------------------

    async def _subscribe_all(self) -> None:
        for name, contract in self._contracts.items():
            old = self._tickers.pop(name, None)
            if old is not None and self.ib.isConnected():
                await self._pace()
                self.ib.cancelMktData(contract)
            await self._pace()
            self._tickers[name] = self.ib.reqMktData(contract)

    # ---- market depth --------------------------------------------------------------------------------

    async def subscribe_depth(self, symbol: str, rows: int = 10) -> None:
        """Market depth (`reqMktDepth`, SMART depth for a SMART-routed stock) kept as a price-level book
        for `depth()`. The engine's events do not change: BookUpdates still come from top-of-book ticks.

        The book is not ready (`depth()` raises `BookNotReadyError`) until the rows of the request have
        arrived, and again from a gap or a loss until they are rebuilt: a 317 reset (the rows that follow
        rebuild it), a row for a position the ladder does not have (a new request), 1100/2103/a dropped
        socket (a new request after 1101/1102/2104 or the reconnect)."""
        if rows < 1:
            raise ConfigError("depth rows must be at least 1")
        contract = await self.qualify(symbol)
        self._require_connected()
        d = self._depth.get(symbol)
        if d is None:
            d = self._depth[symbol] = _Depth(rows, contract.exchange == "SMART", Book(self._specs[symbol]))
        d.rows = rows
        await self._request_depth(symbol)

    async def unsubscribe_depth(self, symbol: str) -> None:
        d = self._depth.pop(symbol, None)
        if d is None:
            return
        async with d.lock:  # after a request under way
            if d.live and self.ib.isConnected():
                await self._pace(priority=True)
                self.ib.cancelMktDepth(self._contracts[symbol], isSmartDepth=d.smart)
            d.live = d.accepting = False

    def depth(self, symbol: str, n: int = 10) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The best `n` bid and ask levels (price, qty in integer units), best first."""
        book = self.depth_book(symbol)
        if book.state != BookState.VALID:
            raise BookNotReadyError(f"{symbol} depth is being rebuilt ({book.state})")
        return book.depth(Side.BUY, n), book.depth(Side.SELL, n)

    def depth_book(self, symbol: str) -> Book:
        """The depth `Book` of a subscribed instrument (read it; the connector writes it)."""
        d = self._depth.get(symbol)
        if d is None:
            raise BookNotReadyError(f"no depth subscription for {symbol}")
        return d.book

    async def _request_depth(self, name: str) -> None:
        """A new depth request for `name` (the open one, if any, canceled first)."""
        d = self._depth.get(name)
        if d is None:
            return  # unsubscribed meanwhile
        async with d.lock:
            d.accepting = False
            d.book.begin_resync()
            contract = self._contracts[name]
            if d.live and self.ib.isConnected():
                await self._pace()
                self.ib.cancelMktDepth(contract, isSmartDepth=d.smart)
                d.live = False
                # the Gateway answers in order: every row of the old request has arrived (and been
                # ignored) once this answer is in
                await self._ask(self.ib.reqCurrentTimeAsync, "reqCurrentTimeAsync")
            await self._pace()
            self._require_connected()
            d.bids.clear()
            d.asks.clear()
            d.reset = None
            self.ib.reqMktDepth(contract, numRows=d.rows, isSmartDepth=d.smart)
            d.live = d.accepting = True
            d.requested_ns = self.clock.monotonic_ns()

    def _resubscribe_depth(self, name: str, *, after_gap: bool = False) -> None:
        """Schedule a new depth request for `name` (once, however many causes ask for it)."""
        d = self._depth.get(name)
        if d is None or d.pending or self._closing:
            return
        d.pending = True
        self._spawn(self._redo_depth(name, d, after_gap))

    async def _redo_depth(self, name: str, d: _Depth, after_gap: bool = False) -> None:
        try:
            if after_gap:
                wait = d.requested_ns + _DEPTH_RETRY_NS - self.clock.monotonic_ns()
                if wait > 0:
                    await self.clock.sleep(wait / 1e9)
            if self._depth.get(name) is d:
                await self._request_depth(name)
        except (TimeoutError, ConnectionError, VenueError) as e:
            log.warning("ibkr: depth of %s not re-subscribed: %s", name, e)
        finally:
            d.pending = False

    def _on_depth_reset(self, contract: Any) -> None:
        """Error 317: empty the rows; the ones the Gateway sends after it rebuild them."""
        name = self._by_con.get(getattr(contract, "conId", 0))
        d = self._depth.get(name) if name is not None else None
        ticker = self.ib.ticker(contract)
        if d is None or not d.accepting or ticker is None:
            return
        # the SDK has appended its own deletes for the reset: what follows them in this batch is new
        d.reset = (ticker.domTicks, len(ticker.domTicks))
        d.book.begin_resync()
        log.warning("ibkr: depth of %s reset by the Gateway (317)", name)

    def _on_depth(self, name: str, d: _Depth, spec: InstrumentSpec, ticks: list[MktDepthData]) -> None:
        """One batch of depth rows: applied to the ladder, then published into the book as price levels."""
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
                row = None if tick.operation == 2 else _row(spec, tick.price, tick.size)
                d.apply(tick.position, tick.operation, tick.side, row)
            except _DepthGapError as gap:
                log.warning("ibkr: depth of %s has a gap (%s): requesting it again", name, gap)
                d.accepting = False
                d.book.mark_invalid(gap.expected, gap.got)
                self._resubscribe_depth(name, after_gap=True)
                return
            except (ValueError, InvalidOperation, VenueError) as e:
                log.warning("ibkr: depth row of %s not usable (%s): requesting it again", name, e)
                d.accepting = False
                d.book.mark_invalid(0, tick.position)
                self._resubscribe_depth(name, after_gap=True)
                return
            applied = True
        if applied:
            d.batches += 1
            d.book.apply_snapshot(d.levels(1), d.levels(0), d.batches)

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        recv = self.clock.now_ns()
        for t in tickers:
            name = self._by_con.get(t.contract.conId) if t.contract is not None else None
            if name is None or name not in self._specs:
                continue
            spec = self._specs[name]
            d = self._depth.get(name)
            if d is not None and (t.domTicks or d.reset is not None):
                self._on_depth(name, d, spec, t.domTicks)
            bid = spec.price_to_units(f"{exact(t.bid):f}") if _finite(t.bid) and t.bid > 0 else None
            ask = spec.price_to_units(f"{exact(t.ask):f}") if _finite(t.ask) and t.ask > 0 else None
            bid_qty = int(t.bidSize) if bid is not None and _finite(t.bidSize) else 0
            ask_qty = int(t.askSize) if ask is not None and _finite(t.askSize) else 0
            top = (bid, bid_qty, ask, ask_qty)
            if top == self._tops.get(name) or (bid is None and ask is None):
                continue
            self._tops[name] = top
            self._queue.put_nowait(BookUpdate(name, bid, bid_qty, ask, ask_qty, self.clock.now_ns(), recv))


def _row(spec: InstrumentSpec, price: float, size: float) -> tuple[int, int]:
    """A depth row's price and size in integer units (ValueError if off the tick or not whole shares)."""
    if not (_finite(price) and _finite(size)):
        raise ValueError("no price or size")
    qty = exact(size)
    if qty != qty.to_integral_value():
        raise ValueError(f"a size of {qty} shares")
    return spec.price_to_units(f"{exact(price):f}"), int(qty)


def base_currency_values(values: Iterable[AccountValue]) -> dict[str, Decimal]:
    """Numeric account values in the base currency: the currency NetLiquidation is reported in, with
    IB's "BASE" totals (every currency converted) taking precedence for a tag reported both ways."""
    values = list(values)
    base = next((v.currency for v in values if v.tag == "NetLiquidation" and v.currency != "BASE"), "")
    out: dict[str, Decimal] = {}
    for wanted in (base, "BASE"):
        for v in values:
            if not wanted or v.currency != wanted:
                continue
            try:
                d = Decimal(v.value)
            except InvalidOperation:
                continue  # a text value (AccountType, ...)
            if d.is_finite():
                out[v.tag] = d
    return out


def _time_ns(t: object) -> int:
    """An SDK timestamp as ns since the epoch, exactly (a naive one is taken as UTC)."""
    if not isinstance(t, dt.datetime):
        return 0
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return (t - _EPOCH) // dt.timedelta(microseconds=1) * 1000


def _perm_id(t: Trade) -> int:
    return t.orderStatus.permId or t.order.permId


def _finite(x: float | Decimal) -> bool:
    """A real value, not the SDK's NaN or IB's unset double (1.7976931348623157e308)."""
    return math.isfinite(x) and -1e300 < float(x) < 1e300  # a range check only, never a price
