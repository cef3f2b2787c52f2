use proptest::prelude::*;

use super::*;
use crate::ratelimit::{Quota, WindowKind, WindowSpec};
use crate::types::{InstrumentSpec, Side};

const N: i128 = 1_000_000_000_000_000_000; // one quote unit in notional units

fn spec() -> InstrumentSpec {
    // price unit 0.5 with a tick of 1 unit; qty unit 1 with a lot of 1 and min 1
    InstrumentSpec::new("0.5", "1", Some("1"), Some("1000"), Some("10"), None, None).unwrap()
}

fn global() -> GlobalLimits {
    GlobalLimits {
        max_gross_notional: 20_000 * N,
        max_net_notional: 15_000 * N,
        max_open_orders: 12,
        max_orders_per_sec: 40,
        daily_loss_limit: 300 * N,
        daily_loss_halt: 600 * N,
        duplicate_window_ns: 100_000_000,
        max_reference_age_ns: 2_000_000_000,
    }
}

fn inst_limits() -> InstrumentLimits {
    InstrumentLimits {
        max_order_qty: 60,
        max_order_notional: 4_000 * N,
        max_position: 120,
        max_open_orders: 6,
        collar_bps: 500,
    }
}

fn gate() -> RiskGate {
    let mut g = RiskGate::new(global()).unwrap();
    let v0 = g.add_venue("alpha", VenueLimits::new(12_000 * N, 9)).unwrap();
    let v1 = g.add_venue("beta", VenueLimits::new(12_000 * N, 9)).unwrap();
    g.add_strategy("mm", StrategyLimits { max_orders_per_sec: 25 }).unwrap();
    g.add_strategy("arb", StrategyLimits { max_orders_per_sec: 25 }).unwrap();
    g.add_instrument(v0, "AAA", spec(), inst_limits()).unwrap();
    g.add_instrument(v0, "BBB", spec(), inst_limits()).unwrap();
    g.add_instrument(v1, "AAA", spec(), inst_limits()).unwrap();
    g
}

fn limit(strategy: u32, instrument: u32, side: Side, price: i64, qty: i64) -> OrderRequest {
    OrderRequest {
        strategy,
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

const T0: u64 = 1_000_000_000_000;

fn ready() -> RiskGate {
    let mut g = gate();
    for i in 0..3 {
        g.set_reference(i, 198, 202, T0).unwrap(); // bid 99.0 ask 101.0
    }
    g
}

fn reason(r: Result<Approval, Denial>) -> DenyReason {
    r.expect_err("expected a denial").reason
}

#[test]
fn limits_must_be_positive() {
    let mut l = global();
    l.max_gross_notional = 0;
    assert!(RiskGate::new(l).is_err());
    let mut l = global();
    l.daily_loss_halt = 1;
    assert!(RiskGate::new(l).is_err());
    let mut g = gate();
    assert!(g.add_venue("x", VenueLimits::new(-1, 1)).is_err());
    assert!(g.add_venue("alpha", VenueLimits::new(1, 1)).is_err());
    assert!(g.add_strategy("s", StrategyLimits { max_orders_per_sec: 0 }).is_err());
    let mut il = inst_limits();
    il.collar_bps = 0;
    assert!(g.add_instrument(0, "CCC", spec(), il).is_err());
    assert!(g.add_instrument(7, "CCC", spec(), inst_limits()).is_err());
    assert!(g.add_instrument(0, "AAA", spec(), inst_limits()).is_err());
}

#[test]
fn per_order_checks() {
    let mut g = ready();
    let t = T0 + 1;
    assert_eq!(reason(g.check(&limit(0, 9, Side::Buy, 200, 1), t)), DenyReason::UnknownInstrument);
    assert_eq!(reason(g.check(&limit(9, 0, Side::Buy, 200, 1), t)), DenyReason::UnknownStrategy);
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 200, 0), t)), DenyReason::InvalidQuantity);
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 200, -3), t)), DenyReason::InvalidQuantity);
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 0, 1), t)), DenyReason::InvalidPrice);
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, -5, 1), t)), DenyReason::InvalidPrice);
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 198, 61), t)), DenyReason::MaxOrderQty);
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 2, 1), t)), DenyReason::BelowMinNotional);
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, i64::MAX, 60), t)), DenyReason::PriceCollar);
    // collar: ask 101.0 + 5% = 106.05 -> 212 units max for a buy
    assert!(g.check(&limit(0, 0, Side::Buy, 212, 1), t).is_ok());
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 213, 1), t)), DenyReason::PriceCollar);
    // sell: bid 99.0 - 5% = 94.05 -> 188.1 units, so 189 is the lowest allowed
    assert_eq!(reason(g.check(&limit(0, 0, Side::Sell, 188, 1), t)), DenyReason::PriceCollar);
    let mut gtd = limit(0, 0, Side::Buy, 190, 1);
    gtd.tif = TimeInForce::Gtd;
    gtd.expire_ns = t;
    assert_eq!(reason(g.check(&gtd, t)), DenyReason::InvalidExpiry);
    gtd.expire_ns = t + 10;
    assert!(g.check(&gtd, t).is_ok());
    let mut ioc = limit(0, 0, Side::Buy, 190, 2);
    ioc.tif = TimeInForce::Ioc;
    ioc.expire_ns = 5;
    assert_eq!(reason(g.check(&ioc, t)), DenyReason::InvalidExpiry);
    let mut fat = limit(0, 0, Side::Buy, 198, 2);
    fat.qty = 40;
    fat.price = 200; // 40 * 100.0 = 4000 -> at the notional limit, allowed
    assert!(g.check(&fat, t).is_ok());
    g.set_tradable(1, false).unwrap();
    assert_eq!(reason(g.check(&limit(0, 1, Side::Buy, 190, 1), t)), DenyReason::InstrumentNotTradable);
}

