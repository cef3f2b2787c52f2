"""Typed configuration (TOML) with secret *references*, never secret values.

```toml
[risk]                          # the aggregate limits over every venue (`trader live` needs them)
reporting_currency = "USD"      # optional (default USD): what notionals and PnL are valued in
max_gross_notional = "100000"
max_net_notional = "50000"
max_open_orders = 50
orders_per_second = 20          # or the older name max_orders_per_sec (not both)
daily_loss_limit = "500"
daily_loss_halt = "1000"        # optional, defaults to the limit

[risk.assets.BTC]               # one asset's exposure over every venue (spot and perp legs net out)
max_net_notional = "20000"
max_gross_notional = "40000"    # optional

[risk.currencies.USDT]          # a quote currency in the reporting currency
rate = "1"
max_depeg_bps = 100             # optional

[venues.binance]                # a venue: an account on one exchange and market (binance-futures, ...)
api_key = "env:BINANCE_API_KEY"                 # env:NAME
secret = "keystore:~/.trader/binance.json"      # keystore:PATH (password from TRADER_KEYSTORE_PASSWORD)
environment = "testnet"                         # live | testnet | paper | demo | sim
market = "spot"                                 # options (plain values, not secrets): see VENUE_OPTIONS
orders_per_second = 10                          # optional, this venue's order rate

[venues.binance.risk]           # optional: this venue's limits (max_gross_notional, max_open_orders and
max_gross_notional = "50000"    # daily_loss_limit required; see trader.config_risk.VenueRisk)
max_open_orders = 20
daily_loss_limit = "200"

[venues.binance.kill]           # optional: crossing one halts this venue (see KillThresholds)
max_loss = "300"

[symbols.BTC-USDT]              # canonical instrument -> each venue's symbol (see trader.symbols)
binance = "BTCUSDT"

[strategies.mm-btc]
kind = "mm"                     # one of STRATEGY_KINDS
legs = ["binance:BTC-USDT"]     # venue:symbol (canonical, or the venue's own when no [symbols] maps it)
orders_per_second = 10          # optional
[strategies.mm-btc.params]      # plain values for the strategy

[engine]                        # optional: how the engine runs on its machine (the flags add to it)
cpu = "2"                       # pin to these CPUs, as --cpu (Linux)
busy_poll = true                # as --busy-poll: the loop never sleeps; orders rehearsed between orders
rehearsal = true                # false: as --no-rehearsal
```

Validation refuses, in one line naming the key: unknown sections/keys/venues, a leg on a venue without
a [venues.X] table or on an unmapped symbol, a missing limit, and a venue or strategy limit looser than the
aggregate's where that makes no sense (`trader.config_risk.check_venue_against`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from trader.config_risk import (
    DEFAULT_REJECT_WINDOW,
    MAX_COUNT,
    MAX_NOTIONAL,
    NOTIONAL_PLACES,
    AssetLimit,
    CurrencyRate,
    KillThresholds,
    RiskLimits,
    VenueRisk,
    check_venue_against,
    parse_kill,
    parse_risk,
    parse_venue_risk,
    positive_int,
)
from trader.core import Keystore
from trader.errors import ConfigError
from trader.symbols import SymbolEntry, SymbolMap, parse_symbols

if TYPE_CHECKING:
    from trader.monitoring.settings import MonitoringSettings

__all__ = [
    "DEFAULT_REJECT_WINDOW",
    "ENVIRONMENTS",
    "MAX_COUNT",
    "MAX_NOTIONAL",
    "NOTIONAL_PLACES",
    "SECTIONS",
    "STRATEGY_KINDS",
    "VENUE_OPTIONS",
    "AssetLimit",
    "Config",
    "CurrencyRate",
    "KillThresholds",
    "RiskLimits",
    "SecretRef",
    "StrategyConfig",
    "SymbolEntry",
    "VenueConfig",
    "VenueRisk",
    "load_config",
    "parse_config",
]

ENVIRONMENTS = frozenset({"live", "testnet", "paper", "demo", "sim"})
# what `[strategies.X] kind` may be, and the fewest legs each trades
STRATEGY_KINDS: dict[str, int] = {
    "mm": 1,
    "pairs": 2,
    "binary-mm": 1,
    "rewards": 1,
    "event": 1,
    "xarb": 2,
    "basis": 2,
}
MAX_PARAM_TEXT = 1024
SECTIONS = frozenset(
    {"risk", "venues", "symbols", "strategies", "engine", "monitoring", "alerts", "logging"}
)  # the top-level tables; any other is a typo, refused (the last three: `trader.monitoring.settings`)

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
    "day_trading_rule": str,  # brokers: intraday_margin (default; 4210 amended) | pattern_day_trader | none
    "condition_id": str,  # polymarket: the market (both its tokens) to trade
    "signature_type": int,  # polymarket: 0 EOA, 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE
    "funder": str,  # polymarket: the proxy/Safe wallet holding the funds (types 1 and 2)
    "rpc_url": str,  # polymarket: a Polygon JSON-RPC for on-chain balance checks (or env:NAME)
    "order_log": str,  # polymarket: file of client id -> order id, kept across restarts
}
URL_OPTIONS = frozenset({"rpc_url"})
"""Options that may be written as `env:NAME` instead: a provider's URL often carries its API key."""


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
class VenueConfig:
    name: str
    environment: str
    secrets: dict[str, SecretRef] = field(default_factory=dict)
    options: dict[str, str | int | bool] = field(default_factory=dict)
    orders_per_second: int | None = None  # this venue's order rate (None: the aggregate's only)
    risk: VenueRisk | None = None  # [venues.X.risk] (None: the aggregate limits only)
    kill: KillThresholds = field(default_factory=KillThresholds)  # [venues.X.kill]

    def url(self, key: str) -> str | None:
        """A URL option (`URL_OPTIONS`) as written, or read from its `env:NAME`; None when not set."""
        if key in self.secrets:
            return str(self.secrets[key].resolve())
        return str(self.options[key]) if key in self.options else None


