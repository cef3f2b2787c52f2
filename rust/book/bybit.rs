//! Bybit v5 `orderbook.{depth}.{symbol}` messages, parsed from raw bytes and applied in one call.
//!
//! `{"topic":"orderbook.50.BTCUSDT","type":"snapshot"|"delta","ts":1,"data":{"s":"BTCUSDT","b":[["p","q"]],
//! "a":[["p","q"]],"u":7,"seq":9},"cts":1}`: a snapshot replaces the book (VALID at `u`); a delta sets
//! levels (size 0 removes) and must carry `u` = the last `u` + 1 and, when stated, a `seq` above the last
//! one (the connector's chain rule for orderbook.N); otherwise the book becomes INVALID until the next
//! snapshot. Frames of other topics (trades, acks) are `None` and change nothing.

use super::scan::{ScanResult, Scanner};
use super::Book;
use crate::error::{CoreError, CoreResult};
use crate::types::{InstrumentSpec, Side};

fn malformed(detail: impl Into<String>) -> CoreError {
    CoreError::Parse { venue: "bybit", detail: detail.into() }
}

/// What `apply_bybit_orderbook` did: the message's `u`, `seq` (0 when absent), `ts` (ms), whether it was
/// a snapshot, and how many level changes it applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Orderbook {
    pub update_id: u64,
    pub seq: u64,
    pub ts_ms: u64,
    pub snapshot: bool,
    pub applied: usize,
}

fn levels(s: &mut Scanner<'_>, side: Side, spec: &InstrumentSpec, out: &mut Vec<(Side, i64, i64)>) -> ScanResult<()> {
    s.string_pairs(|p, q| {
        let price = spec.price_units(p).map_err(|e| e.to_string())?;
        let qty = spec.qty_units(q).map_err(|e| e.to_string())?;
        if price <= 0 || qty < 0 {
            return Err(format!("bad level {p} {q}"));
        }
        out.push((side, price, qty));
        Ok(())
    })
}

impl Book {
    /// Parse a Bybit public-stream frame and, when it is `topic`'s order book, apply it (see the module
    /// docs). `last_seq` is the `seq` of the last message applied (0: none). `None`: another topic or
    /// not a book message. Errors change nothing: `Parse` for a malformed message or an off-unit level,
    /// `BookNotReady` for a delta before a snapshot (or after a gap), `SequenceGap` for a broken chain
    /// (the book is INVALID then).
    pub fn apply_bybit_orderbook(&mut self, raw: &[u8], topic: &str, last_seq: u64) -> CoreResult<Option<Orderbook>> {
        let spec = &self.spec;
        let scratch = &mut self.scratch;
        scratch.clear();
        let (mut mine, mut kind, mut ts, mut update_id, mut seq, mut data) = (false, None, 0, None, 0, false);
        let mut s = Scanner::new(raw);
        s.object(|s, k| match k {
            "topic" => s.plain_string().map(|v| mine = v == topic),
            "type" => s.plain_string().map(|v| kind = Some(v)),
            "ts" => s.uint().map(|v| ts = v),
            "data" if s.peek() == Some(b'{') => {
                data = true;
                s.object(|s, k| match k {
                    "b" => levels(s, Side::Buy, spec, scratch),
                    "a" => levels(s, Side::Sell, spec, scratch),
                    "u" => s.uint().map(|v| update_id = Some(v)),
                    "seq" => s.uint().map(|v| seq = v),
                    _ => s.skip_value(1),
                })
            }
            _ => s.skip_value(1),
        })
        .and_then(|()| s.end())
        .map_err(malformed)?;
        if !mine || !data {
            return Ok(None);
        }
        let update_id = update_id.ok_or_else(|| malformed("orderbook data without u"))?;
        let snapshot = match kind {
            Some("snapshot") => true,
            Some("delta") => false,
            other => return Err(malformed(format!("orderbook type {other:?}"))),
        };
        if snapshot {
            self.bids.clear();
            self.asks.clear();
        } else {
            self.seq.ensure_valid()?;
            let next = self.seq.last_id + 1;
            if update_id != next {
                return Err(self.seq.invalidate(next, update_id));
            }
            if seq != 0 && seq <= last_seq {
                return Err(self.seq.invalidate(last_seq + 1, seq));
            }
        }
        for i in 0..self.scratch.len() {
            let (side, p, q) = self.scratch[i];
            self.ladder_mut(side).set(p, q);
        }
        if snapshot {
            self.seq.on_snapshot(update_id);
        } else {
            self.seq.applied(update_id);
        }
        Ok(Some(Orderbook { update_id, seq, ts_ms: ts, snapshot, applied: self.scratch.len() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::SeqState;

    const TOPIC: &str = "orderbook.50.BTCUSDT";

    fn book() -> Book {
        Book::new(InstrumentSpec::new("0.10", "0.001", None, None, None, None, None).unwrap())
    }

    fn snap(b: &mut Book) {
        let raw = br#"{"topic":"orderbook.50.BTCUSDT","type":"snapshot","ts":5,"data":{"s":"BTCUSDT",
            "b":[["100.0","1.000"],["99.9","2.000"]],"a":[["100.1","0.500"]],"u":7,"seq":20},"cts":4}"#;
        let r = b.apply_bybit_orderbook(raw, TOPIC, 0).unwrap().unwrap();
        assert_eq!(r, Orderbook { update_id: 7, seq: 20, ts_ms: 5, snapshot: true, applied: 3 });
    }

    #[test]
    fn snapshot_then_deltas() {
        let mut b = book();
        snap(&mut b);
        assert_eq!(b.best_bid(), Some((1000, 1000)));
        assert_eq!(b.best_ask(), Some((1001, 500)));
        let delta = br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":6,"data":{"s":"BTCUSDT",
            "b":[["100.0","0"],["99.8","3"]],"a":[],"u":8,"seq":21},"cts":5}"#;
        let r = b.apply_bybit_orderbook(delta, TOPIC, 20).unwrap().unwrap();
        assert_eq!((r.update_id, r.applied, r.snapshot), (8, 2, false));
        assert_eq!(b.best_bid(), Some((999, 2000)));
        assert_eq!((b.bids.len(), b.asks.len()), (2, 1));
    }

