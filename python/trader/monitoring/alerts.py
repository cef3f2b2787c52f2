"""Alerts that must wake a person, sent by the engine itself to a webhook.

What alerts: a kill switch latched (everything or a venue), a venue down or a feed stale beyond its
threshold, a venue that refused reconciliation (it does not trade), a storm of rejects or of unknown
outcomes, a daily-loss latch, a ban (418). Each is detected from the engine's observer calls and its
timer (`AlertWatch`), rate-limited per subject (`Throttle`: the first one goes out, the next ones within
`min_interval_s` are counted and sent as one alert with the count), and queued to a sender task
(`Sender`) that POSTs it with retries. Nothing here blocks the engine: a full queue drops (and counts)
rather than waits. The webhook URL is a secret reference (Slack and Telegram URLs carry a token): it is
resolved once, used for the POST and never logged; a payload carries the alert's text only.

Payloads: `json` (a generic object: source, kind, severity, title, text, venue, count, ts), `slack`
(`{"text": ...}`, an incoming webhook) or `telegram` (`{"chat_id", "text"}` for the Bot API's
sendMessage).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from trader.clock import Clock, LiveClock
from trader.engine import oms
from trader.engine.observer import EngineObserver
from trader.errors import BannedError, ConfigError

if TYPE_CHECKING:
    from trader.engine.engine import Engine
    from trader.engine.venue import VenueState
    from trader.errors import VenueError

log = logging.getLogger("trader.alerts")
_S = 1_000_000_000
FORMATS = ("json", "slack", "telegram")


@dataclass(frozen=True)
class AlertSettings:
    """`[alerts]` (see `trader.monitoring.settings`)."""

    format: str = "json"
    telegram_chat_id: str = ""
    min_interval_s: float = 300.0  # per subject: one alert, then one with the count of what followed
    retries: int = 3  # delivery attempts
    timeout_s: float = 5.0  # per attempt
    retry_backoff_s: float = 1.0  # doubled after each failed attempt
    venue_down_s: float = 10.0  # a venue down (or a feed stale) this long alerts
    storm_window_s: float = 60.0
    reject_storm: int = 5  # rejects at one venue within the window
    unknown_storm: int = 3  # unknown outcomes at one venue within the window
    queue_size: int = 100

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"[alerts] format must be one of {', '.join(FORMATS)}, not {self.format!r}")
        if self.format == "telegram" and not self.telegram_chat_id:
            raise ConfigError("[alerts] format = 'telegram' needs telegram_chat_id")


@dataclass(frozen=True)
class Alert:
    key: str  # its subject, for rate limiting: "kill:binance", "reject_storm:okx"
    kind: str  # kill, venue_down, feed_stale, reconciliation, reject_storm, unknown_storm, daily_loss, ban
    severity: str  # critical or warning
    title: str
    text: str
    venue: str  # "" when global
    ts_ns: int
    count: int = 1  # occurrences it stands for


def payload(alert: Alert, settings: AlertSettings) -> dict[str, Any]:
    when = datetime.fromtimestamp(alert.ts_ns / _S, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    line = f"[trader {alert.severity.upper()}] {alert.title}"
    if alert.count > 1:
        line += f" (x{alert.count})"
    text = f"{line}\n{alert.text}\n{when}"
    if settings.format == "slack":
        return {"text": text}
    if settings.format == "telegram":
        return {"chat_id": settings.telegram_chat_id, "text": text, "disable_web_page_preview": True}
    return {
        "source": "trader",
        "kind": alert.kind,
        "severity": alert.severity,
        "title": alert.title,
        "text": alert.text,
        "venue": alert.venue,
        "count": alert.count,
        "ts": when,
    }


class Throttle:
    """Per subject: the first alert passes; the next ones within `interval_ns` are counted, and when the
    interval is over, one alert stands for them (`flush`)."""

    def __init__(self, interval_ns: int) -> None:
        self.interval_ns = interval_ns
        self._last: dict[str, int] = {}  # key -> when one was last sent
        self._held: dict[str, Alert] = {}  # key -> the latest held back, its count the number held

    def offer(self, alert: Alert) -> Alert | None:
        last = self._last.get(alert.key)
        if last is None or (alert.ts_ns - last >= self.interval_ns and alert.key not in self._held):
            self._last[alert.key] = alert.ts_ns
            return alert
        held = self._held.get(alert.key)
        count = alert.count + (held.count if held is not None else 0)
        self._held[alert.key] = replace(alert, count=count)
        return None

    def flush(self, now_ns: int) -> list[Alert]:
        out = []
        for key, held in list(self._held.items()):
            if now_ns - self._last[key] >= self.interval_ns:
                del self._held[key]
                self._last[key] = now_ns
                out.append(
                    replace(held, ts_ns=now_ns, text=f"{held.text} ({held.count} since the last alert)")
                )
        return out


class Sender:
    """POSTs alerts from a queue, in a task of its own, with retries; `submit` never waits."""

    def __init__(self, url: str, settings: AlertSettings, clock: Clock | None = None) -> None:
        self._url = url  # a secret: never logged, never in a repr
        self.settings = settings
        self.clock = clock or LiveClock()  # delivery waits in real time, also in a simulated session
        self._queue: asyncio.Queue[Alert] | None = None
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    def __repr__(self) -> str:
        return f"Sender(format={self.settings.format}, sent={self.sent}, failed={self.failed})"

    def submit(self, alert: Alert) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.dropped += 1
            log.error("alert not sent (no event loop): %s", alert.title)
            return
        if self._queue is None:
            self._queue = asyncio.Queue(self.settings.queue_size)
            self._task = loop.create_task(self._run())
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("alert queue full: dropped %s", alert.title)

    async def _run(self) -> None:
        import aiohttp

        assert self._queue is not None
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                alert = await self._queue.get()
                try:
                    await self._deliver(session, alert)
                finally:
                    self._queue.task_done()

    async def _deliver(self, session: Any, alert: Alert) -> None:
        body = payload(alert, self.settings)
        backoff = self.settings.retry_backoff_s
        for attempt in range(1, self.settings.retries + 1):
            try:
                async with session.post(self._url, json=body) as resp:
                    if resp.status < 300:
                        self.sent += 1
                        return
                    why = f"HTTP {resp.status}"
            except Exception as e:  # the URL is a secret: the error's class only, never its text
                why = type(e).__name__
            log.warning("alert delivery failed (%s), attempt %d of %d", why, attempt, self.settings.retries)
            if attempt < self.settings.retries:
                await self.clock.sleep(backoff)
                backoff *= 2
        self.failed += 1
        log.error("alert not delivered after %d attempts: %s", self.settings.retries, alert.title)

    async def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is queued (for at most `timeout_s`), then stop."""
        if self._queue is not None and self._task is not None:
            with contextlib.suppress(TimeoutError):
                await self.clock.wait_for(self._queue.join(), timeout_s)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._queue = self._task = None


