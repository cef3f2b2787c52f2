//! The gate itself: state kept incrementally so one check is O(log n) and allocation-free on approval
//! paths (besides the order's own entry).

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::limits::{GlobalLimits, InstrumentLimits, StrategyLimits, VenueLimits};
use super::{Approval, Denial, DenyReason, OrderRequest, OrderType, Scope, TimeInForce, TradingState};
use crate::error::{CoreError, CoreResult};
use crate::ratelimit::{Quota, WindowKind, WindowSpec};
use crate::types::{InstrumentSpec, Side};

mod events;

const SECOND_NS: u64 = 1_000_000_000;
/// How far ahead of `now_ns` a reference may be dated (two readings of one clock, a little apart).
pub const MAX_REFERENCE_LEAD_NS: u64 = 100_000_000;
/// Saturation bound for valuations so sums of many instruments cannot overflow.
const HUGE: i128 = i128::MAX >> 16;

/// Value `lots` at `mark_x2 / 2` in notional units, saturating.
#[inline]
pub(crate) fn value(lots: i64, mark_x2: i64, factor: i128) -> i128 {
    i128::from(lots)
        .checked_mul(i128::from(mark_x2))
        .and_then(|v| v.checked_mul(factor))
        .map_or(if (lots < 0) ^ (mark_x2 < 0) { -HUGE } else { HUGE }, |v| (v / 2).clamp(-HUGE, HUGE))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OrderState {
    InFlight,
    Open,
    Unknown,
}

#[derive(Clone, Debug)]
struct LiveOrder {
    instrument: u32,
    strategy: u32,
    side: Side,
    price: i64,
    remaining: i64,
    state: OrderState,
}

#[derive(Clone, Debug, Default)]
struct Contribution {
    long: i128,
    short: i128,
    gross: i128,
    pnl: i128,
}

#[derive(Clone, Debug)]
struct Instrument {
    venue: u32,
    symbol: String,
    spec: InstrumentSpec,
    limits: InstrumentLimits,
    tradable: bool,
    position: i64,
    open_buy: i64,
    open_sell: i64,
    open_orders: u32,
    resting_buys: BTreeMap<i64, u32>,
    resting_sells: BTreeMap<i64, u32>,
    bid: i64,
    ask: i64,
    ref_ns: u64,
    ref_valid: bool,
    /// bid + ask of the last two-sided reference (or twice the last fill price); 0 if never known.
    mark_x2: i64,
    /// Sells minus buys minus fees, in notional units.
    cash: i128,
    contrib: Contribution,
}

impl Instrument {
    fn contribution(&self, extra_buy: i64, extra_sell: i64) -> Contribution {
        let f = self.spec.notional_factor;
        let long = value(self.position.saturating_add(self.open_buy).saturating_add(extra_buy), self.mark_x2, f);
        let short = value(self.position.saturating_sub(self.open_sell).saturating_sub(extra_sell), self.mark_x2, f);
        Contribution {
            long,
            short,
            gross: long.abs().max(short.abs()),
            pnl: self.cash.saturating_add(value(self.position, self.mark_x2, f)),
        }
    }
}

#[derive(Clone, Debug)]
struct Venue {
    name: String,
    limits: VenueLimits,
    state: TradingState,
    killed: bool,
    gross: i128,
    open_orders: u32,
}

#[derive(Clone, Debug)]
struct Strategy {
    name: String,
    state: TradingState,
    killed: bool,
    throttle: Quota,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Intent {
    strategy: u32,
    instrument: u32,
    side: Side,
    price: i64,
    qty: i64,
}

/// A read-only view of one instrument's risk state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentView {
    pub position: i64,
    pub open_buy: i64,
    pub open_sell: i64,
    pub open_orders: u32,
    pub gross: i128,
    pub pnl: i128,
}

/// The one risk gate. Single-threaded; time comes in as `now_ns`.
#[derive(Clone, Debug)]
pub struct RiskGate {
    limits: GlobalLimits,
    state: TradingState,
    killed: bool,
    /// Daily-loss state latched until `reset_daily`.
    loss_state: TradingState,
    throttle: Quota,
    instruments: Vec<Instrument>,
    by_symbol: HashMap<(u32, String), u32>,
    venues: Vec<Venue>,
    strategies: Vec<Strategy>,
    orders: HashMap<u64, LiveOrder>,
    next_key: u64,
    /// Intents approved within the duplicate window, oldest first, and the latest time of each.
    recent: VecDeque<(u64, Intent)>,
    recent_last: HashMap<Intent, u64>,
    long: i128,
    short: i128,
    gross: i128,
    pnl: i128,
    day_start_pnl: i128,
    open_orders: u32,
    audit: Vec<String>,
}

fn per_second(name: &str, n: u32) -> CoreResult<Quota> {
    Quota::new(
        name,
        vec![WindowSpec { limit: u64::from(n), interval_ns: SECOND_NS, kind: WindowKind::Rolling, reserve: 0 }],
    )
}

fn deny(reason: DenyReason, detail: impl Into<String>) -> Denial {
    Denial { reason, detail: detail.into() }
}

impl RiskGate {
    pub fn new(limits: GlobalLimits) -> CoreResult<RiskGate> {
        limits.validate()?;
        Ok(RiskGate {
            throttle: per_second("global", limits.max_orders_per_sec)?,
            limits,
            state: TradingState::Active,
            killed: false,
            loss_state: TradingState::Active,
            instruments: Vec::new(),
            by_symbol: HashMap::new(),
            venues: Vec::new(),
            strategies: Vec::new(),
            orders: HashMap::new(),
            next_key: 1,
            recent: VecDeque::new(),
            recent_last: HashMap::new(),
            long: 0,
            short: 0,
            gross: 0,
            pnl: 0,
            day_start_pnl: 0,
            open_orders: 0,
            audit: Vec::new(),
        })
    }

    pub fn add_venue(&mut self, name: &str, limits: VenueLimits) -> CoreResult<u32> {
        limits.validate()?;
        if self.venues.iter().any(|v| v.name == name) {
            return Err(CoreError::InvalidArgument(format!("venue {name:?} already registered")));
        }
        self.venues.push(Venue {
            name: name.to_owned(),
            limits,
            state: TradingState::Active,
            killed: false,
            gross: 0,
            open_orders: 0,
        });
        Ok((self.venues.len() - 1) as u32)
    }

    pub fn add_strategy(&mut self, name: &str, limits: StrategyLimits) -> CoreResult<u32> {
        limits.validate()?;
        if self.strategies.iter().any(|s| s.name == name) {
            return Err(CoreError::InvalidArgument(format!("strategy {name:?} already registered")));
        }
        self.strategies.push(Strategy {
            name: name.to_owned(),
            state: TradingState::Active,
            killed: false,
            throttle: per_second(name, limits.max_orders_per_sec)?,
        });
        Ok((self.strategies.len() - 1) as u32)
    }

    pub fn add_instrument(
        &mut self,
        venue: u32,
        symbol: &str,
        spec: InstrumentSpec,
        limits: InstrumentLimits,
    ) -> CoreResult<u32> {
        limits.validate()?;
        self.venue(venue)?;
        let key = (venue, symbol.to_owned());
        if self.by_symbol.contains_key(&key) {
            return Err(CoreError::InvalidArgument(format!("instrument {symbol:?} already registered on this venue")));
        }
        let id = self.instruments.len() as u32;
        self.instruments.push(Instrument {
            venue,
            symbol: symbol.to_owned(),
            spec,
            limits,
            tradable: true,
            position: 0,
            open_buy: 0,
            open_sell: 0,
            open_orders: 0,
            resting_buys: BTreeMap::new(),
            resting_sells: BTreeMap::new(),
            bid: 0,
            ask: 0,
            ref_ns: 0,
            ref_valid: false,
            mark_x2: 0,
            cash: 0,
            contrib: Contribution::default(),
        });
        self.by_symbol.insert(key, id);
        Ok(id)
    }

    pub fn instrument_id(&self, venue: u32, symbol: &str) -> CoreResult<u32> {
        self.by_symbol
            .get(&(venue, symbol.to_owned()))
            .copied()
            .ok_or_else(|| CoreError::UnknownInstrument(symbol.to_owned()))
    }

    fn venue(&self, id: u32) -> CoreResult<&Venue> {
        self.venues.get(id as usize).ok_or_else(|| CoreError::UnknownName { kind: "venue", name: id.to_string() })
    }

    fn inst(&self, id: u32) -> CoreResult<&Instrument> {
        self.instruments.get(id as usize).ok_or_else(|| CoreError::UnknownInstrument(id.to_string()))
    }

    pub fn instrument_spec(&self, id: u32) -> CoreResult<&InstrumentSpec> {
        Ok(&self.inst(id)?.spec)
    }

    pub fn instrument_symbol(&self, id: u32) -> CoreResult<&str> {
        Ok(&self.inst(id)?.symbol)
    }

    pub fn view(&self, id: u32) -> CoreResult<InstrumentView> {
        let i = self.inst(id)?;
        Ok(InstrumentView {
            position: i.position,
            open_buy: i.open_buy,
            open_sell: i.open_sell,
            open_orders: i.open_orders,
            gross: i.contrib.gross,
            pnl: i.contrib.pnl,
        })
    }

    /// Recompute one instrument's contribution and fold the difference into the aggregates.
    fn refresh(&mut self, id: u32) {
        let inst = &mut self.instruments[id as usize];
        let new = inst.contribution(0, 0);
        let old = std::mem::replace(&mut inst.contrib, new.clone());
        self.long += new.long - old.long;
        self.short += new.short - old.short;
        self.gross += new.gross - old.gross;
        self.pnl += new.pnl - old.pnl;
        self.venues[inst.venue as usize].gross += new.gross - old.gross;
        let loss = self.day_start_pnl - self.pnl;
        let s = if loss >= self.limits.daily_loss_halt {
            TradingState::Halted
        } else if loss >= self.limits.daily_loss_limit {
            TradingState::Reducing
        } else {
            TradingState::Active
        };
        self.loss_state = self.loss_state.max(s);
    }

    // ---- market data -------------------------------------------------------------------------

    /// Fresh reference prices for the collar and the marks (0 = that side is empty).
    pub fn set_reference(&mut self, id: u32, bid: i64, ask: i64, ts_ns: u64) -> CoreResult<()> {
        if bid < 0 || ask < 0 {
            return Err(CoreError::InvalidArgument("reference prices must be >= 0".into()));
        }
        let inst = self.instruments.get_mut(id as usize).ok_or_else(|| CoreError::UnknownInstrument(id.to_string()))?;
        inst.bid = bid;
        inst.ask = ask;
        inst.ref_ns = ts_ns;
        inst.ref_valid = true;
        if bid > 0 && ask > 0 {
            let m = bid.saturating_add(ask);
            if m != inst.mark_x2 {
                inst.mark_x2 = m;
                self.refresh(id);
            }
        }
        Ok(())
    }

    /// The book behind the reference is invalid (gap, resync, disconnect): nothing trades off it.
    pub fn invalidate_reference(&mut self, id: u32) -> CoreResult<()> {
        let inst = self.instruments.get_mut(id as usize).ok_or_else(|| CoreError::UnknownInstrument(id.to_string()))?;
        inst.ref_valid = false;
        Ok(())
    }

    pub fn set_tradable(&mut self, id: u32, tradable: bool) -> CoreResult<()> {
        let inst = self.instruments.get_mut(id as usize).ok_or_else(|| CoreError::UnknownInstrument(id.to_string()))?;
        inst.tradable = tradable;
        Ok(())
    }

    // ---- states and kill switch --------------------------------------------------------------

    fn scope_state(&mut self, scope: Scope) -> CoreResult<(&mut TradingState, &mut bool)> {
        Ok(match scope {
            Scope::Global => (&mut self.state, &mut self.killed),
            Scope::Venue(v) => {
                let v = self
                    .venues
                    .get_mut(v as usize)
                    .ok_or_else(|| CoreError::UnknownName { kind: "venue", name: v.to_string() })?;
                (&mut v.state, &mut v.killed)
            }
            Scope::Strategy(s) => {
                let s = self
                    .strategies
                    .get_mut(s as usize)
                    .ok_or_else(|| CoreError::UnknownName { kind: "strategy", name: s.to_string() })?;
                (&mut s.state, &mut s.killed)
            }
        })
    }

    /// Set a scope's trading state. A latched kill switch cannot be cleared this way.
    pub fn set_trading_state(&mut self, scope: Scope, state: TradingState) -> CoreResult<()> {
        let (s, killed) = self.scope_state(scope)?;
        if *killed && state != TradingState::Halted {
            return Err(CoreError::KillLatched(format!("{scope:?}")));
        }
        *s = state;
        Ok(())
    }

    pub fn trading_state(&self, scope: Scope) -> CoreResult<TradingState> {
        Ok(match scope {
            Scope::Global => self.state.max(self.loss_state),
            Scope::Venue(v) => self.venue(v)?.state,
            Scope::Strategy(s) => self.strategy(s)?.state,
        })
    }

    pub fn is_killed(&self, scope: Scope) -> CoreResult<bool> {
        Ok(match scope {
            Scope::Global => self.killed,
            Scope::Venue(v) => self.venue(v)?.killed,
            Scope::Strategy(s) => self.strategy(s)?.killed,
        })
    }

    /// Latch HALTED at `scope`. Only `reset_kill` clears it.
    pub fn kill(&mut self, scope: Scope, reason: &str, now_ns: u64) -> CoreResult<()> {
        let (s, killed) = self.scope_state(scope)?;
        *s = TradingState::Halted;
        *killed = true;
        self.audit.push(format!("{now_ns} kill {scope:?}: {reason}"));
        Ok(())
    }

    /// Clear a latched kill switch (the scope stays HALTED until its state is set). Needs an operator name.
    pub fn reset_kill(&mut self, scope: Scope, operator: &str, now_ns: u64) -> CoreResult<()> {
        if operator.trim().is_empty() {
            return Err(CoreError::InvalidArgument("reset_kill needs the operator's name".into()));
        }
        let (_, killed) = self.scope_state(scope)?;
        *killed = false;
        self.audit.push(format!("{now_ns} reset_kill {scope:?} by {operator}"));
        Ok(())
    }

    /// Start a new trading day: the daily-loss latch clears and today's PnL starts from here.
    pub fn reset_daily(&mut self, now_ns: u64) {
        self.day_start_pnl = self.pnl;
        self.loss_state = TradingState::Active;
        self.audit.push(format!("{now_ns} reset_daily"));
    }

    pub fn audit_log(&self) -> &[String] {
        &self.audit
    }

    /// Today's PnL (realized + marked), in notional units, fees included.
    pub fn daily_pnl(&self) -> i128 {
        self.pnl - self.day_start_pnl
    }

    pub fn gross_exposure(&self) -> i128 {
        self.gross
    }

    pub fn net_exposure(&self) -> (i128, i128) {
        (self.long, self.short)
    }

    pub fn open_order_count(&self) -> u32 {
        self.open_orders
    }

    fn strategy(&self, id: u32) -> CoreResult<&Strategy> {
        self.strategies
            .get(id as usize)
            .ok_or_else(|| CoreError::UnknownName { kind: "strategy", name: id.to_string() })
    }

    // ---- the check ---------------------------------------------------------------------------

    /// Check one order. On approval the order is tracked as in flight and counts against every limit
    /// until it is filled or closed.
    pub fn check(&mut self, req: &OrderRequest, now_ns: u64) -> Result<Approval, Denial> {
        use DenyReason as R;
        let Some(inst) = self.instruments.get(req.instrument as usize) else {
            return Err(deny(R::UnknownInstrument, format!("instrument id {}", req.instrument)));
        };
        let Some(strat) = self.strategies.get(req.strategy as usize) else {
            return Err(deny(R::UnknownStrategy, format!("strategy id {}", req.strategy)));
        };
        let venue = &self.venues[inst.venue as usize];
        if self.killed || venue.killed || strat.killed {
            return Err(deny(R::KillSwitch, "kill switch latched"));
        }
        let state = self.state.max(venue.state).max(strat.state);
        if state == TradingState::Halted {
            return Err(deny(R::TradingHalted, "trading halted"));
        }
        if self.loss_state == TradingState::Halted {
            return Err(deny(R::DailyLossLimit, "daily loss halt reached"));
        }
        if !inst.tradable {
            return Err(deny(R::InstrumentNotTradable, format!("{} is not tradable", inst.symbol)));
        }
        let spec = &inst.spec;
        let lim = &inst.limits;
        if req.qty <= 0 {
            return Err(deny(R::InvalidQuantity, format!("quantity {} <= 0", req.qty)));
        }
        match req.order_type {
            OrderType::Limit if req.price <= 0 => {
                return Err(deny(R::InvalidPrice, format!("limit price {} <= 0", req.price)));
            }
            OrderType::Market if req.price != 0 => {
                return Err(deny(R::InvalidPrice, "a market order carries no price"));
            }
            _ => {}
        }
        if req.price % spec.tick != 0 {
            return Err(deny(R::PriceNotOnTick, format!("price {} not a multiple of tick {}", req.price, spec.tick)));
        }
        if req.qty % spec.lot != 0 {
            return Err(deny(R::QtyNotOnLot, format!("quantity {} not a multiple of lot {}", req.qty, spec.lot)));
        }
        if req.qty < spec.min_qty {
            return Err(deny(R::BelowMinQty, format!("quantity {} < min {}", req.qty, spec.min_qty)));
        }
        if req.qty > lim.max_order_qty || (spec.max_qty > 0 && req.qty > spec.max_qty) {
            return Err(deny(R::MaxOrderQty, format!("quantity {} above the max order quantity", req.qty)));
        }
        match req.tif {
            TimeInForce::Gtd if req.expire_ns <= now_ns => {
                return Err(deny(R::InvalidExpiry, "GTD expiry is not in the future"));
            }
            TimeInForce::Gtc | TimeInForce::Ioc | TimeInForce::Fok if req.expire_ns != 0 => {
                return Err(deny(R::InvalidExpiry, "expiry given for a non-GTD order"));
            }
            _ => {}
        }
        // Reference and collar.
        // References are stamped with our clock when the data arrived (`ts_recv`), never the venue's.
        // One dated ahead of `now_ns` means two clocks were mixed: refused, not taken as fresh forever.
        if inst.ref_valid && inst.ref_ns > now_ns.saturating_add(MAX_REFERENCE_LEAD_NS) {
            return Err(deny(
                R::ReferenceFromFuture,
                format!("reference for {} is dated {} ns ahead of now", inst.symbol, inst.ref_ns - now_ns),
            ));
        }
        let stale = !inst.ref_valid || now_ns.saturating_sub(inst.ref_ns) > self.limits.max_reference_age_ns;
        let far = match req.side {
            Side::Buy => inst.ask,
            Side::Sell => inst.bid,
        };
        if stale || far <= 0 {
            return Err(deny(R::NoReferencePrice, format!("no fresh reference for {}", inst.symbol)));
        }
        let bps = i128::from(lim.collar_bps);
        let band = match req.side {
            Side::Buy => i128::from(far) * (10_000 + bps) / 10_000,
            Side::Sell => (i128::from(far) * (10_000 - bps) + 9_999) / 10_000,
        };
        let price = match req.order_type {
            OrderType::Limit => {
                let through = match req.side {
                    Side::Buy => i128::from(req.price) > band,
                    Side::Sell => i128::from(req.price) < band,
                };
                if through {
                    return Err(deny(R::PriceCollar, format!("price {} through the collar {band}", req.price)));
                }
                req.price
            }
            OrderType::Market => {
                let t = i128::from(spec.tick);
                let p = match req.side {
                    Side::Buy => band / t * t,
                    Side::Sell => (band + t - 1) / t * t,
                };
                match i64::try_from(p) {
                    Ok(p) if p > 0 => p,
                    _ => return Err(deny(R::NoReferencePrice, "reference too low to price a market order")),
                }
            }
        };
        let Some(notional) = spec.notional(price, req.qty) else {
            return Err(deny(R::NumericOverflow, "price x quantity overflows"));
        };
        if notional < spec.min_notional {
            return Err(deny(R::BelowMinNotional, "notional below the venue minimum"));
        }
        if notional > lim.max_order_notional {
            return Err(deny(R::MaxOrderNotional, "notional above the max order notional"));
        }
        // Reducing: only orders that shrink the position without flipping it, counting live orders.
        let reduces = match req.side {
            Side::Buy => inst.position < 0 && inst.position.saturating_add(inst.open_buy).saturating_add(req.qty) <= 0,
            Side::Sell => {
                inst.position > 0 && inst.position.saturating_sub(inst.open_sell).saturating_sub(req.qty) >= 0
            }
        };
        if !reduces {
            if req.reduce_only {
                return Err(deny(R::ReduceOnlyWouldIncrease, "reduce-only order would increase or flip the position"));
            }
            if state == TradingState::Reducing {
                return Err(deny(R::TradingReducing, "REDUCING: only position-reducing orders pass"));
            }
            if self.loss_state == TradingState::Reducing {
                return Err(deny(R::DailyLossLimit, "daily loss limit reached: only position-reducing orders pass"));
            }
        }
        let intent = Intent { strategy: req.strategy, instrument: req.instrument, side: req.side, price, qty: req.qty };
        let since = now_ns.saturating_sub(self.limits.duplicate_window_ns);
        if self.recent_last.get(&intent).is_some_and(|t| *t >= since) {
            return Err(deny(R::DuplicateIntent, "same order within the duplicate window"));
        }
        let crosses = match req.side {
            Side::Buy => inst.resting_sells.first_key_value().is_some_and(|(p, _)| *p <= price),
            Side::Sell => inst.resting_buys.last_key_value().is_some_and(|(p, _)| *p >= price),
        };
        if crosses {
            return Err(deny(R::SelfCross, "would trade against our own resting order"));
        }
        let (worst, extra_buy, extra_sell) = match req.side {
            Side::Buy => (inst.position.saturating_add(inst.open_buy).saturating_add(req.qty), req.qty, 0),
            Side::Sell => (inst.open_sell.saturating_add(req.qty).saturating_sub(inst.position), 0, req.qty),
        };
        if worst > lim.max_position {
            return Err(deny(R::PositionLimit, format!("worst-case position {worst} above {}", lim.max_position)));
        }
        // Exposure is valued at the mark, which a fresh reference guarantees.
        let new = inst.contribution(extra_buy, extra_sell);
        let d_gross = new.gross - inst.contrib.gross;
        if d_gross > 0 && venue.gross + d_gross > venue.limits.max_gross_notional {
            return Err(deny(R::VenueExposureLimit, format!("{} gross exposure limit", venue.name)));
        }
        if d_gross > 0 && self.gross + d_gross > self.limits.max_gross_notional {
            return Err(deny(R::GrossExposureLimit, "global gross exposure limit"));
        }
        let net_breach = match req.side {
            Side::Buy => {
                let d = new.long - inst.contrib.long;
                d > 0 && self.long + d > self.limits.max_net_notional
            }
            Side::Sell => {
                let d = new.short - inst.contrib.short;
                d < 0 && self.short + d < -self.limits.max_net_notional
            }
        };
        if net_breach {
            return Err(deny(R::NetExposureLimit, "global net exposure limit"));
        }
        if inst.open_orders >= lim.max_open_orders
            || venue.open_orders >= venue.limits.max_open_orders
            || self.open_orders >= self.limits.max_open_orders
        {
            return Err(deny(R::OpenOrderLimit, "open-order count limit"));
        }
        // Throttles last: they consume capacity, so only an otherwise approved order may use it.
        if let Err(at) = self.throttle.try_acquire(1, now_ns, false) {
            return Err(deny(R::OrderRateLimit, format!("global order rate; retry at {at}")));
        }
        if let Err(at) = self.strategies[req.strategy as usize].throttle.try_acquire(1, now_ns, false) {
            return Err(deny(R::OrderRateLimit, format!("strategy order rate; retry at {at}")));
        }
        Ok(self.admit(req, price, notional, intent, now_ns))
    }

    fn admit(&mut self, req: &OrderRequest, price: i64, notional: i128, intent: Intent, now_ns: u64) -> Approval {
        let key = self.next_key;
        self.next_key += 1;
        let inst = &mut self.instruments[req.instrument as usize];
        match req.side {
            Side::Buy => {
                inst.open_buy += req.qty;
                *inst.resting_buys.entry(price).or_insert(0) += 1;
            }
            Side::Sell => {
                inst.open_sell += req.qty;
                *inst.resting_sells.entry(price).or_insert(0) += 1;
            }
        }
        inst.open_orders += 1;
        let venue = inst.venue;
        self.venues[venue as usize].open_orders += 1;
        self.open_orders += 1;
        self.refresh(req.instrument);
        let since = now_ns.saturating_sub(self.limits.duplicate_window_ns);
        while let Some(&(t, old)) = self.recent.front() {
            if t >= since {
                break;
            }
            self.recent.pop_front();
            if self.recent_last.get(&old) == Some(&t) {
                self.recent_last.remove(&old);
            }
        }
        self.recent.push_back((now_ns, intent));
        self.recent_last.insert(intent, now_ns);
        self.orders.insert(
            key,
            LiveOrder {
                instrument: req.instrument,
                strategy: req.strategy,
                side: req.side,
                price,
                remaining: req.qty,
                state: OrderState::InFlight,
            },
        );
        let mut approved = *req;
        approved.price = price;
        Approval::new(key, approved, notional, now_ns)
    }
}
