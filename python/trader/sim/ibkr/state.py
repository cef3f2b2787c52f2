"""The IB Gateway simulator's state: listings, books, accounts and positions, orders and executions
(one class each), and the money formats TWS uses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trader.sim.market import BackgroundMarket
from trader.sim.matching import MatchingEngine

DEFAULT_ACCOUNT = "DU1234567"
MAX_ACTIVE_PER_SIDE = 20  # active orders per contract per side per account
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
class Book:
    listing: Listing
    engine: MatchingEngine
    market: BackgroundMarket
    last: int = 0
    last_size: int = 0
    volume: int = 0
    top: tuple[int, int, int, int] = (0, 0, 0, 0)  # bid, bid size, ask, ask size (cents, shares)
    sent_trade: tuple[int, int] = (0, 0)  # (volume, last) last published


def _order_state(o: IbOrder) -> dict[str, Any]:
    return {
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


def _execution_state(x: Execution) -> dict[str, Any]:
    return {
        "execId": x.exec_id,
        "permId": x.order.perm_id,
        "symbol": x.order.listing.symbol,
        "side": "BOT" if x.order.action == "BUY" else "SLD",
        "shares": x.shares,
        "price": px(x.price),
        "commission": f"{x.commission:f}",
        "orderRef": x.order.order_ref,
    }


def account_state(
    a: Account, listings: Mapping[int, Listing], orders: Iterable[IbOrder], executions: Iterable[Execution]
) -> dict[str, Any]:
    """One account as the admin state shows it: cash, realized PnL, positions, orders, executions."""
    return {
        "cash": money(a.cash),
        "realized": money(a.realized),
        "positions": {
            listings[cid].symbol: {"qty": p.qty, "avgCost": f"{p.avg_cost:.6f}"}
            for cid, p in a.positions.items()
        },
        "orders": [_order_state(o) for o in orders if o.account == a.name],
        "executions": [_execution_state(x) for x in executions if x.order.account == a.name],
    }
