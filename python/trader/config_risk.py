"""The risk part of the config: `[risk]` (aggregate limits over every venue, per asset, quote currencies),
`[venues.X.risk]` (one venue's limits) and `[venues.X.kill]` (the thresholds that halt one venue).

Re-exported by `trader.config`; import from there. Money is `Decimal`, counts `int`, timings seconds as
`float`. Every refusal is a `ConfigError` of one line naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext

from trader.errors import ConfigError

__all__ = [
    "DEFAULT_REJECT_WINDOW",
    "MAX_COUNT",
    "MAX_NOTIONAL",
    "NOTIONAL_PLACES",
    "AssetLimit",
    "CurrencyRate",
    "KillThresholds",
    "RiskLimits",
    "VenueRisk",
    "check_venue_against",
    "parse_kill",
    "parse_risk",
    "parse_venue_risk",
    "positive_decimal",
    "positive_int",
]

# Ranges the Rust core can hold: counts are u32 in the gate, notionals i128 with 18 decimal places.
MAX_COUNT = 2**32 - 1
NOTIONAL_PLACES = 18
MAX_NOTIONAL = Decimal(10) ** 20
MAX_SECONDS = 366 * 24 * 3600.0  # a timing bound of at most a year
DEFAULT_REJECT_WINDOW = 20  # the orders `max_reject_rate` is measured over, unless `reject_window` says


@dataclass(frozen=True)
class AssetLimit:
    """`[risk.assets.<ASSET>]`: one asset's exposure summed over every venue (spot and perpetual legs net
    out), valued in the reporting currency."""

    asset: str
    max_net_notional: Decimal
    max_gross_notional: Decimal | None = None


@dataclass(frozen=True)
class CurrencyRate:
    """`[risk.currencies.<CCY>]`: a quote currency's value in the reporting currency (`rate`), and how far a
    marked rate may stray from it before trading in that currency stops (`max_depeg_bps`, None: no bound)."""

    currency: str
    rate: Decimal
    max_depeg_bps: int | None = None
    # marked from a book: (venue, the venue's symbol) of an instrument priced in another currency, e.g.
    # USDC by binance:USDCUSDT (its mid times USDT's rate); `rate` holds until the first mark
    mark: tuple[str, str] | None = None


@dataclass(frozen=True)
class RiskLimits:
    """`[risk]`: the aggregate limits, over every venue, in `reporting_currency`."""

    max_gross_notional: Decimal
    max_net_notional: Decimal
    max_open_orders: int
    max_orders_per_sec: int  # the key `orders_per_second` (or the older `max_orders_per_sec`)
    daily_loss_limit: Decimal
    daily_loss_halt: Decimal
    reporting_currency: str = "USD"
    assets: dict[str, AssetLimit] = field(default_factory=dict)
    currencies: dict[str, CurrencyRate] = field(default_factory=dict)

    @property
    def orders_per_second(self) -> int:
        """The operator's guide's name for `max_orders_per_sec`."""
        return self.max_orders_per_sec


@dataclass(frozen=True)
class VenueRisk:
    """`[venues.X.risk]`: one venue's limits. Notionals in the reporting currency unless said."""

    max_gross_notional: Decimal
    max_open_orders: int
    daily_loss_limit: Decimal
    daily_loss_halt: Decimal  # defaults to `daily_loss_limit`
    max_net_notional: Decimal | None = None
    max_position: Decimal | None = None  # per instrument, in instrument units
    max_order_qty: Decimal | None = None  # instrument units
    max_order_notional: Decimal | None = None  # quote units
    collar_bps: int | None = None  # the price collar around the reference


@dataclass(frozen=True)
class KillThresholds:
    """`[venues.X.kill]`: crossing any set threshold halts that venue (latched; reset is audited). None: not
    set (no such threshold)."""

    max_loss: Decimal | None = None  # the venue's loss today, reporting currency
    max_reject_rate: Decimal | None = None  # share of the last `reject_window` orders rejected, in (0, 1]
    reject_window: int = DEFAULT_REJECT_WINDOW
    max_unknown: int | None = None  # orders of unknown outcome at once
    max_disconnected_s: float | None = None  # a stream down this long
    watchdog_s: float | None = None  # no dead-man switch: stream/feed gone this long -> cancel all, halt