#[test]
fn tick_and_lot_in_finer_units() {
    let mut g = RiskGate::new(global()).unwrap();
    let v = g.add_venue("pm", VenueLimits::new(1000 * N, 10)).unwrap();
    g.add_strategy("s", StrategyLimits { max_orders_per_sec: 10 }).unwrap();
    // Polymarket-like: price unit 0.001, tick 0.01, lot 0.01 in qty units of 0.000001
    let s = InstrumentSpec::new("0.01", "0.01", Some("5"), None, None, Some("0.001"), Some("0.000001")).unwrap();
    let il = InstrumentLimits {
        max_order_qty: 100_000_000,
        max_order_notional: 100 * N,
        max_position: 1_000_000_000,
        max_open_orders: 5,
        collar_bps: 5000,
    };
    let i = g.add_instrument(v, "YES", s, il).unwrap();
    g.set_reference(i, 400, 420, T0).unwrap();
    assert_eq!(reason(g.check(&limit(0, i, Side::Buy, 405, 10_000_000), T0)), DenyReason::PriceNotOnTick);
    assert_eq!(reason(g.check(&limit(0, i, Side::Buy, 410, 10_005_000), T0)), DenyReason::QtyNotOnLot);
    assert_eq!(reason(g.check(&limit(0, i, Side::Buy, 410, 4_990_000), T0)), DenyReason::BelowMinQty);
    assert!(g.check(&limit(0, i, Side::Buy, 410, 10_000_000), T0).is_ok());
}

#[test]
fn reference_must_be_fresh_and_valid() {
    let mut g = gate();
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 200, 1), T0)), DenyReason::NoReferencePrice);
    g.set_reference(0, 198, 0, T0).unwrap();
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 200, 1), T0)), DenyReason::NoReferencePrice);
    assert!(g.check(&limit(0, 0, Side::Sell, 200, 1), T0).is_ok());
    g.set_reference(0, 198, 202, T0).unwrap();
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 200, 2), T0 + 2_000_000_001)), DenyReason::NoReferencePrice);
    g.invalidate_reference(0).unwrap();
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 200, 3), T0)), DenyReason::NoReferencePrice);
}

#[test]
fn a_reference_from_the_future_is_refused_not_fresh_forever() {
    use crate::risk::gate::MAX_REFERENCE_LEAD_NS;
    let mut g = gate();
    // stamped a day ahead (a venue clock mixed with ours): refused now and much later alike
    g.set_reference(0, 198, 202, T0 + 86_400_000_000_000).unwrap();
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 200, 1), T0)), DenyReason::ReferenceFromFuture);
    assert_eq!(
        reason(g.check(&limit(0, 0, Side::Buy, 200, 2), T0 + 3_600_000_000_000)),
        DenyReason::ReferenceFromFuture
    );
    // within the lead two readings of one clock can have: fresh
    g.set_reference(0, 198, 202, T0 + MAX_REFERENCE_LEAD_NS).unwrap();
    assert!(g.check(&limit(0, 0, Side::Buy, 200, 3), T0).is_ok());
    g.set_reference(0, 198, 202, T0 + MAX_REFERENCE_LEAD_NS + 1).unwrap();
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 200, 4), T0)), DenyReason::ReferenceFromFuture);
}

