"""Inputs from outside the venue, run next to the engine (`Engine.run(services=[...])`): each service
reads its source and hands the strategy what it learned through `Engine.deliver`.

- `signal_file(path)`: an external probability signal as JSON lines ({"ts", "market", "prob"}), the file
  followed as it grows (the user's model appends to it); `EventDriven.on_signal`.
- `signal_http(url)`: the same signal from an HTTP endpoint the user runs, polled.
- `reward_scoring()`: asks the venue which of our resting orders earn liquidity rewards
  (Polymarket's order-scoring endpoint) and tells the strategy (`RewardCapture.on_scoring`).

A malformed line or answer is logged and skipped (the strategy ignores stale signals by itself); the
feed never stops the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from trader.errors import ParseError, TraderError
from trader.strategies.base import Intent
from trader.strategies.event_driven import Signal, parse_signal

log = logging.getLogger("trader.engine.services")

Service = Callable[[Any], Coroutine[Any, Any, None]]


class _Deliver(Protocol):
    def deliver(self, call: Callable[[Any], list[Intent]]) -> None: ...

    @property
    def clock(self) -> Any: ...


def _hand(engine: _Deliver, sig: Signal, market: str | None) -> None:
    if market is not None and sig.market != market:
        return
    now = engine.clock.now_ns()
    engine.deliver(lambda s: s.on_signal(sig.prob, sig.ts_ns, now))


def signal_file(path: Path, *, market: str | None = None, poll_s: float = 0.25) -> Service:
    """Follow a JSON-lines signal file: lines present at start, then each new complete line."""

    async def run(engine: _Deliver) -> None:
        offset, partial = 0, b""
        while True:
            try:
                with path.open("rb") as f:
                    f.seek(offset)
                    chunk = f.read()
            except OSError as e:
                log.warning("signal file %s: %s", path, e.strerror)
                chunk = b""
            offset += len(chunk)
            *lines, partial = (partial + chunk).split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                try:
                    _hand(engine, parse_signal(line), market)
                except ParseError as e:
                    log.warning("signal file %s: line skipped (%s)", path, e)
            await engine.clock.sleep(poll_s)

    return run


def signal_http(
    url: str, *, market: str | None = None, poll_s: float = 1.0, timeout_s: float = 5.0
) -> Service:
    """Poll an HTTP endpoint answering one signal object ({"ts", "market", "prob"})."""

    async def run(engine: _Deliver) -> None:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        connector = aiohttp.TCPConnector(force_close=True)  # no idle keep-alive socket between polls
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            while True:
                try:
                    async with session.get(url) as resp:
                        body = await resp.read()
                    if resp.status == 200:
                        _hand(engine, parse_signal(body), market)
                    else:
                        log.warning("signal feed %s: HTTP %d", url, resp.status)
                except (aiohttp.ClientError, TimeoutError) as e:
                    log.warning("signal feed %s: %s", url, type(e).__name__)
                except ParseError as e:
                    log.warning("signal feed %s: answer skipped (%s)", url, e)
                await engine.clock.sleep(poll_s)

    return run


class _ScoringVenue(Protocol):
    async def orders_scoring(self, client_ids: list[str]) -> dict[str, bool]: ...


def _on_scoring(answers: dict[str, bool]) -> Callable[[Any], list[Intent]]:
    return lambda strategy: strategy.on_scoring(answers)


def reward_scoring(*, poll_s: float = 5.0) -> Service:
    """Every `poll_s`: the venue's scoring answers for our live orders, to the strategy."""

    async def run(engine: Any) -> None:
        venue: _ScoringVenue = engine.connector
        while True:
            await engine.clock.sleep(poll_s)
            live = [o.client_id for o in engine.ledger.live() if o.venue_order_id]
            if not live:
                continue
            try:
                answers = await venue.orders_scoring(live)
            except TraderError as e:
                log.warning("order scoring: %s", e)
                continue
            engine.deliver(_on_scoring(answers))

    return run


class Scoped:
    """What a service sees of one strategy in an engine that runs several: its deliveries go to that
    strategy, its venue is that strategy's (`scoped`)."""

    def __init__(self, engine: Any, strategy: str, venue: str) -> None:
        self._engine = engine
        self._strategy = strategy
        self.clock = engine.clock
        self.ledger = engine.ledger
        self.connector = engine.venues[venue].connector

    def deliver(self, call: Callable[[Any], list[Intent]]) -> None:
        self._engine.deliver(call, self._strategy)


def scoped(service: Service, strategy: str, venue: str) -> Service:
    """`service` for one strategy (on `venue`) of a multi-strategy engine."""

    async def run(engine: Any) -> None:
        await service(Scoped(engine, strategy, venue))

    run.__name__ = f"{getattr(service, '__name__', 'service')}@{strategy}"
    return run