@dataclass(frozen=True)
class StrategyConfig:
    """`[strategies.<name>]`: what it is, the instruments it trades (a leg per venue), its parameters."""

    name: str
    kind: str  # one of STRATEGY_KINDS
    legs: tuple[
        tuple[str, str], ...
    ]  # (venue, canonical symbol) as written; resolve with Config.venue_symbol
    orders_per_second: int | None = None
    params: dict[str, str | int | bool | Decimal] = field(default_factory=dict)  # numbers as int or Decimal


@dataclass(frozen=True)
class EngineSettings:
    """`[engine]`: how the engine runs on its machine, as the flags of `paper` and `live` say it (a flag
    adds to the config: `--busy-poll` turns polling on, `--no-rehearsal` the rehearsal off, `--cpu` wins)."""

    cpu: str | None = None  # pin to these CPUs, "2" or "2,3" (as --cpu; Linux)
    busy_poll: bool = False  # the event loop never sleeps in the kernel (as --busy-poll)
    rehearsal: bool = True  # with busy_poll: orders rehearsed between orders (false: as --no-rehearsal)


@dataclass(frozen=True)
class Config:
    risk: RiskLimits | None
    venues: dict[str, VenueConfig]
    symbols: dict[str, SymbolEntry] = field(default_factory=dict)
    strategies: dict[str, StrategyConfig] = field(default_factory=dict)
    monitoring: MonitoringSettings | None = None  # [monitoring], [alerts], [logging]
    engine: EngineSettings = field(default_factory=EngineSettings)

    def symbol_map(self) -> SymbolMap:
        return SymbolMap(self.symbols)

    def venue_symbol(self, venue: str, symbol: str) -> str:
        """A leg's symbol on `venue` (the rule of `trader.symbols`); `ConfigError` if unmapped."""
        return self.symbol_map().resolve(venue, symbol)


