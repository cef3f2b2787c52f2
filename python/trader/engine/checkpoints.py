"""WAL checkpoints of the file journals, off the event loop's thread.

A journal in WAL mode appends each write to its `-wal` file; a checkpoint copies those pages back into the
database file and fsyncs both. Left to itself, SQLite runs one inside whichever commit takes the WAL past
1,000 pages: on the engine's thread, while it handles an ack or a fill, for the length of the copy and the
fsyncs (4-7 ms on the 2-core VM of `make bench`, the event loop blocked all that time). So a file journal
turns that off (`PRAGMA wal_autocheckpoint=0`) and registers here instead. One daemon thread, shared by
every journal the process has open, runs a PASSIVE checkpoint of each about every `every_s`, on a
connection of its own. PASSIVE never waits for a writer and never holds one up; `sqlite3` releases the GIL
while SQLite works. The thread starts with the first journal and ends once none is registered.

What the thread must never do, and why it cannot:
- create a file: its connection is opened read-write only (`mode=rw`), never `rwc`;
- delete a live journal's `-wal`: the last connection to a database to close checkpoints it and unlinks
  its `-wal` by name. `remove` closes the thread's connection (after the checkpoint in progress, if any)
  and `Journal.close` calls it while the journal's own connection is still open, so the thread's is never
  the last one. A journal's files may be moved or replaced once `Journal.close` has returned.

Durability is unchanged: a checkpoint moves pages that are already in the WAL; what a commit made durable
(`synchronous=FULL`) or left to the OS (`NORMAL`) stays as it was.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("trader.engine")


class Checkpointer:
    """The checkpoint thread and the journals it serves (one per process: `CHECKPOINTS`)."""

    def __init__(self, every_s: float = 1.0) -> None:
        self.every_s = every_s
        self.done = 0  # checkpoints run
        self._lock = threading.Lock()  # held while a checkpoint runs: `remove` waits for it
        self._files: dict[int, tuple[str, sqlite3.Connection | None]] = {}  # by key: URI, connection
        self._failed: set[int] = set()  # keys whose last checkpoint failed (logged once until one works)
        self._keys = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def add(self, path: str | Path) -> int:
        """Checkpoint the journal file at `path` from now on; returns the key `remove` takes."""
        uri = Path(path).absolute().as_uri() + "?mode=rw"
        with self._lock:
            key = next(self._keys)
            self._files[key] = (uri, None)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="trader-checkpoints", daemon=True)
                self._thread.start()
        return key

    def remove(self, key: int) -> None:
        """Stop checkpointing the journal `key`; its connection here is closed when this returns."""
        with self._lock:
            _, conn = self._files.pop(key, ("", None))
            self._failed.discard(key)
            if conn is not None:
                conn.close()

    def poke(self) -> None:
        """Run the next round now rather than at the end of the wait (tests)."""
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.every_s)
            self._wake.clear()
            with self._lock:
                if not self._files:
                    self._thread = None
                    return
                for key in list(self._files):
                    self._checkpoint(key)

    def _checkpoint(self, key: int) -> None:
        uri, conn = self._files[key]
        try:
            if conn is None:
                conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
                self._files[key] = (uri, conn)
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as e:
            if key not in self._failed:
                log.warning("journal %s: checkpoint failed (%s); retrying", uri.removesuffix("?mode=rw"), e)
                self._failed.add(key)
            if conn is not None:
                conn.close()
            self._files[key] = (uri, None)
            return
        self._failed.discard(key)
        self.done += 1


CHECKPOINTS = Checkpointer()
"""The process's checkpoint thread (`trader.engine.journal.Journal` registers each file journal)."""
