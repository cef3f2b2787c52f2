"""Monitoring for one engine session, attached through the engine's observer interface only: order
logs, Prometheus metrics (when a port is set), webhook alerts (when a webhook is configured) and the
report's samples (when the journal is a file). `monitored` runs a session with it attached."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from trader.engine.observer import EngineObserver
from trader.monitoring.logs import OrderLog, setup_logging
from trader.monitoring.settings import MonitoringSettings

if TYPE_CHECKING:
    from trader.engine.engine import Engine
    from trader.monitoring.alerts import Sender
    from trader.monitoring.metrics import Metrics
    from trader.monitoring.samples import SampleWriter

T = TypeVar("T")
log = logging.getLogger("trader.monitoring")


@dataclass
class Monitor:
    settings: MonitoringSettings = field(default_factory=MonitoringSettings)
    record_samples: bool = True  # into the journal file, for `trader report`
    webhook_url: str | None = field(default=None, repr=False)  # a secret (`[alerts] webhook`, resolved)
    metrics: Metrics | None = None
    sender: Sender | None = None
    samples: SampleWriter | None = None
    metrics_port: int | None = None  # the port actually bound
    _observers: list[EngineObserver] = field(default_factory=list)

    def attach(self, engine: Engine) -> None:
        s = self.settings
        self._add(engine, OrderLog())
        if s.metrics_port is not None:
            from trader.monitoring.metrics import Metrics

            self.metrics = Metrics(engine, sample_s=s.sample_s)
            self.metrics_port = self.metrics.serve(s.metrics_port, s.metrics_host)
            self._add(engine, self.metrics)
            log.warning("metrics on http://%s:%d/metrics", s.metrics_host, self.metrics_port)
        if self.webhook_url is not None:
            from trader.monitoring.alerts import AlertWatch, Sender

            self.sender = Sender(self.webhook_url, s.alerts)
            self._add(engine, AlertWatch(engine, self.sender))
        path = engine.journal.path
        if self.record_samples and path is not None:
            from trader.monitoring.samples import SampleWriter

            self.samples = SampleWriter(path, sample_s=s.sample_s, max_rows=s.max_samples)
            self._add(engine, self.samples)

    def _add(self, engine: Engine, o: EngineObserver) -> None:
        engine.ledger.observers.add(o)
        self._observers.append(o)

    async def close(self, engine: Engine) -> None:
        """Stop listening; a last sample; deliver queued alerts; stop serving metrics."""
        for o in self._observers:
            engine.ledger.observers.remove(o)
        self._observers.clear()
        if self.samples is not None:
            self.samples.close(engine)
            self.samples = None
        if self.sender is not None:
            await self.sender.close()
        if self.metrics is not None:
            self.metrics.close()


def monitor_for(
    settings: MonitoringSettings | None, *, metrics_port: int | None = None, log_json: bool = False
) -> Monitor:
    """The session's monitor: the config's settings with the command line's overrides; logging set up
    when the config has a [logging] section or `log_json`; the alert webhook resolved."""
    s = settings or MonitoringSettings()
    if metrics_port is not None:
        s = replace(s, metrics_port=metrics_port)
    if log_json or s.log_json or s.log_levels or s.log_level != "warning":
        setup_logging(json_lines=log_json or s.log_json, level=s.log_level, components=s.log_levels)
    return Monitor(s, webhook_url=webhook_url(s))


def webhook_url(s: MonitoringSettings) -> str | None:
    """The alert webhook's URL from its secret reference (`ConfigError` when it cannot be read), before
    the session starts."""
    if s.webhook is None:
        return None
    url = s.webhook.resolve()
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        from trader.errors import ConfigError

        raise ConfigError(f"[alerts] webhook {s.webhook!r} must hold an http(s) URL")
    return url


async def monitored(monitor: Monitor | None, engine: Engine, run: Awaitable[T]) -> T:
    """Run a session with `monitor` attached to `engine` (None: unmonitored)."""
    if monitor is None:
        return await run
    try:
        monitor.attach(engine)
    except BaseException:
        if inspect.iscoroutine(run):
            run.close()  # never started: nothing to clean up, and no "never awaited" warning
        await monitor.close(engine)
        raise
    try:
        return await run
    finally:
        await monitor.close(engine)
