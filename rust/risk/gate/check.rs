//! The check itself: one order against every limit, in a fixed order (throttles last, since they
//! consume capacity), and its admission into the live books.

use super::aggregate::RATE_ONE;
use super::{deny, Instrument, Intent, LiveOrder, OrderState, RiskGate, MAX_REFERENCE_LEAD_NS};
use crate::risk::{Approval, Denial, DenyReason, OrderRequest, OrderType, TimeInForce, TradingState};
use crate::types::Side;

impl RiskGate {
    // ---- the check ---------------------------------------------------------------------------

    /// Check one order. On approval the order is tracked as in flight and counts against every limit
    /// until it is filled or closed.
    ///
    /// The order of the checks: identities and states, the order's shape, the reference and collar,
    /// its notional, the REDUCING-type rules, duplicates, self-cross and position, exposure (venue,
    /// asset, global), open-order counts, and the throttles last, since they consume capacity.
    pub fn check(&mut self, req: &OrderRequest, now_ns: u64) -> Result<Approval, Denial> {
        let (price, notional, intent) = self.assess(req, now_ns, true)?;
        self.throttles(req, now_ns)?;
        Ok(self.admit(req, price, notional, intent, now_ns))
    }

    /// The check without its effects, to keep its code warm between orders (the engine's rehearsal
    /// under busy-polling): every limit but the throttles, nothing admitted or consumed, and no
    /// duplicate check (a rehearsal repeats the last order, which that check would stop before the
    /// rest ran). `Ok` with the price the order would get.
    pub fn rehearse(&self, req: &OrderRequest, now_ns: u64) -> Result<i64, Denial> {
        self.assess(req, now_ns, false).map(|(price, _, _)| price)
    }

    /// Every limit that consumes nothing, in the order `check` documents: the price, notional and
    /// intent of an order that passes them.
    fn assess(&self, req: &OrderRequest, now_ns: u64, duplicates: bool) -> Result<(i64, i128, Intent), Denial> {
        let state = self.states(req)?;
        let inst = &self.instruments[req.instrument as usize];
        shape(req, inst, now_ns)?;
        let price = self.priced(req, inst, now_ns)?;
        let notional = order_notional(req, inst, price)?;
        // Reducing: only orders that shrink the position without flipping it, counting live orders.
        let reduces = match req.side {
            Side::Buy => inst.position < 0 && inst.position.saturating_add(inst.open_buy).saturating_add(req.qty) <= 0,
            Side::Sell => {
                inst.position > 0 && inst.position.saturating_sub(inst.open_sell).saturating_sub(req.qty) >= 0
            }
        };
        if !reduces {
            self.only_reducing(req, inst, state)?;
        }
        let intent = Intent { strategy: req.strategy, instrument: req.instrument, side: req.side, price, qty: req.qty };
        self.books(req, inst, &intent, now_ns, duplicates)?;
        self.exposure(req, inst, reduces)?;
        let venue = &self.venues[inst.venue as usize];
        if inst.open_orders >= inst.limits.max_open_orders
            || venue.open_orders >= venue.limits.max_open_orders
            || self.open_orders >= self.limits.max_open_orders
        {
            return Err(deny(DenyReason::OpenOrderLimit, "open-order count limit"));
        }
        Ok((price, notional, intent))
    }

    /// Known instrument and strategy, no kill switch, not HALTED (by state or daily loss), tradable;
    /// the composed trading state of global, venue and strategy scopes.
    #[inline]
    fn states(&self, req: &OrderRequest) -> Result<TradingState, Denial> {
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
        if venue.loss_state == TradingState::Halted {
            return Err(deny(R::DailyLossLimit, format!("{} daily loss halt reached", venue.name)));
        }
        if !inst.tradable {
            return Err(deny(R::InstrumentNotTradable, format!("{} is not tradable", inst.symbol)));
        }
        Ok(state)
    }

    /// The reference is fresh and the price inside the collar; a market order gets its price here.
    #[inline]
    fn priced(&self, req: &OrderRequest, inst: &Instrument, now_ns: u64) -> Result<i64, Denial> {
        use DenyReason as R;
        let (spec, lim) = (&inst.spec, &inst.limits);
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
        Ok(price)
    }

    /// A non-reducing order: reduce-only, REDUCING scopes, daily-loss limits and a depegged quote
    /// currency each refuse it.
    #[inline]
    fn only_reducing(&self, req: &OrderRequest, inst: &Instrument, state: TradingState) -> Result<(), Denial> {
        use DenyReason as R;
        let venue = &self.venues[inst.venue as usize];
        if req.reduce_only {
            return Err(deny(R::ReduceOnlyWouldIncrease, "reduce-only order would increase or flip the position"));
        }
        if state == TradingState::Reducing {
            return Err(deny(R::TradingReducing, "REDUCING: only position-reducing orders pass"));
        }
        if self.loss_state == TradingState::Reducing {
            return Err(deny(R::DailyLossLimit, "daily loss limit reached: only position-reducing orders pass"));
        }
        if venue.loss_state == TradingState::Reducing {
            return Err(deny(
                R::DailyLossLimit,
                format!("{} daily loss limit reached: only position-reducing orders pass", venue.name),
            ));
        }
        if let Some(c) = inst.currency.map(|c| &self.currencies[c as usize]).filter(|c| c.depegged) {
            return Err(deny(
                R::CurrencyDepeg,
                format!("{} is off its peg: only position-reducing orders pass", c.name()),
            ));
        }
        Ok(())
    }

