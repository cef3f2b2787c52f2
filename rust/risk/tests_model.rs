//! The multi-venue gate against a reference model that recomputes everything from its order and fill
//! lists: three venues (throttles, daily-loss latches), two quote currencies besides the reporting one
//! (rates changing, a depeg guard), two assets spanning venues, six instruments. Over random
//! sequences the gate's every decision (reason included) and every aggregate equal the model's.

use proptest::prelude::*;

use super::*;
use crate::ratelimit::{Quota, WindowKind, WindowSpec};
use crate::types::{InstrumentSpec, Side};

const N: i128 = 1_000_000_000_000_000_000;
const T0: u64 = 1_000_000_000_000;
const INSTS: usize = 6;
/// (venue, currency, asset) of each instrument.
const LAYOUT: [(usize, Option<u32>, Option<u32>); INSTS] = [
    (0, None, Some(0)),
    (1, Some(0), Some(0)),
    (2, Some(1), Some(0)),
    (0, Some(0), Some(1)),
    (1, None, Some(1)),
    (2, Some(0), None),
];
const DEPEG_BPS: i128 = 100; // currency 0 only
const RATES: [i128; 9] = [
    RATE_ONE,
    1_005_000_000,
    998_000_000,
    1_010_000_001,
    989_999_999,
    500_000_000,
    1_250_000_000,
    333_333_333,
    RATE_ONE,
];

fn spec() -> InstrumentSpec {
    InstrumentSpec::new("0.5", "1", Some("1"), Some("1000"), Some("10"), None, None).unwrap()
}