def _option(where: str, key: str, val: object) -> str | int | bool:
    """A plain venue option, checked against its type in `VENUE_OPTIONS` (and, for ints, its range)."""
    kind = VENUE_OPTIONS[key]
    if type(val) is not kind or not isinstance(val, str | int | bool):
        raise ConfigError(f"{where} {key} must be a {kind.__name__}, got {val!r}")
    if kind is int and not 0 <= int(val) <= MAX_OPTION_INT:
        raise ConfigError(f"{where} {key} = {val} is out of range (0 to {MAX_OPTION_INT})")
    if key == "port" and not 0 < int(val) < 65536:
        raise ConfigError(f"{where} port = {val} is not a TCP port (1 to 65535)")
    if key == "day_trading_rule":
        from trader.engine.equity import day_trading_rule

        day_trading_rule(val, f"{where} day_trading_rule")
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
        if k in ("environment", "orders_per_second", "risk", "kill"):
            continue
        if k in URL_OPTIONS and isinstance(val, str) and val.startswith(("env:", "keystore:")):
            secrets[k] = SecretRef.parse(f"{where} {k}", val)
            if secrets[k].kind != "env":
                raise ConfigError(f"{where} {k}: a URL is read from env:NAME, not from a keystore")
        elif k in VENUE_OPTIONS:
            options[k] = _option(where, k, val)
        else:
            secrets[k] = SecretRef.parse(f"{where} {k}", val)
    ops = v.get("orders_per_second")
    return VenueConfig(
        name,
        env,
        secrets,
        options,
        orders_per_second=None if ops is None else positive_int(f"venues.{name}", "orders_per_second", ops),
        risk=None if "risk" not in v else parse_venue_risk(name, v["risk"]),
        kill=parse_kill(name, v.get("kill", {})),
    )


def _known_venue(cfg: VenueConfig) -> VenueConfig:
    """`cfg` for a venue the registry knows (built or planned); an alias's options filled in (a
    `[venues.binance-futures]` is Binance with market = "futures"), a contradicting one refused."""
    from trader.venues import registry

    if cfg.name not in registry.names():
        raise ConfigError(
            f"[venues.{cfg.name}] unknown venue {cfg.name!r} (venues: {', '.join(registry.names())})"
        )
    if "day_trading_rule" in cfg.options and registry.profile(cfg.name).tier.value != "broker":
        raise ConfigError(
            f"[venues.{cfg.name}] day_trading_rule applies to broker venues only (alpaca, ibkr)"
        )
    fixed = registry.alias_options(cfg.name)
    for key, value in fixed.items():
        if key in cfg.options and cfg.options[key] != value:
            raise ConfigError(
                f"[venues.{cfg.name}] {key} = {cfg.options[key]!r} contradicts the venue "
                f"({cfg.name} is {key} {value!r})"
            )
    if fixed:
        cfg = dataclasses.replace(cfg, options=fixed | cfg.options)
    offered = registry.environments(cfg)
    base = registry.ALIASES[cfg.name][0] if fixed else cfg.name
    if cfg.environment not in offered and cfg.environment in registry.profile(base).environments:
        # the venue has this environment, the market does not (Binance margin); a venue's own list is
        # checked where its connector is built, with its reasons
        market = "" if fixed else f" {cfg.options['market']}"
        raise ConfigError(
            f"[venues.{cfg.name}] environment = {cfg.environment!r}: {cfg.name}{market} has no test "
            f"environment ({', '.join(offered)} only): rehearse it with --sim"
        )
    return cfg


def _param(where: str, key: str, val: object) -> str | int | bool | Decimal:
    """A strategy parameter: a plain string, bool or number (a TOML float becomes the Decimal written)."""
    if isinstance(val, bool | int):
        return val
    if isinstance(val, float):
        d = Decimal(repr(val))
        if not d.is_finite():
            raise ConfigError(f"{where} {key} = {val!r} is not a finite number")
        return d
    if isinstance(val, str) and len(val) <= MAX_PARAM_TEXT:
        return val
    raise ConfigError(
        f"{where} {key} must be a number, a string (<= {MAX_PARAM_TEXT}) or a bool, got {val!r}"
    )


def _legs(where: str, raw: object, kind: str) -> tuple[tuple[str, str], ...]:
    need = STRATEGY_KINDS[kind]
    if not isinstance(raw, list) or len(raw) < need:
        raise ConfigError(f'{where} legs must be a list of at least {need} "venue:SYMBOL" (kind {kind})')
    legs: list[tuple[str, str]] = []
    for leg in raw:
        if not isinstance(leg, str) or leg.count(":") != 1 or not all(leg.split(":")):
            raise ConfigError(f'{where} legs: {leg!r} is not "venue:SYMBOL" (e.g. "binance:BTC-USDT")')
        venue, symbol = leg.split(":")
        legs.append((venue, symbol))
    if len(set(legs)) != len(legs):
        raise ConfigError(f"{where} legs name the same instrument twice")
    return tuple(legs)