    /// Duplicate intent (unless `duplicates` is false), self-cross and the worst-case position.
    #[inline]
    fn books(
        &self,
        req: &OrderRequest,
        inst: &Instrument,
        intent: &Intent,
        now_ns: u64,
        duplicates: bool,
    ) -> Result<(), Denial> {
        use DenyReason as R;
        let (price, lim) = (intent.price, &inst.limits);
        let since = now_ns.saturating_sub(self.limits.duplicate_window_ns);
        if duplicates && self.recent_last.get(intent).is_some_and(|t| *t >= since) {
            return Err(deny(R::DuplicateIntent, "same order within the duplicate window"));
        }
        let crosses = match req.side {
            Side::Buy => inst.resting_sells.first_key_value().is_some_and(|(p, _)| *p <= price),
            Side::Sell => inst.resting_buys.last_key_value().is_some_and(|(p, _)| *p >= price),
        };
        if crosses {
            return Err(deny(R::SelfCross, "would trade against our own resting order"));
        }
        let worst = match req.side {
            Side::Buy => inst.position.saturating_add(inst.open_buy).saturating_add(req.qty),
            Side::Sell => inst.open_sell.saturating_add(req.qty).saturating_sub(inst.position),
        };
        if worst > lim.max_position {
            return Err(deny(R::PositionLimit, format!("worst-case position {worst} above {}", lim.max_position)));
        }
        Ok(())
    }

    /// Venue gross, the asset across venues, global gross and net: all in the reporting currency.
    #[inline]
    fn exposure(&self, req: &OrderRequest, inst: &Instrument, reduces: bool) -> Result<(), Denial> {
        use DenyReason as R;
        let venue = &self.venues[inst.venue as usize];
        let (extra_buy, extra_sell) = match req.side {
            Side::Buy => (req.qty, 0),
            Side::Sell => (0, req.qty),
        };
        // Exposure is valued at the mark, which a fresh reference guarantees.
        // Every exposure is in the reporting currency.
        let rate = inst.currency.map_or(RATE_ONE, |c| self.currencies[c as usize].rate);
        let new = inst.contribution(extra_buy, extra_sell, rate);
        let d_gross = new.gross - inst.contrib.gross;
        let (d_long, d_short) = (new.long - inst.contrib.long, new.short - inst.contrib.short);
        if d_gross > 0 && venue.gross + d_gross > venue.limits.max_gross_notional {
            return Err(deny(R::VenueExposureLimit, format!("{} gross exposure limit", venue.name)));
        }
        if let Some(max) = venue.limits.max_net_notional {
            let breach = match req.side {
                Side::Buy => d_long > 0 && venue.long + d_long > max,
                Side::Sell => d_short < 0 && venue.short + d_short < -max,
            };
            if breach {
                return Err(deny(R::VenueExposureLimit, format!("{} net exposure limit", venue.name)));
            }
        }
        // The asset over every venue: a reducing order never adds exposure, so it is never denied here.
        if let (false, Some(a)) = (reduces, inst.asset) {
            let asset = &self.assets[a as usize];
            let max = asset.limits.max_net_notional;
            let breach = match req.side {
                Side::Buy => d_long > 0 && asset.long + d_long > max,
                Side::Sell => d_short < 0 && asset.short + d_short < -max,
            } || (d_gross > 0
                && asset.limits.max_gross_notional.is_some_and(|g| asset.gross + d_gross > g));
            if breach {
                return Err(deny(R::AssetExposureLimit, format!("{} exposure limit across venues", asset.name)));
            }
        }
        if d_gross > 0 && self.gross + d_gross > self.limits.max_gross_notional {
            return Err(deny(R::GrossExposureLimit, "global gross exposure limit"));
        }
        let net_breach = match req.side {
            Side::Buy => d_long > 0 && self.long + d_long > self.limits.max_net_notional,
            Side::Sell => d_short < 0 && self.short + d_short < -self.limits.max_net_notional,
        };
        if net_breach {
            return Err(deny(R::NetExposureLimit, "global net exposure limit"));
        }
        Ok(())
    }

    /// Global, strategy and venue throttles, in that order.
    #[inline]
    fn throttles(&mut self, req: &OrderRequest, now_ns: u64) -> Result<(), Denial> {
        use DenyReason as R;
        if let Err(at) = self.throttle.try_acquire(1, now_ns, false) {
            return Err(deny(R::OrderRateLimit, format!("global order rate; retry at {at}")));
        }
        if let Err(at) = self.strategies[req.strategy as usize].throttle.try_acquire(1, now_ns, false) {
            return Err(deny(R::OrderRateLimit, format!("strategy order rate; retry at {at}")));
        }
        let venue = &mut self.venues[self.instruments[req.instrument as usize].venue as usize];
        if let Some(Err(at)) = venue.throttle.as_mut().map(|q| q.try_acquire(1, now_ns, false)) {
            return Err(deny(R::OrderRateLimit, format!("{} venue order rate; retry at {at}", venue.name)));
        }
        Ok(())
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

/// Quantity and price present and positive, on tick and lot, within the size limits; a coherent expiry.
#[inline]
fn shape(req: &OrderRequest, inst: &Instrument, now_ns: u64) -> Result<(), Denial> {
    use DenyReason as R;
    let (spec, lim) = (&inst.spec, &inst.limits);
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
    Ok(())
}

/// The order's notional at `price`, in its own units, within the venue minimum and the order maximum.
#[inline]
fn order_notional(req: &OrderRequest, inst: &Instrument, price: i64) -> Result<i128, Denial> {
    use DenyReason as R;
    let Some(notional) = inst.spec.notional(price, req.qty) else {
        return Err(deny(R::NumericOverflow, "price x quantity overflows"));
    };
    if notional < inst.spec.min_notional {
        return Err(deny(R::BelowMinNotional, "notional below the venue minimum"));
    }
    if notional > inst.limits.max_order_notional {
        return Err(deny(R::MaxOrderNotional, "notional above the max order notional"));
    }
    Ok(notional)
}
