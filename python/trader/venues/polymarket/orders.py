"""Our orders at Polymarket: the tracking record, the durable client-id map (`order_log`), what our
live orders hold back from the balance, and how an approval becomes a venue order type.

Polymarket has no client order id; the order id is the EIP-712 hash of the signed order, known before
the request leaves. `client_id -> order id` is recorded first (in memory, and appended to `order_log`
when configured, so another process can resolve it)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from trader.core import Approval, OrderType, Side, TimeInForce
from trader.errors import InvalidOrderError
from trader.venues.base import OrderReport, OrderState
from trader.venues.polymarket.endpoints import GTD_THRESHOLD_S, MICRO
from trader.venues.polymarket.errors import error_from
from trader.venues.polymarket.parse import dec, side

if TYPE_CHECKING:
    from trader.venues.polymarket.connector import PolymarketConnector

log = logging.getLogger("trader.venues.polymarket")


@dataclass
class Order:
    client_id: str
    order_id: str
    symbol: str
    token: str
    side: Side
    price: int  # price units
    qty: int  # micro-shares
    order_type: str
    filled: int = 0
    state: OrderState | None = None  # None: in flight or outcome unknown
    live: bool = True  # resting, in flight or unknown in this session (reserves funds, needs heartbeats)


class OrderLog:
    """An append-only JSON-lines file of `client_id -> order id` records, fsynced per order by default."""

    def __init__(self, path: str | Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._file: IO[str] | None = None

    def load(self, venue: str) -> list[Order]:
        """The orders recorded so far (not live in this session); unreadable lines are skipped."""
        if not self.path.exists():
            return []
        out: list[Order] = []
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                r = orjson.loads(line)
                out.append(
                    Order(
                        str(r["client_id"]), str(r["order_id"]), str(r["symbol"]), str(r["token"]),
                        side(r["side"]), int(r["price"]), int(r["qty"]), str(r["order_type"]), live=False,
                    )
                )  # fmt: skip
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                log.warning("%s: order log line %d unreadable, skipped", venue, n)
        return out

    def append(self, o: Order) -> None:
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8")
        line = orjson.dumps(
            {
                "client_id": o.client_id, "order_id": o.order_id, "symbol": o.symbol, "token": o.token,
                "side": "BUY" if o.side == Side.BUY else "SELL", "price": o.price, "qty": o.qty,
                "order_type": o.order_type,
            }
        )  # fmt: skip
        self._file.write(line.decode() + "\n")
        self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def held(orders: Iterable[Order], token: str | None, price_unit: Decimal) -> int:
    """What our live orders hold back: pUSD micro-units of buys (token None), or shares of sells."""
    total = 0
    for o in orders:
        if not o.live or o.state not in (None, OrderState.OPEN):
            continue
        rest = max(o.qty - o.filled, 0)
        if token is None and o.side == Side.BUY:
            cash = Decimal(rest) * o.price * price_unit
            total += int(cash.to_integral_value(ROUND_CEILING))
        elif token is not None and o.side == Side.SELL and o.token == token:
            total += rest
    return total


def order_kind(a: Approval, venue: str) -> tuple[str, bool, int]:
    """(venue order type, post only, GTD expiration in unix seconds) of an approved order: GTC, GTD
    (expiry + the venue's 60 s threshold), IOC -> FAK, FOK -> FOK; market orders FAK (FOK with tif FOK)."""
    if a.order_type == OrderType.MARKET:
        kind = "FOK" if a.tif == TimeInForce.FOK else "FAK"
    else:
        kind = {TimeInForce.IOC: "FAK", TimeInForce.FOK: "FOK", TimeInForce.GTD: "GTD"}.get(a.tif, "GTC")
    if a.post_only and kind not in ("GTC", "GTD"):
        raise InvalidOrderError("post-only needs a GTC or GTD order", venue=venue)
    expiration = 0
    if kind == "GTD":
        if a.expire_ns <= 0:
            raise InvalidOrderError("a GTD order needs an expiry", venue=venue)
        expiration = -(-a.expire_ns // 1_000_000_000) + GTD_THRESHOLD_S
    return kind, a.post_only, expiration


def apply_post_result(c: PolymarketConnector, tracked: Order, r: Any, ts_recv: int) -> None:
    """Fold a `POST /order(s)` result (read at `ts_recv`) into the tracking; raise its error if failed."""
    if not isinstance(r, dict) or not r.get("success", False):
        msg = str(r.get("errorMsg") or "order refused") if isinstance(r, dict) else "malformed answer"
        tracked.state, tracked.live = OrderState.REJECTED, False
        raise error_from(c.venue, msg)
    if r.get("orderID") and str(r["orderID"]).lower() != tracked.order_id.lower():
        log.error("%s: venue order id %s differs from the signed hash", c.venue, r["orderID"])
    shares = r.get("takingAmount") if tracked.side == Side.BUY else r.get("makingAmount")
    matched = 0
    with contextlib.suppress(ValueError):
        matched = int(dec(shares) / MICRO) if shares else 0
    tracked.filled = max(tracked.filled, matched)
    if matched:
        c._balances.clear()
    resting = tracked.order_type in ("GTC", "GTD") and tracked.filled < tracked.qty
    if resting:
        tracked.state = OrderState.OPEN
        return
    tracked.live = False
    done = tracked.filled >= tracked.qty
    tracked.state = OrderState.FILLED if done else OrderState.EXPIRED
    c._queue.put_nowait(
        OrderReport(
            tracked.client_id, tracked.order_id, tracked.symbol, tracked.side, tracked.price, tracked.qty,
            tracked.filled, tracked.state, "" if done else f"{tracked.order_type}: rest canceled",
            ts_event=0, ts_recv=ts_recv,
        )
    )  # fmt: skip
