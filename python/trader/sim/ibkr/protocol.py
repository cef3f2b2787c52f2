"""The TWS API socket protocol at server version 176: framing, the handshake's pieces, request fields
(contracts, orders) and the field layouts of the messages the simulator sends.

Every message is a 4-byte big-endian length and NUL-terminated text fields. Field layouts are those
ib_async 2.1 and ib_insync 0.9.86 decode at server version 176.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import struct
from collections import deque
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from trader.sim.ibkr.state import CENT, Execution, IbOrder, Listing, RejectError, px

SERVER_VERSION = 176
MIN_CLIENT_VERSION = 157
MAX_MESSAGES_PER_SECOND = 50
UNSET_DOUBLE = "1.7976931348623157E308"  # what TWS sends for "no value" in doubles (e.g. realizedPNL)

LOST = "Connectivity between IB and Trader Workstation has been lost."
RESTORED_LOST = "Connectivity between IB and Trader Workstation has been restored - data lost."
RESTORED_KEPT = "Connectivity between IB and Trader Workstation has been restored - data maintained."
DEPTH_RESET = (
    "Market depth data has been RESET. Please empty deep book contents before applying any new entries."
)

# incoming message ids
REQ_MKT_DATA, CANCEL_MKT_DATA, PLACE_ORDER, CANCEL_ORDER, REQ_OPEN_ORDERS = 1, 2, 3, 4, 5
START_API = 71


def frame(*fields: object) -> bytes:
    payload = "".join(f"{'' if f is None else f}\0" for f in fields).encode()
    return struct.pack(">I", len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    (n,) = struct.unpack(">I", await reader.readexactly(4))
    return await reader.readexactly(n)


def tws_time(ns: int) -> str:
    """A time as TWS writes it: 20240109 15:00:00 UTC."""
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y%m%d %H:%M:%S UTC")


class Conn:
    """One API client's socket and what it subscribed to."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.muted = False  # an injected fault: what the client is sent is lost
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
        if not self.writer.is_closing() and not self.muted:
            self.writer.write(frame(*fields))

    def error(self, req_id: int, code: int, text: str) -> None:
        self.send(4, 2, req_id, code, text, "")


def contract_fields(f: list[str], i: int) -> dict[str, str]:
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


def to_int(s: str, default: int = 0) -> int:
    try:
        return int(s) if s else default
    except ValueError:
        return default


def contract11(x: Listing, exchange: str) -> tuple[object, ...]:
    """A contract as orders, executions and positions carry it (conId .. tradingClass)."""
    return (x.con_id, x.symbol, "STK", "", "0", "", "", exchange, x.currency, x.symbol, x.symbol)


def contract_details_fields(req_id: int, x: Listing, exchange: str) -> list[object]:
    return [
        10, req_id, x.symbol, "STK", "", "0", "", exchange, x.currency, x.symbol,  # ..localSymbol
        "NMS", x.symbol, x.con_id, "0.01", "",  # marketName, tradingClass, conId, minTick, multiplier
        "ACTIVETIM,AD,ALERT,ALLOC,DAY,GTC,IOC,LMT,MKT,NONALGO", ",".join(x.exchanges),
        1, 0, x.long_name, x.primary, "", "", "", "",  # priceMagnifier .. subcategory
        "US/Eastern", "20260101:0400-20260101:2000", "20260101:0930-20260101:1600",
        "", "", 0, 1, "", "",  # evRule, evMultiplier, secIdList, aggGroup, underSymbol/SecType
        ",".join("26" for _ in x.exchanges), "", x.stock_type,  # marketRuleIds .. stockType
        "0.0001", "0.0001", "100",  # minSize, sizeIncrement, suggestedSizeIncrement
    ]  # fmt: skip


def open_order_fields(o: IbOrder) -> list[object]:
    lmt = px(o.lmt) if o.lmt is not None else ""
    f: list[object] = [5, o.order_id, *contract11(o.listing, o.exchange)]
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


