//! L2 order book per instrument: prices and sizes in integer units of the instrument spec.
//!
//! Venue parsers (`binance.rs`, `polymarket.rs`, more with their connectors) turn raw message bytes into level updates
//! and apply them in one call, after the venue's sequence rule (`sequence.rs`) has accepted them.

pub mod binance;
pub mod bybit;
pub mod checksum;
pub mod coinbase;
pub mod kraken;
pub mod ladder;
pub mod okx;
pub mod polymarket;
mod scan;
pub mod sequence;

use crate::error::{CoreError, CoreResult};
use crate::types::{format_scaled, pow10, InstrumentSpec, Side};
pub use ladder::Ladder;
pub use sequence::{SeqState, Sequence, Verdict};

/// Result of walking one side of the book for a given size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FillEstimate {
    /// Quantity available (<= the requested size).
    pub filled: i64,
    /// Sum of price * qty over the levels consumed, in price-units x qty-units.
    pub cost: i128,
    /// Worst price touched.
    pub worst_price: i64,
}

#[derive(Clone, Debug)]
pub struct Book {
    pub spec: InstrumentSpec,
    pub bids: Ladder,
    pub asks: Ladder,
    pub seq: Sequence,
    /// Scratch buffer for parsed levels, reused so a message applies without allocating.
    pub(crate) scratch: Vec<(Side, i64, i64)>,
    /// Kraken: the digits of the last checksum's levels (`kraken.rs`).
    pub(crate) kraken_cache: kraken::ChecksumCache,
}

fn check_level(price: i64, qty: i64) -> CoreResult<()> {
    if qty < 0 {
        return Err(CoreError::InvalidArgument(format!("negative quantity {qty} at price {price}")));
    }
    Ok(())
}

impl Book {
    pub fn new(spec: InstrumentSpec) -> Book {
        Book {
            spec,
            bids: Ladder::new(Side::Buy),
            asks: Ladder::new(Side::Sell),
            seq: Sequence::default(),
            scratch: Vec::with_capacity(64),
            kraken_cache: kraken::ChecksumCache::default(),
        }
    }

    #[inline]
    pub fn ladder_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    #[inline]
    pub fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Replace the whole book and mark it `Valid` at `last_id`. Validates everything before changing anything.
    pub fn apply_snapshot(&mut self, bids: &[(i64, i64)], asks: &[(i64, i64)], last_id: u64) -> CoreResult<()> {
        for &(p, q) in bids.iter().chain(asks) {
            check_level(p, q)?;
        }
        self.bids.clear();
        self.asks.clear();
        for &(p, q) in bids {
            self.bids.set(p, q);
        }
        for &(p, q) in asks {
            self.asks.set(p, q);
        }
        self.seq.on_snapshot(last_id);
        Ok(())
    }

    /// Set one level's quantity (0 removes it). No sequence rule: the caller owns ordering.
    #[inline]
    pub fn set_level(&mut self, side: Side, price: i64, qty: i64) -> CoreResult<()> {
        check_level(price, qty)?;
        self.ladder_mut(side).set(price, qty);
        Ok(())
    }

    /// Apply one level update carrying its own update id (generic rule: ids are consecutive).
    pub fn apply_update(&mut self, side: Side, price: i64, qty: i64, update_id: u64) -> CoreResult<bool> {
        check_level(price, qty)?;
        match self.seq.check_next(update_id)? {
            Verdict::Stale => Ok(false),
            Verdict::Apply => {
                self.ladder_mut(side).set(price, qty);
                self.seq.applied(update_id);
                Ok(true)
            }
        }
    }

    #[inline]
    pub fn best_bid(&self) -> Option<(i64, i64)> {
        self.bids.best()
    }

    #[inline]
    pub fn best_ask(&self) -> Option<(i64, i64)> {
        self.asks.best()
    }

    /// Twice the mid price (exact; the mid itself may fall on a half unit). Saturates at the i64 range.
    pub fn mid_x2(&self) -> Option<i64> {
        Some(self.bids.best()?.0.saturating_add(self.asks.best()?.0))
    }

    /// Best ask minus best bid (negative when crossed). Saturates at the i64 range.
    pub fn spread(&self) -> Option<i64> {
        Some(self.asks.best()?.0.saturating_sub(self.bids.best()?.0))
    }

    pub fn is_crossed(&self) -> bool {
        self.spread().is_some_and(|s| s < 0)
    }

    pub fn is_locked(&self) -> bool {
        self.spread() == Some(0)
    }

    pub fn depth(&self, side: Side, n: usize) -> Vec<(i64, i64)> {
        self.ladder(side).iter().take(n).collect()
    }

    /// Walk the side a taker of `side` would consume (a buy walks the asks) for up to `qty`.
    pub fn fill_estimate(&self, side: Side, qty: i64) -> Option<FillEstimate> {
        if qty <= 0 {
            return None;
        }
        let mut left = qty;
        let mut cost: i128 = 0;
        let mut worst = 0;
        for (p, q) in self.ladder(side.opposite()).iter() {
            if left == 0 {
                break;
            }
            let take = q.min(left);
            cost = cost.saturating_add(i128::from(p) * i128::from(take));
            worst = p;
            left -= take;
        }
        let filled = qty - left;
        (filled > 0).then_some(FillEstimate { filled, cost, worst_price: worst })
    }

    /// (bid qty - ask qty) / (bid qty + ask qty) over the best `n` levels of each side.
    pub fn imbalance(&self, n: usize) -> Option<f64> {
        let b: i128 = self.bids.iter().take(n).map(|(_, q)| i128::from(q)).sum();
        let a: i128 = self.asks.iter().take(n).map(|(_, q)| i128::from(q)).sum();
        let total = a + b;
        (total > 0).then(|| (b - a) as f64 / total as f64)
    }

    /// Format a price in units at `decimals` places (for checksums); errors when it would lose digits.
    pub fn format_price_at(&self, units: i64, decimals: u32) -> CoreResult<String> {
        format_at(i128::from(units) * self.spec.price_unit.mantissa, self.spec.price_unit.scale, decimals)
    }

    pub fn format_qty_at(&self, units: i64, decimals: u32) -> CoreResult<String> {
        format_at(i128::from(units) * self.spec.qty_unit.mantissa, self.spec.qty_unit.scale, decimals)
    }
}

fn format_at(mantissa: i128, scale: u32, decimals: u32) -> CoreResult<String> {
    if decimals >= scale {
        let m = pow10(decimals - scale)
            .and_then(|f| mantissa.checked_mul(f))
            .ok_or(CoreError::Overflow("formatting a level"))?;
        return Ok(format_scaled(m, decimals));
    }
    let f = pow10(scale - decimals).ok_or(CoreError::Overflow("formatting a level"))?;
    if mantissa % f != 0 {
        return Err(CoreError::InvalidArgument(format!(
            "{} has more than {decimals} decimal places",
            format_scaled(mantissa, scale)
        )));
    }
    Ok(format_scaled(mantissa / f, decimals))
}

#[cfg(test)]
mod tests;
