//! Many venues under one gate: venue throttles and daily-loss latches, quote currencies and their
//! depeg guard, and exposure per asset across venues.

use super::*;
use crate::types::{InstrumentSpec, Side};

const N: i128 = 1_000_000_000_000_000_000; // one reporting-currency unit in notional units
const T0: u64 = 1_000_000_000_000;
const SEC: u64 = 1_000_000_000;

fn spec() -> InstrumentSpec {
    InstrumentSpec::new("0.5", "1", Some("1"), Some("1000"), Some("10"), None, None).unwrap()
}

fn global() -> GlobalLimits {
    GlobalLimits {
        max_gross_notional: 1_000_000 * N,
        max_net_notional: 1_000_000 * N,
        max_open_orders: 100,
        max_orders_per_sec: 100,
        daily_loss_limit: 100_000 * N,
        daily_loss_halt: 100_000 * N,
        duplicate_window_ns: 0,
        max_reference_age_ns: 1_000 * SEC,
    }
}

fn inst_limits() -> InstrumentLimits {
    InstrumentLimits {
        max_order_qty: 60,
        max_order_notional: 4_000 * N,
        max_position: 120,
        max_open_orders: 20,
        collar_bps: 500,
    }
}

fn venue(per_sec: Option<u32>, loss: Option<(i128, i128)>) -> VenueLimits {
    VenueLimits {
        max_gross_notional: 12_000 * N,
        max_net_notional: None,
        max_open_orders: 30,
        max_orders_per_sec: per_sec,
        daily_loss_limit: loss.map(|l| l.0),
        daily_loss_halt: loss.map(|l| l.1),
    }
}

/// Two venues, one strategy; `alpha` spot and `beta` perp of one asset, `beta` quoted in a currency.
struct Multi {
    g: RiskGate,
    spot: u32,
    perp: u32,
    other: u32,
    usdt: u32,
    btc: u32,
}

fn multi(asset_limits: AssetLimits, max_depeg_bps: Option<u32>) -> Multi {
    let mut g = RiskGate::new(global()).unwrap();
    let a = g.add_venue("alpha", venue(Some(5), Some((300 * N, 600 * N)))).unwrap();
    let b = g.add_venue("beta", venue(None, None)).unwrap();
    g.add_strategy("s", StrategyLimits { max_orders_per_sec: 100 }).unwrap();
    let usdt = g.add_currency("USDT", RATE_ONE, CurrencyLimits { max_depeg_bps }).unwrap();
    let btc = g.add_asset("BTC", asset_limits).unwrap();
    let spot = g.add_instrument_in(a, "BTCUSD", spec(), inst_limits(), None, Some(btc)).unwrap();
    let perp = g.add_instrument_in(b, "BTC-PERP", spec(), inst_limits(), Some(usdt), Some(btc)).unwrap();
    let other = g.add_instrument_in(a, "ETHUSD", spec(), inst_limits(), None, None).unwrap();
    for i in [spot, perp, other] {
        g.set_reference(i, 198, 202, T0).unwrap(); // mark 100.0: one lot is worth 100
    }
    Multi { g, spot, perp, other, usdt, btc }
}

fn btc(net: i128) -> AssetLimits {
    AssetLimits { max_net_notional: net * N, max_gross_notional: None }
}

fn limit(instrument: u32, side: Side, price: i64, qty: i64) -> OrderRequest {
    OrderRequest {
        strategy: 0,
        instrument,
        side,
        order_type: OrderType::Limit,
        price,
        qty,
        tif: TimeInForce::Gtc,
        expire_ns: 0,
        reduce_only: false,
        post_only: false,
    }
}

fn denied(r: Result<Approval, Denial>) -> Denial {
    r.expect_err("expected a denial")
}

fn filled(g: &mut RiskGate, instrument: u32, side: Side, price: i64, qty: i64) {
    let a = g.check(&limit(instrument, side, price, qty), T0).unwrap();
    g.on_fill(a.key(), qty, price, 0).unwrap();
}

