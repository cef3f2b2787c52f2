"""The strategies a paper or live session trades, with engine limits sized for them: the demo market
maker, one sized from a crypto venue's filters, the ETF market maker and pairs for brokers, the binary
market maker for prediction markets. (`trader.sim.session.PaperSession` runs the engine in simulated time.)
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from trader.config import RiskLimits
from trader.engine.engine import DEFAULT_RISK, EngineConfig
from trader.strategies.binary_mm import BinaryMarketMaker, BinaryMarketMakerParams
from trader.strategies.market_maker import MarketMaker, MarketMakerParams
from trader.strategies.pairs import PairsParams, PairsStatArb
from trader.venues.base import InstrumentInfo

INSTRUMENT = "BTCUSDT"


def demo_market_maker() -> MarketMaker:
    """The demo's market maker: 0.05 BTC quotes on the 0.01 tick, at most 0.4 BTC inventory."""
    return MarketMaker(
        MarketMakerParams(instrument=INSTRUMENT, tick=1, order_qty=50, max_inventory=400, gamma=0.05)
    )


def sized_market_maker(
    info: InstrumentInfo,
    mid: Decimal,
    *,
    quote_notional: Decimal = Decimal(25),
    max_inventory_quotes: int = 4,
    min_spread_bps: float = 30.0,
    risk: RiskLimits = DEFAULT_RISK,
) -> tuple[MarketMaker, EngineConfig]:
    """A market maker sized from the venue's own filters: each quote is the larger of `quote_notional`
    and 1.5 x the venue's minimum notional (and at least its minimum quantity), rounded up to the lot;
    quotes at least `min_spread_bps` wide (altcoins: wide). Returns it with an engine configuration
    whose per-instrument limits (in the instrument's units) fit it."""
    lot, min_qty = Decimal(info.lot_size), Decimal(info.min_qty or "0")
    target = max(quote_notional, Decimal(info.min_notional or "0") * Decimal("1.5"))
    qty = max(min_qty, (target / mid / lot).to_integral_value(ROUND_CEILING) * lot)
    spec = info.spec()
    units = spec.qty_to_units(str(qty.quantize(lot)))
    params = MarketMakerParams(
        instrument=info.symbol,
        tick=spec.tick,
        order_qty=units,
        max_inventory=units * max_inventory_quotes,
        gamma=0.05,
        min_sigma=float(mid / Decimal(info.tick_size)) * 1e-4,
        min_spread_bps=min_spread_bps,
    )
    config = EngineConfig(
        symbol=info.symbol,
        risk=risk,
        max_order_qty=str(qty * 2),
        max_order_notional=str((qty * mid * 2).quantize(Decimal(1), ROUND_CEILING)),
        max_position=str(qty * (max_inventory_quotes + 2)),
    )
    return MarketMaker(params), config


def equity_market_maker(
    symbol: str, *, tick: int = 1, shares: int = 1, max_shares: int = 10
) -> tuple[MarketMaker, EngineConfig]:
    """A market maker for a liquid ETF (SPY, QQQ) through a broker: whole shares, limit orders (brokers
    route to exchanges without a post-only flag), at least 2 bps wide. `tick` is the penny counted in the
    connector's price units."""
    params = MarketMakerParams(
        instrument=symbol,
        tick=tick,
        order_qty=shares,
        max_inventory=max_shares,
        gamma=0.05 / tick,
        min_sigma=2.0 * tick,
        min_spread_bps=2.0,
        post_only=False,
        allow_short=False,
        # a requote is a cancel, a lookup and a new order: brokers' request budgets (Alpaca: 200 a
        # minute) allow about one a second, so quotes move only when the price moved 3 cents
        requote_ticks=3,
    )
    config = EngineConfig(
        symbol=symbol,
        max_order_qty=str(shares * 2),
        max_order_notional=str(shares * 2 * 2000),
        max_position=str(max_shares + shares),
        venue_max_gross_notional="100000",
    )
    return MarketMaker(params), config


def equity_pairs(leg_a: str, leg_b: str, *, shares: int = 2) -> tuple[PairsStatArb, EngineConfig]:
    """Pairs stat-arb on two liquid ETFs through a broker (rehearsal settings: half-second bars, a short
    window, so it trades within a paper session)."""
    params = PairsParams(
        leg_a=leg_a,
        leg_b=leg_b,
        qty_a=shares,
        window=12,
        bar_s=0.25,
        entry_z=1.0,
        exit_z=0.2,
        stop_z=4.0,
        leg_timeout_s=2.0,
    )
    config = EngineConfig(
        symbol=leg_a,
        also=(leg_b,),
        max_order_qty=str(shares * 4),
        max_order_notional=str(shares * 4 * 2000),
        max_position=str(shares * 6),
        venue_max_gross_notional="100000",
        collar_bps=100,
    )
    return PairsStatArb(params), config


def binary_market_maker(
    condition_id: str,
    *,
    end_ns: int,
    tick: str = "0.01",
    shares: int = 10,
    max_shares: int = 50,
    stop_before_s: float = 3600.0,
) -> tuple[BinaryMarketMaker, EngineConfig]:
    """The binary-outcome market maker on a Polymarket market's YES and NO tokens (the connector's
    instruments `<condition>:YES` / `<condition>:NO`, prices in ticks, sizes in millionths of a share)."""
    one = int(1 / Decimal(tick))
    micro = 1_000_000
    yes, no = f"{condition_id}:YES", f"{condition_id}:NO"
    params = BinaryMarketMakerParams(
        yes=yes,
        no=no,
        one=one,
        order_qty=shares * micro,
        max_inventory=max_shares * micro,
        half_spread=max(1, one // 100),
        end_ns=end_ns,  # the market's end (Gamma's endDate): quoting stops `stop_before_s` before it
        stop_before_s=stop_before_s,
        skew=max(1, one // 50),
    )
    config = EngineConfig(
        symbol=yes,
        also=(no,),
        max_order_qty=str(shares * 2),
        max_order_notional=str(shares * 2),
        max_position=str(max_shares + shares),
        max_open_orders=8,
        collar_bps=3000,  # prices live in (0, 1): a few ticks are many basis points
        venue_max_gross_notional="10000",
    )
    return BinaryMarketMaker(params), config
