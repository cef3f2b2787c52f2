"""Trading a binary market toward an external probability signal.

The user supplies a probability for the YES outcome (a model, a poll average, another venue's price...),
read from a file or an HTTP feed by the engine adapter and handed to `EventDriven.on_signal(prob, ts_ns)`.
`parse_signal` / `read_signals` read the JSON-lines form, one signal per line:

    {"ts": 1767225600000000000, "market": "<condition id or slug>", "prob": "0.62"}

`ts` is the signal's time: integer nanoseconds since the epoch, or an ISO-8601 string with a UTC offset
("2026-01-01T00:00:00Z"). `prob` is a decimal string (or a JSON number, read exactly) in [0, 1].

Prices are integer units (`one` per 1.00), sizes integer units of 0.01 shares; all YES-terms prices come
from the consolidated YES/NO book (`binary_mm.yes_view`: a NO bid at q is a YES ask at one - q). With the
signal p and the consolidated touch (bid, ask):

    p - ask > edge   buy YES toward a target net position of  +min(max_position, size_per_cent * (p - ask))
    bid - p > edge   sell YES (buy NO) toward                 -min(max_position, size_per_cent * (bid - p))

(the edge measured in cents). The position only grows toward the target; it is unwound completely when the
edge is gone: a long position once p - ask <= exit_edge, a short one once bid - p <= exit_edge. Net is YES
shares minus NO shares. "Buy YES" sells NO first while NO is held, and "sell YES" sells held YES first and
buys NO only when no YES is left, so the strategy never tries to sell what it does not hold.

Orders take liquidity: limit orders at the consolidated touch, at most the touch quantity, one working
order at a time. An order that needs replacing is canceled first and the next one waits until the cancel is
confirmed, so a late fill can never push the position past the target. A signal older than `max_age_s`
(against the latest event time the strategy has seen) is ignored: it is not taken when it arrives stale, and
a signal that ages out stops all trading (the working order is canceled; the position is held, since no
current information says which way to trade it). A signal older than the current one is ignored too.

The strategy is pure: no I/O, no clock; every time comes with an event.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, NamedTuple

from trader.core import InvalidInputError, Side
from trader.errors import ConfigError, ParseError
from trader.strategies.base import BookTop, Cancel, Intent, OwnFill, OwnOrder, Place, TradePrint
from trader.strategies.binary_mm import Want, yes_view

CENT = 100  # cents per 1.00 of payout
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# ---- the signal file ---------------------------------------------------------------------------------


class Signal(NamedTuple):
    ts_ns: int
    market: str
    prob: Decimal


def _reject_constant(name: str) -> Any:
    raise ParseError(f"{name} is not a probability")


def _ts_ns(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        try:
            dt = datetime.fromisoformat(raw)
        except ValueError:
            raise ParseError(f"ts is not an ISO-8601 time: {raw!r}") from None
        if dt.tzinfo is None:
            raise ParseError("ts needs a UTC offset (e.g. 'Z' or '+00:00')")
        d = dt - _EPOCH
        return (d.days * 86_400 + d.seconds) * 1_000_000_000 + d.microseconds * 1_000
    raise ParseError("ts must be integer nanoseconds or an ISO-8601 string")


def _prob(raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise ParseError("prob must be a decimal string or number")
    try:
        prob = Decimal(raw.strip() if isinstance(raw, str) else raw)
    except InvalidOperation:
        raise ParseError(f"prob is not a decimal: {raw!r}") from None
    if not prob.is_finite() or not 0 <= prob <= 1:
        raise ParseError(f"prob must be in [0, 1], got {raw!r}")
    return prob


def parse_signal(line: str | bytes) -> Signal:
    """One JSON-lines signal; `ParseError` if it is malformed."""
    try:
        obj = json.loads(line, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError as e:
        if isinstance(e, ParseError):
            raise
        raise ParseError(f"not a JSON object: {e.args[0] if e.args else e}") from None
    if not isinstance(obj, dict):
        raise ParseError("a signal is a JSON object")
    for key in ("ts", "market", "prob"):
        if key not in obj:
            raise ParseError(f"missing {key!r}")
    market = obj["market"]
    if not isinstance(market, str) or not market:
        raise ParseError("market must be a non-empty string")
    return Signal(_ts_ns(obj["ts"]), market, _prob(obj["prob"]))


def read_signals(lines: Iterable[str | bytes], market: str | None = None) -> Iterator[Signal]:
    """The signals of a JSON-lines file (blank lines skipped), only `market`'s if given. A malformed line
    raises `ParseError` naming its line number."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            signal = parse_signal(line)
        except ParseError as e:
            raise ParseError(f"line {n}: {e}") from None
        if market is None or signal.market == market:
            yield signal