#[test]
fn new_limits_are_validated() {
    let mut g = RiskGate::new(global()).unwrap();
    assert!(g.add_venue("t0", venue(Some(0), None)).is_err());
    assert!(g.add_venue("t1", venue(Some(u32::MAX), None)).is_err());
    assert!(g.add_venue("l0", venue(None, Some((0, 0)))).is_err());
    assert!(g.add_venue("l1", venue(None, Some((-N, N)))).is_err());
    assert!(g.add_venue("l2", venue(None, Some((2 * N, N)))).is_err(), "halt below limit");
    let mut halt_only = venue(None, None);
    halt_only.daily_loss_halt = Some(N);
    assert!(g.add_venue("l3", halt_only).is_err());
    let mut halt_default = venue(None, None);
    halt_default.daily_loss_limit = Some(N);
    assert_eq!(halt_default.daily_loss(), Some((N, N)));
    assert!(g.add_venue("ok", halt_default).is_ok());
    assert!(g.add_asset("A", AssetLimits { max_net_notional: 0, max_gross_notional: None }).is_err());
    assert!(g.add_asset("A", AssetLimits { max_net_notional: N, max_gross_notional: Some(0) }).is_err());
    assert!(g.add_asset("A", btc(1)).is_ok());
    assert!(g.add_asset("A", btc(1)).is_err(), "duplicate asset");
    assert!(g.add_currency("C", RATE_ONE, CurrencyLimits { max_depeg_bps: Some(0) }).is_err());
    assert!(g.add_currency("C", 0, CurrencyLimits { max_depeg_bps: None }).is_err());
    assert!(g.add_currency("C", -1, CurrencyLimits { max_depeg_bps: None }).is_err());
    let c = g.add_currency("C", RATE_ONE, CurrencyLimits { max_depeg_bps: None }).unwrap();
    assert!(g.add_currency("C", RATE_ONE, CurrencyLimits { max_depeg_bps: None }).is_err(), "duplicate currency");
    assert!(g.set_rate(c, 0).is_err());
    assert!(g.set_rate(9, RATE_ONE).is_err());
    assert!(g.add_instrument_in(0, "X", spec(), inst_limits(), Some(9), None).is_err());
    assert!(g.add_instrument_in(0, "X", spec(), inst_limits(), None, Some(9)).is_err());
    assert_eq!(rate_from_notional(N).unwrap(), RATE_ONE);
    assert_eq!(rate_from_notional(N / 2).unwrap(), RATE_ONE / 2);
    assert!(rate_from_notional(1).is_err(), "finer than 1e-9");
    assert!(rate_from_notional(0).is_err());
    assert!(g.venue_daily_pnl(9).is_err() && g.asset_net(9).is_err() && g.currency_rate(9).is_err());
}

#[test]
fn venue_throttle_is_per_venue() {
    let mut m = multi(btc(100_000), Some(50));
    for k in 0..5 {
        assert!(m.g.check(&limit(m.spot, Side::Buy, 190 - k, 1), T0).is_ok());
    }
    let d = denied(m.g.check(&limit(m.spot, Side::Buy, 180, 1), T0));
    assert_eq!(d.reason, DenyReason::OrderRateLimit);
    assert!(d.detail.contains("venue order rate") && d.detail.contains("alpha"), "{}", d.detail);
    // the same venue's other instrument shares the throttle; the other venue has none of its own
    assert_eq!(denied(m.g.check(&limit(m.other, Side::Buy, 180, 1), T0)).reason, DenyReason::OrderRateLimit);
    for k in 0..8 {
        assert!(m.g.check(&limit(m.perp, Side::Buy, 190 - k, 1), T0).is_ok());
    }
    assert!(m.g.check(&limit(m.spot, Side::Buy, 180, 1), T0 + SEC + 1).is_ok(), "a second later it passes");
}