class AlertWatch(EngineObserver):
    """Detects what must wake a person and hands it, rate-limited, to the sender."""

    def __init__(self, engine: Engine, sender: Sender) -> None:
        self.engine = engine
        self.sender = sender
        s = self.settings = sender.settings
        self.throttle = Throttle(int(s.min_interval_s * _S))
        self._window_ns = int(s.storm_window_s * _S)
        self._rejects: dict[str, deque[int]] = {}
        self._unknown: dict[str, deque[int]] = {}
        self._episodes: set[str] = set()  # conditions alerted and still holding (down, stale, latched)

    def alert(
        self, kind: str, venue: str, title: str, text: str, *, critical: bool = True, count: int = 1
    ) -> None:
        a = Alert(
            f"{kind}:{venue}", kind, "critical" if critical else "warning", title, text, venue,
            self.engine.clock.now_ns(), count,
        )  # fmt: skip
        passed = self.throttle.offer(a)
        if passed is not None:
            self.sender.submit(passed)

    # ---- events -----------------------------------------------------------------------------------

    def on_order(self, order: oms.Order, event: oms.OrderEvent | None, ts_ns: int) -> None:
        if isinstance(event, oms.Rejected):
            self._storm(
                self._rejects, "reject_storm", order.venue, ts_ns, self.settings.reject_storm, "rejects"
            )
        elif isinstance(event, oms.OutcomeUnknown):
            self._storm(
                self._unknown, "unknown_storm", order.venue, ts_ns, self.settings.unknown_storm,
                "orders of unknown outcome",
            )  # fmt: skip

    def _storm(self, seen: dict[str, deque[int]], kind: str, venue: str, now: int, n: int, what: str) -> None:
        window = seen.setdefault(venue, deque())
        window.append(now)
        while window and now - window[0] > self._window_ns:
            window.popleft()
        if len(window) >= n:
            title = f"{venue}: {len(window)} {what} within {self.settings.storm_window_s:g}s"
            self.alert(kind, venue, title, f"{what} storm at {venue}", count=len(window))
            window.clear()

    def on_venue_error(self, venue: str, error: VenueError) -> None:
        if isinstance(error, BannedError):
            self.alert(
                "ban", venue, f"{venue} banned us (418): venue HALTED", f"{venue}: {type(error).__name__}"
            )

    def on_kill(self, reason: str, venue: str | None) -> None:
        where = venue or "all"
        self.alert("kill", where, f"kill switch latched ({where})", reason)

    # ---- the timer ------------------------------------------------------------------------------

    def _episode(
        self, kind: str, venue: str, holds: bool, title: str, text: str, critical: bool = True
    ) -> None:
        """Alert once when a condition starts holding; again only after it cleared."""
        key = f"{kind}:{venue}"
        if not holds:
            self._episodes.discard(key)
        elif key not in self._episodes:
            self._episodes.add(key)
            self.alert(kind, venue, title, text, critical=critical)

    def on_timer(self, engine: Engine, now_ns: int) -> None:
        for v in engine.venues.values():
            self._venue(engine, v, now_ns)
        gate = engine.gate
        if gate is not None:
            state = str(gate.trading_state()).rsplit(".", 1)[-1]
            latched = state != "ACTIVE" and not gate.is_killed()
            self._episode("daily_loss", "all", latched, f"daily-loss latch: trading {state}", "all venues")
        for a in self.throttle.flush(now_ns):
            self.sender.submit(a)

    def _venue(self, engine: Engine, v: VenueState, now: int) -> None:
        name = v.name
        self._episode(
            "reconciliation", name, bool(v.failed), f"{name} refused: it does not trade", str(v.failed)
        )
        since = v.health.down_since()
        down = since is not None and now - since > self.settings.venue_down_s * _S
        streams = ", ".join(sorted(str(s) for s in v.health.down))
        self._episode("venue_down", name, down, f"{name} down", f"stream(s) down: {streams}")
        feeds: dict[str, Any] = getattr(v.feeds, "_feeds", {})
        for symbol, feed in feeds.items():
            stale = bool(feed.stale) and now - feed.last_ns > self.settings.venue_down_s * _S
            self._episode(
                "feed_stale", f"{name}:{symbol}", stale, f"{name} {symbol}: feed stale",
                "no book update: quotes pulled", critical=False,
            )  # fmt: skip
        gate = engine.gate
        if gate is None or v.gate_id < 0 or v.failed:
            return
        state = str(gate.trading_state(venue=v.gate_id)).rsplit(".", 1)[-1]
        latched = state != "ACTIVE" and not gate.is_killed(venue=v.gate_id) and not engine._blocked(v)
        self._episode("daily_loss", name, latched, f"{name}: daily-loss latch: trading {state}", name)
