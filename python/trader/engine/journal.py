"""The write-ahead journal: SQLite in WAL mode.

What is durable when (`synchronous=FULL`: on disk, fsynced, before the call returns):
- Client order ids carry the journal's random instance id and a persisted counter (format:
  `trader.engine.ledger`), so they are unique forever, across restarts, crashes, journals and hosts. The
  counter is reserved in blocks of `CLIENT_ID_BLOCK`, fsynced before any id in a block is used; the next
  block is reserved ahead, after an order went out (`flush`), so no order waits on a disk write for its id.
- An order's intent (and that it was sent) may be deferred (`record_intent(defer=True)`): kept in memory,
  written by `flush` right after the order's bytes went to the socket, all the intents of one market event in
  one transaction (a group commit) with `synchronous=NORMAL` (in the OS on return: a SIGKILL loses nothing
  written; a power loss may take the journal back to its last fsync). What the journal lacks after a crash
  is found at the venue: an order whose id carries this journal's instance id and a number inside the
  reserved counter is ours (`client_id_reserved`), and start-up reconciliation adopts it (asks the venue,
  records it, accounts its fills, cancels it). So no id is ever sent twice and every order sent is found.
- Every other order record (acks, fills, cancels, rejects) is written before it is acted on, with
  `synchronous=NORMAL` too: in the OS when the call returns, so a crash of the process loses none of it; a
  power loss may take it back to the last fsync, and start-up reconciliation then learns from the venue
  what the journal lacks (fills included). Counters and meta (the kill switch, its audit records) are
  fsynced (`synchronous=FULL`). A deferred intent is always written before any record that follows it.
- WAL checkpoints run on a thread of their own (`trader.engine.checkpoints`), never inside a write on the
  engine's thread.

Replaying the journal rebuilds every order's state. Nothing secret is written here: payloads are order
fields, venue ids and reasons.

A journal belongs to one venue and its instruments (recorded in meta by the first engine; an engine for
another is refused). A new journal file is created 0600. What is not a journal (a directory, a read-only,
truncated, corrupt or non-SQLite file, a malformed row) is refused with `ConfigError` naming it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from trader.core import Side
from trader.engine import oms
from trader.engine.checkpoints import CHECKPOINTS
from trader.engine.ledger import format_client_id, new_instance_id, strategy_tag
from trader.errors import ConfigError

CLIENT_ID_BLOCK = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ns INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_client ON events (client_id, seq);
"""


@dataclass(frozen=True)
class Entry:
    seq: int
    ts_ns: int
    client_id: str
    kind: str
    payload: dict[str, Any]


def _encode(event: oms.OrderEvent) -> tuple[str, dict[str, Any]]:
    kind = type(event).__name__
    if isinstance(event, oms.Filled):
        f = event.fill
        return kind, {
            "trade_id": f.trade_id,
            "qty": f.qty,
            "price": f.price,
            "fee": str(f.fee),
            "ts_ns": f.ts_ns,
        }
    return kind, {k: getattr(event, k) for k in getattr(event, "__dataclass_fields__", {})}


def _intent(order: oms.Order) -> dict[str, Any]:
    return {
        "venue": order.venue,
        "instrument": order.instrument,
        "side": "BUY" if order.side == Side.BUY else "SELL",
        "price": order.price,
        "qty": order.qty,
        "strategy": order.strategy,
    }


def _dumps(payload: dict[str, Any]) -> str:
    """A row's payload: compact JSON."""
    return json.dumps(payload, separators=(",", ":"))


def _decode(kind: str, payload: dict[str, Any]) -> oms.OrderEvent:
    if kind == "Filled":
        return oms.Filled(
            oms.Fill(
                payload["trade_id"],
                payload["qty"],
                payload["price"],
                Decimal(payload["fee"]),
                payload["ts_ns"],
            )
        )
    cls = oms.EVENT_TYPES.get(kind)
    if cls is None:
        raise ConfigError(f"journal has an unknown event kind {kind!r}")
    return cls(**payload)


def _prepare(path: Path) -> None:
    """Refuse what cannot be a writable journal file, and create a new one private (0600), before SQLite
    touches anything. (`trader live` keeps its journals in a 0700 `~/.trader`.)"""
    if path.is_dir():
        raise ConfigError(f"journal {path} is a directory, not a journal file")
    if path.exists():
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"journal {path} is not a regular file")
        if not mode & stat.S_IWUSR or not os.access(path, os.R_OK | os.W_OK):
            raise ConfigError(f"journal {path} is read-only; the engine must write ahead of every order")
        return
    try:  # SQLite gives its -wal and -shm files the database file's mode
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as e:
        raise ConfigError(f"cannot open journal {path}: {e.strerror}") from None