#[test]
fn market_orders_get_a_protective_price() {
    let mut g = ready();
    let mut m = limit(0, 0, Side::Buy, 0, 2);
    m.order_type = OrderType::Market;
    let a = g.check(&m, T0).unwrap();
    assert_eq!(a.request().price, 212); // 202 * 1.05 = 212.1 -> floor to tick
    g.on_closed(a.key()).unwrap();
    m.side = Side::Sell;
    m.qty = 3;
    let a = g.check(&m, T0).unwrap();
    assert_eq!(a.request().price, 189); // 198 * 0.95 = 188.1 -> ceil to tick
    m.price = 5;
    assert_eq!(reason(g.check(&m, T0)), DenyReason::InvalidPrice);
}

#[test]
fn duplicates_self_cross_and_counts() {
    let mut g = ready();
    let o = limit(0, 0, Side::Buy, 196, 5);
    let a = g.check(&o, T0).unwrap();
    assert_eq!(reason(g.check(&o, T0 + 50_000_000)), DenyReason::DuplicateIntent);
    // another strategy may send the same thing
    assert!(g.check(&limit(1, 0, Side::Buy, 196, 5), T0 + 1).is_ok());
    assert!(g.check(&o, T0 + 100_000_001).is_ok(), "outside the window it is a new intent");
    // self cross: our sell at or below our own best bid
    assert_eq!(reason(g.check(&limit(0, 0, Side::Sell, 196, 1), T0 + 2)), DenyReason::SelfCross);
    assert!(g.check(&limit(0, 0, Side::Sell, 197, 1), T0 + 2).is_ok());
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 197, 1), T0 + 3)), DenyReason::SelfCross);
    g.on_closed(a.key()).unwrap();
    assert_eq!(g.view(0).unwrap().open_orders, 3);
    // open-order count per instrument: 6
    for k in 0..3 {
        g.check(&limit(0, 0, Side::Buy, 180 + k, 1), T0 + 10 + k as u64).unwrap();
    }
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 170, 1), T0 + 20)), DenyReason::OpenOrderLimit);
    assert!(matches!(g.on_closed(999), Err(crate::error::CoreError::UnknownOrder(999))));
}

#[test]
fn position_limits_count_live_and_unknown_orders() {
    let mut g = ready();
    let a = g.check(&limit(0, 0, Side::Buy, 200, 40), T0).unwrap();
    g.on_unknown(a.key()).unwrap();
    g.check(&limit(0, 0, Side::Buy, 199, 40), T0 + 1).unwrap();
    g.check(&limit(0, 0, Side::Buy, 198, 40), T0 + 1).unwrap();
    // 120 in flight / unknown: one more lot breaches the position limit
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 197, 1), T0 + 2)), DenyReason::PositionLimit);
    g.on_fill(a.key(), 40, 200, 0).unwrap();
    assert_eq!(g.view(0).unwrap().position, 40);
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 197, 1), T0 + 3)), DenyReason::PositionLimit);
    // selling is fine: it reduces
    assert!(g.check(&limit(0, 0, Side::Sell, 200, 40), T0 + 4).is_ok());
}

#[test]
fn exposure_limits_across_venues() {
    let mut g = ready();
    // each order notional 40 * 100 = 4000; venue alpha max 12000 gross
    g.check(&limit(0, 0, Side::Buy, 200, 40), T0).unwrap();
    g.check(&limit(0, 0, Side::Buy, 199, 40), T0 + 1).unwrap();
    g.check(&limit(0, 1, Side::Buy, 200, 40), T0 + 2).unwrap();
    assert_eq!(reason(g.check(&limit(0, 1, Side::Buy, 199, 1), T0 + 3)), DenyReason::VenueExposureLimit);
    // the other venue has room, but the global net limit (15000) binds first
    g.check(&limit(0, 2, Side::Buy, 200, 20), T0 + 4).unwrap();
    assert_eq!(reason(g.check(&limit(0, 2, Side::Buy, 199, 20), T0 + 5)), DenyReason::NetExposureLimit);
    assert_eq!(g.gross_exposure(), 14_000 * N);
    assert_eq!(g.net_exposure().0, 14_000 * N);
}

