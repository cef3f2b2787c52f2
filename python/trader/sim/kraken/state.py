"""The Kraken simulator's state: its one pair, demo key, orders, trades and the error strings it answers.

Inside, prices are integer ticks of the pair (XBT/USD: 0.1 USD) and volumes integer units of 1e-8 XBT
(`lot_decimals` 8); on the REST wire they are decimal strings, on WebSocket v2 JSON numbers (as Kraken
sends them). Balances are `Decimal`s keyed by Kraken's asset names (XXBT, ZUSD).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

DEMO_KEY = "kraken-sim-demo-key"
DEMO_SECRET = base64.b64encode(hashlib.sha512(b"trader-sim/kraken/demo").digest()).decode()
NS = 1_000_000_000
MAKER_BPS = Decimal(25)  # Kraken spot, default (lowest volume) tier: 0.25 % maker, 0.40 % taker
TAKER_BPS = Decimal(40)
ORDER_PATHS = ("POST /0/private/AddOrder", "POST /0/private/CancelOrder")

# Kraken's error strings (kraken.md section 7)
INVALID_KEY = "EAPI:Invalid key"
INVALID_SIGNATURE = "EAPI:Invalid signature"
INVALID_NONCE = "EAPI:Invalid nonce"
INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
UNKNOWN_METHOD = "EGeneral:Unknown method"
UNKNOWN_PAIR = "EQuery:Unknown asset pair"
UNKNOWN_ORDER = "EOrder:Unknown order"
INSUFFICIENT_FUNDS = "EOrder:Insufficient funds"
ORDER_MINIMUM = "EOrder:Order minimum not met"
COST_MINIMUM = "EOrder:Cost minimum not met"
TICK_SIZE = "EOrder:Tick size check failed"
INVALID_PRICE = "EOrder:Invalid price"
POST_ONLY = "EOrder:Post only order"
DUPLICATE_CLIENT_ID = "EOrder:Duplicate order"  # unverified string


class KrakenError(Exception):
    """A request refused with one of Kraken's error strings (HTTP 200, `{"error": [msg]}`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Pair:
    key: str  # REST result key, e.g. XXBTZUSD
    altname: str  # XBTUSD (accepted in requests)
    wsname: str  # XBT/USD (WebSocket v1)
    symbol: str  # BTC/USD (WebSocket v2)
    base: str  # XXBT
    quote: str  # ZUSD
    pair_decimals: int
    lot_decimals: int
    ordermin: str
    costmin: str
    mid_ticks: int  # where the background market starts

    @property
    def tick(self) -> Decimal:
        return Decimal(1).scaleb(-self.pair_decimals)

    @property
    def lot(self) -> Decimal:
        return Decimal(1).scaleb(-self.lot_decimals)

    def price_text(self, ticks: int) -> str:
        return f"{Decimal(ticks) * self.tick:.{self.pair_decimals}f}"

    def vol_text(self, units: int) -> str:
        return f"{Decimal(units) * self.lot:.{self.lot_decimals}f}"

    def asset_pair(self) -> dict[str, Any]:
        """The `AssetPairs` entry (the fields Kraken states; fees at the default tier)."""
        return {
            "altname": self.altname,
            "wsname": self.wsname,
            "aclass_base": "currency",
            "base": self.base,
            "aclass_quote": "currency",
            "quote": self.quote,
            "lot": "unit",
            "cost_decimals": 5,
            "pair_decimals": self.pair_decimals,
            "lot_decimals": self.lot_decimals,
            "lot_multiplier": 1,
            "leverage_buy": [],
            "leverage_sell": [],
            "fees": [[0, float(TAKER_BPS / 100)]],
            "fees_maker": [[0, float(MAKER_BPS / 100)]],
            "fee_volume_currency": "ZUSD",
            "margin_call": 80,
            "margin_stop": 40,
            "ordermin": self.ordermin,
            "costmin": self.costmin,
            "tick_size": str(self.tick),
            "status": "online",
        }


PAIRS = (
    Pair("XXBTZUSD", "XBTUSD", "XBT/USD", "BTC/USD", "XXBT", "ZUSD", 1, 8, "0.0001", "0.5", 600_000),
    Pair("XETHZUSD", "ETHUSD", "ETH/USD", "ETH/USD", "XETH", "ZUSD", 2, 8, "0.002", "0.5", 300_000),
)


@dataclass
class Order:
    txid: str
    key: str
    pair: Pair
    side: str  # buy | sell
    ordertype: str  # limit | market
    price: int | None  # ticks; None for market orders
    vol: int  # units of 1e-8
    tif: str  # GTC | IOC | GTD
    post_only: bool
    cl_ord_id: str
    userref: int
    opentm: int  # ns
    expiretm: int = 0  # ns, GTD
    vol_exec: int = 0
    cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    status: str = "open"  # pending, open, closed, canceled, expired
    reason: str = ""
    closetm: int = 0
    engine_id: int = 0
    trades: list[str] = field(default_factory=list)
    touched: int = 0  # ns it was placed or last amended (the trading counter's order age)

    def json(self) -> dict[str, Any]:
        p = self.pair
        avg = self.cost / (Decimal(self.vol_exec) * p.lot) if self.vol_exec else Decimal(0)
        oflags = ",".join(["fciq", *(["post"] if self.post_only else [])])
        out: dict[str, Any] = {
            "refid": None,
            "userref": self.userref,
            "cl_ord_id": self.cl_ord_id or None,
            "status": self.status,
            "reason": self.reason or None,
            "opentm": self.opentm / NS,
            "starttm": 0,
            "expiretm": self.expiretm / NS,
            "descr": {
                "pair": p.altname,
                "type": self.side,
                "ordertype": self.ordertype,
                "price": p.price_text(self.price or 0),
                "price2": "0",
                "leverage": "none",
                "order": self.describe(),
                "close": "",
            },
            "vol": p.vol_text(self.vol),
            "vol_exec": p.vol_text(self.vol_exec),
            "cost": f"{self.cost:.5f}",
            "fee": f"{self.fee:.5f}",
            "price": f"{avg:.{p.pair_decimals}f}",
            "stopprice": "0",
            "limitprice": "0",
            "misc": "",
            "oflags": oflags,
            "timeinforce": self.tif,
            "trades": list(self.trades),
        }
        if self.closetm:
            out["closetm"] = self.closetm / NS
        return out

    def describe(self) -> str:
        p = self.pair
        at = f" @ limit {p.price_text(self.price)}" if self.price is not None else " @ market"
        return f"{self.side} {p.vol_text(self.vol)} {p.altname}{at}"


@dataclass
class Account:
    secret: bytes  # the decoded API secret
    balances: dict[str, Decimal]
    last_nonce: int = 0
    dead_man_at: int = 0  # ns when CancelAllOrdersAfter fires; 0: disarmed
    dead_man_fired: int = 0


def asset_of(name: str) -> str:
    """Kraken's asset name of a currency code as WebSocket v2 states it (BTC -> XXBT, USD -> ZUSD)."""
    return {"BTC": "XXBT", "XBT": "XXBT", "ETH": "XETH", "USD": "ZUSD", "EUR": "ZEUR"}.get(name, name)
