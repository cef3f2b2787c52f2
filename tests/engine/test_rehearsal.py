"""The engine's rehearsal (issue 18): in the idle turns of a busy-polling loop the last order of each
strategy runs again through the order path without its effects, so that its code is warm for the next
tick. What a rehearsal must never do is the point here: send, record, take a client id, use a quota, or
move the risk gate. In real time against the loopback Binance simulator (REST and WebSocket API entry)."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import FrozenClock, gate_approval
from trader.cli import _run
from trader.clock import LiveClock
from trader.core import Approval, Side
from trader.engine import loops
from trader.engine.engine import Engine, EngineConfig
from trader.engine.journal import Journal
from trader.engine.ledger import parse_client_id
from trader.engine.paper import INSTRUMENT, demo_market_maker
from trader.sim.binance import BinanceSimServer
from trader.venues.base import Rehearses
from trader.venues.binance import wsapi
from trader.venues.registry import loopback_connector

ORDER = {"rest": "POST /api/v3/order", "ws": "WS order.place"}


async def _session(
    tmp_path: Path, entry: str, seconds: float, during: Any = None, connector: Any = None
) -> tuple[Engine, BinanceSimServer, int]:
    """A market-making session of `seconds`; `during(engine, server)` runs alongside (a service). Returns
    the engine, the simulator and how many intents the journal holds after it."""
    server = BinanceSimServer(seed=3, clock=LiveClock(), venue="sim", symbol=INSTRUMENT)
    await server.start(port=0)
    clock = LiveClock()
    tmp_path.mkdir(exist_ok=True)
    journal = Journal(tmp_path / "j.db")
    conn = connector or loopback_connector(server.url, symbol=INSTRUMENT, clock=clock, order_entry=entry)
    config = EngineConfig(symbol=INSTRUMENT)
    engine = Engine(conn, demo_market_maker(), journal=journal, clock=clock, config=config)
    services = [lambda e: during(e, server)] if during is not None else []
    try:
        await engine.run(seconds, services=services)
        intents = sum(1 for entry in journal.entries() if entry.kind == "Intent")
    finally:
        await conn.close()
        journal.close()
        await server.stop()
    return engine, server, intents


@pytest.mark.parametrize("entry", ["rest", "ws"])
def test_a_rehearsal_sends_records_and_takes_nothing(tmp_path: Path, entry: str) -> None:
    """Mid-session, a thousand rehearsals in a row (nothing else can run between them): no request
    reaches the venue, no journal row or ledger order appears, no client id is taken, the gate tracks
    no more orders and the venue's order quota is untouched; the next real order takes the very next id."""
    seen: dict[str, Any] = {}

    async def rehearse(engine: Engine, server: BinanceSimServer) -> None:
        while not engine.rehearsal.last:
            await engine.clock.sleep(0.02)
        assert engine.gate is not None
        conn: Any = engine.connector
        now = engine.clock.now_ns()
        gate = engine.gate

        def state() -> tuple[Any, ...]:
            return (
                server.requests[ORDER[entry]],
                len(engine.ledger.orders),
                len(engine.journal._pending),
                engine.journal.peek_client_number(),
                gate.open_order_count(),
                conn._limiter.usage(conn._orders_quota, now),
            )

        before = state()
        for _ in range(1000):
            engine.rehearsal.run()
        after = state()
        seen.update(before=before, after=after, count=engine.rehearsal.count)

    engine, server, intents = asyncio.run(_session(tmp_path, entry, 3.0, rehearse))
    assert "count" in seen, "the session sent an order to rehearse"
    assert seen["count"] == 1000, "every call rehearsed the one strategy's last order"
    assert engine.rehearsal.stopped == ""
    assert seen["before"] == seen["after"]
    # over the session: the venue got exactly the orders the engine made, each once, the journal holds
    # each intent, and their client numbers follow one another (no rehearsal took one)
    assert server.requests[ORDER[entry]] == engine.summary.orders == intents > 0
    numbers = sorted(parse_client_id(cid).n for cid in engine.ledger.orders)  # type: ignore[union-attr]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert seen["before"][3] in numbers, "the next real order took the id rehearsals left untouched"


def test_rehearsals_run_only_while_the_loop_busy_polls(tmp_path: Path) -> None:
    busy, _, _ = _run(_session(tmp_path / "busy", "rest", 1.5), busy_poll=True)
    assert busy.rehearsal.count > 10, "about one a millisecond once an order went out (fewer when loaded)"
    assert busy.report().rehearsals == busy.rehearsal.count, "the summary says how many"
    bare, _, _ = _run(_session(tmp_path / "bare", "rest", 1.0), busy_poll=True, rehearse=False)
    assert bare.rehearsal.count == 0, "--no-rehearsal: polling only"
    asleep, _, _ = _run(_session(tmp_path / "asleep", "rest", 1.0))
    assert asleep.rehearsal.count == 0, "a loop that sleeps has no idle turns to rehearse in"
    assert min(busy.summary.orders, bare.summary.orders, asleep.summary.orders) > 0