#[test]
fn trading_states_and_kill_switch() {
    let mut g = ready();
    let a = g.check(&limit(0, 0, Side::Buy, 200, 10), T0).unwrap();
    g.on_fill(a.key(), 10, 200, 0).unwrap();
    g.set_trading_state(Scope::Venue(0), TradingState::Reducing).unwrap();
    assert_eq!(reason(g.check(&limit(0, 0, Side::Buy, 198, 1), T0 + 1)), DenyReason::TradingReducing);
    assert_eq!(reason(g.check(&limit(0, 0, Side::Sell, 202, 11), T0 + 1)), DenyReason::TradingReducing);
    assert!(g.check(&limit(0, 0, Side::Sell, 202, 10), T0 + 1).is_ok());
    assert!(g.check(&limit(0, 2, Side::Buy, 198, 1), T0 + 1).is_ok(), "other venue still active");
    let mut ro = limit(0, 2, Side::Sell, 202, 1);
    ro.reduce_only = true;
    assert_eq!(reason(g.check(&ro, T0 + 2)), DenyReason::ReduceOnlyWouldIncrease);
    g.set_trading_state(Scope::Strategy(1), TradingState::Halted).unwrap();
    assert_eq!(reason(g.check(&limit(1, 2, Side::Buy, 198, 1), T0 + 2)), DenyReason::TradingHalted);
    g.kill(Scope::Global, "operator", T0).unwrap();
    assert_eq!(reason(g.check(&limit(0, 2, Side::Buy, 197, 1), T0 + 3)), DenyReason::KillSwitch);
    assert!(matches!(
        g.set_trading_state(Scope::Global, TradingState::Active),
        Err(crate::error::CoreError::KillLatched(_))
    ));
    assert!(g.reset_kill(Scope::Global, " ", T0).is_err());
    g.reset_kill(Scope::Global, "alice", T0).unwrap();
    assert_eq!(reason(g.check(&limit(0, 2, Side::Buy, 197, 1), T0 + 4)), DenyReason::TradingHalted);
    g.set_trading_state(Scope::Global, TradingState::Active).unwrap();
    assert!(g.check(&limit(0, 2, Side::Buy, 197, 1), T0 + 5).is_ok());
    assert!(g.audit_log().iter().any(|l| l.contains("alice")));
    assert_eq!(g.live_orders(Scope::Venue(1)).len(), 2);
}

#[test]
fn daily_loss_latches_reducing_then_halted() {
    let mut g = ready();
    let a = g.check(&limit(0, 0, Side::Buy, 200, 40), T0).unwrap();
    g.on_fill(a.key(), 40, 200, 2 * N).unwrap(); // bought 40 @ 100, fee 2
    assert_eq!(g.daily_pnl(), -2 * N);
    // mark falls to 92.5: loss 40 * 7.5 + 2 = 302 >= 300
    g.set_reference(0, 184, 186, T0 + 1).unwrap();
    assert_eq!(g.daily_pnl(), -302 * N);
    assert_eq!(g.trading_state(Scope::Global).unwrap(), TradingState::Reducing);
    assert_eq!(reason(g.check(&limit(0, 1, Side::Buy, 198, 1), T0 + 2)), DenyReason::DailyLossLimit);
    assert!(g.check(&limit(0, 0, Side::Sell, 186, 40), T0 + 2).is_ok());
    // recovery does not unlatch
    g.set_reference(0, 198, 202, T0 + 3).unwrap();
    assert_eq!(reason(g.check(&limit(0, 1, Side::Buy, 198, 1), T0 + 4)), DenyReason::DailyLossLimit);
    g.set_reference(0, 168, 170, T0 + 5).unwrap(); // 40 * 15.5 + 2 = 622 >= 600
    assert_eq!(reason(g.check(&limit(0, 0, Side::Sell, 170, 1), T0 + 6)), DenyReason::DailyLossLimit);
    g.reset_daily(T0 + 7);
    assert!(g.check(&limit(0, 1, Side::Buy, 198, 1), T0 + 8).is_ok());
}

#[test]
fn order_rate_throttle() {
    let mut g = ready();
    let mut ok = 0;
    for k in 0..30i64 {
        let r = g.check(&limit(0, (k % 3) as u32, Side::Buy, 150 + k, 1), T0 + k as u64);
        match r {
            Ok(a) => {
                ok += 1;
                g.on_closed(a.key()).unwrap();
            }
            Err(d) => assert_eq!(d.reason, DenyReason::OrderRateLimit),
        }
    }
    assert_eq!(ok, 25, "strategy limit of 25 per second");
    assert!(g.check(&limit(0, 0, Side::Buy, 140, 1), T0 + 1_100_000_000).is_ok());
}

