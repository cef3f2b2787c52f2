"""`trader config init` (a commented template covering every venue) and `trader config check` (validate a
config and print the limits it resolves to, per venue and in aggregate; never a secret's value)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from trader.config import Config, RiskLimits, VenueConfig, load_config
from trader.errors import ConfigError
from trader.venues import registry

DEFAULT_PATH = Path("~/.trader/config.toml")
EXIT_OK, EXIT_USAGE = 0, 2

# what the template writes for a venue beyond its keys (a data table: a venue not listed gets api_key/secret)
_TEMPLATE_SECRETS: dict[str, tuple[str, ...]] = {
    "ibkr": (),  # TWS / IB Gateway holds the session
    "sim": (),  # the simulator's demo account
    "polymarket": ("private_key",),
}
_DAY_TRADING = (
    'day_trading_rule = "intraday_margin"  # FINRA 4210 as amended (2026-06-04) | pattern_day_trader | none\n'
)
_TEMPLATE_OPTIONS: dict[str, str] = {
    "ibkr": 'host = "127.0.0.1"\nport = 4002                     # paper Gateway (TWS: 7497)\n'
    "client_id = 1\n" + _DAY_TRADING,
    "alpaca": _DAY_TRADING,
    "polymarket": 'condition_id = "0x0000000000000000000000000000000000000000000000000000000000000000"'
    "  # the market to trade (`trader sim polymarket` prints its own: CONDITION_ID:YES)\n"
    'url = "http://127.0.0.1:8766"      # a running `trader sim polymarket --port=8766`; live: no testnet\n',
    "sim": 'url = "http://127.0.0.1:8765"      # a running `trader sim sim --port=8765`\n',
}
_SYMBOLS: dict[str, dict[str, str]] = {  # canonical -> venue -> that venue's symbol
    "BTC-USDT": {
        "binance": "BTCUSDT",
        "binance-futures": "BTCUSDT",
        "binance-margin": "BTCUSDT",
        "sim": "BTCUSDT",
        "coinbase": "BTC-USDT",
        "kraken": "XBT/USDT",
        "okx": "BTC-USDT",
        "okx-swap": "BTC-USDT-SWAP",
        "bybit": "BTCUSDT",
        "bybit-linear": "BTCUSDT",
    },
    "ETH-USDT": {
        "binance": "ETHUSDT",
        "binance-futures": "ETHUSDT",
        "binance-margin": "ETHUSDT",
        "coinbase": "ETH-USDT",
        "kraken": "ETH/USDT",
        "okx": "ETH-USDT",
        "okx-swap": "ETH-USDT-SWAP",
        "bybit": "ETHUSDT",
        "bybit-linear": "ETHUSDT",
    },
}

_HEAD = """\
# trader config: written by `trader config init`; check it with `trader config check`.
# Secrets are never written here: only references, env:NAME (an environment variable) or keystore:PATH (a
# Web3 keystore v3 file whose password comes from TRADER_KEYSTORE_PASSWORD). Money is a decimal string.

[risk]                          # the aggregate limits, over every venue (`trader live` needs them)
reporting_currency = "USD"      # what notionals and PnL are valued in
max_gross_notional = "100000"
max_net_notional = "50000"
max_open_orders = 50
orders_per_second = 20
daily_loss_limit = "500"        # new orders stop at this loss today
daily_loss_halt = "1000"        # everything halts (latched) at this one

[risk.assets.BTC]               # one asset's exposure over every venue (spot and perp legs net out)
max_net_notional = "20000"
max_gross_notional = "40000"

[risk.assets.ETH]
max_net_notional = "10000"

[risk.currencies.USDT]          # quote currencies in the reporting currency; trading in one stops when its
rate = "1"                      # marked rate strays more than max_depeg_bps from `rate`
max_depeg_bps = 100

[risk.currencies.USDC]
rate = "1"
max_depeg_bps = 100
# mark = "binance:USDCUSDT"     # the rate from a book a venue of the session trades (mid x USDT's rate)

