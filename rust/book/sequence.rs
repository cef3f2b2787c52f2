//! Sequence bookkeeping shared by every venue's sync rule.
//!
//! A book is `Valid` after a snapshot, `Invalid` after a gap (nothing may trade off it), and
//! `Resyncing` while the connector fetches a new snapshot. Connectors implement their venue's rule on
//! top of [`Sequence`]; Binance's rules are here because its parser lives in this crate.

use crate::error::{CoreError, CoreResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqState {
    Valid,
    Invalid { expected: u64, got: u64 },
    Resyncing,
}

/// What to do with an incoming update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Apply,
    /// Already covered by the snapshot or a previous update: ignore it.
    Stale,
}

#[derive(Clone, Debug)]
pub struct Sequence {
    pub state: SeqState,
    /// The id of the last update folded into the book.
    pub last_id: u64,
    /// True between a snapshot and the first update applied after it.
    pub awaiting_first: bool,
}

impl Default for Sequence {
    fn default() -> Self {
        Sequence { state: SeqState::Resyncing, last_id: 0, awaiting_first: false }
    }
}

impl Sequence {
    pub fn on_snapshot(&mut self, last_id: u64) {
        self.state = SeqState::Valid;
        self.last_id = last_id;
        self.awaiting_first = true;
    }

    pub fn begin_resync(&mut self) {
        self.state = SeqState::Resyncing;
    }

    pub fn invalidate(&mut self, expected: u64, got: u64) -> CoreError {
        self.state = SeqState::Invalid { expected, got };
        CoreError::SequenceGap { expected, got }
    }

    pub fn ensure_valid(&self) -> CoreResult<()> {
        match self.state {
            SeqState::Valid => Ok(()),
            SeqState::Resyncing => Err(CoreError::BookNotReady("resyncing: apply a snapshot first")),
            SeqState::Invalid { .. } => Err(CoreError::BookNotReady("invalid after a sequence gap: resync")),
        }
    }

    /// Generic rule: each update carries its own id and must be exactly `last_id + 1`.
    pub fn check_next(&mut self, id: u64) -> CoreResult<Verdict> {
        self.ensure_valid()?;
        if id <= self.last_id {
            return Ok(Verdict::Stale);
        }
        if id != self.last_id + 1 {
            return Err(self.invalidate(self.last_id + 1, id));
        }
        Ok(Verdict::Apply)
    }

    /// Binance spot diff depth (`U` first id, `u` final id): drop `u <= last`; the first event after
    /// the snapshot must have `U <= last + 1`; afterwards `U` must be `last + 1`.
    pub fn check_binance_spot(&mut self, first: u64, last: u64) -> CoreResult<Verdict> {
        self.ensure_valid()?;
        if first > last {
            return Err(CoreError::Parse { venue: "binance", detail: format!("U {first} > u {last}") });
        }
        if last <= self.last_id {
            return Ok(Verdict::Stale);
        }
        let next = self.last_id + 1;
        let ok = if self.awaiting_first { first <= next } else { first == next };
        if !ok {
            return Err(self.invalidate(next, first));
        }
        Ok(Verdict::Apply)
    }

    /// Binance USD-M futures diff depth: drop `u < last`; the first event after the snapshot must
    /// have `U <= last <= u` (or `pu == last`: it continues the snapshot exactly); afterwards `pu`
    /// must equal the previous event's `u`.
    pub fn check_binance_futures(&mut self, first: u64, last: u64, prev: u64) -> CoreResult<Verdict> {
        self.ensure_valid()?;
        if first > last {
            return Err(CoreError::Parse { venue: "binance", detail: format!("U {first} > u {last}") });
        }
        if self.awaiting_first {
            if last < self.last_id {
                return Ok(Verdict::Stale);
            }
            // Straddling the snapshot (the documented rule), or continuing it exactly: a snapshot
            // taken on an event boundary has no straddling event, and the next one has `pu == last`.
            if first > self.last_id && prev != self.last_id {
                return Err(self.invalidate(self.last_id, first));
            }
            return Ok(Verdict::Apply);
        }
        if last <= self.last_id && prev < self.last_id {
            return Ok(Verdict::Stale);
        }
        if prev != self.last_id {
            return Err(self.invalidate(self.last_id, prev));
        }
        Ok(Verdict::Apply)
    }

    pub fn applied(&mut self, last: u64) {
        self.last_id = last;
        self.awaiting_first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spot_rule_follows_the_documented_procedure() {
        let mut s = Sequence::default();
        assert!(matches!(s.check_binance_spot(1, 2), Err(CoreError::BookNotReady(_))));
        s.on_snapshot(100);
        assert_eq!(s.check_binance_spot(90, 100).unwrap(), Verdict::Stale);
        assert_eq!(s.check_binance_spot(95, 105).unwrap(), Verdict::Apply);
        s.applied(105);
        assert_eq!(s.check_binance_spot(106, 110).unwrap(), Verdict::Apply);
        s.applied(110);
        assert_eq!(s.check_binance_spot(112, 115), Err(CoreError::SequenceGap { expected: 111, got: 112 }));
        assert_eq!(s.state, SeqState::Invalid { expected: 111, got: 112 });
        assert!(matches!(s.check_binance_spot(111, 111), Err(CoreError::BookNotReady(_))));
    }

    #[test]
    fn spot_first_event_must_cover_the_snapshot() {
        let mut s = Sequence::default();
        s.on_snapshot(100);
        assert!(matches!(s.check_binance_spot(102, 105), Err(CoreError::SequenceGap { .. })));
    }

    #[test]
    fn futures_rule_chains_on_pu() {
        let mut s = Sequence::default();
        s.on_snapshot(100);
        assert_eq!(s.check_binance_futures(80, 99, 79).unwrap(), Verdict::Stale);
        assert!(matches!(s.check_binance_futures(102, 105, 101), Err(CoreError::SequenceGap { .. })));
        s.on_snapshot(100); // a snapshot on an event boundary: the next event continues it (pu == last)
        assert_eq!(s.check_binance_futures(101, 105, 100).unwrap(), Verdict::Apply);
        s.on_snapshot(100);
        assert_eq!(s.check_binance_futures(95, 103, 94).unwrap(), Verdict::Apply);
        s.applied(103);
        assert_eq!(s.check_binance_futures(104, 107, 103).unwrap(), Verdict::Apply);
        s.applied(107);
        assert_eq!(s.check_binance_futures(109, 111, 108), Err(CoreError::SequenceGap { expected: 107, got: 108 }));
    }

    #[test]
    fn generic_rule() {
        let mut s = Sequence::default();
        s.on_snapshot(5);
        assert_eq!(s.check_next(5).unwrap(), Verdict::Stale);
        assert_eq!(s.check_next(6).unwrap(), Verdict::Apply);
        s.applied(6);
        assert!(s.check_next(8).is_err());
    }
}
