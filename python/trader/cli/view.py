"""The live terminal view of a running engine (rich): book, quotes, inventory, PnL, fills, risk, latency."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from trader.core import Side
from trader.engine.engine import Snapshot


def _price(s: Snapshot, units: int | None) -> str:
    return "-" if units is None else s.spec.format_price(units)


def render(s: Snapshot, venue: str, elapsed_s: float) -> Group:
    state = Text(s.trading_state, style="bold red" if s.killed or s.trading_state != "ACTIVE" else "green")
    head = Text.assemble(
        (f"{venue} {s.symbol}", "bold"),
        f"  {elapsed_s:6.1f}s  bid {_price(s, s.bid)}  ask {_price(s, s.ask)}  risk ",
        state,
        ("  KILLED" if s.killed else "", "bold red"),
    )
    stats = Table.grid(padding=(0, 2))
    for label, value in (
        ("position", s.position),
        ("PnL", s.pnl),
        ("fees", s.fees),
        ("orders", str(s.orders)),
        ("fills", str(s.fills)),
        ("tick-to-order p50 / p99", f"{s.p50_us} / {s.p99_us} µs"),
        (
            "tick-to-wire p50 / p99 / max",
            f"{s.tick_to_wire_p50_us} / {s.tick_to_wire_p99_us} / {s.tick_to_wire_max_us} µs",
        ),
        ("conflated book updates", str(s.conflated)),
        ("denials", ", ".join(f"{k} {v}" for k, v in sorted(s.denials.items())) or "none"),
    ):
        stats.add_row(label, value)
    quotes = Table(title="our orders", expand=False)
    for col in ("id", "side", "price", "remaining"):
        quotes.add_column(col)
    for q in s.quotes:
        quotes.add_row(
            q.client_id,
            "BUY" if q.side == Side.BUY else "SELL",
            _price(s, q.price),
            s.spec.format_qty(q.remaining),
        )
    fills = Table(title="recent fills", expand=False)
    for col in ("id", "side", "price", "qty"):
        fills.add_column(col)
    for f in reversed(s.recent_fills):
        fills.add_row(
            f.client_id, "BUY" if f.side == Side.BUY else "SELL", _price(s, f.price), s.spec.format_qty(f.qty)
        )
    if len(s.venues) < 2:
        return Group(head, stats, quotes, fills)
    return Group(head, _venues(s), stats, quotes, fills)


def _venues(s: Snapshot) -> Group:
    """Several venues: one row each, then the aggregate (exposure per asset, total PnL)."""
    table = Table(title="venues", expand=False)
    for col in ("venue", "instrument", "bid", "ask", "position", "PnL", "orders", "fills", "open", "state"):
        table.add_column(col)
    for v in s.venues:
        style = "green" if v.state == "ACTIVE" else "bold red"
        table.add_row(
            v.venue,
            v.symbol[:24],
            v.bid,
            v.ask,
            v.position[:32],
            v.pnl,
            str(v.orders),
            str(v.fills),
            str(v.open_orders),
            Text(v.state, style=style),
        )
    exposure = ", ".join(f"{a[:12]} {x}" for a, x in sorted(s.exposure.items())) or "none"
    aggregate = Text.assemble(("all venues", "bold"), f"  PnL {s.total_pnl}  exposure {exposure}")
    return Group(table, aggregate)