[engine]                        # how the engine runs on its machine (`--cpu`, `--busy-poll` add to it)
# cpu = "2"                     # pin it to these CPUs (Linux): a core of its own on a colocated box
busy_poll = false               # true: the loop never sleeps (one whole core); orders rehearsed between
rehearsal = true                # orders to keep their code warm (false: polling only)
"""

_VENUE_LIMITS = """\
orders_per_second = 10          # this venue's order rate (at most [risk] orders_per_second)

[venues.{name}.risk]{pad}# this venue's limits, none looser than [risk]'s
max_gross_notional = "50000"
max_net_notional = "25000"
max_open_orders = 20
daily_loss_limit = "200"
daily_loss_halt = "400"
# max_position = "0.5"          # optional, per instrument, in its units (0.5 BTC on BTC-USDT)
# max_order_qty = "0.1"         # optional, likewise
max_order_notional = "5000"     # quote units
collar_bps = 50                 # orders priced within 0.5% of the reference

[venues.{name}.kill]{pad}# crossing one halts this venue (latched; `trader kill --reset` clears it)
max_loss = "300"
max_reject_rate = "0.5"         # of the last reject_window orders
reject_window = 20
max_unknown = 5                 # orders of unknown outcome at once
max_disconnected_s = 30         # a stream down this long
watchdog_s = 10                 # no dead-man switch at the venue: feed or stream gone this long -> cancel all
"""

_STRATEGIES = """
[strategies.mm-btc]
kind = "mm"                     # mm, pairs, binary-mm, rewards, event, xarb, basis
legs = ["binance:BTC-USDT"]     # venue:SYMBOL, a canonical name from [symbols]
orders_per_second = 10

[strategies.mm-btc.params]      # plain values for the strategy
min_spread_bps = 30

# [strategies.basis-btc]        # spot against the USD-M perpetual (spot leg first)
# kind = "basis"
# legs = ["binance:BTC-USDT", "binance-futures:BTC-USDT"]
# [strategies.basis-btc.params]  # see trader.cli.crossvenue.BASIS_PARAMS
# qty = 0.01                    # BTC per leg
# entry_bps = 2                 # basis + expected funding - round-trip taker fees, to enter
# exit_bps = -10                # exit once the basis converged past this
# stop_bps = 40                 # exit when it ran this far against the entry
# funding_bps = 1               # expected funding per settlement; hold_s: expected holding

