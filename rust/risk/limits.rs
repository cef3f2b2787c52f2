//! Risk limits. Every limit is explicit and positive: a zero, negative or missing limit is a config
//! error (RELIABILITY F-RISK-13), never "unlimited".

use crate::error::{CoreError, CoreResult};
use crate::ratelimit::MAX_ROLLING_LIMIT;

fn throttle(name: &str, per_sec: u32) -> CoreResult<()> {
    positive(name, per_sec)?;
    if u64::from(per_sec) > MAX_ROLLING_LIMIT {
        return Err(CoreError::InvalidSpec(format!("limit {name} must be <= {MAX_ROLLING_LIMIT}, got {per_sec}")));
    }
    Ok(())
}

/// Limits that apply across all venues and strategies. Notionals are in 10^-18 quote units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalLimits {
    pub max_gross_notional: i128,
    pub max_net_notional: i128,
    pub max_open_orders: u32,
    pub max_orders_per_sec: u32,
    /// Loss (positive number) at which the gate goes REDUCING for the rest of the day.
    pub daily_loss_limit: i128,
    /// Loss at which the gate goes HALTED for the rest of the day; >= daily_loss_limit.
    pub daily_loss_halt: i128,
    pub duplicate_window_ns: u64,
    pub max_reference_age_ns: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueLimits {
    pub max_gross_notional: i128,
    pub max_open_orders: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrategyLimits {
    pub max_orders_per_sec: u32,
}

/// Per-instrument limits, quantities in the instrument's qty units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentLimits {
    pub max_order_qty: i64,
    pub max_order_notional: i128,
    /// Max absolute worst-case position (position plus every live order on one side).
    pub max_position: i64,
    pub max_open_orders: u32,
    /// How far through the opposite best a limit price may go, in basis points (also prices market orders).
    pub collar_bps: u32,
}

fn positive<T: PartialOrd + Default + std::fmt::Display>(name: &str, v: T) -> CoreResult<()> {
    if v > T::default() {
        Ok(())
    } else {
        Err(CoreError::InvalidSpec(format!("limit {name} must be > 0, got {v}")))
    }
}

impl GlobalLimits {
    pub fn validate(&self) -> CoreResult<()> {
        positive("max_gross_notional", self.max_gross_notional)?;
        positive("max_net_notional", self.max_net_notional)?;
        positive("max_open_orders", self.max_open_orders)?;
        throttle("max_orders_per_sec", self.max_orders_per_sec)?;
        positive("daily_loss_limit", self.daily_loss_limit)?;
        positive("max_reference_age_ns", self.max_reference_age_ns)?;
        if self.daily_loss_halt < self.daily_loss_limit {
            return Err(CoreError::InvalidSpec("daily_loss_halt is below daily_loss_limit".into()));
        }
        Ok(())
    }
}

impl VenueLimits {
    pub fn validate(&self) -> CoreResult<()> {
        positive("max_gross_notional", self.max_gross_notional)?;
        positive("max_open_orders", self.max_open_orders)
    }
}

impl StrategyLimits {
    pub fn validate(&self) -> CoreResult<()> {
        throttle("max_orders_per_sec", self.max_orders_per_sec)
    }
}

impl InstrumentLimits {
    pub fn validate(&self) -> CoreResult<()> {
        positive("max_order_qty", self.max_order_qty)?;
        positive("max_order_notional", self.max_order_notional)?;
        positive("max_position", self.max_position)?;
        positive("max_open_orders", self.max_open_orders)?;
        positive("collar_bps", self.collar_bps)?;
        if self.collar_bps >= 10_000 {
            return Err(CoreError::InvalidSpec("collar_bps must be < 10000".into()));
        }
        Ok(())
    }
}
