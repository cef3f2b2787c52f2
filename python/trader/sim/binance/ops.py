"""Every endpoint of every market in one table, and one implementation of each behaviour.

A row is (market, HTTP method, path, operation, weight, signed, WebSocket API names). The operation
runs with the market the request arrived on: it picks the book (spot and margin share the spot book),
the wallet, the error wording and the response shape. The WebSocket APIs (spot `/ws-api/v3`, futures
`/ws-fapi/v1`) call the same operations with the same weights, from the rows that name them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trader.sim.binance import funding, futures_account, info
from trader.sim.binance import venue_info as vi
from trader.sim.binance.errors import ApiError, no_such_order, unknown_order
from trader.sim.binance.state import (
    FUTURES_MARKET,
    LIVE,
    MARGIN,
    MARGIN_MARKET,
    SPOT_MARKET,
    Book,
    Market,
    trades_of,
)

if TYPE_CHECKING:
    from trader.sim.binance.server import BinanceSimServer

Weight = int | Callable[[dict[str, str]], int]
Op = Callable[["Operations", Market, dict[str, str], str], Any]
MARGIN_ONLY = ("isIsolated", "sideEffectType", "autoRepayAtCancel")


@dataclass(frozen=True)
class Route:
    market: Market
    method: str
    path: str
    op: Op
    weight: Weight
    signed: bool = True
    ws: tuple[str, ...] = ()  # the WebSocket API methods that run this operation


class Operations:
    """The behaviours behind the routes: `op(operations, market, params, api key or "")`."""

    def __init__(self, sim: BinanceSimServer) -> None:
        self.sim = sim

    def run(self, op: Op, market: Market, params: dict[str, str], key: str) -> Any:
        return op(self, market, params, key)

    def book(self, market: Market) -> Book:
        return self.sim.futures if market.book == "futures" else self.sim.spot

    # ---- public ------------------------------------------------------------------------------------

    def ping(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        return {}

    def time(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        return {"serverTime": self.sim.now_ms()}

    def exchange_info(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        if market.book == "futures":
            return info.futures_exchange_info(self.sim.futures, self.sim.spot.base, self.sim.limits, params)
        return info.spot_exchange_info(self.sim.spot, self.sim.limits, params)

    def depth(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        if market.book == "futures":
            limit = info.futures_depth_limit(self.sim.futures, params)
            self.sim.publish_futures_depth()  # the snapshot then sits exactly on an event's `u`
            return info.futures_depth(self.sim.futures, self.sim.futures_feed.last_update_id, limit)
        return info.spot_depth(self.sim.spot, self.sim.spot_feed.last_update_id, params)

    # ---- orders (every market) ---------------------------------------------------------------------

    def new_order(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        if market is SPOT_MARKET:
            sent = [p for p in MARGIN_ONLY if p in params]
            if sent:  # spot reads none of them (margin orders go to /sapi/v1/margin/order)
                raise ApiError(
                    -1104,
                    f"Not all sent parameters were read; read '{len(params) - len(sent)}' parameter(s) "
                    f"but was sent '{len(params)}'.",
                )
        if market is MARGIN_MARKET:
            params = self.sim.margin.prepare_order(market, params, key)
            body = self.sim.spot.place(market, params, key)
            body["isIsolated"] = market.wallet(params) != MARGIN
            return body
        return self.book(market).place(market, params, key)

    def order_status(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        book = self.book(market)
        o = book.find(market, params, key)
        if o is None:
            raise no_such_order()
        return book.order_json(o)

    def open_order(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        book = self.book(market)
        o = book.find(market, params, key)
        if o is None or o.status not in LIVE:
            raise no_such_order()
        return book.order_json(o)

    def cancel_order(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        book = self.book(market)
        o = book.find(market, params, key)
        if o is None or o.status not in LIVE:
            raise unknown_order()
        return book.cancel(o, params)

    def cancel_all(self, market: Market, params: dict[str, str], key: str) -> Any:
        return self.book(market).cancel_all(market, params, key)

    def open_orders(self, market: Market, params: dict[str, str], key: str) -> list[dict[str, Any]]:
        book = self.book(market)
        if market is not MARGIN_MARKET:
            book.check_symbol(params, default=True)
        wallet = book.wallet(market, params, key)
        return [book.order_json(o) for o in book.live(key, wallet)]

    def all_orders(self, market: Market, params: dict[str, str], key: str) -> list[dict[str, Any]]:
        book = self.book(market)
        if market.symbol_required:
            book.check_symbol(params, mandatory=True)
        wallet = book.wallet(market, params, key)
        limit = min(int(params.get("limit", "500")), market.all_orders_max)
        return [book.order_json(o) for o in book.orders_of(key, wallet)][-limit:]

    def trades(self, market: Market, params: dict[str, str], key: str) -> list[dict[str, Any]]:
        book = self.book(market)
        if market.symbol_required:
            book.check_symbol(params, mandatory=True)
        wallet = book.wallet(market, params, key)
        return trades_of(params, book.counters(key, wallet).trades)

    def account(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        if market is FUTURES_MARKET:
            return futures_account.account(self.sim.futures, params, key)
        if market is MARGIN_MARKET:
            return self.sim.margin.account(market, params, key)
        return info.spot_account(self.sim.spot, self.sim.spot.accounts[key])

    # ---- futures -----------------------------------------------------------------------------------

    def leverage(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        return futures_account.leverage(self.sim.futures, params, key)

    def margin_type(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        return futures_account.margin_type(self.sim.futures, params, key)

    def countdown(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        return futures_account.countdown(self.sim.futures, params, key)

    def position_v2(self, market: Market, params: dict[str, str], key: str) -> list[dict[str, Any]]:
        return futures_account.position_v2(self.sim.futures, params, key)

    def position_v3(self, market: Market, params: dict[str, str], key: str) -> list[dict[str, Any]]:
        return futures_account.position_v3(self.sim.futures, params, key)

    def balance(self, market: Market, params: dict[str, str], key: str) -> list[dict[str, Any]]:
        return futures_account.balance(self.sim.futures, params, key)

    def income(self, market: Market, params: dict[str, str], key: str) -> list[dict[str, Any]]:
        return funding.income(self.sim.funding, self.sim.futures, params, key, self.sim.now_ms())

    # ---- margin ------------------------------------------------------------------------------------

    def isolated_account(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        return self.sim.margin.isolated_account(market, params, key)

    def max_borrowable(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        return self.sim.margin.max_borrowable(market, params, key)

    def borrow_repay(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        return self.sim.margin.borrow_repay(market, params, key)

    def loan(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        return self.sim.margin.loan(market, params, key)

    def repay(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        return self.sim.margin.pay_back(market, params, key)

    def listen_token(self, market: Market, params: dict[str, str], key: str) -> dict[str, Any]:
        """A margin listenToken, for `userDataStream.subscribe.listenToken` on the WebSocket API."""
        wallet = market.wallet(params)
        self.sim.margin.get(key, wallet)
        return self.sim.user.listen_token(key, wallet, params)


S, F, M = SPOT_MARKET, FUTURES_MARKET, MARGIN_MARKET
ROUTES = (
    Route(S, "GET", "/api/v3/ping", Operations.ping, 1, False),
    Route(S, "GET", "/api/v3/time", Operations.time, 1, False),
    Route(S, "GET", "/api/v3/exchangeInfo", Operations.exchange_info, 20, False),
    Route(S, "GET", "/api/v3/depth", Operations.depth, info.spot_depth_weight, False),
    Route(S, "POST", "/api/v3/order", Operations.new_order, 1, ws=("order.place",)),
    Route(S, "GET", "/api/v3/order", Operations.order_status, 4, ws=("order.status",)),
    Route(S, "DELETE", "/api/v3/order", Operations.cancel_order, 1, ws=("order.cancel",)),
    Route(S, "GET", "/api/v3/openOrders", Operations.open_orders, 6, ws=("openOrders.status",)),
    Route(S, "DELETE", "/api/v3/openOrders", Operations.cancel_all, 1, ws=("openOrders.cancelAll",)),
    Route(S, "GET", "/api/v3/allOrders", Operations.all_orders, 20),
    Route(S, "GET", "/api/v3/myTrades", Operations.trades, 20, ws=("myTrades",)),
    Route(S, "GET", "/api/v3/account", Operations.account, 20, ws=("account.status",)),
    Route(S, "GET", "/api/v3/account/commission", vi.account_commission, 20),
    Route(S, "GET", "/api/v3/ticker/24hr", vi.ticker_24hr, vi.ticker_weight(2, 80), False),
    Route(S, "GET", "/api/v3/ticker/bookTicker", vi.book_ticker, vi.ticker_weight(2, 4), False),
    Route(S, "GET", "/api/v3/ticker/price", vi.price_ticker, vi.ticker_weight(2, 4), False),
    Route(S, "GET", "/api/v3/trades", vi.recent_trades, 25, False),
    Route(S, "GET", "/api/v3/aggTrades", vi.agg_trades, 4, False),
    Route(S, "GET", "/api/v3/klines", vi.klines, 2, False),
    Route(F, "GET", "/fapi/v1/ping", Operations.ping, 1, False),
    Route(F, "GET", "/fapi/v1/time", Operations.time, 1, False),
    Route(F, "GET", "/fapi/v1/exchangeInfo", Operations.exchange_info, 1, False),
    Route(F, "GET", "/fapi/v1/depth", Operations.depth, info.futures_depth_weight, False),
    Route(F, "POST", "/fapi/v1/order", Operations.new_order, 0, ws=("order.place",)),
    Route(F, "GET", "/fapi/v1/order", Operations.order_status, 1, ws=("order.status",)),
    Route(F, "DELETE", "/fapi/v1/order", Operations.cancel_order, 1, ws=("order.cancel",)),
    Route(F, "GET", "/fapi/v1/openOrder", Operations.open_order, 1),
    Route(F, "GET", "/fapi/v1/openOrders", Operations.open_orders, info.futures_open_orders_weight),
    Route(F, "GET", "/fapi/v1/allOrders", Operations.all_orders, 5),
    Route(F, "DELETE", "/fapi/v1/allOpenOrders", Operations.cancel_all, 1),
    Route(F, "GET", "/fapi/v1/userTrades", Operations.trades, 5),
    Route(F, "POST", "/fapi/v1/leverage", Operations.leverage, 1),
    Route(F, "POST", "/fapi/v1/marginType", Operations.margin_type, 1),
    Route(F, "POST", "/fapi/v1/countdownCancelAll", Operations.countdown, 10),
    Route(F, "GET", "/fapi/v2/positionRisk", Operations.position_v2, 5, ws=("account.position",)),
    Route(F, "GET", "/fapi/v3/positionRisk", Operations.position_v3, 5, ws=("v2/account.position",)),
    Route(F, "GET", "/fapi/v2/balance", Operations.balance, 5, ws=("account.balance", "v2/account.balance")),
    Route(F, "GET", "/fapi/v3/balance", Operations.balance, 5),
    Route(F, "GET", "/fapi/v2/account", Operations.account, 5, ws=("account.status", "v2/account.status")),
    Route(F, "GET", "/fapi/v3/account", Operations.account, 5),
    Route(F, "GET", "/fapi/v1/income", Operations.income, 30),
    Route(F, "GET", "/fapi/v1/ticker/24hr", vi.ticker_24hr, vi.ticker_weight(1, 40), False),
    Route(F, "GET", "/fapi/v1/ticker/bookTicker", vi.book_ticker, vi.ticker_weight(2, 5), False),
    Route(F, "GET", "/fapi/v1/ticker/price", vi.price_ticker, vi.ticker_weight(1, 2), False),
    Route(F, "GET", "/fapi/v2/ticker/price", vi.price_ticker, vi.ticker_weight(1, 2), False),
    Route(F, "GET", "/fapi/v1/trades", vi.recent_trades, 5, False),
    Route(F, "GET", "/fapi/v1/aggTrades", vi.agg_trades, 20, False),
    Route(F, "GET", "/fapi/v1/klines", vi.klines, vi.futures_klines_weight, False),
    Route(F, "GET", "/fapi/v1/premiumIndex", vi.premium_index, vi.ticker_weight(1, 10), False),
    Route(F, "GET", "/fapi/v1/fundingRate", vi.funding_rate, 1, False),
    Route(F, "GET", "/fapi/v1/commissionRate", vi.futures_commission, 20),
    Route(F, "GET", "/fapi/v1/leverageBracket", vi.leverage_brackets, 1),
    Route(F, "GET", "/fapi/v1/positionSide/dual", vi.position_mode, 30),
    Route(F, "POST", "/fapi/v1/positionSide/dual", vi.change_position_mode, 1),
    Route(M, "POST", "/sapi/v1/margin/order", Operations.new_order, 6),
    Route(M, "GET", "/sapi/v1/margin/order", Operations.order_status, 10),
    Route(M, "DELETE", "/sapi/v1/margin/order", Operations.cancel_order, 10),
    Route(M, "GET", "/sapi/v1/margin/openOrders", Operations.open_orders, 10),
    Route(M, "DELETE", "/sapi/v1/margin/openOrders", Operations.cancel_all, 1),
    Route(M, "GET", "/sapi/v1/margin/allOrders", Operations.all_orders, 200),
    Route(M, "GET", "/sapi/v1/margin/myTrades", Operations.trades, 10),
    Route(M, "GET", "/sapi/v1/margin/account", Operations.account, 10),
    Route(M, "GET", "/sapi/v1/margin/isolated/account", Operations.isolated_account, 10),
    Route(M, "GET", "/sapi/v1/margin/maxBorrowable", Operations.max_borrowable, 50),
    Route(M, "POST", "/sapi/v1/margin/borrow-repay", Operations.borrow_repay, 1500),
    Route(M, "POST", "/sapi/v1/margin/loan", Operations.loan, 3000),
    Route(M, "POST", "/sapi/v1/margin/repay", Operations.repay, 3000),
    Route(M, "POST", "/sapi/v1/userListenToken", Operations.listen_token, 1),
    Route(M, "GET", "/sapi/v1/system/status", vi.system_status, 1, False),
    Route(M, "GET", "/sapi/v1/asset/tradeFee", vi.trade_fee, 1),
)
# the listen-key endpoints of each market (POST create, PUT keep alive, DELETE close)
LISTEN_KEY_PATHS = (
    (S, "/api/v3/userDataStream"),
    (F, "/fapi/v1/listenKey"),
    (M, "/sapi/v1/userDataStream"),
    (M, "/sapi/v1/userDataStream/isolated"),
)


def ws_methods(market: Market) -> dict[str, tuple[Op, int]]:
    """The WebSocket API of a book: method -> (operation, weight), from the REST rows that name it."""
    return {
        name: (r.op, r.weight)
        for r in ROUTES
        if r.market.book == market.book and r.ws and isinstance(r.weight, int)
        for name in r.ws
    }
