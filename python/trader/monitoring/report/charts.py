"""The report's charts, with plotly (figures only: no hand-written chart code). Each function takes the
report's data and returns a figure; a chart with nothing to show says so in its middle."""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from trader.monitoring.report.data import FillRow, ReportData, denials_over_time, mid_at

if TYPE_CHECKING:
    from collections.abc import Sequence

HEIGHT = 360
MAX_MARKERS = 5_000  # fills drawn per instrument and side (evenly strided beyond: the browser stays quick)
BUY, SELL = "#1a9850", "#d73027"


def _t(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


def _ts(values: Sequence[int]) -> list[datetime]:
    return [_t(v) for v in values]


def _layout(fig: go.Figure, title: str, *, height: int = HEIGHT, empty: str = "") -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01},
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.15},
        hovermode="x unified",
    )
    if empty:
        fig.add_annotation(
            text=empty, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"color": "#888"}
        )
    return fig


def equity(d: ReportData) -> go.Figure:
    """PnL over time, in total and per venue (reporting currency)."""
    fig = go.Figure()
    ts = _ts([t for t, _ in d.samples])
    fig.add_trace(
        go.Scatter(x=ts, y=[r["total"]["total"] for _, r in d.samples], name="total", line={"width": 3})
    )
    for venue in d.meta.get("venues", []):
        ys = [r["venues"].get(venue, {}).get("pnl", {}).get("total") for _, r in d.samples]
        fig.add_trace(go.Scatter(x=ts, y=ys, name=venue))
    return _layout(fig, f"Equity: PnL ({d.currency})", empty="" if d.samples else "no samples")