def _strategy(name: str, raw: object) -> StrategyConfig:
    where = f"[strategies.{name}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(raw) - {"kind", "legs", "orders_per_second", "params"}
    if unknown:
        raise ConfigError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    kind = raw.get("kind")
    if kind not in STRATEGY_KINDS:
        raise ConfigError(f"{where} kind must be one of {', '.join(STRATEGY_KINDS)}, got {kind!r}")
    assert isinstance(kind, str)
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError(f"[strategies.{name}.params] must be a table")
    ops = raw.get("orders_per_second")
    return StrategyConfig(
        name,
        kind,
        _legs(where, raw.get("legs"), kind),
        None if ops is None else positive_int(f"strategies.{name}", "orders_per_second", ops),
        {k: _param(f"[strategies.{name}.params]", k, v) for k, v in params.items()},
    )


def _table(raw: dict[str, object], key: str) -> dict[str, object]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{key}] must be a table, got {type(value).__name__}")
    return value


def _engine(raw: dict[str, object]) -> EngineSettings:
    t = _table(raw, "engine")
    unknown = set(t) - {"cpu", "busy_poll", "rehearsal"}
    if unknown:
        raise ConfigError(
            f"[engine] has unknown keys: {', '.join(sorted(unknown))} (known: busy_poll, cpu, rehearsal)"
        )
    for key in ("busy_poll", "rehearsal"):
        if key in t and not isinstance(t[key], bool):
            raise ConfigError(f"[engine] {key} must be true or false, got {t[key]!r}")
    cpu = t.get("cpu")
    if isinstance(cpu, int) and not isinstance(cpu, bool):
        cpu = str(cpu)
    if cpu is not None and not (isinstance(cpu, str) and re.fullmatch(r"\d{1,4}(,\d{1,4})*", cpu)):
        raise ConfigError(f'[engine] cpu must name CPUs, as "2" or "2,3", got {cpu!r}')
    return EngineSettings(cpu, bool(t.get("busy_poll", False)), bool(t.get("rehearsal", True)))


def _cross_check(config: Config) -> None:
    """What one section says about another: legs on configured venues and mapped symbols, and no venue or
    strategy limit looser than the aggregate's."""
    symbols = config.symbol_map()
    for s in config.strategies.values():
        for venue, symbol in s.legs:
            if venue not in config.venues:
                raise ConfigError(f"[strategies.{s.name}] leg {venue}:{symbol}: no [venues.{venue}] table")
            try:
                symbols.resolve(venue, symbol)
            except ConfigError as e:
                raise ConfigError(f"[strategies.{s.name}] leg {venue}:{symbol}: {e}") from None
    agg = config.risk
    if agg is None:
        return
    for v in config.venues.values():
        check_venue_against(v.name, v.orders_per_second, v.risk, v.kill, agg)
    for c in agg.currencies.values():
        if c.mark is not None and c.mark[0] not in config.venues:
            raise ConfigError(
                f"[risk.currencies.{c.currency}] mark = {':'.join(c.mark)}: no [venues.{c.mark[0]}] table"
            )
    for s in config.strategies.values():
        if s.orders_per_second is not None and s.orders_per_second > agg.max_orders_per_sec:
            raise ConfigError(
                f"[strategies.{s.name}] orders_per_second = {s.orders_per_second} is above [risk] "
                f"orders_per_second = {agg.max_orders_per_sec}"
            )


def parse_config(text: str) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config is not valid TOML: {e}") from None
    unknown = set(raw) - SECTIONS
    if unknown:
        raise ConfigError(
            f"config has unknown sections: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(SECTIONS))})"
        )
    risk = parse_risk(raw["risk"]) if "risk" in raw else None
    venues = {name: _venue(name, v) for name, v in _table(raw, "venues").items()}
    venues = {name: _known_venue(v) for name, v in venues.items()}
    from trader.venues import registry

    symbols = parse_symbols(_table(raw, "symbols"), registry.names())
    strategies = {name: _strategy(name, s) for name, s in _table(raw, "strategies").items()}
    from trader.monitoring.settings import parse_monitoring

    config = Config(risk, venues, symbols, strategies, parse_monitoring(raw), _engine(raw))
    _cross_check(config)
    return config


def load_config(path: str | Path) -> Config:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"config {path} is not UTF-8 text (byte {e.start})") from None
    return parse_config(text)
