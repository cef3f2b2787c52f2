"""Polymarket's dead-man switch: `POST /v1/heartbeats` chains (each answer names the next id). The
venue cancels every order of the API key when no heartbeat arrives within its timeout; the connector
sends one before the first order and every `interval_s` while orders rest or are unresolved, and refuses
new orders (fail closed) while heartbeats fail."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from trader.clock import Clock
from trader.errors import VenueError
from trader.venues.polymarket.errors import HeartbeatFailedError

log = logging.getLogger("trader.venues.polymarket")


class Heartbeat:
    """The heartbeat chain of one API key. `send(heartbeat_id)` posts one and returns the venue's answer."""

    def __init__(
        self,
        venue: str,
        clock: Clock,
        send: Callable[[str], Awaitable[Any]],
        *,
        interval_s: float,
        timeout_s: float,
    ) -> None:
        if interval_s <= 0 or interval_s >= timeout_s:
            raise ValueError("heartbeat_interval_s must be > 0 and below heartbeat_timeout_s")
        self.venue = venue
        self.clock = clock
        self._send = send
        self.interval_s = interval_s
        self._timeout_ns = int(timeout_s * 1e9)
        self._id = ""
        self._last_ok_ns: int | None = None
        self.failed = False
        self._lock = asyncio.Lock()

    async def beat(self) -> None:
        async with self._lock:
            now = self.clock.monotonic_ns()
            if self._last_ok_ns is None or now - self._last_ok_ns >= self._timeout_ns:
                self._id = ""  # the venue's timer ran out (or never ran): start a new chain
            try:
                body = await self._send(self._id)
            except VenueError as e:
                if not self.failed:
                    log.error("%s: heartbeat failed (%s); new orders refused", self.venue, e)
                self.failed = True
                raise HeartbeatFailedError(f"heartbeat failed: {e}", venue=self.venue) from None
            if self.failed:
                log.warning("%s: heartbeat restored", self.venue)
            self._id = str((body or {}).get("heartbeat_id") or self._id)
            self._last_ok_ns = self.clock.monotonic_ns()
            self.failed = False

    def refuse_if_failing(self) -> None:
        """Fail closed: no new order while heartbeats fail."""
        if self.failed:
            raise HeartbeatFailedError("heartbeats are failing: new orders refused", venue=self.venue)

    async def arm(self) -> None:
        """Before an order leaves: arm (or refresh) the dead-man switch unless it is fresh."""
        self.refuse_if_failing()
        last = self._last_ok_ns
        if last is None or self.clock.monotonic_ns() - last >= int(self.interval_s * 1e9):
            await self.beat()

    async def loop(self, needed: Callable[[], bool]) -> None:
        """Beat every `interval_s` (every second at most while failing) whenever `needed()` says so."""
        while True:
            await self.clock.sleep(min(self.interval_s, 1.0) if self.failed else self.interval_s)
            if self.failed or needed():
                with contextlib.suppress(HeartbeatFailedError):
                    await self.beat()
