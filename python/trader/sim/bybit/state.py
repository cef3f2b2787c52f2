"""The Bybit v5 simulator's state: instruments (spot and linear perpetuals), the unified account, orders,
executions, positions and funding.

Prices are counted in the instrument's tick, quantities in its base precision / qty step (integers); fees
are the default (non-VIP) tier: spot 0.1% maker and taker (paid in the quote coin here), linear 0.02%
maker and 0.055% taker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

DEMO_KEY = "bybit-sim-key"
DEMO_SECRET = "bybit-sim-secret"  # noqa: S105 - the simulator's published demo secret
RECV_WINDOW_MS = 5000

# retCodes (bybit.md §7)
OK = 0
PARAMS = 10001
TIME_WINDOW = 10002
INVALID_KEY = 10003
SIGN_ERROR = 10004
TOO_MANY = 10006
ORDER_NOT_EXISTS = 110001
SPOT_ORDER_NOT_EXISTS = 170213  # spot cancel of an order that is not open
INSUFFICIENT = 110007
DUPLICATE_LINK_ID = 110072
BELOW_MIN = 170136  # spot: order quantity below the lower limit
BAD_PRECISION = 170134  # spot: order price decimal too long
QTY_PRECISION = 170137  # spot: order quantity decimal too long
BELOW_NOTIONAL = 170140  # spot: order value below the lower limit
POST_ONLY_CROSS = "EC_PostOnlyWillTakeLiquidity"

REDUCE_ONLY = 110017  # reduce-only: the position is zero or on the same side
# per UID and endpoint per second, by category (bybit.md §6)
LIMITS = {
    ("spot", "/v5/order/create"): 20,
    ("spot", "/v5/order/cancel"): 20,
    ("spot", "/v5/order/cancel-all"): 20,
    ("linear", "/v5/order/create"): 10,
    ("linear", "/v5/order/cancel"): 10,
    ("linear", "/v5/order/cancel-all"): 10,
    **{(c, f"/v5/order/{op}"): n for c, n in (("spot", 20), ("linear", 10)) for op in ("amend",)},
    **{
        (c, f"/v5/order/{op}-batch"): n
        for c, n in (("spot", 20), ("linear", 10))
        for op in ("create", "amend", "cancel")
    },
}
MAX_BATCH = {"spot": 10, "linear": 20}
DEFAULT_LIMIT = 50  # per UID per endpoint per second (reads)


class ApiError(Exception):
    def __init__(self, code: int, msg: str, status: int = 200) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


@dataclass(frozen=True)
class Instrument:
    symbol: str
    base: str
    quote: str
    tick: str  # priceFilter.tickSize
    precision: str  # lotSizeFilter.basePrecision
    min_qty: str
    max_qty: str
    min_amt: str  # minOrderAmt (quote)
    mid: int  # starting mid, ticks
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    category: str = "spot"
    funding_rate: Decimal = Decimal("0.0001")  # linear: the rate of each settlement (longs pay when > 0)

    @property
    def unit_notional(self) -> Decimal:
        return Decimal(self.tick) * Decimal(self.precision)

    def price_text(self, units: int) -> str:
        return str(Decimal(units) * Decimal(self.tick))

    def qty_text(self, units: int) -> str:
        return f"{(Decimal(units) * Decimal(self.precision)).normalize():f}"

    def info(self, funding_minutes: int = 480) -> dict[str, Any]:
        if self.category == "linear":
            return self.linear_info(funding_minutes)
        return {
            "symbol": self.symbol,
            "baseCoin": self.base,
            "quoteCoin": self.quote,
            "innovation": "0",
            "status": "Trading",
            "marginTrading": "none",
            "lotSizeFilter": {
                "basePrecision": self.precision,
                "quotePrecision": "0.00000001",
                "minOrderQty": self.min_qty,
                "maxOrderQty": self.max_qty,
                "minOrderAmt": self.min_amt,
                "maxOrderAmt": "2000000",
            },
            "priceFilter": {"tickSize": self.tick},
        }

    def linear_info(self, funding_minutes: int) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "contractType": "LinearPerpetual",
            "status": "Trading",
            "baseCoin": self.base,
            "quoteCoin": self.quote,
            "settleCoin": self.quote,
            "priceScale": str(len(self.tick.partition(".")[2])),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": self.tick, "maxPrice": "1999999.80", "tickSize": self.tick},
            "lotSizeFilter": {
                "maxOrderQty": self.max_qty,
                "minOrderQty": self.min_qty,
                "qtyStep": self.precision,
                "postOnlyMaxOrderQty": self.max_qty,
                "maxMktOrderQty": self.max_qty,
                "minNotionalValue": self.min_amt,
            },
            "fundingInterval": funding_minutes,
        }


def _perp(symbol: str, base: str, tick: str, step: str, max_qty: str, mid: int) -> Instrument:
    maker, taker = Decimal("0.0002"), Decimal("0.00055")
    return Instrument(symbol, base, "USDT", tick, step, step, max_qty, "5", mid, maker, taker, "linear")


LINEAR = {
    "BTCUSDT": _perp("BTCUSDT", "BTC", "0.10", "0.001", "1190", 500_000),
    "ETHUSDT": _perp("ETHUSDT", "ETH", "0.01", "0.01", "7240", 300_000),
}
INSTRUMENTS = {
    "BTCUSDT": Instrument(
        "BTCUSDT", "BTC", "USDT", "0.01", "0.000001", "0.000048", "71.73956243", "1", 5_000_000
    ),
    "ETHUSDT": Instrument(
        "ETHUSDT", "ETH", "USDT", "0.01", "0.00001", "0.00062", "1229.2336343", "1", 300_000
    ),
}


@dataclass
class Order:
    order_id: str
    link_id: str
    symbol: str
    side: str  # Buy | Sell
    order_type: str  # Limit | Market
    tif: str
    price: int | None  # ticks
    qty: int  # base units
    created_ms: int
    filled: int = 0
    cum_value: Decimal = Decimal(0)
    cum_fee: Decimal = Decimal(0)
    status: str = "New"
    reject_reason: str = "EC_NoError"
    updated_ms: int = 0
    cancel_type: str = "UNKNOWN"
    category: str = "spot"
    reduce_only: bool = False

    @property
    def open(self) -> bool:
        return self.status in ("New", "PartiallyFilled")

    def json(self, inst: Instrument) -> dict[str, Any]:
        avg = self.cum_value / (Decimal(self.filled) * Decimal(inst.precision)) if self.filled else Decimal(0)
        return {
            "orderId": self.order_id,
            "orderLinkId": self.link_id,
            "symbol": self.symbol,
            "category": inst.category,
            "side": self.side,
            "orderType": self.order_type,
            "timeInForce": self.tif,
            "price": inst.price_text(self.price) if self.price is not None else "0",
            "qty": inst.qty_text(self.qty),
            "leavesQty": inst.qty_text(self.qty - self.filled if self.open else 0),
            "cumExecQty": inst.qty_text(self.filled),
            "cumExecValue": str(self.cum_value),
            "cumExecFee": str(self.cum_fee),
            "avgPrice": str(avg.quantize(Decimal(inst.tick))) if self.filled else "",
            "orderStatus": self.status,
            "rejectReason": self.reject_reason,
            "cancelType": self.cancel_type,
            "reduceOnly": self.reduce_only,
            "positionIdx": 0,
            "createdTime": str(self.created_ms),
            "updatedTime": str(self.updated_ms or self.created_ms),
        }


@dataclass
class Execution:
    exec_id: str
    order: Order
    price: int
    qty: int
    fee: Decimal
    maker: bool
    time_ms: int
    seq: int

    def json(self, inst: Instrument) -> dict[str, Any]:
        value = Decimal(self.price * self.qty) * inst.unit_notional
        return {
            "category": inst.category,
            "symbol": self.order.symbol,
            "orderId": self.order.order_id,
            "orderLinkId": self.order.link_id,
            "side": self.order.side,
            "orderPrice": inst.price_text(self.order.price or 0),
            "orderQty": inst.qty_text(self.order.qty),
            "leavesQty": inst.qty_text(self.order.qty - self.order.filled),
            "orderType": self.order.order_type,
            "execId": self.exec_id,
            "execPrice": inst.price_text(self.price),
            "execQty": inst.qty_text(self.qty),
            "execValue": str(value),
            "execFee": str(self.fee),
            "feeCurrency": inst.quote,
            "feeRate": str(inst.maker_fee if self.maker else inst.taker_fee),
            "execType": "Trade",
            "isMaker": self.maker,
            "execTime": str(self.time_ms),
            "seq": self.seq,
        }


@dataclass
class Account:
    """The unified account's coins (wallet balances, exact)."""

    coins: dict[str, Decimal] = field(
        default_factory=lambda: {"USDT": Decimal(1_000_000), "BTC": Decimal(10), "ETH": Decimal(100)}
    )

    def wallet(self, locked: dict[str, Decimal]) -> dict[str, Any]:
        coins = [
            {
                "coin": c,
                "walletBalance": str(v),
                "equity": str(v),
                "locked": str(locked.get(c, Decimal(0))),
                "free": str(v - locked.get(c, Decimal(0))),
                "unrealisedPnl": "0",
                "cumRealisedPnl": "0",
            }
            for c, v in sorted(self.coins.items())
        ]
        return {"list": [{"accountType": "UNIFIED", "totalEquity": "", "coin": coins}]}


