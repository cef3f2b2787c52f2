"""Typed configuration (TOML) with secret *references*, never secret values.

```toml
[risk]                      # explicit limits; `trader live` refuses to start without them
max_gross_notional = "100000"
max_net_notional = "50000"
max_open_orders = 50
max_orders_per_sec = 20
daily_loss_limit = "500"
daily_loss_halt = "1000"    # optional, defaults to the limit

[venues.binance]
api_key = "env:BINANCE_API_KEY"                 # env:NAME
secret = "keystore:~/.trader/binance.json"      # keystore:PATH (password from TRADER_KEYSTORE_PASSWORD)
environment = "testnet"                         # live | testnet | paper | sim
market = "spot"                                 # options (plain values, not secrets): see VENUE_OPTIONS
```
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from trader.core import Keystore
from trader.errors import ConfigError

ENVIRONMENTS = frozenset({"live", "testnet", "paper", "sim"})

# Plain (non-secret) per-venue settings and their types; every other key is a secret reference.
VENUE_OPTIONS: dict[str, type] = {
    "market": str,  # binance: spot | futures | margin
    "symbol": str,  # the instrument the engine trades (default BTCUSDT)
    "order_entry": str,  # rest | ws (binance WebSocket API)
    "key_type": str,  # hmac | ed25519 (binance)
    "stp_mode": str,  # binance selfTradePreventionMode
    "isolated": bool,  # binance margin: isolated instead of cross
    "side_effect": str,  # binance margin sideEffectType
    "leverage": int,  # binance futures
    "margin_type": str,  # binance futures CROSSED | ISOLATED
    "url": str,  # environment = "sim": the `trader sim` server to use
    "host": str,  # ibkr: TWS / IB Gateway host
    "port": int,  # ibkr: its API port (paper: Gateway 4002, TWS 7497; live: 4001, 7496)
    "client_id": int,  # ibkr: the API client id
    "account_id": str,  # ibkr: the account (paper accounts start with D)
    "feed": str,  # alpaca market data: iex | sip
    "allow_short": bool,  # brokers: short sales (denied by the equity rules unless true)
    "extended_hours": bool,  # brokers: trade the pre/post sessions (DAY limit orders only)
    "condition_id": str,  # polymarket: the market (both its tokens) to trade
    "signature_type": int,  # polymarket: 0 EOA, 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE
    "funder": str,  # polymarket: the proxy/Safe wallet holding the funds (types 1 and 2)
    "rpc_url": str,  # polymarket: a Polygon JSON-RPC for on-chain balance checks
    "order_log": str,  # polymarket: file of client id -> order id, kept across restarts
}


@dataclass(frozen=True)
class SecretRef:
    """Where a secret lives. Its repr shows the reference only."""

    kind: str  # "env" | "keystore"
    where: str

    @staticmethod
    def parse(field_name: str, text: object) -> SecretRef:
        if not isinstance(text, str) or ":" not in text:
            raise ConfigError(f"{field_name} must be a reference like env:NAME or keystore:PATH, not a value")
        kind, where = text.split(":", 1)
        if kind not in ("env", "keystore") or not where:
            raise ConfigError(f"{field_name}: unknown secret reference kind {kind!r} (use env: or keystore:)")
        return SecretRef(kind, where)

    def resolve(self) -> str | Keystore:
        """The secret for a signer: env values as str, keystores decrypted in Rust."""
        if self.kind == "env":
            value = os.environ.get(self.where)
            if not value:
                raise ConfigError(f"environment variable {self.where} is not set")
            return value
        password = os.environ.get("TRADER_KEYSTORE_PASSWORD")
        if password is None:
            raise ConfigError("TRADER_KEYSTORE_PASSWORD is not set")
        from trader.secrets import load_keystore

        return load_keystore(Path(self.where).expanduser(), password)

    def __repr__(self) -> str:
        return f"SecretRef({self.kind}:{self.where})"


@dataclass(frozen=True)
class RiskLimits:
    max_gross_notional: Decimal
    max_net_notional: Decimal
    max_open_orders: int
    max_orders_per_sec: int
    daily_loss_limit: Decimal
    daily_loss_halt: Decimal


@dataclass(frozen=True)
class VenueConfig:
    name: str
    environment: str
    secrets: dict[str, SecretRef] = field(default_factory=dict)
    options: dict[str, str | int | bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    risk: RiskLimits | None
    venues: dict[str, VenueConfig]


def _positive_decimal(section: str, key: str, raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ConfigError(f"[{section}] {key} must be a decimal string, got {type(raw).__name__}")
    try:
        d = Decimal(str(raw))
    except InvalidOperation:
        raise ConfigError(f"[{section}] {key} = {raw!r} is not a decimal") from None
    if not d.is_finite() or d <= 0:
        raise ConfigError(f"[{section}] {key} must be finite and > 0, got {raw!r}")
    return d


def _positive_int(section: str, key: str, raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise ConfigError(f"[{section}] {key} must be an integer > 0, got {raw!r}")
    return raw


def _risk(raw: dict[str, Any]) -> RiskLimits:
    known = {
        "max_gross_notional",
        "max_net_notional",
        "max_open_orders",
        "max_orders_per_sec",
        "daily_loss_limit",
        "daily_loss_halt",
    }
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"[risk] has unknown keys: {', '.join(sorted(unknown))}")
    missing = sorted(known - {"daily_loss_halt"} - set(raw))
    if missing:
        raise ConfigError(f"[risk] is missing {', '.join(missing)} (every limit must be explicit)")
    limit = _positive_decimal("risk", "daily_loss_limit", raw["daily_loss_limit"])
    halt = _positive_decimal("risk", "daily_loss_halt", raw.get("daily_loss_halt", str(limit)))
    if halt < limit:
        raise ConfigError("[risk] daily_loss_halt is below daily_loss_limit")
    return RiskLimits(
        _positive_decimal("risk", "max_gross_notional", raw["max_gross_notional"]),
        _positive_decimal("risk", "max_net_notional", raw["max_net_notional"]),
        _positive_int("risk", "max_open_orders", raw["max_open_orders"]),
        _positive_int("risk", "max_orders_per_sec", raw["max_orders_per_sec"]),
        limit,
        halt,
    )


def parse_config(text: str) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config is not valid TOML: {e}") from None
    risk = _risk(raw["risk"]) if "risk" in raw else None
    venues: dict[str, VenueConfig] = {}
    for name, v in raw.get("venues", {}).items():
        if not isinstance(v, dict):
            raise ConfigError(f"[venues.{name}] must be a table")
        env = v.get("environment", "testnet")
        if env not in ENVIRONMENTS:
            raise ConfigError(
                f"[venues.{name}] environment must be one of {sorted(ENVIRONMENTS)}, got {env!r}"
            )
        secrets: dict[str, SecretRef] = {}
        options: dict[str, str | int | bool] = {}
        for k, val in v.items():
            if k == "environment":
                continue
            kind = VENUE_OPTIONS.get(k)
            if kind is None:
                secrets[k] = SecretRef.parse(f"[venues.{name}] {k}", val)
            elif type(val) is not kind or not isinstance(val, str | int | bool):
                raise ConfigError(f"[venues.{name}] {k} must be a {kind.__name__}, got {val!r}")
            else:
                options[k] = val
        venues[name] = VenueConfig(name, env, secrets, options)
    return Config(risk, venues)


def load_config(path: str | Path) -> Config:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
    return parse_config(text)