#[test]
fn fills_and_pnl_are_exact() {
    let mut g = ready();
    let a = g.check(&limit(0, 0, Side::Buy, 201, 10), T0).unwrap();
    g.on_ack(a.key()).unwrap();
    g.on_fill(a.key(), 4, 201, 0).unwrap();
    g.on_fill(a.key(), 6, 199, N / 10).unwrap();
    assert!(g.on_fill(a.key(), 1, 199, 0).is_err(), "fully filled order is gone");
    let v = g.view(0).unwrap();
    assert_eq!((v.position, v.open_buy, v.open_orders), (10, 0, 0));
    // cost 4*100.5 + 6*99.5 = 999, fee 0.1; mark 100 -> value 1000: pnl = 0.9
    assert_eq!(g.daily_pnl(), 9 * N / 10);
    g.on_external_fill(0, Side::Sell, 10, 200, 0).unwrap();
    assert_eq!(g.view(0).unwrap().position, 0);
    assert_eq!(g.daily_pnl(), 9 * N / 10);
}

// ---- reference model -----------------------------------------------------------------------

#[derive(Clone, Debug)]
struct RefOrder {
    key: u64,
    inst: u32,
    side: Side,
    price: i64,
    rem: i64,
}

struct Reference {
    lim: GlobalLimits,
    venue_of: Vec<u32>,
    venue_lim: Vec<VenueLimits>,
    orders: Vec<RefOrder>,
    fills: Vec<(u32, Side, i64, i64)>,
    bid: Vec<i64>,
    ask: Vec<i64>,
    ref_ns: Vec<u64>,
    valid: Vec<bool>,
    mark_x2: Vec<i64>,
    history: Vec<(u64, u32, u32, Side, i64, i64)>,
    states: Vec<TradingState>, // [global, venue0, venue1, strat0, strat1]
    killed: Vec<bool>,
    loss: TradingState,
    throttles: Vec<Quota>, // [global, strat0, strat1]
}

fn val(lots: i64, mark_x2: i64) -> i128 {
    i128::from(lots) * i128::from(mark_x2) * spec().notional_factor / 2
}