def completed_order_fields(o: IbOrder) -> list[object]:
    lmt = px(o.lmt) if o.lmt is not None else ""
    f: list[object] = [101, *contract11(o.listing, o.exchange)]
    f += [o.action, o.qty, o.order_type, lmt, "", o.tif, "", o.account, "", 0, o.order_ref]
    f += [o.perm_id, 0, 0, "0", "", "", "", "", ""]  # permId .. faPercentage, faProfile
    f += [""] * 23  # modelCode .. deltaNeutralAuxPrice
    f += [""] * 5  # continuousUpdate .. comboLegsDescrip
    f += [0, 0, 0, "", "", "", ""]  # legs, params, scale sizes and increment, hedgeType
    f += ["", "", "0", 0, ""]  # clearingAccount, clearingIntent, notHeld, dnc, algoStrategy
    f += ["0", o.status, "0", "0", 0]  # solicited, status, randomize size/price, conditions
    f += [""] * 6 + [o.filled, "", "", "", "", "", ""]  # trailStopPrice .. parentPermId
    f += [tws_time(o.done_ns), o.status]  # completedTime, completedStatus
    f += [""] * 5
    return f


def exec_fields(req_id: int, x: Execution) -> list[object]:
    o = x.order
    return [
        11, req_id, o.order_id, *contract11(o.listing, o.exchange), x.exec_id,
        tws_time(x.ts_ns), o.account, o.exchange if o.exchange != "SMART" else o.listing.primary,
        "BOT" if o.action == "BUY" else "SLD", x.shares, px(x.price), o.perm_id, o.client_id, 0,
        x.cum_qty, x.avg_price, o.order_ref, "", "", "", x.liquidity,
    ]  # fmt: skip


def commission_fields(x: Execution) -> list[object]:
    realized = f"{x.realized.quantize(Decimal('0.0001')):f}" if x.realized is not None else UNSET_DOUBLE
    return [59, 1, x.exec_id, f"{x.commission:f}", "USD", realized, UNSET_DOUBLE, ""]


def status_fields(o: IbOrder) -> list[object]:
    return [
        3, o.order_id, o.status, o.filled, o.qty - o.filled if o.is_open else 0, o.avg_price(),
        o.perm_id, 0, px(o.last_fill) if o.last_fill else "0", o.client_id, "", "0",
    ]  # fmt: skip


def depth_row(
    smart: bool, req_id: int, primary: str, pos: int, op: int, side: int, level: tuple[int, int]
) -> list[object]:
    """One depth row change: SMART depth (13, with the market maker's exchange) or plain depth (12)."""
    if smart:
        return [13, 1, req_id, pos, primary, op, side, px(level[0]), level[1], 1]
    return [12, 1, req_id, pos, op, side, px(level[0]), level[1]]


@dataclass(frozen=True)
class OrderTicket:
    """The order fields of a placeOrder request, validated (price in cents, size in shares)."""

    action: str  # BUY / SELL
    qty: int
    order_type: str  # LMT / MKT
    lmt: int | None
    tif: str  # "" for the default (DAY)
    account: str
    order_ref: str


def _invalid(what: str) -> RejectError:
    return RejectError(321, f"Error validating request.-'bN' : cause - {what}")


def _order_size(qty_s: str) -> int:
    try:
        qty_d = Decimal(qty_s or "0")
    except InvalidOperation:
        raise _invalid("Invalid order size") from None
    if qty_d <= 0:
        raise RejectError(434, "The order size cannot be zero.")
    if qty_d != qty_d.to_integral_value():
        raise RejectError(10243, "Fractional-sized order cannot be placed via API.")
    return int(qty_d)


def _limit_cents(lmt_s: str) -> int:
    try:
        price = Decimal(lmt_s)
    except InvalidOperation:
        raise RejectError(201, "Order rejected - reason:Missing or invalid limit price") from None
    if not price.is_finite() or price <= 0:
        raise RejectError(201, "Order rejected - reason:Missing or invalid limit price")
    if price % CENT:
        raise RejectError(110, "The price does not conform to the minimum price variation for this contract.")
    return int(price / CENT)


def decode_order(f: list[str]) -> OrderTicket:
    """The order part of a placeOrder message (fields 16..26), checked in the Gateway's order."""
    action, qty_s, order_type, lmt_s, tif = f[16], f[17], f[18].upper(), f[19], f[21].upper()
    account, order_ref = f[23] or "", f[26]
    if action not in ("BUY", "SELL"):
        raise _invalid(f"Invalid side {action}")
    if order_type not in ("LMT", "MKT"):
        raise RejectError(387, "Unsupported order type for this exchange and security type.")
    if tif not in ("DAY", "GTC", "IOC", ""):
        raise _invalid(f"Invalid time in force {tif}")
    qty = _order_size(qty_s)
    lmt = _limit_cents(lmt_s) if order_type == "LMT" else None
    return OrderTicket(action, qty, order_type, lmt, tif, account, order_ref)
