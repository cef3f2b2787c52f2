"""What the journal guarantees once intents leave the hot path (issue 18): every order we sent is found and
no client id is sent twice, after a SIGKILL between an order's bytes leaving and its intent being written,
and after a power loss that takes the journal back to its last fsync while the venue kept the orders."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.engine.rig import Rig, run
from trader.engine.engine import EngineConfig
from trader.engine.journal import Journal
from trader.engine.ledger import parse_client_id


class _Killed(BaseException):
    """The process dies here (nothing after it runs, nothing in memory survives)."""


class FsyncImages(Journal):
    """A journal that keeps a copy of its file as of each fsynced write (a block of client ids, meta): what
    a power loss leaves, since intents and order events are written without an fsync."""

    def __init__(self, path: Path, image: Path) -> None:
        self.image = image
        super().__init__(path)

    def _snapshot(self) -> None:
        with contextlib.closing(sqlite3.connect(self.image)) as dst:  # closed: the image is one file
            self._db.backup(dst)

    def _reserve(self, counter: str, n: int) -> int:
        value = super()._reserve(counter, n)
        self._snapshot()
        return value

    def set_meta(self, name: str, value: str) -> None:
        super().set_meta(name, value)
        self._snapshot()


def _numbers(ids: list[str]) -> list[int]:
    out = []
    for cid in ids:
        parsed = parse_client_id(cid)
        assert parsed is not None, cid
        out.append(parsed.n)
    return out


async def _agree(rig: Rig) -> None:
    """The restarted engine knows every order the venue has, and the position adds up."""
    venue_ids = set(rig.venue._orders)
    assert venue_ids <= set(rig.engine.ledger.orders), venue_ids - set(rig.engine.ledger.orders)
    for cid in venue_ids:
        at_venue = await rig.venue.query(cid)
        assert at_venue is not None
        assert rig.engine.ledger.orders[cid].filled == at_venue.filled, cid
    assert rig.engine._position.qty == (await rig.venue.positions()).get("BTCUSDT", 0)
    assert len(set(rig.venue.submissions)) == len(rig.venue.submissions), "a client id was sent twice"


def test_power_loss_takes_the_journal_back_to_its_last_fsync_and_the_restart_adopts_the_rest(
    tmp_path: Path,
) -> None:
    path, image = tmp_path / "j.db", tmp_path / "image.db"

    async def go() -> None:
        first = Rig(FsyncImages(path, image))
        await first.engine.start()
        await first.steps(400)  # more than a block of ids: the block ahead is used and another reserved
        sent = list(first.venue.submissions)
        assert max(_numbers(sent)) > 64, "the session went past its first block of client ids"
        durable = Journal(image).replay()
        lost = [cid for cid in sent if cid not in durable]
        assert lost, "orders sent after the last fsync"
        # the power fails: the file is what was fsynced; the venue kept everything. The process dies with
        # its checkpoint thread: both connections go (the thread's first, as `Journal.close` does), no flush
        assert first.engine.journal._checkpoints is not None
        first.engine.journal._checkpoints()
        first.engine.journal._db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copy(image, path)
        second = Rig(Journal(path), venue=first.venue)
        await second.engine.start()
        await _agree(second)
        assert all(cid in Journal(path).replay() for cid in lost), "adopted orders are journaled"
        assert not [o for o in second.engine.ledger.live() if o.client_id in lost], "and canceled"
        await second.steps(30)
        new = second.venue.submissions[len(sent) :]
        assert new, "the restarted engine trades"
        assert min(_numbers(new)) > max(_numbers(sent)), "numbers never go back"
        assert len(set(second.venue.submissions)) == len(second.venue.submissions)
        await second.engine.shutdown()

    run(go)


@pytest.mark.parametrize("orders_before", [1, 7])
def test_sigkill_after_the_wire_before_the_intent_is_written(tmp_path: Path, orders_before: int) -> None:
    path = tmp_path / "j.db"

    async def go() -> None:
        journal = Journal(path)
        first = Rig(journal, config=EngineConfig(eager_send=True))
        await first.engine.start()
        flush = journal.flush
        died: list[bool] = []

        def dying() -> None:  # the process dies once orders are on the wire and before their intents
            if died or (journal.pending and len(first.venue.submissions) >= orders_before):
                died.append(True)  # and nothing is written after
                raise _Killed
            flush()

        journal.flush = dying  # type: ignore[method-assign]
        with pytest.raises(_Killed):
            await first.steps(200)
        sent = list(first.venue.submissions)
        on_disk = Journal(path).replay()
        unwritten = [cid for cid in sent if cid not in on_disk]
        assert unwritten, "the venue has orders whose intents never reached the file"
        second = Rig(Journal(path), venue=first.venue)  # the restart, on what the file holds
        await second.engine.start()
        await _agree(second)
        await second.steps(20)
        new = second.venue.submissions[len(sent) :]
        assert new
        assert min(_numbers(new)) > max(_numbers(sent))
        await second.engine.shutdown()

    run(go)