impl Reference {
    fn new() -> Self {
        let g = global();
        let q = |n: u32| {
            Quota::new(
                "t",
                vec![WindowSpec {
                    limit: u64::from(n),
                    interval_ns: 1_000_000_000,
                    kind: WindowKind::Rolling,
                    reserve: 0,
                }],
            )
            .unwrap()
        };
        Reference {
            throttles: vec![q(g.max_orders_per_sec), q(25), q(25)],
            lim: g,
            venue_of: vec![0, 0, 1],
            venue_lim: vec![VenueLimits::new(12_000 * N, 9); 2],
            orders: vec![],
            fills: vec![],
            bid: vec![0; 3],
            ask: vec![0; 3],
            ref_ns: vec![0; 3],
            valid: vec![false; 3],
            mark_x2: vec![0; 3],
            history: vec![],
            states: vec![TradingState::Active; 5],
            killed: vec![false; 5],
            loss: TradingState::Active,
        }
    }
    fn position(&self, i: u32) -> i64 {
        self.fills.iter().filter(|f| f.0 == i).map(|f| f.1.sign() * f.2).sum()
    }
    fn open(&self, i: u32, side: Side) -> i64 {
        self.orders.iter().filter(|o| o.inst == i && o.side == side).map(|o| o.rem).sum()
    }
    fn worst(&self, i: u32, eb: i64, es: i64) -> (i128, i128) {
        let p = self.position(i);
        (
            val(p + self.open(i, Side::Buy) + eb, self.mark_x2[i as usize]),
            val(p - self.open(i, Side::Sell) - es, self.mark_x2[i as usize]),
        )
    }
    fn pnl(&self) -> i128 {
        let f = spec().notional_factor;
        let cash: i128 =
            self.fills.iter().map(|x| -i128::from(x.1.sign()) * i128::from(x.3) * i128::from(x.2) * f).sum();
        cash + (0..3).map(|i| val(self.position(i), self.mark_x2[i as usize])).sum::<i128>()
    }
    fn update_loss(&mut self) {
        let loss = -self.pnl();
        let s = if loss >= self.lim.daily_loss_halt {
            TradingState::Halted
        } else if loss >= self.lim.daily_loss_limit {
            TradingState::Reducing
        } else {
            TradingState::Active
        };
        self.loss = self.loss.max(s);
    }
    fn check(&mut self, r: &OrderRequest, now: u64) -> Option<i64> {
        if r.instrument > 2 || r.strategy > 1 {
            return None;
        }
        let i = r.instrument as usize;
        let v = self.venue_of[i] as usize;
        let si = 3 + r.strategy as usize;
        if self.killed[0] || self.killed[1 + v] || self.killed[si] {
            return None;
        }
        let st = self.states[0].max(self.states[1 + v]).max(self.states[si]);
        if st == TradingState::Halted || self.loss == TradingState::Halted {
            return None;
        }
        let s = spec();
        let il = inst_limits();
        if r.qty <= 0 || r.qty % s.lot != 0 || r.qty < s.min_qty || r.qty > il.max_order_qty || r.qty > s.max_qty {
            return None;
        }
        if (r.order_type == OrderType::Limit && r.price <= 0) || (r.order_type == OrderType::Market && r.price != 0) {
            return None;
        }
        let fresh = self.valid[i]
            && self.ref_ns[i] <= now.saturating_add(crate::risk::gate::MAX_REFERENCE_LEAD_NS)
            && now.saturating_sub(self.ref_ns[i]) <= self.lim.max_reference_age_ns;
        let far = if r.side == Side::Buy { self.ask[i] } else { self.bid[i] };
        if !fresh || far <= 0 {
            return None;
        }
        // collar in exact rational form: buy price <= far * 1.05, sell price >= far * 0.95
        let price = match r.order_type {
            OrderType::Limit => {
                let ok = match r.side {
                    Side::Buy => i128::from(r.price) * 10_000 <= i128::from(far) * 10_500,
                    Side::Sell => i128::from(r.price) * 10_000 >= i128::from(far) * 9_500,
                };
                if !ok {
                    return None;
                }
                r.price
            }
            OrderType::Market => match r.side {
                Side::Buy => (i128::from(far) * 10_500 / 10_000) as i64,
                Side::Sell => ((i128::from(far) * 9_500 + 9_999) / 10_000) as i64,
            },
        };
        let notional = s.notional(price, r.qty).unwrap();
        if notional < s.min_notional || notional > il.max_order_notional {
            return None;
        }
        let p = self.position(r.instrument);
        let reduces = match r.side {
            Side::Buy => p < 0 && p + self.open(r.instrument, Side::Buy) + r.qty <= 0,
            Side::Sell => p > 0 && p - self.open(r.instrument, Side::Sell) - r.qty >= 0,
        };
        if !reduces && (r.reduce_only || st == TradingState::Reducing || self.loss == TradingState::Reducing) {
            return None;
        }
        let dup = self.history.iter().any(|h| {
            h.0 + self.lim.duplicate_window_ns >= now
                && (h.1, h.2, h.3, h.4, h.5) == (r.strategy, r.instrument, r.side, price, r.qty)
        });
        if dup {
            return None;
        }
        let cross = self.orders.iter().any(|o| {
            o.inst == r.instrument
                && o.side != r.side
                && if r.side == Side::Buy { o.price <= price } else { o.price >= price }
        });
        if cross {
            return None;
        }
        let (eb, es) = if r.side == Side::Buy { (r.qty, 0) } else { (0, r.qty) };
        let worst = if r.side == Side::Buy {
            p + self.open(r.instrument, Side::Buy) + r.qty
        } else {
            self.open(r.instrument, Side::Sell) + r.qty - p
        };
        if worst > il.max_position {
            return None;
        }
        let gross_of = |rf: &Reference, k: u32, eb: i64, es: i64| {
            let (l, s) = rf.worst(k, eb, es);
            l.abs().max(s.abs())
        };
        let d_gross = gross_of(self, r.instrument, eb, es) - gross_of(self, r.instrument, 0, 0);
        let venue_gross: i128 =
            (0..3u32).filter(|k| self.venue_of[*k as usize] as usize == v).map(|k| gross_of(self, k, 0, 0)).sum();
        let all_gross: i128 = (0..3u32).map(|k| gross_of(self, k, 0, 0)).sum();
        if d_gross > 0
            && (venue_gross + d_gross > self.venue_lim[v].max_gross_notional
                || all_gross + d_gross > self.lim.max_gross_notional)
        {
            return None;
        }
        let (nl, ns) = self.worst(r.instrument, eb, es);
        let (ol, os) = self.worst(r.instrument, 0, 0);
        let sum_long: i128 = (0..3).map(|k| self.worst(k, 0, 0).0).sum();
        let sum_short: i128 = (0..3).map(|k| self.worst(k, 0, 0).1).sum();
        let breach = match r.side {
            Side::Buy => nl - ol > 0 && sum_long + nl - ol > self.lim.max_net_notional,
            Side::Sell => ns - os < 0 && sum_short + ns - os < -self.lim.max_net_notional,
        };
        if breach {
            return None;
        }
        let count = |f: &dyn Fn(&RefOrder) -> bool| self.orders.iter().filter(|o| f(o)).count() as u32;
        if count(&|o| o.inst == r.instrument) >= il.max_open_orders
            || count(&|o| self.venue_of[o.inst as usize] as usize == v) >= self.venue_lim[v].max_open_orders
            || self.orders.len() as u32 >= self.lim.max_open_orders
        {
            return None;
        }
        if self.throttles[0].try_acquire(1, now, false).is_err() {
            return None;
        }
        if self.throttles[1 + r.strategy as usize].try_acquire(1, now, false).is_err() {
            return None;
        }
        self.history.push((now, r.strategy, r.instrument, r.side, price, r.qty));
        Some(price)
    }
}

