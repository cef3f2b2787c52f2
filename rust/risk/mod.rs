//! The pre-trade risk gate: every order passes `RiskGate::check` and comes out as an [`Approval`]
//! (which only the gate can create, and which connectors require) or a [`Denial`] with a typed reason.
//!
//! Controls (../shared/RELIABILITY.md §2.1–2.4): instrument known and tradable; tick, lot, min size and
//! min notional; numeric sanity; max order quantity and notional; price collar against a fresh
//! reference; duplicate intent; position limits counting open, in-flight and unknown-outcome orders;
//! venue and global gross/net exposure; open-order counts; order-rate throttle; self-cross; daily
//! loss; trading states at global, venue and strategy scope; a latched kill switch.
//!
//! Many venues: each venue has its own throttle and daily-loss latch; every aggregate is in one
//! reporting currency (quote currencies converted at their rates, with a depeg guard); assets sum
//! their worst-case exposure over every venue, so a spot long and a perp short on another venue net.

mod gate;
mod limits;

pub use gate::{rate_from_notional, InstrumentView, RiskGate, RATE_ONE};
pub use limits::{AssetLimits, CurrencyLimits, GlobalLimits, InstrumentLimits, StrategyLimits, VenueLimits};

use crate::types::Side;

/// ACTIVE → REDUCING (only position-reducing orders) → HALTED (no new orders; cancels still pass).
/// Scopes compose by taking the most restrictive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TradingState {
    Active = 0,
    Reducing = 1,
    Halted = 2,
}

/// Where a trading state or kill switch applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Global,
    Venue(u32),
    Strategy(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderType {
    Limit,
    /// Priced by the gate: the opposite best through the collar, rounded to the tick.
    Market,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    Gtc,
    Ioc,
    Fok,
    /// Good till `expire_ns`.
    Gtd,
}

/// What a strategy asks for. Prices and quantities are in the instrument's integer units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRequest {
    pub strategy: u32,
    pub instrument: u32,
    pub side: Side,
    pub order_type: OrderType,
    /// Limit price in price units; must be 0 for market orders.
    pub price: i64,
    pub qty: i64,
    pub tif: TimeInForce,
    /// Expiry for GTD orders, 0 otherwise.
    pub expire_ns: u64,
    pub reduce_only: bool,
    pub post_only: bool,
}

/// Why an order was denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DenyReason {
    UnknownInstrument,
    UnknownStrategy,
    KillSwitch,
    TradingHalted,
    TradingReducing,
    DailyLossLimit,
    InstrumentNotTradable,
    InvalidQuantity,
    InvalidPrice,
    NumericOverflow,
    PriceNotOnTick,
    QtyNotOnLot,
    BelowMinQty,
    MaxOrderQty,
    BelowMinNotional,
    MaxOrderNotional,
    InvalidExpiry,
    NoReferencePrice,
    ReferenceFromFuture,
    PriceCollar,
    ReduceOnlyWouldIncrease,
    DuplicateIntent,
    SelfCross,
    PositionLimit,
    VenueExposureLimit,
    GrossExposureLimit,
    NetExposureLimit,
    OpenOrderLimit,
    OrderRateLimit,
    /// The instrument's quote currency strayed from 1 by more than its `max_depeg_bps`.
    CurrencyDepeg,
    /// The asset's worst-case exposure summed over every venue would pass its limit.
    AssetExposureLimit,
}

/// A typed refusal. `detail` says what was compared with what; it never carries secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    pub reason: DenyReason,
    pub detail: String,
}

/// An order the gate approved. Only the gate can create one; connectors accept nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    key: u64,
    request: OrderRequest,
    notional: i128,
    approved_ns: u64,
}

impl Approval {
    pub(crate) fn new(key: u64, request: OrderRequest, notional: i128, approved_ns: u64) -> Approval {
        Approval { key, request, notional, approved_ns }
    }
    /// The gate's key for this order: acks, fills and cancels refer to it.
    pub fn key(&self) -> u64 {
        self.key
    }
    /// The order as approved (a market order carries its protective price here).
    pub fn request(&self) -> &OrderRequest {
        &self.request
    }
    /// Notional at the approved price, in 10^-18 quote units.
    pub fn notional(&self) -> i128 {
        self.notional
    }
    pub fn approved_ns(&self) -> u64 {
        self.approved_ns
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_model;
#[cfg(test)]
mod tests_multi;
