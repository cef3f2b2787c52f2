"""The report's page: a header with the session's figures, the charts, the table per strategy and venue.
One HTML file: plotly.js inlined once, no network needed to open it."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from trader import __version__
from trader.monitoring.report import charts
from trader.monitoring.report.data import ReportData

_CSS = """
body { font-family: system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #222; }
header { background: #1f2a44; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 6px 0; font-size: 22px; }
header .sub { opacity: 0.8; font-size: 13px; }
main { padding: 16px 28px 40px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0 18px; }
.card { background: #fff; border-radius: 8px; padding: 10px 16px; min-width: 120px;
        box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.card .k { font-size: 12px; color: #666; } .card .v { font-size: 20px; font-weight: 600; }
.chart { background: #fff; border-radius: 8px; margin: 12px 0; padding: 6px;
         box-shadow: 0 1px 2px rgba(0,0,0,.08); }
table { border-collapse: collapse; background: #fff; width: 100%; font-size: 13px; }
th, td { padding: 6px 10px; border-bottom: 1px solid #e3e5e8; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
th { background: #eef0f3; }
.neg { color: #b2182b; } .pos { color: #1a7837; }
"""
_COLUMNS = (
    ("strategy", "strategy"), ("venue", "venue"), ("orders", "orders"), ("fills", "fills"),
    ("rejects", "rejects"), ("unknown", "unknown"), ("volume", "volume (quote)"), ("fees", "fees"),
    ("spread_captured", "spread captured"), ("strategy_pnl", "strategy PnL"), ("venue_pnl", "venue PnL"),
)  # fmt: skip


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.4f}"
    return html.escape(str(v))


def _signed(v: Any) -> str:
    cls = "" if not isinstance(v, int | float) or v == 0 else ("pos" if v > 0 else "neg")
    return f'<td class="{cls}">{_fmt(v)}</td>'


def _table(rows: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{html.escape(t)}</th>" for _, t in _COLUMNS)
    body = []
    for r in rows:
        cells = [
            _signed(r.get(k)) if k.endswith(("pnl", "captured")) else f"<td>{_fmt(r.get(k))}</td>"
            for k, _ in _COLUMNS
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(_COLUMNS)}">no orders</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _cards(d: ReportData) -> str:
    last = d.samples[-1][1] if d.samples else {}
    total = last.get("total", {})
    seconds = (d.end_ns - d.start_ns) / 1e9
    figures = [
        ("PnL", total.get("total")), ("realized", total.get("realized")), ("fees", total.get("fees")),
        ("funding", total.get("funding")), ("orders", len(d.orders)), ("fills", len(d.fills)),
        ("rejects", len(d.rejects)), ("duration (s)", round(seconds, 1)), ("state", last.get("state", "-")),
    ]  # fmt: skip
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="k">{html.escape(k)}</div><div class="v">{_fmt(v)}</div></div>'
            for k, v in figures
        )
        + "</div>"
    )


def _chart(fig: go.Figure, div_id: str) -> str:
    inner = fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id,
        config={"displaylogo": False, "responsive": True},
    )  # fmt: skip
    return f'<section class="chart">{inner}</section>'


def render(d: ReportData) -> str:
    spread_fig, captured = charts.spread_captured(d)
    figures = [
        ("equity", charts.equity(d)),
        ("price-path", charts.price_path(d)),
        ("inventory", charts.inventory(d)),
        ("spread", spread_fig),
        ("costs", charts.costs(d)),
        ("latency", charts.latency(d)),
        ("denials", charts.denials_rejects(d)),
    ]
    when = (
        datetime.fromtimestamp(d.start_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if d.start_ns
        else "-"
    )
    venues = ", ".join(d.meta.get("venues", [])) or "-"
    title = f"trader session report: {venues}"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<header><h1>{html.escape(title)}</h1><div class='sub'>journal {html.escape(d.path.name)} · "
        f"started {when} · reporting currency {html.escape(d.currency or '-')} · trader {__version__}"
        "</div></header>"
        f"<main>{_cards(d)}"
        + "".join(_chart(fig, f"chart-{name}") for name, fig in figures)
        + f"<h2>Per strategy and venue</h2>{_table(charts.table_rows(d, captured))}"
        + (
            "<p><em>This journal has no samples (a session from before monitoring): orders and fills only."
            "</em></p>"
            if not d.samples
            else ""
        )
        + "</main></body></html>"
    )
