"""Positions and PnL per venue and instrument: average cost, realized, unrealized and fees, exact.

Quantities and prices are integer units; the cost basis is a `Fraction` (an average of integer prices),
so nothing rounds: realized + unrealized - fees always equals the cash-flow PnL (cash + position * mark)
to the last digit. `unit_notional` converts price units x qty units to quote currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from trader.core import Side


@dataclass
class Position:
    venue: str
    instrument: str
    unit_notional: Decimal
    qty: int = 0
    avg_price: Fraction = field(default_factory=Fraction)  # price units, exact
    realized: Fraction = field(default_factory=Fraction)  # quote currency, exact
    fees: Decimal = Decimal(0)
    volume: int = 0
    funding: Fraction = field(default_factory=Fraction)  # perpetual funding, received > 0, quote currency

    def apply_funding(self, amount: Decimal | Fraction) -> None:
        self.funding += Fraction(amount)

    def apply_fill(self, side: Side, qty: int, price: int, fee: Decimal) -> None:
        if qty <= 0:
            raise ValueError("fill quantity must be > 0")
        signed = qty if side == Side.BUY else -qty
        self.fees += fee
        self.volume += qty
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            # opening or adding: the average moves toward the fill price
            total = self.qty + signed
            self.avg_price = (self.avg_price * abs(self.qty) + price * qty) / abs(total)
            self.qty = total
            return
        closing = min(qty, abs(self.qty))
        direction = 1 if self.qty > 0 else -1
        self.realized += (price - self.avg_price) * closing * direction * Fraction(self.unit_notional)
        self.qty += signed
        if self.qty == 0:
            self.avg_price = Fraction(0)
        elif (self.qty > 0) != (direction > 0):
            self.avg_price = Fraction(price)  # flipped: the rest opens at the fill price

    def unrealized(self, mark: Fraction | int) -> Fraction:
        return (Fraction(mark) - self.avg_price) * self.qty * Fraction(self.unit_notional)

    def pnl(self, mark: Fraction | int) -> Fraction:
        """Realized + unrealized + funding - fees, exact."""
        return self.realized + self.unrealized(mark) + self.funding - Fraction(self.fees)


class Portfolio:
    def __init__(self) -> None:
        self.positions: dict[tuple[str, str], Position] = {}

    def position(self, venue: str, instrument: str, unit_notional: Decimal) -> Position:
        key = (venue, instrument)
        p = self.positions.get(key)
        if p is None:
            p = self.positions[key] = Position(venue, instrument, unit_notional)
        return p

    def total_pnl(self, marks: dict[tuple[str, str], Fraction | int]) -> Fraction:
        """Across every venue and instrument; a position without a mark is valued at its cost."""
        return sum(
            (p.pnl(marks.get(k, p.avg_price)) for k, p in self.positions.items()),
            Fraction(0),
        )


def to_decimal(x: Fraction, places: int = 12) -> Decimal:
    """For display: exact when the fraction terminates within `places`, else rounded half-even."""
    return (Decimal(x.numerator) / Decimal(x.denominator)).quantize(Decimal(1).scaleb(-places))
