"""The engine's rehearsal: under `--busy-poll`, the last order of each strategy on each venue is run again
through the order path, without its effects, about every millisecond, so that the next real order finds its
code warm.

Why: an order path that runs once in a while runs cold. On the 2-core VM of `make bench` the same code
costs ~15 µs back to back and ~200 µs when it runs once per 100 ms (`benches/test_bench_engine.py` measures
both); caches, branch predictors and the interpreter's data are taken by whatever ran in between.
Busy-polling keeps the core awake; the rehearsal keeps the order path's own code and data in it.

What is rehearsed, for each strategy's last order on each venue: the equity venues' pre-trade check
(pure), the risk gate's check (`RiskGate.rehearse`: every limit, nothing admitted, no throttle consumed),
the ledger's order building and intent encoding (`OrderLedger.rehearse`: no client id taken, nothing
journaled), the connector's request up to the socket (`Rehearses.rehearse`: parameters, signature, request
bytes; nothing sent, no quota used), and the eager start of a send (`eager.start` of a task that ends at
once). Nothing else is touched: the strategy is not called (its state is its own), no event is recorded,
no counter moves but `count`.

A rehearsal that raises stops rehearsing for the session (logged once): the real path is unaffected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from trader.core import Approval
from trader.engine import eager
from trader.engine.loops import IDLE
from trader.strategies.base import Place

if TYPE_CHECKING:
    from trader.engine.engine import Engine
    from trader.engine.venue import Instrument, StrategyState

log = logging.getLogger("trader.engine")


class Last(NamedTuple):
    """A strategy's last order sent: what its rehearsal repeats."""

    st: StrategyState
    inst: Instrument
    place: Place
    approval: Approval
    client_id: str


class Rehearsal:
    """The rehearsal of one engine; `arm` registers it with a busy-polling loop (`trader.engine.loops`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.last: dict[tuple[str, str], Last] = {}  # by strategy and venue (each leg of an arbitrage)
        self.count = 0  # orders rehearsed
        self.stopped = ""  # why rehearsing stopped (an error), "" while it goes on

    def note(self, st: StrategyState, inst: Instrument, place: Place, approval: Approval, cid: str) -> None:
        """An order went out: the next rehearsals repeat it (the last one of this strategy on this venue)."""
        self.last[st.name, inst.venue] = Last(st, inst, place, approval, cid)

    def arm(self) -> Callable[[], None]:
        """Rehearse in the idle turns of the running loop when it busy-polls; returns what disarms it."""
        idle = IDLE.get()
        return idle.add(self.run) if idle is not None else lambda: None

    def run(self) -> None:
        """Rehearse each strategy's last order once."""
        e = self.engine
        if not self.last or self.stopped or e.gate is None or e._closing:
            return
        now = e.clock.now_ns()
        try:
            for st, inst, p, approval, cid in self.last.values():
                v = e.venues[inst.venue]
                if v.pre_trade is not None:
                    e._pre_trade(v, inst, p, now)
                e.gate.rehearse(
                    st.gate_id, inst.gate_id, p.side, p.price, p.qty, now,
                    tif=p.tif, reduce_only=p.reduce_only, post_only=p.post_only,
                )  # fmt: skip
                e.ledger.rehearse(st.name, v.name, inst.symbol, p.side, approval.price, approval.qty)
                if v.rehearse is not None:
                    v.rehearse(approval, cid, inst.symbol)
                self.count += 1
            if e.eager:
                eager.start(_nothing())  # the machinery of a send's eager start (a task that ends at once)
        except Exception as err:  # the rehearsal is an optimization: it stops, the session goes on
            self.stopped = f"{type(err).__name__}: {err}"
            log.warning("order rehearsal stopped (the orders themselves are not affected): %s", self.stopped)


async def _nothing() -> None:
    return None
