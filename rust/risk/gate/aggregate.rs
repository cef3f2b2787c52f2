//! Many venues under one view: quote currencies converted to the reporting currency, assets summed
//! over every venue, and the per-venue and per-asset read-outs.
//!
//! Rates are fixed-point: `rate` units of 10^-9 reporting currency per quote unit ([`RATE_ONE`] = 1).
//! An instrument's quote-currency figure `x` becomes `x * rate / 10^9`, truncated toward zero (so a
//! long and an equal short convert to exact opposites) and saturating like every valuation. Each
//! instrument is converted on its own, then summed: the aggregates are sums of converted parts.

use super::{Contribution, RiskGate, TradingState, HUGE};
use crate::error::{CoreError, CoreResult};
use crate::risk::limits::{AssetLimits, CurrencyLimits};

/// A rate of exactly 1 (10^9 units of 10^-9).
pub const RATE_ONE: i128 = 1_000_000_000;
/// Notional units (10^-18) per rate unit (10^-9).
const NOTIONAL_PER_RATE: i128 = 1_000_000_000;

/// `x` (quote currency) in the reporting currency at `rate`: truncated toward zero, saturating.
#[inline]
pub(crate) fn convert(x: i128, rate: i128) -> i128 {
    if rate == RATE_ONE {
        return x;
    }
    x.checked_mul(rate).map_or(if x < 0 { -HUGE } else { HUGE }, |v| (v / RATE_ONE).clamp(-HUGE, HUGE))
}

#[derive(Clone, Debug)]
pub(super) struct Currency {
    name: String,
    pub(super) rate: i128,
    limits: CurrencyLimits,
    /// |rate - 1| is above `max_depeg_bps`: new exposure quoted in it is refused.
    pub(super) depegged: bool,
    pub(super) instruments: Vec<u32>,
}

impl Currency {
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    fn set(&mut self, rate: i128) {
        self.rate = rate;
        self.depegged = self.limits.max_depeg_bps.is_some_and(|bps| {
            (rate - RATE_ONE).abs().saturating_mul(10_000) > i128::from(bps).saturating_mul(RATE_ONE)
        });
    }
}

#[derive(Clone, Debug)]
pub(super) struct Asset {
    pub(super) name: String,
    pub(super) limits: AssetLimits,
    pub(super) long: i128,
    pub(super) short: i128,
    pub(super) gross: i128,
    net: i128,
}

impl Asset {
    pub(super) fn fold(&mut self, new: &Contribution, old: &Contribution) {
        self.long += new.long - old.long;
        self.short += new.short - old.short;
        self.gross += new.gross - old.gross;
        self.net += new.net - old.net;
    }
}

/// A rate given in notional units (10^-18) as a rate (10^-9); more than nine decimals is an error.
pub fn rate_from_notional(n: i128) -> CoreResult<i128> {
    if n <= 0 {
        return Err(CoreError::InvalidArgument(format!("a rate must be > 0, got {n} x 1e-18")));
    }
    if n % NOTIONAL_PER_RATE != 0 {
        return Err(CoreError::InvalidArgument("a rate has at most 9 decimal places".into()));
    }
    Ok(n / NOTIONAL_PER_RATE)
}

impl RiskGate {
    /// Register a quote currency at `rate` (units of 10^-9 reporting currency, > 0).
    pub fn add_currency(&mut self, name: &str, rate: i128, limits: CurrencyLimits) -> CoreResult<u32> {
        limits.validate()?;
        if rate <= 0 {
            return Err(CoreError::InvalidArgument(format!("currency {name:?}: rate must be > 0")));
        }
        if self.currencies.iter().any(|c| c.name == name) {
            return Err(CoreError::InvalidArgument(format!("currency {name:?} already registered")));
        }
        let mut c = Currency { name: name.to_owned(), rate, limits, depegged: false, instruments: Vec::new() };
        c.set(rate);
        self.currencies.push(c);
        Ok((self.currencies.len() - 1) as u32)
    }

    /// A new rate for `currency`: every instrument quoted in it is re-valued and every aggregate with it.
    pub fn set_rate(&mut self, currency: u32, rate: i128) -> CoreResult<()> {
        if rate <= 0 {
            return Err(CoreError::InvalidArgument("rate must be > 0".into()));
        }
        self.currency(currency)?;
        let c = currency as usize;
        self.currencies[c].set(rate);
        // Re-value everything first, then update the latches once: no transient mid-update loss latches.
        for k in 0..self.currencies[c].instruments.len() {
            let id = self.currencies[c].instruments[k];
            self.fold(id);
        }
        for v in &mut self.venues {
            v.update_loss();
        }
        self.update_loss();
        Ok(())
    }

    /// Register an asset whose exposure is summed over every venue.
    pub fn add_asset(&mut self, name: &str, limits: AssetLimits) -> CoreResult<u32> {
        limits.validate()?;
        if self.assets.iter().any(|a| a.name == name) {
            return Err(CoreError::InvalidArgument(format!("asset {name:?} already registered")));
        }
        self.assets.push(Asset { name: name.to_owned(), limits, long: 0, short: 0, gross: 0, net: 0 });
        Ok((self.assets.len() - 1) as u32)
    }

    pub(super) fn currency(&self, id: u32) -> CoreResult<&Currency> {
        self.currencies
            .get(id as usize)
            .ok_or_else(|| CoreError::UnknownName { kind: "currency", name: id.to_string() })
    }

    pub(super) fn asset(&self, id: u32) -> CoreResult<&Asset> {
        self.assets.get(id as usize).ok_or_else(|| CoreError::UnknownName { kind: "asset", name: id.to_string() })
    }

    #[inline]
    pub(super) fn rate_of(&self, currency: Option<u32>) -> i128 {
        currency.map_or(RATE_ONE, |c| self.currencies[c as usize].rate)
    }

    /// The currency's rate in units of 10^-9 reporting currency.
    pub fn currency_rate(&self, currency: u32) -> CoreResult<i128> {
        Ok(self.currency(currency)?.rate)
    }

    pub fn is_depegged(&self, currency: u32) -> CoreResult<bool> {
        Ok(self.currency(currency)?.depegged)
    }

    /// The venue's PnL today (realized + marked, fees included), in the reporting currency.
    pub fn venue_daily_pnl(&self, venue: u32) -> CoreResult<i128> {
        let v = self.venue(venue)?;
        Ok(v.pnl - v.day_start_pnl)
    }

    pub fn venue_gross_exposure(&self, venue: u32) -> CoreResult<i128> {
        Ok(self.venue(venue)?.gross)
    }

    /// The venue's daily-loss state (ACTIVE when it has no venue daily-loss limit).
    pub fn venue_loss_state(&self, venue: u32) -> CoreResult<TradingState> {
        Ok(self.venue(venue)?.loss_state)
    }

    /// The asset's (worst-case long, worst-case short) over every venue, open orders included.
    pub fn asset_exposure(&self, asset: u32) -> CoreResult<(i128, i128)> {
        let a = self.asset(asset)?;
        Ok((a.long, a.short))
    }

    /// The asset's positions at their marks over every venue (no open orders).
    pub fn asset_net(&self, asset: u32) -> CoreResult<i128> {
        Ok(self.asset(asset)?.net)
    }

    pub fn asset_gross(&self, asset: u32) -> CoreResult<i128> {
        Ok(self.asset(asset)?.gross)
    }
}
