//! How acks, fills and cancels move the gate's state, and the queries that list live orders.

use super::{LiveOrder, OrderState, RiskGate, Scope};
use crate::error::{CoreError, CoreResult};
use crate::types::Side;

impl RiskGate {
    // ---- order events ------------------------------------------------------------------------

    fn order_mut(&mut self, key: u64) -> CoreResult<&mut LiveOrder> {
        self.orders.get_mut(&key).ok_or(CoreError::UnknownOrder(key))
    }

    /// The venue acknowledged the order: it rests (or is working).
    pub fn on_ack(&mut self, key: u64) -> CoreResult<()> {
        self.order_mut(key)?.state = OrderState::Open;
        Ok(())
    }

    /// The order's outcome is unknown (timeout, 5xx): it keeps counting against every limit.
    pub fn on_unknown(&mut self, key: u64) -> CoreResult<()> {
        self.order_mut(key)?.state = OrderState::Unknown;
        Ok(())
    }

    /// Remove `qty` of an order's remaining quantity from the live totals.
    fn release(&mut self, key: u64, qty: i64) {
        let Some(o) = self.orders.get_mut(&key) else { return };
        let q = qty.min(o.remaining);
        o.remaining -= q;
        let (id, side, price, done) = (o.instrument, o.side, o.price, o.remaining == 0);
        let inst = &mut self.instruments[id as usize];
        match side {
            Side::Buy => inst.open_buy -= q,
            Side::Sell => inst.open_sell -= q,
        }
        if done {
            self.orders.remove(&key);
            let resting = match side {
                Side::Buy => &mut inst.resting_buys,
                Side::Sell => &mut inst.resting_sells,
            };
            if let Some(c) = resting.get_mut(&price) {
                *c -= 1;
                if *c == 0 {
                    resting.remove(&price);
                }
            }
            inst.open_orders -= 1;
            let venue = inst.venue as usize;
            self.venues[venue].open_orders -= 1;
            self.open_orders -= 1;
        }
    }

    /// A fill of `qty` at `price` with `fee` (notional units, positive = paid). Over-fills move the
    /// position by the full quantity: the venue is the truth.
    pub fn on_fill(&mut self, key: u64, qty: i64, price: i64, fee: i128) -> CoreResult<()> {
        if qty <= 0 || price < 0 {
            return Err(CoreError::InvalidArgument(format!("fill of {qty} at {price}")));
        }
        let o = self.orders.get(&key).ok_or(CoreError::UnknownOrder(key))?;
        let (id, side) = (o.instrument, o.side);
        self.apply_fill(id, side, qty, price, fee)?;
        self.release(key, qty);
        self.refresh(id);
        Ok(())
    }

    /// A fill that belongs to no order of ours (liquidation, ADL, an order placed elsewhere).
    pub fn on_external_fill(&mut self, id: u32, side: Side, qty: i64, price: i64, fee: i128) -> CoreResult<()> {
        if qty <= 0 || price < 0 {
            return Err(CoreError::InvalidArgument(format!("fill of {qty} at {price}")));
        }
        self.inst(id)?;
        self.apply_fill(id, side, qty, price, fee)?;
        self.refresh(id);
        Ok(())
    }

    fn apply_fill(&mut self, id: u32, side: Side, qty: i64, price: i64, fee: i128) -> CoreResult<()> {
        let inst = &mut self.instruments[id as usize];
        let n = inst.spec.notional(price, qty).ok_or(CoreError::Overflow("fill notional"))?;
        inst.position = inst.position.checked_add(side.sign() * qty).ok_or(CoreError::Overflow("position"))?;
        inst.cash = inst.cash.saturating_sub(i128::from(side.sign()) * n).saturating_sub(fee);
        if inst.mark_x2 == 0 {
            inst.mark_x2 = price.saturating_mul(2);
        }
        Ok(())
    }

    /// The order is finished without further fills: canceled, rejected or expired.
    pub fn on_closed(&mut self, key: u64) -> CoreResult<()> {
        let o = self.orders.get(&key).ok_or(CoreError::UnknownOrder(key))?;
        let (id, rem) = (o.instrument, o.remaining);
        self.release(key, rem);
        self.refresh(id);
        Ok(())
    }

    /// Reconciliation: the venue reports this position; cash is set so that the position is carried at `avg_price`.
    pub fn set_position(&mut self, id: u32, position: i64, avg_price: i64) -> CoreResult<()> {
        let inst = self.instruments.get_mut(id as usize).ok_or_else(|| CoreError::UnknownInstrument(id.to_string()))?;
        let n = inst.spec.notional(avg_price, position).ok_or(CoreError::Overflow("position notional"))?;
        inst.position = position;
        inst.cash = -n;
        if inst.mark_x2 == 0 {
            inst.mark_x2 = avg_price.saturating_mul(2);
        }
        self.refresh(id);
        Ok(())
    }

    /// Keys of the orders still live (in flight, open or unknown) for `scope`, e.g. to cancel on a kill.
    pub fn live_orders(&self, scope: Scope) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .orders
            .iter()
            .filter(|(_, o)| match scope {
                Scope::Global => true,
                Scope::Venue(v) => self.instruments[o.instrument as usize].venue == v,
                Scope::Strategy(s) => o.strategy == s,
            })
            .map(|(k, _)| *k)
            .collect();
        v.sort_unstable();
        v
    }

    pub fn unknown_orders(&self) -> Vec<u64> {
        let mut v: Vec<u64> =
            self.orders.iter().filter(|(_, o)| o.state == OrderState::Unknown).map(|(k, _)| *k).collect();
        v.sort_unstable();
        v
    }
}