def _names(instruments_json: str) -> str:
    try:
        return ", ".join(map(str, json.loads(instruments_json)))
    except (ValueError, TypeError):
        return instruments_json


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _decoded(e: Entry) -> oms.OrderEvent | oms.Order:
    """An entry's order (for an intent) or event, or `ConfigError` naming the row if it is malformed."""
    try:
        p = e.payload
        if e.kind == "Intent":
            side = {"BUY": Side.BUY, "SELL": Side.SELL}[p["side"]]
            order = oms.Order(e.client_id, p["venue"], p["instrument"], side, p["price"], p["qty"])
            order.strategy = p.get("strategy", "")
            ok = (
                isinstance(order.venue, str)
                and isinstance(order.instrument, str)
                and isinstance(order.strategy, str)
            )
            ok = ok and _is_int(order.price) and _is_int(order.qty)
            decoded: oms.OrderEvent | oms.Order = order
        else:
            decoded = _decode(e.kind, p)
            if isinstance(decoded, oms.Filled):
                f = decoded.fill
                ok = isinstance(f.trade_id, str) and _is_int(f.qty) and _is_int(f.price) and _is_int(f.ts_ns)
                ok = ok and f.fee.is_finite()
            else:
                ok = all(isinstance(v, str) for v in p.values())
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError, ArithmeticError):
        ok = False
    if not ok:
        raise ConfigError(f"journal event {e.seq} ({e.kind} of {e.client_id}) is malformed")
    return decoded


