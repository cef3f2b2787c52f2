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
from decimal import Decimal, InvalidOperation, localcontext
from pathlib import Path

from trader.core import Keystore
from trader.errors import ConfigError

ENVIRONMENTS = frozenset({"live", "testnet", "paper", "sim"})
SECTIONS = frozenset({"risk", "venues"})  # the top-level tables; any other is a typo, refused

# Ranges the Rust core can hold: counts are u32 in the gate, notionals i128 with 18 decimal places.
MAX_COUNT = 2**32 - 1
NOTIONAL_PLACES = 18
MAX_NOTIONAL = Decimal(10) ** 20
MAX_OPTION_INT = 2**31 - 1  # venue options (ports, client ids, leverage) fit an int32

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
    if d >= MAX_NOTIONAL or not _places_fit(d):
        raise ConfigError(
            f"[{section}] {key} = {raw!r} is out of range (below {MAX_NOTIONAL:,f}, "
            f"at most {NOTIONAL_PLACES} decimal places)"
        )
    return d


def _places_fit(d: Decimal) -> bool:
    """`d` has at most `NOTIONAL_PLACES` decimal places (checked exactly, whatever its exponent)."""
    exponent = d.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -NOTIONAL_PLACES:
        return True
    with localcontext() as ctx:
        ctx.prec = 60
        scaled = d.scaleb(NOTIONAL_PLACES)
        return scaled == scaled.to_integral_value()


def _positive_int(section: str, key: str, raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise ConfigError(f"[{section}] {key} must be an integer > 0, got {raw!r}")
    if raw > MAX_COUNT:
        raise ConfigError(f"[{section}] {key} = {raw} is out of range (at most {MAX_COUNT})")
    return raw


def _risk(raw: object) -> RiskLimits:
    if not isinstance(raw, dict):
        raise ConfigError(f"[risk] must be a table, got {type(raw).__name__}")
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
        raise ConfigError(f"[risk] has unknown keys: {', '.join(sorted(map(str, unknown)))}")
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


def _option(where: str, key: str, val: object) -> str | int | bool:
    """A plain venue option, checked against its type in `VENUE_OPTIONS` (and, for ints, its range)."""
    kind = VENUE_OPTIONS[key]
    if type(val) is not kind or not isinstance(val, str | int | bool):
        raise ConfigError(f"{where} {key} must be a {kind.__name__}, got {val!r}")
    if kind is int and not 0 <= int(val) <= MAX_OPTION_INT:
        raise ConfigError(f"{where} {key} = {val} is out of range (0 to {MAX_OPTION_INT})")
    if key == "port" and not 0 < int(val) < 65536:
        raise ConfigError(f"{where} port = {val} is not a TCP port (1 to 65535)")
    return val


def _venue(name: str, v: object) -> VenueConfig:
    where = f"[venues.{name}]"
    if not isinstance(v, dict):
        raise ConfigError(f"{where} must be a table")
    env = v.get("environment", "testnet")
    if not isinstance(env, str) or env not in ENVIRONMENTS:
        raise ConfigError(f"{where} environment must be one of {sorted(ENVIRONMENTS)}, got {env!r}")
    secrets: dict[str, SecretRef] = {}
    options: dict[str, str | int | bool] = {}
    for k, val in v.items():
        if k == "environment":
            continue
        if k in VENUE_OPTIONS:
            options[k] = _option(where, k, val)
        else:
            secrets[k] = SecretRef.parse(f"{where} {k}", val)
    return VenueConfig(name, env, secrets, options)


def parse_config(text: str) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config is not valid TOML: {e}") from None
    unknown = set(raw) - SECTIONS
    if unknown:
        raise ConfigError(f"config has unknown sections: {', '.join(sorted(unknown))} (known: risk, venues)")
    risk = _risk(raw["risk"]) if "risk" in raw else None
    venues_raw = raw.get("venues", {})
    if not isinstance(venues_raw, dict):
        raise ConfigError(f"[venues] must be a table, got {type(venues_raw).__name__}")
    venues = {name: _venue(name, v) for name, v in venues_raw.items()}
    return Config(risk, venues)


def load_config(path: str | Path) -> Config:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"config {path} is not UTF-8 text (byte {e.start})") from None
    return parse_config(text)
