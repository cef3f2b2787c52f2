//! The gate itself: state kept incrementally so one check is O(log n) and allocation-free on approval
//! paths (besides the order's own entry).

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::limits::{GlobalLimits, InstrumentLimits, StrategyLimits, VenueLimits};
use super::{Denial, DenyReason, Scope, TradingState};
use crate::error::{CoreError, CoreResult};
use crate::ratelimit::{Quota, WindowKind, WindowSpec};
use crate::types::{InstrumentSpec, Side};

mod aggregate;
mod check;
mod events;

use aggregate::{convert, Asset, Currency};
pub use aggregate::{rate_from_notional, RATE_ONE};

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

/// One instrument's share of the aggregates, in the reporting currency.
#[derive(Clone, Copy, Debug, Default)]
struct Contribution {
    long: i128,
    short: i128,
    gross: i128,
    pnl: i128,
    /// The position alone at the mark (no open orders).
    net: i128,
}

#[derive(Clone, Debug)]
struct Instrument {
    venue: u32,
    /// Quote currency; `None` = the reporting currency.
    currency: Option<u32>,
    asset: Option<u32>,
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
    /// Worst-case long and short, gross, PnL and net with `extra_buy`/`extra_sell` more live, each valued
    /// in the quote currency and then converted at `rate` (see [`convert`]).
    #[inline]
    fn contribution(&self, extra_buy: i64, extra_sell: i64, rate: i128) -> Contribution {
        let f = self.spec.notional_factor;
        let long = value(self.position.saturating_add(self.open_buy).saturating_add(extra_buy), self.mark_x2, f);
        let short = value(self.position.saturating_sub(self.open_sell).saturating_sub(extra_sell), self.mark_x2, f);
        let net = value(self.position, self.mark_x2, f);
        let (long, short) = (convert(long, rate), convert(short, rate));
        Contribution {
            long,
            short,
            gross: long.abs().max(short.abs()),
            pnl: convert(self.cash.saturating_add(net), rate),
            net: convert(net, rate),
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
    long: i128,
    short: i128,
    open_orders: u32,
    throttle: Option<Quota>,
    pnl: i128,
    day_start_pnl: i128,
    /// The venue's daily-loss state, latched until `reset_daily`.
    loss_state: TradingState,
}

impl Venue {
    fn update_loss(&mut self) {
        if let Some((limit, halt)) = self.limits.daily_loss() {
            self.loss_state = self.loss_state.max(loss_state(self.day_start_pnl - self.pnl, limit, halt));
        }
    }
}

fn loss_state(loss: i128, limit: i128, halt: i128) -> TradingState {
    if loss >= halt {
        TradingState::Halted
    } else if loss >= limit {
        TradingState::Reducing
    } else {
        TradingState::Active
    }
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
    currencies: Vec<Currency>,
    assets: Vec<Asset>,
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
            currencies: Vec::new(),
            assets: Vec::new(),
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
        let throttle = limits.max_orders_per_sec.map(|n| per_second(name, n)).transpose()?;
        self.venues.push(Venue {
            name: name.to_owned(),
            limits,
            state: TradingState::Active,
            killed: false,
            gross: 0,
            long: 0,
            short: 0,
            open_orders: 0,
            throttle,
            pnl: 0,
            day_start_pnl: 0,
            loss_state: TradingState::Active,
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

    /// An instrument quoted in the reporting currency and of no tracked asset.
    pub fn add_instrument(
        &mut self,
        venue: u32,
        symbol: &str,
        spec: InstrumentSpec,
        limits: InstrumentLimits,
    ) -> CoreResult<u32> {
        self.add_instrument_in(venue, symbol, spec, limits, None, None)
    }

    /// An instrument quoted in `currency` (`None` = the reporting currency) that counts towards `asset`.
    pub fn add_instrument_in(
        &mut self,
        venue: u32,
        symbol: &str,
        spec: InstrumentSpec,
        limits: InstrumentLimits,
        currency: Option<u32>,
        asset: Option<u32>,
    ) -> CoreResult<u32> {
        limits.validate()?;
        self.venue(venue)?;
        if let Some(c) = currency {
            self.currency(c)?;
        }
        if let Some(a) = asset {
            self.asset(a)?;
        }
        let key = (venue, symbol.to_owned());
        if self.by_symbol.contains_key(&key) {
            return Err(CoreError::InvalidArgument(format!("instrument {symbol:?} already registered on this venue")));
        }
        let id = self.instruments.len() as u32;
        self.instruments.push(Instrument {
            venue,
            currency,
            asset,
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
        if let Some(c) = currency {
            self.currencies[c as usize].instruments.push(id);
        }
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

    /// Recompute one instrument's contribution, fold the difference into the aggregates, update the latches.
    fn refresh(&mut self, id: u32) {
        let venue = self.fold(id);
        self.venues[venue as usize].update_loss();
        self.update_loss();
    }

    fn update_loss(&mut self) {
        let s = loss_state(self.day_start_pnl - self.pnl, self.limits.daily_loss_limit, self.limits.daily_loss_halt);
        self.loss_state = self.loss_state.max(s);
    }

    /// Fold one instrument's new contribution into the aggregates (loss latches not updated); its venue.
    fn fold(&mut self, id: u32) -> u32 {
        let rate = self.rate_of(self.instruments[id as usize].currency);
        let inst = &mut self.instruments[id as usize];
        let new = inst.contribution(0, 0, rate);
        let old = std::mem::replace(&mut inst.contrib, new);
        self.long += new.long - old.long;
        self.short += new.short - old.short;
        self.gross += new.gross - old.gross;
        self.pnl += new.pnl - old.pnl;
        let venue = &mut self.venues[inst.venue as usize];
        venue.gross += new.gross - old.gross;
        venue.long += new.long - old.long;
        venue.short += new.short - old.short;
        venue.pnl += new.pnl - old.pnl;
        if let Some(a) = inst.asset {
            self.assets[a as usize].fold(&new, &old);
        }
        inst.venue
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
            Scope::Venue(v) => {
                let v = self.venue(v)?;
                v.state.max(v.loss_state)
            }
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

    /// Start a new trading day: the daily-loss latches (global and every venue's) clear and today's
    /// PnL starts from here.
    pub fn reset_daily(&mut self, now_ns: u64) {
        self.day_start_pnl = self.pnl;
        self.loss_state = TradingState::Active;
        for v in &mut self.venues {
            v.day_start_pnl = v.pnl;
            v.loss_state = TradingState::Active;
        }
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
}
