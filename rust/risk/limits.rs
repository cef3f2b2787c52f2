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

/// Limits of one venue (an account on one exchange and market). Notionals are in the reporting
/// currency; the optional ones are off when `None` (never "0 = unlimited").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueLimits {
    pub max_gross_notional: i128,
    /// The venue's worst-case long (and short) notional over its instruments; None: only the global net.
    pub max_net_notional: Option<i128>,
    pub max_open_orders: u32,
    /// The venue's own rolling one-second order throttle.
    pub max_orders_per_sec: Option<u32>,
    /// Venue loss (positive number) at which the venue goes REDUCING for the rest of the day.
    pub daily_loss_limit: Option<i128>,
    /// Venue loss at which the venue goes HALTED for the rest of the day; defaults to the limit.
    pub daily_loss_halt: Option<i128>,
}

/// Limits of one asset aggregated over every venue (BTC spot, perps, ...), in the reporting currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetLimits {
    /// Bound on the asset's worst-case long (and, negated, its worst-case short).
    pub max_net_notional: i128,
    /// Bound on the sum of the asset's instruments' gross exposure, if given.
    pub max_gross_notional: Option<i128>,
}

/// A quote currency's conversion to the reporting currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrencyLimits {
    /// Most the rate may stray from 1 (in basis points) before new exposure in it is refused.
    pub max_depeg_bps: Option<u32>,
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
    /// Gross and open-order limits only; no venue throttle or venue daily loss.
    pub const fn new(max_gross_notional: i128, max_open_orders: u32) -> VenueLimits {
        VenueLimits {
            max_gross_notional,
            max_net_notional: None,
            max_open_orders,
            max_orders_per_sec: None,
            daily_loss_limit: None,
            daily_loss_halt: None,
        }
    }

    pub fn validate(&self) -> CoreResult<()> {
        positive("max_gross_notional", self.max_gross_notional)?;
        if let Some(n) = self.max_net_notional {
            positive("max_net_notional", n)?;
        }
        positive("max_open_orders", self.max_open_orders)?;
        if let Some(n) = self.max_orders_per_sec {
            throttle("max_orders_per_sec", n)?;
        }
        match (self.daily_loss_limit, self.daily_loss_halt) {
            (None, None) => Ok(()),
            (None, Some(_)) => Err(CoreError::InvalidSpec("venue daily_loss_halt needs a daily_loss_limit".into())),
            (Some(l), h) => {
                positive("daily_loss_limit", l)?;
                if h.is_some_and(|h| h < l) {
                    return Err(CoreError::InvalidSpec("daily_loss_halt is below daily_loss_limit".into()));
                }
                Ok(())
            }
        }
    }

    /// The (limit, halt) pair when the venue has a daily-loss limit.
    pub(crate) fn daily_loss(&self) -> Option<(i128, i128)> {
        self.daily_loss_limit.map(|l| (l, self.daily_loss_halt.unwrap_or(l)))
    }
}

impl AssetLimits {
    pub fn validate(&self) -> CoreResult<()> {
        positive("max_net_notional", self.max_net_notional)?;
        if let Some(g) = self.max_gross_notional {
            positive("max_gross_notional", g)?;
        }
        Ok(())
    }
}

impl CurrencyLimits {
    pub fn validate(&self) -> CoreResult<()> {
        if let Some(b) = self.max_depeg_bps {
            positive("max_depeg_bps", b)?;
        }
        Ok(())
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
