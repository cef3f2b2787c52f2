"""The order ledger: every order the engine knows, with the journal written before anything changes."""

from __future__ import annotations

from trader.core import Side
from trader.engine import oms
from trader.engine.journal import Journal
from trader.errors import UnknownOrderError


class OrderLedger:
    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.orders: dict[str, oms.Order] = journal.replay()

    def create(
        self,
        strategy: str,
        venue: str,
        instrument: str,
        side: Side,
        price: int,
        qty: int,
        ts_ns: int,
        *,
        submitted: bool = False,
    ) -> oms.Order:
        """A new order with a never-reused client id; its intent is durable before this returns.
        `submitted`: it is about to be sent (recorded in the same write)."""
        order = oms.Order(self._journal.next_client_id(strategy), venue, instrument, side, price, qty)
        self._journal.record_intent(order, ts_ns, submitted=submitted)
        if submitted:
            order.apply(oms.Submitted())
        self.orders[order.client_id] = order
        return order

    def apply(self, client_id: str, event: oms.OrderEvent, ts_ns: int) -> bool:
        """Journal the event, then apply it. Late or duplicate events are journaled and absorbed."""
        order = self.orders.get(client_id)
        if order is None:
            raise UnknownOrderError(f"no order with client id {client_id}")
        self._journal.record_event(client_id, event, ts_ns)
        return order.apply(event)

    def live(self) -> list[oms.Order]:
        """Orders that still count: in flight, resting, unknown or lost."""
        return [o for o in self.orders.values() if o.is_live]

    def unresolved(self) -> list[oms.Order]:
        """Orders whose outcome must be asked of the venue (never resent)."""
        return [
            o for o in self.orders.values() if o.status in (oms.OrderStatus.UNKNOWN, oms.OrderStatus.LOST)
        ]