class Journal:
    def __init__(self, path: str | Path) -> None:
        self.path = None if str(path) == ":memory:" else Path(path)  # None: in memory
        if self.path is not None:
            _prepare(self.path)
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpoint thread's work, not a write's
            self._db.executescript(_SCHEMA)
            self._db.execute("SELECT count(*) FROM events").fetchone()  # reads the table's pages
        except sqlite3.Error as e:
            if hasattr(self, "_db"):
                self._db.close()
            raise ConfigError(f"cannot open journal {path}: {e}") from None
        self._path = str(path)
        self._id_next, self._id_last = 1, 0  # the block of client id numbers in use
        self._ahead: int | None = None  # the last number of the block reserved ahead (None: none yet)
        self._reserve_ahead = False  # the block ahead went into use: reserve another at the next flush
        self._pending: list[tuple[int, str, str, str | dict[str, Any]]] = []  # deferred intents, oldest first
        self._sync = "FULL"
        # registered after the connection: the thread's own connection is never the last one open
        self._checkpoints = (
            weakref.finalize(self, CHECKPOINTS.remove, CHECKPOINTS.add(self.path)) if self.path else None
        )

    def close(self) -> None:
        """Write what is deferred and close; the files may be moved or replaced once this returns."""
        self.flush()
        if self._checkpoints is not None:
            self._checkpoints()  # the checkpoint thread's connection closes first (not the last one)
        self._db.close()

    @property
    def pending(self) -> int:
        """Deferred intent rows not yet written (`flush` writes them)."""
        return len(self._pending)

    def _synchronous(self, level: str) -> None:
        if level != self._sync:
            self._db.execute(f"PRAGMA synchronous={level}")
            self._sync = level

    def flush(self) -> None:
        """Write the deferred intents (one transaction, `synchronous=NORMAL`), then reserve the next block
        of client ids if the one ahead went into use (fsynced). The engine calls it once the orders of an
        event are on the wire; any other write calls it first."""
        if self._pending:
            pending, self._pending = self._pending, []
            rows = [(ts, cid, kind, p if isinstance(p, str) else _dumps(p)) for ts, cid, kind, p in pending]
            self._synchronous("NORMAL")
            try:
                with self._db:
                    self._db.executemany(
                        "INSERT INTO events (ts_ns, client_id, kind, payload) VALUES (?, ?, ?, ?)", rows
                    )
            finally:
                self._synchronous("FULL")
        if self._reserve_ahead:
            self._reserve_ahead = False
            self._ahead = self._reserve("client_order_id", CLIENT_ID_BLOCK)

    def prepare_ids(self, now_ns: int | None = None) -> None:
        """Reserve the block of client ids in use and the one ahead now (start-up), not at the first order;
        the first time, note when (`client_ids_since_ns`: orders with these ids are no older)."""
        if now_ns is not None and self.get_meta("client_ids_since_ns") is None:
            self.set_meta("client_ids_since_ns", str(now_ns))
        if self._id_next > self._id_last:
            self._id_last = self._reserve("client_order_id", CLIENT_ID_BLOCK)
            self._id_next = self._id_last - CLIENT_ID_BLOCK + 1
        if self._ahead is None:
            self._ahead = self._reserve("client_order_id", CLIENT_ID_BLOCK)

    def mark_clean(self) -> None:
        """The engine stopped cleanly: every order it sent is journaled, up to the counter as it is now."""
        self.set_meta("client_ids_clean", str(self.get_counter("client_order_id")))

    def unclean_numbers(self, highest_journaled: int) -> range:
        """Client order numbers a process that did not stop cleanly may have sent without journaling
        them: above the highest journaled one, up to the reserved counter (none after a clean stop)."""
        counter = self.get_counter("client_order_id")
        if self.get_meta("client_ids_clean") == str(counter):
            return range(0)
        return range(highest_journaled + 1, counter + 1)

    def client_id_reserved(self, n: int) -> bool:
        """Whether client order number `n` lies in a block this journal reserved (durably): an order of
        ours with that number may have been sent even when the journal has no record of it."""
        return 1 <= n <= self.get_counter("client_order_id")

    def next_value(self, counter: str) -> int:
        """Increment a persisted counter and return the new value (durable before it is returned)."""
        return self._reserve(counter, 1)

    def get_counter(self, counter: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (counter,)).fetchone()
        return int(row[0]) if row else 0

    def set_counter_at_least(self, counter: str, value: int) -> None:
        """Raise a counter to `value` (e.g. the Kraken nonce a signer used); never lowers it."""
        self.flush()
        with self._db:
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = max(value, excluded.value)",
                (counter, value),
            )

    def get_meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, name: str, value: str) -> None:
        """A durable named value (e.g. the venue position the journal's fills start from)."""
        self.flush()
        with self._db:
            self._db.execute(
                "INSERT INTO meta (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    @property
    def instance_id(self) -> str:
        """This journal's random instance id, drawn once and kept (every client id it issues carries it)."""
        current = self.get_meta("instance_id")
        if current is None:
            with self._db:  # first writer wins: two processes opening a new journal agree on one id
                self._db.execute(
                    "INSERT OR IGNORE INTO meta (name, value) VALUES ('instance_id', ?)", (new_instance_id(),)
                )
            current = self.get_meta("instance_id")
            assert current is not None
        return current

    def next_client_number(self) -> int:
        """The next number of one persisted counter: never repeated.

        Numbers are reserved from the counter in blocks of `CLIENT_ID_BLOCK` (one durable write per block,
        not per order); a restart skips the rest of a block, so numbers may jump but never repeat. With a
        block reserved ahead (`prepare_ids`), the next block is already durable when this one runs out
        and another is reserved at the next `flush`, after the order went out.
        """
        if self._id_next > self._id_last:
            if self._ahead is not None and self._ahead > self._id_last:
                self._id_last, self._ahead = self._ahead, None
                self._reserve_ahead = True
            else:
                self._id_last = self._reserve("client_order_id", CLIENT_ID_BLOCK)
            self._id_next = self._id_last - CLIENT_ID_BLOCK + 1
        n, self._id_next = self._id_next, self._id_next + 1
        return n

    def peek_client_number(self) -> int:
        """The number `next_client_number` would give now, without taking it (the engine's rehearsal)."""
        return self._id_next

    def next_client_id(self, strategy: str) -> str:
        """A new client order id for `strategy` (`trader.engine.ledger.format_client_id`)."""
        strategy_tag(strategy)  # a bad name fails before a number is used
        return format_client_id(self.instance_id, strategy, self.next_client_number())

    def _reserve(self, counter: str, n: int) -> int:
        self.flush()
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                (counter, n),
            )
            row = self._db.execute("SELECT value FROM counters WHERE name = ?", (counter,)).fetchone()
        return int(row[0])

    def _append(self, ts_ns: int, client_id: str, kind: str, payload: dict[str, Any]) -> int:
        self.flush()
        self._synchronous("NORMAL")
        try:
            with self._db:
                cur = self._db.execute(
                    "INSERT INTO events (ts_ns, client_id, kind, payload) VALUES (?, ?, ?, ?)",
                    (ts_ns, client_id, kind, _dumps(payload)),
                )
        finally:
            self._synchronous("FULL")
        return int(cur.lastrowid or 0)

    def record_intent(
        self, order: oms.Order, ts_ns: int, *, submitted: bool = False, defer: bool = False
    ) -> None:
        """The order's intent (and, with `submitted`, that it is about to be sent) in one durable write;
        with `defer`, kept for the next `flush` (see the module docstring)."""
        payload = _intent(order)
        if defer:  # encoded at the flush, after the order went out
            self._pending.append((ts_ns, order.client_id, "Intent", payload))
            if submitted:
                self._pending.append((ts_ns, order.client_id, "Submitted", "{}"))
            return
        rows = [(ts_ns, order.client_id, "Intent", _dumps(payload))]
        if submitted:
            rows.append((ts_ns, order.client_id, "Submitted", "{}"))
        self.flush()
        with self._db:
            self._db.executemany(
                "INSERT INTO events (ts_ns, client_id, kind, payload) VALUES (?, ?, ?, ?)", rows
            )

    def encode_intent(self, order: oms.Order) -> str:
        """The order's intent as `record_intent` writes it, without writing it (the engine's rehearsal)."""
        return _dumps(_intent(order))

    def record_event(self, client_id: str, event: oms.OrderEvent, ts_ns: int) -> int:
        kind, payload = _encode(event)
        return self._append(ts_ns, client_id, kind, payload)

    def entries(self) -> Iterator[Entry]:
        """Every row in order; `ConfigError` naming the first one that is not a journal row."""
        self.flush()
        try:
            for seq, ts, cid, kind, payload in self._db.execute(
                "SELECT seq, ts_ns, client_id, kind, payload FROM events ORDER BY seq"
            ):
                try:
                    data = json.loads(payload)
                except (TypeError, ValueError):
                    data = None
                if not isinstance(data, dict) or not isinstance(ts, int) or not isinstance(cid, str):
                    raise ConfigError(f"journal {self._path}: event {seq} is malformed")
                yield Entry(seq, ts, cid, kind, data)
        except sqlite3.Error as e:
            raise ConfigError(f"cannot read journal {self._path}: {e}") from None

    def replay(self) -> dict[str, oms.Order]:
        """Rebuild every order from the journal, in the order things happened."""
        orders: dict[str, oms.Order] = {}
        for e in self.entries():
            decoded = _decoded(e)
            if isinstance(decoded, oms.Order):
                orders[e.client_id] = decoded
            elif e.client_id in orders:
                orders[e.client_id].apply(decoded)
            else:
                raise ConfigError(f"journal event {e.seq} refers to an order with no intent: {e.client_id}")
        return orders

    def verify(self) -> None:
        """Check the whole file (SQLite's quick_check) and that every row decodes: `ConfigError` naming
        what is wrong. Run before a session starts, so a damaged journal stops it before anything is sent."""
        try:
            problems = [str(r[0]) for r in self._db.execute("PRAGMA quick_check")]
        except sqlite3.Error as e:
            raise ConfigError(f"journal {self._path} is damaged: {e}") from None
        if problems != ["ok"]:
            raise ConfigError(f"journal {self._path} is damaged: {problems[0]}")
        self.replay()

    def bind(self, venue: str | Mapping[str, Iterable[str]], instruments: Iterable[str] = ()) -> None:
        """Claim the journal for one venue and its instruments, or for several (`{venue: instruments}`),
        recorded in meta the first time; a journal written for other venues or instruments is refused with
        `ConfigError`. A journal from before this record is judged by its intents. (One engine process,
        one journal, every venue it trades.)"""
        venues_want = (
            {venue: list(instruments)} if isinstance(venue, str) else {k: list(v) for k, v in venue.items()}
        )
        if len(venues_want) == 1:
            name, insts_one = next(iter(venues_want.items()))
            key, want = name, sorted(set(insts_one))
        else:
            key = ",".join(sorted(venues_want))
            want = sorted({f"{v}:{s}" for v, ss in venues_want.items() for s in ss})
        bare = {s for ss in venues_want.values() for s in ss}
        have_venue, have_insts = self.get_meta("venue"), self.get_meta("instruments")
        if have_venue is None or have_insts is None:
            venues: set[str] = set()
            insts: set[str] = set()
            for e in self.entries():
                if e.kind == "Intent":
                    venues.add(str(e.payload.get("venue")))
                    insts.add(str(e.payload.get("instrument")))
            if venues - set(venues_want) or insts - bare:
                raise ConfigError(
                    f"journal {self._path} holds orders of {', '.join(sorted(venues))} "
                    f"{', '.join(sorted(insts))}, not {key} {', '.join(want)}; use another journal"
                )
            self.set_meta("venue", key)
            self.set_meta("instruments", json.dumps(want))
            return
        if have_venue != key or have_insts != json.dumps(want):
            raise ConfigError(
                f"journal {self._path} belongs to {have_venue} {_names(have_insts)}, "
                f"not {key} {', '.join(want)}; use another journal"
            )
