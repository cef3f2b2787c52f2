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
  turned back into the wire's decimal text through their shortest repr and become integer units once,
  in `parse.py` (which also builds every report; `orders.py` builds the SDK order, `depth.py` keeps the
  depth book, `errors.py` holds the TWS error codes, `endpoints.py` the ports and pacing).
- Pacing: IB allows 50 messages a second per client (error 100, then a disconnect). Every request this
  connector sends is charged to a core `RateLimiter` window of `max_messages_per_second` (40 by default)
  with a reserve for cancels; a new order over budget raises `RateLimitError` (nothing sent), other
  requests wait for their turn. An error 100 from the Gateway blocks the limiter for a second.
- Connectivity: 1100 (Gateway lost IB) and 2103 (market-data farm broken) make every book invalid
  (`BookInvalid`) and pause order entry (`VenueUnavailableError`, nothing sent); 1101 (restored, data
  lost) and 1102 (restored, data kept) re-subscribe market data (a fresh top at once) and reconcile: open
  orders and executions are fetched and reported again (the engine de-duplicates fills by execution id).
  A dropped socket does the same after an automatic reconnect with the same client id. Health: a lost
  socket or 1100 is `StreamStatus` down for both streams (2103: market only); the private stream is up
  again once reconciled, the market once a fresh top arrives.
- Account and executions: `account_values()` is the account's numeric values in its base currency
  (from the account-updates subscription the session opens at connect), `executions(since_ns)` the
  account's executions as the Gateway reports them (`IbExecution`: order ref, shares, price, commission).
- Depth: `subscribe_depth(symbol, rows)` opens a depth request (SMART depth for SMART-routed stocks) and
  keeps a core `Book` per symbol from IB's positional rows (insert / update / delete at a row; rows at one
  price add up); `depth(symbol, n)` is its best levels, or `BookNotReadyError` while it is rebuilt. A 317
  reset empties the rows (those that follow rebuild them); a row for a position the ladder does not have
  is a gap: a new request (at most once a second); 1100/2103/a dropped socket make it not ready until a new
  request after 1101/1102/2104 or the reconnect. The engine's BookUpdates still come from the top ticks.
- No hop: ib_async decodes in its socket's read callback and calls `_on_tickers` there (once per read);
  a new top goes into an `EventQueue`, handed to the waiting engine in that call. An order's answer wakes
  the `submit`/`cancel` waiting for it in its read too (`_tell`).
- Paper first: with `paper=True` (the default) the connector refuses an account that is not a paper
  account (ids starting with "D", e.g. DU1234567); the default ports are the paper ones.
- `cancel_all()` without an instrument is `reqGlobalCancel` (every open order of the account, whichever
  client placed it), then verified with `reqAllOpenOrders` until nothing is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, TypeVar

from ib_async import (
    IB,
    CommissionReport,
    Contract,
    ContractDetails,
    ExecutionFilter,
    Fill,
    Order,
    Stock,
    Ticker,
    Trade,
)

from trader.clock import Clock
from trader.core import Approval, Book, InstrumentSpec, RateLimiter, Window
from trader.errors import (
    AuthenticationError,
    ConfigError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    UnknownOutcomeError,
    VenueError,
    VenueUnavailableError,
)
from trader.venues._events import EventQueue
from trader.venues._status import StreamHealth
from trader.venues.base import (
    BookInvalid,
    BookUpdate,
    FillReport,
    FundingPayment,
    InstrumentInfo,
    OrderReport,
    OrderState,
    Stream,
    SubmitAck,
    VenueEvent,
    require_approval,
)
from trader.venues.ibkr import errors, orders, parse
from trader.venues.ibkr.depth import DepthBooks
from trader.venues.ibkr.endpoints import (
    DEFAULT_MESSAGES_PER_SECOND,
    FEE_WAIT_S,
    LIVE_PORTS,
    MAX_MESSAGES_PER_SECOND,
    PACING_BLOCK_NS,
    PACING_WINDOW_NS,
    PAPER_GATEWAY_PORT,
)
from trader.venues.ibkr.errors import VENUE, AmbiguousContractError, UnknownContractError, error_from
from trader.venues.ibkr.orders import CAPABILITIES
from trader.venues.ibkr.parse import ACKED_STATUSES as _ACKED
from trader.venues.ibkr.parse import OPEN_STATUSES as _OPEN
from trader.venues.ibkr.parse import IbExecution, StockSpec, perm_id
from trader.venues.ibkr.reads import KeyedReads
from trader.venues.profile import VenueTime