#[test]
fn venue_daily_loss_latches_that_venue_only() {
    let mut m = multi(btc(100_000), Some(50));
    filled(&mut m.g, m.spot, Side::Buy, 200, 10); // long 10 at 100
    filled(&mut m.g, m.perp, Side::Buy, 200, 10);
    m.g.set_reference(m.spot, 138, 142, T0).unwrap(); // mark 70: alpha loses 300 -> REDUCING
    assert_eq!(m.g.venue_daily_pnl(0).unwrap(), -300 * N);
    assert_eq!(m.g.venue_daily_pnl(1).unwrap(), 0);
    assert_eq!(m.g.daily_pnl(), -300 * N);
    assert_eq!(m.g.trading_state(Scope::Venue(0)).unwrap(), TradingState::Reducing);
    assert_eq!(m.g.trading_state(Scope::Venue(1)).unwrap(), TradingState::Active);
    assert_eq!(m.g.trading_state(Scope::Global).unwrap(), TradingState::Active);
    let d = denied(m.g.check(&limit(m.spot, Side::Buy, 140, 1), T0));
    assert_eq!(d.reason, DenyReason::DailyLossLimit);
    assert!(d.detail.contains("alpha"), "{}", d.detail);
    assert_eq!(denied(m.g.check(&limit(m.other, Side::Buy, 190, 1), T0)).reason, DenyReason::DailyLossLimit);
    assert!(m.g.check(&limit(m.spot, Side::Sell, 140, 2), T0).is_ok(), "reducing passes");
    assert!(m.g.check(&limit(m.perp, Side::Buy, 200, 1), T0).is_ok(), "beta trades on");
    // recovering does not clear the latch; a deeper loss halts
    m.g.set_reference(m.spot, 198, 202, T0).unwrap();
    assert_eq!(m.g.trading_state(Scope::Venue(0)).unwrap(), TradingState::Reducing);
    m.g.set_reference(m.spot, 78, 82, T0).unwrap(); // mark 40: -600
    assert_eq!(m.g.trading_state(Scope::Venue(0)).unwrap(), TradingState::Halted);
    assert_eq!(m.g.venue_loss_state(0).unwrap(), TradingState::Halted);
    let d = denied(m.g.check(&limit(m.spot, Side::Sell, 80, 1), T0));
    assert_eq!(d.reason, DenyReason::DailyLossLimit);
    assert!(d.detail.contains("alpha"));
    assert!(m.g.check(&limit(m.perp, Side::Buy, 201, 1), T0).is_ok(), "beta still trades");
    m.g.reset_daily(T0);
    assert_eq!(m.g.venue_daily_pnl(0).unwrap(), 0);
    assert_eq!(m.g.trading_state(Scope::Venue(0)).unwrap(), TradingState::Active);
    assert!(m.g.check(&limit(m.spot, Side::Buy, 80, 1), T0 + SEC).is_ok());
    // the venue's own state still composes with its loss state
    m.g.set_trading_state(Scope::Venue(0), TradingState::Halted).unwrap();
    assert_eq!(m.g.trading_state(Scope::Venue(0)).unwrap(), TradingState::Halted);
}

#[test]
fn aggregates_are_in_the_reporting_currency() {
    let mut m = multi(btc(100_000), None);
    m.g.set_rate(m.usdt, RATE_ONE / 2).unwrap(); // 0.5: the perp's 100 is worth 50
    assert_eq!(m.g.currency_rate(m.usdt).unwrap(), RATE_ONE / 2);
    let a = m.g.check(&limit(m.perp, Side::Buy, 200, 30), T0).unwrap();
    assert_eq!(a.notional(), 3_000 * N, "the order's notional stays in its own units");
    assert_eq!(m.g.venue_gross_exposure(1).unwrap(), 1_500 * N);
    assert_eq!(m.g.gross_exposure(), 1_500 * N);
    assert_eq!(m.g.asset_exposure(m.btc).unwrap(), (1_500 * N, 0));
    // the per-instrument notional limit is in the instrument's units: 41 lots x 100 > 4000
    assert_eq!(denied(m.g.check(&limit(m.perp, Side::Buy, 200, 41), T0)).reason, DenyReason::MaxOrderNotional);
    m.g.on_fill(a.key(), 30, 200, 0).unwrap();
    assert_eq!(m.g.asset_net(m.btc).unwrap(), 1_500 * N);
    m.g.set_reference(m.perp, 218, 222, T0).unwrap(); // mark 110: +300 USDT = +150
    assert_eq!(m.g.daily_pnl(), 150 * N);
    assert_eq!(m.g.venue_daily_pnl(1).unwrap(), 150 * N);
    m.g.set_rate(m.usdt, RATE_ONE).unwrap(); // every aggregate re-valued
    assert_eq!(m.g.daily_pnl(), 300 * N);
    assert_eq!(m.g.gross_exposure(), 3_300 * N);
    assert_eq!(m.g.net_exposure(), (3_300 * N, 3_300 * N));
    assert_eq!(m.g.asset_net(m.btc).unwrap(), 3_300 * N);
    assert_eq!(m.g.view(m.perp).unwrap().gross, 3_300 * N);
    // a rate of 1/3 (to 9 places) truncates toward zero
    m.g.set_rate(m.usdt, RATE_ONE / 3).unwrap();
    assert_eq!(m.g.asset_net(m.btc).unwrap(), 3_300 * N * (RATE_ONE / 3) / RATE_ONE);
}

