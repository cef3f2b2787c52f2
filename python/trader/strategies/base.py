"""The strategy protocol and the intents a strategy may return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from trader.core import Side


@dataclass(frozen=True)
class BookTop:
    """What a strategy sees of a book: integer price/qty units and the event time."""

    instrument: str
    bid: int | None
    bid_qty: int
    ask: int | None
    ask_qty: int
    ts_ns: int


@dataclass(frozen=True)
class TradePrint:
    instrument: str
    price: int
    qty: int
    taker_side: Side
    ts_ns: int


@dataclass(frozen=True)
class OwnFill:
    client_id: str
    instrument: str
    side: Side
    price: int
    qty: int
    ts_ns: int


@dataclass(frozen=True)
class OwnOrder:
    """A strategy's view of one of its orders."""

    client_id: str
    instrument: str
    side: Side
    price: int
    remaining: int
    live: bool


@dataclass(frozen=True)
class Place:
    instrument: str
    side: Side
    price: int
    qty: int
    post_only: bool = True
    tag: str = ""


@dataclass(frozen=True)
class Cancel:
    client_id: str


Intent = Place | Cancel


class Strategy(Protocol):
    """Every callback returns the intents to act on now (possibly none)."""

    name: str

    def on_book(self, top: BookTop) -> list[Intent]: ...

    def on_trade(self, trade: TradePrint) -> list[Intent]: ...

    def on_fill(self, fill: OwnFill) -> list[Intent]: ...

    def on_order(self, order: OwnOrder) -> list[Intent]: ...

    def on_timer(self, now_ns: int) -> list[Intent]: ...

    def on_denied(self, place: Place, reason: str) -> list[Intent]:
        """The risk gate refused `place` (nothing was sent); `reason` is the gate's typed reason."""
        ...