#[derive(Debug, Clone)]
enum Op {
    Check { strat: u32, inst: u32, buy: bool, market: bool, price: i64, qty: i64, reduce_only: bool },
    Ack(usize),
    Unknown(usize),
    Fill(usize, i64, i64),
    Close(usize),
    Ref(u32, i64, i64),
    Invalidate(u32),
    Advance(u64),
    State(usize, u8),
    Kill(usize),
    Reset(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (
            prop_oneof![12 => 0u32..2, 1 => Just(2u32)],
            prop_oneof![16 => 0u32..3, 1 => Just(3u32)],
            any::<bool>(),
            prop::bool::weighted(0.1),
            175i64..225,
            prop_oneof![12 => 1i64..45, 1 => Just(0i64), 1 => Just(-1i64), 1 => 45i64..70],
            prop::bool::weighted(0.1),
        )
            .prop_map(|(strat, inst, buy, market, price, qty, reduce_only)| Op::Check {
                strat, inst, buy, market, price: if market { 0 } else { price }, qty, reduce_only }),
        2 => any::<usize>().prop_map(Op::Ack),
        1 => any::<usize>().prop_map(Op::Unknown),
        4 => (any::<usize>(), 1i64..40, 170i64..230).prop_map(|(k, q, p)| Op::Fill(k, q, p)),
        3 => any::<usize>().prop_map(Op::Close),
        10 => (0u32..3, 170i64..215, 0i64..12).prop_map(|(i, b, w)| Op::Ref(i, b, if w == 0 { 0 } else { b + w })),
        1 => (0u32..3).prop_map(Op::Invalidate),
        3 => prop_oneof![8 => 0u64..1_000_000, 3 => 50_000_000u64..150_000_000, 1 => 1_000_000_000u64..3_000_000_000]
            .prop_map(Op::Advance),
        2 => (0usize..5, prop_oneof![3 => Just(0u8), 1 => Just(1u8)]).prop_map(|(s, v)| Op::State(s, v)),
        1 => (0usize..5).prop_map(Op::Kill),
        8 => (0usize..5).prop_map(Op::Reset),
    ]
}

