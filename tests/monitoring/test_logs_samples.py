"""Structured logs (JSON lines, levels per component from `[logging]`, no secrets) and the report's
samples in the journal (written from the timer, bounded)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from trader.config import parse_config
from trader.errors import ConfigError
from trader.monitoring.logs import ORDERS, setup_logging
from trader.monitoring.samples import SampleWriter, read_samples
from trader.monitoring.session import Monitor, monitor_for, monitored
from trader.monitoring.settings import MonitoringSettings
from trader.sim.session import PaperConfig, PaperSession


@pytest.fixture
def restore_logging() -> Iterator[None]:
    names = ("", ORDERS, "trader.engine")
    levels = {n: logging.getLogger(n).level for n in names}
    handlers = list(logging.getLogger().handlers)
    yield
    root = logging.getLogger()
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    for n, lvl in levels.items():
        logging.getLogger(n).setLevel(lvl)


def test_levels_per_component_from_the_config(restore_logging: None) -> None:
    cfg = parse_config(
        '[logging]\nlevel = "error"\njson = true\n[logging.levels]\n"trader.engine" = "info"\n'
    )
    assert cfg.monitoring is not None
    monitor_for(cfg.monitoring)
    assert logging.getLogger().level == logging.ERROR
    assert logging.getLogger("trader.engine").level == logging.INFO
    assert logging.getLogger(ORDERS).level == logging.INFO  # JSON lines: order events on by default
    for bad in (
        '[logging]\nlevel = "loud"\n',
        '[logging.levels]\n"trader.engine" = 3\n',
        "[logging]\ncolor = true\n",
    ):
        with pytest.raises(ConfigError, match="logging"):
            parse_config(bad)


def test_json_lines_carry_extras_and_never_a_secret(restore_logging: None) -> None:
    out = io.StringIO()
    setup_logging(json_lines=True, level="info", stream=out)
    log = logging.getLogger("trader.test")
    log.info(
        "order %s", "x1", extra={"venue": "okx", "client_id": "x1", "api_secret": "s3cr3t", "token": "t0k"}
    )
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    first, second = (json.loads(x) for x in out.getvalue().splitlines())
    assert first["msg"] == "order x1"
    assert first["venue"] == "okx"
    assert first["client_id"] == "x1"
    assert first["level"] == "info"
    assert first["logger"] == "trader.test"
    assert first["ts"].endswith("+00:00")
    assert "s3cr3t" not in out.getvalue()
    assert "t0k" not in out.getvalue()
    assert "ValueError: boom" in second["exc"]


def test_samples_are_written_from_the_timer_and_bounded(tmp_path: Path) -> None:
    session = PaperSession(PaperConfig(duration_s=20, journal=tmp_path / "j.db"))
    monitor = Monitor(MonitoringSettings(sample_s=0.25, max_samples=16))
    summary = asyncio.run(monitored(monitor, session.engine, session.run_async()))
    db = sqlite3.connect(tmp_path / "j.db")
    try:
        meta, rows = read_samples(db)
    finally:
        db.close()
    assert meta["venues"] == ["sim"]
    assert meta["instruments"]["sim:BTCUSDT"]["price_unit"] == "0.01"
    assert 8 <= len(rows) <= 16  # thinned at the cap, the interval doubled each time
    times = [t for t, _ in rows]
    assert times == sorted(times)
    assert times[-1] - times[0] >= 18 * 10**9
    last = rows[-1][1]  # written at close: the state at the end
    assert last["venues"]["sim"]["counts"]["orders"] == summary.orders
    assert last["total"]["total"] == pytest.approx(float(summary.pnl), abs=1e-9)
    assert sum(len(r["latency_us"]) for _, r in rows) > 0


def test_no_samples_for_a_journal_in_memory() -> None:
    session = PaperSession(PaperConfig(duration_s=1))
    monitor = Monitor()
    monitor.attach(session.engine)
    assert monitor.samples is None
    asyncio.run(monitor.close(session.engine))
    with pytest.raises(sqlite3.Error):
        SampleWriter(Path("/nonexistent-dir/j.db"))
