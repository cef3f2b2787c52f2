"""Order state machine.

States: new, submitted, accepted, partially filled, filled, cancel pending, canceled, rejected,
expired, unknown (a submit whose outcome we do not know: never resent, resolved by asking the venue)
and lost (unknown for too long; still counted and still fillable). Transitions never regress; late or
duplicated events are absorbed (`apply` returns False and changes nothing). Fills are keyed by trade id,
so a fill delivered twice (stream and REST reconciliation) counts once, and a fill is never lost:
it counts even when it arrives after the order's terminal event (the venue filled before it canceled).
A refused or failed cancel returns the order to the state it had (an UNKNOWN order stays UNKNOWN).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal

from trader.core import Side


class OrderStatus(enum.StrEnum):
    NEW = "new"
    SUBMITTED = "submitted"
    UNKNOWN = "unknown"
    LOST = "lost"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    CANCEL_PENDING = "cancel_pending"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"


TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED})
_RANK = {
    OrderStatus.NEW: 0,
    OrderStatus.SUBMITTED: 1,
    OrderStatus.UNKNOWN: 2,
    OrderStatus.LOST: 3,
    OrderStatus.ACCEPTED: 4,
    OrderStatus.PARTIALLY_FILLED: 5,
    OrderStatus.CANCEL_PENDING: 6,
    **dict.fromkeys(TERMINAL, 7),
}


@dataclass(frozen=True)
class Fill:
    trade_id: str
    qty: int
    price: int
    fee: Decimal
    ts_ns: int


# ---- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    pass


@dataclass(frozen=True)
class Accepted:
    venue_order_id: str


@dataclass(frozen=True)
class Filled:
    fill: Fill


@dataclass(frozen=True)
class CancelRequested:
    pass


@dataclass(frozen=True)
class CancelRejected:
    """The venue refused the cancel (the order is still live, or already done)."""

    reason: str


@dataclass(frozen=True)
class Canceled:
    pass


@dataclass(frozen=True)
class Rejected:
    reason: str


@dataclass(frozen=True)
class Expired:
    pass


@dataclass(frozen=True)
class OutcomeUnknown:
    """A timeout or 5xx on submit: the order may or may not exist at the venue."""

    reason: str


@dataclass(frozen=True)
class Lost:
    """Still unknown after the resolution deadline: keep counting it, keep it fillable, alert."""


OrderEvent = (
    Submitted
    | Accepted
    | Filled
    | CancelRequested
    | CancelRejected
    | Canceled
    | Rejected
    | Expired
    | OutcomeUnknown
    | Lost
)

EVENT_TYPES: dict[str, type[OrderEvent]] = {
    c.__name__: c
    for c in (
        Submitted,
        Accepted,
        Filled,
        CancelRequested,
        CancelRejected,
        Canceled,
        Rejected,
        Expired,
        OutcomeUnknown,
        Lost,
    )
}

_TARGET: dict[type, OrderStatus] = {
    Submitted: OrderStatus.SUBMITTED,
    Accepted: OrderStatus.ACCEPTED,
    CancelRequested: OrderStatus.CANCEL_PENDING,
    Canceled: OrderStatus.CANCELED,
    Rejected: OrderStatus.REJECTED,
    Expired: OrderStatus.EXPIRED,
    OutcomeUnknown: OrderStatus.UNKNOWN,
    Lost: OrderStatus.LOST,
}


@dataclass
class Order:
    """One order's identity and state. Prices and quantities are integer units of the instrument."""

    client_id: str
    venue: str
    instrument: str
    side: Side
    price: int
    qty: int
    status: OrderStatus = OrderStatus.NEW
    venue_order_id: str | None = None
    filled: int = 0
    fills: dict[str, Fill] = field(default_factory=dict)
    reason: str = ""
    before_cancel: OrderStatus | None = None  # the state a refused cancel returns it to
    strategy: str = ""  # the strategy that placed it ("" in journals from before this was recorded)

    @property
    def remaining(self) -> int:
        return max(self.qty - self.filled, 0)

    @property
    def is_live(self) -> bool:
        """Counts against limits: in flight, resting, unknown or lost."""
        return self.status not in TERMINAL and self.status is not OrderStatus.NEW

    def apply(self, event: OrderEvent) -> bool:
        """Apply one event; False when it was late, duplicated or impossible and changed nothing."""
        if isinstance(event, Filled):
            return self._fill(event.fill)
        if isinstance(event, CancelRejected):
            if self.status is not OrderStatus.CANCEL_PENDING:
                return False
            # back to where it was: an order the venue never acknowledged is not ACCEPTED now
            restored = self.before_cancel or OrderStatus.ACCEPTED
            self.status = OrderStatus.PARTIALLY_FILLED if self.filled else restored
            self.reason = event.reason
            return True
        if isinstance(event, Accepted) and self.status is OrderStatus.CANCEL_PENDING:
            if self.venue_order_id is not None:
                return False
            self.venue_order_id = event.venue_order_id  # the venue has it (a cancel is on its way)
            self.before_cancel = OrderStatus.ACCEPTED
            return True
        target = _TARGET[type(event)]
        if self.status in TERMINAL or _RANK[target] <= _RANK[self.status]:
            return False
        if target is OrderStatus.ACCEPTED and self.filled:
            target = OrderStatus.PARTIALLY_FILLED
        if target is OrderStatus.CANCEL_PENDING:
            self.before_cancel = self.status
        self.status = target
        if isinstance(event, Accepted):
            self.venue_order_id = event.venue_order_id
        if isinstance(event, Rejected | OutcomeUnknown):
            self.reason = event.reason
        return True

    def _fill(self, fill: Fill) -> bool:
        if fill.trade_id in self.fills or fill.qty <= 0:
            return False
        self.fills[fill.trade_id] = fill
        self.filled += fill.qty
        if self.status in TERMINAL:
            return True  # a late fill still counts; the terminal status stands
        if self.filled >= self.qty:
            self.status = OrderStatus.FILLED
        elif self.status is not OrderStatus.CANCEL_PENDING:
            self.status = OrderStatus.PARTIALLY_FILLED
        return True