def positive_decimal(section: str, key: str, raw: object) -> Decimal:
    """A decimal string (or integer) > 0 that the gate can hold."""
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


def positive_int(section: str, key: str, raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise ConfigError(f"[{section}] {key} must be an integer > 0, got {raw!r}")
    if raw > MAX_COUNT:
        raise ConfigError(f"[{section}] {key} = {raw} is out of range (at most {MAX_COUNT})")
    return raw


def _positive_seconds(section: str, key: str, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw <= MAX_SECONDS:
        raise ConfigError(f"[{section}] {key} must be seconds > 0 (at most a year), got {raw!r}")
    return float(raw)


def _share(section: str, key: str, raw: object) -> Decimal:
    """A share in (0, 1], written as a number or a decimal string."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ConfigError(f"[{section}] {key} must be a number in (0, 1], got {raw!r}")
    try:
        d = Decimal(str(raw))
    except InvalidOperation:
        raise ConfigError(f"[{section}] {key} = {raw!r} is not a number") from None
    if not d.is_finite() or not 0 < d <= 1:
        raise ConfigError(f"[{section}] {key} must be in (0, 1], got {raw!r}")
    return d


def _table(section: str, raw: object, known: set[str] | frozenset[str]) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise ConfigError(f"[{section}] must be a table, got {type(raw).__name__}")
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"[{section}] has unknown keys: {', '.join(sorted(map(str, unknown)))}")
    return raw


def _currency(section: str, key: str, raw: object) -> str:
    if not isinstance(raw, str) or not raw.isalnum() or len(raw) > 12:
        raise ConfigError(f"[{section}] {key} must be a currency code like USD, got {raw!r}")
    return raw


_AGGREGATE = frozenset(
    {
        "reporting_currency",
        "max_gross_notional",
        "max_net_notional",
        "max_open_orders",
        "orders_per_second",
        "max_orders_per_sec",
        "daily_loss_limit",
        "daily_loss_halt",
        "assets",
        "currencies",
    }
)
_REQUIRED = ("max_gross_notional", "max_net_notional", "max_open_orders", "daily_loss_limit")


def parse_risk(raw: object) -> RiskLimits:
    """`[risk]` with its `assets` and `currencies` tables."""
    t = _table("risk", raw, _AGGREGATE)
    if "orders_per_second" in t and "max_orders_per_sec" in t:
        raise ConfigError("[risk] has both orders_per_second and max_orders_per_sec (keep orders_per_second)")
    ops_key = "max_orders_per_sec" if "max_orders_per_sec" in t else "orders_per_second"
    missing = [k for k in _REQUIRED if k not in t] + ([] if ops_key in t else ["orders_per_second"])
    if missing:
        raise ConfigError(f"[risk] is missing {', '.join(sorted(missing))} (every limit must be explicit)")
    limit = positive_decimal("risk", "daily_loss_limit", t["daily_loss_limit"])
    halt = positive_decimal("risk", "daily_loss_halt", t.get("daily_loss_halt", str(limit)))
    if halt < limit:
        raise ConfigError("[risk] daily_loss_halt is below daily_loss_limit")
    reporting = _currency("risk", "reporting_currency", t.get("reporting_currency", "USD"))
    limits = RiskLimits(
        positive_decimal("risk", "max_gross_notional", t["max_gross_notional"]),
        positive_decimal("risk", "max_net_notional", t["max_net_notional"]),
        positive_int("risk", "max_open_orders", t["max_open_orders"]),
        positive_int("risk", ops_key, t[ops_key]),
        limit,
        halt,
        reporting_currency=reporting,
        assets=_assets(t.get("assets", {})),
        currencies=_currencies(t.get("currencies", {}), reporting),
    )
    _check_assets(limits)
    return limits


def _assets(raw: object) -> dict[str, AssetLimit]:
    if not isinstance(raw, dict):
        raise ConfigError(f"[risk.assets] must be a table of assets, got {type(raw).__name__}")
    out: dict[str, AssetLimit] = {}
    for asset, body in raw.items():
        section = f"risk.assets.{asset}"
        t = _table(section, body, {"max_net_notional", "max_gross_notional"})
        if "max_net_notional" not in t:
            raise ConfigError(f"[{section}] is missing max_net_notional (every limit must be explicit)")
        gross = t.get("max_gross_notional")
        out[asset] = AssetLimit(
            asset,
            positive_decimal(section, "max_net_notional", t["max_net_notional"]),
            None if gross is None else positive_decimal(section, "max_gross_notional", gross),
        )
    return out


def _currencies(raw: object, reporting: str) -> dict[str, CurrencyRate]:
    if not isinstance(raw, dict):
        raise ConfigError(f"[risk.currencies] must be a table of currencies, got {type(raw).__name__}")
    out: dict[str, CurrencyRate] = {}
    for ccy, body in raw.items():
        section = f"risk.currencies.{ccy}"
        t = _table(section, body, {"rate", "max_depeg_bps", "mark"})
        if "rate" not in t:
            raise ConfigError(f"[{section}] is missing rate (its value in the reporting currency)")
        rate = positive_decimal(section, "rate", t["rate"])
        if ccy == reporting and rate != 1:
            raise ConfigError(f'[{section}] rate = "{rate}" must be 1: {ccy} is the reporting currency')
        depeg = t.get("max_depeg_bps")
        bps = None if depeg is None else positive_int(section, "max_depeg_bps", depeg)
        if bps is not None and bps > 10_000:
            raise ConfigError(f"[{section}] max_depeg_bps = {bps} is above 10000 (100%)")
        mark = t.get("mark")
        if mark is not None and (
            not isinstance(mark, str) or mark.count(":") != 1 or ":" in (mark[0], mark[-1])
        ):
            raise ConfigError(
                f'[{section}] mark must be "venue:SYMBOL" (e.g. "binance:USDCUSDT"), got {mark!r}'
            )
        if mark is not None and ccy == reporting:
            raise ConfigError(f"[{section}] mark: {ccy} is the reporting currency (its rate is 1)")
        marked = None if mark is None else (mark.split(":")[0], mark.split(":")[1])
        out[ccy] = CurrencyRate(ccy, rate, bps, marked)
    return out


def _above(section: str, key: str, value: object, agg_key: str, agg: object) -> ConfigError:
    return ConfigError(f'[{section}] {key} = "{value}" is above [risk] {agg_key} = "{agg}"')


def _check_assets(r: RiskLimits) -> None:
    for a in r.assets.values():
        section = f"risk.assets.{a.asset}"
        if a.max_net_notional > r.max_net_notional:
            raise _above(
                section, "max_net_notional", a.max_net_notional, "max_net_notional", r.max_net_notional
            )
        if a.max_gross_notional is not None and a.max_gross_notional > r.max_gross_notional:
            raise _above(
                section,
                "max_gross_notional",
                a.max_gross_notional,
                "max_gross_notional",
                r.max_gross_notional,
            )


_VENUE_RISK = frozenset(
    {
        "max_gross_notional",
        "max_net_notional",
        "max_open_orders",
        "daily_loss_limit",
        "daily_loss_halt",
        "max_position",
        "max_order_qty",
        "max_order_notional",
        "collar_bps",
    }
)


def _optional_decimal(section: str, t: Mapping[str, object], key: str) -> Decimal | None:
    return None if key not in t else positive_decimal(section, key, t[key])


def parse_venue_risk(venue: str, raw: object) -> VenueRisk:
    """`[venues.<venue>.risk]`: gross notional, open orders and daily loss are required."""
    section = f"venues.{venue}.risk"
    t = _table(section, raw, _VENUE_RISK)
    missing = sorted({"max_gross_notional", "max_open_orders", "daily_loss_limit"} - set(t))
    if missing:
        raise ConfigError(f"[{section}] is missing {', '.join(missing)} (every limit must be explicit)")
    limit = positive_decimal(section, "daily_loss_limit", t["daily_loss_limit"])
    halt = positive_decimal(section, "daily_loss_halt", t.get("daily_loss_halt", str(limit)))
    if halt < limit:
        raise ConfigError(f"[{section}] daily_loss_halt is below daily_loss_limit")
    collar = t.get("collar_bps")
    return VenueRisk(
        max_gross_notional=positive_decimal(section, "max_gross_notional", t["max_gross_notional"]),
        max_open_orders=positive_int(section, "max_open_orders", t["max_open_orders"]),
        daily_loss_limit=limit,
        daily_loss_halt=halt,
        max_net_notional=_optional_decimal(section, t, "max_net_notional"),
        max_position=_optional_decimal(section, t, "max_position"),
        max_order_qty=_optional_decimal(section, t, "max_order_qty"),
        max_order_notional=_optional_decimal(section, t, "max_order_notional"),
        collar_bps=None if collar is None else positive_int(section, "collar_bps", collar),
    )


_KILL = frozenset(
    {"max_loss", "max_reject_rate", "reject_window", "max_unknown", "max_disconnected_s", "watchdog_s"}
)


def parse_kill(venue: str, raw: object) -> KillThresholds:
    """`[venues.<venue>.kill]`: every threshold optional, each > 0; a reject rate in (0, 1]."""
    section = f"venues.{venue}.kill"
    t = _table(section, raw, _KILL)

    def seconds(key: str) -> float | None:
        return None if key not in t else _positive_seconds(section, key, t[key])

    return KillThresholds(
        max_loss=_optional_decimal(section, t, "max_loss"),
        max_reject_rate=None
        if "max_reject_rate" not in t
        else _share(section, "max_reject_rate", t["max_reject_rate"]),
        reject_window=positive_int(section, "reject_window", t.get("reject_window", DEFAULT_REJECT_WINDOW)),
        max_unknown=None
        if "max_unknown" not in t
        else positive_int(section, "max_unknown", t["max_unknown"]),
        max_disconnected_s=seconds("max_disconnected_s"),
        watchdog_s=seconds("watchdog_s"),
    )


def check_venue_against(
    venue: str, orders_per_second: int | None, risk: VenueRisk | None, kill: KillThresholds, agg: RiskLimits
) -> None:
    """A venue's limits no looser than the aggregate's where that makes no sense (a venue cannot hold more
    than every venue together may)."""
    if orders_per_second is not None and orders_per_second > agg.max_orders_per_sec:
        raise ConfigError(
            f"[venues.{venue}] orders_per_second = {orders_per_second} is above [risk] orders_per_second = "
            f"{agg.max_orders_per_sec}"
        )
    if kill.max_loss is not None and kill.max_loss > agg.daily_loss_halt:
        raise _above(
            f"venues.{venue}.kill", "max_loss", kill.max_loss, "daily_loss_halt", agg.daily_loss_halt
        )
    if risk is None:
        return
    section = f"venues.{venue}.risk"
    pairs: list[tuple[str, Decimal | int | None, str, Decimal | int]] = [
        ("max_gross_notional", risk.max_gross_notional, "max_gross_notional", agg.max_gross_notional),
        ("max_net_notional", risk.max_net_notional, "max_net_notional", agg.max_net_notional),
        ("daily_loss_limit", risk.daily_loss_limit, "daily_loss_halt", agg.daily_loss_halt),
        ("daily_loss_halt", risk.daily_loss_halt, "daily_loss_halt", agg.daily_loss_halt),
    ]
    for key, value, agg_key, agg_value in pairs:
        if value is not None and value > agg_value:
            raise _above(section, key, value, agg_key, agg_value)
    if risk.max_open_orders > agg.max_open_orders:
        raise ConfigError(
            f"[{section}] max_open_orders = {risk.max_open_orders} is above [risk] max_open_orders = "
            f"{agg.max_open_orders}"
        )
