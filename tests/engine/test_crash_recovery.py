"""Crash recovery: a `trader paper` process is killed with SIGKILL mid-session while a `trader sim` venue
keeps running; restarted on the same journal it reconciles, sends no order twice, and afterwards the
journal and the venue agree on every order."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from trader.engine.journal import Journal

TRADER = [sys.executable, "-m", "trader"]


@pytest.fixture
def venue() -> Iterator[str]:
    proc = subprocess.Popen(
        [*TRADER, "sim", "sim", "--port", "0", "--seed", "3"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, line
        yield line.split("listening on ")[1].split()[0]
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0, "trader sim stops cleanly on Ctrl-C"
        if proc.stdout is not None:
            proc.stdout.close()


def venue_state(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/sim/state", timeout=10) as r:  # noqa: S310 - loopback test server
        state: dict[str, Any] = json.loads(r.read())["sim-demo-key"]
        return state


def intents(journal: Path) -> int:
    with sqlite3.connect(journal) as db:
        try:
            return int(db.execute("SELECT count(*) FROM events WHERE kind = 'Intent'").fetchone()[0])
        except sqlite3.OperationalError:  # the engine created the file and not yet its tables
            return 0


def test_sigkill_mid_session_then_restart(venue: str, tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    args = [*TRADER, "paper", "--venue-url", venue, "--journal", str(journal), "--json"]
    first = subprocess.Popen([*args, "--duration", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30  # noqa: TID251 - a test's own wall-clock deadline
    while time.monotonic() < deadline:  # noqa: TID251
        if journal.exists() and intents(journal) >= 8:
            break
        time.sleep(0.1)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    if first.stderr is not None:
        first.stderr.close()
    assert intents(journal) >= 8, "the first session traded before it was killed"
    left_open = [o for o in venue_state(venue)["orders"] if o["status"] in ("NEW", "PARTIALLY_FILLED")]

    second = subprocess.run([*args, "--duration", "2"], capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary["open_orders_after_shutdown"] == 0
    if left_open:
        assert summary["reconciled_at_start"] >= len(left_open)

    state = venue_state(venue)
    assert state["submissions"], "the venue saw our orders"
    assert all(n == 1 for n in state["submissions"].values()), "no client order id was sent twice"
    assert all(o["status"] not in ("NEW", "PARTIALLY_FILLED") for o in state["orders"])
    orders = Journal(journal).replay()
    for o in state["orders"]:
        mine = orders[o["clientOrderId"]]
        assert not mine.is_live, (mine.client_id, mine.status)
        assert Decimal(mine.filled) * Decimal("0.001") == Decimal(o["executedQty"]), mine.client_id
    # the journal knows every order the venue saw, and nothing it sent is unaccounted for
    assert {o["clientOrderId"] for o in state["orders"]} <= set(orders)


def test_trader_kill_halts_a_running_engine_and_cancels_at_the_venue(venue: str, tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    args = [*TRADER, "paper", "--venue-url", venue, "--journal", str(journal), "--json", "--duration", "60"]
    engine = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30  # noqa: TID251 - a test's own wall-clock deadline
    while time.monotonic() < deadline and not (journal.exists() and intents(journal) >= 4):  # noqa: TID251
        time.sleep(0.1)
    kill = subprocess.run(
        [*TRADER, "kill", "--journal", str(journal), "--venue-url", venue],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert kill.returncode == 0, kill.stderr
    assert "latched" in kill.stdout
    time.sleep(1.0)  # a few engine timer ticks
    sent = intents(journal)
    time.sleep(1.0)
    assert intents(journal) == sent, "nothing new is sent after the kill"
    assert all(o["status"] not in ("NEW", "PARTIALLY_FILLED") for o in venue_state(venue)["orders"])
    engine.send_signal(signal.SIGINT)
    out, err = engine.communicate(timeout=30)
    assert engine.returncode == 0, err
    summary = json.loads(out)
    assert summary["killed"] is True
    assert summary["denials"], "the strategy kept asking; the gate refused"
