//! Client-side rate limits: named quotas, each with one or more windows, all charged at once.
//!
//! `try_acquire(cost, now_ns)` answers immediately: `Ok(())`, or `Err(t)` with the earliest time the
//! same request would pass. It never sleeps; the caller owns waiting. Two window kinds:
//! - `Fixed`: a counter per bucket aligned to multiples of the interval since the epoch, the way
//!   Binance counts (`X-MBX-USED-WEIGHT-1M` resets on the minute);
//! - `Rolling`: an exact sliding window (a log of charges within the last interval), for venues that
//!   count "N per T" on a rolling basis and for the risk gate's order throttle.
//!
//! A `reserve` keeps the last units of each window for priority requests (cancels), so they still
//! pass when new orders are throttled. Usage reported by the venue can only make a quota more
//! conservative; `block_until` honours Retry-After and bans.

use std::collections::{HashMap, VecDeque};

use crate::error::{CoreError, CoreResult};

/// Rolling windows keep one entry per charge; beyond this limit use a fixed window.
pub const MAX_ROLLING_LIMIT: u64 = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowKind {
    Fixed,
    Rolling,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowSpec {
    pub limit: u64,
    pub interval_ns: u64,
    pub kind: WindowKind,
    /// Units only priority requests may use.
    pub reserve: u64,
}

#[derive(Clone, Debug)]
struct Window {
    spec: WindowSpec,
    /// Fixed: the current bucket index and its usage.
    bucket: u64,
    used: u64,
    /// Rolling: (time, cost) of each charge still inside the window, and their sum.
    log: VecDeque<(u64, u64)>,
}

impl Window {
    fn cap(&self, priority: bool) -> u64 {
        if priority {
            self.spec.limit
        } else {
            self.spec.limit - self.spec.reserve
        }
    }

    /// Bring the window up to `now` (new bucket, or expired charges dropped).
    #[inline]
    fn advance(&mut self, now: u64) {
        match self.spec.kind {
            WindowKind::Fixed => {
                let b = now / self.spec.interval_ns;
                if b != self.bucket {
                    self.bucket = b;
                    self.used = 0;
                }
            }
            WindowKind::Rolling => {
                // The window is (now - interval, now].
                while let Some(&(t, c)) = self.log.front() {
                    if t.saturating_add(self.spec.interval_ns) > now {
                        break;
                    }
                    self.log.pop_front();
                    self.used -= c;
                }
            }
        }
    }

    /// `None` if `cost` fits now, else the earliest time it would (u64::MAX if never).
    #[inline]
    fn verdict(&self, cost: u64, now: u64, priority: bool) -> Option<u64> {
        let cap = self.cap(priority);
        if cost > cap {
            return Some(u64::MAX);
        }
        if self.used + cost <= cap {
            return None;
        }
        Some(match self.spec.kind {
            WindowKind::Fixed => self.bucket.saturating_add(1).saturating_mul(self.spec.interval_ns),
            WindowKind::Rolling => {
                let mut left = self.used;
                let mut at = now;
                for &(t, c) in &self.log {
                    left -= c;
                    at = t.saturating_add(self.spec.interval_ns);
                    if left + cost <= cap {
                        break;
                    }
                }
                at
            }
        })
    }

    #[inline]
    fn charge(&mut self, cost: u64, now: u64) {
        self.used += cost;
        if self.spec.kind == WindowKind::Rolling && cost > 0 {
            match self.log.back_mut() {
                Some(last) if last.0 == now => last.1 += cost,
                _ => self.log.push_back((now, cost)),
            }
        }
    }
}

/// A named budget with one or more windows; a request is charged to all of them or to none.
#[derive(Clone, Debug)]
pub struct Quota {
    name: String,
    windows: Vec<Window>,
    blocked_until: u64,
    last_now: u64,
}

impl Quota {
    pub fn new(name: &str, windows: Vec<WindowSpec>) -> CoreResult<Quota> {
        if windows.is_empty() {
            return Err(CoreError::InvalidArgument(format!("quota {name:?} needs at least one window")));
        }
        for w in &windows {
            if w.limit == 0 || w.interval_ns == 0 {
                return Err(CoreError::InvalidArgument(format!("quota {name:?}: limit and interval must be > 0")));
            }
            if w.reserve >= w.limit {
                return Err(CoreError::InvalidArgument(format!("quota {name:?}: reserve must be below the limit")));
            }
            if w.kind == WindowKind::Rolling && w.limit > MAX_ROLLING_LIMIT {
                return Err(CoreError::InvalidArgument(format!(
                    "quota {name:?}: rolling windows allow at most {MAX_ROLLING_LIMIT} units; use a fixed window"
                )));
            }
        }
        Ok(Quota {
            name: name.to_owned(),
            windows: windows
                .into_iter()
                .map(|spec| Window { spec, bucket: 0, used: 0, log: VecDeque::new() })
                .collect(),
            blocked_until: 0,
            last_now: 0,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn windows(&self) -> impl Iterator<Item = &WindowSpec> {
        self.windows.iter().map(|w| &w.spec)
    }

    /// The largest cost that can ever pass (priority requests may use the reserve).
    pub fn max_cost(&self, priority: bool) -> u64 {
        self.windows.iter().map(|w| w.cap(priority)).min().unwrap_or(0)
    }

    #[inline]
    fn clock(&mut self, now_ns: u64) -> u64 {
        // Time never goes backwards inside a quota: a stepped-back clock cannot reopen a window.
        self.last_now = self.last_now.max(now_ns);
        self.last_now
    }

    /// Charge `cost` to every window, or to none and answer when it would fit.
    #[inline]
    pub fn try_acquire(&mut self, cost: u64, now_ns: u64, priority: bool) -> Result<(), u64> {
        let now = self.clock(now_ns);
        if now < self.blocked_until {
            return Err(self.blocked_until);
        }
        let mut retry: Option<u64> = None;
        for w in &mut self.windows {
            w.advance(now);
            if let Some(t) = w.verdict(cost, now, priority) {
                retry = Some(retry.map_or(t, |r| r.max(t)));
            }
        }
        if let Some(t) = retry {
            return Err(t);
        }
        for w in &mut self.windows {
            w.charge(cost, now);
        }
        Ok(())
    }

    /// Fold in the usage the venue reports for the window with `interval_ns` (e.g. the
    /// `X-MBX-USED-WEIGHT-1M` header). It can only raise our count, never lower it.
    pub fn observe_usage(&mut self, interval_ns: u64, used: u64, now_ns: u64) -> CoreResult<()> {
        let now = self.clock(now_ns);
        let w = self.windows.iter_mut().find(|w| w.spec.interval_ns == interval_ns).ok_or_else(|| {
            CoreError::InvalidArgument(format!("quota {:?} has no {interval_ns} ns window", self.name))
        })?;
        w.advance(now);
        if used > w.used {
            let extra = used - w.used;
            w.charge(extra, now);
        }
        Ok(())
    }

    /// Nothing passes before `until_ns` (429 Retry-After, 418 ban).
    pub fn block_until(&mut self, until_ns: u64) {
        self.blocked_until = self.blocked_until.max(until_ns);
    }

    /// Per window: (interval_ns, used, limit) as of `now_ns`.
    pub fn usage(&mut self, now_ns: u64) -> Vec<(u64, u64, u64)> {
        let now = self.clock(now_ns);
        self.windows
            .iter_mut()
            .map(|w| {
                w.advance(now);
                (w.spec.interval_ns, w.used, w.spec.limit)
            })
            .collect()
    }
}

/// Named quotas, addressed by the id `add_quota` returns.
#[derive(Clone, Debug, Default)]
pub struct RateLimiter {
    quotas: Vec<Quota>,
    names: HashMap<String, usize>,
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_quota(&mut self, q: Quota) -> CoreResult<usize> {
        if self.names.contains_key(q.name()) {
            return Err(CoreError::InvalidArgument(format!("quota {:?} already exists", q.name())));
        }
        self.names.insert(q.name().to_owned(), self.quotas.len());
        self.quotas.push(q);
        Ok(self.quotas.len() - 1)
    }

    pub fn quota_id(&self, name: &str) -> CoreResult<usize> {
        self.names.get(name).copied().ok_or_else(|| CoreError::UnknownName { kind: "quota", name: name.to_owned() })
    }

    #[inline]
    pub fn quota_mut(&mut self, id: usize) -> CoreResult<&mut Quota> {
        self.quotas.get_mut(id).ok_or_else(|| CoreError::UnknownName { kind: "quota", name: id.to_string() })
    }
}

#[cfg(test)]
mod tests;
