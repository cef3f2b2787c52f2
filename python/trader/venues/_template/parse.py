"""Pure conversions of the venue's payloads into `trader` types: no I/O, no clock, no state.
Each wire string becomes integer units here, once (`InstrumentSpec.price_to_units` / `qty_to_units`)."""

from __future__ import annotations

from typing import Any

from trader.core import InstrumentSpec, Side
from trader.venues.base import InstrumentInfo, OrderReport, OrderState

STATES = {"open": OrderState.OPEN, "filled": OrderState.FILLED, "canceled": OrderState.CANCELED}


def instrument_info(p: dict[str, Any]) -> InstrumentInfo:
    """The venue's rules for one instrument, as its decimal strings."""
    return InstrumentInfo(
        symbol=str(p["symbol"]),
        base=str(p["base"]),
        quote=str(p["quote"]),
        tick_size=str(p["tick_size"]),
        lot_size=str(p["lot_size"]),
        min_qty=str(p["min_qty"]),
        min_notional=str(p.get("min_notional", "0")),
    )


def order_report(p: dict[str, Any], spec: InstrumentSpec, ts_recv: int) -> OrderReport:
    """An order as the venue reports it, in integer units. `ts_event`: the venue's time of the order's last
    change (state here which field, and 0 only if the venue states none); `ts_recv`: our clock when the
    connector read the answer or message (passed in: a parse function never reads a clock)."""
    return OrderReport(
        client_id=str(p["client_order_id"]),
        venue_order_id=str(p["order_id"]),
        instrument=str(p["symbol"]),
        side=Side.BUY if p["side"] == "buy" else Side.SELL,
        price=spec.price_to_units(str(p["price"])),
        qty=spec.qty_to_units(str(p["qty"])),
        filled=spec.qty_to_units(str(p["filled_qty"])),
        state=STATES[str(p["status"])],
        ts_event=int(p.get("updated_ns", 0)),
        ts_recv=ts_recv,
    )