fn scope(i: usize) -> Scope {
    match i {
        0 => Scope::Global,
        1 | 2 => Scope::Venue(i as u32 - 1),
        _ => Scope::Strategy(i as u32 - 3),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    /// F-RISK-17: over random order streams the gate admits exactly what the reference model admits
    /// (in particular, never anything the reference denies), and its books agree with the reference.
    #[test]
    fn gate_agrees_with_reference(ops in prop::collection::vec(op(), 1..160)) {
        let mut g = gate();
        let mut r = Reference::new();
        let mut now = T0;
        for o in ops {
            match o {
                Op::Check { strat, inst, buy, market, price, qty, reduce_only } => {
                    let mut req = limit(strat, inst, if buy { Side::Buy } else { Side::Sell }, price, qty);
                    req.reduce_only = reduce_only;
                    if market { req.order_type = OrderType::Market; }
                    let got = g.check(&req, now);
                    let want = r.check(&req, now);
                    prop_assert_eq!(got.as_ref().ok().map(|a| a.request().price), want, "{:?} -> {:?}", req, got);
                    if let Ok(a) = got {
                        r.orders.push(RefOrder { key: a.key(), inst, side: req.side, price: a.request().price, rem: qty });
                    }
                }
                Op::Ack(k) | Op::Unknown(k) if !r.orders.is_empty() => {
                    let key = r.orders[k % r.orders.len()].key;
                    if matches!(o, Op::Ack(_)) { g.on_ack(key).unwrap() } else { g.on_unknown(key).unwrap() }
                }
                Op::Fill(k, q, p) if !r.orders.is_empty() => {
                    let idx = k % r.orders.len();
                    let ord = r.orders[idx].clone();
                    g.on_fill(ord.key, q, p, 0).unwrap();
                    r.fills.push((ord.inst, ord.side, q, p));
                    if r.mark_x2[ord.inst as usize] == 0 { r.mark_x2[ord.inst as usize] = 2 * p; }
                    r.orders[idx].rem -= q.min(ord.rem);
                    if r.orders[idx].rem == 0 { r.orders.remove(idx); }
                }
                Op::Close(k) if !r.orders.is_empty() => {
                    let ord = r.orders.remove(k % r.orders.len());
                    g.on_closed(ord.key).unwrap();
                }
                Op::Ref(i, b, a) => {
                    g.set_reference(i, b, a, now).unwrap();
                    let u = i as usize;
                    r.bid[u] = b; r.ask[u] = a; r.ref_ns[u] = now; r.valid[u] = true;
                    if b > 0 && a > 0 { r.mark_x2[u] = a + b; }
                }
                Op::Invalidate(i) => { g.invalidate_reference(i).unwrap(); r.valid[i as usize] = false; }
                Op::Advance(dt) => now += dt,
                Op::State(s, v) => {
                    let st = if v == 0 { TradingState::Active } else { TradingState::Reducing };
                    let res = g.set_trading_state(scope(s), st);
                    prop_assert_eq!(res.is_ok(), !r.killed[s]);
                    if !r.killed[s] { r.states[s] = st; }
                }
                Op::Kill(s) => { g.kill(scope(s), "test", now).unwrap(); r.killed[s] = true; r.states[s] = TradingState::Halted; }
                Op::Reset(s) => {
                    // an operator clears the latch and re-enables the scope
                    g.reset_kill(scope(s), "op", now).unwrap();
                    g.set_trading_state(scope(s), TradingState::Active).unwrap();
                    r.killed[s] = false;
                    r.states[s] = TradingState::Active;
                }
                _ => {}
            }
            r.update_loss();
            prop_assert_eq!(g.daily_pnl(), r.pnl());
            prop_assert_eq!(g.open_order_count() as usize, r.orders.len());
            for i in 0..3u32 {
                let v = g.view(i).unwrap();
                prop_assert_eq!(v.position, r.position(i));
                prop_assert_eq!(v.open_buy, r.open(i, Side::Buy));
                prop_assert_eq!(v.open_sell, r.open(i, Side::Sell));
            }
        }
    }
}

#[test]
fn a_rehearsal_consumes_nothing_and_denies_as_the_check_would() {
    let mut g = ready();
    let o = limit(0, 0, Side::Buy, 196, 5);
    // far more rehearsals than any throttle allows (global 40/s, strategy 25/s): none is consumed
    for k in 0..1_000 {
        assert_eq!(g.rehearse(&o, T0 + k), Ok(196));
    }
    assert_eq!(g.open_order_count(), 0);
    let a = g.check(&o, T0 + 1_000).unwrap();
    assert_eq!(g.open_order_count(), 1);
    // the check stops a duplicate; the rehearsal repeats the last order, so it skips that check only
    assert_eq!(reason(g.check(&o, T0 + 2_000)), DenyReason::DuplicateIntent);
    assert_eq!(g.rehearse(&o, T0 + 2_000), Ok(196));
    // every other limit denies as the check does
    let through = limit(0, 0, Side::Buy, 230, 1);
    assert_eq!(g.rehearse(&through, T0 + 3_000).unwrap_err().reason, DenyReason::PriceCollar);
    assert_eq!(reason(g.check(&through, T0 + 3_000)), DenyReason::PriceCollar);
    let big = limit(0, 0, Side::Buy, 196, 61);
    let why = g.rehearse(&big, T0 + 3_000).unwrap_err().reason;
    assert_eq!(why, reason(g.check(&big, T0 + 3_000)));
    g.kill(Scope::Global, "test", T0 + 4_000).unwrap();
    assert_eq!(g.rehearse(&o, T0 + 5_000).unwrap_err().reason, DenyReason::KillSwitch);
    assert_eq!(g.open_order_count(), 1);
    g.on_closed(a.key()).unwrap();
}