# [strategies.arb-btc]          # cross-exchange arbitrage: one leg per exchange, no transfers
# kind = "xarb"
# legs = ["binance:BTC-USDT", "okx:BTC-USDT"]
# [strategies.arb-btc.params]   # see trader.cli.crossvenue.XARB_PARAMS
# qty = 0.002                   # BTC per arbitrage
# max_inventory = 0.01          # BTC each venue may hold either way
# min_edge_bps = 2              # after both venues' default-tier fees
# mode = "both"                 # taker (both legs IOC), maker (quote one venue, hedge on the other), both
"""


def _env_name(venue: str, key: str) -> str:
    return f"{venue}_{key}".upper().replace("-", "_")


def _venue_block(name: str) -> str:
    """One venue's tables; a planned venue's commented out, saying it is not built yet."""
    prof = registry.profile(name)
    envs = prof.environments
    env = "paper" if "paper" in envs or not envs else "sim"
    lines = [f"[venues.{name}]"]
    if not prof.built:
        lines[0] += f"  # not built yet: {prof.summary}"
    elif name in registry.ALIASES:
        base, opts = registry.ALIASES[name]
        fixed = ", ".join(f"{k} = {v!r}" for k, v in opts.items())
        lines[0] += f"  # {base} with {fixed}: a venue of its own (own limits, health, kill)"
    for key in _TEMPLATE_SECRETS.get(name, ("api_key", "secret")):
        lines.append(f'{key} = "env:{_env_name(name, key)}"')
    lines.append(f'environment = "{env}"{" " * max(1, 16 - len(env))}# {" | ".join(envs) or "live | paper"}')
    body = "\n".join(lines) + "\n" + _TEMPLATE_OPTIONS.get(name, "")
    body += _VENUE_LIMITS.format(name=name, pad=" " * max(1, 18 - len(name)))
    if prof.notes:
        body = f"# {name}: {prof.notes}\n" + body
    if not prof.built:
        body = "".join(f"# {line}\n" if line else "#\n" for line in body.splitlines())
    return body


def _symbols_block() -> str:
    known = registry.names()
    out = ["", "# canonical instruments -> each venue's own symbol; strategies name the canonical one"]
    for canonical, venues in _SYMBOLS.items():
        out.append(f"[symbols.{canonical}]")
        out += [f'{v} = "{sym}"' for v, sym in venues.items() if v in known]
        out.append("")
    return "\n".join(out)


def template() -> str:
    """The commented config `trader config init` writes: every venue the registry knows."""
    venues = "\n".join(_venue_block(name) for name in registry.names())
    return f"{_HEAD}\n{venues}{_symbols_block()}{_STRATEGIES}"


def init(args: argparse.Namespace) -> int:
    path = Path(args.path).expanduser()
    if path.exists() and not args.force:
        print(f"trader config init: {path} exists (--force overwrites it)", file=sys.stderr)
        return EXIT_USAGE
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(template())
    except OSError as e:
        print(f"trader config init: cannot write {path}: {e.strerror}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {path}: set the env: references it names, then `trader config check --config={path}`")
    return EXIT_OK


def _text(v: object) -> object:
    if isinstance(v, tuple):  # a mark: (venue, symbol)
        return ":".join(map(str, v))
    return str(v) if isinstance(v, Decimal) else v


_LIMITS = (
    ("max_gross_notional", "max_gross_notional"),
    ("max_net_notional", "max_net_notional"),
    ("max_open_orders", "max_open_orders"),
    ("daily_loss_limit", "daily_loss_limit"),
    ("daily_loss_halt", "daily_loss_halt"),
)
_INSTRUMENT = ("max_position", "max_order_qty", "max_order_notional", "collar_bps")


def _resolved(v: VenueConfig, agg: RiskLimits) -> dict[str, dict[str, object]]:
    """The limits in force on venue `v`: its own where it sets one, else the aggregate's (which binds it
    anyway), each with where it comes from."""
    out: dict[str, dict[str, object]] = {}
    for key, agg_key in _LIMITS:
        own = getattr(v.risk, key, None)
        out[key] = {"value": _text(own if own is not None else getattr(agg, agg_key)), "from": _src(own, v)}
    ops = v.orders_per_second
    out["orders_per_second"] = {"value": ops or agg.max_orders_per_sec, "from": _src(ops, v, "")}
    for key in _INSTRUMENT:
        own = getattr(v.risk, key, None)
        if own is not None:
            out[key] = {"value": _text(own), "from": f"venues.{v.name}.risk"}
    return out


def _src(own: object, v: VenueConfig, table: str = ".risk") -> str:
    return "risk" if own is None else f"venues.{v.name}{table}"


def _venue_report(v: VenueConfig, agg: RiskLimits) -> dict[str, object]:
    prof = registry.profile(v.name)
    kill = {k: _text(val) for k, val in vars(v.kill).items() if val is not None}
    return {
        "environment": v.environment,
        "built": prof.built,
        "alias_of": registry.ALIASES[v.name][0] if v.name in registry.ALIASES else None,
        "secrets": {k: f"{ref.kind}:{ref.where}" for k, ref in v.secrets.items()},  # references, never values
        "options": dict(v.options),
        "limits": _resolved(v, agg),
        "kill": kill,
    }


def report(config: Config) -> dict[str, Any]:
    """What `trader config check` prints: every limit resolved, venues, symbols and strategies."""
    agg = config.risk
    if agg is None:
        raise ConfigError("[risk] is missing (every limit must be explicit; `trader config init` writes one)")
    symbols = config.symbol_map()
    aggregate: dict[str, object] = {
        k: _text(v) for k, v in vars(agg).items() if k not in ("assets", "currencies")
    }
    aggregate["orders_per_second"] = aggregate.pop("max_orders_per_sec")
    aggregate["assets"] = {
        a: {k: _text(v) for k, v in vars(lim).items() if k != "asset"} for a, lim in agg.assets.items()
    }
    aggregate["currencies"] = {
        c: {k: _text(v) for k, v in vars(r).items() if k != "currency"} for c, r in agg.currencies.items()
    }
    return {
        "aggregate": aggregate,
        "engine": vars(config.engine),
        "venues": {name: _venue_report(v, agg) for name, v in config.venues.items()},
        "symbols": {
            c: {"asset": e.asset, "quote": e.quote, "venues": dict(e.venues)}
            for c, e in config.symbols.items()
        },
        "strategies": {
            s.name: {
                "kind": s.kind,
                "legs": [
                    {"venue": v, "symbol": sym, "venue_symbol": symbols.resolve(v, sym)} for v, sym in s.legs
                ],
                "orders_per_second": s.orders_per_second or agg.max_orders_per_sec,
                "params": {k: _text(p) for k, p in s.params.items()},
            }
            for s in config.strategies.values()
        },
    }


def _print_text(path: Path, r: dict[str, Any]) -> None:
    agg = r["aggregate"]
    print(f"{path}: valid")
    print(f"aggregate limits, over every venue ({agg['reporting_currency']}):")
    for k, v in agg.items():
        if k not in ("assets", "currencies", "reporting_currency"):
            print(f"  {k:<22} {v}")
    for a, lim in agg["assets"].items():
        print(f"  asset {a:<16} " + ", ".join(f"{k} {v}" for k, v in lim.items() if v is not None))
    for c, rate in agg["currencies"].items():
        print(f"  currency {c:<13} " + ", ".join(f"{k} {v}" for k, v in rate.items() if v is not None))
    e = r["engine"]
    print(
        f"engine: cpu {e['cpu'] or 'any'}, busy_poll {str(e['busy_poll']).lower()}, "
        f"rehearsal {str(e['rehearsal']).lower()}"
    )
    print("venues:")
    for name, v in r["venues"].items():
        built = "built" if v["built"] else "NOT BUILT (no connector yet)"
        alias = f", {v['alias_of']} {v['options'].get('market', '')}" if v["alias_of"] else ""
        print(f"  {name}: environment {v['environment']}, {built}{alias}")
        if v["options"]:
            print("    options      " + ", ".join(f"{k} = {val!r}" for k, val in v["options"].items()))
        if v["secrets"]:
            print("    secrets      " + ", ".join(f"{k} = {ref}" for k, ref in v["secrets"].items()))
        for k, lim in v["limits"].items():
            print(f"    {k:<22} {lim['value']:<12} ([{lim['from']}])")
        if v["kill"]:
            print("    kill         " + ", ".join(f"{k} {val}" for k, val in v["kill"].items()))
    print("symbols:")
    for c, e in r["symbols"].items():
        print(f"  {c} ({e['asset']}/{e['quote']}): " + ", ".join(f"{v} {s}" for v, s in e["venues"].items()))
    print("strategies:")
    for name, s in r["strategies"].items():
        legs = ", ".join(f"{leg['venue']}:{leg['symbol']} ({leg['venue_symbol']})" for leg in s["legs"])
        print(f"  {name} ({s['kind']}): {legs}; orders_per_second {s['orders_per_second']}")


def check(args: argparse.Namespace) -> int:
    path = Path(args.config).expanduser()
    try:
        if not path.exists():
            raise ConfigError(f"no config at {path} (`trader config init` writes one)")
        r = report(load_config(path))
    except ConfigError as e:
        print(f"trader config check: {e}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps({"config": str(path), **r}, indent=2))
    else:
        _print_text(path, r)
    return EXIT_OK


def add_parser(sub: Any) -> None:
    """`trader config init|check`."""
    config = sub.add_parser("config", help="write a config template (init) or validate one (check)")
    actions = config.add_subparsers(dest="config_command")
    init_p = actions.add_parser("init", help="write a commented template covering every venue")
    init_p.add_argument("--path", type=Path, default=DEFAULT_PATH, help="where to write it")
    init_p.add_argument("--force", action="store_true", help="overwrite an existing file")
    check_p = actions.add_parser(
        "check", help="validate a config; print the limits per venue and in aggregate"
    )
    check_p.add_argument("--config", type=Path, default=DEFAULT_PATH, help="TOML config")
    check_p.add_argument("--json", action="store_true", help="print the resolved config as JSON")


def main(args: argparse.Namespace) -> int:
    if args.config_command == "init":
        return init(args)
    if args.config_command == "check":
        return check(args)
    print("trader config: say init or check (see trader config --help)", file=sys.stderr)
    return EXIT_USAGE