# ---- the strategy ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventDrivenParams:
    yes: str
    no: str
    one: int  # price units per 1.00: 100 (tick 0.01) or 1000 (tick 0.001)
    edge: Decimal  # minimum probability edge to trade, e.g. Decimal("0.03")
    size_per_cent: int  # size units of target position per cent of edge
    max_position: int  # |net| limit, size units
    max_age_s: float  # a signal older than this is not traded on
    exit_edge: Decimal = Decimal(0)  # unwind once the position's edge is at or below this
    min_qty: int = 1  # smallest order, size units (the market's min order size)

    def __post_init__(self) -> None:
        if self.yes == self.no or self.one <= 2:
            raise ConfigError("two distinct tokens and one > 2 price units are needed")
        if not 0 < self.edge < 1 or not 0 <= self.exit_edge <= self.edge:
            raise ConfigError("edge must be in (0, 1) and exit_edge in [0, edge]")
        if self.size_per_cent <= 0 or self.max_position <= 0 or self.min_qty <= 0 or self.max_age_s <= 0:
            raise ConfigError("size_per_cent, max_position, min_qty and max_age_s must be positive")


@dataclass(slots=True)
class _Working:
    want: Want
    client_id: str | None = None
    filled: int = 0
    canceling: bool = False


@dataclass
class EventDriven:
    params: EventDrivenParams
    name: str = "event"
    yes_pos: int = 0
    no_pos: int = 0
    now_ns: int = 0  # the latest event time seen
    prob: Fraction | None = None  # the current signal, YES price units
    signal_ts_ns: int | None = None
    ignored: int = 0  # signals ignored as stale or out of order
    _tops: dict[str, BookTop] = field(default_factory=dict)
    _working: _Working | None = None

    @property
    def net(self) -> int:
        return self.yes_pos - self.no_pos

    def fresh(self, now_ns: int) -> bool:
        ts = self.signal_ts_ns
        return ts is not None and now_ns - ts <= round(self.params.max_age_s * 1_000_000_000)

    def target_size(self, edge_units: Fraction) -> int:
        """The target |position| for an edge in price units: proportional, capped at max_position."""
        p = self.params
        return min(p.max_position, math.floor(edge_units * CENT / p.one * p.size_per_cent))

    # ---- decision --------------------------------------------------------------------------------

    def wanted(self) -> Want | None:
        """The order to work now (None: nothing to do), from the signal, the book and the position."""
        p = self.params
        if self.prob is None or not self.fresh(self.now_ns):
            return None
        view = yes_view(self._tops.get(p.yes), self._tops.get(p.no), p.one)
        if view.bid is not None and view.ask is not None and view.bid >= view.ask:
            return None  # crossed: no price to trust
        prob, edge, exit_edge, net = (
            self.prob,
            Fraction(p.edge) * p.one,
            Fraction(p.exit_edge) * p.one,
            self.net,
        )
        if view.ask is not None and prob - view.ask > edge:
            target = self.target_size(prob - view.ask)
            return self._buy(view.ask, min(target - net, view.ask_qty)) if target > net else None
        if view.bid is not None and view.bid - prob > edge:
            target = -self.target_size(view.bid - prob)
            return self._sell(view.bid, min(net - target, view.bid_qty)) if target < net else None
        if net > 0 and view.bid is not None and (view.ask is None or prob - view.ask <= exit_edge):
            return self._sell(view.bid, min(net, view.bid_qty))
        if net < 0 and view.ask is not None and (view.bid is None or view.bid - prob <= exit_edge):
            return self._buy(view.ask, min(-net, view.ask_qty))
        return None

    def _buy(self, yes_price: int, qty: int) -> Want | None:
        """Buy YES exposure at `yes_price`: sell held NO first, else buy YES."""
        p = self.params
        if self.no_pos > 0:
            want = Want(p.no, Side.SELL, p.one - yes_price, min(qty, self.no_pos), yes_price)
        else:
            want = Want(p.yes, Side.BUY, yes_price, qty, yes_price)
        return want if want.qty >= p.min_qty else None

    def _sell(self, yes_price: int, qty: int) -> Want | None:
        """Sell YES exposure at `yes_price`: sell held YES first, else buy NO at one - yes_price."""
        p = self.params
        if self.yes_pos > 0:
            want = Want(p.yes, Side.SELL, yes_price, min(qty, self.yes_pos), yes_price)
        else:
            want = Want(p.no, Side.BUY, p.one - yes_price, qty, yes_price)
        return want if want.qty >= p.min_qty else None

    def _decide(self, now_ns: int) -> list[Intent]:
        self.now_ns = max(self.now_ns, now_ns)
        want = self.wanted()
        w = self._working
        if w is not None:
            if want is not None and w.want[:3] == want[:3]:
                return []  # the working order is still the right one
            if w.client_id is not None and not w.canceling:
                w.canceling = True
                return [Cancel(w.client_id)]
            return []  # wait for the cancel (or the acknowledgement) before anything new
        if want is None:
            return []
        self._working = _Working(want)
        return [Place(want.instrument, want.side, want.price, want.qty, False, "event")]

    # ---- callbacks -------------------------------------------------------------------------------

    def on_signal(self, prob: Decimal, ts_ns: int, now_ns: int | None = None) -> list[Intent]:
        """A new probability for YES, stamped `ts_ns`. `now_ns` is the current time if the adapter knows
        it (else the latest event time seen). Stale or out-of-order signals are ignored."""
        if not isinstance(prob, Decimal) or not prob.is_finite() or not 0 <= prob <= 1:
            raise InvalidInputError("the signal must be a Decimal probability in [0, 1]")
        now = max(self.now_ns, now_ns if now_ns is not None else 0)
        if self.signal_ts_ns is not None and ts_ns < self.signal_ts_ns:
            self.ignored += 1
            return []
        if now - ts_ns > round(self.params.max_age_s * 1_000_000_000):
            self.ignored += 1
            return self._decide(now)  # the current signal may have aged out as well
        self.prob, self.signal_ts_ns = Fraction(prob) * self.params.one, ts_ns
        return self._decide(now)

    def on_book(self, top: BookTop) -> list[Intent]:
        p = self.params
        if top.instrument not in (p.yes, p.no):
            return []
        self._tops[top.instrument] = top
        return self._decide(top.ts_ns)

    def on_timer(self, now_ns: int) -> list[Intent]:
        return self._decide(now_ns)

    def on_order(self, order: OwnOrder) -> list[Intent]:
        w = self._working
        if w is None:
            return []
        if order.live and w.client_id is None and w.want[:3] == (order.instrument, order.side, order.price):
            w.client_id = order.client_id
        elif not order.live and order.client_id == w.client_id:
            self._working = None
            if w.filled > 0 or w.canceling:
                # filled: the next step (e.g. buy NO after selling all YES); our cancel: its replacement
                return self._decide(self.now_ns)
            # rejected, or canceled by the venue: wait for the next event rather than retry at once
        return []

    def on_fill(self, fill: OwnFill) -> list[Intent]:
        p = self.params
        signed = fill.qty if fill.side == Side.BUY else -fill.qty
        if fill.instrument == p.yes:
            self.yes_pos += signed
        elif fill.instrument == p.no:
            self.no_pos += signed
        w = self._working
        if w is not None and w.client_id == fill.client_id:
            w.filled += fill.qty
        return []

    def on_trade(self, trade: TradePrint) -> list[Intent]:
        return []

    def on_denied(self, place: Place, reason: str) -> list[Intent]:
        w = self._working
        if (
            w is not None
            and w.client_id is None
            and w.want[:3] == (place.instrument, place.side, place.price)
        ):
            self._working = None
        return []
