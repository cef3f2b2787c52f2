"""Structured logs: JSON lines (`--log-json`, `[logging] json = true`) or human-readable lines, a level
per component (`[logging.levels]`, e.g. `"trader.orders" = "info"`), and one event per order state
change (logger `trader.orders`: venue, strategy, client id, state, the event and its reason).

Nothing secret reaches a log line: the engine's messages carry none (order fields, venue ids, reasons),
and the formatter drops any extra field whose name looks like a credential.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from trader.engine import oms
from trader.engine.observer import EngineObserver
from trader.errors import ConfigError

if TYPE_CHECKING:
    from trader.strategies.base import Place

ORDERS = "trader.orders"
LEVELS = ("debug", "info", "warning", "error", "critical")
_STD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_SECRET_WORDS = ("secret", "password", "passphrase", "token", "api_key", "apikey", "private", "signature")
_HANDLER_MARK = "_trader_handler"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, ISO 8601), level, logger, msg, and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="microseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in vars(record).items():
            if k in _STD or k.startswith("_") or any(w in k.lower() for w in _SECRET_WORDS):
                continue
            out[k] = v if isinstance(v, str | int | float | bool) or v is None else str(v)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(",", ":"))


def level_of(where: str, name: object) -> int:
    if not isinstance(name, str) or name.lower() not in LEVELS:
        raise ConfigError(f"{where} must be one of {', '.join(LEVELS)}, not {name!r}")
    return int(getattr(logging, name.upper()))


def setup_logging(
    *,
    json_lines: bool = False,
    level: str = "warning",
    components: Mapping[str, str] | None = None,
    stream: IO[str] | None = None,
) -> None:
    """Configure the root handler once (called again, it replaces what it set before). With JSON lines
    and no level set for it, order events (`trader.orders`) are logged at info."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _HANDLER_MARK, False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level_of("[logging] level", level))
    levels = dict(components or {})
    if json_lines:
        levels.setdefault(ORDERS, "info")
    for name, lvl in levels.items():
        logging.getLogger(name).setLevel(level_of(f"[logging.levels] {name}", lvl))


def _what(event: oms.OrderEvent | None) -> tuple[str, dict[str, Any]]:
    if event is None:
        return "sent", {}
    kind = type(event).__name__
    if isinstance(event, oms.Filled):
        f = event.fill
        return kind, {"trade_id": f.trade_id, "fill_qty": f.qty, "fill_price": f.price, "fee": str(f.fee)}
    if isinstance(event, oms.Accepted):
        return kind, {"venue_order_id": event.venue_order_id}
    reason = getattr(event, "reason", None)
    return kind, {"reason": reason} if reason else {}


class OrderLog(EngineObserver):
    """One log event per order state change, and per risk denial (logger `trader.orders`, info)."""

    def __init__(self) -> None:
        self.log = logging.getLogger(ORDERS)

    def on_order(self, order: oms.Order, event: oms.OrderEvent | None, ts_ns: int) -> None:
        if not self.log.isEnabledFor(logging.INFO):
            return
        kind, extra = _what(event)
        self.log.info(
            "%s %s %s: %s -> %s",
            order.venue,
            order.strategy,
            order.client_id,
            kind,
            order.status.value,
            extra={
                "event": "order",
                "venue": order.venue,
                "strategy": order.strategy,
                "client_id": order.client_id,
                "instrument": order.instrument,
                "side": str(order.side).rsplit(".", 1)[-1],
                "price": order.price,
                "qty": order.qty,
                "filled": order.filled,
                "state": order.status.value,
                "change": kind,
                "ts_ns": ts_ns,
                **extra,
            },
        )

    def on_denial(self, strategy: str, place: Place, reason: str) -> None:
        if self.log.isEnabledFor(logging.INFO):
            self.log.info(
                "%s denied: %s",
                strategy,
                reason,
                extra={"event": "denial", "strategy": strategy, "venue": place.venue, "reason": reason,
                       "instrument": place.instrument},
            )  # fmt: skip