@dataclass
class Position:
    """A linear perpetual's one-way position: signed size (qty units) and its signed entry cost (quote)."""

    symbol: str
    size: int = 0
    cost: Decimal = Decimal(0)
    realized: Decimal = Decimal(0)

    def fill(self, signed_qty: int, price: int, unit: Decimal) -> Decimal:
        """Apply a fill; returns the PnL it realizes (quote)."""
        value = Decimal(price) * unit
        realized = Decimal(0)
        if self.size and (self.size > 0) != (signed_qty > 0):
            closing = min(abs(signed_qty), abs(self.size))
            entry = self.cost / self.size  # per unit, signed like the size: a price
            direction = 1 if self.size > 0 else -1
            realized = (value - entry) * closing * direction
            self.size -= direction * closing
            self.cost = entry * self.size
            signed_qty += direction * closing
        if signed_qty:
            self.size += signed_qty
            self.cost += value * signed_qty
        self.realized += realized
        return realized

    def json(self, inst: Instrument, mark: int) -> dict[str, Any]:
        avg = self.cost / self.size if self.size else Decimal(0)
        unit = inst.unit_notional
        upnl = (Decimal(mark) * unit - avg) * self.size if self.size else Decimal(0)
        price_of = Decimal(inst.precision)  # price per qty unit -> per coin
        return {
            "symbol": self.symbol,
            "category": "linear",
            "side": "Buy" if self.size > 0 else "Sell" if self.size < 0 else "",
            "size": inst.qty_text(abs(self.size)),
            "avgPrice": str((avg / price_of).quantize(Decimal(inst.tick))) if self.size else "0",
            "positionValue": str(abs(self.cost)),
            "markPrice": inst.price_text(mark),
            "unrealisedPnl": str(upnl),
            "cumRealisedPnl": str(self.realized),
            "positionIdx": 0,
            "leverage": "10",
            "positionStatus": "Normal",
        }