    #[test]
    fn a_gap_invalidates_and_other_topics_are_none() {
        let mut b = book();
        let trade = br#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"p":"1"}]}"#;
        assert_eq!(b.apply_bybit_orderbook(trade, TOPIC, 0).unwrap(), None);
        let ack = br#"{"success":true,"ret_msg":"","op":"subscribe","conn_id":"x"}"#;
        assert_eq!(b.apply_bybit_orderbook(ack, TOPIC, 0).unwrap(), None);
        let early = br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"b":[],"a":[],"u":8}}"#;
        assert!(matches!(b.apply_bybit_orderbook(early, TOPIC, 0), Err(CoreError::BookNotReady(_))));
        snap(&mut b);
        let gap = br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"b":[["1.0","1"]],"a":[],"u":9}}"#;
        assert!(matches!(b.apply_bybit_orderbook(gap, TOPIC, 20), Err(CoreError::SequenceGap { expected: 8, got: 9 })));
        assert_eq!(b.seq.state, SeqState::Invalid { expected: 8, got: 9 });
        assert_eq!(b.best_bid(), Some((1000, 1000)), "nothing applied");
        snap(&mut b);
        let old_seq =
            br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"b":[],"a":[],"u":8,"seq":20}}"#;
        assert!(matches!(b.apply_bybit_orderbook(old_seq, TOPIC, 20), Err(CoreError::SequenceGap { .. })));
    }

    #[test]
    fn malformed_changes_nothing() {
        let mut b = book();
        snap(&mut b);
        for bad in [
            &br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","data":{"b":[["100.05","1"]],"a":[],"u":8}}"#[..],
            br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","data":{"b":[],"a":[]}}"#,
            br#"{"topic":"orderbook.50.BTCUSDT","type":"weird","data":{"b":[],"a":[],"u":8}}"#,
            br#"{"topic":"orderbook.50.BTCUSDT","type":"delta","data":{"b":[["1""#,
        ] {
            assert!(b.apply_bybit_orderbook(bad, TOPIC, 20).is_err(), "{}", String::from_utf8_lossy(bad));
            assert_eq!(b.best_bid(), Some((1000, 1000)));
            assert_eq!(b.seq.state, SeqState::Valid);
        }
    }
}