#[test]
fn depeg_denies_new_exposure_but_not_reductions() {
    let mut m = multi(btc(100_000), Some(50));
    filled(&mut m.g, m.perp, Side::Buy, 200, 10);
    m.g.set_rate(m.usdt, RATE_ONE + RATE_ONE / 200).unwrap(); // 1.005: 50 bps, at the bound
    assert!(!m.g.is_depegged(m.usdt).unwrap());
    assert!(m.g.check(&limit(m.perp, Side::Buy, 200, 1), T0).is_ok());
    m.g.set_rate(m.usdt, RATE_ONE - RATE_ONE / 200 - 1).unwrap(); // just below 0.995
    assert!(m.g.is_depegged(m.usdt).unwrap());
    let d = denied(m.g.check(&limit(m.perp, Side::Buy, 199, 1), T0));
    assert_eq!(d.reason, DenyReason::CurrencyDepeg);
    assert!(d.detail.contains("USDT"));
    assert!(m.g.check(&limit(m.perp, Side::Sell, 201, 5), T0).is_ok(), "reducing passes");
    assert!(m.g.check(&limit(m.spot, Side::Buy, 199, 1), T0).is_ok(), "the reporting currency is unaffected");
    m.g.set_rate(m.usdt, RATE_ONE).unwrap();
    assert!(m.g.check(&limit(m.perp, Side::Buy, 198, 1), T0).is_ok(), "back on its peg");
}

#[test]
fn asset_exposure_spans_venues_and_nets() {
    let mut m = multi(btc(1_000), Some(50));
    let a = m.g.check(&limit(m.spot, Side::Buy, 200, 8), T0).unwrap(); // long 800 on alpha
    let d = denied(m.g.check(&limit(m.perp, Side::Buy, 200, 3), T0)); // beta allows 300, BTC does not
    assert_eq!(d.reason, DenyReason::AssetExposureLimit);
    assert!(d.detail.contains("BTC"));
    assert!(m.g.check(&limit(m.other, Side::Buy, 200, 30), T0).is_ok(), "another asset is not counted");
    m.g.on_fill(a.key(), 8, 200, 0).unwrap();
    filled(&mut m.g, m.perp, Side::Sell, 200, 5); // perp short 5 on beta: nets against the spot
    assert_eq!(m.g.asset_net(m.btc).unwrap(), 300 * N);
    assert_eq!(m.g.asset_exposure(m.btc).unwrap(), (300 * N, 300 * N));
    assert!(m.g.check(&limit(m.perp, Side::Buy, 200, 7), T0).is_ok(), "300 + 700 = the limit");
    assert_eq!(denied(m.g.check(&limit(m.spot, Side::Buy, 199, 1), T0)).reason, DenyReason::AssetExposureLimit);
    // the short side: 300 - 1400 is below -1000, 300 - 1300 is at it
    assert_eq!(denied(m.g.check(&limit(m.perp, Side::Sell, 201, 14), T0)).reason, DenyReason::AssetExposureLimit);
    assert!(m.g.check(&limit(m.perp, Side::Sell, 201, 13), T0).is_ok());
    // reducing is never denied for exposure
    assert!(m.g.check(&limit(m.spot, Side::Sell, 202, 8), T0).is_ok());
}

#[test]
fn asset_gross_limit() {
    let mut m = multi(AssetLimits { max_net_notional: 100_000 * N, max_gross_notional: Some(1_000 * N) }, Some(50));
    filled(&mut m.g, m.spot, Side::Buy, 200, 6);
    filled(&mut m.g, m.perp, Side::Sell, 200, 4);
    assert_eq!(m.g.asset_gross(m.btc).unwrap(), 1_000 * N);
    assert_eq!(m.g.asset_net(m.btc).unwrap(), 200 * N);
    assert_eq!(denied(m.g.check(&limit(m.perp, Side::Sell, 200, 1), T0)).reason, DenyReason::AssetExposureLimit);
    assert!(m.g.check(&limit(m.perp, Side::Buy, 199, 4), T0).is_ok(), "reducing the perp short");
}
