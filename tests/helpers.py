"""What several test files need: an `Approval` from a fresh risk gate (connectors accept nothing else), a
made-up planned venue, and reading a running engine's journal from another process."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from trader.clock import LiveClock
from trader.core import Approval, InstrumentSpec, OrderType, RiskGate, Side, TimeInForce
from trader.venues._events import DIRECT
from trader.venues.base import BookUpdate

BIG = "1000000000"


def gate_approval(
    spec: InstrumentSpec,
    symbol: str,
    side: Side,
    price: int,
    qty: int,
    *,
    bid: int,
    ask: int,
    now_ns: int,
    order_type: OrderType = OrderType.LIMIT,
    tif: TimeInForce = TimeInForce.GTC,
    post_only: bool = False,
    expire_ns: int = 0,
    collar_bps: int = 5000,
) -> Approval:
    """The gate's approval of one order, with limits wide enough that only the order's own validity
    (units, tick, lot, the collar around `bid`/`ask`) can refuse it; a refusal fails the test."""
    gate = RiskGate(
        max_gross_notional=BIG,
        max_net_notional=BIG,
        max_open_orders=100,
        max_orders_per_sec=10_000,
        daily_loss_limit=BIG,
    )
    v = gate.add_venue("venue", max_gross_notional=BIG, max_open_orders=100)
    s = gate.add_strategy("test", max_orders_per_sec=10_000)
    i = gate.add_instrument(
        v,
        symbol,
        spec,
        max_order_qty=BIG,
        max_order_notional=BIG,
        max_position=BIG,
        max_open_orders=100,
        collar_bps=collar_bps,
    )
    gate.set_reference(i, bid, ask, now_ns)
    a = gate.check(
        s,
        i,
        side,
        price,
        qty,
        now_ns,
        order_type=order_type,
        tif=tif,
        post_only=post_only,
        expire_ns=expire_ns,
    )
    assert isinstance(a, Approval), a
    return a


def plan_a_venue(monkeypatch: pytest.MonkeyPatch, name: str = "future") -> None:
    """Every venue the mission names is built; a made-up planned one stands for "not built yet"."""
    from trader.venues import registry

    monkeypatch.setitem(
        registry.PLANNED, name, registry._planned(name, "HMAC-SHA256", registry.client_id_rule("binance"))
    )


def intents_per_venue(journal: Path) -> dict[str, int]:
    """Orders the engine decided to send, per venue (read from its journal while it runs)."""
    try:
        with sqlite3.connect(journal) as db:
            rows = db.execute(
                "SELECT json_extract(payload, '$.venue'), count(*) FROM events "
                "WHERE kind = 'Intent' GROUP BY 1"
            ).fetchall()
    except sqlite3.OperationalError:  # the engine created the file and not yet its tables
        return {}
    return {str(v): int(n) for v, n in rows}


def wait_until(cond: Callable[[], bool], seconds: float, poll_s: float = 0.05) -> bool:
    """Poll `cond` for up to `seconds` of wall time (a test watching another process)."""
    deadline = time.monotonic() + seconds  # noqa: TID251 - a test's own wall-clock deadline
    while time.monotonic() < deadline:  # noqa: TID251
        if cond():
            return True
        time.sleep(poll_s)
    return cond()


class FrozenClock(LiveClock):
    """Real time, except the wall clock, which stays where it was: two requests signed (two JWTs, two
    nonces taken) at the same instant are byte for byte the same, and local quotas are read at one
    instant. For the rehearsal tests: the rehearsed request against the one then sent."""

    def __init__(self) -> None:
        self.at = LiveClock().now_ns()

    def now_ns(self) -> int:
        return self.at


def record_requests(http: Any, monkeypatch: pytest.MonkeyPatch, line: bytes) -> list[bytes]:
    """The requests a connector's `HttpClient` (`http`) encodes from now on whose request line starts with
    `line` (as b"POST /v2/orders "), rehearsed or sent, as bytes: the rehearsal tests' witness."""
    built: list[bytes] = []
    encode = http._conn.encode

    def recording(*a: Any) -> bytes:
        out: bytes = encode(*a)
        if out.startswith(line):
            built.append(out)
        return out

    monkeypatch.setattr(http._conn, "encode", recording)
    return built


Seen = list[tuple[Any, bool]]
"""Events a stand-in pump got, each with whether it reached the handler in a read (outside any task)."""


def stand_in_pump(conn: Any, stack: AsyncExitStack) -> Seen:
    """A reader standing in for the engine's pump (`trader.engine.loops.pump`), as a task closed with
    `stack`: it names its handler through `_events.DIRECT` (a burst, handed over in the read that brought
    it while the reader waits) and waits on `conn.events()` (what came through the queue instead)."""
    seen: Seen = []

    def handler(burst: list[Any]) -> None:
        in_read = asyncio.current_task() is None
        seen.extend((ev, in_read) for ev in burst)

    async def pump() -> None:
        DIRECT.set(handler)
        async for ev in conn.events():
            seen.append((ev, False))

    task = asyncio.get_running_loop().create_task(pump())
    stack.callback(task.cancel)
    return seen


class Pumped:
    """What a stand-in pump got (`stand_in_pump`), with a wait over it and its two-sided book updates."""

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def until(self, done: Callable[[], bool], timeout: float = 5.0) -> None:
        clock = LiveClock()

        async def wait() -> None:
            while not done():
                await clock.sleep(0.005)

        await clock.wait_for(wait(), timeout)

    def books(self, since: int = 0) -> list[tuple[BookUpdate, bool]]:
        """Each two-sided book update after the first `since` events, with whether it came in a read."""
        return [
            (e, d) for e, d in self.seen[since:] if isinstance(e, BookUpdate) and None not in (e.bid, e.ask)
        ]


@asynccontextmanager
async def stand_in_engine(conn: Any) -> AsyncIterator[Pumped]:
    """`async with stand_in_engine(conn) as engine:` a stand-in pump on `conn` while the block runs."""
    async with AsyncExitStack() as stack:
        yield Pumped(stand_in_pump(conn, stack))


def calls_in_read(obj: Any, name: str) -> list[bool]:
    """Wrap `obj.name` (a method of this object): per call, whether it ran in a read callback (outside any
    task, `_ws._Link.data_received`) or in a task."""
    original = getattr(obj, name)
    calls: list[bool] = []

    def recorded(*args: Any) -> Any:
        calls.append(asyncio.current_task() is None)
        return original(*args)

    setattr(obj, name, recorded)
    return calls