def test_a_failing_rehearsal_stops_and_the_orders_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        """The Binance connector whose rehearsal fails."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def rehearse(self, approval: Approval, client_id: str, instrument: str) -> int:
            raise RuntimeError("no rehearsal today")

    (tmp_path / "broken").mkdir()

    async def broken_session() -> tuple[Engine, BinanceSimServer, int]:
        server = BinanceSimServer(seed=3, clock=LiveClock(), venue="sim", symbol=INSTRUMENT)
        await server.start(port=0)
        clock = LiveClock()
        conn = Broken(loopback_connector(server.url, symbol=INSTRUMENT, clock=clock))
        assert isinstance(conn, Rehearses)
        journal = Journal(tmp_path / "broken" / "j.db")
        engine = Engine(
            conn, demo_market_maker(), journal=journal, clock=clock, config=EngineConfig(symbol=INSTRUMENT)
        )
        try:
            await engine.run(1.5)
        finally:
            await conn.inner.close()
            journal.close()
            await server.stop()
        return engine, server, 0

    with caplog.at_level(logging.WARNING, logger="trader.engine"):
        engine, server, _ = _run(broken_session(), busy_poll=True)
    assert engine.rehearsal.stopped == "RuntimeError: no rehearsal today"
    assert [r.message for r in caplog.records if "rehearsal stopped" in r.message] == [
        "order rehearsal stopped (the orders themselves are not affected): RuntimeError: no rehearsal today"
    ], "said once"
    assert engine.summary.orders > 1
    assert engine.summary.task_errors == 0
    assert server.requests["POST /api/v3/order"] == engine.summary.orders


def test_idle_work_runs_at_its_period_and_can_be_removed() -> None:
    idle = loops.Idle(every_ns=1_000)
    calls: list[int] = []
    remove = idle.add(lambda: calls.append(1))
    for now in (0, 500, 999, 1_000, 1_500, 2_000):
        idle.run(now)
    assert len(calls) == 3, "at 0, 1000 and 2000"
    remove()
    idle.run(10_000)
    assert len(calls) == 3
    assert loops.IDLE.get() is None, "outside a busy-polling run there is none"


@pytest.mark.parametrize("entry", ["rest", "ws"])
def test_the_connector_rehearses_the_very_request_it_then_sends(
    entry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Binance's rehearsal builds, byte for byte, the request that `submit` sends for the same order at
    the same instant, and sends nothing: the simulator sees the one real order."""
    built: list[bytes] = []

    def recording(encode: Any) -> Any:
        def wrapper(*a: Any) -> bytes:
            out: bytes = encode(*a)
            if b"/api/v3/order" in out.split(b"\r\n", 1)[0] or b'"order.place"' in out:
                built.append(out)
            return out

        return wrapper

    async def go() -> None:
        server = BinanceSimServer(seed=3, clock=LiveClock(), venue="sim", symbol=INSTRUMENT)
        await server.start(port=0)
        conn = loopback_connector(server.url, symbol=INSTRUMENT, clock=FrozenClock(), order_entry=entry)
        try:
            await conn.connect()
            monkeypatch.setattr(conn._http._conn, "encode", recording(conn._http._conn.encode))
            framing = recording(wsapi.frame)  # the connector's (rehearsal) and the WebSocket API's (sent)
            monkeypatch.setattr("trader.venues.binance.connector.frame", framing)
            monkeypatch.setattr(wsapi, "frame", framing)
            spec = conn.trading_spec()
            price = 4_000_000  # far below the simulated market: it rests
            a = gate_approval(spec, INSTRUMENT, Side.BUY, price, 50, bid=price, ask=price + 1, now_ns=1)
            size = conn.rehearse(a, "r-1", INSTRUMENT)
            assert server.requests[ORDER[entry]] == 0
            await conn.submit(a, "r-1", INSTRUMENT)
            assert server.requests[ORDER[entry]] == 1
        finally:
            await conn.close()
            await server.stop()
        rehearsed, sent = built
        if entry == "ws":  # the same but for the request id, which only a sent request takes
            rehearsed, sent = (re.sub(rb'^\{"id":\d+,', b"", f) for f in (rehearsed, sent))
        assert rehearsed == sent
        assert size == len(built[0])

    asyncio.run(go())


def test_each_venue_of_a_multi_venue_engine_is_rehearsed() -> None:
    """Three venues, a market maker on each: the last order on every venue is rehearsed (one strategy
    trading several venues keeps each leg warm), and no venue receives anything from it."""
    from tests.engine.test_multivenue import NAMES, Multi, _shared_clock

    async def go() -> None:
        m = Multi(Journal(":memory:"), venues=_shared_clock())
        await m.engine.start()
        await m.steps(60)
        assert set(m.engine.rehearsal.last) == {(f"mm-{n}", n) for n in NAMES}
        sent = {n: len(v.submissions) for n, v in m.venues.items()}
        rows = len(list(m.engine.journal.entries()))
        for _ in range(50):
            m.engine.rehearsal.run()
        assert m.engine.rehearsal.count == 150
        assert {n: len(v.submissions) for n, v in m.venues.items()} == sent
        assert len(list(m.engine.journal.entries())) == rows
        await m.engine.shutdown()

    asyncio.run(go())