log = logging.getLogger("trader.venues.ibkr")


class _CancelConfirmations(logging.Filter):
    """ib_async logs IB's code 202 ("Order Canceled") at ERROR level although it confirms a cancel we
    asked for; the connector reports cancels itself, so these lines are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Error 202,")


logging.getLogger("ib_async.wrapper").addFilter(_CancelConfirmations())
_T = TypeVar("_T")


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
        max_messages_per_second: int = DEFAULT_MESSAGES_PER_SECOND,
        market_data: bool = True,
        reconnect: bool = True,
        reconnect_delay_s: float = 0.2,
    ) -> None:
        if not 0 < max_messages_per_second <= MAX_MESSAGES_PER_SECOND:
            raise ConfigError(f"max_messages_per_second must be in (0, {MAX_MESSAGES_PER_SECOND}]")
        if paper and port in LIVE_PORTS:
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
            "messages", [Window(max_messages_per_second, PACING_WINDOW_NS, rolling=True, reserve=reserve)]
        )
        self._contracts: dict[str, Contract] = {}
        self._details: dict[str, ContractDetails] = {}
        self._specs: dict[str, InstrumentSpec] = {}
        self._by_con: dict[int, str] = {}
        self._tickers: dict[str, Ticker] = {}
        self._tops: dict[str, tuple[int | None, int, int | None, int]] = {}
        self._queue: EventQueue[VenueEvent] = EventQueue()
        self._health = StreamHealth(self._queue, clock)
        self._trades: dict[str, Trade] = {}  # client order id -> the SDK's live trade
        self._reported: dict[str, tuple[OrderState, int]] = {}
        self._fills_sent: set[str] = set()
        self._fill_qty: dict[str, int] = {}  # client order id -> shares in the FillReports sent
        self._deferred: dict[str, OrderReport] = {}  # reports waiting for their fills' fees
        self._rejected: dict[str, str] = {}  # client order id -> why
        self._cancel_asked: set[str] = set()
        self._order_errors: dict[int, asyncio.Future[VenueError]] = {}
        self._news: set[asyncio.Future[None]] = set()  # the waits of `_until`
        self._depth = DepthBooks(self)
        self._farm_ok = True
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._reads = KeyedReads(self._ask)  # reads ib_async keys by name: one in flight per key
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

    async def venue_time(self) -> VenueTime:
        """The gateway's clock (`reqCurrentTime`, whole seconds): the venue's time, for sessions and clock
        checks. The gateway tells it inside an API session: one is opened if none is (no subscriptions)."""
        if not self.ib.isConnected():
            await self._open()
        try:
            t = await self.clock.wait_for(self.ib.reqCurrentTimeAsync(), self._timeout_s)
        except TimeoutError:
            raise VenueUnavailableError("the gateway did not tell its time", venue=VENUE) from None
        return VenueTime(int(t.timestamp()) * 1_000_000_000, 1_000_000_000)

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
        self._health.stop()  # our own disconnect is no stream failure
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
            names = sorted({parse.describe(d.contract) for d in details if d.contract is not None})
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
        self._specs[instrument] = parse.trading_spec(d)
        return c

    async def instrument_info(self, symbol: str) -> InstrumentInfo:
        await self.qualify(symbol)
        return parse.instrument_info(symbol, self._contracts[symbol], self._specs[symbol])

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
        """One paced read and its answer; no session or no answer in time is `VenueUnavailableError`."""
        await self._pace(priority=priority)
        try:
            return await self.clock.wait_for(request(), self._timeout_s)
        except (TimeoutError, ConnectionError) as e:
            raise VenueUnavailableError(f"{what}: {type(e).__name__}", venue=VENUE) from None

    async def _open_orders(self, *, every_client: bool = False) -> list[Trade]:
        """Open orders (`every_client`: of every API client and TWS); one read at a time (`.reads`)."""
        read = self.ib.reqAllOpenOrdersAsync if every_client else self.ib.reqOpenOrdersAsync
        return await self._reads.ask("openOrders", read, read.__name__, priority=every_client)

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
        return orders.order_of(a, client_id, self.trading_spec(instrument), self.account)

    def rehearse(self, approval: Approval, client_id: str, instrument: str) -> int:
        """`submit` up to ib_async without its effects (`trader.venues.base.Rehearses`): the qualified
        `Contract` (the one `qualify` keeps) and the `Order` built by `build_order`, as `submit` hands
        them to `placeOrder`, then dropped. Not placed, no order id taken from ib_async (it assigns one
        when placing), no pacing quota used, nothing remembered. The size: the number of fields of the
        two that are set (`orders.fields_set`; the TWS message itself is only built while ib_async sends
        it). The client id is not checked for reuse: the engine rehearses the order it last sent."""
        contract = self._contracts.get(instrument)
        if contract is None:
            raise VenueError(f"{instrument} is not qualified yet (connect first)", venue=VENUE)
        return orders.fields_set(contract, self.build_order(approval, client_id, instrument))

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
        """Wait until `cond()` holds, an order error arrives, the session drops, or `timeout_s` passes:
        looked at again on news of an order (`_tell`, in the read that brought it), else every 2 ms."""
        deadline = self.clock.monotonic_ns() + int(self._timeout_s * 1e9)
        loop = asyncio.get_running_loop()
        while not cond():
            if error is not None and error.done():
                raise error.result()
            if not self.ib.isConnected():
                raise VenueUnavailableError("the API session dropped", venue=VENUE)
            if self.clock.monotonic_ns() > deadline:
                raise TimeoutError
            news: asyncio.Future[None] = loop.create_future()
            self._news.add(news)
            try:
                await self.clock.wait_for(news, 0.002)
            except TimeoutError:
                pass
            finally:
                self._news.discard(news)

    def _tell(self) -> None:
        """News of an order (in the read that brought it): the waits in `_until` look again now."""
        for news in self._news:
            if not news.done():
                news.set_result(None)

    async def _find(self, client_id: str) -> Trade | None:
        """The order as the Gateway knows it: from this session, else from its open and completed orders.
        An order the Gateway never acknowledged (no permId) is looked up again, and is None if unknown."""
        trade = self._trades.get(client_id)
        if trade is not None and perm_id(trade):
            return trade
        await self._session_back()  # "not found" is an answer only the Gateway can give
        if self.ib.isConnected():
            for t in await self._open_orders():
                self._adopt(t)
            trade = self._trades.get(client_id)
            if trade is None or not perm_id(trade):
                completed = partial(self.ib.reqCompletedOrdersAsync, False)
                for t in await self._reads.ask("completedOrders", completed, "reqCompletedOrdersAsync"):
                    self._adopt(t)
        trade = self._trades.get(client_id)
        return trade if trade is not None and perm_id(trade) else None

    async def _session_back(self) -> None:
        """Wait (up to the request timeout) for a dropped session to be reconnected; else
        `VenueUnavailableError`: without a session nothing can be said about an order."""
        deadline = self.clock.monotonic_ns() + int(self._timeout_s * 1e9)
        while not self.ib.isConnected():
            if not self._reconnect or self.clock.monotonic_ns() > deadline:
                raise VenueUnavailableError("no API session: cannot ask about the order", venue=VENUE)
            await self.clock.sleep(0.01)

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
            trades = await self._open_orders()
            mine = [t for t in trades if t.contract.conId == con_id and t.orderStatus.status in _OPEN]
            n = 0
            for t in mine:
                self._adopt(t)
                if t.order.orderRef:
                    with contextlib.suppress(OrderNotFoundError):
                        await self.cancel(t.order.orderRef)
                        n += 1
            return n
        before = await self._open_orders(every_client=True)
        count = len([t for t in before if t.orderStatus.status in _OPEN])
        for t in before:
            if t.order.orderRef:
                self._cancel_asked.add(t.order.orderRef)
        await self._pace(priority=True)
        self.ib.reqGlobalCancel()  # type: ignore[no-untyped-call]  # ib_async 2.1 leaves it unannotated
        deadline = self.clock.monotonic_ns() + int(self._timeout_s * 1e9)
        while True:  # verify: nothing of the account is open any more
            await self.clock.sleep(0.01)
            left = await self._open_orders(every_client=True)
            if not [t for t in left if t.orderStatus.status in _OPEN]:
                return count
            if self.clock.monotonic_ns() > deadline:
                raise UnknownOutcomeError(
                    f"{len(left)} orders still open after the global cancel", venue=VENUE
                )

    # ---- queries -------------------------------------------------------------------------------------

    def _report(self, client_id: str, trade: Trade) -> OrderReport:
        """The order as the session knows it now (ib_async applied the Gateway's message as it was read,
        so now is when we learned it)."""
        instrument = self._by_con.get(trade.contract.conId, trade.contract.symbol)
        spec = self._specs.get(instrument) or parse.FALLBACK_SPEC
        rejected = client_id in self._rejected
        state = parse.order_state(trade, rejected=rejected, cancel_asked=client_id in self._cancel_asked)
        reason = self._rejected.get(client_id, "")
        return parse.order_report(client_id, trade, instrument, spec, state, reason, self.clock.now_ns())

    async def query(self, client_id: str) -> OrderReport | None:
        trade = await self._find(client_id)
        if trade is None and client_id in self._rejected:
            trade = self._trades.get(client_id)  # refused by the Gateway: it never got a permId
        return None if trade is None else self._report(client_id, trade)

    async def open_orders(self) -> list[OrderReport]:
        """This client id's open orders in the account (placed by this session or an earlier one)."""
        self._require_connected()
        trades = await self._open_orders()
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
            if report is not None and report.ts_event >= ts_ns - 1_000_000_000:  # whole seconds
                out.append(report)
        return out

    async def executions(self, since_ns: int = 0) -> list[IbExecution]:
        """The account's executions as the Gateway reports them, with their commissions, from `since_ns`
        on (the Gateway stamps executions to the second, so `since_ns` counts from the start of its
        second)."""
        since = since_ns - since_ns % 1_000_000_000
        out = []
        for f in await self._account_fills():
            x = parse.execution(f, self._by_con.get(f.contract.conId, f.contract.symbol))
            if x.time_ns >= since:
                out.append(x)
        return out

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
        return parse.base_currency_values(values)

    async def positions(self) -> dict[str, int]:
        self._require_connected()
        out = {name: 0 for name in self.instruments}
        for p in await self._reads.ask("positions", self.ib.reqPositionsAsync, "reqPositionsAsync"):
            if p.account == self.account:
                out[self._by_con.get(p.contract.conId, p.contract.symbol)] = parse.shares(p.position)
        return out

    async def funding_since(self, ts_ns: int) -> list[FundingPayment]:
        return []  # stocks through the Gateway: no perpetual funding

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
        instrument = self._by_con.get(f.contract.conId, f.contract.symbol)
        spec = self._specs.get(instrument) or parse.FALLBACK_SPEC
        try:
            return parse.fill_report(f, instrument, spec, self.clock.now_ns())
        except (ValueError, InvalidOperation, VenueError):
            log.warning("fill %s at an off-tick price skipped", f.execution.execId)
            return None

    def _on_status(self, trade: Trade) -> None:
        self._tell()
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
            asyncio.get_running_loop().call_later(FEE_WAIT_S, self._flush, cid)
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
        if errors.is_rejection(code):
            self._on_order_error(req_id, code, text)
        if code == errors.PACING:
            self._limiter.block_until(self._quota, self.clock.now_ns() + PACING_BLOCK_NS)
            log.error("ibkr: the Gateway dropped a message for pacing (error 100)")
        elif code in (errors.LOST, errors.FARM_BROKEN):
            if code == errors.LOST:
                self._farm_ok = False
                self._health.down(Stream.PRIVATE, f"{code}: the Gateway lost its connection to IB")
            self._invalidate(f"{code}: {text[:120]}")
        elif code in (errors.RESTORED_LOST, errors.RESTORED_KEPT):
            self._farm_ok = True
            # 1102 keeps the Gateway's subscriptions, but what the book did meanwhile is unknown: a fresh
            # subscription brings the current top at once (1101 lost them anyway); depth too
            self._depth.on_restored(data_lost=code == errors.RESTORED_LOST)
            self._spawn(self._resync(resubscribe=True))
        elif code == errors.FARM_OK and self._farm_ok:
            self._depth.on_farm_ok()  # the market-data farm is back after a 2103 alone (no 1100)
        elif code == errors.DEPTH_RESET and contract is not None:
            self._depth.on_reset(contract)

    def _on_order_error(self, req_id: int, code: int, text: str) -> None:
        """An error for a request id: the answer an order (or its cancel) waits for, and a rejection of an
        order the Gateway never accepted (later errors, a refused cancel, leave a live order live)."""
        fut = self._order_errors.get(req_id)
        if fut is not None and not fut.done():
            fut.set_result(error_from(code, text))
            self._tell()
        if req_id <= 0:
            return
        for cid, t in self._trades.items():
            if t.order.orderId == req_id and t.order.clientId == self.client_id and not perm_id(t):
                self._rejected.setdefault(cid, f"{code}: {text[:200]}")

    def _on_disconnected(self) -> None:
        for fut in self._order_errors.values():
            if not fut.done():
                fut.set_result(VenueUnavailableError("the API session dropped", venue=VENUE))
        self._tell()
        self._depth.on_disconnected()  # requests die with the socket
        self._health.down(Stream.PRIVATE, "API session dropped")
        self._invalidate("API session dropped")
        if self._reconnect and not self._closing:
            self._spawn(self._reconnect_loop())

    def _invalidate(self, reason: str) -> None:
        self._health.down(Stream.MARKET, reason)
        for name in self.instruments:
            self._tops.pop(name, None)
            self._queue.put_nowait(BookInvalid(name, reason, ts_recv=self.clock.now_ns()))
        self._depth.lose_all()  # rows may be lost from here on: rebuilt from a new request

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
            await self._depth.request_all()  # the old requests died with the socket
            await self._resync(resubscribe=True)
            return

    async def _resync(self, *, resubscribe: bool) -> None:
        """After a restore or a reconnect: market data again if it was lost, then every order and
        execution of ours reported again from the Gateway's view."""
        try:
            if resubscribe and self._market_data:
                await self._subscribe_all()
            for t in await self._open_orders():
                self._adopt(t)
            for cid, t in list(self._trades.items()):
                self._reported.pop(cid, None)
                self._on_status(t)
            for f in await self._ask(self.ib.reqExecutionsAsync, "reqExecutionsAsync"):
                full = next((k for k in self.ib.fills() if k.execution.execId == f.execution.execId), f)
                if full.execution.orderRef:
                    self._emit_fill(full)
            self._health.up(Stream.PRIVATE)  # the session is back and every order caught up
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
        await self._depth.subscribe(symbol, rows)

    async def unsubscribe_depth(self, symbol: str) -> None:
        await self._depth.unsubscribe(symbol)

    def depth(self, symbol: str, n: int = 10) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The best `n` bid and ask levels (price, qty in integer units), best first."""
        return self._depth.depth(symbol, n)

    def depth_book(self, symbol: str) -> Book:
        """The depth `Book` of a subscribed instrument (read it; the connector writes it)."""
        return self._depth.book(symbol)

    def _on_tickers(self, tickers: set[Ticker]) -> None:
        recv = self.clock.now_ns()
        for t in tickers:
            name = self._by_con.get(t.contract.conId) if t.contract is not None else None
            if name is None or name not in self._specs:
                continue
            spec = self._specs[name]
            self._depth.on_ticks(name, spec, t.domTicks)
            top = parse.top(spec, t)
            bid, bid_qty, ask, ask_qty = top
            if top == self._tops.get(name) or (bid is None and ask is None):
                continue
            self._tops[name] = top  # IB stamps no time: ts_event is our read time too
            self._queue.put_nowait(BookUpdate(name, bid, bid_qty, ask, ask_qty, recv, recv))
            self._health.up(Stream.MARKET)  # a fresh top after a loss: the feed is back
