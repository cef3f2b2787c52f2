"""The Coinbase simulator's REST handlers: `fn(server, request, body, key) -> JSON` (see `server.py`)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from trader.sim.coinbase.state import (
    NS,
    OPEN,
    TAKER_BPS,
    ApiError,
    Order,
    OrderFailedError,
    fmt,
    order_json,
    parse_rfc3339,
    product_json,
    rfc3339,
)
from trader.sim.matching import Trade

if TYPE_CHECKING:
    from trader.sim.coinbase.server import Book, CoinbaseSimServer

Req = web.Request

TIF = {
    "market_market_ioc": "IMMEDIATE_OR_CANCEL",
    "sor_limit_ioc": "IMMEDIATE_OR_CANCEL",
    "limit_limit_ioc": "IMMEDIATE_OR_CANCEL",
    "limit_limit_gtc": "GOOD_UNTIL_CANCELLED",
    "limit_limit_gtd": "GOOD_UNTIL_DATE_TIME",
    "limit_limit_fok": "FILL_OR_KILL",
}
PAGE = 100


def _book(server: CoinbaseSimServer, product_id: str) -> Book:
    book = server.books.get(product_id)
    if book is None:
        raise ApiError(404, "NOT_FOUND", "ProductID is invalid", code=5)
    return book


def get_time(server: CoinbaseSimServer, request: Req, body: bytes, key: str) -> Any:
    now = server.now_ns()
    return {"iso": rfc3339(now), "epochSeconds": str(now // NS), "epochMillis": str(now // 1_000_000)}


def _price(server: CoinbaseSimServer, book: Book) -> str:
    bid, ask = server.top(book.product.product_id)
    return book.product.price((bid + ask) // 2 if bid and ask else round(book.market.mid))


def get_product(server: CoinbaseSimServer, request: Req, body: bytes, key: str) -> Any:
    book = _book(server, request.match_info["product_id"])
    return product_json(book.product, _price(server, book))


def list_products(server: CoinbaseSimServer, request: Req, body: bytes, key: str) -> Any:
    products = [product_json(b.product, _price(server, b)) for b in server.books.values()]
    return {"products": products, "num_products": len(products)}


def _pricebook(server: CoinbaseSimServer, book: Book, limit: int) -> dict[str, Any]:
    p = book.product
    bids, asks = book.engine.depth(limit)
    return {
        "product_id": p.product_id,
        "bids": [{"price": p.price(px), "size": p.size(q)} for px, q in bids],
        "asks": [{"price": p.price(px), "size": p.size(q)} for px, q in asks],
        "time": rfc3339(server.now_ns()),
    }


def product_book(server: CoinbaseSimServer, request: Req, body: bytes, key: str) -> Any:
    book = _book(server, request.query.get("product_id", ""))
    try:
        limit = int(request.query.get("limit", "50") or 50)
    except ValueError:
        raise ApiError(400, "INVALID_ARGUMENT", "limit is not a number") from None
    return {"pricebook": _pricebook(server, book, max(1, min(limit, 500))), "last": "", "mid_market": ""}


def best_bid_ask(server: CoinbaseSimServer, request: Req, body: bytes, key: str) -> Any:
    ids = request.query.getall("product_ids", []) or list(server.books)
    return {"pricebooks": [_pricebook(server, _book(server, i), 1) for i in ids]}


# ---- orders ----------------------------------------------------------------------------------------------


def _dec(text: Any, what: str) -> Decimal:
    try:
        d = Decimal(str(text))
    except InvalidOperation:
        raise OrderFailedError("INVALID_REQUEST", f"{what} is not a number") from None
    if not d.is_finite() or d <= 0:
        raise OrderFailedError("INVALID_REQUEST", f"{what} must be positive")
    return d


def _units(d: Decimal, increment: Decimal, error: str, what: str) -> int:
    units = d / increment
    if units != units.to_integral_value():
        raise OrderFailedError(error, f"{what} {fmt(d)} is not a multiple of {fmt(increment)}")
    return int(units)


def _quote_to_base(book: Book, quote: Decimal) -> int:
    """A market buy by quote size: the base it buys walking the asks, the taker fee included in `quote`
    (Coinbase's `size_inclusive_of_fees`: what is spent, fee and all, is at most `quote_size`)."""
    p = book.product
    quote_min, quote_max = p.quote_min_size, p.quote_max_size
    _units(quote, p.quote_increment, "INVALID_SIZE_PRECISION", "quote_size")
    if quote < quote_min or quote > quote_max:
        raise OrderFailedError(
            "INVALID_REQUEST", f"quote_size is outside [{fmt(quote_min)}, {fmt(quote_max)}]"
        )
    left, size = quote / (1 + TAKER_BPS / 10_000), 0
    for px, q in book.engine.depth(500)[1]:
        value = Decimal(px * q) * p.quote_increment * p.base_increment
        if value >= left:
            return size + int(left / (Decimal(px) * p.quote_increment) / p.base_increment)
        left, size = left - value, size + q
    return size


def _new_order(server: CoinbaseSimServer, key: str, req: dict[str, Any], client_id: str) -> Order:
    book = server.books.get(str(req.get("product_id", "")))
    if book is None:
        raise OrderFailedError("INVALID_PRODUCT_ID", "Invalid product_id")
    p = book.product
    side = req.get("side")
    if side not in ("BUY", "SELL"):
        raise OrderFailedError("INVALID_SIDE", "Invalid side")
    configs = req.get("order_configuration")
    if not isinstance(configs, dict) or len(configs) != 1 or next(iter(configs)) not in TIF:
        raise OrderFailedError("UNSUPPORTED_ORDER_CONFIGURATION", "Unsupported order configuration")
    kind, cfg = next(iter(configs.items()))
    if not isinstance(cfg, dict):
        raise OrderFailedError("UNSUPPORTED_ORDER_CONFIGURATION", "Unsupported order configuration")
    limit = 0
    if kind != "market_market_ioc":
        limit = _units(_dec(cfg.get("limit_price"), "limit_price"), p.quote_increment,
                       "INVALID_PRICE_PRECISION", "limit_price")  # fmt: skip
    if "quote_size" in cfg and kind == "market_market_ioc" and side == "BUY":
        size = _quote_to_base(book, _dec(cfg["quote_size"], "quote_size"))
    else:
        base = _dec(cfg.get("base_size"), "base_size")
        if base < p.base_min_size or base > p.base_max_size:
            raise OrderFailedError(
                "INVALID_REQUEST", f"base_size is outside [{p.base_min_size}, {p.base_max_size}]"
            )
        size = _units(base, p.base_increment, "INVALID_SIZE_PRECISION", "base_size")
    end_ns = 0
    if kind == "limit_limit_gtd":
        try:
            end_ns = parse_rfc3339(str(cfg.get("end_time", "")))
        except ValueError:
            raise OrderFailedError("INVALID_REQUEST", "end_time is not an RFC 3339 time") from None
        if end_ns <= server.now_ns():
            raise OrderFailedError("INVALID_REQUEST", "end_time is in the past")
    return Order(
        server._uuid(), key, client_id, p, str(side), kind, cfg, TIF[kind], size, limit,
        bool(cfg.get("post_only", False)), server.now_ns(), end_ns,
    )  # fmt: skip


def _check(server: CoinbaseSimServer, o: Order) -> None:
    p, book = o.product, server.books[o.product.product_id]
    bid, ask = server.top(p.product_id)
    if o.size <= 0:
        raise OrderFailedError("INVALID_REQUEST", "size is too small")
    price = o.limit or ask or round(book.market.mid)
    notional = Decimal(o.size * price) * p.quote_increment * p.base_increment
    if o.limit and notional < p.quote_min_size:
        raise OrderFailedError("INVALID_REQUEST", f"order value is below the minimum {p.quote_min_size}")
    if o.post_only and (
        (o.side == "BUY" and ask and o.limit >= ask) or (o.side == "SELL" and bid and o.limit <= bid)
    ):
        raise OrderFailedError(
            "INVALID_LIMIT_PRICE_POST_ONLY", "Limit price too aggressive for a post-only order"
        )
    if o.side == "BUY":
        cost = notional * (1 + TAKER_BPS / 10_000) * (1 if o.limit else Decimal("1.05"))
        if server.available(o.key, p.quote) < cost:
            raise OrderFailedError("INSUFFICIENT_FUND", "Insufficient balance in source account")
    elif server.available(o.key, p.base) < Decimal(o.size) * p.base_increment:
        raise OrderFailedError("INSUFFICIENT_FUND", "Insufficient balance in source account")


def create_order(server: CoinbaseSimServer, request: Req, body: bytes, key: str) -> Any:
    try:
        req = orjson.loads(body)
        client_id = str(req["client_order_id"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise ApiError(400, "INVALID_ARGUMENT", "client_order_id and a JSON body are required") from None
    account = server.accounts[key]
    account.submissions[client_id] = account.submissions.get(client_id, 0) + 1
    configuration = req.get("order_configuration") if isinstance(req, dict) else None
    seen = server.by_client.get((key, client_id))
    if seen is None:
        try:
            o = _new_order(server, key, req, client_id)
            _check(server, o)
        except OrderFailedError as e:
            return {
                "success": False,
                "failure_reason": "UNKNOWN_FAILURE_REASON",
                "order_id": "",
                "error_response": {"error": e.error, "message": e.message, "error_details": "",
                                   "preview_failure_reason": f"PREVIEW_{e.error}"},
                "order_configuration": configuration,
            }  # fmt: skip
        server.orders[o.order_id] = seen = o
        server.by_client[(key, client_id)] = o
        server.place(o)
    return {
        "success": True,
        "success_response": {"order_id": seen.order_id, "product_id": seen.product.product_id,
                             "side": seen.side, "client_order_id": seen.client_id},
        "order_configuration": {seen.config_kind: seen.config},
    }  # fmt: skip


def batch_cancel(server: CoinbaseSimServer, request: Req, body: bytes, key: str) -> Any:
    try:
        ids = [str(i) for i in orjson.loads(body)["order_ids"]]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise ApiError(400, "INVALID_ARGUMENT", "order_ids is required") from None
    results = []
    for oid in ids:
        o = server.orders.get(oid)
        if o is None or o.key != key:
            reason = "UNKNOWN_CANCEL_ORDER"
        elif o.status not in OPEN:
            reason = "COMMANDER_REJECTED_CANCEL_ORDER"
        else:
            server.close(o, "CANCELLED", "User requested cancel")
            reason = ""
        results.append(
            {
                "success": not reason,
                "failure_reason": reason or "UNKNOWN_CANCEL_FAILURE_REASON",
                "order_id": oid,
            }
        )
    return {"results": results}


def get_order(server: CoinbaseSimServer, request: Req, body: bytes, key: str) -> Any:
    o = server.orders.get(request.match_info["order_id"])
    if o is None or o.key != key:
        raise ApiError(404, "NOT_FOUND", "order with this orderID was not found", code=5)
    return {"order": order_json(o)}


def _page(request: Req, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    try:
        limit = max(1, min(int(request.query.get("limit", PAGE) or PAGE), 1000))
        start = int(request.query.get("cursor", "0") or 0)
    except ValueError:
        raise ApiError(400, "INVALID_ARGUMENT", "limit and cursor must be numbers") from None
    page = rows[start : start + limit]
    return page, str(start + limit) if start + limit < len(rows) else ""


def list_orders(server: CoinbaseSimServer, request: Req, body: bytes, key: str) -> Any:
    q = request.query
    statuses = set(q.getall("order_status", []))
    products = set(q.getall("product_ids", []) or q.getall("product_id", []))
    ids = set(q.getall("order_ids", []))
    since = parse_rfc3339(q["start_date"]) if q.get("start_date") else 0
    rows = [
        order_json(o)
        for o in sorted(server.orders.values(), key=lambda o: o.created_ns, reverse=True)
        if o.key == key
        and (not statuses or o.status in statuses or ("OPEN" in statuses and o.status in OPEN))
        and (not products or o.product.product_id in products)
        and (not ids or o.order_id in ids)
        and o.created_ns >= since
    ]
    page, cursor = _page(request, rows)
    return {"orders": page, "sequence": "0", "has_next": bool(cursor), "cursor": cursor}


def fill_json(
    server: CoinbaseSimServer, o: Order, t: Trade, maker: bool, trade_id: str, fee: Decimal, now: int
) -> dict[str, Any]:
    p = o.product
    return {
        "entry_id": server._uuid(),
        "trade_id": trade_id,
        "order_id": o.order_id,
        "trade_time": rfc3339(now),
        "trade_type": "FILL",
        "price": p.price(t.price),
        "size": p.size(t.qty),
        "commission": fmt(fee),
        "product_id": p.product_id,
        "sequence_timestamp": rfc3339(now),
        "liquidity_indicator": "MAKER" if maker else "TAKER",
        "size_in_quote": False,
        "user_id": o.key,
        "side": o.side,
        "retail_portfolio_id": "",
    }


def list_fills(server: CoinbaseSimServer, request: Req, body: bytes, key: str) -> Any:
    q = request.query
    ids, products = set(q.getall("order_ids", [])), set(q.getall("product_ids", []))
    since = parse_rfc3339(q["start_sequence_timestamp"]) if q.get("start_sequence_timestamp") else 0
    rows = [
        f
        for f in reversed(server.accounts[key].fills)
        if (not ids or f["order_id"] in ids)
        and (not products or f["product_id"] in products)
        and parse_rfc3339(f["sequence_timestamp"]) >= since
    ]
    page, cursor = _page(request, rows)
    return {"fills": page, "cursor": cursor}


def list_accounts(server: CoinbaseSimServer, request: Req, body: bytes, key: str) -> Any:
    account = server.accounts[key]
    holds = server.holds(key)
    rows = []
    for currency, total in sorted(account.balances.items()):
        hold = holds.get(currency, Decimal(0))
        rows.append(
            {
                "uuid": f"{account.user_id[:24]}{currency.lower():0>12}",
                "name": f"{currency} Wallet",
                "currency": currency,
                "available_balance": {"value": fmt(total - hold), "currency": currency},
                "default": True,
                "active": True,
                "created_at": "2024-01-01T00:00:00Z",
                "updated_at": rfc3339(server.now_ns()),
                "deleted_at": None,
                "type": "ACCOUNT_TYPE_FIAT" if currency == "USD" else "ACCOUNT_TYPE_CRYPTO",
                "ready": True,
                "hold": {"value": fmt(hold), "currency": currency},
                "retail_portfolio_id": "",
            }
        )
    page, cursor = _page(request, rows)
    return {"accounts": page, "has_next": bool(cursor), "cursor": cursor, "size": len(page)}
