"""The OKX simulator's state: SPOT instruments on a matching engine with a seeded background market, one
demo account (balances, orders, fills) and its `cancel-all-after` deadline. Prices and sizes are integer
units of the instrument's `tickSz` / `lotSz`; they become OKX's decimal strings only in `wire()`."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trader.sim.market import BackgroundMarket, MarketParams
from trader.sim.matching import MatchingEngine, Side, SimOrder, Tif, Trade

DEMO_KEY = "okx-sim-demo-key"
DEMO_SECRET = "okx-sim-demo-secret"  # noqa: S105 - a published demo credential of the local simulator
DEMO_PASSPHRASE = "okx-sim-demo-passphrase"  # noqa: S105 - likewise

MAKER_FEE = Decimal("0.0008")  # default (Lv1) spot tier: 0.08% maker, 0.10% taker
TAKER_FEE = Decimal("0.0010")
MAKER_SWAP_FEE = Decimal("0.0002")  # default tier, SWAP: 0.02% maker, 0.05% taker
TAKER_SWAP_FEE = Decimal("0.0005")


class ApiError(Exception):
    """An OKX error: `code` (top-level or per-item sCode), `msg`, the HTTP status it travels with."""

    def __init__(self, code: str, msg: str, status: int = 200) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


@dataclass(frozen=True)
class Instrument:
    inst_id: str
    base: str
    quote: str
    tick_sz: str
    lot_sz: str
    min_sz: str
    mid: str
    inst_type: str = "SPOT"
    ct_val: str = ""  # SWAP: base currency per contract (sizes are contracts)
    settle: str = ""
    max_sz: str = "10000"  # maxLmtSz
    code: int = 0  # instIdCode (WebSocket order entry names instruments by it)

    @property
    def swap(self) -> bool:
        return self.inst_type == "SWAP"

    def notional(self, px: Decimal, sz: Decimal) -> Decimal:
        """Quote value of `sz` (base, or contracts x ctVal) at `px`."""
        return px * sz * (Decimal(self.ct_val) if self.swap else 1)

    def px(self, units: int) -> str:
        return str(Decimal(units) * Decimal(self.tick_sz))

    def sz(self, units: int) -> str:
        return str(Decimal(units) * Decimal(self.lot_sz))

    def plain_px(self, units: int) -> str:
        """A price as OKX writes it in `books`: a plain decimal without trailing zeros (`3366`, `0.5`)."""
        return format((Decimal(units) * Decimal(self.tick_sz)).normalize(), "f")

    def plain_sz(self, units: int) -> str:
        return format((Decimal(units) * Decimal(self.lot_sz)).normalize(), "f")

    def px_units(self, text: str) -> int:
        q = Decimal(text) / Decimal(self.tick_sz)
        if q != q.to_integral_value() or q <= 0:
            raise ApiError("51000", "Parameter px error")
        return int(q)

    def sz_units(self, text: str) -> int:
        q = Decimal(text) / Decimal(self.lot_sz)
        if q != q.to_integral_value() or q <= 0:
            raise ApiError("51121", "Order quantity must be a multiple of the lot size")
        return int(q)

    def wire(self) -> dict[str, Any]:
        return {
            "instId": self.inst_id,
            "instType": self.inst_type,
            "baseCcy": "" if self.swap else self.base,
            "quoteCcy": "" if self.swap else self.quote,
            "settleCcy": self.settle,
            "ctVal": self.ct_val,
            "ctMult": "1" if self.swap else "",
            "ctValCcy": self.base if self.swap else "",
            "ctType": "linear" if self.swap else "",
            "uly": f"{self.base}-{self.quote}" if self.swap else "",
            "instFamily": f"{self.base}-{self.quote}" if self.swap else "",
            "tickSz": self.tick_sz,
            "lotSz": self.lot_sz,
            "minSz": self.min_sz,
            "maxLmtSz": self.max_sz,
            "instIdCode": self.code,
            "maxMktSz": "1000000",
            "state": "live",
            "lever": "10" if self.swap else "",
            "listTime": "1548133413000",
        }


INSTRUMENTS = (
    Instrument("BTC-USDT", "BTC", "USDT", "0.1", "0.0001", "0.0001", "50000", code=1001),
    Instrument("ETH-USDT", "ETH", "USDT", "0.01", "0.001", "0.001", "3000", code=1002),
    Instrument(
        "BTC-USDT-SWAP", "BTC", "USDT", "0.1", "0.01", "0.01", "50010", "SWAP", "0.01", "USDT", "100000", 2001
    ),
)
LEVER = Decimal(10)
FUNDING_RATE = Decimal("0.0001")


@dataclass
class Order:
    ord_id: str
    cl_ord_id: str
    inst: Instrument
    side: str  # "buy" | "sell"
    ord_type: str
    px: int  # 0 for market orders
    sz: int
    c_time: int  # ms
    state: str = "live"
    filled: int = 0
    notional: Decimal = Decimal(0)  # sum of fill price x size, for avgPx
    fee: Decimal = Decimal(0)  # negative: paid
    fee_ccy: str = ""
    u_time: int = 0
    td_mode: str = "cash"
    reduce_only: bool = False
    cancel_source: str = ""  # 31: a post-only order would have taken; 14: FOK/IOC not filled
    last: dict[str, str] = field(default_factory=dict)  # the latest fill's fields
    pushes: list[dict[str, str]] = field(default_factory=list)  # one per fill since the last publish

    def wire(self, fill: bool = True) -> dict[str, str]:
        """The order as `orders` pushes it; `fill`: with the fields of its latest fill (the push a fill
        brings), else with none (a push for anything else: placed, amended, canceled)."""
        i = self.inst
        avg = str(self.notional / (Decimal(self.filled) * Decimal(i.lot_sz))) if self.filled else ""
        return {
            "instType": i.inst_type,
            "instId": i.inst_id,
            "ordId": self.ord_id,
            "clOrdId": self.cl_ord_id,
            "tag": "",
            "px": i.px(self.px) if self.px else "",
            "sz": i.sz(self.sz),
            "ordType": self.ord_type,
            "side": self.side,
            "posSide": "net" if i.swap else "",
            "tdMode": self.td_mode,
            "accFillSz": i.sz(self.filled),
            "avgPx": avg,
            "state": self.state,
            "fee": str(self.fee),
            "feeCcy": self.fee_ccy,
            "cTime": str(self.c_time),
            "uTime": str(self.u_time or self.c_time),
            "reduceOnly": "true" if self.reduce_only else "false",
            "fillPx": "",
            "fillSz": "0",
            "tradeId": "",
            "fillFee": "0",
            "fillFeeCcy": "",
            "execType": "",
            "fillTime": "",
            "code": "0",
            "msg": "",
            "cancelSource": self.cancel_source,
            **(self.last if fill else {}),
        }

    def take_pushes(self) -> list[dict[str, str]]:
        """What the `orders` channel pushes for this order now: a row per fill since the last time (each
        with that fill's fields and the order as it stood after it: OKX pushes every fill), then, if its
        state moved on since (an IOC's rest canceled) or nothing filled, the order as it is."""
        rows, self.pushes = self.pushes, []
        if not rows or rows[-1]["state"] != self.state:
            rows.append(self.wire(fill=False))
        return rows


@dataclass
class Book:
    inst: Instrument
    engine: MatchingEngine
    market: BackgroundMarket
    seq: int = 1


@dataclass
class Position:
    """A SWAP position (net mode): signed contracts in lot units, its average entry price."""

    pos: int = 0
    avg: Decimal = Decimal(0)
    c_time: int = 0
    u_time: int = 0


class State:
    """The venue: books, the demo account, its orders, fills, SWAP positions and funding bills."""

    def __init__(
        self, seed: int, *, buyer_fee_in_base: bool = False, acct_lv: str = "2", pos_mode: str = "net_mode"
    ) -> None:
        self.buyer_fee_in_base = buyer_fee_in_base  # OKX charges a spot buyer in base; off: in the quote
        self.acct_lv, self.pos_mode = acct_lv, pos_mode  # account/config: spot-and-futures, net positions
        self.books: dict[str, Book] = {}
        for n, inst in enumerate(INSTRUMENTS):
            engine = MatchingEngine(
                maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(0), unit_notional=Decimal(1)
            )
            params = MarketParams(
                mid=inst.px_units(inst.mid),
                min_qty=10,
                max_qty=300,
                asset=inst.base,
                unit=float(inst.tick_sz),
                perp=inst.swap,
            )
            market = BackgroundMarket(engine, params, seed + n)
            market.seed_book(20)
            self.books[inst.inst_id] = Book(inst, engine, market)
        self.balances: dict[str, Decimal] = {
            "USDT": Decimal(1_000_000),
            "BTC": Decimal(10),
            "ETH": Decimal(100),
        }
        self.orders: dict[str, Order] = {}  # ordId -> order
        self.by_engine_id: dict[int, Order] = {}
        self.fills: list[dict[str, str]] = []
        self.positions: dict[str, Position] = {}
        self.levers: dict[str, Decimal] = {}  # SWAP leverage per instrument (cross), default LEVER
        self.bills: list[dict[str, str]] = []  # funding settlements (type 8)
        self.submits: dict[str, int] = {}  # clOrdId -> how often it was submitted
        self.next_id = 600_000_000_000
        self.dead_man_at_ms = 0  # cancel-all-after deadline (0: disarmed)
        self.dead_man_fired = 0

    def inst(self, inst_id: str) -> Book:
        book = self.books.get(inst_id)
        if book is None:
            raise ApiError("51001", "Instrument ID does not exist")
        return book

    def frozen(self, ccy: str) -> Decimal:
        """What open orders hold of `ccy`: spot buys their quote, sells their base, swaps their margin."""
        total = Decimal(0)
        for o in self.open_orders():
            i, left = o.inst, o.sz - o.filled
            if i.swap and i.settle == ccy and not o.reduce_only:
                total += i.notional(Decimal(i.px(o.px)), Decimal(i.sz(left))) / self.lever(i.inst_id)
            elif not i.swap and o.side == "buy" and i.quote == ccy:
                total += Decimal(i.px(o.px)) * Decimal(i.sz(left))
            elif not i.swap and o.side == "sell" and i.base == ccy:
                total += Decimal(i.sz(left))
        return total

    def lever(self, inst_id: str) -> Decimal:
        return self.levers.get(inst_id, LEVER)

    def set_position_mode(self, mode: str) -> str:
        """`account/set-position-mode`: refused while orders rest or positions are open (OKX: 59000)."""
        if mode not in ("net_mode", "long_short_mode"):
            raise ApiError("51000", "Parameter posMode error")
        if self.open_orders() or any(p.pos for p in self.positions.values()):
            raise ApiError("59000", "Settings failed. Delete any open orders or positions before updating")
        self.pos_mode = mode
        return mode

    def balance_rows(self, now_ms: int) -> list[dict[str, Any]]:
        """The `account/balance` data (and an `account` channel push's): every currency's details."""
        details = [
            {"ccy": c, "eq": str(v), "cashBal": str(v), "availBal": str(self.available(c)),
             "frozenBal": str(self.frozen(c)), "ordFrozen": str(self.frozen(c)), "upl": "0",
             "uTime": str(now_ms)}
            for c, v in self.balances.items()
        ]  # fmt: skip
        return [{"totalEq": "", "uTime": str(now_ms), "details": details}]

    def set_leverage(self, args: dict[str, Any]) -> dict[str, str]:
        """`account/set-leverage` for a SWAP instrument in cross margin (1 to 125)."""
        book = self.inst(str(args.get("instId", "")))
        lever = Decimal(str(args.get("lever", "0")))
        if not book.inst.swap or args.get("mgnMode") != "cross" or not 1 <= lever <= 125:
            raise ApiError("51000", "Parameter lever, mgnMode or instId error")
        self.levers[book.inst.inst_id] = lever
        return {"instId": book.inst.inst_id, "lever": str(lever), "mgnMode": "cross", "posSide": ""}

    def margin(self, ccy: str) -> Decimal:
        """Initial margin of the SWAP positions settled in `ccy`, at their entry prices."""
        total = Decimal(0)
        for inst_id, p in self.positions.items():
            i = self.books[inst_id].inst
            if i.settle == ccy and p.pos:
                total += i.notional(p.avg, Decimal(i.sz(abs(p.pos)))) / self.lever(inst_id)
        return total

    def available(self, ccy: str) -> Decimal:
        return self.balances.get(ccy, Decimal(0)) - self.frozen(ccy) - self.margin(ccy)

    def _check(self, book: Book, args: dict[str, Any], side: str, ord_type: str) -> tuple[int, int, bool]:
        """Validate an order's fields against the instrument and the account: (px, sz, reduce_only)."""
        inst = book.inst
        if side not in ("buy", "sell") or ord_type not in ("limit", "market", "post_only", "ioc", "fok"):
            raise ApiError("51000", "Parameter side or ordType error")
        if args.get("tdMode") not in (("cross", "isolated") if inst.swap else ("cash",)):
            raise ApiError("51000", "Parameter tdMode error")
        if inst.swap and self.pos_mode == "long_short_mode" and args.get("posSide") not in ("long", "short"):
            raise ApiError("51000", "Parameter posSide error")
        sz = inst.sz_units(str(args.get("sz", "")))
        if sz < inst.sz_units(inst.min_sz):
            raise ApiError("51020", "Order quantity is less than the minimum")
        px = 0 if ord_type == "market" else inst.px_units(str(args.get("px", "")))
        reduce_only = str(args.get("reduceOnly", "")).lower() == "true"
        ref = Decimal(inst.px(px or book.engine.best_ask() or book.engine.best_bid() or 0))
        if inst.swap:
            pos = self.positions.get(inst.inst_id, Position()).pos
            reduces = (pos < 0 if side == "buy" else pos > 0) and sz <= abs(pos)
            if reduce_only and not reduces:
                raise ApiError("51169", "Order failed because you don't have any positions to reduce")
            need = (
                Decimal(0)
                if reduce_only
                else inst.notional(ref, Decimal(inst.sz(sz))) / self.lever(inst.inst_id)
            )
            ccy = inst.settle
        elif reduce_only:
            raise ApiError("51000", "Parameter reduceOnly error: spot has no reduce-only")
        else:
            need = ref * Decimal(inst.sz(sz)) if side == "buy" else Decimal(inst.sz(sz))
            ccy = inst.quote if side == "buy" else inst.base
        if need > self.available(ccy):
            raise ApiError("51008", "Order failed. Insufficient balance")
        return px, sz, reduce_only

    def place(self, args: dict[str, Any], now_ms: int) -> tuple[Order, list[Order]]:
        """Place one order (OKX's place-order fields); the order and every order a fill touched."""
        book = self.inst(str(args.get("instId", "")))
        inst = book.inst
        cl = str(args.get("clOrdId", ""))
        if cl and any(o.cl_ord_id == cl for o in self.open_orders()):
            raise ApiError("51016", "Duplicated clOrdId")
        self.submits[cl] = self.submits.get(cl, 0) + 1
        side, ord_type = str(args.get("side", "")), str(args.get("ordType", ""))
        px, sz, reduce_only = self._check(book, args, side, ord_type)
        self.next_id += 1
        order = Order(
            str(self.next_id),
            cl,
            inst,
            side,
            ord_type,
            px,
            sz,
            now_ms,
            td_mode=str(args["tdMode"]),
            reduce_only=reduce_only,
        )
        tif = {"ioc": Tif.IOC, "fok": Tif.FOK, "market": Tif.IOC}.get(ord_type, Tif.GTC)
        sim = SimOrder(
            self.next_id,
            "api",
            Side.BUY if side == "buy" else Side.SELL,
            px or None,
            sz,
            tif,
            post_only=ord_type == "post_only",
            client_id=cl,
        )
        result = book.engine.submit(sim)
        self.orders[order.ord_id] = order
        self.by_engine_id[sim.order_id] = order
        if not result.accepted:  # placed, then canceled: post-only that would take, FOK that cannot fill
            order.state = "canceled"
            order.cancel_source = "31" if ord_type == "post_only" else "14"
            return order, [order]
        touched = self.apply(book, result.trades, now_ms)
        if order.filled == order.sz:
            order.state = "filled"
        elif not result.resting:
            order.state = "canceled"
        return order, [order, *[o for o in touched if o is not order]]

    def apply(self, book: Book, trades: tuple[Trade, ...] | list[Trade], now_ms: int) -> list[Order]:
        """Book the account's side of `trades`: balances, fees, fills; the orders they touched."""
        touched: list[Order] = []
        for t in trades:
            for oid, maker in ((t.maker_order_id, True), (t.taker_order_id, False)):
                order = self.by_engine_id.get(oid)
                if order is not None:
                    self._fill(order, t, maker, now_ms)
                    touched.append(order)
        return touched

    def _spot_fill(self, o: Order, px: Decimal, sz: Decimal, rate: Decimal) -> tuple[Decimal, str]:
        inst = o.inst
        if o.side == "buy" and self.buyer_fee_in_base:  # taken from what is bought
            fee, fee_ccy = -(sz * rate), inst.base
            self.balances[inst.base] = self.balances.get(inst.base, Decimal(0)) + sz + fee
            self.balances[inst.quote] -= px * sz
        elif o.side == "buy":
            fee, fee_ccy = -(px * sz * rate), inst.quote
            self.balances[inst.base] = self.balances.get(inst.base, Decimal(0)) + sz
            self.balances[inst.quote] -= px * sz - fee
        else:
            fee, fee_ccy = -(px * sz * rate), inst.quote
            self.balances[inst.base] -= sz
            self.balances[inst.quote] = self.balances.get(inst.quote, Decimal(0)) + px * sz + fee
        return fee, fee_ccy

    def _swap_fill(
        self, o: Order, units: int, px: Decimal, rate: Decimal, now_ms: int
    ) -> tuple[Decimal, str]:
        """A SWAP fill: the net position moves, what it closes is realized into the settle balance."""
        inst = o.inst
        fee = -inst.notional(px, Decimal(inst.sz(units))) * rate
        p = self.positions.setdefault(inst.inst_id, Position(c_time=now_ms))
        signed = units if o.side == "buy" else -units
        realized = Decimal(0)
        if p.pos and (p.pos > 0) != (signed > 0):  # closes (part of) the position
            closing = min(abs(signed), abs(p.pos))
            direction = 1 if p.pos > 0 else -1
            realized = inst.notional(px - p.avg, Decimal(inst.sz(closing))) * direction
        new = p.pos + signed
        if new and (p.pos == 0 or (new > 0) != (p.pos > 0)):
            p.avg = px  # opened, or flipped: the remainder is at this price
        elif new and abs(new) > abs(p.pos):
            p.avg = (p.avg * abs(p.pos) + px * abs(signed)) / abs(new)
        p.pos, p.u_time = new, now_ms
        self.balances[inst.settle] = self.balances.get(inst.settle, Decimal(0)) + realized + fee
        return fee, inst.settle

    def _fill(self, o: Order, t: Trade, maker: bool, now_ms: int) -> None:
        inst = o.inst
        px, sz = Decimal(inst.px(t.price)), Decimal(inst.sz(t.qty))
        rate = (
            (MAKER_SWAP_FEE if maker else TAKER_SWAP_FEE)
            if inst.swap
            else (MAKER_FEE if maker else TAKER_FEE)
        )
        if inst.swap:
            fee, fee_ccy = self._swap_fill(o, t.qty, px, rate, now_ms)
        else:
            fee, fee_ccy = self._spot_fill(o, px, sz, rate)
        o.filled += t.qty
        o.notional += px * sz
        o.fee += fee
        o.fee_ccy = fee_ccy
        o.u_time = now_ms
        o.state = "filled" if o.filled == o.sz else "partially_filled"
        o.last = {
            "fillPx": str(px),
            "fillSz": str(sz),
            "tradeId": str(t.trade_id),
            "fillFee": str(fee),
            "fillFeeCcy": fee_ccy,
            "execType": "M" if maker else "T",
            "fillTime": str(now_ms),
        }
        o.pushes.append(o.wire())
        self.fills.append(
            {
                "instType": inst.inst_type,
                "instId": inst.inst_id,
                "tradeId": str(t.trade_id),
                "ordId": o.ord_id,
                "clOrdId": o.cl_ord_id,
                "billId": f"{t.trade_id}{int(maker)}",
                "tag": "",
                "fillPx": str(px),
                "fillSz": str(sz),
                "side": o.side,
                "posSide": "net" if inst.swap else "",
                "execType": "M" if maker else "T",
                "feeCcy": fee_ccy,
                "fee": str(fee),
                "ts": str(now_ms),
            }
        )

    def mark(self, inst_id: str) -> Decimal:
        book = self.books[inst_id]
        bid, ask = book.engine.best_bid(), book.engine.best_ask()
        units = (bid + ask) / 2 if bid is not None and ask is not None else book.market.mid
        return Decimal(str(units)) * Decimal(book.inst.tick_sz)

    def settle_funding(self, now_ms: int) -> list[str]:
        """Funding on every SWAP position: longs pay shorts when the rate is positive. The instruments
        settled."""
        settled = []
        for inst_id, p in self.positions.items():
            if not p.pos:
                continue
            settled.append(inst_id)
            i = self.books[inst_id].inst
            value = i.notional(self.mark(inst_id), Decimal(i.sz(abs(p.pos))))
            amount = (-value if p.pos > 0 else value) * FUNDING_RATE
            self.balances[i.settle] = self.balances.get(i.settle, Decimal(0)) + amount
            self.next_id += 1
            self.bills.append(
                {
                    "billId": str(self.next_id),
                    "instType": "SWAP",
                    "instId": inst_id,
                    "ccy": i.settle,
                    "type": "8",
                    "subType": "173" if amount < 0 else "174",
                    "balChg": str(amount),
                    "sz": i.sz(abs(p.pos)),
                    "px": str(self.mark(inst_id)),
                    "ts": str(now_ms),
                    "mgnMode": "cross",
                }
            )
        return settled

    def position_rows(self, now_ms: int) -> list[dict[str, str]]:
        """The open SWAP positions (`account/positions`, a `positions` channel snapshot)."""
        return [self.position_row(i, now_ms) for i, p in self.positions.items() if p.pos]

    def position_row(self, inst_id: str, now_ms: int) -> dict[str, str]:
        """One SWAP position (net mode), flat ones included (a `positions` update on a close says pos 0)."""
        p = self.positions.get(inst_id, Position())
        i = self.books[inst_id].inst
        mark = self.mark(inst_id)
        upl = i.notional(mark - p.avg, Decimal(i.sz(p.pos)))
        return {
            "instType": "SWAP",
            "instId": inst_id,
            "posSide": "net",
            "pos": i.sz(p.pos),
            "avgPx": str(p.avg),
            "markPx": str(mark),
            "upl": str(upl),
            "lever": str(self.lever(inst_id)),
            "mgnMode": "cross",
            "ccy": i.settle,
            "cTime": str(p.c_time),
            "uTime": str(p.u_time or now_ms),
            "posId": f"{inst_id}-net",
        }

    def find(self, inst_id: str, ord_id: str, cl_ord_id: str) -> Order | None:
        if ord_id:
            o = self.orders.get(ord_id)
            return o if o is not None and o.inst.inst_id == inst_id else None
        found = [o for o in self.orders.values() if o.cl_ord_id == cl_ord_id and o.inst.inst_id == inst_id]
        return found[-1] if cl_ord_id and found else None

    def cancel(self, inst_id: str, ord_id: str, cl_ord_id: str, now_ms: int) -> Order:
        o = self.find(inst_id, ord_id, cl_ord_id)
        if o is None or o.state not in ("live", "partially_filled"):
            raise ApiError(
                "51400", "Order cancellation failed as the order has been filled, canceled or does not exist"
            )
        engine_id = int(o.ord_id)
        self.books[inst_id].engine.cancel(engine_id)
        o.state, o.u_time, o.last = "canceled", now_ms, {}
        return o

    def amend(self, args: dict[str, Any], now_ms: int) -> tuple[Order, list[Order]]:
        """`amend-order`: a new total size (`newSz`, above what filled) and/or price (`newPx`); the order
        goes back into the book at its new price (its time priority is lost) and may trade there."""
        inst_id = str(args.get("instId", ""))
        book = self.inst(inst_id)
        o = self.find(inst_id, str(args.get("ordId", "")), str(args.get("clOrdId", "")))
        if o is None or o.state not in ("live", "partially_filled"):
            raise ApiError("51503", "Order modification failed as the order does not exist")
        sz = book.inst.sz_units(str(args["newSz"])) if args.get("newSz") else o.sz
        px = book.inst.px_units(str(args["newPx"])) if args.get("newPx") else o.px
        if sz <= o.filled:
            raise ApiError("51512", "Order modification failed: the new size is not above what filled")
        book.engine.cancel(int(o.ord_id))
        o.sz, o.px, o.u_time, o.last = sz, px, now_ms, {}
        side = Side.BUY if o.side == "buy" else Side.SELL
        result = book.engine.submit(
            SimOrder(int(o.ord_id), "api", side, px, sz - o.filled, client_id=o.cl_ord_id)
        )
        touched = self.apply(book, result.trades, now_ms)
        if o.filled == o.sz:
            o.state = "filled"
        return o, [o, *[t for t in touched if t is not o]]

    def open_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.state in ("live", "partially_filled")]

    def snapshot(self) -> dict[str, Any]:
        return {
            "orders": {o.ord_id: o.wire() for o in self.orders.values()},
            "submits": dict(self.submits),
            "balances": {k: str(v) for k, v in self.balances.items()},
            "levers": {k: str(v) for k, v in self.levers.items()},
            "dead_man": {"armed": self.dead_man_at_ms > 0, "fired": self.dead_man_fired},
        }
