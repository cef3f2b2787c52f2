"""The series the run report needs and the order journal does not hold: equity and PnL per venue and in
total, inventory and exposure, marks, denials and tick-to-order latency, sampled on the engine's timer into
a `samples` table of the journal file (its own connection and table: the order path's writes are not
touched; WAL lets both write).

Bounded: one row every `sample_s` (engine clock), at most `max_rows`; at the cap every other row is
dropped and the interval doubles, so a long session keeps an even, coarser series. Latency samples are
at most `LATENCY_PER_ROW` a row (evenly strided)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trader.engine.observer import EngineObserver
from trader.monitoring.probe import Sample, TickToWire, sample

if TYPE_CHECKING:
    from trader.engine.engine import Engine

LATENCY_PER_ROW = 200
_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ns INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
"""


def _row(s: Sample, latency_ns: list[int]) -> dict[str, Any]:
    step = max(1, -(-len(latency_ns) // LATENCY_PER_ROW))
    return {
        "state": s.state,
        "killed": s.killed,
        "total": s.total,
        "venues": {
            name: {
                "pnl": v.pnl,
                "state": v.state,
                "killed": v.killed,
                "up": v.up,
                "counts": v.counts,
                "books": {sym: {"mid": b.mid, "position": b.position} for sym, b in v.books.items()},
            }
            for name, v in s.venues.items()
        },
        "assets": {a: {"position": p, "exposure": e} for a, (p, e) in s.assets.items()},
        "strategies": s.strategies,
        "denials": s.denials,
        "latency_us": [round(ns / 1000, 1) for ns in latency_ns[::step]],
    }


def _meta(engine: Engine) -> dict[str, Any]:
    return {
        "currency": engine.cfg.risk.reporting_currency,
        "venues": list(engine.venues),
        "strategies": {name: st.name for name, st in engine.strategies.items()},
        "instruments": {
            f"{v.name}:{sym}": {
                "price_unit": inst.spec.format_price(1),
                "qty_unit": str(inst.spec.qty_unit),
                "asset": inst.asset or sym,
                "canonical": inst.canonical,
            }
            for v in engine.venues.values()
            for sym, inst in v.instruments.items()
        },
    }


class SampleWriter(EngineObserver):
    """Writes samples of the engine into its journal file's `samples` table (see the module doc)."""

    def __init__(self, path: str | Path, *, sample_s: float = 1.0, max_rows: int = 20_000) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=5.0)
        self._db.execute("PRAGMA synchronous=NORMAL")  # samples are for the report: not fsynced each
        self._db.executescript(_SCHEMA)
        self.interval_ns = int(sample_s * 1e9)
        self.max_rows = max(max_rows, 16)
        self._rows = int(self._db.execute("SELECT count(*) FROM samples WHERE kind = 'state'").fetchone()[0])
        self._next = 0
        self._meta_written = False
        self._latency = TickToWire()

    def _write(self, ts_ns: int, kind: str, payload: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO samples (ts_ns, kind, payload) VALUES (?, ?, ?)",
            (ts_ns, kind, json.dumps(payload, separators=(",", ":"))),
        )

    def on_timer(self, engine: Engine, now_ns: int) -> None:
        if now_ns < self._next or engine.gate is None:
            return
        self._next = now_ns + self.interval_ns
        self.record(engine)

    def record(self, engine: Engine) -> None:
        """One sample now (and the session's meta, the first time)."""
        s = sample(engine)
        if not self._meta_written:
            self._write(s.ts_ns, "meta", _meta(engine))
            self._meta_written = True
        self._write(s.ts_ns, "state", _row(s, self._latency.take(engine)))
        self._rows += 1
        if self._rows >= self.max_rows:
            self._thin()

    def _thin(self) -> None:
        """Drop every other state row (the first and the last stay) and sample half as often."""
        self._db.execute(
            "DELETE FROM samples WHERE kind = 'state' AND seq IN (SELECT seq FROM "
            "(SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM samples WHERE kind = 'state') "
            "WHERE n % 2 = 0 AND seq < (SELECT max(seq) FROM samples WHERE kind = 'state'))"
        )
        self._rows = int(self._db.execute("SELECT count(*) FROM samples WHERE kind = 'state'").fetchone()[0])
        self.interval_ns *= 2

    def close(self, engine: Engine | None = None) -> None:
        """A last sample (the state at the end of the session), then close."""
        if engine is not None and engine.gate is not None:
            self.record(engine)
        self._db.close()


def read_samples(db: sqlite3.Connection) -> tuple[dict[str, Any], list[tuple[int, dict[str, Any]]]]:
    """The meta and the state rows of a journal (empty when it has no samples)."""
    has = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'samples'").fetchone()
    if has is None:
        return {}, []
    meta: dict[str, Any] = {}
    rows: list[tuple[int, dict[str, Any]]] = []
    for ts, kind, payload in db.execute("SELECT ts_ns, kind, payload FROM samples ORDER BY seq"):
        data = json.loads(payload)
        if kind == "meta":
            meta = data
        elif kind == "state":
            rows.append((int(ts), data))
    return meta, rows


__all__ = ["LATENCY_PER_ROW", "SampleWriter", "read_samples"]