fn global() -> GlobalLimits {
    GlobalLimits {
        max_gross_notional: 20_000 * N,
        max_net_notional: 12_000 * N,
        max_open_orders: 14,
        max_orders_per_sec: 40,
        daily_loss_limit: 700 * N,
        daily_loss_halt: 1_200 * N,
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

fn venue_limits() -> [VenueLimits; 3] {
    let v = |per_sec, loss: Option<(i128, i128)>| VenueLimits {
        max_gross_notional: 8_000 * N,
        max_net_notional: None,
        max_open_orders: 8,
        max_orders_per_sec: per_sec,
        daily_loss_limit: loss.map(|l| l.0 * N),
        daily_loss_halt: loss.map(|l| l.1 * N),
    };
    [v(Some(4), Some((200, 400))), v(None, Some((300, 300))), v(Some(6), None)]
}

fn asset_limits() -> [AssetLimits; 2] {
    [
        AssetLimits { max_net_notional: 2_500 * N, max_gross_notional: Some(4_000 * N) },
        AssetLimits { max_net_notional: 1_500 * N, max_gross_notional: None },
    ]
}

fn gate() -> RiskGate {
    let mut g = RiskGate::new(global()).unwrap();
    for (k, l) in venue_limits().into_iter().enumerate() {
        g.add_venue(&format!("v{k}"), l).unwrap();
    }
    g.add_strategy("a", StrategyLimits { max_orders_per_sec: 30 }).unwrap();
    g.add_strategy("b", StrategyLimits { max_orders_per_sec: 30 }).unwrap();
    g.add_currency("USDT", RATE_ONE, CurrencyLimits { max_depeg_bps: Some(DEPEG_BPS as u32) }).unwrap();
    g.add_currency("USDC", RATE_ONE, CurrencyLimits { max_depeg_bps: None }).unwrap();
    for (k, l) in asset_limits().into_iter().enumerate() {
        g.add_asset(&format!("A{k}"), l).unwrap();
    }
    for (k, (v, c, a)) in LAYOUT.iter().enumerate() {
        g.add_instrument_in(*v as u32, &format!("I{k}"), spec(), inst_limits(), *c, *a).unwrap();
    }
    g
}

fn quota(n: u32) -> Quota {
    let w = WindowSpec { limit: u64::from(n), interval_ns: 1_000_000_000, kind: WindowKind::Rolling, reserve: 0 };
    Quota::new("t", vec![w]).unwrap()
}

#[derive(Clone, Debug)]
struct Ord {
    key: u64,
    inst: usize,
    side: Side,
    price: i64,
    rem: i64,
}

struct Model {
    orders: Vec<Ord>,
    fills: Vec<(usize, Side, i64, i64, i128)>,
    bid: [i64; INSTS],
    ask: [i64; INSTS],
    ref_ns: [u64; INSTS],
    valid: [bool; INSTS],
    mark_x2: [i64; INSTS],
    rates: [i128; 2],
    history: Vec<(u64, u32, usize, Side, i64, i64)>,
    venue_state: [TradingState; 3],
    loss: TradingState,
    venue_loss: [TradingState; 3],
    day_start: i128,
    venue_day_start: [i128; 3],
    throttles: Vec<Quota>, // global, strategies a and b
    venue_throttles: [Option<Quota>; 3],
}

fn conv(x: i128, rate: i128) -> i128 {
    x * rate / RATE_ONE
}

fn latch(loss: i128, limit: i128, halt: i128) -> TradingState {
    if loss >= halt {
        TradingState::Halted
    } else if loss >= limit {
        TradingState::Reducing
    } else {
        TradingState::Active
    }
}

impl Model {
    fn new() -> Self {
        Model {
            orders: vec![],
            fills: vec![],
            bid: [0; INSTS],
            ask: [0; INSTS],
            ref_ns: [0; INSTS],
            valid: [false; INSTS],
            mark_x2: [0; INSTS],
            rates: [RATE_ONE; 2],
            history: vec![],
            venue_state: [TradingState::Active; 3],
            loss: TradingState::Active,
            venue_loss: [TradingState::Active; 3],
            day_start: 0,
            venue_day_start: [0; 3],
            throttles: vec![quota(40), quota(30), quota(30)],
            venue_throttles: venue_limits().map(|l| l.max_orders_per_sec.map(quota)),
        }
    }
    fn rate(&self, i: usize) -> i128 {
        LAYOUT[i].1.map_or(RATE_ONE, |c| self.rates[c as usize])
    }
    fn val(&self, i: usize, lots: i64) -> i128 {
        i128::from(lots) * i128::from(self.mark_x2[i]) * spec().notional_factor / 2
    }
    fn position(&self, i: usize) -> i64 {
        self.fills.iter().filter(|f| f.0 == i).map(|f| f.1.sign() * f.2).sum()
    }
    fn open(&self, i: usize, side: Side) -> i64 {
        self.orders.iter().filter(|o| o.inst == i && o.side == side).map(|o| o.rem).sum()
    }
    /// Converted worst-case (long, short) with extra live quantity.
    fn worst(&self, i: usize, eb: i64, es: i64) -> (i128, i128) {
        let p = self.position(i);
        let r = self.rate(i);
        (
            conv(self.val(i, p + self.open(i, Side::Buy) + eb), r),
            conv(self.val(i, p - self.open(i, Side::Sell) - es), r),
        )
    }
    fn gross(&self, i: usize, eb: i64, es: i64) -> i128 {
        let (l, s) = self.worst(i, eb, es);
        l.abs().max(s.abs())
    }
    fn pnl_of(&self, i: usize) -> i128 {
        let f = spec().notional_factor;
        let cash: i128 = self
            .fills
            .iter()
            .filter(|x| x.0 == i)
            .map(|x| -i128::from(x.1.sign()) * i128::from(x.3) * i128::from(x.2) * f - x.4)
            .sum();
        conv(cash + self.val(i, self.position(i)), self.rate(i))
    }
    fn sum(&self, f: impl Fn(usize) -> i128, pick: impl Fn(usize) -> bool) -> i128 {
        (0..INSTS).filter(|i| pick(*i)).map(f).sum()
    }
    fn pnl(&self) -> i128 {
        self.sum(|i| self.pnl_of(i), |_| true)
    }
    fn venue_pnl(&self, v: usize) -> i128 {
        self.sum(|i| self.pnl_of(i), |i| LAYOUT[i].0 == v)
    }
    fn asset_sums(&self, a: u32) -> (i128, i128, i128, i128) {
        let of = |i: usize| LAYOUT[i].2 == Some(a);
        (
            self.sum(|i| self.worst(i, 0, 0).0, of),
            self.sum(|i| self.worst(i, 0, 0).1, of),
            self.sum(|i| self.gross(i, 0, 0), of),
            self.sum(|i| conv(self.val(i, self.position(i)), self.rate(i)), of),
        )
    }
    fn update_loss(&mut self) {
        let g = global();
        self.loss = self.loss.max(latch(self.day_start - self.pnl(), g.daily_loss_limit, g.daily_loss_halt));
        for (v, l) in venue_limits().iter().enumerate() {
            if let Some((limit, halt)) = l.daily_loss() {
                let s = latch(self.venue_day_start[v] - self.venue_pnl(v), limit, halt);
                self.venue_loss[v] = self.venue_loss[v].max(s);
            }
        }
    }
    fn depegged(&self, i: usize) -> bool {
        LAYOUT[i].1 == Some(0) && (self.rates[0] - RATE_ONE).abs() * 10_000 > DEPEG_BPS * RATE_ONE
    }
    /// Everything up to the REDUCING-type rules: the approved price and whether the order reduces.
    fn priced(&self, r: &OrderRequest, now: u64) -> Result<(i64, bool), DenyReason> {
        use DenyReason as R;
        let (i, lim, s, g) = (r.instrument as usize, inst_limits(), spec(), global());
        if i >= INSTS {
            return Err(R::UnknownInstrument);
        }
        if r.strategy > 1 {
            return Err(R::UnknownStrategy);
        }
        let v = LAYOUT[i].0;
        let st = self.venue_state[v];
        if st == TradingState::Halted {
            return Err(R::TradingHalted);
        }
        if self.loss == TradingState::Halted || self.venue_loss[v] == TradingState::Halted {
            return Err(R::DailyLossLimit);
        }
        if r.qty <= 0 {
            return Err(R::InvalidQuantity);
        }
        if (r.order_type == OrderType::Limit && r.price <= 0) || (r.order_type == OrderType::Market && r.price != 0) {
            return Err(R::InvalidPrice);
        }
        if r.qty < s.min_qty {
            return Err(R::BelowMinQty);
        }
        if r.qty > lim.max_order_qty || r.qty > s.max_qty {
            return Err(R::MaxOrderQty);
        }
        let fresh = self.valid[i] && now.saturating_sub(self.ref_ns[i]) <= g.max_reference_age_ns;
        let far = if r.side == Side::Buy { self.ask[i] } else { self.bid[i] };
        if !fresh || far <= 0 {
            return Err(R::NoReferencePrice);
        }
        let price = match (r.order_type, r.side) {
            (OrderType::Limit, Side::Buy) if i128::from(r.price) * 10_000 > i128::from(far) * 10_500 => {
                return Err(R::PriceCollar)
            }
            (OrderType::Limit, Side::Sell) if i128::from(r.price) * 10_000 < i128::from(far) * 9_500 => {
                return Err(R::PriceCollar)
            }
            (OrderType::Limit, _) => r.price,
            (OrderType::Market, Side::Buy) => (i128::from(far) * 10_500 / 10_000) as i64,
            (OrderType::Market, Side::Sell) => ((i128::from(far) * 9_500 + 9_999) / 10_000) as i64,
        };
        let notional = s.notional(price, r.qty).unwrap();
        if notional < s.min_notional {
            return Err(R::BelowMinNotional);
        }
        if notional > lim.max_order_notional {
            return Err(R::MaxOrderNotional);
        }
        let p = self.position(i);
        let (ob, os) = (self.open(i, Side::Buy), self.open(i, Side::Sell));
        let reduces = match r.side {
            Side::Buy => p < 0 && p + ob + r.qty <= 0,
            Side::Sell => p > 0 && p - os - r.qty >= 0,
        };
        if !reduces {
            if r.reduce_only {
                return Err(R::ReduceOnlyWouldIncrease);
            }
            if st == TradingState::Reducing {
                return Err(R::TradingReducing);
            }
            if self.loss == TradingState::Reducing || self.venue_loss[v] == TradingState::Reducing {
                return Err(R::DailyLossLimit);
            }
            if self.depegged(i) {
                return Err(R::CurrencyDepeg);
            }
        }
        Ok((price, reduces))
    }
    fn check(&mut self, r: &OrderRequest, now: u64) -> Result<i64, DenyReason> {
        use DenyReason as R;
        let (price, reduces) = self.priced(r, now)?;
        let (i, lim, g) = (r.instrument as usize, inst_limits(), global());
        let v = LAYOUT[i].0;
        let p = self.position(i);
        let (ob, os) = (self.open(i, Side::Buy), self.open(i, Side::Sell));
        if self.history.iter().any(|h| {
            h.0 + g.duplicate_window_ns >= now && (h.1, h.2, h.3, h.4, h.5) == (r.strategy, i, r.side, price, r.qty)
        }) {
            return Err(R::DuplicateIntent);
        }
        if self.orders.iter().any(|o| {
            o.inst == i && o.side != r.side && if r.side == Side::Buy { o.price <= price } else { o.price >= price }
        }) {
            return Err(R::SelfCross);
        }
        let (eb, es) = if r.side == Side::Buy { (r.qty, 0) } else { (0, r.qty) };
        let worst = if r.side == Side::Buy { p + ob + r.qty } else { os + r.qty - p };
        if worst > lim.max_position {
            return Err(R::PositionLimit);
        }
        let d_gross = self.gross(i, eb, es) - self.gross(i, 0, 0);
        let ((nl, ns), (ol, osh)) = (self.worst(i, eb, es), self.worst(i, 0, 0));
        let venue_gross = self.sum(|k| self.gross(k, 0, 0), |k| LAYOUT[k].0 == v);
        if d_gross > 0 && venue_gross + d_gross > venue_limits()[v].max_gross_notional {
            return Err(R::VenueExposureLimit);
        }
        if let (false, Some(a)) = (reduces, LAYOUT[i].2) {
            let (al, ash, ag, _) = self.asset_sums(a);
            let al_lim = &asset_limits()[a as usize];
            let breach = match r.side {
                Side::Buy => nl > ol && al + nl - ol > al_lim.max_net_notional,
                Side::Sell => ns < osh && ash + ns - osh < -al_lim.max_net_notional,
            };
            if breach || (d_gross > 0 && al_lim.max_gross_notional.is_some_and(|m| ag + d_gross > m)) {
                return Err(R::AssetExposureLimit);
            }
        }
        if d_gross > 0 && self.sum(|k| self.gross(k, 0, 0), |_| true) + d_gross > g.max_gross_notional {
            return Err(R::GrossExposureLimit);
        }
        let (sl, ss) = (self.sum(|k| self.worst(k, 0, 0).0, |_| true), self.sum(|k| self.worst(k, 0, 0).1, |_| true));
        let breach = match r.side {
            Side::Buy => nl > ol && sl + nl - ol > g.max_net_notional,
            Side::Sell => ns < osh && ss + ns - osh < -g.max_net_notional,
        };
        if breach {
            return Err(R::NetExposureLimit);
        }
        let count = |f: &dyn Fn(&Ord) -> bool| self.orders.iter().filter(|o| f(o)).count() as u32;
        if count(&|o| o.inst == i) >= lim.max_open_orders
            || count(&|o| LAYOUT[o.inst].0 == v) >= venue_limits()[v].max_open_orders
            || self.orders.len() as u32 >= g.max_open_orders
        {
            return Err(R::OpenOrderLimit);
        }
        if self.throttles[0].try_acquire(1, now, false).is_err()
            || self.throttles[1 + r.strategy as usize].try_acquire(1, now, false).is_err()
            || self.venue_throttles[v].as_mut().is_some_and(|q| q.try_acquire(1, now, false).is_err())
        {
            return Err(R::OrderRateLimit);
        }
        self.history.push((now, r.strategy, i, r.side, price, r.qty));
        Ok(price)
    }
}

#[derive(Debug, Clone)]
enum Op {
    Check { strat: u32, inst: u32, buy: bool, market: bool, price: i64, qty: i64, reduce_only: bool },
    Ack(usize),
    Fill(usize, i64, i64, bool),
    Close(usize),
    Ref(usize, i64, i64),
    Invalidate(usize),
    Advance(u64),
    Rate(usize, usize),
    VenueState(usize, u8),
    ResetDaily,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (
            prop_oneof![12 => 0u32..2, 1 => Just(2u32)],
            prop_oneof![24 => 0u32..6, 1 => Just(6u32)],
            any::<bool>(),
            prop::bool::weighted(0.1),
            175i64..225,
            prop_oneof![12 => 1i64..30, 1 => Just(0i64), 1 => 30i64..70],
            prop::bool::weighted(0.1),
        )
            .prop_map(|(strat, inst, buy, market, price, qty, reduce_only)| Op::Check {
                strat, inst, buy, market, price: if market { 0 } else { price }, qty, reduce_only }),
        2 => any::<usize>().prop_map(Op::Ack),
        6 => (any::<usize>(), 1i64..40, 170i64..230, prop::bool::weighted(0.2)).prop_map(|(k, q, p, f)| Op::Fill(k, q, p, f)),
        3 => any::<usize>().prop_map(Op::Close),
        10 => (0usize..INSTS, 150i64..215, 0i64..12).prop_map(|(i, b, w)| Op::Ref(i, b, if w == 0 { 0 } else { b + w })),
        1 => (0usize..INSTS).prop_map(Op::Invalidate),
        3 => prop_oneof![8 => 0u64..1_000_000, 3 => 50_000_000u64..150_000_000, 1 => 1_000_000_000u64..3_000_000_000]
            .prop_map(Op::Advance),
        3 => (0usize..2, 0usize..RATES.len()).prop_map(|(c, r)| Op::Rate(c, r)),
        1 => (0usize..3, 0u8..3).prop_map(|(v, s)| Op::VenueState(v, s)),
        1 => Just(Op::ResetDaily),
    ]
}

fn state(s: u8) -> TradingState {
    [TradingState::Active, TradingState::Reducing, TradingState::Halted][s as usize % 3]
}

fn agree(g: &RiskGate, m: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(g.daily_pnl(), m.pnl() - m.day_start);
    prop_assert_eq!(g.open_order_count() as usize, m.orders.len());
    prop_assert_eq!(g.gross_exposure(), m.sum(|k| m.gross(k, 0, 0), |_| true));
    let net = (m.sum(|k| m.worst(k, 0, 0).0, |_| true), m.sum(|k| m.worst(k, 0, 0).1, |_| true));
    prop_assert_eq!(g.net_exposure(), net);
    prop_assert_eq!(g.trading_state(Scope::Global).unwrap(), m.loss);
    for v in 0..3 {
        prop_assert_eq!(g.venue_daily_pnl(v as u32).unwrap(), m.venue_pnl(v) - m.venue_day_start[v]);
        prop_assert_eq!(g.venue_gross_exposure(v as u32).unwrap(), m.sum(|k| m.gross(k, 0, 0), |k| LAYOUT[k].0 == v));
        prop_assert_eq!(g.trading_state(Scope::Venue(v as u32)).unwrap(), m.venue_state[v].max(m.venue_loss[v]));
    }
    for a in 0..2u32 {
        let (l, s, gross, net) = m.asset_sums(a);
        prop_assert_eq!(g.asset_exposure(a).unwrap(), (l, s));
        prop_assert_eq!(g.asset_gross(a).unwrap(), gross);
        prop_assert_eq!(g.asset_net(a).unwrap(), net);
    }
    for c in 0..2u32 {
        prop_assert_eq!(g.currency_rate(c).unwrap(), m.rates[c as usize]);
    }
    for i in 0..INSTS {
        let v = g.view(i as u32).unwrap();
        prop_assert_eq!(
            (v.position, v.open_buy, v.open_sell),
            (m.position(i), m.open(i, Side::Buy), m.open(i, Side::Sell))
        );
    }
    Ok(())
}

fn request(strat: u32, inst: u32, buy: bool, market: bool, price: i64, qty: i64, reduce_only: bool) -> OrderRequest {
    OrderRequest {
        strategy: strat,
        instrument: inst,
        side: if buy { Side::Buy } else { Side::Sell },
        order_type: if market { OrderType::Market } else { OrderType::Limit },
        price,
        qty,
        tif: TimeInForce::Gtc,
        expire_ns: 0,
        reduce_only,
        post_only: false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]
    #[test]
    fn multi_venue_gate_agrees_with_model(ops in prop::collection::vec(op(), 1..200)) {
        let (mut g, mut m, mut now) = (gate(), Model::new(), T0);
        for o in ops {
            match o {
                Op::Check { strat, inst, buy, market, price, qty, reduce_only } => {
                    let req = request(strat, inst, buy, market, price, qty, reduce_only);
                    let got = g.check(&req, now);
                    let want = m.check(&req, now);
                    prop_assert_eq!(got.as_ref().map(|a| a.request().price).map_err(|d| d.reason), want, "{:?} -> {:?}", req, got);
                    if let Ok(a) = got {
                        m.orders.push(Ord { key: a.key(), inst: inst as usize, side: req.side, price: a.request().price, rem: qty });
                    }
                }
                Op::Ack(k) if !m.orders.is_empty() => g.on_ack(m.orders[k % m.orders.len()].key).unwrap(),
                Op::Fill(k, q, p, fee) if !m.orders.is_empty() => {
                    let idx = k % m.orders.len();
                    let ord = m.orders[idx].clone();
                    let fee = if fee { N / 10 } else { 0 };
                    g.on_fill(ord.key, q, p, fee).unwrap();
                    m.fills.push((ord.inst, ord.side, q, p, fee));
                    if m.mark_x2[ord.inst] == 0 { m.mark_x2[ord.inst] = 2 * p; }
                    m.orders[idx].rem -= q.min(ord.rem);
                    if m.orders[idx].rem == 0 { m.orders.remove(idx); }
                }
                Op::Close(k) if !m.orders.is_empty() => {
                    let ord = m.orders.remove(k % m.orders.len());
                    g.on_closed(ord.key).unwrap();
                }
                Op::Ref(i, b, a) => {
                    g.set_reference(i as u32, b, a, now).unwrap();
                    (m.bid[i], m.ask[i], m.ref_ns[i], m.valid[i]) = (b, a, now, true);
                    if b > 0 && a > 0 { m.mark_x2[i] = a + b; }
                }
                Op::Invalidate(i) => { g.invalidate_reference(i as u32).unwrap(); m.valid[i] = false; }
                Op::Advance(dt) => now += dt,
                Op::Rate(c, r) => { g.set_rate(c as u32, RATES[r]).unwrap(); m.rates[c] = RATES[r]; }
                Op::VenueState(v, s) => { g.set_trading_state(Scope::Venue(v as u32), state(s)).unwrap(); m.venue_state[v] = state(s); }
                Op::ResetDaily => {
                    g.reset_daily(now);
                    m.day_start = m.pnl();
                    m.venue_day_start = [0, 1, 2].map(|v| m.venue_pnl(v));
                    m.loss = TradingState::Active;
                    m.venue_loss = [TradingState::Active; 3];
                }
                _ => {}
            }
            m.update_loss();
            agree(&g, &m)?;
        }
    }
}
