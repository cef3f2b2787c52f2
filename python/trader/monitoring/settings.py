"""The config of monitoring: `[monitoring]`, `[alerts]` and `[logging]` (every key optional).

[monitoring]
metrics_port = 9108            # serve Prometheus metrics (absent: none; --metrics-port overrides)
metrics_host = "127.0.0.1"     # the default; "0.0.0.0" exposes them to the network
sample_s = 1.0                 # gauges and the report's samples, every this many seconds
max_samples = 20000            # the report's samples in the journal at most (then thinned)

[alerts]
webhook = "env:TRADER_ALERT_WEBHOOK"   # a secret reference (a Slack/Telegram URL carries a token)
format = "json"                # json | slack | telegram
telegram_chat_id = "-100123"   # with format = "telegram"
min_interval_s = 300           # per subject: one alert, then one with the count of what followed
venue_down_s = 10              # a venue down or a feed stale this long alerts
reject_storm = 5               # rejects at one venue within storm_window_s
unknown_storm = 3              # unknown outcomes at one venue within storm_window_s
storm_window_s = 60
retries = 3

[logging]
json = false                   # JSON lines (--log-json)
level = "warning"              # the default level
[logging.levels]               # per component (logger name)
"trader.orders" = "info"       # one event per order state change
"trader.engine" = "info"
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from trader.errors import ConfigError
from trader.monitoring.alerts import AlertSettings
from trader.monitoring.logs import level_of

MONITORING_SECTIONS = frozenset({"monitoring", "alerts", "logging"})


@dataclass(frozen=True)
class MonitoringSettings:
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    sample_s: float = 1.0
    max_samples: int = 20_000
    webhook: Any = None  # a `trader.config.SecretRef` (resolved when the session starts)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    log_json: bool = False
    log_level: str = "warning"
    log_levels: dict[str, str] = field(default_factory=dict)


def _table(raw: dict[str, Any], key: str) -> dict[str, Any]:
    t = raw.get(key, {})
    if not isinstance(t, dict):
        raise ConfigError(f"[{key}] must be a table")
    return t


def _number(where: str, v: object, kind: type, *, low: float = 0, strict: bool = True) -> Any:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and (kind is float or isinstance(v, int))
    if not ok or (v <= low if strict else v < low):  # type: ignore[operator]
        raise ConfigError(f"{where} must be a {'number' if kind is float else 'whole number'} above {low:g}")
    return kind(v)


def port(where: str, v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 65535:
        raise ConfigError(f"{where} must be a TCP port (0 to 65535; 0: any free port)")
    return v


def _alerts(t: dict[str, Any]) -> tuple[Any, AlertSettings]:
    from trader.config import SecretRef

    known = {f.name: f.type for f in fields(AlertSettings)} | {"webhook": "str"}
    unknown = set(t) - set(known)
    if unknown:
        raise ConfigError(f"[alerts] unknown keys: {', '.join(sorted(unknown))}")
    webhook = SecretRef.parse("[alerts] webhook", t["webhook"]) if "webhook" in t else None
    opts: dict[str, Any] = {}
    for k, v in t.items():
        if k == "webhook":
            continue
        default = getattr(AlertSettings, k, None)
        if isinstance(default, str):
            if not isinstance(v, str):
                raise ConfigError(f"[alerts] {k} must be text")
            opts[k] = v
        else:
            opts[k] = _number(f"[alerts] {k}", v, type(default) if default is not None else float)
    return webhook, AlertSettings(**opts)


def parse_monitoring(raw: dict[str, Any]) -> MonitoringSettings:
    """The three sections of a parsed TOML document (absent ones: defaults)."""
    m, a, lg = _table(raw, "monitoring"), _table(raw, "alerts"), _table(raw, "logging")
    unknown = set(m) - {"metrics_port", "metrics_host", "sample_s", "max_samples"}
    unknown |= {f"logging.{k}" for k in set(lg) - {"json", "level", "levels"}}
    if unknown:
        raise ConfigError(f"[monitoring]/[logging] unknown keys: {', '.join(sorted(unknown))}")
    host = m.get("metrics_host", "127.0.0.1")
    if not isinstance(host, str) or not host:
        raise ConfigError("[monitoring] metrics_host must be an address (e.g. 127.0.0.1)")
    levels = _table(lg, "levels")
    for name, lvl in levels.items():
        level_of(f"[logging.levels] {name}", lvl)
    level = lg.get("level", "warning")
    level_of("[logging] level", level)
    if not isinstance(lg.get("json", False), bool):
        raise ConfigError("[logging] json must be true or false")
    webhook, alerts = _alerts(a)
    return MonitoringSettings(
        metrics_port=port("[monitoring] metrics_port", m["metrics_port"]) if "metrics_port" in m else None,
        metrics_host=host,
        sample_s=_number("[monitoring] sample_s", m.get("sample_s", 1.0), float),
        max_samples=_number(
            "[monitoring] max_samples", m.get("max_samples", 20_000), int, low=16, strict=False
        ),
        webhook=webhook,
        alerts=alerts,
        log_json=bool(lg.get("json", False)),
        log_level=str(level).lower(),
        log_levels={str(k): str(v).lower() for k, v in levels.items()},
    )
