"""The run report's data, read from a journal file (read-only): the orders and fills of the `events`
table and the engine's samples (`trader.monitoring.samples`). Floats: this is analytics."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from trader.errors import ConfigError
from trader.monitoring.samples import read_samples


@dataclass
class FillRow:
    ts_ns: int
    venue: str
    instrument: str  # "venue:symbol"
    strategy: str
    side: str  # BUY or SELL
    price: float
    qty: float
    fee: float


@dataclass
class OrderRow:
    venue: str
    instrument: str
    strategy: str
    side: str
    sent_ns: int | None = None
    acked_ns: int | None = None
    status: str = "sent"
    reason: str = ""


@dataclass
class ReportData:
    path: Path
    meta: dict[str, Any]
    samples: list[tuple[int, dict[str, Any]]]
    orders: dict[str, OrderRow] = field(default_factory=dict)
    fills: list[FillRow] = field(default_factory=list)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # (ts, venue, reason)

    @property
    def currency(self) -> str:
        return str(self.meta.get("currency", ""))

    @property
    def start_ns(self) -> int:
        firsts = [t for t, _ in self.samples[:1]] + [o.sent_ns for o in self.orders.values() if o.sent_ns]
        return min(firsts, default=0)

    @property
    def end_ns(self) -> int:
        lasts = [t for t, _ in self.samples[-1:]] + [f.ts_ns for f in self.fills[-1:]]
        return max(lasts, default=self.start_ns)

    def round_trips_ms(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = defaultdict(list)
        for o in self.orders.values():
            if o.sent_ns is not None and o.acked_ns is not None:
                out[o.venue].append((o.acked_ns - o.sent_ns) / 1e6)
        return dict(out)

    def latency_us(self) -> list[float]:
        return [x for _, row in self.samples for x in row.get("latency_us", [])]


def _unit(meta: dict[str, Any], key: str, which: str) -> Decimal:
    inst = meta.get("instruments", {}).get(key)
    return Decimal(str(inst[which])) if inst else Decimal(1)


def _apply(data: ReportData, ts: int, cid: str, kind: str, p: dict[str, Any]) -> None:
    if kind == "Intent":
        key = f"{p['venue']}:{p['instrument']}"
        data.orders[cid] = OrderRow(p["venue"], key, p.get("strategy", ""), p["side"])
        return
    o = data.orders.get(cid)
    if o is None:
        return
    if kind == "Submitted":
        o.sent_ns = ts
    elif kind == "Accepted":
        o.acked_ns = o.acked_ns or ts
        o.status = "accepted"
    elif kind == "Filled":
        price = float(Decimal(p["price"]) * _unit(data.meta, o.instrument, "price_unit"))
        qty = float(Decimal(p["qty"]) * _unit(data.meta, o.instrument, "qty_unit"))
        data.fills.append(FillRow(ts, o.venue, o.instrument, o.strategy, o.side, price, qty, float(p["fee"])))
    elif kind in ("Rejected", "OutcomeUnknown", "Canceled", "Expired"):
        o.status = kind.lower()
        o.reason = str(p.get("reason", ""))
        if kind == "Rejected":
            data.rejects.append((ts, o.venue, o.reason))


def load(path: str | Path) -> ReportData:
    """Everything the report shows, from a journal file; `ConfigError` when it is not a journal."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"journal {p}: no such file")
    try:
        db = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise ConfigError(f"cannot open journal {p}: {e}") from None
    try:
        meta, samples = read_samples(db)
        data = ReportData(p, meta, samples)
        for ts, cid, kind, payload in db.execute(
            "SELECT ts_ns, client_id, kind, payload FROM events ORDER BY seq"
        ):
            _apply(data, int(ts), str(cid), str(kind), json.loads(payload))
    except (sqlite3.Error, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"journal {p} cannot be read for a report: {e}") from None
    finally:
        db.close()
    return data


def denials_over_time(samples: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, Counter[str]]]:
    """Denials per sample interval (the samples hold running totals)."""
    out: list[tuple[int, Counter[str]]] = []
    last: Counter[str] = Counter()
    for ts, row in samples:
        now = Counter({k: int(v) for k, v in row.get("denials", {}).items()})
        out.append((ts, now - last))
        last = now
    return out


def mid_at(
    samples: list[tuple[int, dict[str, Any]]], instrument: str
) -> tuple[list[int], list[float | None]]:
    venue, _, symbol = instrument.partition(":")
    ts, mids = [], []
    for t, row in samples:
        book = row.get("venues", {}).get(venue, {}).get("books", {}).get(symbol)
        if book is not None:
            ts.append(t)
            mids.append(book.get("mid"))
    return ts, mids
