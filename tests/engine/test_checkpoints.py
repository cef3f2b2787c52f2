"""WAL checkpoints off the engine's thread (`trader.engine.checkpoints`): a journal's writes never
checkpoint, the shared thread keeps the WAL bounded, `Journal.close` leaves no connection of the thread's
behind (so its files can be replaced), and the thread never creates a file."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from tests.helpers import wait_until
from trader.engine import oms
from trader.engine.checkpoints import CHECKPOINTS, Checkpointer
from trader.engine.journal import Journal

T0 = 1_700_000_000_000_000_000


def _checkpointed(cp: Checkpointer) -> None:
    """Wait for a round of checkpoints that started after this call."""
    before = cp.done
    cp.poke()
    assert wait_until(lambda: cp.done > before, 10, 0.005), "the thread checkpointed"


def _write(journal: Journal, rows: int) -> None:
    reason = "x" * 1000
    for i in range(rows):
        journal.record_event(f"c{i}", oms.Rejected(reason), T0 + i)


def test_writes_never_checkpoint_and_the_thread_keeps_the_wal_bounded(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = Journal(path)
    try:
        assert journal._db.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
        wal = Path(f"{path}-wal")
        _write(journal, 1000)
        first = wal.stat().st_size
        _write(journal, 1000)
        assert wal.stat().st_size > 1.8 * first, "no write checkpointed: the WAL holds both batches"
        high = wal.stat().st_size
        sizes = []
        for _ in range(4):  # 4 batches more, the thread checkpointing before each
            _checkpointed(CHECKPOINTS)
            _write(journal, 1000)
            sizes.append(wal.stat().st_size)
        assert max(sizes) == high, f"each batch after a checkpoint reuses the WAL from its start: {sizes}"
        assert sum(1 for _ in journal.entries()) == 6000, "every row kept"
    finally:
        journal.close()


def test_close_closes_the_threads_connection_first_so_the_files_can_be_replaced(tmp_path: Path) -> None:
    path, other = tmp_path / "j.db", tmp_path / "other.db"
    keep = Journal(other)
    keep.set_meta("venue", "other")
    keep.close()
    journal = Journal(path)
    journal.set_meta("venue", "first")
    _checkpointed(CHECKPOINTS)  # the thread has its connection to the file
    journal.close()
    assert not Path(f"{path}-wal").exists(), "no connection left open: the last one to close removed the WAL"
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy(other, path)
    reopened = Journal(path)
    try:
        reopened.set_meta("next", "1")
        _checkpointed(CHECKPOINTS)
        assert reopened.get_meta("venue") == "other"
    finally:
        reopened.close()
    with sqlite3.connect(path) as db:
        assert dict(db.execute("SELECT name, value FROM meta")) == {"venue": "other", "next": "1"}


def test_the_thread_never_creates_a_file_and_ends_with_its_last_journal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cp = Checkpointer(every_s=0.01)
    missing = tmp_path / "gone.db"
    caplog.set_level(logging.WARNING, "trader.engine")
    key = cp.add(missing)
    assert wait_until(lambda: bool(caplog.records), 10, 0.005), "a failed checkpoint is logged"
    time.sleep(0.1)  # more rounds: logged once, nothing created
    assert not missing.exists()
    assert len([r for r in caplog.records if "checkpoint failed" in r.getMessage()]) == 1
    cp.remove(key)
    assert wait_until(lambda: cp._thread is None, 10, 0.005), "the thread ended with its last journal"
    assert cp.done == 0