def costs(d: ReportData) -> go.Figure:
    """Fees and funding over time per venue (cumulative, reporting currency)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("fees paid", "funding received"))
    ts = _ts([t for t, _ in d.samples])
    for venue in d.meta.get("venues", []):
        for col, part in ((1, "fees"), (2, "funding")):
            ys = [r["venues"].get(venue, {}).get("pnl", {}).get(part) for _, r in d.samples]
            fig.add_trace(go.Scatter(x=ts, y=ys, name=f"{venue} {part}", legendgroup=venue), row=1, col=col)
    return _layout(fig, f"Fees and funding ({d.currency})", empty="" if d.samples else "no samples")


def inventory(d: ReportData) -> go.Figure:
    """Positions per instrument and exposure per asset over time."""
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("position per instrument", f"exposure per asset ({d.currency})")
    )
    ts = _ts([t for t, _ in d.samples])
    for key in d.meta.get("instruments", {}):
        venue, _, symbol = key.partition(":")
        ys = [
            r["venues"].get(venue, {}).get("books", {}).get(symbol, {}).get("position") for _, r in d.samples
        ]
        fig.add_trace(go.Scatter(x=ts, y=ys, name=key, line={"shape": "hv"}), row=1, col=1)
    assets = sorted({a for _, r in d.samples for a in r.get("assets", {})})
    for a in assets:
        ys = [r.get("assets", {}).get(a, {}).get("exposure") for _, r in d.samples]
        fig.add_trace(go.Scatter(x=ts, y=ys, name=a, fill="tozeroy"), row=1, col=2)
    return _layout(fig, "Inventory and exposure", empty="" if d.samples else "no samples")


def _fills_of(d: ReportData, key: str) -> dict[str, list[FillRow]]:
    out: dict[str, list[FillRow]] = {"BUY": [], "SELL": []}
    for f in d.fills:
        if f.instrument == key:
            out.setdefault(f.side, []).append(f)
    return out


def price_path(d: ReportData, max_instruments: int = 6) -> go.Figure:
    """Each instrument's mid, with our fills on it (buys and sells)."""
    keys = list(d.meta.get("instruments", {}))[:max_instruments] or ["-"]
    fig = make_subplots(
        rows=len(keys), cols=1, subplot_titles=keys, shared_xaxes=False, vertical_spacing=0.08
    )
    for i, key in enumerate(keys, start=1):
        ts, mids = mid_at(d.samples, key)
        fig.add_trace(
            go.Scatter(x=_ts(ts), y=mids, name=f"{key} mid", line={"color": "#4c72b0"}), row=i, col=1
        )
        for side, every in _fills_of(d, key).items():
            fills = every[:: max(1, -(-len(every) // MAX_MARKERS))]
            if fills:
                fig.add_trace(
                    go.Scatter(
                        x=_ts([f.ts_ns for f in fills]), y=[f.price for f in fills], mode="markers",
                        name=f"{key} {side.lower()}s",
                        marker={"color": BUY if side == "BUY" else SELL, "size": 9,
                                "symbol": "triangle-up" if side == "BUY" else "triangle-down"},
                    ),
                    row=i, col=1,
                )  # fmt: skip
    return _layout(fig, "Fills on the price path", height=max(HEIGHT, 300 * len(keys)))


def spread_captured(d: ReportData) -> tuple[go.Figure, dict[tuple[str, str], float]]:
    """Per fill, the edge against the mid at that moment ((mid - price) x qty for a buy, the reverse for a
    sell; quote currency), cumulative per venue; and the totals per (strategy, venue)."""
    mids = {key: mid_at(d.samples, key) for key in d.meta.get("instruments", {})}
    per_venue: dict[str, tuple[list[datetime], list[float]]] = defaultdict(lambda: ([], []))
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for f in d.fills:
        ts, ms = mids.get(f.instrument, ([], []))
        i = bisect.bisect_right(ts, f.ts_ns) - 1
        mid = ms[i] if i >= 0 else None
        if mid is None:
            continue
        edge = (mid - f.price) * f.qty if f.side == "BUY" else (f.price - mid) * f.qty
        xs, ys = per_venue[f.venue]
        xs.append(_t(f.ts_ns))
        ys.append((ys[-1] if ys else 0.0) + edge)
        totals[(f.strategy, f.venue)] += edge
    fig = go.Figure()
    for venue, (xs, ys) in per_venue.items():
        fig.add_trace(go.Scatter(x=xs, y=ys, name=venue, line={"shape": "hv"}))
    return _layout(
        fig, "Spread captured (cumulative, quote currency)", empty="" if per_venue else "no fills"
    ), totals


def latency(d: ReportData) -> go.Figure:
    """Tick-to-order latency (µs, sampled) and order round trips (ms, sent to acknowledged) per venue."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("tick to order (µs)", "order round trip (ms)"))
    lat = d.latency_us()
    fig.add_trace(
        go.Histogram(x=lat, name="tick to order", nbinsx=50, marker={"color": "#4c72b0"}), row=1, col=1
    )
    for venue, rtt in d.round_trips_ms().items():
        fig.add_trace(go.Histogram(x=rtt, name=f"{venue} round trip", nbinsx=50, opacity=0.75), row=1, col=2)
    fig.update_layout(barmode="overlay")
    return _layout(fig, "Latency", empty="" if lat or d.round_trips_ms() else "no latency samples")


def denials_rejects(d: ReportData) -> go.Figure:
    """Risk denials per reason and venue rejects per venue, per sample interval."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("risk denials", "venue rejects"))
    series = denials_over_time(d.samples)
    reasons = sorted({r for _, c in series for r in c})
    for reason in reasons:
        fig.add_trace(
            go.Bar(x=_ts([t for t, _ in series]), y=[c.get(reason, 0) for _, c in series], name=reason),
            row=1,
            col=1,
        )
    by_venue: dict[str, list[int]] = defaultdict(list)
    for ts, venue, _ in d.rejects:
        by_venue[venue].append(ts)
    for venue, ts_list in by_venue.items():
        fig.add_trace(go.Histogram(x=_ts(ts_list), name=f"{venue} rejects", nbinsx=40), row=1, col=2)
    fig.update_layout(barmode="stack")
    empty = "" if reasons or by_venue else "no denials, no rejects"
    return _layout(fig, "Risk denials and rejects over time", empty=empty)


def table_rows(d: ReportData, captured: dict[tuple[str, str], float]) -> list[dict[str, Any]]:
    """Per strategy and venue: orders, fills, rejects, volume, fees, spread captured, PnL at the end."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def row(strategy: str, venue: str) -> dict[str, Any]:
        return rows.setdefault(
            (strategy, venue),
            {"strategy": strategy, "venue": venue, "orders": 0, "fills": 0, "rejects": 0, "unknown": 0,
             "volume": 0.0, "fees": 0.0, "spread_captured": 0.0},
        )  # fmt: skip

    for o in d.orders.values():
        r = row(o.strategy, o.venue)
        r["orders"] += 1
        r["rejects"] += o.status == "rejected"
        r["unknown"] += o.status == "outcomeunknown"
    for f in d.fills:
        r = row(f.strategy, f.venue)
        r["fills"] += 1
        r["volume"] += f.qty * f.price
        r["fees"] += f.fee
    for key, v in captured.items():
        row(*key)["spread_captured"] = v
    last = d.samples[-1][1] if d.samples else {}
    for (strategy, _), r in rows.items():
        r["strategy_pnl"] = last.get("strategies", {}).get(strategy, {}).get("pnl")
    for venue, v in last.get("venues", {}).items():
        for (_, rv), r in rows.items():
            if rv == venue:
                r["venue_pnl"] = v.get("pnl", {}).get("total")
    return sorted(rows.values(), key=lambda r: (r["strategy"], r["venue"]))
